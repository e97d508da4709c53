//! Relay connections over the mirror with keyset pagination: a cursor holds the sort values of its row, so any
//! page costs what the first one costs.

use std::sync::Arc;

use async_graphql::{Object, OutputType, connection::CursorType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Alias, Condition, Expr, ExprTrait, NullOrdering, Order, Query, SelectStatement, SimpleExpr, Value},
};
use serde_json::Value as JsonValue;

use crate::{
    columns::Read,
    error::{ApiError, GqlResult, IntoGql, MAX_PAGE_SIZE, Res},
    loaders::column,
    order::SortKey,
};

/// `first`/`after`/`last`/`before` as the client sent them.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// How many rows, in which direction, after which cursor.
    fn window(&self) -> Res<(u64, bool, Option<&str>)> {
        let size = |n: i32, arg: &str| -> Res<u64> {
            if n < 0 || n as u64 > MAX_PAGE_SIZE {
                return Err(ApiError::invalid(arg, format!("must be between 0 and {MAX_PAGE_SIZE}, got {n}")));
            }
            Ok(n as u64)
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(ApiError::invalid("last", "give either `first` or `last`, not both")),
            (_, Some(n)) => {
                if self.after.is_some() {
                    return Err(ApiError::invalid("after", "`after` goes with `first`; use `before` with `last`"));
                }
                Ok((size(n, "last")?, true, self.before.as_deref()))
            }
            (first, None) => {
                if self.before.is_some() {
                    return Err(ApiError::invalid("before", "`before` goes with `last`; use `after` with `first`"));
                }
                Ok((size(first.unwrap_or(MAX_PAGE_SIZE as i32), "first")?, false, self.after.as_deref()))
            }
        }
    }
}

/// `totalCount`, counted only when a client asks for it.
pub struct TotalCount(Counted);

enum Counted {
    Known(usize),
    /// The statement selecting the matching rows (a constant each), counted when asked.
    Query {
        db: DatabaseConnection,
        rows: Box<SelectStatement>,
    },
}

#[Object]
impl TotalCount {
    /// How many rows match, across all pages. Counting reads every match; with `upTo` it stops at that many, and
    /// an answer of `upTo` means at least that many.
    async fn total_count(
        &self,
        #[graphql(desc = "Count at most this many rows (at least 1).")] up_to: Option<i32>,
    ) -> GqlResult<i64> {
        let up_to = match up_to {
            Some(n) if n < 1 => return Err(ApiError::invalid("upTo", "give at least 1")).gql(),
            up_to => up_to.map(|n| n as u64),
        };
        match &self.0 {
            Counted::Known(n) => Ok(up_to.map_or(*n as u64, |cap| Ord::min(cap, *n as u64)) as i64),
            Counted::Query { db, rows } => count(db, rows, up_to).await.gql(),
        }
    }
}

async fn count(db: &DatabaseConnection, rows: &SelectStatement, up_to: Option<u64>) -> Res<i64> {
    let mut rows = rows.clone();
    if let Some(cap) = up_to {
        rows.limit(cap);
    }
    let stmt = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(rows, Alias::new("matches"))
        .to_owned();
    let row = db.query_one(&stmt).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

pub(crate) type Conn<N> = crate::relay::Connection<crate::relay::Edge<N>>;
pub(crate) type AssocConn<N> = crate::relay::Connection<crate::relay::AssocEdge<N>>;

/// A row's position in its list: the list's sort signature and the row's sort values. Encoded only when a client
/// asks for it (most queries never read the cursors of nested lists).
pub(crate) struct Cursor {
    signature: Arc<str>,
    values: Vec<JsonValue>,
}

impl CursorType for Cursor {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| "not base64")?;
        let mut json: JsonValue = serde_json::from_slice(&bytes).map_err(|_| "not JSON")?;
        match (json["v"].take(), json["s"].as_str()) {
            (JsonValue::Array(values), Some(signature)) => Ok(Self { signature: signature.into(), values }),
            _ => Err("not a cursor"),
        }
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::json!({ "s": &*self.signature, "v": self.values }).to_string())
    }
}

