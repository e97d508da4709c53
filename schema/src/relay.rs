//! The Relay connection and edge types every list answers with (`ContactConnection`, `ContactEdge`, …).
//!
//! async-graphql has these types, but they resolve their fields concurrently and answer them in the order they
//! finish: `{ totalCount edges }` came back with `edges` first, since `totalCount` runs a count statement. These
//! resolve their fields one after the other (`serial`), in the order the query asks for them. Nothing is lost by it:
//! a connection's rows, and what their fields need, are loaded before it is built.

use std::borrow::Cow;

use async_graphql::{
    Object, OutputType, TypeName,
    connection::{CursorType, PageInfo},
};

use crate::connection::{Cursor, TotalCount};

/// What a connection needs of its edges: the node and the cursor, and what its type is called.
pub(crate) trait EdgeOf: OutputType {
    type Node: OutputType;
    /// Between the node's type name and `Connection`: empty for a list, `Association` for a record's associations.
    const KIND: &'static str;
    fn node(&self) -> &Self::Node;
    fn cursor(&self) -> &Cursor;
}

/// A page of a list: `pageInfo`, `edges`, `nodes` and `totalCount`.
pub(crate) struct Connection<E> {
    pub has_previous: bool,
    pub has_next: bool,
    pub edges: Vec<E>,
    pub total: TotalCount,
}

#[Object(name_type, serial)]
impl<E: EdgeOf> Connection<E> {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous,
            has_next_page: self.has_next,
            start_cursor: self.edges.first().map(|edge| edge.cursor().encode_cursor()),
            end_cursor: self.edges.last().map(|edge| edge.cursor().encode_cursor()),
        }
    }

    /// A list of edges.
    async fn edges(&self) -> &[E] {
        &self.edges
    }

    /// A list of nodes.
    async fn nodes(&self) -> Vec<&E::Node> {
        self.edges.iter().map(EdgeOf::node).collect()
    }

    #[graphql(flatten)]
    async fn total(&self) -> &TotalCount {
        &self.total
    }
}

impl<E: EdgeOf> TypeName for Connection<E> {
    fn type_name() -> Cow<'static, str> {
        format!("{}{}Connection", E::Node::type_name(), E::KIND).into()
    }
}

/// One row of a connection with its cursor.
pub(crate) struct Edge<N> {
    pub cursor: Cursor,
    pub node: N,
}

/// An edge in a connection.
#[Object(name_type, serial)]
impl<N: OutputType> Edge<N> {
    /// The item at the end of the edge
    async fn node(&self) -> &N {
        &self.node
    }

    /// A cursor for use in pagination
    async fn cursor(&self) -> String {
        self.cursor.encode_cursor()
    }
}

impl<N: OutputType> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

impl<N: OutputType> EdgeOf for Edge<N> {
    type Node = N;
    const KIND: &'static str = "";

    fn node(&self) -> &N {
        &self.node
    }

    fn cursor(&self) -> &Cursor {
        &self.cursor
    }
}

/// The records an association connection lists: those of `to_type` that `from_type`/`from_id` is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LinksFrom {
    pub from_type: &'static str,
    pub from_id: i64,
    pub to_type: &'static str,
}

/// One of a record's associated records (`company { contacts }`), its cursor and how it is linked.
pub(crate) struct AssocEdge<N> {
    pub cursor: Cursor,
    pub node: N,
    pub from: LinksFrom,
    pub to_id: i64,
}

#[Object(name_type, serial)]
impl<N: OutputType> AssocEdge<N> {
    /// The item at the end of the edge
    async fn node(&self) -> &N {
        &self.node
    }

    /// A cursor for use in pagination
    async fn cursor(&self) -> String {
        self.cursor.encode_cursor()
    }

    /// The association's labels as HubSpot reports them from this side: `Primary` for a primary link, and the
    /// portal's own labels (`Decision maker`); empty for an unlabeled link.
    async fn labels(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(crate::loaders::edge_labels(ctx, self.from, self.to_id).await?.0)
    }

    /// Whether this is the record's primary link of its kind (a contact's primary company, say).
    async fn is_primary(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<bool> {
        Ok(crate::loaders::edge_labels(ctx, self.from, self.to_id).await?.1)
    }
}

impl<N: OutputType> TypeName for AssocEdge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}AssociationEdge", N::type_name()).into()
    }
}

impl<N: OutputType> EdgeOf for AssocEdge<N> {
    type Node = N;
    const KIND: &'static str = "Association";

    fn node(&self) -> &N {
        &self.node
    }

    fn cursor(&self) -> &Cursor {
        &self.cursor
    }
}
