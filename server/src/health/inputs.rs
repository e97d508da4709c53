//! A scoring's inputs, gathered from the mirror in a few aggregate statements per chunk of clients (the client row;
//! its contacts, deals and tickets through the association table), never by loading the related rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use hubspot::ObjectType;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement},
};

use super::score::{Baseline, Inputs, RECENT_DAYS};

/// The HubSpot properties the scores read, per type: a change to any other leaves every score as it was.
pub fn reads_property(object_type: ObjectType, name: &str) -> bool {
    let read: &[&str] = match object_type {
        ObjectType::Contact => &[
            "lifecyclestage",
            "notes_last_contacted",
            "num_notes",
            "hs_email_last_open_date",
            "hs_email_last_click_date",
        ],
        ObjectType::Company => &["lifecyclestage", "notes_last_updated"],
        ObjectType::Deal => &["amount", "dealstage", "pipeline", "hs_is_closed", "hs_is_closed_won", "createdate"],
        ObjectType::Ticket => &["closed_date", "hs_ticket_priority", "hs_pipeline_stage", "createdate"],
        ObjectType::Custom(_) => &[],
    };
    read.contains(&name)
}

/// Whom a score is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Company,
    /// A contact that has no company.
    Contact,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::Contact => "contact",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Company => "companies",
            Self::Contact => "contacts",
        }
    }
}

fn col(table: &str, column: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(column)))
}

/// Each pair of `subject` → `to` records linked, once (a pair may carry several association types).
fn edges(portal: i64, subject: Subject, to: &str, ids: &[i64]) -> SelectStatement {
    Query::select()
        .distinct()
        .columns([Alias::new("from_id"), Alias::new("to_id")])
        .from(Alias::new("associations"))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("from_type")).eq(subject.as_str()))
        .and_where(Expr::col(Alias::new("to_type")).eq(to))
        .and_where(Expr::col(Alias::new("from_id")).is_in(ids.iter().copied()))
        .to_owned()
}

/// The records of `table` linked to the subjects, as `t`, with the subject's id as `e.from_id`.
fn linked(portal: i64, subject: Subject, to: &str, table: &str, ids: &[i64]) -> SelectStatement {
    Query::select()
        .expr_as(col("e", "from_id"), Alias::new("subject"))
        .from_subquery(edges(portal, subject, to, ids), Alias::new("e"))
        .join_as(
            JoinType::InnerJoin,
            Alias::new(table),
            Alias::new("t"),
            col("t", "portal_id").eq(portal).and(col("t", "hubspot_id").equals((Alias::new("e"), Alias::new("to_id")))),
        )
        .and_where(col("t", "archived_at").is_null())
        .group_by_col((Alias::new("e"), Alias::new("from_id")))
        .to_owned()
}

/// `SUM(expr)` as a float, the same on SQLite (which would answer an integer for whole sums) and Postgres.
fn float_sum(expr: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS DOUBLE PRECISION)")
}

fn count_sum(condition: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)")
}

/// A custom expression binding times as `$1`, `$2`…: Postgres takes those; SQLite takes `?` in order of appearance.
fn with_times(backend: DbBackend, sql: &str, times: &[DateTime<Utc>]) -> Expr {
    if backend == DbBackend::Postgres {
        return Expr::cust_with_values(sql.to_owned(), times.iter().copied());
    }
    let (mut text, mut ordered) = (String::new(), Vec::new());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek().and_then(|d| d.to_digit(10)) {
            Some(n) if c == '$' => {
                chars.next();
                text.push('?');
                ordered.push(times[n as usize - 1]);
            }
            _ => text.push(c),
        }
    }
    Expr::cust_with_values(text, ordered)
}

fn time(row: &QueryResult, column: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    row.try_get("", column)
}

/// The latest of some times.
fn latest(times: impl IntoIterator<Item = Option<DateTime<Utc>>>) -> Option<DateTime<Utc>> {
    times.into_iter().flatten().max()
}

