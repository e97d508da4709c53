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

/// A page of a list: `pageInfo`, `edges`, `nodes` and `totalCount`.
pub(crate) struct Connection<N> {
    pub has_previous: bool,
    pub has_next: bool,
    pub edges: Vec<Edge<N>>,
    pub total: TotalCount,
}

/// `pageInfo` of a page whose first and last rows have these cursors.
fn page_info(has_previous: bool, has_next: bool, first: Option<&Cursor>, last: Option<&Cursor>) -> PageInfo {
    PageInfo {
        has_previous_page: has_previous,
        has_next_page: has_next,
        start_cursor: first.map(Cursor::encode_cursor),
        end_cursor: last.map(Cursor::encode_cursor),
    }
}

#[Object(name_type, serial)]
impl<N: OutputType> Connection<N> {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        let (first, last) = (self.edges.first().map(|e| &e.cursor), self.edges.last().map(|e| &e.cursor));
        page_info(self.has_previous, self.has_next, first, last)
    }

    /// A list of edges.
    async fn edges(&self) -> &[Edge<N>] {
        &self.edges
    }

    /// A list of nodes.
    async fn nodes(&self) -> Vec<&N> {
        self.edges.iter().map(|edge| &edge.node).collect()
    }

    #[graphql(flatten)]
    async fn total(&self) -> &TotalCount {
        &self.total
    }
}

impl<N: OutputType> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
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

/// The records an association connection lists: those of `to_type` that `from_type`/`from_id` is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LinksFrom {
    pub from_type: &'static str,
    pub from_id: i64,
    pub to_type: &'static str,
}

/// A page of a record's associated records (`company { contacts }`): a connection whose edges also say how each
/// record is linked.
pub(crate) struct AssocConnection<N> {
    pub has_previous: bool,
    pub has_next: bool,
    pub edges: Vec<AssocEdge<N>>,
    pub total: TotalCount,
}

#[Object(name_type, serial)]
impl<N: OutputType> AssocConnection<N> {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        let (first, last) = (self.edges.first().map(|e| &e.cursor), self.edges.last().map(|e| &e.cursor));
        page_info(self.has_previous, self.has_next, first, last)
    }

    /// A list of edges, each with the association's labels.
    async fn edges(&self) -> &[AssocEdge<N>] {
        &self.edges
    }

    /// A list of nodes.
    async fn nodes(&self) -> Vec<&N> {
        self.edges.iter().map(|edge| &edge.node).collect()
    }

    #[graphql(flatten)]
    async fn total(&self) -> &TotalCount {
        &self.total
    }
}

impl<N: OutputType> TypeName for AssocConnection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}AssociationConnection", N::type_name()).into()
    }
}

/// One associated record, its cursor and how it is linked.
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
