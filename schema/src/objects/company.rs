use async_graphql::{Context, Enum, InputObject};
use chrono::{DateTime, Utc};
use entities::company;
use sea_orm::sea_query::Condition;

use super::{
    associated,
    contact::{Contact, ContactWhere},
    crm_object,
    deal::{Deal, DealWhere},
    owner::{Owner, load_owner},
    relation::{RelationFilter, Where, combine},
    ticket::{Ticket, TicketWhere},
};
use crate::{
    connection::{AssocConn, PageArgs},
    error::{GqlResult, IntoGql, Res},
    filter::{DateTimeFilter, FloatFilter, IdFilter, IntFilter, StringFilter, TableRef, f, fields},
    order::SortField,
    relay::LinksFrom,
};

/// The columns only some of a company's fields read (see `columns`).
pub(crate) const READ_BY: crate::columns::ReadBy = &[
    ("name", &["name"]),
    ("domain", &["domain"]),
    ("industry", &["industry"]),
    ("country", &["country"]),
    ("city", &["city"]),
    ("numberofemployees", &["numberOfEmployees"]),
    ("annualrevenue", &["annualRevenue"]),
    ("lifecyclestage", &["lifecycleStage"]),
    ("notes_last_updated_at", &["notesLastUpdatedAt"]),
    ("total_revenue", &["totalRevenue"]),
    ("num_associated_contacts", &["numAssociatedContacts"]),
    ("num_associated_deals", &["numAssociatedDeals"]),
    ("search_text", &[]),
];

crm_object!(
    /// An organisation in the CRM: a client, prospect or partner.
    Company(company::Model), "Company", {
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    /// HubSpot's industry value, e.g. `COMPUTER_SOFTWARE`.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }

    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    async fn number_of_employees(&self) -> Option<i32> {
        self.0.numberofemployees
    }

    async fn annual_revenue(&self) -> Option<f64> {
        self.0.annualrevenue
    }

    async fn lifecycle_stage(&self) -> Option<&str> {
        self.0.lifecyclestage.as_deref()
    }

    async fn notes_last_updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.notes_last_updated_at
    }

    /// The company's current health score, with its explanation; null until first scored.
    async fn health_score(&self, ctx: &Context<'_>) -> GqlResult<Option<crate::health::HealthScore>> {
        crate::health::score_of(ctx, "company", self.0.hubspot_id).await
    }

    /// What the insight rules found about the company, newest first; only those of `status` when given.
    async fn insights(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::insights::InsightStatus>,
    ) -> GqlResult<Vec<crate::insights::Insight>> {
        crate::insights::insights_of(ctx, "company", self.0.hubspot_id, status).await
    }

    async fn total_revenue(&self) -> Option<f64> {
        self.0.total_revenue
    }

    async fn num_associated_contacts(&self) -> Option<i32> {
        self.0.num_associated_contacts
    }

    async fn num_associated_deals(&self) -> Option<i32> {
        self.0.num_associated_deals
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
        let from = LinksFrom { from_type: "company", from_id: self.0.hubspot_id, to_type: "contact" };
        let page = associated(ctx, from, label, |l| &l.contacts, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Contact)).gql()
    }

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
        let from = LinksFrom { from_type: "company", from_id: self.0.hubspot_id, to_type: "deal" };
        let page = associated(ctx, from, label, |l| &l.deals, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Deal)).gql()
    }

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
        let from = LinksFrom { from_type: "company", from_id: self.0.hubspot_id, to_type: "ticket" };
        let page = associated(ctx, from, label, |l| &l.tickets, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Ticket)).gql()
    }
});

/// Which companies a list returns; every field given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CompanyWhere {
    pub hubspot_id: Option<IdFilter>,
    pub name: Option<StringFilter>,
    pub domain: Option<StringFilter>,
    pub industry: Option<StringFilter>,
    pub country: Option<StringFilter>,
    pub city: Option<StringFilter>,
    pub number_of_employees: Option<IntFilter>,
    pub annual_revenue: Option<FloatFilter>,
    pub lifecycle_stage: Option<StringFilter>,
    pub owner_id: Option<IdFilter>,
    pub notes_last_updated_at: Option<DateTimeFilter>,
    pub total_revenue: Option<FloatFilter>,
    pub num_associated_contacts: Option<IntFilter>,
    pub num_associated_deals: Option<IntFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    pub contacts: Option<RelationFilter<ContactWhere>>,
    /// Through the company's deals, e.g. companies with a deal in stage `closedwon`.
    pub deals: Option<RelationFilter<DealWhere>>,
    pub tickets: Option<RelationFilter<TicketWhere>>,
    /// On any property of the portal, custom ones included, each value read as its definition's type.
    pub properties: Option<Vec<crate::portal_properties::PropertyFilter>>,
    pub and: Option<Vec<CompanyWhere>>,
    pub or: Option<Vec<CompanyWhere>>,
    pub not: Option<Box<CompanyWhere>>,
}

impl Where for CompanyWhere {
    const TABLE: &'static str = "companies";
    const KIND: &'static str = "company";

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let mut own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("name", "name", f(&self.name)),
                ("domain", "domain", f(&self.domain)),
                ("industry", "industry", f(&self.industry)),
                ("country", "country", f(&self.country)),
                ("city", "city", f(&self.city)),
                ("numberOfEmployees", "numberofemployees", f(&self.number_of_employees)),
                ("annualRevenue", "annualrevenue", f(&self.annual_revenue)),
                ("lifecycleStage", "lifecyclestage", f(&self.lifecycle_stage)),
                ("ownerId", "owner_id", f(&self.owner_id)),
                ("notesLastUpdatedAt", "notes_last_updated_at", f(&self.notes_last_updated_at)),
                ("totalRevenue", "total_revenue", f(&self.total_revenue)),
                ("numAssociatedContacts", "num_associated_contacts", f(&self.num_associated_contacts)),
                ("numAssociatedDeals", "num_associated_deals", f(&self.num_associated_deals)),
                ("createdAt", "created_at", f(&self.created_at)),
                ("updatedAt", "updated_at", f(&self.updated_at)),
            ],
        )?;
        if let Some(r) = &self.contacts {
            own = own.add(r.condition(t, Self::KIND, hops)?);
        }
        if let Some(r) = &self.deals {
            own = own.add(r.condition(t, Self::KIND, hops)?);
        }
        if let Some(r) = &self.tickets {
            own = own.add(r.condition(t, Self::KIND, hops)?);
        }
        own = own.add(crate::portal_properties::conditions(&self.properties, t, Self::KIND)?);
        combine(own, &self.and, &self.or, &self.not, t, hops)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CompanyOrderField {
    HubspotId,
    Name,
    Domain,
    Industry,
    Country,
    City,
    NumberOfEmployees,
    AnnualRevenue,
    LifecycleStage,
    TotalRevenue,
    NumAssociatedContacts,
    NumAssociatedDeals,
    NotesLastUpdatedAt,
    CreatedAt,
    UpdatedAt,
}

impl SortField for CompanyOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Name => "name",
            Self::Domain => "domain",
            Self::Industry => "industry",
            Self::Country => "country",
            Self::City => "city",
            Self::NumberOfEmployees => "numberofemployees",
            Self::AnnualRevenue => "annualrevenue",
            Self::LifecycleStage => "lifecyclestage",
            Self::TotalRevenue => "total_revenue",
            Self::NumAssociatedContacts => "num_associated_contacts",
            Self::NumAssociatedDeals => "num_associated_deals",
            Self::NotesLastUpdatedAt => "notes_last_updated_at",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}
