use async_graphql::{Context, Enum, ID, InputObject};
use chrono::{DateTime, Utc};
use entities::ticket;
use sea_orm::sea_query::Condition;

use super::{
    associated,
    company::{Company, CompanyWhere},
    contact::{Contact, ContactWhere},
    crm_object,
    deal::Deal,
    owner::{Owner, load_owner},
    pipeline::{Pipeline, PipelineStage, load_pipeline, load_stage},
    relation::{RelationFilter, Where, combine},
};
use crate::{
    connection::{AssocConn, PageArgs},
    error::{GqlResult, IntoGql, Res},
    filter::{DateTimeFilter, IdFilter, StringFilter, TableRef, f, fields},
    order::SortField,
    relay::LinksFrom,
};

/// The columns only some of a ticket's fields read (see `columns`).
pub(crate) const READ_BY: crate::columns::ReadBy = &[
    ("subject", &["subject"]),
    ("content", &["content"]),
    ("pipeline", &["pipelineId", "pipeline", "stage"]),
    ("pipeline_stage", &["stageId", "stage"]),
    ("priority", &["priority"]),
    ("closed_at", &["closedAt"]),
    ("search_text", &[]),
];

crm_object!(
    /// A support request: the support signal of a client's health.
    Ticket(ticket::Model), "Ticket", {
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    async fn content(&self) -> Option<&str> {
        self.0.content.as_deref()
    }

    /// `LOW`, `MEDIUM` or `HIGH`.
    async fn priority(&self) -> Option<&str> {
        self.0.priority.as_deref()
    }

    async fn pipeline_id(&self) -> Option<ID> {
        self.0.pipeline.clone().map(ID)
    }

    async fn stage_id(&self) -> Option<ID> {
        self.0.pipeline_stage.clone().map(ID)
    }

    async fn pipeline(&self, ctx: &Context<'_>) -> GqlResult<Option<Pipeline>> {
        load_pipeline(ctx, self.0.pipeline.as_deref()).await
    }

    async fn stage(&self, ctx: &Context<'_>) -> GqlResult<Option<PipelineStage>> {
        load_stage(ctx, self.0.pipeline.as_deref(), self.0.pipeline_stage.as_deref()).await
    }

    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }

    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<Owner>> {
        load_owner(ctx, self.0.owner_id).await
    }

    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label (`Decision maker`, `Primary`).")]
        label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Contact>> {
        let args = PageArgs { first, after, last, before };
        let from = LinksFrom { from_type: "ticket", from_id: self.0.hubspot_id, to_type: "contact" };
        let page = associated(ctx, from, label, |l| &l.contacts, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Contact)).gql()
    }

    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label (`Decision maker`, `Primary`).")]
        label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Company>> {
        let args = PageArgs { first, after, last, before };
        let from = LinksFrom { from_type: "ticket", from_id: self.0.hubspot_id, to_type: "company" };
        let page = associated(ctx, from, label, |l| &l.companies, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Company)).gql()
    }
    /// Deal ↔ ticket links (HubSpot's types 27 and 28).
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label (`Decision maker`, `Primary`).")]
        label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Deal>> {
        let args = PageArgs { first, after, last, before };
        let from = LinksFrom { from_type: "ticket", from_id: self.0.hubspot_id, to_type: "deal" };
        let page = associated(ctx, from, label, |l| &l.deals, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Deal)).gql()
    }
});

/// Which tickets a list returns; every field given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct TicketWhere {
    pub hubspot_id: Option<IdFilter>,
    pub subject: Option<StringFilter>,
    pub priority: Option<StringFilter>,
    pub pipeline_id: Option<StringFilter>,
    pub stage_id: Option<StringFilter>,
    pub owner_id: Option<IdFilter>,
    pub closed_at: Option<DateTimeFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    pub contacts: Option<RelationFilter<ContactWhere>>,
    pub companies: Option<RelationFilter<CompanyWhere>>,
    /// On any property of the portal, custom ones included, each value read as its definition's type.
    pub properties: Option<Vec<crate::portal_properties::PropertyFilter>>,
    pub and: Option<Vec<TicketWhere>>,
    pub or: Option<Vec<TicketWhere>>,
    pub not: Option<Box<TicketWhere>>,
}

impl Where for TicketWhere {
    const TABLE: &'static str = "tickets";
    const KIND: &'static str = "ticket";

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let mut own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("subject", "subject", f(&self.subject)),
                ("priority", "priority", f(&self.priority)),
                ("pipelineId", "pipeline", f(&self.pipeline_id)),
                ("stageId", "pipeline_stage", f(&self.stage_id)),
                ("ownerId", "owner_id", f(&self.owner_id)),
                ("closedAt", "closed_at", f(&self.closed_at)),
                ("createdAt", "created_at", f(&self.created_at)),
                ("updatedAt", "updated_at", f(&self.updated_at)),
            ],
        )?;
        if let Some(r) = &self.contacts {
            own = own.add(r.condition(t, Self::KIND, hops)?);
        }
        if let Some(r) = &self.companies {
            own = own.add(r.condition(t, Self::KIND, hops)?);
        }
        own = own.add(crate::portal_properties::conditions(&self.properties, t, Self::KIND)?);
        combine(own, &self.and, &self.or, &self.not, t, hops)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TicketOrderField {
    HubspotId,
    Subject,
    Priority,
    StageId,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

impl SortField for TicketOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Subject => "subject",
            Self::Priority => "priority",
            Self::StageId => "pipeline_stage",
            Self::ClosedAt => "closed_at",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}
