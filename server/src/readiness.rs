//! Whether this replica should be sent traffic (`/readyz`): it is not stopping, its database answers with every
//! migration applied, its Redis (when configured) answers, the webhook log is applied fast enough, and (with
//! `READY_SYNC_ERRORS=fail`) no portal's sync is failing. Each check says what is wrong, so an operator reading the
//! probe's body needs no log to know why a replica was drained.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use entities::{sync_state, webhook_event, webhook_queue};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::{Map, Value, json};

use crate::shared_redis::SharedRedis;

/// How long Redis has to answer a PING.
const REDIS_DEADLINE: Duration = Duration::from_secs(1);

/// What `/readyz` tolerates (`READY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Events waiting to be applied; 0: not checked.
    pub max_webhook_backlog: u64,
    /// Seconds since the oldest waiting event was received; 0: not checked.
    pub max_webhook_lag_secs: u64,
    /// Whether a failing portal sync makes the replica not ready (else it is only reported).
    pub sync_errors_fail: bool,
}

impl Thresholds {
    pub const DEFAULT: Self = Self { max_webhook_backlog: 10_000, max_webhook_lag_secs: 300, sync_errors_fail: false };
}

impl Default for Thresholds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the checks need besides the database.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    pub thresholds: Thresholds,
    pub redis: Option<SharedRedis>,
    /// The webhook backlog as last read, shared with `/metrics`.
    pub backlog: BacklogReading,
}

/// The checks' outcome: `ready` when none failed; `checks` holds each one's findings, `failing` the names of those
/// that failed.
#[derive(Debug)]
pub struct Report {
    pub ready: bool,
    pub body: Value,
}

/// One check: whether it passed, and what it found.
struct Check {
    ok: bool,
    found: Value,
}

impl Check {
    fn passed(found: Value) -> Self {
        Self { ok: true, found }
    }

    fn failed(found: Value) -> Self {
        Self { ok: false, found }
    }
}

impl Readiness {
    /// Runs every check against `db`; `stopping` when this replica has begun a stop.
    pub async fn check(&self, db: &DatabaseConnection, stopping: bool) -> Report {
        let mut checks: Vec<(&str, Check)> = Vec::new();
        checks.push((
            "stopping",
            if stopping {
                Check::failed(json!({ "error": "this replica is stopping" }))
            } else {
                Check::passed(json!({}))
            },
        ));
        let redis = self.redis();
        match db.ping().await {
            Ok(()) => {
                checks.push(("database", Check::passed(json!({}))));
                let (migrations, webhooks, sync) = tokio::join!(migrations(db), self.webhooks(db), self.sync(db));
                checks.push(("migrations", migrations));
                checks.push(("webhooks", webhooks));
                checks.push(("sync", sync));
            }
            Err(err) => {
                // The text stays in our log: the probe's body is public.
                tracing::warn!(error = %err, "readiness: the database does not answer");
                checks.push(("database", Check::failed(json!({ "error": "the database does not answer" }))));
            }
        }
        checks.push(("redis", redis.await));
        let failing: Vec<&str> = checks.iter().filter(|(_, c)| !c.ok).map(|(name, _)| *name).collect();
        let ready = failing.is_empty();
        let mut found = Map::new();
        for (name, check) in checks {
            let mut entry = match check.found {
                Value::Object(entry) => entry,
                other => Map::from_iter([("value".to_owned(), other)]),
            };
            entry.insert("ok".to_owned(), Value::Bool(check.ok));
            found.insert(name.to_owned(), Value::Object(entry));
        }
        let status = if ready { "ready" } else { "not ready" };
        Report { ready, body: json!({ "status": status, "failing": failing, "checks": found }) }
    }

    async fn redis(&self) -> Check {
        let Some(redis) = &self.redis else { return Check::passed(json!({ "configured": false })) };
        let mut conn = redis.conn();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut conn);
        match tokio::time::timeout(REDIS_DEADLINE, ping).await {
            Ok(Ok(_)) => Check::passed(json!({ "configured": true })),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "readiness: Redis does not answer");
                Check::failed(json!({ "configured": true, "error": "Redis does not answer" }))
            }
            Err(_) => Check::failed(json!({ "configured": true, "error": "Redis did not answer within 1 s" })),
        }
    }

    async fn webhooks(&self, db: &DatabaseConnection) -> Check {
        let Thresholds { max_webhook_backlog, max_webhook_lag_secs, .. } = self.thresholds;
        let backlog = match self.backlog.read(db).await {
            Ok(backlog) => backlog,
            Err(err) => return unreadable("the webhook log", &err),
        };
        let mut found = json!({
            "backlog": backlog.events,
            "lagSeconds": backlog.lag_secs,
            "maxBacklog": max_webhook_backlog,
            "maxLagSeconds": max_webhook_lag_secs,
        });
        let mut errors = Vec::new();
        if max_webhook_backlog > 0 && backlog.events > max_webhook_backlog {
            errors.push(format!(
                "{} events wait to be applied, over READY_MAX_WEBHOOK_BACKLOG ({max_webhook_backlog})",
                backlog.events
            ));
        }
        if max_webhook_lag_secs > 0 && backlog.lag_secs > max_webhook_lag_secs {
            errors.push(format!(
                "the oldest waiting event was received {} s ago, over READY_MAX_WEBHOOK_LAG_SECS ({max_webhook_lag_secs})",
                backlog.lag_secs
            ));
        }
        if errors.is_empty() {
            return Check::passed(found);
        }
        found["error"] = Value::String(errors.join("; "));
        Check::failed(found)
    }

    /// Portals and kinds whose last sync attempt failed; their errors are in `syncStatus`, not this public body.
    async fn sync(&self, db: &DatabaseConnection) -> Check {
        let failing = sync_state::Entity::find()
            .filter(sync_state::Column::LastError.is_not_null())
            .order_by_asc(sync_state::Column::PortalId)
            .order_by_asc(sync_state::Column::ObjectType)
            .all(db)
            .await;
        let failing = match failing {
            Ok(rows) => rows,
            Err(err) => return unreadable("the sync state", &err),
        };
        let listed: Vec<Value> =
            failing.iter().map(|row| json!({ "portal": row.portal_id, "kind": row.object_type })).collect();
        let found = json!({ "failing": listed });
        if listed.is_empty() || !self.thresholds.sync_errors_fail {
            Check::passed(found)
        } else {
            let mut found = found;
            found["error"] = Value::String("a portal's sync is failing (see syncStatus)".to_owned());
            Check::failed(found)
        }
    }
}

