//! What each request runs: the text it sent, the text its persisted query hash names, or a refusal. Safelist
//! refusals come before the text is parsed; a persisted query sent with its text is kept only once it has passed
//! validation and the limits, so a hash never names a text the gateway would refuse.

use std::sync::Arc;

use async_graphql::{Request, ServerError, ServerResult, Value};

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

#[async_graphql::async_trait::async_trait]
impl schema::Persisted for Operations {
    /// Puts the text `request` runs into it, or refuses it; a query sent with its hash is to be kept under it.
    async fn resolve(&self, request: &mut Request) -> ServerResult<Option<String>> {
        let hash = request.extensions.remove("persistedQuery").map(persisted_hash).transpose()?;
        match (self.mode, hash) {
            (Mode::Any, None) => Ok(None),
            (Mode::Any, Some(hash)) if request.query.is_empty() => {
                // Registered operations first, without a read of the table, so most hashes find their text in memory.
                let text = match self.registered.held(&hash) {
                    Some(text) => text,
                    None => match self.cache.get(&hash).await {
                        Some(text) => text,
                        None => self.registered.get(&hash).await.ok_or(Refusal::NotFound)?,
                    },
                };
                request.query = text.to_string();
                Ok(None)
            }
            (Mode::Any, Some(hash)) => {
                verify(&hash, &request.query)?;
                Ok(Some(hash))
            }
            (Mode::Safelist, Some(hash)) if request.query.is_empty() => {
                let text = self.registered.get(&hash).await.ok_or(Refusal::NotRegistered(hash))?;
                request.query = text.to_string();
                Ok(None)
            }
            (Mode::Safelist, Some(hash)) => {
                verify(&hash, &request.query)?;
                let hash = super::document_hash(&request.query);
                self.registered.get(&hash).await.ok_or(Refusal::RegistrationRefused(hash))?;
                Ok(None)
            }
            (Mode::Safelist, None) => {
                let hash = super::document_hash(&request.query);
                self.registered.get(&hash).await.ok_or(Refusal::NotRegistered(hash))?;
                Ok(None)
            }
        }
    }

    async fn keep(&self, hash: String, text: Arc<str>) {
        self.cache.insert(hash, text).await;
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
