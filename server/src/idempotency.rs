//! Creates by idempotency key, kept in the database (every replica's, and it outlives a Redis restart): the first
//! request with a key claims it, creates the record and notes its id for 24 h; a retry with the key gets that record
//! instead of a duplicate, and a retry that overlaps the first waits for it.
//!
//! A claim holds for [`Keys::pending`], longer than the create can take (its call and the look-up after a lost
//! answer, each at most HubSpot's longest retry chain), so no second request creates while the first still might.
//! A claim whose create may have reached HubSpot without an answer (a timeout, a cut connection, a 5xx, or a
//! claimer that died) is kept, not deleted: the next request with the key takes it over and looks for the record
//! at HubSpot before creating, from the time the key was first claimed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::idempotency_key::{self, Column as C};
use hubspot::ObjectType;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

/// How long a key remembers its record.
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// Added to a claim's hold past the create's longest time: the database round trips and the mirror's write.
const MARGIN: Duration = Duration::from_secs(60);

/// What a key says when a create comes with it.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: create, then [`Keys::finish`], [`Keys::release`] or [`Keys::abandon`]. `since`
    /// is set when an earlier create with the key may have made a record (from then on): look for it first.
    Mine { since: Option<DateTime<Utc>> },
    /// An earlier request with the key created this record.
    Created(i64),
    /// An earlier request with the key is still creating.
    Pending,
}

#[derive(Clone)]
pub struct Keys {
    pub db: DatabaseConnection,
    /// How long a claim holds without a record.
    pub pending: Duration,
}

fn by_key(portal: i64, object_type: ObjectType, key: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(C::PortalId.eq(portal))
        .add(C::ObjectType.eq(object_type.singular()))
        .add(C::Key.eq(key))
}

impl Keys {
    /// Keys whose claims outlive a create through a client whose one call takes at most `longest_call`: the
    /// create, and the look-up after a lost answer.
    pub fn new(db: DatabaseConnection, longest_call: Duration) -> Self {
        Self { db, pending: longest_call * 2 + MARGIN }
    }

    pub async fn claim(&self, portal: i64, object_type: ObjectType, key: &str) -> Result<Claim, DbErr> {
        let now = Utc::now();
        // A key older than a day is free again; so is an abandoned claim that old.
        idempotency_key::Entity::delete_many()
            .filter(by_key(portal, object_type, key))
            .filter(
                sea_orm::Condition::any()
                    .add(C::HubspotId.is_not_null().and(C::ExpiresAt.lt(now)))
                    .add(C::CreatedAt.lt(now - KEEP)),
            )
            .exec(&self.db)
            .await?;
        let row = idempotency_key::ActiveModel {
            portal_id: Set(portal),
            object_type: Set(object_type.singular().to_owned()),
            key: Set(key.to_owned()),
            hubspot_id: Set(None),
            created_at: Set(now),
            expires_at: Set(now + self.pending),
        };
        let inserted = idempotency_key::Entity::insert(row)
            .on_conflict(OnConflict::columns([C::PortalId, C::ObjectType, C::Key]).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        if inserted == 1 {
            return Ok(Claim::Mine { since: None });
        }
        // A claim past its hold, without a record: its create failed without knowing, or its claimer died. One
        // statement takes it over, so only one request does.
        let taken = idempotency_key::Entity::update_many()
            .col_expr(C::ExpiresAt, Expr::val(now + self.pending))
            .filter(by_key(portal, object_type, key))
            .filter(C::HubspotId.is_null())
            .filter(C::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        let held = idempotency_key::Entity::find().filter(by_key(portal, object_type, key)).one(&self.db).await?;
        Ok(match held {
            Some(held) if taken.rows_affected == 1 => Claim::Mine { since: Some(held.created_at) },
            Some(held) => held.hubspot_id.map_or(Claim::Pending, Claim::Created),
            // Deleted since the insert failed (released by its claimer): try again.
            None => Box::pin(self.claim(portal, object_type, key)).await?,
        })
    }

    /// The claimed key made record `id`.
    pub async fn finish(&self, portal: i64, object_type: ObjectType, key: &str, id: i64) -> Result<(), DbErr> {
        idempotency_key::Entity::update_many()
            .col_expr(C::HubspotId, Expr::val(id))
            .col_expr(C::ExpiresAt, Expr::val(Utc::now() + KEEP))
            .filter(by_key(portal, object_type, key))
            .exec(&self.db)
            .await
            .map(drop)
    }

    /// The create failed and HubSpot made nothing: the key is free for a retry.
    pub async fn release(&self, portal: i64, object_type: ObjectType, key: &str) -> Result<(), DbErr> {
        idempotency_key::Entity::delete_many().filter(by_key(portal, object_type, key)).exec(&self.db).await.map(drop)
    }

    /// The create failed without knowing whether HubSpot made the record: the claim is free for a retry, which
    /// looks for the record first.
    pub async fn abandon(&self, portal: i64, object_type: ObjectType, key: &str) -> Result<(), DbErr> {
        idempotency_key::Entity::update_many()
            .col_expr(C::ExpiresAt, Expr::val(Utc::now() - chrono::Duration::seconds(1)))
            .filter(by_key(portal, object_type, key))
            .filter(C::HubspotId.is_null())
            .exec(&self.db)
            .await
            .map(drop)
    }
}
