//! Who did what: the audit log's rows. A [`Trail`] follows each mutation root field and writes its row once the
//! outcome is known; the server writes its own acts (installs, disconnects, key changes) with [`write`], the one
//! way a row is written.
//!
//! Only ids and names are kept: callers' ids, HubSpot ids, argument and property names, HubSpot's categories and
//! correlation ids. Never keys, tokens, property values, nor HubSpot's messages (they quote the values sent).

use std::sync::{Mutex, MutexGuard};

use async_graphql::Context;
use chrono::Utc;
use entities::audit_log;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use crate::{ApiError, error::Res, scope::scope};

/// The act went through.
pub const OK: &str = "OK";
/// A batch of which some inputs were written and some not; `error` names the others.
pub const PARTIAL: &str = "PARTIAL";
/// The request ended (its timeout, or the client went away) before the outcome was known: HubSpot may or may not
/// have taken the write.
pub const CANCELLED: &str = "CANCELLED";

/// The most HubSpot ids a row keeps (a replay of every dead event may touch thousands); `target` says how many.
const MAX_IDS: usize = 100;
/// The most failed inputs of a batch a row names.
const MAX_LISTED: usize = 20;
/// The longest operation name kept: it is the client's text.
const MAX_OPERATION: usize = 200;

/// One act to record.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `key:{id}`, `jwt:{sub}`, `anonymous`, `cli`.
    pub caller: String,
    /// `None` for acts on the gateway as a whole.
    pub portal_id: Option<i64>,
    pub operation: String,
    pub field: String,
    /// `type:id` (`contact:123`).
    pub hubspot_ids: Vec<String>,
    /// What a gateway act was about when it is not a HubSpot record (`key {id}`).
    pub target: Option<String>,
    pub outcome: &'static str,
    pub category: Option<String>,
    pub correlation_id: Option<String>,
    pub error: Option<String>,
}

impl Entry {
    /// An act that went through: `field` names it, and is its operation until [`Entry::operation`] says otherwise.
    pub fn new(caller: impl Into<String>, portal_id: Option<i64>, field: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            caller: caller.into(),
            portal_id,
            operation: field.clone(),
            field,
            hubspot_ids: Vec::new(),
            target: None,
            outcome: OK,
            category: None,
            correlation_id: None,
            error: None,
        }
    }

    pub fn operation(self, name: &str) -> Self {
        Self { operation: name.chars().take(MAX_OPERATION).collect(), ..self }
    }

    pub fn target(self, target: impl Into<String>) -> Self {
        Self { target: Some(target.into()), ..self }
    }

    /// The act failed with `err`, as its caller was told.
    pub fn failed(self, err: &ApiError) -> Self {
        self.with(Failure::of(err))
    }

    fn with(self, failure: Failure) -> Self {
        Self {
            outcome: failure.outcome,
            category: failure.category,
            correlation_id: failure.correlation_id,
            error: Some(failure.error),
            ..self
        }
    }
}

/// Writes `entry`. A failure is logged, never returned: the act it records has already happened, and a HubSpot
/// write that went through must not be answered as an error because its row could not be written.
pub async fn write(db: &DatabaseConnection, entry: Entry) {
    let row = audit_log::ActiveModel {
        at: Set(Utc::now()),
        caller: Set(entry.caller.clone()),
        portal_id: Set(entry.portal_id),
        operation: Set(entry.operation.clone()),
        field: Set(entry.field.clone()),
        hubspot_ids: Set(serde_json::Value::from(entry.hubspot_ids.clone())),
        target: Set(entry.target.clone()),
        outcome: Set(entry.outcome.to_owned()),
        category: Set(entry.category.clone()),
        correlation_id: Set(entry.correlation_id.clone()),
        error: Set(entry.error.clone()),
        ..Default::default()
    };
    if let Err(err) = audit_log::Entity::insert(row).exec_without_returning(db).await {
        tracing::error!(
            error = %err,
            caller = %entry.caller,
            portal = ?entry.portal_id,
            operation = %entry.operation,
            outcome = entry.outcome,
            hubspot_ids = ?entry.hubspot_ids,
            "writing an audit row failed"
        );
    }
}

/// How an act failed, without the values sent.
struct Failure {
    outcome: &'static str,
    category: Option<String>,
    correlation_id: Option<String>,
    error: String,
}

impl Failure {
    fn of(err: &ApiError) -> Self {
        let (category, correlation_id) = match err {
            ApiError::Upstream(err) => (Some(err.category.clone()), err.correlation_id.clone()),
            _ => (None, None),
        };
        Self { outcome: err.code(), category, correlation_id, error: describe(err) }
    }
}

