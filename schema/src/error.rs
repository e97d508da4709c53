//! How failures reach GraphQL clients: bad input names its argument; internal errors are logged once and hidden.

use std::sync::Arc;

use async_graphql::{Error, ErrorExtensions};
use sea_orm::DbErr;

/// The largest `first` / `last` a connection accepts.
pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument `{argument}`: {message}")]
    InvalidArgument { argument: String, message: String },
    /// HubSpot refused a write, or could not be reached.
    #[error("HubSpot: {0}")]
    Upstream(crate::upstream::UpstreamError),
    /// The gateway has no HubSpot connection to write through.
    #[error("no HubSpot connection is configured (HUBSPOT_ACCESS_TOKEN, or an installed app): writes are unavailable")]
    NoUpstream,
    /// Nothing publishes live changes to this gateway.
    #[error("subscriptions are not available on this connection")]
    NoFeed,
    /// The request asked for more than a limit allows (see `limits`).
    #[error("{message}")]
    LimitExceeded { limit: &'static str, max: usize, message: String },
    #[error("{}", if is_outage(.0) { "the database is unavailable; retry later" } else { "internal error" })]
    Internal(#[source] Arc<DbErr>),
}

/// Whether `err` says the database cannot be reached now (no connection within the pool's wait, a refused or cut
/// connection, a server shutting down), rather than that a statement failed: a retry later may well succeed.
pub fn is_outage(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
            // Postgres' connection exceptions (08…) and operator interventions (57P01 admin shutdown and the like).
            Sqlx::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        },
        _ => false,
    }
}

impl ApiError {
    pub fn invalid(argument: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidArgument { argument: argument.into(), message: message.into() }
    }

    /// The error of one element of a list argument: a bad argument is named under `prefix` (`inputs[3]`).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::InvalidArgument { argument, message } => Self::invalid(format!("{prefix}.{argument}"), message),
            other => other,
        }
    }

    /// The `code` extension clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "BAD_USER_INPUT",
            Self::Upstream(err) if err.unavailable => "UPSTREAM_UNAVAILABLE",
            Self::Upstream(_) => "UPSTREAM_REJECTED",
            Self::NoUpstream => "UPSTREAM_UNAVAILABLE",
            Self::NoFeed => "UNAVAILABLE",
            Self::LimitExceeded { .. } => "LIMIT_EXCEEDED",
            Self::Internal(err) if is_outage(err) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<crate::upstream::WriteError> for ApiError {
    fn from(err: crate::upstream::WriteError) -> Self {
        match err {
            crate::upstream::WriteError::HubSpot(err) => Self::Upstream(err),
            crate::upstream::WriteError::Mirror(err) => Self::Internal(Arc::new(err)),
            err @ crate::upstream::WriteError::KeyInUse => Self::invalid("idempotencyKey", err.to_string()),
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        Self::Internal(Arc::new(err))
    }
}

impl From<Arc<DbErr>> for ApiError {
    fn from(err: Arc<DbErr>) -> Self {
        Self::Internal(err)
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> Error {
        let code = self.code();
        match self {
            Self::InvalidArgument { argument, .. } => self.extend_with(|_, e| {
                e.set("code", code);
                e.set("argument", argument.as_str());
            }),
            Self::Upstream(err) => self.extend_with(|_, e| {
                e.set("code", code);
                if let Some(status) = err.status {
                    e.set("status", status);
                }
                e.set("category", err.category.as_str());
                if let Some(id) = &err.correlation_id {
                    e.set("correlationId", id.as_str());
                }
            }),
            Self::LimitExceeded { limit, max, .. } => self.extend_with(|_, e| {
                e.set("code", code);
                e.set("limit", *limit);
                e.set("max", *max as u64);
            }),
            Self::NoUpstream | Self::NoFeed => self.extend_with(|_, e| e.set("code", code)),
            Self::Internal(source) => {
                // The database's text goes to our log only; the caller gets the code and an id to quote: the
                // request's own (its `x-request-id`), or a fresh one outside a request.
                let request_id =
                    crate::request_id::current().unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
                tracing::error!(%request_id, error = %source, "database error while answering a query");
                self.extend_with(|_, e| {
                    e.set("code", code);
                    e.set("requestId", request_id.as_str());
                })
            }
        }
    }
}

pub(crate) type Res<T> = Result<T, ApiError>;

/// Resolver results: `ApiError` turned into a GraphQL error with its extensions.
pub(crate) type GqlResult<T> = async_graphql::Result<T>;

pub(crate) trait IntoGql<T> {
    fn gql(self) -> GqlResult<T>;
}

impl<T, E: Into<ApiError>> IntoGql<T> for Result<T, E> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(|e| e.into().extend())
    }
}