/// One page of rows with their cursors.
pub(crate) struct Page<M> {
    rows: Vec<(Cursor, M)>,
    has_previous: bool,
    has_next: bool,
    total: TotalCount,
}

impl<M: Clone> Page<M> {
    /// The rows of the page, for prefetching what their fields need.
    pub fn models(&self) -> Vec<M> {
        self.rows.iter().map(|(_, row)| row.clone()).collect()
    }
}

impl<M> Page<M> {
    /// The page with `totalCount` counting the rows `rows` selects instead of the page's condition.
    pub(crate) fn counted_by(mut self, db: &DatabaseConnection, rows: SelectStatement) -> Self {
        self.total = TotalCount(Counted::Query { db: db.clone(), rows: Box::new(rows) });
        self
    }
}

impl<M> Page<M> {
    /// The page of a record's associated records (`from`), each edge naming its target's id for its labels.
    pub fn into_assoc_connection<N: OutputType>(
        self,
        from: crate::relay::LinksFrom,
        id: impl Fn(&M) -> i64,
        node: impl Fn(M) -> N,
    ) -> AssocConn<N> {
        let edges = self
            .rows
            .into_iter()
            .map(|(cursor, row)| crate::relay::AssocEdge { cursor, to_id: id(&row), node: node(row), from })
            .collect();
        crate::relay::Connection { has_previous: self.has_previous, has_next: self.has_next, edges, total: self.total }
    }

    pub fn into_connection<N: OutputType>(self, node: impl Fn(M) -> N) -> Conn<N> {
        let edges = self.rows.into_iter().map(|(cursor, row)| crate::relay::Edge { cursor, node: node(row) }).collect();
        crate::relay::Connection { has_previous: self.has_previous, has_next: self.has_next, edges, total: self.total }
    }
}

/// One sort key of a statement, in the direction the rows are read.
struct Key<C> {
    /// The column, when the key is one: its value is read from the row.
    column: Option<C>,
    expr: SimpleExpr,
    desc: bool,
    nulls_first: bool,
    nullable: bool,
    ty: ColumnType,
}

fn signature(keys: &[SortKey]) -> String {
    keys.iter().map(|k| format!("{}:{}", k.name(), if k.desc() { "desc" } else { "asc" })).collect::<Vec<_>>().join(",")
}

fn decode_cursor(cursor: &str, signature: &str, argument: &str) -> Res<Vec<JsonValue>> {
    let cursor = Cursor::decode_cursor(cursor).map_err(|_| ApiError::invalid(argument, "not a cursor of this list"))?;
    if &*cursor.signature != signature {
        return Err(ApiError::invalid(argument, "the cursor belongs to another `orderBy`"));
    }
    Ok(cursor.values)
}

fn to_json(value: Value) -> JsonValue {
    match value {
        Value::String(Some(s)) => s.into(),
        Value::BigInt(Some(i)) => i.into(),
        Value::Int(Some(i)) => i.into(),
        Value::Double(Some(f)) => f.into(),
        Value::Bool(Some(b)) => b.into(),
        Value::ChronoDateTimeUtc(Some(t)) => t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true).into(),
        _ => JsonValue::Null,
    }
}

/// A cursor value back as SQL: `Ok(None)` for null, `Err` when it does not fit the column.
fn from_json(json: &JsonValue, ty: &ColumnType) -> Result<Option<Value>, ()> {
    if json.is_null() {
        return Ok(None);
    }
    let value = match ty {
        // No stored text holds U+0000 (Postgres refuses it), so a cursor with one was not made here.
        ColumnType::String(_) | ColumnType::Text => {
            json.as_str().filter(|s| !s.contains('\0')).map(|s| Value::from(s.to_owned()))
        }
        ColumnType::BigInteger => json.as_i64().map(Value::from),
        ColumnType::Integer => json.as_i64().and_then(|i| i32::try_from(i).ok()).map(Value::from),
        ColumnType::Double => json.as_f64().map(Value::from),
        ColumnType::Boolean => json.as_bool().map(Value::from),
        ColumnType::TimestampWithTimeZone => {
            json.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| Value::from(t.with_timezone(&Utc)))
        }
        _ => None,
    };
    value.map(Some).ok_or(())
}

