//! API keys: `gw_{id}_{secret}`. The id is public (it names the key in lists and logs); only the SHA-256 of the whole
//! key is stored, so the database alone cannot authenticate anyone. Serving processes hold every key in memory and
//! reload the table every few seconds (a key made or revoked by another process counts from then), so checking a
//! key, good or bad, reads no database.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::Utc;
use entities::api_key;
use rand::{Rng, distr::Alphanumeric};
use schema::Role;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, Caller, Grant};
use crate::reload::MissGate;

const PREFIX: &str = "gw_";
const ID_LEN: usize = 10;
const SECRET_LEN: usize = 40;

/// A key as listed: everything but its secret.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub portals: Grant,
    pub created_at: chrono::DateTime<Utc>,
    pub revoked: bool,
}

struct Stored {
    info: KeyInfo,
    hash: [u8; 32],
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn random(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Makes a key for `portals` with `role`; returns it (the only time its secret is seen) and what is stored.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    role: Role,
    portals: &Grant,
) -> Result<(String, KeyInfo), DbErr> {
    let id = random(ID_LEN).to_lowercase();
    let key = format!("{PREFIX}{id}_{}", random(SECRET_LEN));
    let created_at = Utc::now();
    api_key::Entity::insert(api_key::ActiveModel {
        id: Set(id.clone()),
        name: Set(name.to_owned()),
        role: Set(role.as_str().to_owned()),
        portals: Set(portals.to_string()),
        secret_hash: Set(hex::encode(hash(&key))),
        created_at: Set(created_at),
        revoked_at: Set(None),
    })
    .exec(db)
    .await?;
    let info = KeyInfo { id, name: name.to_owned(), role, portals: portals.clone(), created_at, revoked: false };
    Ok((key, info))
}

/// Every key, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<KeyInfo>, DbErr> {
    let rows = api_key::Entity::find().order_by_asc(api_key::Column::CreatedAt).all(db).await?;
    Ok(rows.into_iter().filter_map(|row| stored(row).map(|s| s.info)).collect())
}

/// Revokes the key `id`; false when there is no such live key.
pub async fn revoke(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let result = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Whether the key is one of the table's live keys (the local admin key kept in a file may have been revoked).
pub async fn is_live(db: &DatabaseConnection, key: &str) -> Result<bool, DbErr> {
    let Some((id, _)) = split(key) else { return Ok(false) };
    let row = api_key::Entity::find_by_id(id.to_owned()).one(db).await?;
    Ok(row.and_then(stored).is_some_and(|s| !s.info.revoked && bool::from(s.hash.ct_eq(&hash(key)))))
}

/// A row as held in memory; a row with a role or portals this version cannot read is skipped (and logged).
fn stored(row: api_key::Model) -> Option<Stored> {
    let role = row.role.parse().map_err(|e| tracing::warn!(key = %row.id, error = %e, "API key skipped")).ok()?;
    let portals = row.portals.parse().map_err(|e| tracing::warn!(key = %row.id, error = %e, "API key skipped")).ok()?;
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&row.secret_hash, &mut hash).ok()?;
    let revoked = row.revoked_at.is_some();
    Some(Stored {
        info: KeyInfo { id: row.id, name: row.name, role, portals, created_at: row.created_at, revoked },
        hash,
    })
}

/// `gw_{id}_{secret}` split into id and secret.
fn split(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == ID_LEN && secret.len() == SECRET_LEN).then_some((id, secret))
}

/// Whether a bearer credential is shaped as one of our keys (else it may be a JWT).
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// The keys a serving process checks callers against.
pub struct KeyStore {
    keys: RwLock<Arc<HashMap<String, Stored>>>,
    misses: MissGate,
}

impl KeyStore {
    pub async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let store = Self { keys: RwLock::default(), misses: MissGate::default() };
        store.reload(db).await?;
        Ok(store)
    }

    /// Another least time between reads for unknown keys (tests read at every miss).
    pub fn reloading_on_miss_after(self, reload_on_miss: Duration) -> Self {
        Self { misses: MissGate::new(reload_on_miss), ..self }
    }

    /// Reads the table again.
    pub async fn reload(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let rows = api_key::Entity::find().all(db).await?;
        let keys: HashMap<String, Stored> =
            rows.into_iter().filter_map(stored).map(|s| (s.info.id.clone(), s)).collect();
        if let Ok(mut held) = self.keys.write() {
            *held = Arc::new(keys);
        }
        self.misses.read();
        Ok(())
    }

    /// Whether any live key exists (a gateway on a public address needs a way in).
    pub fn any_live(&self) -> bool {
        self.snapshot().values().any(|s| !s.info.revoked)
    }

    fn snapshot(&self) -> Arc<HashMap<String, Stored>> {
        self.keys.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    /// The caller `key` names, or why not. An id this process does not hold reads the table again, at most once
    /// per [`RELOAD_ON_MISS`](crate::reload::RELOAD_ON_MISS), so a key just made elsewhere works at once and a flood
    /// of unknown keys costs one read a second.
    pub async fn check(&self, db: &DatabaseConnection, key: &str) -> Result<Caller, AuthError> {
        let (id, _) = split(key)
            .ok_or_else(|| AuthError::invalid("KEY_MALFORMED", "the API key is not shaped gw_{id}_{secret}"))?;
        let mut keys = self.snapshot();
        if !keys.contains_key(id) && self.misses.claim() {
            if let Err(err) = self.reload(db).await {
                tracing::error!(error = %err, "reloading API keys");
            }
            keys = self.snapshot();
        }
        let stored = keys.get(id).ok_or_else(|| AuthError::invalid("KEY_UNKNOWN", "no such API key"))?;
        if !bool::from(stored.hash.ct_eq(&hash(key))) {
            return Err(AuthError::invalid("KEY_UNKNOWN", "no such API key"));
        }
        if stored.info.revoked {
            return Err(AuthError::invalid("KEY_REVOKED", "the API key was revoked"));
        }
        Ok(Caller { id: format!("key:{id}"), role: stored.info.role, portals: stored.info.portals.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_id_and_secret() {
        let key = format!("{PREFIX}{}_{}", "a".repeat(ID_LEN), "b".repeat(SECRET_LEN));
        assert_eq!(split(&key), Some(("aaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")));
        assert_eq!(split("gw_short_x"), None);
        assert_eq!(split("Bearer x"), None);
        assert!(looks_like_key(&key));
    }
}
