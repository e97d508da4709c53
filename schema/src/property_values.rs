//! Custom properties read from `property_values` (one indexed row per record and property, kept by triggers), so a
//! property filter is a range of the value index yielding record ids, and a property sort a key lookup: parsing each
//! record's JSON cost 300 ms a page at 100k contacts. HubSpot's own properties stay in `object_properties` alone.

use sea_orm::{
    DbBackend,
    sea_query::{Alias, Condition, Expr, ExprTrait, Query, SelectStatement, SimpleExpr, UnionType},
};

use crate::filter::TableRef;

/// Values longer than this (characters) have no `text_key`: the migration's limit, for Postgres' btree entries.
const KEY_CHARS: usize = 500;

/// A column of the value row (alias `v`).
pub(crate) fn col(column: &str) -> SimpleExpr {
    Expr::col((Alias::new("v"), Alias::new(column)))
}

/// Whether `text` has a `text_key` (it is the whole text then).
pub(crate) fn keyed(text: &str) -> bool {
    text.chars().count() <= KEY_CHARS
}

/// The value rows (alias `v`) of property `name` on `kind` records of `table`'s portal.
fn rows(table: &TableRef, kind: &str, name: &str) -> SelectStatement {
    Query::select()
        .column((Alias::new("v"), Alias::new("hubspot_id")))
        .from_as(Alias::new("property_values"), Alias::new("v"))
        .and_where(col("portal_id").eq(table.portal_id))
        .and_where(col("object_type").eq(kind))
        .and_where(col("name").eq(name))
        .to_owned()
}

/// What narrows a filter's value rows before its exact condition: conditions on `text_key` that the exact condition
/// implies for every keyed value, so the text index drives, and whether unkeyed (long) values may match too.
#[derive(Default)]
pub(crate) struct KeyBounds {
    pub conds: Vec<SimpleExpr>,
    /// An `eq` or `in` of keyed texts only: a long value cannot match.
    pub keyed_only: bool,
}

/// `table`'s `kind` records whose value of `name` satisfies `cond` (on `v`'s columns); `keyed` is the same condition
/// read on `text_key` (the whole text of a keyed value), `bounds` what it implies there.
pub(crate) fn holding(
    table: &TableRef,
    kind: &str,
    name: &str,
    keyed: Option<Condition>,
    cond: Condition,
    bounds: KeyBounds,
) -> SimpleExpr {
    match table.backend {
        DbBackend::Postgres => Expr::exists(correlated(table, kind, name, cond, bounds)),
        _ => table.col("hubspot_id").in_subquery(matching(table, kind, name, keyed, cond, bounds)),
    }
}

/// SQLite: the ids, as one list it builds once. Keyed values are read from the text index alone, narrowed by
/// `bounds` (30k row lookups for `text_value` cost 100 ms), and long ones apart (a range that is normally empty).
fn matching(
    table: &TableRef,
    kind: &str,
    name: &str,
    keyed: Option<Condition>,
    cond: Condition,
    bounds: KeyBounds,
) -> SelectStatement {
    let Some(keyed) = keyed else {
        return rows(table, kind, name).cond_where(cond).to_owned();
    };
    let bound = bounds.conds.into_iter().fold(Condition::all().add(col("text_key").is_not_null()), Condition::add);
    let mut select = rows(table, kind, name).cond_where(bound).cond_where(keyed).to_owned();
    if !bounds.keyed_only {
        let long = rows(table, kind, name).and_where(col("text_key").is_null()).cond_where(cond).to_owned();
        select.union(UnionType::All, long);
    }
    select
}

/// Postgres: the record's value row, as a semi-join. A list of ids (a union) was planned, once its statement was
/// prepared, as a nested loop comparing every pair of ids (30 s); the semi-join's worst plan is a key lookup per record.
fn correlated(table: &TableRef, kind: &str, name: &str, cond: Condition, bounds: KeyBounds) -> SelectStatement {
    let mut select = of_record(table, kind, name, Expr::val(1)).cond_where(cond).to_owned();
    if !bounds.conds.is_empty() {
        let bound = bounds.conds.into_iter().fold(Condition::all(), Condition::add);
        select.cond_where(if bounds.keyed_only {
            bound
        } else {
            Condition::any().add(bound).add(col("text_key").is_null())
        });
    }
    select
}

/// `table`'s record's value row of `name` (for `value`, a sort key): a primary key lookup.
pub(crate) fn of_record(table: &TableRef, kind: &str, name: &str, value: SimpleExpr) -> SelectStatement {
    Query::select()
        .expr(value)
        .from_as(Alias::new("property_values"), Alias::new("v"))
        .and_where(col("portal_id").eq(table.col("portal_id")))
        .and_where(col("object_type").eq(kind))
        .and_where(col("hubspot_id").eq(table.col("hubspot_id")))
        .and_where(col("name").eq(name))
        .to_owned()
}