/// What went wrong, in words that hold no value the caller sent: an argument's name, HubSpot's status and
/// category. Bad-input messages and HubSpot's messages quote values, so neither is kept.
fn describe(err: &ApiError) -> String {
    match err {
        ApiError::InvalidArgument { argument, .. } => format!("invalid argument `{argument}`"),
        ApiError::Upstream(err) => match err.status {
            Some(status) => format!("HubSpot answered {status}: {}", err.category),
            None => format!("HubSpot did not answer: {}", err.category),
        },
        ApiError::LimitExceeded { message, .. } => message.clone(),
        ApiError::NoUpstream | ApiError::NoFeed | ApiError::Internal(_) => err.to_string(),
    }
}

/// The record of one mutation root field while it runs: who, where, which field, and the HubSpot ids it named or
/// made. [`Trail::finish`] writes the row once the outcome is known; a trail dropped before that (the request was
/// cut off mid-write) writes a `CANCELLED` row, so a write HubSpot may have taken never goes unrecorded.
pub(crate) struct Trail {
    db: DatabaseConnection,
    /// `None` once written.
    entry: Option<Entry>,
    /// What the field learns as it runs; the lock is never held across an await.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    touched: Vec<String>,
    target: Option<String>,
    /// How a batch's inputs fared, when some were not written.
    items: Option<Failure>,
}

impl Trail {
    /// A trail of the field `ctx` resolves, named by the request's operation name when the client gave one.
    pub(crate) fn start(ctx: &Context<'_>) -> Self {
        let scope = scope(ctx);
        let mut entry = Entry::new(scope.caller.clone(), Some(scope.portal_id), ctx.field().name());
        // async-graphql 7.2 keeps the operation's name (the request's `operationName`, or the name of the only
        // operation in the document) on the query environment; it has no other accessor.
        if let Some(name) = ctx.query_env.operation_name.as_deref() {
            entry = entry.operation(name);
        }
        Self { db: scope.db.clone(), entry: Some(entry), seen: Mutex::default() }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        // A panic elsewhere while the lock was held leaves nothing half-written worth refusing the row for.
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The act named or made HubSpot record `id` of `kind` (`contact`).
    pub(crate) fn touch(&self, kind: &str, id: impl std::fmt::Display) {
        let id = format!("{kind}:{id}");
        let touched = &mut self.seen().touched;
        if touched.len() < MAX_IDS && !touched.contains(&id) {
            touched.push(id);
        }
    }

    /// What the act was about besides HubSpot records.
    pub(crate) fn target(&self, target: impl Into<String>) {
        self.seen().target = Some(target.into());
    }

    /// A batch's outcomes, one per input: when some were not written, the row says which and why (by index), with
    /// the first HubSpot refusal's category and correlation id.
    pub(crate) fn items<T>(&self, outcomes: &[Result<T, ApiError>]) {
        let failed: Vec<(usize, &ApiError)> =
            outcomes.iter().enumerate().filter_map(|(n, outcome)| outcome.as_ref().err().map(|e| (n, e))).collect();
        let Some((_, first)) = failed.first() else { return };
        let written = outcomes.len() - failed.len();
        let upstream = failed.iter().find_map(|(_, err)| match err {
            ApiError::Upstream(err) => Some(err),
            _ => None,
        });
        let mut listed: Vec<String> =
            failed.iter().take(MAX_LISTED).map(|(n, err)| format!("[{n}] {}: {}", err.code(), describe(err))).collect();
        if failed.len() > MAX_LISTED {
            listed.push(format!("and {} more", failed.len() - MAX_LISTED));
        }
        self.seen().items = Some(Failure {
            outcome: if written > 0 { PARTIAL } else { first.code() },
            category: upstream.map(|err| err.category.clone()),
            correlation_id: upstream.and_then(|err| err.correlation_id.clone()),
            error: format!("{} of {} inputs not written: {}", failed.len(), outcomes.len(), listed.join("; ")),
        });
    }

    /// Writes the row of `result` and hands it back unchanged.
    pub(crate) async fn finish<T>(mut self, result: Res<T>) -> Res<T> {
        let Some((entry, batch)) = self.take() else { return result };
        let entry = match (&result, batch) {
            (Err(err), _) => entry.failed(err),
            (Ok(_), Some(batch)) => entry.with(batch),
            (Ok(_), None) => entry,
        };
        write(&self.db, entry).await;
        result
    }

    /// The entry with what was seen so far, and a batch's failures; once, for a trail writes one row.
    fn take(&mut self) -> Option<(Entry, Option<Failure>)> {
        let mut entry = self.entry.take()?;
        let seen = std::mem::take(&mut *self.seen());
        entry.hubspot_ids = seen.touched;
        entry.target = seen.target.or(entry.target);
        Some((entry, seen.items))
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        let Some((mut entry, _)) = self.take() else { return };
        entry.outcome = CANCELLED;
        entry.error = Some("the request ended before the outcome was known".to_owned());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let db = self.db.clone();
                runtime.spawn(async move { write(&db, entry).await });
            }
            Err(_) => tracing::error!(?entry, "no runtime to write the audit row of a cut-off mutation"),
        }
    }
}
