//! The name of the operation a request ran, read from the document the schema parsed (not parsed a second time): the
//! request's `operationName` when it has one, else the document's first operation's name (or, for a text refused
//! before it was parsed, its first definition's name). The server reads it for
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

    /// Notes the name of a text's first definition when that is a named operation: for a text refused before it was
    /// parsed. The name comes before any `{`, `(` or `@`, so no string can hide it; a fragment first leaves it unnamed.
    pub(crate) fn note_text(&self, text: &str) {
        let head = &text[..text.find(['{', '(', '@']).unwrap_or(text.len())];
        let mut words = head
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(|c: char| c.is_whitespace() || c == ','))
            .filter(|word| !word.is_empty());
        if let (Some("query" | "mutation" | "subscription"), Some(name)) = (words.next(), words.next()) {
            let _ = self.0.set(name.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OperationName;

    fn named(text: &str) -> Option<String> {
        let name = OperationName::default();
        name.note_text(text);
        name.get().map(str::to_owned)
    }

    #[test]
    fn a_text_is_named_by_its_first_definition() {
        assert_eq!(named("query TooWide { a }").as_deref(), Some("TooWide"));
        assert_eq!(named("# mine: query X\n mutation\n  Save($v: Int) @a { a }").as_deref(), Some("Save"));
        assert_eq!(named("{ a }"), None);
        assert_eq!(named("query { a }"), None);
        assert_eq!(named("fragment F on Query { a } query Q { ...F }"), None);
    }
}
