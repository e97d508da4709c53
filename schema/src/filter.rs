//! Typed `where` inputs for scalar fields and their translation into SQL conditions.
//!
//! Every operator given in one filter must hold (AND). String `contains` and `startsWith` ignore case; `eq`, `in`
//! and the comparisons are exact.

use async_graphql::{ID, InputObject, InputType};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, LikeExpr, SimpleExpr, Value};

use crate::error::{ApiError, Res};

type DateTimeUtc = DateTime<Utc>;

/// A table (or alias) in the statement being built, and the portal its rows must belong to; filters name its
/// columns through it.
#[derive(Clone, Debug)]
pub(crate) struct TableRef {
    pub name: String,
    pub portal_id: i64,
    /// The SQL dialect: JSON properties are read differently on each backend.
    pub backend: sea_orm::DbBackend,
    /// The portal's property definitions, which `properties` filters read their values by; empty where none are
    /// filtered on.
    pub definitions: std::sync::Arc<crate::portal_properties::Definitions>,
}

impl TableRef {
    /// A table of the portal, with no property definitions at hand.
    pub fn new(name: impl Into<String>, portal_id: i64, backend: sea_orm::DbBackend) -> Self {
        Self { name: name.into(), portal_id, backend, definitions: Default::default() }
    }

    /// Another table (an alias) in the same statement.
    pub fn named(&self, name: impl Into<String>) -> Self {
        Self { name: name.into(), ..self.clone() }
    }

    pub fn col(&self, column: &str) -> SimpleExpr {
        Expr::col((Alias::new(self.name.as_str()), Alias::new(column)))
    }
}

/// Operators on an ordered scalar field.
#[derive(InputObject, Clone, Debug)]
#[graphql(
    concrete(name = "IntFilter", params(i32)),
    concrete(name = "FloatFilter", params(f64)),
    concrete(name = "DateTimeFilter", params(DateTimeUtc))
)]
pub struct OrdFilter<T: InputType> {
    pub eq: Option<T>,
    pub ne: Option<T>,
    #[graphql(name = "in")]
    pub in_: Option<Vec<T>>,
    pub not_in: Option<Vec<T>>,
    pub lt: Option<T>,
    pub lte: Option<T>,
    pub gt: Option<T>,
    pub gte: Option<T>,
    /// Two values, `[from, to]`, both included.
    pub between: Option<Vec<T>>,
    /// `true`: only rows without a value; `false`: only rows with one.
    pub is_null: Option<bool>,
}

/// Operators on a text field.
#[derive(InputObject, Clone, Debug, Default)]
pub struct StringFilter {
    pub eq: Option<String>,
    pub ne: Option<String>,
    #[graphql(name = "in")]
    pub in_: Option<Vec<String>>,
    pub not_in: Option<Vec<String>>,
    pub lt: Option<String>,
    pub lte: Option<String>,
    pub gt: Option<String>,
    pub gte: Option<String>,
    /// Two values, `[from, to]`, both included.
    pub between: Option<Vec<String>>,
    /// Substring match, ignoring case.
    pub contains: Option<String>,
    /// Prefix match, ignoring case.
    pub starts_with: Option<String>,
    pub is_null: Option<bool>,
}

