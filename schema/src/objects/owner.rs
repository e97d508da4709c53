use async_graphql::{Context, Enum, InputObject, Json};
use chrono::{DateTime, Utc};
use entities::owner;
use sea_orm::sea_query::Condition;

use super::{
    mirror_object,
    relation::{Where, combine},
};
use crate::{
    error::{GqlResult, IntoGql, Res},
    filter::{DateTimeFilter, IdFilter, StringFilter, TableRef, f, fields},
    order::SortField,
    scope::scope,
};

mirror_object!(
    /// A HubSpot user who owns contacts, companies, deals and tickets.
    Owner(owner::Model), "Owner", {
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    async fn user_id(&self) -> Option<async_graphql::ID> {
        self.0.user_id.map(|id| async_graphql::ID(id.to_string()))
    }

    /// HubSpot's `teams` as received: `[{id, name, primary}]`.
    async fn teams(&self) -> Json<serde_json::Value> {
        Json(self.0.teams.clone())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
});

/// The owner behind an `owner_id` column, batched per query level.
/// Boxed (see `objects::Boxed`).
pub(crate) fn load_owner<'a>(ctx: &'a Context<'_>, id: Option<i64>) -> super::Boxed<'a, GqlResult<Option<Owner>>> {
    Box::pin(async move {
        let Some(id) = id else { return Ok(None) };
        scope(ctx).loaders.owners.load_one(id).await.map(|o| o.map(Owner)).gql()
    })
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct OwnerWhere {
    pub hubspot_id: Option<IdFilter>,
    pub email: Option<StringFilter>,
    pub first_name: Option<StringFilter>,
    pub last_name: Option<StringFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    pub and: Option<Vec<OwnerWhere>>,
    pub or: Option<Vec<OwnerWhere>>,
    pub not: Option<Box<OwnerWhere>>,
}

impl Where for OwnerWhere {
    const TABLE: &'static str = "owners";
    const KIND: &'static str = "owner";
    const SEARCH: &'static [&'static str] = &["email", "first_name", "last_name"];

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("email", "email", f(&self.email)),
                ("firstName", "first_name", f(&self.first_name)),
                ("lastName", "last_name", f(&self.last_name)),
                ("createdAt", "created_at", f(&self.created_at)),
                ("updatedAt", "updated_at", f(&self.updated_at)),
            ],
        )?;
        combine(own, &self.and, &self.or, &self.not, t, hops)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OwnerOrderField {
    HubspotId,
    Email,
    FirstName,
    LastName,
    CreatedAt,
}

impl SortField for OwnerOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Email => "email",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::CreatedAt => "created_at",
        }
    }
}
