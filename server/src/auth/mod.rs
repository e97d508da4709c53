//! Who is calling: an API key (`Authorization: Bearer gw_…`) or a JWT from the frontend's identity provider, either
//! with a role and the portals it may read. The portal a request reads comes from the credential;
//! `X-HubSpot-Portal-Id` only chooses among the ones it names.

pub mod jwt;
pub mod keys;
pub mod local;

use std::{fmt, str::FromStr};

use axum::http::{HeaderMap, header};
use schema::Role;
use sea_orm::DatabaseConnection;

pub use jwt::{JwtConfig, JwtVerifier};
pub use keys::KeyStore;

/// The portals a credential may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Every portal the gateway holds (`*`).
    All,
    /// These portals only.
    Only(Vec<i64>),
}

impl Grant {
    pub fn allows(&self, portal: i64) -> bool {
        match self {
            Grant::All => true,
            Grant::Only(portals) => portals.contains(&portal),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::All => f.write_str("*"),
            Grant::Only(portals) => {
                let ids: Vec<String> = portals.iter().map(i64::to_string).collect();
                f.write_str(&ids.join(","))
            }
        }
    }
}

impl FromStr for Grant {
    type Err = String;

    /// `*`, or portal ids separated by commas.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "*" {
            return Ok(Grant::All);
        }
        let portals = text
            .split(',')
            .map(|p| p.trim().parse::<i64>().map_err(|_| format!("a portal is a HubSpot portal id or *, got {p:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        if portals.is_empty() {
            return Err("name at least one portal, or *".to_owned());
        }
        Ok(Grant::Only(portals))
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    /// What logs and the audit log name it by: `key:{id}`, never a secret.
    pub id: String,
    pub role: Role,
    pub portals: Grant,
}

/// Why a request has no caller; each is a 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send Authorization: Bearer <API key or JWT>")]
    Missing,
    /// A credential that is wrong, expired or revoked: a reason code and what to tell the client.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
}

impl AuthError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AuthError::Invalid { code, message: message.into() }
    }
}

impl From<jwt::JwtError> for AuthError {
    fn from(err: jwt::JwtError) -> Self {
        AuthError::invalid(err.code(), err.to_string())
    }
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "UNAUTHENTICATED",
            AuthError::Invalid { code, .. } => code,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750).
    pub fn challenge(&self) -> &'static str {
        match self {
            AuthError::Missing => "Bearer realm=\"hubspot-gateway\"",
            AuthError::Invalid { .. } => "Bearer realm=\"hubspot-gateway\", error=\"invalid_token\"",
        }
    }
}

/// How callers are checked.
#[allow(clippy::large_enum_variant)] // One per process, behind an Arc: its size costs nothing.
pub enum Authenticator {
    /// `AUTH=off`, loopback only: every caller is an admin of every portal.
    Off,
    /// API keys, and JWTs when `JWT_SECRET` or `JWT_JWKS_URL` is set.
    On { keys: KeyStore, jwt: Option<JwtVerifier> },
}

impl Authenticator {
    /// The caller a request's `Authorization` header names.
    pub async fn caller(&self, db: &DatabaseConnection, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        self.caller_of(db, value).await
    }

    /// The caller an `Authorization` value (`Bearer …`) names; a WebSocket's `connection_init` payload carries one.
    pub async fn caller_of(&self, db: &DatabaseConnection, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let (keys, jwt) = match self {
            Authenticator::Off => {
                return Ok(Caller { id: "anonymous".to_owned(), role: Role::Admin, portals: Grant::All });
            }
            Authenticator::On { keys, jwt } => (keys, jwt),
        };
        let value = authorization.map(str::trim).filter(|v| !v.is_empty()).ok_or(AuthError::Missing)?;
        let credential = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return Err(AuthError::invalid("CREDENTIAL_MALFORMED", "send Authorization: Bearer <API key or JWT>")),
        };
        if keys::looks_like_key(credential) {
            return keys.check(db, credential).await;
        }
        match jwt {
            Some(jwt) => token_caller(jwt, credential).await,
            None => Err(AuthError::invalid("CREDENTIAL_MALFORMED", "the credential is not an API key (gw_…)")),
        }
    }

    /// Whether some caller could authenticate: a live key, or tokens.
    pub fn has_a_way_in(&self) -> bool {
        match self {
            Authenticator::Off => true,
            Authenticator::On { keys, jwt } => jwt.is_some() || keys.any_live(),
        }
    }

    /// Keeps the key store in step with the table (keys made or revoked by other processes).
    pub async fn keep_reloading(self: std::sync::Arc<Self>, db: DatabaseConnection) {
        let Authenticator::On { keys, .. } = self.as_ref() else { return };
        let mut every = tokio::time::interval(crate::reload::RELOAD_EVERY);
        loop {
            every.tick().await;
            if let Err(err) = keys.reload(&db).await {
                tracing::warn!(error = %err, "reloading API keys");
            }
        }
    }
}

/// The caller a valid token names: it must carry a role and at least one portal.
async fn token_caller(jwt: &JwtVerifier, token: &str) -> Result<Caller, AuthError> {
    let claims = jwt.verify(token).await?;
    let (portals_claim, role_claim) = jwt.claim_names();
    let role = claims
        .role
        .as_deref()
        .ok_or_else(|| AuthError::invalid("TOKEN_MALFORMED", format!("the token has no {role_claim} claim")))?
        .parse::<Role>()
        .map_err(|e| AuthError::invalid("TOKEN_MALFORMED", format!("the token's {role_claim} claim: {e}")))?;
    if claims.portals.is_empty() {
        return Err(AuthError::invalid(
            "TOKEN_MALFORMED",
            format!("the token names no portal in its {portals_claim} claim"),
        ));
    }
    Ok(Caller { id: format!("jwt:{}", claims.subject), role, portals: Grant::Only(claims.portals) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_and_print_alike() {
        assert_eq!("*".parse::<Grant>(), Ok(Grant::All));
        assert_eq!("1, 2".parse::<Grant>(), Ok(Grant::Only(vec![1, 2])));
        assert_eq!(Grant::Only(vec![1, 2]).to_string(), "1,2");
        assert!("one".parse::<Grant>().unwrap_err().contains("portal"));
        assert!(Grant::Only(vec![7]).allows(7) && !Grant::Only(vec![7]).allows(8) && Grant::All.allows(8));
    }
}
