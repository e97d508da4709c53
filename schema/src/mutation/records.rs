//! The records mutations write, read back from the mirror once HubSpot accepted the write.

use std::sync::Arc;

use entities::{company, contact, deal, ticket};
use generator::ObjectType;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::objects::{company::Company, contact::Contact, deal::Deal, ticket::Ticket};

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
    fn read(db: &impl ConnectionTrait, portal: i64, id: i64) -> impl Future<Output = Result<Option<Self>, DbErr>>;
    fn current(&self) -> Current;
    fn is_archived(&self) -> bool;
}

macro_rules! written {
    ($ty:ident, $entity:ident, $object_type:expr, $name:literal, $pipeline:ident, $stage:ident) => {
        written!(@impl $ty, $entity, $object_type, $name, |row: &$entity::Model| Current {
            pipeline: row.$pipeline.clone(),
            stage: row.$stage.clone(),
        });
    };
    ($ty:ident, $entity:ident, $object_type:expr, $name:literal) => {
        written!(@impl $ty, $entity, $object_type, $name, |_: &$entity::Model| Current { pipeline: None, stage: None });
    };
    (@impl $ty:ident, $entity:ident, $object_type:expr, $name:literal, $current:expr) => {
        impl Written for $ty {
            const TYPE: ObjectType = $object_type;
            const NAME: &'static str = $name;

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

written!(Contact, contact, ObjectType::Contact, "Contact");
written!(Company, company, ObjectType::Company, "Company");
written!(Deal, deal, ObjectType::Deal, "Deal", pipeline, dealstage);
written!(Ticket, ticket, ObjectType::Ticket, "Ticket", pipeline, pipeline_stage);