/// Operators on a HubSpot id (a contact's owner, say).
#[derive(InputObject, Clone, Debug, Default)]
pub struct IdFilter {
    pub eq: Option<ID>,
    pub ne: Option<ID>,
    #[graphql(name = "in")]
    pub in_: Option<Vec<ID>>,
    pub not_in: Option<Vec<ID>>,
    pub is_null: Option<bool>,
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct BoolFilter {
    pub eq: Option<bool>,
    pub is_null: Option<bool>,
}

/// A filter on one column; `field` names the input field in errors.
pub(crate) trait ColumnFilter {
    fn condition(&self, col: SimpleExpr, field: &str) -> Res<Condition>;
}

fn null_check(col: &SimpleExpr, is_null: Option<bool>) -> Option<SimpleExpr> {
    is_null.map(|null| if null { col.clone().is_null() } else { col.clone().is_not_null() })
}

/// The comparisons every ordered type shares.
#[allow(clippy::too_many_arguments)]
fn compare<T: Clone + Into<Value>>(
    col: &SimpleExpr,
    eq: &Option<T>,
    ne: &Option<T>,
    in_: &Option<Vec<T>>,
    not_in: &Option<Vec<T>>,
    bounds: [&Option<T>; 4],
    between: &Option<Vec<T>>,
    field: &str,
) -> Res<Vec<SimpleExpr>> {
    let [lt, lte, gt, gte] = bounds;
    let mut out = Vec::new();
    if let Some(v) = eq {
        out.push(col.clone().eq(v.clone()));
    }
    if let Some(v) = ne {
        // HubSpot's NEQ keeps records without a value; SQL's `<>` alone would drop them.
        out.push(col.clone().ne(v.clone()).or(col.clone().is_null()));
    }
    if let Some(vs) = in_ {
        out.push(col.clone().is_in(vs.iter().cloned()));
    }
    if let Some(vs) = not_in {
        out.push(col.clone().is_not_in(vs.iter().cloned()).or(col.clone().is_null()));
    }
    if let Some(v) = lt {
        out.push(col.clone().lt(v.clone()));
    }
    if let Some(v) = lte {
        out.push(col.clone().lte(v.clone()));
    }
    if let Some(v) = gt {
        out.push(col.clone().gt(v.clone()));
    }
    if let Some(v) = gte {
        out.push(col.clone().gte(v.clone()));
    }
    match between.as_deref() {
        None => {}
        Some([from, to]) => out.push(col.clone().between(from.clone(), to.clone())),
        Some(_) => return Err(ApiError::invalid(field, "`between` takes two values: [from, to]")),
    }
    Ok(out)
}

fn all(parts: Vec<SimpleExpr>) -> Condition {
    parts.into_iter().fold(Condition::all(), |c, e| c.add(e))
}

/// `parts` joined by AND (by OR when `any`) as a balanced tree of pairs. sea-query renders a condition of n parts as
/// a chain of n binary expressions, recursing once per link, and SQLite refuses expressions over 1,000 levels: a
/// caller's `or` of 500 filters overflowed a 2 MiB stack (a debug build; nested wide lists do it in release), one of
/// 1,000 was an internal error. Pairs make it log2(n) levels.
pub(crate) fn balanced(mut parts: Vec<Condition>, any: bool) -> Condition {
    let join = |pair: Vec<Condition>| {
        pair.into_iter().fold(if any { Condition::any() } else { Condition::all() }, |c, part| c.add(part))
    };
    while parts.len() > 2 {
        let mut next = Vec::with_capacity(parts.len().div_ceil(2));
        let mut rest = parts.into_iter();
        while let Some(first) = rest.next() {
            next.push(join(std::iter::once(first).chain(rest.next()).collect()));
        }
        parts = next;
    }
    join(parts)
}

impl<T: InputType + Clone + Into<Value>> ColumnFilter for OrdFilter<T> {
    fn condition(&self, col: SimpleExpr, field: &str) -> Res<Condition> {
        let bounds = [&self.lt, &self.lte, &self.gt, &self.gte];
        let mut parts = compare(&col, &self.eq, &self.ne, &self.in_, &self.not_in, bounds, &self.between, field)?;
        parts.extend(null_check(&col, self.is_null));
        Ok(all(parts))
    }
}

/// `%` and `_` typed by a user are literal characters, not wildcards.
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(crate) fn like(col: SimpleExpr, pattern: String) -> SimpleExpr {
    col.like(LikeExpr::new(pattern).escape('\\'))
}

/// The longest `contains` or `startsWith`: SQLite refuses LIKE patterns over 50,000 bytes, and a pattern's text is
/// at most 4 bytes a character, doubled by escaping.
const MAX_PATTERN_CHARS: usize = 1_000;

/// Refuses text no record can hold: Postgres stores no U+0000 (it failed the whole statement), and SQLite's full-text
/// queries end at one.
pub(crate) fn no_nul<'a>(texts: impl IntoIterator<Item = &'a str>, argument: &str) -> Res<()> {
    if texts.into_iter().any(|text| text.contains('\0')) {
        return Err(ApiError::invalid(argument, "text may not contain U+0000"));
    }
    Ok(())
}