/// Rows strictly beyond the cursor in the read order: `OR_i (k_0 = v_0 AND … AND k_i beyond v_i)`.
fn beyond_cursor<C>(keys: &[Key<C>], values: &[Option<Value>]) -> Condition {
    let equal = |key: &Key<C>, value: &Option<Value>| -> SimpleExpr {
        match value {
            Some(v) => key.expr.clone().eq(v.clone()),
            None => key.expr.clone().is_null(),
        }
    };
    let past = |key: &Key<C>, value: &Option<Value>| -> Option<SimpleExpr> {
        match value {
            // Nulls come first or last; past a null there are only non-nulls, or nothing.
            None => key.nulls_first.then(|| key.expr.clone().is_not_null()),
            Some(v) => {
                let e = key.expr.clone();
                let greater = if key.desc { e.lt(v.clone()) } else { e.gt(v.clone()) };
                Some(if key.nullable && !key.nulls_first { greater.or(key.expr.clone().is_null()) } else { greater })
            }
        }
    };
    let mut any = Condition::any();
    let mut branches = 0;
    for i in 0..keys.len() {
        if let Some(last) = past(&keys[i], &values[i]) {
            let branch = (0..i).fold(Condition::all(), |c, j| c.add(equal(&keys[j], &values[j])));
            any = any.add(branch.add(last));
            branches += 1;
        }
    }
    if branches == 0 {
        return Condition::all().add(Expr::val(1).eq(0));
    }
    let mut cond = Condition::all().add(any);
    // A redundant bound on the first key lets the index seek straight to the cursor.
    if let (Some(v), Some(first)) = (&values[0], keys.first())
        && (!first.nullable || first.nulls_first)
    {
        let e = first.expr.clone();
        cond = cond.add(if first.desc { e.lte(v.clone()) } else { e.gte(v.clone()) });
    }
    cond
}

