//! A portal written by `COPY` (the benchmark's large mirrors) holds the rows `write_portal` inserts: every table, row
//! for row, but the times of writing.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tests::{Backend, TestDb, generator, small_spec};

/// Every table of the database but the migrations' own.
async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public' \
        AND table_type = 'BASE TABLE' AND table_name <> 'seaql_migrations' ORDER BY 1";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect()
}

/// The rows of `table` as JSON text, sorted, without the columns that hold the time they were written.
async fn rows(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT (to_jsonb(t) - ARRAY['synced_at', '{written}'])::text AS row FROM {table} t ORDER BY 1",
        written = match table {
            "associations" => "updated_at",
            "portals" => "created_at",
            _ => "synced_at",
        }
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "row").unwrap()).collect()
}

#[tokio::test]
async fn copy_writes_the_rows_write_portal_inserts() {
    let portal = generator::generate(&small_spec(4242));
    let (inserted, copied) = (TestDb::migrated(Backend::Postgres).await, TestDb::migrated(Backend::Postgres).await);
    server::mirror::write_portal(&inserted.db, &portal).await.unwrap();
    server::mirror::copy_portal(&copied.db, &portal).await.unwrap();

    let names = tables(&inserted.db).await;
    assert_eq!(names, tables(&copied.db).await);
    let mut filled = Vec::new();
    for table in &names {
        let (expected, actual) = (rows(&inserted.db, table).await, rows(&copied.db, table).await);
        if let Some((e, a)) = expected.iter().zip(&actual).find(|(e, a)| e != a) {
            panic!("{table}: inserted {e}\ncopied {a}");
        }
        assert_eq!(expected.len(), actual.len(), "rows of {table}");
        if !expected.is_empty() {
            filled.push(table.as_str());
        }
    }
    // What COPY writes, and what its triggers fill.
    for table in ["contacts", "companies", "deals", "tickets", "custom_objects", "object_properties", "associations"]
        .into_iter()
        .chain(["contacts_search", "companies_search", "property_values"])
    {
        assert!(filled.contains(&table), "{table} is empty; filled: {filled:?}");
    }
}
