use async_graphql::{Context, Enum, InputObject};
use chrono::{DateTime, Utc};
use entities::contact;
use sea_orm::sea_query::Condition;

use super::{
    associated,
    company::{Company, CompanyWhere},
    crm_object,
    deal::{Deal, DealWhere},
    owner::{Owner, load_owner},
    relation::{RelationFilter, Where, combine},
    ticket::{Ticket, TicketWhere},
};
use crate::{
    connection::{AssocConn, PageArgs},
    error::{GqlResult, IntoGql, Res},
    filter::{DateTimeFilter, IdFilter, IntFilter, StringFilter, TableRef, f, fields},
    order::SortField,
    relay::LinksFrom,
};

/// The columns only some of a contact's fields read (see `columns`).
pub(crate) const READ_BY: crate::columns::ReadBy = &[
    ("email", &["email", "fullName"]),
    ("firstname", &["firstName", "fullName"]),
    ("lastname", &["lastName", "fullName"]),
    ("phone", &["phone"]),
    ("company_name", &["companyName"]),
    ("jobtitle", &["jobTitle"]),
    ("country", &["country"]),
    ("city", &["city"]),
    ("lifecyclestage", &["lifecycleStage"]),
    ("lead_status", &["leadStatus"]),
    ("hubspotscore", &["hubspotScore"]),
    ("last_contacted_at", &["lastContactedAt"]),
    ("num_notes", &["numNotes"]),
    ("email_last_open_at", &["emailLastOpenAt"]),
    ("email_last_click_at", &["emailLastClickAt"]),
    ("search_text", &[]),
];

crm_object!(
    /// A person in the CRM.
    Contact(contact::Model), "Contact", {
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    async fn first_name(&self) -> Option<&str> {
        self.0.firstname.as_deref()
    }

    async fn last_name(&self) -> Option<&str> {
        self.0.lastname.as_deref()
    }

    /// First and last name, or the email when the contact has no name.
    async fn full_name(&self) -> Option<String> {
        let name = [self.0.firstname.as_deref(), self.0.lastname.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() { self.0.email.clone() } else { Some(name) }
    }

    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    /// The contact's `company` property (free text); the associated records are `companies`.
    async fn company_name(&self) -> Option<&str> {
        self.0.company_name.as_deref()
    }

    async fn job_title(&self) -> Option<&str> {
        self.0.jobtitle.as_deref()
    }

    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    /// HubSpot's `lifecyclestage` (`lead`, `customer`, …).
    async fn lifecycle_stage(&self) -> Option<&str> {
        self.0.lifecyclestage.as_deref()
    }

    /// HubSpot's `hs_lead_status`.
    async fn lead_status(&self) -> Option<&str> {
        self.0.lead_status.as_deref()
    }

    async fn hubspot_score(&self) -> Option<i32> {
        self.0.hubspotscore
    }

    async fn last_contacted_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_contacted_at
    }

    async fn num_notes(&self) -> Option<i32> {
        self.0.num_notes
    }

    /// The contact's own health score, kept for a contact linked to no company (a company's contacts count toward
    /// the company's score); null otherwise, or until first scored.
    async fn health_score(&self, ctx: &Context<'_>) -> GqlResult<Option<crate::health::HealthScore>> {
        crate::health::score_of(ctx, "contact", self.0.hubspot_id).await
    }

    /// What the insight rules found about the contact, kept like its health score for a contact linked to no
    /// company; newest first, only those of `status` when given.
    async fn insights(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::insights::InsightStatus>,
    ) -> GqlResult<Vec<crate::insights::Insight>> {
        crate::insights::insights_of(ctx, "contact", self.0.hubspot_id, status).await
    }

    async fn email_last_open_at(&self) -> Option<DateTime<Utc>> {
        self.0.email_last_open_at
    }

    async fn email_last_click_at(&self) -> Option<DateTime<Utc>> {
        self.0.email_last_click_at
    }

    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<Owner>> {
        load_owner(ctx, self.0.owner_id).await
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
        let from = LinksFrom { from_type: "contact", from_id: self.0.hubspot_id, to_type: "company" };
        let page = associated(ctx, from, label, |l| &l.companies, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Company)).gql()
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
        let from = LinksFrom { from_type: "contact", from_id: self.0.hubspot_id, to_type: "deal" };
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
        let from = LinksFrom { from_type: "contact", from_id: self.0.hubspot_id, to_type: "ticket" };
        let page = associated(ctx, from, label, |l| &l.tickets, args).await;
        page.map(|p| p.into_assoc_connection(from, |r| r.hubspot_id, Ticket)).gql()
    }
});