/// A page of `E` matching `filter`, sorted by `sort`, the last key unique; its rows read as `read` says.
pub(crate) async fn keyset_page<E: EntityTrait>(
    db: &DatabaseConnection,
    filter: Condition,
    sort: &[SortKey],
    args: &PageArgs,
    read: Read<E>,
) -> Res<Page<Arc<E::Model>>> {
    let (limit, backward, cursor) = args.window()?;
    let signature: Arc<str> = signature(sort).into();
    let keys: Vec<Key<E::Column>> = sort
        .iter()
        .map(|key| match key {
            SortKey::Column { name, desc } => {
                let column = column::<E>(name);
                let def = column.def();
                Key {
                    column: Some(column),
                    expr: sea_orm::IntoSimpleExpr::into_simple_expr(column),
                    desc: *desc != backward,
                    nulls_first: backward,
                    nullable: def.is_null(),
                    ty: def.get_column_type().clone(),
                }
            }
            SortKey::Expr { expr, numeric, desc, .. } => Key {
                column: None,
                expr: expr.clone(),
                desc: *desc != backward,
                nulls_first: backward,
                nullable: true,
                ty: if *numeric { ColumnType::Double } else { ColumnType::Text },
            },
        })
        .collect();

    let mut select = E::find().filter(filter.clone());
    if let Some(cursor) = cursor {
        let argument = if backward { "before" } else { "after" };
        let json = decode_cursor(cursor, &signature, argument)?;
        if json.len() != keys.len() {
            return Err(ApiError::invalid(argument, "not a cursor of this list"));
        }
        let values = json
            .iter()
            .zip(&keys)
            .map(|(v, key)| from_json(v, &key.ty))
            .collect::<Result<Vec<_>, ()>>()
            .map_err(|_| ApiError::invalid(argument, "not a cursor of this list"))?;
        select = select.filter(beyond_cursor(&keys, &values));
    }
    for key in &keys {
        let order = if key.desc { Order::Desc } else { Order::Asc };
        select = if key.nullable {
            let nulls = if key.nulls_first { NullOrdering::First } else { NullOrdering::Last };
            select.order_by_with_nulls(key.expr.clone(), order, nulls)
        } else {
            select.order_by(key.expr.clone(), order)
        };
    }
    let select = select.limit(limit + 1);
    let mut computed = std::collections::HashMap::new();
    let mut rows = match read {
        Read::Whole => select.all(db).await?,
        Read::Columns { mut columns, decode } => {
            // The cursors read the sort values.
            for column in keys.iter().filter_map(|k| k.column) {
                if columns.iter().all(|c| c.as_str() != column.as_str()) {
                    columns.push(column);
                }
            }
            let mut select = select.select_only().columns(columns.iter().copied());
            // The values of the keys that are no column come with the rows: read apart, the filter ran twice.
            for (i, key) in keys.iter().enumerate().filter(|(_, k)| k.column.is_none()) {
                select = select.expr_as(key.expr.clone(), format!("k{i}"));
            }
            let results = db.query_all(&select.into_query()).await?;
            let models = results.iter().map(|row| decode(row, &columns)).collect::<Result<Vec<_>, _>>()?;
            if keys.iter().any(|k| k.column.is_none()) {
                // Only CRM lists sort by a property, and their rows have a HubSpot id.
                let id = column::<E>("hubspot_id");
                for (row, model) in results.iter().zip(&models) {
                    computed_values(row, &keys, as_id(model.get(id)), &mut computed)?;
                }
            }
            models
        }
    };
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if backward {
        rows.reverse();
    }
    if computed.is_empty() {
        computed = computed_keys::<E>(db, &filter, &keys, &rows).await?;
    }
    let rows = rows
        .into_iter()
        .map(|row| {
            let values = keys
                .iter()
                .enumerate()
                .map(|(i, key)| match key.column {
                    Some(column) => to_json(row.get(column)),
                    None => computed.get(&(i, as_id(row.get(column::<E>("hubspot_id"))))).cloned().unwrap_or_default(),
                })
                .collect();
            (Cursor { signature: signature.clone(), values }, Arc::new(row))
        })
        .collect();
    let matching = E::find().filter(filter).select_only().column_as(Expr::cust("1"), "one").into_query();
    Ok(Page {
        rows,
        has_previous: if backward { more } else { cursor.is_some() },
        has_next: if backward { cursor.is_some() } else { more },
        total: TotalCount(Counted::Query { db: db.clone(), rows: Box::new(matching) }),
    })
}

/// A HubSpot id column's value.
fn as_id(value: Value) -> i64 {
    match value {
        Value::BigInt(Some(id)) => id,
        Value::Int(Some(id)) => id.into(),
        _ => 0,
    }
}

/// The values of the keys that are not columns (a property) for `rows`, by key index and HubSpot id: read in one
/// statement with the same expressions the sort used.
async fn computed_keys<E: EntityTrait>(
    db: &DatabaseConnection,
    filter: &Condition,
    keys: &[Key<E::Column>],
    rows: &[E::Model],
) -> Res<std::collections::HashMap<(usize, i64), JsonValue>> {
    let mut out = std::collections::HashMap::new();
    if rows.is_empty() || keys.iter().all(|k| k.column.is_some()) {
        return Ok(out);
    }
    let id = column::<E>("hubspot_id");
    let ids: Vec<Value> = rows.iter().map(|row| row.get(id)).collect();
    let mut select = E::find().filter(filter.clone()).filter(id.is_in(ids)).select_only().column(id);
    for (i, key) in keys.iter().enumerate().filter(|(_, k)| k.column.is_none()) {
        select = select.expr_as(key.expr.clone(), format!("k{i}"));
    }
    for row in db.query_all(&select.into_query()).await? {
        let hubspot_id: i64 = row.try_get("", id.as_str())?;
        computed_values(&row, keys, hubspot_id, &mut out)?;
    }
    Ok(out)
}

/// The values of the keys that are not columns in `row` (selected as `k{index}`), into `out` by key index and HubSpot
/// id.
fn computed_values<C>(
    row: &sea_orm::QueryResult,
    keys: &[Key<C>],
    hubspot_id: i64,
    out: &mut std::collections::HashMap<(usize, i64), JsonValue>,
) -> Result<(), sea_orm::DbErr> {
    for (i, key) in keys.iter().enumerate().filter(|(_, k)| k.column.is_none()) {
        let value = match key.ty {
            ColumnType::Double => row.try_get::<Option<f64>>("", &format!("k{i}"))?.into(),
            _ => row.try_get::<Option<String>>("", &format!("k{i}"))?.into(),
        };
        out.insert((i, hubspot_id), value);
    }
    Ok(())
}

