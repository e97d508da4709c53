//! `orderBy` inputs: a list of `{field, direction}` per type (CRM records: or `{property, direction}`, any property
//! of the portal); the HubSpot id breaks ties.

use async_graphql::{Enum, InputObject, InputType};
use sea_orm::sea_query::SimpleExpr;

use crate::{
    error::{ApiError, Res},
    filter::TableRef,
};

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

/// A sort key of a contact, company, deal or ticket list: one of its fields, or any property of the portal.
#[derive(InputObject, Clone, Debug)]
#[graphql(
    concrete(name = "ContactOrderBy", params(crate::objects::contact::ContactOrderField)),
    concrete(name = "CompanyOrderBy", params(crate::objects::company::CompanyOrderField)),
    concrete(name = "DealOrderBy", params(crate::objects::deal::DealOrderField)),
    concrete(name = "TicketOrderBy", params(crate::objects::ticket::TicketOrderField)),
    concrete(name = "CustomObjectOrderBy", params(crate::custom_objects::CustomObjectOrderField))
)]
pub struct CrmOrderBy<F: InputType> {
    /// A field of the record; give this or `property`.
    pub field: Option<F>,
    /// Any property of the portal, custom ones included, sorted as its type reads (numbers as numbers); records
    /// without a value come last.
    pub property: Option<String>,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// One key a list is read in order of.
#[derive(Clone, Debug)]
pub(crate) enum SortKey {
    /// A column of the list's table.
    Column { name: &'static str, desc: bool },
    /// A value read from each row's record (`expr`, a scalar subquery), named `name` in cursors; `numeric` when it
    /// compares as a number.
    Expr { name: String, expr: SimpleExpr, numeric: bool, desc: bool },
}

impl From<(&'static str, bool)> for SortKey {
    fn from((name, desc): (&'static str, bool)) -> Self {
        Self::Column { name, desc }
    }
}

impl SortKey {
    pub fn desc(&self) -> bool {
        match self {
            Self::Column { desc, .. } | Self::Expr { desc, .. } => *desc,
        }
    }

    /// How a cursor names the key.
    pub fn name(&self) -> &str {
        match self {
            Self::Column { name, .. } => name,
            Self::Expr { name, .. } => name,
        }
    }
}

/// The sort of a list: the requested keys, then the HubSpot id so that every row has one place.
pub(crate) fn sort_keys<F: SortField>(order_by: &[OrderBy<F>], default: (&'static str, bool)) -> Vec<SortKey> {
    let keys = order_by.iter().map(|o| (o.field.column(), o.direction == OrderDirection::Desc).into()).collect();
    with_tie_break(keys, default)
}

/// The sort of a CRM list: fields and properties (each read as the portal defines it), then the HubSpot id.
pub(crate) fn crm_sort_keys<F: SortField>(
    order_by: &[CrmOrderBy<F>],
    table: &TableRef,
    kind: &str,
) -> Res<Vec<SortKey>> {
    let mut keys = Vec::with_capacity(order_by.len() + 1);
    for (i, o) in order_by.iter().enumerate() {
        let desc = o.direction == OrderDirection::Desc;
        keys.push(match (o.field, &o.property) {
            (Some(field), None) => (field.column(), desc).into(),
            (None, Some(name)) => {
                let argument = format!("orderBy[{i}].property");
                let (expr, numeric) = crate::portal_properties::sort_value(table, kind, name, &argument)?;
                SortKey::Expr { name: format!("property.{name}"), expr, numeric, desc }
            }
            _ => return Err(ApiError::invalid(format!("orderBy[{i}]"), "give either `field` or `property`")),
        });
    }
    Ok(with_tie_break(keys, ("hubspot_id", false)))
}

fn with_tie_break(mut keys: Vec<SortKey>, default: (&'static str, bool)) -> Vec<SortKey> {
    if keys.is_empty() {
        keys.push(default.into());
    }
    if !keys.iter().any(|k| matches!(k, SortKey::Column { name: "hubspot_id", .. })) {
        keys.push(("hubspot_id", false).into());
    }
    keys
}
