//! Filters through one association hop (`companies: {some: {industry: {eq: "SOFTWARE"}}}`), and the plumbing every
//! `where` input shares.

use async_graphql::{InputObject, InputType};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};

use crate::{
    error::{ApiError, Res},
    filter::{TableRef, balanced},
};

/// Association hops a filter may nest; deeper trees make statements no index can help.
const MAX_HOPS: usize = 3;

/// A `where` input of one object type.
pub(crate) trait Where: InputType {
    /// The mirror table.
    const TABLE: &'static str;
    /// The object type as associations name it (`contact`).
    const KIND: &'static str;
    /// The columns `search` looks in; `search_text` holds them lower-cased already.
    const SEARCH: &'static [&'static str] = &["search_text"];

    /// This filter as a condition on `table`, `hops` association hops below the list being filtered.
    fn condition(&self, table: &TableRef, hops: usize) -> Res<Condition>;
}

/// `and`, `or` and `not` around a filter's own fields.
pub(crate) fn combine<W: Where>(
    own: Condition,
    and: &Option<Vec<W>>,
    or: &Option<Vec<W>>,
    not: &Option<Box<W>>,
    table: &TableRef,
    hops: usize,
) -> Res<Condition> {
    // Up to 1,000 filters in one `and` or `or`: joined as balanced trees, not chains (see `balanced`).
    let mut parts = vec![own];
    for w in and.iter().flatten() {
        parts.push(w.condition(table, hops)?);
    }
    if let Some(or) = or {
        let any = or.iter().map(|w| w.condition(table, hops)).collect::<Res<Vec<_>>>()?;
        parts.push(balanced(any, true));
    }
    if let Some(not) = not {
        // `NOT COALESCE(…, FALSE)`, not bare `NOT`: a row whose column is null fails `eq` and must pass `not: {eq}`
        // (SQL's `NOT` of an unknown comparison would drop it from both).
        let matched = Func::coalesce([Expr::from(not.condition(table, hops)?), Expr::val(false)]);
        parts.push(Expr::from(matched).not().into());
    }
    Ok(balanced(parts, false))
}

/// Matches through the associations of a record.
#[derive(InputObject, Clone, Debug)]
#[graphql(
    concrete(name = "ContactRelationFilter", params(crate::objects::contact::ContactWhere)),
    concrete(name = "CompanyRelationFilter", params(crate::objects::company::CompanyWhere)),
    concrete(name = "DealRelationFilter", params(crate::objects::deal::DealWhere)),
    concrete(name = "TicketRelationFilter", params(crate::objects::ticket::TicketWhere))
)]
pub struct RelationFilter<W: InputType> {
    /// At least one associated record matches.
    pub some: Option<Box<W>>,
    /// No associated record matches; `{}` keeps records with no association of this type at all.
    pub none: Option<Box<W>>,
}

impl<W: Where> RelationFilter<W> {
    pub fn condition(&self, from: &TableRef, from_kind: &str, hops: usize) -> Res<Condition> {
        let mut cond = Condition::all();
        if let Some(w) = &self.some {
            cond = cond.add(from.col("hubspot_id").in_subquery(associated(from, from_kind, w.as_ref(), hops)?));
        }
        if let Some(w) = &self.none {
            cond = cond.add(from.col("hubspot_id").not_in_subquery(associated(from, from_kind, w.as_ref(), hops)?));
        }
        Ok(cond)
    }
}

/// The ids of `from_kind` records with an association to a live `W` record matching `w`:
/// `SELECT a.from_id FROM associations a JOIN <target> t … WHERE t matches`.
///
/// Uncorrelated on purpose: both SQLite and Postgres evaluate it once and probe it as a set, whatever their
/// statistics say, where a correlated `EXISTS` can turn into nested loops over every row.
fn associated<W: Where>(from: &TableRef, from_kind: &str, w: &W, hops: usize) -> Res<SelectStatement> {
    let hops = hops + 1;
    if hops > MAX_HOPS {
        return Err(ApiError::invalid("where", format!("filters may go through at most {MAX_HOPS} associations")));
    }
    let portal_id = from.portal_id;
    let a = from.named(format!("a{hops}"));
    let t = from.named(format!("t{hops}"));
    Ok(Query::select()
        .expr(a.col("from_id"))
        .from_as("associations", Alias::new(a.name.as_str()))
        .join_as(
            JoinType::InnerJoin,
            W::TABLE,
            Alias::new(t.name.as_str()),
            Condition::all().add(t.col("portal_id").eq(a.col("portal_id"))).add(t.col("hubspot_id").eq(a.col("to_id"))),
        )
        .and_where(a.col("portal_id").eq(portal_id))
        .and_where(a.col("from_type").eq(from_kind))
        .and_where(a.col("to_type").eq(W::KIND))
        .and_where(t.col("archived_at").is_null())
        .cond_where(w.condition(&t, hops)?)
        .to_owned())
}
