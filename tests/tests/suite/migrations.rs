//! Every migration runs up and down, and up again, on SQLite and Postgres.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
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
    "webhook_events",
    "sync_state",
    "oauth_tokens",
    "oauth_states",
    "idempotency_keys",
    "health_scores",
    "health_score_history",
    "insights",
    "insight_events",
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
    // SQLite gets an FTS5 index (a virtual table and its shadow tables) per CRM table; Postgres uses trigram indexes.
    let has_search = |t: &str| search.contains(&format!("{t}_search"));
    match backend {
        Backend::Sqlite => {
            assert!(["contacts", "companies", "deals", "tickets"].iter().all(|t| has_search(t)), "{search:?}")
        }
        Backend::Postgres => assert!(search.is_empty(), "{search:?}"),
    }

    Migrator::down(&db.db, None).await.expect("down");
    assert!(tables(&db, backend).await.is_empty(), "down leaves no table behind");

    Migrator::up(&db.db, None).await.expect("up again");
    let again = tables(&db, backend).await;
    assert!(TABLES.iter().all(|t| again.contains(&t.to_string())), "up again restores every table: {again:?}");
    assert!(Migrator::get_pending_migrations(&db.db).await.unwrap().is_empty());
});
