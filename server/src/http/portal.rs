//! Which portal a request reads: among those its credential grants, the one named by `X-HubSpot-Portal-Id`, or the
//! only one there is.

use std::sync::RwLock;

use async_graphql::{Error, ErrorExtensions};
use axum::http::HeaderMap;
use sea_orm::{DatabaseConnection, DbErr};

use crate::auth::Grant;

pub const PORTAL_HEADER: &str = "x-hubspot-portal-id";

pub struct Portals {
    known: RwLock<Vec<i64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("the mirror holds no portal yet")]
    NoPortal,
    #[error("the mirror holds several portals: name one with the X-HubSpot-Portal-Id header")]
    Ambiguous,
    #[error("X-HubSpot-Portal-Id must be a portal id the mirror holds, got {0:?}")]
    Unknown(String),
    #[error("the credential does not grant portal {0}")]
    Forbidden(i64),
    #[error("the credential grants several portals: name one with the X-HubSpot-Portal-Id header")]
    Choose,
    #[error("{}", if schema::error::is_outage(.0) { "the database is unavailable; retry later" } else { "internal error" })]
    Db(#[from] DbErr),
}

use super::respond::SERVICE_UNAVAILABLE;

impl ErrorExtensions for PortalError {
    fn extend(&self) -> Error {
        if let Self::Db(err) = self {
            tracing::error!(error = %err, "loading portals");
        }
        let code = match self {
            Self::NoPortal => "NO_PORTAL",
            Self::Ambiguous | Self::Unknown(_) | Self::Choose => "PORTAL_REQUIRED",
            Self::Forbidden(_) => "FORBIDDEN_PORTAL",
            Self::Db(err) if schema::error::is_outage(err) => SERVICE_UNAVAILABLE,
            Self::Db(_) => "INTERNAL",
        };
        self.extend_with(|_, e| e.set("code", code))
    }
}

impl Portals {
    pub async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        Ok(Self { known: RwLock::new(crate::mirror::portal_ids(db).await?) })
    }

    fn snapshot(&self) -> Vec<i64> {
        self.known.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// Reloads the list (a portal installed since start-up) and returns it.
    async fn reload(&self, db: &DatabaseConnection) -> Result<Vec<i64>, DbErr> {
        let ids = crate::mirror::portal_ids(db).await?;
        if let Ok(mut known) = self.known.write() {
            known.clone_from(&ids);
        }
        Ok(ids)
    }

    /// The portal a request reads: a granted portal is checked against the mirror's; one the credential does not
    /// grant is refused before any database read.
    pub async fn resolve(
        &self,
        db: &DatabaseConnection,
        headers: &HeaderMap,
        grant: &Grant,
    ) -> Result<i64, PortalError> {
        let named = headers.get(PORTAL_HEADER).map(|value| value.to_str().unwrap_or_default().trim().to_owned());
        let named = match (named, grant) {
            (Some(text), _) => {
                let id: i64 = text.parse().map_err(|_| PortalError::Unknown(text.clone()))?;
                if !grant.allows(id) {
                    return Err(PortalError::Forbidden(id));
                }
                Some(id)
            }
            (None, Grant::Only(only)) if only.len() == 1 => Some(only[0]),
            (None, Grant::Only(_)) => return Err(PortalError::Choose),
            (None, Grant::All) => None,
        };
        if let Some(id) = named {
            if self.snapshot().contains(&id) || self.reload(db).await?.contains(&id) {
                return Ok(id);
            }
            return Err(PortalError::Unknown(id.to_string()));
        }
        let mut known = self.snapshot();
        if known.is_empty() {
            known = self.reload(db).await?;
        }
        match known.as_slice() {
            [] => Err(PortalError::NoPortal),
            [only] => Ok(*only),
            _ => Err(PortalError::Ambiguous),
        }
    }
}