/// The inputs of each live subject in `ids` (a subject not live is left out).
pub async fn gather(
    db: &impl ConnectionTrait,
    portal: i64,
    subject: Subject,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<BTreeMap<i64, Inputs>, DbErr> {
    let recent = now - Duration::days(RECENT_DAYS);
    let previous = recent - Duration::days(RECENT_DAYS);
    let mut all = BTreeMap::new();

    let own = Query::select()
        .columns([Alias::new("hubspot_id"), Alias::new("lifecyclestage"), Alias::new("updated_at")])
        .expr_as(
            match subject {
                Subject::Company => Expr::col(Alias::new("notes_last_updated_at")),
                Subject::Contact => Expr::col(Alias::new("last_contacted_at")),
            },
            Alias::new("noted_at"),
        )
        .from(Alias::new(subject.table()))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("hubspot_id")).is_in(ids.iter().copied()))
        .and_where(Expr::col(Alias::new("archived_at")).is_null())
        .and_where(Expr::col(Alias::new("merged_into")).is_null())
        .to_owned();
    for row in db.query_all(&own).await? {
        let updated = time(&row, "updated_at")?;
        let inputs = Inputs {
            lifecycle_stage: row.try_get("", "lifecyclestage")?,
            last_activity: time(&row, "noted_at")?,
            changed: [updated, None, None, None],
            ..Inputs::default()
        };
        all.insert(row.try_get::<i64>("", "hubspot_id")?, inputs);
    }
    if all.is_empty() {
        return Ok(all);
    }

    // Contacts: a company's, or the contact itself.
    let mut contacts = match subject {
        Subject::Company => linked(portal, subject, "contact", "contacts", ids),
        Subject::Contact => Query::select()
            .expr_as(col("t", "hubspot_id"), Alias::new("subject"))
            .from_as(Alias::new("contacts"), Alias::new("t"))
            .and_where(col("t", "portal_id").eq(portal))
            .and_where(col("t", "hubspot_id").is_in(ids.iter().copied()))
            .group_by_col((Alias::new("t"), Alias::new("hubspot_id")))
            .to_owned(),
    };
    let backend = db.get_database_backend();
    let opened = "t.email_last_open_at >= $1";
    let clicked = "t.email_last_click_at >= $1";
    contacts
        .expr_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), Alias::new("contacts"))
        .expr_as(with_times(backend, &count_sum(opened), &[recent]), Alias::new("opened"))
        .expr_as(with_times(backend, &count_sum(clicked), &[recent]), Alias::new("clicked"))
        .expr_as(with_times(backend, &count_sum(&format!("{opened} OR {clicked}")), &[recent]), Alias::new("engaged"))
        .expr_as(Expr::cust("CAST(COALESCE(SUM(t.num_notes), 0) AS BIGINT)"), Alias::new("notes"))
        .expr_as(Expr::cust("MAX(t.last_contacted_at)"), Alias::new("contacted_at"))
        .expr_as(Expr::cust("MAX(t.email_last_open_at)"), Alias::new("opened_at"))
        .expr_as(Expr::cust("MAX(t.email_last_click_at)"), Alias::new("clicked_at"))
        .expr_as(Expr::cust("MAX(t.updated_at)"), Alias::new("changed_at"));
    for row in db.query_all(&contacts).await? {
        let Some(inputs) = all.get_mut(&row.try_get::<i64>("", "subject")?) else { continue };
        inputs.contacts = row.try_get("", "contacts")?;
        inputs.opened = row.try_get("", "opened")?;
        inputs.clicked = row.try_get("", "clicked")?;
        inputs.engaged = row.try_get("", "engaged")?;
        inputs.notes = row.try_get("", "notes")?;
        inputs.last_activity = latest([
            inputs.last_activity,
            time(&row, "contacted_at")?,
            time(&row, "opened_at")?,
            time(&row, "clicked_at")?,
        ]);
        inputs.changed[2] = time(&row, "changed_at")?;
    }

    let mut deals = linked(portal, subject, "deal", "deals", ids);
    deals
        .expr_as(Expr::cust(count_sum("t.is_closed IS NULL OR NOT t.is_closed")), Alias::new("open_deals"))
        .expr_as(Expr::cust(float_sum("CASE WHEN t.is_closed_won THEN t.amount ELSE 0 END")), Alias::new("won"))
        .expr_as(
            with_times(backend, &float_sum("CASE WHEN t.created_at >= $1 THEN t.amount ELSE 0 END"), &[recent]),
            Alias::new("recent"),
        )
        .expr_as(
            with_times(
                backend,
                &float_sum("CASE WHEN t.created_at >= $1 AND t.created_at < $2 THEN t.amount ELSE 0 END"),
                &[previous, recent],
            ),
            Alias::new("previous"),
        )
        .expr_as(Expr::cust("MAX(t.updated_at)"), Alias::new("changed_at"));
    for row in db.query_all(&deals).await? {
        let Some(inputs) = all.get_mut(&row.try_get::<i64>("", "subject")?) else { continue };
        inputs.open_deals = row.try_get("", "open_deals")?;
        inputs.won_revenue = row.try_get("", "won")?;
        inputs.recent_amount = row.try_get("", "recent")?;
        inputs.previous_amount = row.try_get("", "previous")?;
        inputs.changed[1] = time(&row, "changed_at")?;
    }

    let days_to_close = match backend {
        DbBackend::Postgres => "EXTRACT(EPOCH FROM (t.closed_at - t.created_at)) / 86400.0",
        _ => "julianday(t.closed_at) - julianday(t.created_at)",
    };
    let mut tickets = linked(portal, subject, "ticket", "tickets", ids);
    tickets
        .expr_as(Expr::cust(count_sum("t.closed_at IS NULL")), Alias::new("open_tickets"))
        .expr_as(
            Expr::cust(count_sum("t.closed_at IS NULL AND t.priority IN ('HIGH', 'URGENT')")),
            Alias::new("urgent"),
        )
        .expr_as(
            Expr::cust(format!(
                "CAST(AVG(CASE WHEN t.closed_at IS NOT NULL THEN {days_to_close} END) AS DOUBLE PRECISION)"
            )),
            Alias::new("days_to_close"),
        )
        .expr_as(Expr::cust("MAX(t.updated_at)"), Alias::new("changed_at"));
    for row in db.query_all(&tickets).await? {
        let Some(inputs) = all.get_mut(&row.try_get::<i64>("", "subject")?) else { continue };
        inputs.open_tickets = row.try_get("", "open_tickets")?;
        inputs.urgent_tickets = row.try_get("", "urgent")?;
        inputs.days_to_close = row.try_get("", "days_to_close")?;
        inputs.changed[3] = time(&row, "changed_at")?;
    }
    Ok(all)
}

/// The portal's open and click rates over its campaigns' delivered emails.
pub async fn baseline(db: &impl ConnectionTrait, portal: i64) -> Result<Baseline, DbErr> {
    let select = Query::select()
        .expr_as(Expr::cust(float_sum("delivered")), Alias::new("delivered"))
        .expr_as(Expr::cust(float_sum("opened")), Alias::new("opened"))
        .expr_as(Expr::cust(float_sum("clicked")), Alias::new("clicked"))
        .from(Alias::new("campaigns"))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("archived_at")).is_null())
        .to_owned();
    let Some(row) = db.query_one(&select).await? else { return Ok(Baseline::default()) };
    let delivered: f64 = row.try_get("", "delivered")?;
    if delivered <= 0.0 {
        return Ok(Baseline::default());
    }
    let (opened, clicked): (f64, f64) = (row.try_get("", "opened")?, row.try_get("", "clicked")?);
    Ok(Baseline { open_rate: opened / delivered, click_rate: clicked / delivered })
}
