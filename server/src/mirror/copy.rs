//! A whole generated portal written by Postgres `COPY` instead of `INSERT`: the benchmark's mirrors of a million
//! contacts. The rows are those [`super::write_portal`] writes (made by the same conversions); the tables triggers
//! keep (search, property values) are filled by the same triggers, which `COPY` fires per row as `INSERT` does.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use entities::{association, company, contact, custom_object, deal, object_properties, ticket};
use hubspot::{CrmObject, ObjectType, Portal};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait, IdenStatic, Iterable, Value, sqlx::PgConnection,
};

use super::{convert, write};

/// Bytes of COPY text sent at a time.
const SEND_BYTES: usize = 1 << 20;

/// Writes `portal` into an empty Postgres mirror. The small tables go as [`super::write_portal`] writes them; the
/// records, their properties and their links by `COPY`, one statement a table and type. Not one transaction: a
/// failure leaves a partial mirror, which only a fresh database (the benchmark's) can take.
pub async fn copy_portal(db: &DatabaseConnection, portal: &Portal) -> Result<(), DbErr> {
    let now = Utc::now();
    let id = portal.portal_id;
    let txn = crate::db::begin_write(db).await?;
    // Definitions before records: the property-values trigger reads them.
    let all_types = write::write_portal_setup(&txn, portal, now).await?;
    write::upsert_campaigns(&txn, id, &portal.campaigns, now).await?;
    txn.commit().await?;
    let mut conn = db.get_postgres_connection_pool().acquire().await.map_err(|e| copy_error("a connection", e))?;
    for &object_type in &all_types {
        let objects = portal.objects(object_type);
        unique_ids(object_type, objects)?;
        copy_typed(db, &mut conn, id, object_type, objects, now).await?;
        let rows = objects.iter().map(|o| convert::properties(id, object_type, o));
        copy::<object_properties::Entity, _>(&mut conn, rows).await?;
    }
    copy::<association::Entity, _>(&mut conn, links(id, portal, now)).await?;
    drop(conn);
    write::refresh_statistics(db).await
}

/// `write_portal` upserts, so a record listed twice would be one row; here it would fail the whole `COPY` late.
fn unique_ids(object_type: ObjectType, objects: &[CrmObject]) -> Result<(), DbErr> {
    let mut ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    match ids.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => {
            Err(DbErr::Custom(format!("{} {} is listed twice; COPY takes each once", object_type.singular(), w[0])))
        }
        None => Ok(()),
    }
}

async fn copy_typed(
    db: &DatabaseConnection,
    conn: &mut PgConnection,
    id: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    match object_type {
        ObjectType::Contact => {
            copy::<contact::Entity, _>(conn, objects.iter().map(|o| convert::contact(id, o, now))).await
        }
        ObjectType::Company => {
            copy::<company::Entity, _>(conn, objects.iter().map(|o| convert::company(id, o, now))).await
        }
        ObjectType::Deal => copy::<deal::Entity, _>(conn, objects.iter().map(|o| convert::deal(id, o, now))).await,
        ObjectType::Ticket => {
            copy::<ticket::Entity, _>(conn, objects.iter().map(|o| convert::ticket(id, o, now))).await
        }
        ObjectType::Custom(_) => {
            let display = super::schemas::display_property(db, id, object_type).await?;
            let rows = objects.iter().map(|o| convert::custom(id, object_type, display.as_deref(), o, now));
            copy::<custom_object::Entity, _>(conn, rows).await
        }
    }
}

/// The portal's associations as `upsert_associations` leaves them: a link listed twice is one row, the last listing.
fn links(id: i64, portal: &Portal, now: DateTime<Utc>) -> impl Iterator<Item = association::ActiveModel> {
    let key = |a: &hubspot::Association| (a.from_type.singular(), a.from_id, a.to_type.singular(), a.to_id, a.type_id);
    let last: HashMap<_, usize> = portal.associations.iter().enumerate().map(|(i, a)| (key(a), i)).collect();
    portal
        .associations
        .iter()
        .enumerate()
        .filter(move |(i, a)| last[&key(a)] == *i)
        .map(move |(_, a)| convert::association(id, a, now))
}

/// Streams `rows` into `E`'s table, every column; how many rows went in.
async fn copy<E, A>(conn: &mut PgConnection, rows: impl Iterator<Item = A>) -> Result<u64, DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E>,
{
    let table = E::default().table_name().to_owned();
    let columns: Vec<E::Column> = E::Column::iter().collect();
    let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    let statement = format!("COPY {table} ({}) FROM STDIN", names.join(", "));
    let mut copy = conn.copy_in_raw(&statement).await.map_err(|e| copy_error(&table, e))?;
    let mut text = String::with_capacity(SEND_BYTES + 4096);
    for row in rows {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            let value = row
                .get(*column)
                .into_value()
                .ok_or_else(|| DbErr::Custom(format!("COPY into {table}: column {} has no value", column.as_str())))?;
            push_value(&mut text, value).map_err(|what| DbErr::Custom(format!("COPY into {table}: {what}")))?;
        }
        text.push('\n');
        if text.len() >= SEND_BYTES {
            copy.send(text.as_bytes()).await.map_err(|e| copy_error(&table, e))?;
            text.clear();
        }
    }
    if !text.is_empty() {
        copy.send(text.as_bytes()).await.map_err(|e| copy_error(&table, e))?;
    }
    copy.finish().await.map_err(|e| copy_error(&table, e))
}

fn copy_error(what: &str, e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Custom(format!("COPY into {what}: {e}"))
}

/// `value` in COPY's text format: `\N` for null, text with backslash, tab and line breaks escaped. Numbers and
/// times as Postgres reads back exactly what `INSERT` would have bound (times to the microsecond it keeps).
fn push_value(out: &mut String, value: Value) -> Result<(), String> {
    use std::fmt::Write as _;
    let _ = match value {
        Value::Bool(Some(b)) => write!(out, "{}", if b { 't' } else { 'f' }),
        Value::Int(Some(v)) => write!(out, "{v}"),
        Value::BigInt(Some(v)) => write!(out, "{v}"),
        Value::Double(Some(v)) if v.is_finite() => write!(out, "{v:?}"),
        Value::String(Some(s)) => {
            escape(out, &s);
            Ok(())
        }
        Value::Json(Some(json)) => {
            escape(out, &json.to_string());
            Ok(())
        }
        Value::ChronoDateTimeUtc(Some(t)) => write!(out, "{}", t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Double(None)
        | Value::String(None)
        | Value::Json(None)
        | Value::ChronoDateTimeUtc(None) => write!(out, "\\N"),
        other => return Err(format!("no COPY text for {other:?}")),
    };
    Ok(())
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}
