//! The name of the operation a request ran, read from the document the schema parsed (not parsed a second time): the
//! request's `operationName` when it has one, else the document's first operation's name. The server reads it for
//! its access line and its per-operation metrics.

use std::sync::{Arc, OnceLock};

use async_graphql::{
    ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{DocumentOperations, ExecutableDocument},
};

/// Where a request's operation name is written once parsed: put a clone into the request's data, read it after.
#[derive(Clone, Debug, Default)]
pub struct OperationName(Arc<OnceLock<String>>);

impl OperationName {
    /// The name, once the document parsed and named its operation; `None` before, or for an unnamed operation.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The extension that fills a request's [`OperationName`].
pub(crate) struct Naming;

impl ExtensionFactory for Naming {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Naming)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Naming {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(slot) = ctx.data_opt::<OperationName>()
            && let DocumentOperations::Multiple(operations) = &document.operations
            && let Some(name) = operations.keys().next()
        {
            let _ = slot.0.set(name.to_string());
        }
        Ok(document)
    }
}
