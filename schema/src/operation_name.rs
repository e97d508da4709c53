//! The name of the operation a request ran, read from the document the schema parsed (not parsed a second time): the
//! request's `operationName` when it has one, else the document's first operation's name. The server reads it for
//! its access line and its per-operation metrics.

use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};

/// Where a request's operation name is written once parsed: put a clone into the request's data, read it after.
#[derive(Clone, Debug, Default)]
pub struct OperationName(Arc<OnceLock<String>>);

impl OperationName {
    /// The name, once the document parsed and named its operation; `None` before, or for an unnamed operation.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// Notes the name of `document`'s first operation, when it has one.
    pub(crate) fn note(&self, document: &ExecutableDocument) {
        if let DocumentOperations::Multiple(operations) = &document.operations
            && let Some(name) = operations.keys().next()
        {
            let _ = self.0.set(name.to_string());
        }
    }
}
