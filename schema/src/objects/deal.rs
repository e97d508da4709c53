use async_graphql::{Context, Enum, ID, InputObject};
use chrono::{DateTime, Utc};
use entities::deal;
use sea_orm::sea_query::Condition;

use super::{
    associated,
    company::{Company, CompanyWhere},
    contact::{Contact, ContactWhere},
    crm_object,
    owner::{Owner, load_owner},
    pipeline::{Pipeline, PipelineStage, load_pipeline, load_stage},
    relation::{RelationFilter, Where, combine},
    ticket::Ticket,
};
use crate::{
    connection::{AssocConn, PageArgs},
    error::{GqlResult, IntoGql, Res},
    filter::{BoolFilter, DateTimeFilter, FloatFilter, IdFilter, StringFilter, TableRef, f, fields},
    order::SortField,
    relay::LinksFrom,
};

/// The columns only some of a deal's fields read (see `columns`).
pub(crate) const READ_BY: crate::columns::ReadBy = &[
    ("dealname", &["name"]),
    ("amount", &["amount"]),
    ("pipeline", &["pipelineId", "pipeline", "stage"]),
    ("dealstage", &["stageId", "stage"]),
    ("closedate", &["closeDate"]),
    ("is_closed", &["isClosed"]),
    ("is_closed_won", &["isClosedWon"]),
    ("probability", &["probability"]),
    ("search_text", &[]),
];

crm_object!(
    /// A sales opportunity moving through a pipeline.
    Deal(deal::Model), "Deal", {
    /// HubSpot's `dealname`.
    async fn name(&self) -> Option<&str> {
        self.0.dealname.as_deref()
    }

    async fn amount(&self) -> Option<f64> {
        self.0.amount
    }

    /// The id of the deal's pipeline (`default`, …).
    async fn pipeline_id(&self) -> Option<ID> {
        self.0.pipeline.clone().map(ID)
    }

    /// The id of the deal's stage (`closedwon`, …).
    async fn stage_id(&self) -> Option<ID> {
        self.0.dealstage.clone().map(ID)
    }

    async fn pipeline(&self, ctx: &Context<'_>) -> GqlResult<Option<Pipeline>> {
        load_pipeline(ctx, self.0.pipeline.as_deref()).await
    }

    async fn stage(&self, ctx: &Context<'_>) -> GqlResult<Option<PipelineStage>> {
        load_stage(ctx, self.0.pipeline.as_deref(), self.0.dealstage.as_deref()).await
    }

    async fn close_date(&self) -> Option<DateTime<Utc>> {
        self.0.closedate
    }

    async fn is_closed(&self) -> Option<bool> {
        self.0.is_closed
    }

    async fn is_closed_won(&self) -> Option<bool> {
        self.0.is_closed_won
    }

    /// The probability of the deal's stage, 0 to 1.
    async fn probability(&self) -> Option<f64> {
        self.0.probability
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
        let from = LinksFrom { from_type: "deal", from_id: self.0.hubspot_id, to_type: "contact" };
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
        let from = LinksFrom { from_type: "deal", from_id: self.0.hubspot_id, to_type: "company" };
        let page = associated(ctx, from, label, |l| &l.companies, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Company)).gql()
    }
    /// Deal ↔ ticket links (HubSpot's types 27 and 28).
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the records linked with this association label (`Decision maker`, `Primary`).")]
        label: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<AssocConn<Ticket>> {
        let args = PageArgs { first, after, last, before };
        let from = LinksFrom { from_type: "deal", from_id: self.0.hubspot_id, to_type: "ticket" };
        let page = associated(ctx, from, label, |l| &l.tickets, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Ticket)).gql()
    }
});

/// Which deals a list returns; every field given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DealWhere {
    pub hubspot_id: Option<IdFilter>,
    pub name: Option<StringFilter>,
    pub amount: Option<FloatFilter>,
    pub pipeline_id: Option<StringFilter>,
    pub stage_id: Option<StringFilter>,
    pub close_date: Option<DateTimeFilter>,
    pub owner_id: Option<IdFilter>,
    pub is_closed: Option<BoolFilter>,
    pub is_closed_won: Option<BoolFilter>,
    pub probability: Option<FloatFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    pub contacts: Option<RelationFilter<ContactWhere>>,
    pub companies: Option<RelationFilter<CompanyWhere>>,
    /// On any property of the portal, custom ones included, each value read as its definition's type.
    pub properties: Option<Vec<crate::portal_properties::PropertyFilter>>,
    pub and: Option<Vec<DealWhere>>,
    pub or: Option<Vec<DealWhere>>,
    pub not: Option<Box<DealWhere>>,
}

impl Where for DealWhere {
    const TABLE: &'static str = "deals";
    const KIND: &'static str = "deal";

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let mut own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("name", "dealname", f(&self.name)),
                ("amount", "amount", f(&self.amount)),
                ("pipelineId", "pipeline", f(&self.pipeline_id)),
                ("stageId", "dealstage", f(&self.stage_id)),
                ("closeDate", "closedate", f(&self.close_date)),
                ("ownerId", "owner_id", f(&self.owner_id)),
                ("isClosed", "is_closed", f(&self.is_closed)),
                ("isClosedWon", "is_closed_won", f(&self.is_closed_won)),
                ("probability", "probability", f(&self.probability)),
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
pub enum DealOrderField {
    HubspotId,
    Name,
    Amount,
    PipelineId,
    StageId,
    CloseDate,
    Probability,
    CreatedAt,
    UpdatedAt,
}

impl SortField for DealOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Name => "dealname",
            Self::Amount => "amount",
            Self::PipelineId => "pipeline",
            Self::StageId => "dealstage",
            Self::CloseDate => "closedate",
            Self::Probability => "probability",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}
