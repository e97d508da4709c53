//! CRM records by id: the mirror's, or HubSpot's when the mirror does not hold one yet (created a moment ago, or
//! not synced) or the client asks for `fresh`; and the records mutations write, read back once HubSpot took them.

use std::sync::Arc;

use entities::{company, contact, deal, ticket};
use hubspot::ObjectType;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::{
    error::Res,
    objects::{company::Company, contact::Contact, deal::Deal, ticket::Ticket},
    prefetch::Row,
    scope::Scope,
};

/// What a write's checks need of the record it changes.
pub(crate) struct Current {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
}

/// A GraphQL object type over a mirrored CRM record.
pub(crate) trait Written: Sized + Send + Sync {
    const TYPE: ObjectType;
    /// The type name global IDs carry.
    const NAME: &'static str;
    type Model: Row;
    /// Straight from the database, past the request's DataLoader cache.
    fn read(db: &impl ConnectionTrait, portal: i64, id: i64) -> impl Future<Output = Result<Option<Self>, DbErr>>;
    /// Through the request's DataLoader, so lookups by id batch.
    fn mirrored(scope: &Scope, id: i64) -> impl Future<Output = Res<Option<Arc<Self::Model>>>> + Send;
    /// The same, loaded at once, for a root field (see `load_now`).
    fn mirrored_now(scope: &Scope, id: i64) -> impl Future<Output = Res<Option<Arc<Self::Model>>>> + Send;
    fn wrap(row: Arc<Self::Model>) -> Self;
    fn row(&self) -> Arc<Self::Model>;
    fn current(&self) -> Current;
    fn is_archived(&self) -> bool;
}

macro_rules! written {
    ($ty:ident, $entity:ident, $loader:ident, $object_type:expr, $name:literal, $pipeline:ident, $stage:ident) => {
        written!(@impl $ty, $entity, $loader, $object_type, $name, |row: &$entity::Model| Current {
            pipeline: row.$pipeline.clone(),
            stage: row.$stage.clone(),
        });
    };
    ($ty:ident, $entity:ident, $loader:ident, $object_type:expr, $name:literal) => {
        written!(@impl $ty, $entity, $loader, $object_type, $name, |_: &$entity::Model| Current {
            pipeline: None,
            stage: None
        });
    };
    (@impl $ty:ident, $entity:ident, $loader:ident, $object_type:expr, $name:literal, $current:expr) => {
        impl Written for $ty {
            const TYPE: ObjectType = $object_type;
            const NAME: &'static str = $name;
            type Model = $entity::Model;

            async fn mirrored(scope: &Scope, id: i64) -> Res<Option<Arc<$entity::Model>>> {
                Ok(scope.loaders.$loader.load_one(id).await?)
            }

            async fn mirrored_now(scope: &Scope, id: i64) -> Res<Option<Arc<$entity::Model>>> {
                crate::prefetch::load_now(&scope.loaders.$loader, id).await
            }

            fn wrap(row: Arc<$entity::Model>) -> Self {
                $ty(row)
            }

            fn row(&self) -> Arc<$entity::Model> {
                self.0.clone()
            }

            async fn read(db: &impl ConnectionTrait, portal: i64, id: i64) -> Result<Option<Self>, DbErr> {
                Ok($entity::Entity::find_by_id((portal, id)).one(db).await?.map(|row| $ty(Arc::new(row))))
            }

            fn current(&self) -> Current {
                ($current)(&self.0)
            }

            fn is_archived(&self) -> bool {
                self.0.archived_at.is_some()
            }
        }
    };
}

written!(Contact, contact, contacts, ObjectType::Contact, "Contact");
written!(Company, company, companies, ObjectType::Company, "Company");
written!(Deal, deal, deals, ObjectType::Deal, "Deal", pipeline, dealstage);
written!(Ticket, ticket, tickets, ObjectType::Ticket, "Ticket", pipeline, pipeline_stage);

/// Record `id` read from HubSpot (through the read cache) into the mirror, then from the mirror; `None` when HubSpot
/// holds no live record `id` or no HubSpot connection is configured. Lists never come here: only single objects.
pub(crate) async fn from_hubspot<T: Written>(scope: &Scope, id: i64) -> Res<Option<T>> {
    let Some(upstream) = scope.hubspot()? else { return Ok(None) };
    let Some(source) = upstream.fetch(scope.portal_id, T::TYPE, id).await? else { return Ok(None) };
    scope.answered_from(T::TYPE.singular(), id, source);
    Ok(T::read(&scope.db, scope.portal_id, id).await?)
}
