//! Who may call what: a caller's role, and the guard that fields and roots carry. Each role may do all that the
//! ones before it may.

use std::{fmt, str::FromStr};

use async_graphql::{Context, ErrorExtensions, Guard};

use crate::scope::scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Queries and subscriptions.
    Reader,
    /// Also mutations (writes to HubSpot).
    Writer,
    /// Also the webhook log's payloads and replays, the OAuth install and disconnect, key management and the
    /// audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Reader, Role::Writer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("a role is reader, writer or admin, got {text:?}"))
    }
}

/// Lets a field run for callers with at least this role; others get `FORBIDDEN` naming the role needed.
pub(crate) struct Needs(pub Role);

impl Guard for Needs {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let role = scope(ctx).role;
        if role >= self.0 {
            return Ok(());
        }
        let message = format!("this field needs the {} role; the caller is a {role}", self.0);
        Err(async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", "FORBIDDEN");
            e.set("role", self.0.as_str());
        }))
    }
}
