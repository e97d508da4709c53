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

#[Object(name_type, serial)]
impl<N: OutputType> Connection<N> {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous,
            has_next_page: self.has_next,
            start_cursor: self.edges.first().map(|edge| edge.cursor.encode_cursor()),
            end_cursor: self.edges.last().map(|edge| edge.cursor.encode_cursor()),
        }
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
