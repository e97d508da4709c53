//! Which columns of a mirror table a request reads. The rows a query level loads in bulk leave out the columns no
//! field of the request reads: decoding 500 contacts then skips 15 unread text and time columns each.
//!
//! What a request reads is every field name its document selects anywhere (all operations and fragments, on any
//! type). A row loaded this way lacks only columns no field of the request reads, so it is safe to share through the
//! request's DataLoader caches with rows loaded whole.

use std::collections::HashSet;

use async_graphql::{
    Context,
    parser::types::{Selection, SelectionSet},
};
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable, QuerySelect, Select, sea_query::Expr};

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

/// `find` selecting every column of `E`, with those of `read_by` that no `wanted` field reads as NULL (or `''` for a
/// column that may not be null), so the row still decodes into `E::Model`.
pub(crate) fn select_read<E: EntityTrait>(find: Select<E>, read_by: ReadBy, wanted: &Wanted) -> Select<E> {
    let mut find = find.select_only();
    for column in E::Column::iter() {
        let read =
            read_by.iter().find(|(name, _)| *name == column.as_str()).is_none_or(|(_, fields)| wanted.any(fields));
        find = if read {
            find.column(column)
        } else {
            let placeholder = if column.def().is_null() { "NULL" } else { "''" };
            find.column_as(Expr::cust(placeholder), column.as_str())
        };
    }
    find
}
