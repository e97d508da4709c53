//! `auditLog`: who did what in the request's portal, for its admins, newest first.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::audit_log::{self, Column as C};
use sea_orm::{ColumnTrait, sea_query::Condition};

use crate::{
    columns::Read,
    connection::{Conn, PageArgs, keyset_page},
    error::{GqlResult, IntoGql},
    scope::scope,
};

/// One act: a mutation, a replay, an install, a disconnect or a key change, and how it ended.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    /// Who: `key:{id}`, `jwt:{sub}`, `anonymous` (AUTH=off) or `cli`.
    pub caller: String,
    /// The GraphQL operation's name when the client gave one, else `field`.
    pub operation: String,
    /// The mutation root field (`createContact`), or the route or command (`keys create`).
    pub field: String,
    /// The HubSpot records it named or made, as `type:id` (`contact:123`); at most 100.
    pub hubspot_ids: Vec<String>,
    /// What it was about when that is not a HubSpot record: an API key (`key {id}`), replayed events.
    pub target: Option<String>,
    /// `OK`; `PARTIAL` (a batch of which some inputs were not written); `CANCELLED` (the request ended before the
    /// outcome was known); else the error code the caller was answered with (`UPSTREAM_REJECTED`, …).
    pub outcome: String,
    /// HubSpot's `category`, when HubSpot refused or failed.
    pub category: Option<String>,
    /// HubSpot's correlation id, to quote to HubSpot's support.
    pub correlation_id: Option<String>,
    /// What went wrong: codes, categories and argument names, never the values sent.
    pub error: Option<String>,
}

impl From<&audit_log::Model> for AuditEntry {
    fn from(row: &audit_log::Model) -> Self {
        let ids = row.hubspot_ids.as_array().map(|ids| ids.iter().filter_map(|id| id.as_str()).map(str::to_owned));
        Self {
            id: ID(row.id.to_string()),
            at: row.at,
            caller: row.caller.clone(),
            operation: row.operation.clone(),
            field: row.field.clone(),
            hubspot_ids: ids.map(Iterator::collect).unwrap_or_default(),
            target: row.target.clone(),
            outcome: row.outcome.clone(),
            category: row.category.clone(),
            correlation_id: row.correlation_id.clone(),
            error: row.error.clone(),
        }
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object(guard = "crate::role::Needs(crate::role::Role::Admin)")]
impl AuditQuery {
    /// Who did what in this portal, newest first: every mutation, webhook replay, install, disconnect and key
    /// change, with its caller, the HubSpot ids it touched and how it ended. `operation` keeps the rows whose
    /// operation name or field is that.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        operation: Option<String>,
    ) -> GqlResult<Conn<AuditEntry>> {
        let scope = scope(ctx);
        let mut cond = Condition::all().add(C::PortalId.eq(scope.portal_id));
        if let Some(operation) = operation {
            cond = cond.add(Condition::any().add(C::Operation.eq(operation.clone())).add(C::Field.eq(operation)));
        }
        // Ids are handed out as rows are written, from one sequence every replica shares: their order is the acts'.
        let sort = [crate::order::SortKey::from(("id", true))];
        let args = PageArgs { first, after, ..PageArgs::default() };
        let page = keyset_page::<audit_log::Entity>(&scope.db, cond, &sort, &args, Read::Whole).await.gql()?;
        Ok(page.into_connection(|row: Arc<audit_log::Model>| AuditEntry::from(&*row)))
    }
}