/// Which contacts a list returns; every field given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ContactWhere {
    pub hubspot_id: Option<IdFilter>,
    pub email: Option<StringFilter>,
    pub first_name: Option<StringFilter>,
    pub last_name: Option<StringFilter>,
    pub phone: Option<StringFilter>,
    pub company_name: Option<StringFilter>,
    pub job_title: Option<StringFilter>,
    pub country: Option<StringFilter>,
    pub city: Option<StringFilter>,
    pub lifecycle_stage: Option<StringFilter>,
    pub lead_status: Option<StringFilter>,
    pub hubspot_score: Option<IntFilter>,
    pub num_notes: Option<IntFilter>,
    pub owner_id: Option<IdFilter>,
    pub last_contacted_at: Option<DateTimeFilter>,
    pub email_last_open_at: Option<DateTimeFilter>,
    pub email_last_click_at: Option<DateTimeFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub updated_at: Option<DateTimeFilter>,
    /// Through the contact's associated companies.
    pub companies: Option<RelationFilter<CompanyWhere>>,
    pub deals: Option<RelationFilter<DealWhere>>,
    pub tickets: Option<RelationFilter<TicketWhere>>,
    /// On any property of the portal, custom ones included, each value read as its definition's type.
    pub properties: Option<Vec<crate::portal_properties::PropertyFilter>>,
    pub and: Option<Vec<ContactWhere>>,
    pub or: Option<Vec<ContactWhere>>,
    pub not: Option<Box<ContactWhere>>,
}

impl Where for ContactWhere {
    const TABLE: &'static str = "contacts";
    const KIND: &'static str = "contact";

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let mut own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("email", "email", f(&self.email)),
                ("firstName", "firstname", f(&self.first_name)),
                ("lastName", "lastname", f(&self.last_name)),
                ("phone", "phone", f(&self.phone)),
                ("companyName", "company_name", f(&self.company_name)),
                ("jobTitle", "jobtitle", f(&self.job_title)),
                ("country", "country", f(&self.country)),
                ("city", "city", f(&self.city)),
                ("lifecycleStage", "lifecyclestage", f(&self.lifecycle_stage)),
                ("leadStatus", "lead_status", f(&self.lead_status)),
                ("hubspotScore", "hubspotscore", f(&self.hubspot_score)),
                ("numNotes", "num_notes", f(&self.num_notes)),
                ("ownerId", "owner_id", f(&self.owner_id)),
                ("lastContactedAt", "last_contacted_at", f(&self.last_contacted_at)),
                ("emailLastOpenAt", "email_last_open_at", f(&self.email_last_open_at)),
                ("emailLastClickAt", "email_last_click_at", f(&self.email_last_click_at)),
                ("createdAt", "created_at", f(&self.created_at)),
                ("updatedAt", "updated_at", f(&self.updated_at)),
            ],
        )?;
        if let Some(r) = &self.companies {
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
pub enum ContactOrderField {
    HubspotId,
    Email,
    FirstName,
    LastName,
    CompanyName,
    Country,
    City,
    LifecycleStage,
    LeadStatus,
    HubspotScore,
    NumNotes,
    LastContactedAt,
    CreatedAt,
    UpdatedAt,
}

impl SortField for ContactOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Email => "email",
            Self::FirstName => "firstname",
            Self::LastName => "lastname",
            Self::CompanyName => "company_name",
            Self::Country => "country",
            Self::City => "city",
            Self::LifecycleStage => "lifecyclestage",
            Self::LeadStatus => "lead_status",
            Self::HubspotScore => "hubspotscore",
            Self::NumNotes => "num_notes",
            Self::LastContactedAt => "last_contacted_at",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}
