//! Every migration runs up and down, and up again, on SQLite and Postgres.

use entities::{webhook_event, webhook_queue};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use tests::{Backend, TestDb, on_both};

const TABLES: &[&str] = &[
    "portals",
    "contacts",
    "companies",
    "deals",
    "tickets",
    "owners",
    "pipelines",
    "pipeline_stages",
    "campaigns",
    "associations",
    "object_properties",
    "property_definitions",
    "object_schemas",
    "custom_objects",
    "property_values",
    "webhook_events",
    "webhook_queue",
    "sync_state",
    "oauth_tokens",
    "oauth_states",
    "oauth_tickets",
    "idempotency_keys",
    "health_scores",
    "health_score_history",
    "insights",
    "insight_events",
    "api_keys",
    "audit_log",
    "leases",
    "operations",
];

async fn tables(db: &TestDb, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        Backend::Postgres => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
    };
    let rows = db.db.query_all_raw(Statement::from_string(db.db.get_database_backend(), sql)).await.unwrap();
    let mut names: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect();
    names.retain(|n| n != "seaql_migrations");
    names.sort();
    names
}

on_both!(every_migration_goes_up_down_and_up_again, |backend| async move {
    let db = TestDb::empty(backend).await;
    Migrator::up(&db.db, None).await.expect("up");
    let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    let all = tables(&db, backend).await;
    let (search, mirror): (Vec<String>, Vec<String>) = all.into_iter().partition(|t| t.contains("_search"));
    assert_eq!(mirror, expected);
    // Each CRM table gets a search table: on SQLite an FTS5 index (a virtual table and its shadow tables), on Postgres
    // a table with a trigram index.
    let has_search = |t: &str| search.contains(&format!("{t}_search"));
    assert!(["contacts", "companies", "deals", "tickets"].iter().all(|t| has_search(t)), "{search:?}");
    if backend == Backend::Postgres {
        assert_eq!(search.len(), 4, "{search:?}");
    }

    Migrator::down(&db.db, None).await.expect("down");
    assert!(tables(&db, backend).await.is_empty(), "down leaves no table behind");

    Migrator::up(&db.db, None).await.expect("up again");
    let again = tables(&db, backend).await;
    assert!(TABLES.iter().all(|t| again.contains(&t.to_string())), "up again restores every table: {again:?}");
    assert!(Migrator::get_pending_migrations(&db.db).await.unwrap().is_empty());
});

// An upgrade keeps the backlog: events the log holds as pending when the appliers' work list is made go on it, and
// nothing else does.
on_both!(pending_events_logged_before_the_work_list_are_queued_by_the_upgrade, |backend| async move {
    let db = TestDb::empty(backend).await;
    let before_queue = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261205_000008_webhook_queue")
        .expect("the work list's migration") as u32;
    Migrator::up(&db.db, Some(before_queue)).await.expect("up to the log without a work list");
    db.db
        .execute_unprepared(
            "INSERT INTO webhook_events (batch_id, portal_id, event_id, subscription_type, object_id, occurred_at, \
             dedupe_key, payload, state, attempts, received_at, next_attempt_at) VALUES \
             ('b', 1, 1, 'contact.propertyChange', 7, 1, 'k1', '{}', 'applied', 1, '2026-12-05T00:00:00Z', '2026-12-05T00:00:00Z'), \
             ('b', 1, 2, 'contact.propertyChange', 7, 2, 'k2', '{}', 'pending', 0, '2026-12-05T00:00:00Z', '2026-12-05T00:00:00Z'), \
             ('b', 1, 3, 'contact.propertyChange', 8, 3, 'k3', '{}', 'dead', 8, '2026-12-05T00:00:00Z', '2026-12-05T00:00:00Z'), \
             ('b', 1, 4, 'contact.propertyChange', 9, 4, 'k4', '{}', 'pending', 2, '2026-12-05T00:00:00Z', '2026-12-05T00:00:00Z')",
        )
        .await
        .unwrap();
    Migrator::up(&db.db, None).await.expect("up");
    let mut pending: Vec<i64> = webhook_event::Entity::find()
        .filter(webhook_event::Column::State.eq("pending"))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    pending.sort_unstable();
    assert_eq!(pending.len(), 2);
    let mut queued: Vec<i64> =
        webhook_queue::Entity::find().all(&db.db).await.unwrap().into_iter().map(|q| q.id).collect();
    queued.sort_unstable();
    assert_eq!(queued, pending);
});
