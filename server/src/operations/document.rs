//! An operation document as it is registered: the text of a `.graphql` file without the whitespace around it (what
//! the client sends), the names of its operations in the file's order, and its hash; checked against the schema as
//! a request would be, without running it.

use std::sync::Arc;

use async_graphql::{
    Response, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
    parser::types::DocumentOperations,
};

/// What an operation without a name is listed as.
pub const ANONYMOUS: &str = "(anonymous)";

/// A document to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// SHA-256 of `text`, lowercase hex: what a client sends as its persisted query hash.
    pub sha256: String,
    /// Its operations' names, in the order they appear ([`ANONYMOUS`] for the one without a name).
    pub names: Vec<String>,
    pub text: String,
}

/// Why a document cannot be registered.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not a GraphQL document: {0}")]
    Parse(String),
    #[error("operation {operation} would be refused: {reasons}")]
    Refused { operation: String, reasons: String },
}

impl Document {
    /// The document `text` holds, trimmed; it must parse.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let text = text.trim();
        let parsed = async_graphql::parser::parse_query(text).map_err(|e| DocumentError::Parse(e.to_string()))?;
        let mut operations: Vec<_> = match &parsed.operations {
            DocumentOperations::Single(operation) => vec![(operation.pos, ANONYMOUS.to_owned())],
            DocumentOperations::Multiple(operations) => {
                operations.iter().map(|(name, operation)| (operation.pos, name.to_string())).collect()
            }
        };
        operations.sort();
        let names = operations.into_iter().map(|(_, name)| name).collect();
        Ok(Self { sha256: super::sha256_hex(text), names, text: text.to_owned() })
    }
}

/// Checks documents against the gateway's schema: validation and the limits run on each operation as on a request
/// (a list whose size is a variable counts as a full page, the variables being unknown), and nothing runs.
pub struct Checker(schema::GatewaySchema);

impl Default for Checker {
    fn default() -> Self {
        // Introspection is allowed here: whether it answers is the serving gateway's GRAPHIQL, not the document's.
        Self(schema::build_with_extension(StopBeforeRunning, schema::Limits::default(), true))
    }
}

impl Checker {
    /// Every refusal of the first operation the schema would refuse.
    pub async fn check(&self, document: &Document) -> Result<(), DocumentError> {
        for name in &document.names {
            let request = async_graphql::Request::new(document.text.clone());
            let request = if name == ANONYMOUS { request } else { request.operation_name(name) };
            let response = self.0.execute(request).await;
            if !response.errors.is_empty() {
                let reasons: Vec<String> = response
                    .errors
                    .iter()
                    .map(|error| match error.locations.first() {
                        Some(at) => format!("{} (line {}, column {})", error.message, at.line, at.column),
                        None => error.message.clone(),
                    })
                    .collect();
                return Err(DocumentError::Refused { operation: name.clone(), reasons: reasons.join("; ") });
            }
        }
        Ok(())
    }
}

/// Ends a request once it is parsed and validated, before any resolver runs (a registered mutation must not write).
struct StopBeforeRunning;

impl ExtensionFactory for StopBeforeRunning {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopBeforeRunning)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for StopBeforeRunning {
    async fn execute(&self, _: &ExtensionContext<'_>, _: Option<&str>, _: NextExecute<'_>) -> Response {
        Response::new(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_its_trimmed_text_with_its_operations_in_order() {
        let text = "\n  query B { contacts { totalCount } }\nquery A { deals { totalCount } }\n\n";
        let document = Document::parse(text).unwrap();
        assert_eq!(document.text, text.trim());
        assert_eq!(document.names, ["B", "A"]);
        assert_eq!(document.sha256, super::super::sha256_hex(text.trim()));
        assert_eq!(Document::parse("{ contacts { totalCount } }").unwrap().names, [ANONYMOUS]);
        assert!(matches!(Document::parse("query {"), Err(DocumentError::Parse(_))));
    }
}