impl StringFilter {
    fn texts(&self) -> impl Iterator<Item = &str> {
        let one = [&self.eq, &self.ne, &self.lt, &self.lte, &self.gt, &self.gte, &self.contains, &self.starts_with];
        let many = [&self.in_, &self.not_in, &self.between];
        one.into_iter().flatten().chain(many.into_iter().flatten().flatten()).map(String::as_str)
    }
}

impl ColumnFilter for StringFilter {
    fn condition(&self, col: SimpleExpr, field: &str) -> Res<Condition> {
        no_nul(self.texts(), field)?;
        for (name, text) in [("contains", &self.contains), ("startsWith", &self.starts_with)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > MAX_PATTERN_CHARS) {
                return Err(ApiError::invalid(
                    format!("{field}.{name}"),
                    format!("at most {MAX_PATTERN_CHARS} characters"),
                ));
            }
        }
        let bounds = [&self.lt, &self.lte, &self.gt, &self.gte];
        let mut parts = compare(&col, &self.eq, &self.ne, &self.in_, &self.not_in, bounds, &self.between, field)?;
        let lower = || SimpleExpr::from(Func::lower(col.clone()));
        if let Some(text) = &self.contains {
            parts.push(like(lower(), format!("%{}%", like_escape(&text.to_lowercase()))));
        }
        if let Some(text) = &self.starts_with {
            parts.push(like(lower(), format!("{}%", like_escape(&text.to_lowercase()))));
        }
        parts.extend(null_check(&col, self.is_null));
        Ok(all(parts))
    }
}

fn parse_ids(ids: &[ID], field: &str) -> Res<Vec<i64>> {
    ids.iter()
        .map(|id| {
            id.parse::<i64>().map_err(|_| ApiError::invalid(field, format!("`{}` is not a HubSpot id", id.as_str())))
        })
        .collect()
}

impl ColumnFilter for IdFilter {
    fn condition(&self, col: SimpleExpr, field: &str) -> Res<Condition> {
        let one = |id: &Option<ID>| -> Res<Option<i64>> {
            id.as_ref().map(|id| parse_ids(std::slice::from_ref(id), field).map(|v| v[0])).transpose()
        };
        let many = |ids: &Option<Vec<ID>>| ids.as_deref().map(|ids| parse_ids(ids, field)).transpose();
        let (eq, ne, in_, not_in) = (one(&self.eq)?, one(&self.ne)?, many(&self.in_)?, many(&self.not_in)?);
        let mut parts = compare(&col, &eq, &ne, &in_, &not_in, [&None; 4], &None, field)?;
        parts.extend(null_check(&col, self.is_null));
        Ok(all(parts))
    }
}

impl ColumnFilter for BoolFilter {
    fn condition(&self, col: SimpleExpr, _field: &str) -> Res<Condition> {
        let mut parts: Vec<SimpleExpr> = self.eq.iter().map(|v| col.clone().eq(*v)).collect();
        parts.extend(null_check(&col, self.is_null));
        Ok(all(parts))
    }
}

/// A field's filter, if the client gave one.
pub(crate) fn f<T: ColumnFilter>(filter: &Option<T>) -> Option<&dyn ColumnFilter> {
    filter.as_ref().map(|f| f as &dyn ColumnFilter)
}

/// Adds each given field filter on `table`'s columns to one AND condition.
pub(crate) fn fields(table: &TableRef, filters: &[(&str, &str, Option<&dyn ColumnFilter>)]) -> Res<Condition> {
    let mut cond = Condition::all();
    for (field, column, filter) in filters {
        if let Some(filter) = filter {
            cond = cond.add(filter.condition(table.col(column), &format!("where.{field}"))?);
        }
    }
    Ok(cond)
}

pub type IntFilter = OrdFilter<i32>;
pub type FloatFilter = OrdFilter<f64>;
pub type DateTimeFilter = OrdFilter<DateTime<Utc>>;