/// A page of already loaded rows (an object's associations), ordered by HubSpot id.
pub(crate) fn id_page<M>(mut rows: Vec<(i64, M)>, args: &PageArgs) -> Res<Page<M>> {
    let (limit, backward, cursor) = args.window()?;
    let signature: Arc<str> = signature(&[("hubspot_id", false).into()]).into();
    let total = rows.len();
    rows.sort_by_key(|(id, _)| *id);
    let bound = match cursor {
        Some(cursor) => {
            let argument = if backward { "before" } else { "after" };
            let json = decode_cursor(cursor, &signature, argument)?;
            Some(
                json.first()
                    .and_then(JsonValue::as_i64)
                    .ok_or_else(|| ApiError::invalid(argument, "not a cursor of this list"))?,
            )
        }
        None => None,
    };
    let limit = limit as usize;
    let (rows, more) = if backward {
        let kept: Vec<_> = rows.into_iter().filter(|(id, _)| bound.is_none_or(|b| *id < b)).collect();
        let more = kept.len() > limit;
        let skip = kept.len().saturating_sub(limit);
        (kept.into_iter().skip(skip).collect::<Vec<_>>(), more)
    } else {
        let mut kept: Vec<_> = rows.into_iter().filter(|(id, _)| bound.is_none_or(|b| *id > b)).collect();
        let more = kept.len() > limit;
        kept.truncate(limit);
        (kept, more)
    };
    Ok(Page {
        rows: rows
            .into_iter()
            .map(|(id, row)| (Cursor { signature: signature.clone(), values: vec![id.into()] }, row))
            .collect(),
        has_previous: if backward { more } else { bound.is_some() },
        has_next: if backward { bound.is_some() } else { more },
        total: TotalCount(Counted::Known(total)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(n: i32) -> PageArgs {
        PageArgs { first: Some(n), ..Default::default() }
    }

    #[test]
    fn id_pages_walk_forward_and_back_without_gaps() {
        let rows: Vec<(i64, i64)> = (1..=7).rev().map(|i| (i * 10, i)).collect();
        let page = id_page(rows.clone(), &first(3)).unwrap();
        assert_eq!(page.rows.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(page.has_next && !page.has_previous);
        let after = PageArgs { after: Some(page.rows[2].0.encode_cursor()), ..first(3) };
        let next = id_page(rows.clone(), &after).unwrap();
        assert_eq!(next.rows.iter().map(|r| r.1).collect::<Vec<_>>(), [4, 5, 6]);
        let back = PageArgs { last: Some(2), before: Some(next.rows[0].0.encode_cursor()), ..Default::default() };
        let prev = id_page(rows, &back).unwrap();
        assert_eq!(prev.rows.iter().map(|r| r.1).collect::<Vec<_>>(), [2, 3]);
        assert!(prev.has_previous && prev.has_next);
    }

    #[test]
    fn page_sizes_over_the_cap_are_refused_naming_the_argument() {
        let err = id_page(Vec::<(i64, ())>::new(), &first(101)).err().unwrap();
        assert!(err.to_string().contains("`first`"), "{err}");
        let err = id_page(Vec::<(i64, ())>::new(), &PageArgs { last: Some(-1), ..Default::default() }).err().unwrap();
        assert!(err.to_string().contains("`last`"), "{err}");
    }

    #[test]
    fn a_cursor_of_another_order_is_refused() {
        let cursor =
            Cursor { signature: "email:asc,hubspot_id:asc".into(), values: vec!["a".into(), 1.into()] }.encode_cursor();
        let err = decode_cursor(&cursor, "hubspot_id:asc", "after").unwrap_err();
        assert!(err.to_string().contains("`after`"), "{err}");
        assert!(decode_cursor("%%%", "hubspot_id:asc", "after").is_err());
    }
}
