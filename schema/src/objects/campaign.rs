use async_graphql::{Enum, InputObject, Json, SimpleObject};
use chrono::{DateTime, Utc};
use entities::campaign;
use sea_orm::sea_query::Condition;

use super::{
    mirror_object,
    relation::{Where, combine},
};
use crate::{
    error::Res,
    filter::{DateTimeFilter, IntFilter, StringFilter, TableRef, f, fields},
    order::SortField,
};

mirror_object!(
    /// A marketing campaign with its email statistics.
    Campaign(campaign::Model), "Campaign", {
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn campaign_type(&self) -> Option<&str> {
        self.0.campaign_type.as_deref()
    }

    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    async fn stats(&self) -> EmailStats {
        EmailStats::of(&self.0)
    }

    async fn properties(&self, names: Option<Vec<String>>) -> Json<serde_json::Value> {
        crate::objects::pick_properties(&self.0.properties, names)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
});

/// Email statistics of a campaign; rates are shares of delivered (bounces: of sent), 0 to 1.
#[derive(SimpleObject, Clone, Debug)]
pub struct EmailStats {
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
    pub open_rate: f64,
    pub click_rate: f64,
    pub bounce_rate: f64,
}

pub(crate) fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

impl EmailStats {
    fn of(c: &campaign::Model) -> Self {
        Self {
            sent: c.sent,
            delivered: c.delivered,
            opened: c.opened,
            clicked: c.clicked,
            bounced: c.bounced,
            unsubscribed: c.unsubscribed,
            open_rate: ratio(c.opened, c.delivered),
            click_rate: ratio(c.clicked, c.delivered),
            bounce_rate: ratio(c.bounced, c.sent),
        }
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct CampaignWhere {
    pub hubspot_id: Option<StringFilter>,
    pub name: Option<StringFilter>,
    pub campaign_type: Option<StringFilter>,
    pub status: Option<StringFilter>,
    pub sent: Option<IntFilter>,
    pub opened: Option<IntFilter>,
    pub clicked: Option<IntFilter>,
    pub created_at: Option<DateTimeFilter>,
    pub and: Option<Vec<CampaignWhere>>,
    pub or: Option<Vec<CampaignWhere>>,
    pub not: Option<Box<CampaignWhere>>,
}

impl Where for CampaignWhere {
    const TABLE: &'static str = "campaigns";
    const KIND: &'static str = "campaign";
    const SEARCH: &'static [&'static str] = &["name"];

    fn condition(&self, t: &TableRef, hops: usize) -> Res<Condition> {
        let own = fields(
            t,
            &[
                ("hubspotId", "hubspot_id", f(&self.hubspot_id)),
                ("name", "name", f(&self.name)),
                ("campaignType", "campaign_type", f(&self.campaign_type)),
                ("status", "status", f(&self.status)),
                ("sent", "sent", f(&self.sent)),
                ("opened", "opened", f(&self.opened)),
                ("clicked", "clicked", f(&self.clicked)),
                ("createdAt", "created_at", f(&self.created_at)),
            ],
        )?;
        combine(own, &self.and, &self.or, &self.not, t, hops)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CampaignOrderField {
    HubspotId,
    Name,
    Sent,
    Opened,
    Clicked,
    CreatedAt,
}

impl SortField for CampaignOrderField {
    fn column(self) -> &'static str {
        match self {
            Self::HubspotId => "hubspot_id",
            Self::Name => "name",
            Self::Sent => "sent",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::CreatedAt => "created_at",
        }
    }
}
