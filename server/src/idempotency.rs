//! Creates by idempotency key: the first request with a key claims it, creates the record and notes its id for
//! 24 h; a retry with the key gets that record instead of a duplicate, and a retry that overlaps the first waits
//! for it. Redis holds the keys when configured (replicas share them), the database otherwise.

use std::time::Duration;

use chrono::Utc;
use entities::idempotency_key::{self, Column as C};
use hubspot::ObjectType;
use redis::AsyncCommands;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::{ExprTrait, OnConflict},
};

use crate::shared_redis::SharedRedis;

/// How long a key remembers its record.
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a claim holds without a record: the claimer died mid-create if it takes longer.
const PENDING: Duration = Duration::from_secs(60);
const PENDING_MARK: &str = "pending";

/// What a key says when a create comes with it.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: create, then [`Keys::finish`] or [`Keys::release`].
    Mine,
    /// An earlier request with the key created this record.
    Created(i64),
    /// An earlier request with the key is still creating.
    Pending,
}

#[derive(Clone)]
pub struct Keys {
    pub db: DatabaseConnection,
    pub redis: Option<SharedRedis>,
}

fn redis_key(redis: &SharedRedis, portal: i64, object_type: ObjectType, key: &str) -> String {
    redis.key(&format!("idempotency:{portal}:{}:{key}", object_type.singular()))
}

fn by_key(portal: i64, object_type: ObjectType, key: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(C::PortalId.eq(portal))
        .add(C::ObjectType.eq(object_type.singular()))
        .add(C::Key.eq(key))
}

impl Keys {
    pub async fn claim(&self, portal: i64, object_type: ObjectType, key: &str) -> Result<Claim, DbErr> {
        if let Some(redis) = &self.redis {
            let name = redis_key(redis, portal, object_type, key);
            let options = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .with_expiration(redis::SetExpiry::EX(PENDING.as_secs()));
            let claimed: Option<String> =
                redis.conn().set_options(&name, PENDING_MARK, options).await.map_err(redis_failed)?;
            if claimed.is_some() {
                return Ok(Claim::Mine);
            }
            let held: Option<String> = redis.conn().get(&name).await.map_err(redis_failed)?;
            return Ok(match held.as_deref().map(str::parse) {
                Some(Ok(id)) => Claim::Created(id),
                Some(Err(_)) => Claim::Pending,
                // Expired between the two commands: try again.
                None => Box::pin(self.claim(portal, object_type, key)).await?,
            });
        }
        let now = Utc::now();
        // A claim past its time (the claimer died, or the key is older than a day) is free again.
        idempotency_key::Entity::delete_many()
            .filter(by_key(portal, object_type, key))
            .filter(
                sea_orm::Condition::any()
                    .add(C::ExpiresAt.lt(now))
                    .add(C::HubspotId.is_null().and(C::CreatedAt.lt(now - PENDING))),
            )
            .exec(&self.db)
            .await?;
        let row = idempotency_key::ActiveModel {
            portal_id: Set(portal),
            object_type: Set(object_type.singular().to_owned()),
            key: Set(key.to_owned()),
            hubspot_id: Set(None),
            created_at: Set(now),
            expires_at: Set(now + KEEP),
        };
        let inserted = idempotency_key::Entity::insert(row)
            .on_conflict(OnConflict::columns([C::PortalId, C::ObjectType, C::Key]).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        if inserted == 1 {
            return Ok(Claim::Mine);
        }
        let held = idempotency_key::Entity::find().filter(by_key(portal, object_type, key)).one(&self.db).await?;
        Ok(match held.and_then(|h| h.hubspot_id) {
            Some(id) => Claim::Created(id),
            None => Claim::Pending,
        })
    }

    /// The claimed key made record `id`.
    pub async fn finish(&self, portal: i64, object_type: ObjectType, key: &str, id: i64) -> Result<(), DbErr> {
        if let Some(redis) = &self.redis {
            let name = redis_key(redis, portal, object_type, key);
            return redis.conn().set_ex(name, id, KEEP.as_secs()).await.map_err(redis_failed);
        }
        idempotency_key::Entity::update_many()
            .col_expr(C::HubspotId, sea_orm::sea_query::Expr::val(id))
            .filter(by_key(portal, object_type, key))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// The create failed: the key is free for a retry.
    pub async fn release(&self, portal: i64, object_type: ObjectType, key: &str) -> Result<(), DbErr> {
        if let Some(redis) = &self.redis {
            let name = redis_key(redis, portal, object_type, key);
            return redis.conn().del(name).await.map_err(redis_failed);
        }
        idempotency_key::Entity::delete_many().filter(by_key(portal, object_type, key)).exec(&self.db).await.map(drop)
    }
}

/// Redis failing here would risk a duplicate record: the create is refused instead, as a storage error.
fn redis_failed(err: redis::RedisError) -> DbErr {
    DbErr::Custom(format!("idempotency keys in Redis: {err}"))
}
