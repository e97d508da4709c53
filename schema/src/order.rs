//! `orderBy` inputs: a list of `{field, direction}` per type; the HubSpot id breaks ties.

use async_graphql::{Enum, InputObject, InputType};

#[derive(Enum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// A sort field of one type; `column` is the mirror column it sorts on.
pub(crate) trait SortField: InputType + Copy {
    fn column(self) -> &'static str;
}

#[derive(InputObject, Clone, Debug)]
#[graphql(
    concrete(name = "ContactOrderBy", params(crate::objects::contact::ContactOrderField)),
    concrete(name = "CompanyOrderBy", params(crate::objects::company::CompanyOrderField)),
    concrete(name = "DealOrderBy", params(crate::objects::deal::DealOrderField)),
    concrete(name = "TicketOrderBy", params(crate::objects::ticket::TicketOrderField)),
    concrete(name = "OwnerOrderBy", params(crate::objects::owner::OwnerOrderField)),
    concrete(name = "CampaignOrderBy", params(crate::objects::campaign::CampaignOrderField)),
    concrete(name = "HealthScoreOrderBy", params(crate::health::HealthScoreOrderField)),
    concrete(name = "InsightOrderBy", params(crate::insights::InsightOrderField))
)]
pub struct OrderBy<F: InputType> {
    pub field: F,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// The sort of a list: the requested keys, then the HubSpot id so that every row has one place.
pub(crate) fn sort_keys<F: SortField>(
    order_by: &[OrderBy<F>],
    default: (&'static str, bool),
) -> Vec<(&'static str, bool)> {
    let mut keys: Vec<(&'static str, bool)> =
        order_by.iter().map(|o| (o.field.column(), o.direction == OrderDirection::Desc)).collect();
    if keys.is_empty() {
        keys.push(default);
    }
    if !keys.iter().any(|(column, _)| *column == "hubspot_id") {
        keys.push(("hubspot_id", false));
    }
    keys
}
