//! Which columns of a mirror table a request reads. The rows a query level loads in bulk leave out the columns no
//! field of the request reads: contacts asked for their name and email cost 11 columns each to send and decode, not
//! 25.
//!
//! What a request reads is every field name its document selects anywhere (its operation and every fragment, on
//! any type). A row loaded this way lacks only columns no field of the request reads, so it is safe to share through
//! the request's DataLoader caches with rows loaded whole.

use std::collections::HashSet;

use async_graphql::{
    Context,
    parser::types::{Selection, SelectionSet},
};
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, EntityTrait, IdenStatic, Iterable, ModelTrait, QueryResult, sea_query::Value};

/// A table's columns that only some fields read: `(column, the GraphQL fields that read it)`. Columns not listed are
/// always loaded; a column listed with no fields (`search_text`) is never read by a field.
pub(crate) type ReadBy = &'static [(&'static str, &'static [&'static str])];

/// The field names a request's document selects.
pub(crate) struct Wanted(HashSet<String>);

impl Wanted {
    pub(crate) fn of(ctx: &Context<'_>) -> Self {
        let mut names = HashSet::new();
        collect(&ctx.query_env.operation.node.selection_set.node, &mut names);
        for fragment in ctx.query_env.fragments.values() {
            collect(&fragment.node.selection_set.node, &mut names);
        }
        Self(names)
    }

    fn any(&self, fields: &[&str]) -> bool {
        fields.iter().any(|f| self.0.contains(*f))
    }
}

fn collect(set: &SelectionSet, names: &mut HashSet<String>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                names.insert(field.node.name.node.to_string());
                collect(&field.node.selection_set.node, names);
            }
            Selection::InlineFragment(fragment) => collect(&fragment.node.selection_set.node, names),
            // Every fragment of the document is walked on its own.
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// The columns every mirrored CRM row has (see `crm_object!`) that only some fields read. Nothing but fields reads
/// them from rows loaded this way: a hop loads live rows only, and mutations read their records straight from the
/// database.
const SHARED: ReadBy = &[
    ("owner_id", &["owner"]),
    ("created_at", &["createdAt"]),
    ("updated_at", &["updatedAt", "_meta"]),
    ("archived_at", &["archivedAt"]),
    ("merged_into", &["mergedInto"]),
    ("synced_at", &["syncedAt", "_meta"]),
];

/// The columns of `E` a request reads: those neither `read_by` nor `SHARED` lists, and those they list for a
/// `wanted` field.
pub(crate) fn read_columns<E: EntityTrait>(read_by: ReadBy, wanted: &Wanted) -> Vec<E::Column> {
    E::Column::iter()
        .filter(|column| {
            let name = column.as_str();
            read_by.iter().chain(SHARED).find(|(n, _)| *n == name).is_none_or(|(_, fields)| wanted.any(fields))
        })
        .collect()
}

/// Decodes a row of the given columns, in their order.
pub(crate) type Decode<E> = fn(&QueryResult, &[<E as EntityTrait>::Column]) -> Result<<E as EntityTrait>::Model, DbErr>;

/// How a list reads its rows: whole (sea-orm's decoding, by name), or only some columns, decoded by position.
pub(crate) enum Read<E: EntityTrait> {
    Whole,
    Columns { columns: Vec<E::Column>, decode: Decode<E> },
}

impl<E: EntityTrait> Read<E>
where
    E::Model: crate::prefetch::Row + Default,
{
    /// The columns of a CRM row the request reads (see `read_columns`).
    pub(crate) fn wanted(wanted: &Wanted) -> Self {
        let columns = read_columns::<E>(<E::Model as crate::prefetch::Row>::READ_BY, wanted);
        Self::Columns { columns, decode: decode::<E::Model> }
    }
}

/// A model from `columns`, selected in this order from the start of `row`; its other fields keep their defaults.
/// By position and straight into each field's type: sea-orm's own decoding finds every column by name and formats
/// an error message for every NULL, which cost as much as the values themselves.
pub(crate) fn decode<M: ModelTrait + Default>(
    row: &QueryResult,
    columns: &[<M::Entity as EntityTrait>::Column],
) -> Result<M, DbErr> {
    let mut model = M::default();
    for (index, &column) in columns.iter().enumerate() {
        // The default's variant names the field's type.
        let value: Value = match model.get(column) {
            Value::BigInt(_) => row.try_get_by_index::<Option<i64>>(index)?.into(),
            Value::Int(_) => row.try_get_by_index::<Option<i32>>(index)?.into(),
            Value::Double(_) => row.try_get_by_index::<Option<f64>>(index)?.into(),
            Value::Bool(_) => row.try_get_by_index::<Option<bool>>(index)?.into(),
            Value::String(_) => row.try_get_by_index::<Option<String>>(index)?.into(),
            Value::ChronoDateTimeUtc(_) => row.try_get_by_index::<Option<DateTime<Utc>>>(index)?.into(),
            other => return Err(DbErr::Type(format!("no partial decoding of {} ({other:?})", column.as_str()))),
        };
        model.try_set(column, value)?;
    }
    Ok(model)
}