fn unreadable(what: &str, err: &DbErr) -> Check {
    tracing::warn!(error = %err, "readiness: reading {what}");
    Check::failed(json!({ "error": format!("{what} could not be read") }))
}

/// The migrations this binary knows that the database has not applied. One applied by a newer replica that this
/// one does not know is no reason to drain it (a rolling upgrade runs both).
async fn migrations(db: &DatabaseConnection) -> Check {
    let select = Statement::from_string(db.get_database_backend(), "SELECT version FROM seaql_migrations");
    let applied: HashSet<String> = match db.query_all_raw(select).await {
        Ok(rows) => rows.iter().filter_map(|row| row.try_get::<String>("", "version").ok()).collect(),
        Err(err) => return unreadable("the applied migrations", &err),
    };
    let pending: Vec<String> =
        Migrator::migrations().iter().map(|m| m.name().to_owned()).filter(|name| !applied.contains(name)).collect();
    if pending.is_empty() {
        return Check::passed(json!({ "pending": 0 }));
    }
    Check::failed(json!({ "pending": pending.len(), "names": pending, "error": "migrations are pending" }))
}

/// The events waiting to be applied, and how long ago the oldest was received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub events: u64,
    pub lag_secs: u64,
}

/// How long a reading of the backlog stands. Counting the work list scans it (about 20 ms of Postgres with 100,000
/// events waiting), and probes and scrapes come from every replica, often several a second; read at most once a
/// second, the backlog and its age are at most a second old.
pub const BACKLOG_EVERY: Duration = Duration::from_secs(1);

/// The last reading of the backlog and when it was taken; one reads at a time, the others wait for its result.
#[derive(Clone, Debug, Default)]
pub struct BacklogReading(Arc<tokio::sync::Mutex<Option<(Instant, Backlog)>>>);

impl BacklogReading {
    /// The backlog, read from `db` unless the last reading is younger than [`BACKLOG_EVERY`].
    pub async fn read(&self, db: &DatabaseConnection) -> Result<Backlog, DbErr> {
        self.read_within(db, BACKLOG_EVERY).await
    }

    async fn read_within(&self, db: &DatabaseConnection, max_age: Duration) -> Result<Backlog, DbErr> {
        let mut last = self.0.lock().await;
        if let Some((at, backlog)) = *last
            && at.elapsed() < max_age
        {
            return Ok(backlog);
        }
        let backlog = webhook_backlog(db).await?;
        *last = Some((Instant::now(), backlog));
        Ok(backlog)
    }
}

/// The appliers' work list: its length, and the age of its oldest event (ids grow with receipt).
async fn webhook_backlog(db: &DatabaseConnection) -> Result<Backlog, DbErr> {
    let events = webhook_queue::Entity::find().count(db).await?;
    let oldest: Option<i64> = webhook_queue::Entity::find()
        .select_only()
        .column_as(webhook_queue::Column::Id.min(), "oldest")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let lag_secs = match oldest {
        Some(id) => webhook_event::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or(0, |event| (Utc::now() - event.received_at).num_seconds().max(0) as u64),
        None => 0,
    };
    Ok(Backlog { events, lag_secs })
}

#[cfg(test)]
mod tests {
    use entities::webhook_queue;
    use sea_orm::{ActiveValue::Set, EntityTrait};

    use super::*;

    #[tokio::test]
    async fn the_backlog_is_counted_once_a_reading_is_too_old() {
        let dir = std::env::temp_dir().join(format!("gateway-backlog-{}", std::process::id()));
        let url = format!("sqlite://{}/mirror.db?mode=rwc", dir.display());
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::db::connect_and_migrate_sized(&url, 2, crate::db::Serves::Requests).await.unwrap();
        let reading = BacklogReading::default();
        assert_eq!(reading.read(&db).await.unwrap().events, 0);
        let row = webhook_queue::ActiveModel { id: Set(1), next_attempt_at: Set(Utc::now()) };
        webhook_queue::Entity::insert(row).exec_without_returning(&db).await.unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(reading.read_within(&db, hour).await.unwrap().events, 0, "a young reading stands");
        assert_eq!(reading.read_within(&db, Duration::ZERO).await.unwrap().events, 1, "an old one is read again");
        assert_eq!(reading.read_within(&db, hour).await.unwrap().events, 1, "and the new reading stands");
        db.close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
