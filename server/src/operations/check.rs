//! What each request runs: the text it sent, the text its persisted query hash names, or a refusal. Safelist
//! refusals come before the text is parsed; a persisted query sent with its text is kept only once it has passed
//! validation and the limits, so a hash never names a text the gateway would refuse.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Request, ServerError, ServerResult, ValidationResult, Value,
    extensions::{Extension, ExtensionContext, NextPrepareRequest, NextValidation},
};

use super::{Mode, Operations};

/// Why a request does not run; each is an error with `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Apollo clients look for this message or code, then send the text with the hash.
    #[error("PersistedQueryNotFound")]
    NotFound,
    #[error("the persistedQuery extension's sha256Hash is not the SHA-256 of the query sent with it")]
    HashMismatch,
    #[error("the persistedQuery extension is not understood: {0}")]
    Malformed(String),
    #[error(
        "OPERATIONS=safelist: only registered operations run, and this one (SHA-256 {0}) is not; register it with `server operations add FILE.graphql`"
    )]
    NotRegistered(String),
    #[error(
        "OPERATIONS=safelist: operations are registered with `server operations add FILE.graphql`, not by sending them, and this one (SHA-256 {0}) is not"
    )]
    RegistrationRefused(String),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::HashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Self::Malformed(_) => "BAD_REQUEST",
            Self::NotRegistered(_) | Self::RegistrationRefused(_) => "OPERATION_NOT_ALLOWED",
        }
    }
}

impl From<Refusal> for ServerError {
    fn from(refusal: Refusal) -> Self {
        let mut error = ServerError::new(refusal.to_string(), None);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", refusal.code());
        error.extensions = Some(extensions);
        error
    }
}

/// The extension's state for one request.
pub(super) struct Check {
    operations: Operations,
    /// A query sent with its hash, kept once it has passed validation.
    to_keep: Mutex<Option<(String, Arc<str>)>>,
}

impl Check {
    pub(super) fn new(operations: Operations) -> Self {
        Self { operations, to_keep: Mutex::new(None) }
    }

    /// Puts the text `request` runs into it, or refuses it.
    async fn resolve(&self, request: &mut Request) -> Result<(), Refusal> {
        let hash = request.extensions.remove("persistedQuery").map(persisted_hash).transpose()?;
        let ops = &self.operations;
        match (ops.mode, hash) {
            (Mode::Any, None) => Ok(()),
            (Mode::Any, Some(hash)) if request.query.is_empty() => {
                // Registered operations first, without a read of the table, so most hashes find their text in memory.
                let text = match ops.registered.held(&hash) {
                    Some(text) => text,
                    None => match ops.cache.get(&hash).await {
                        Some(text) => text,
                        None => ops.registered.get(&hash).await.ok_or(Refusal::NotFound)?,
                    },
                };
                request.query = text.to_string();
                Ok(())
            }
            (Mode::Any, Some(hash)) => {
                verify(&hash, &request.query)?;
                if let Ok(mut to_keep) = self.to_keep.lock() {
                    *to_keep = Some((hash, Arc::from(request.query.as_str())));
                }
                Ok(())
            }
            (Mode::Safelist, Some(hash)) if request.query.is_empty() => {
                let text = ops.registered.get(&hash).await.ok_or(Refusal::NotRegistered(hash))?;
                request.query = text.to_string();
                Ok(())
            }
            (Mode::Safelist, Some(hash)) => {
                verify(&hash, &request.query)?;
                let hash = super::document_hash(&request.query);
                ops.registered.get(&hash).await.map(drop).ok_or(Refusal::RegistrationRefused(hash))
            }
            (Mode::Safelist, None) => {
                let hash = super::document_hash(&request.query);
                ops.registered.get(&hash).await.map(drop).ok_or(Refusal::NotRegistered(hash))
            }
        }
    }
}

/// The hash of `extensions.persistedQuery` (`{"version": 1, "sha256Hash": "…"}`), lowercase.
fn persisted_hash(value: Value) -> Result<String, Refusal> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PersistedQuery {
        version: i64,
        sha256_hash: String,
    }
    let persisted: PersistedQuery = async_graphql::from_value(value)
        .map_err(|_| Refusal::Malformed("it takes {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}".to_owned()))?;
    if persisted.version != 1 {
        return Err(Refusal::Malformed(format!("version {} (only 1 is)", persisted.version)));
    }
    let hash = persisted.sha256_hash;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::Malformed("sha256Hash is not 64 hex digits".to_owned()));
    }
    Ok(hash.to_ascii_lowercase())
}

/// A hash sent with its text must be that text's, or a client could make a hash run another text.
fn verify(hash: &str, text: &str) -> Result<(), Refusal> {
    if super::sha256_hex(text) == hash { Ok(()) } else { Err(Refusal::HashMismatch) }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Check {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.resolve(&mut request).await?;
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // The limits walked the parsed text before this and check its depth inside `next`: what is kept passed them.
        let result = next.run(ctx).await?;
        let to_keep = self.to_keep.lock().ok().and_then(|mut to_keep| to_keep.take());
        if let Some((hash, text)) = to_keep {
            self.operations.cache.insert(hash, text).await;
        }
        Ok(result)
    }
}
