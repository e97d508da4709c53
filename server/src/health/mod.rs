//! Client health: a score per company (and per contact without one) from what the mirror holds, with its
//! explanation and history, and the insights the rules raise from the same inputs. A periodic full pass keeps
//! time-based inputs (recency, the 90-day windows) current.

pub mod inputs;
pub mod insights;
pub mod lifecycle;
pub mod notify;
pub mod pending;
pub mod score;
pub mod store;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use hubspot::ObjectType;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde_json::{Value, json};

pub use inputs::Subject;
pub use insights::Thresholds;
pub use score::Weights;
pub use store::{Change, Changes};

/// How clients are scored and judged: the weights of the score's dimensions and the insight rules' thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scoring {
    pub weights: Weights,
    pub thresholds: Thresholds,
}

/// The live clients of a portal: every company, and every contact linked to no live company; only those of `among`
/// when given.
pub async fn clients(db: &impl ConnectionTrait, portal: i64, subject: Subject) -> Result<Vec<i64>, DbErr> {
    clients_among(db, portal, subject, None).await
}

async fn clients_among(
    db: &impl ConnectionTrait,
    portal: i64,
    subject: Subject,
    among: Option<&[i64]>,
) -> Result<Vec<i64>, DbErr> {
    let mut select = Query::select()
        .column(Alias::new("hubspot_id"))
        .from(Alias::new(match subject {
            Subject::Company => "companies",
            Subject::Contact => "contacts",
        }))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("archived_at")).is_null())
        .and_where(Expr::col(Alias::new("merged_into")).is_null())
        .order_by(Alias::new("hubspot_id"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    if let Some(ids) = among {
        select.and_where(match db.get_database_backend() {
            // Postgres planned a long `IN (…)` list here as a scan of every record (23 ms for 800 ids among 37,000
            // contacts); given as one array, it probes the key for each id (5 ms), and one statement serves every
            // length (BENCHMARKS.md).
            DbBackend::Postgres => {
                let set = format!("{{{}}}", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
                Expr::cust_with_values("hubspot_id IN (SELECT unnest(CAST($1 AS bigint[])))", [set])
            }
            _ => Expr::col(Alias::new("hubspot_id")).is_in(ids.iter().copied()),
        });
    }
    if subject == Subject::Contact {
        // Same portal as the contact: no value to bind.
        select.and_where(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM associations a JOIN companies co ON co.portal_id = a.portal_id \
             AND co.hubspot_id = a.to_id AND co.archived_at IS NULL WHERE a.portal_id = contacts.portal_id \
             AND a.from_type = 'contact' AND a.to_type = 'company' AND a.from_id = contacts.hubspot_id)",
        ));
    }
    db.query_all(&select).await?.iter().map(|row| row.try_get::<i64>("", "hubspot_id")).collect()
}

/// The ids of `to` records linked from `from` records `ids`.
async fn linked(
    db: &impl ConnectionTrait,
    portal: i64,
    from: ObjectType,
    ids: &[i64],
    to: ObjectType,
) -> Result<Vec<i64>, DbErr> {
    let select = Query::select()
        .distinct()
        .column(Alias::new("to_id"))
        .from(Alias::new("associations"))
        .and_where(Expr::col(Alias::new("portal_id")).eq(portal))
        .and_where(Expr::col(Alias::new("from_type")).eq(from.singular()))
        .and_where(Expr::col(Alias::new("from_id")).is_in(ids.iter().copied()))
        .and_where(Expr::col(Alias::new("to_type")).eq(to.singular()))
        .to_owned();
    db.query_all(&select).await?.iter().map(|row| row.try_get::<i64>("", "to_id")).collect()
}

/// The clients whose inputs a change to `records` touches: the companies they are (or are linked to), and the
/// contacts among them, or linked to them, that have no company.
pub async fn affected(
    db: &impl ConnectionTrait,
    portal: i64,
    records: &[(ObjectType, i64)],
) -> Result<BTreeMap<Subject, Vec<i64>>, DbErr> {
    let mut by_type: BTreeMap<ObjectType, Vec<i64>> = BTreeMap::new();
    for (object_type, id) in records {
        by_type.entry(*object_type).or_default().push(*id);
    }
    let (mut companies, mut contacts) = (BTreeSet::new(), BTreeSet::new());
    for (object_type, ids) in &by_type {
        match object_type {
            ObjectType::Company => companies.extend(ids),
            ObjectType::Contact => {
                contacts.extend(ids);
                companies.extend(linked(db, portal, ObjectType::Contact, ids, ObjectType::Company).await?);
            }
            ObjectType::Deal | ObjectType::Ticket => {
                companies.extend(linked(db, portal, *object_type, ids, ObjectType::Company).await?);
                contacts.extend(linked(db, portal, *object_type, ids, ObjectType::Contact).await?);
            }
            // The scores read nothing of custom objects.
            ObjectType::Custom(_) => {}
        }
    }
    let contacts: Vec<i64> = contacts.into_iter().collect();
    let lone = clients_among(db, portal, Subject::Contact, Some(&contacts)).await?;
    Ok(BTreeMap::from([(Subject::Company, companies.into_iter().collect()), (Subject::Contact, lone)]))
}

/// What scoring needs wherever the mirror changes: the database and how to score. The mutations and the reconcile
/// sweep rescore the clients their changes touch in the same flow; the webhook appliers mark them in `pending`.
#[derive(Clone)]
pub struct Health {
    pub db: DatabaseConnection,
    pub scoring: Scoring,
    /// Tells subscribers of each change; `None` tells no one.
    pub notifier: Option<notify::Notifier>,
    /// Clients rescored after a change (webhook, mutation, sweep), full passes aside: the scoring work changes cause.
    pub rescored: Arc<AtomicU64>,
    /// Records applied webhooks changed whose clients wait to be rescored.
    pub pending: pending::Pending,
}

impl Health {
    /// Scoring on `db` as `scoring` says, telling no one, counting into a counter of its own.
    pub fn new(db: DatabaseConnection, scoring: Scoring) -> Self {
        Self { db, scoring, notifier: None, rescored: Arc::default(), pending: pending::Pending::default() }
    }

    /// Rescores the clients of every record marked in `pending`, portal by portal, once the rounds before ended.
    pub async fn rescore_pending(&self) {
        let _turn = self.pending.turn().await;
        for (portal, marked) in self.pending.take() {
            let records: Vec<(ObjectType, i64)> = marked.records.iter().copied().collect();
            self.records_changed(portal, &records, &marked.cause()).await;
            self.pending.done(&marked);
        }
    }

    /// Rescores the clients a change to `records` touches; the changed scores and insights. A failure is logged,
    /// not raised: the change itself stands, and the next full pass scores it.
    pub async fn records_changed(&self, portal: i64, records: &[(ObjectType, i64)], cause: &Value) -> Changes {
        match self.rescore_affected(portal, records, cause).await {
            Ok(changes) => {
                self.publish(portal, &changes, cause).await;
                changes
            }
            Err(err) => {
                tracing::warn!(portal, error = %err, "rescoring after a change failed; the next full pass will");
                Changes::default()
            }
        }
    }

    async fn publish(&self, portal: i64, changes: &Changes, cause: &Value) {
        if let Some(notifier) = &self.notifier {
            let scores = changes.scores.iter().map(|c| schema::feed::Change::Score(c.event(portal, cause)));
            let insights = changes.insights.iter().cloned().map(schema::feed::Change::Insight);
            notifier.publish(&scores.chain(insights).collect::<Vec<_>>()).await;
        }
    }

    async fn rescore_affected(
        &self,
        portal: i64,
        records: &[(ObjectType, i64)],
        cause: &Value,
    ) -> Result<Changes, DbErr> {
        if records.is_empty() {
            return Ok(Changes::default());
        }
        let now = Utc::now();
        let mut changes = Changes::default();
        for (subject, ids) in affected(&self.db, portal, records).await? {
            self.rescored.fetch_add(ids.len() as u64, Ordering::Relaxed);
            changes.extend(store::rescore(&self.db, portal, subject, &ids, cause, self.scoring, now).await?);
        }
        // A contact that gained a company is scored with it now, no longer alone.
        let contacts: Vec<i64> = records.iter().filter(|(t, _)| *t == ObjectType::Contact).map(|(_, id)| *id).collect();
        changes.insights.extend(store::forget_unless_lone(&self.db, portal, &contacts, cause, now).await?);
        Ok(changes)
    }
}

/// Clients a full pass scores before it hands their changes on. A first pass over a whole portal changes every
/// score: held until the pass ended, those changes were most of the process's peak memory (BENCHMARKS.md).
const ROUND: usize = 2_000;

/// The rounds of a full pass over `portal`: its clients by subject, [`ROUND`] at a time.
async fn rounds(db: &DatabaseConnection, portal: i64) -> Result<Vec<(Subject, Vec<i64>)>, DbErr> {
    let mut rounds = Vec::new();
    for subject in [Subject::Company, Subject::Contact] {
        rounds.extend(clients(db, portal, subject).await?.chunks(ROUND).map(|ids| (subject, ids.to_vec())));
    }
    Ok(rounds)
}

/// The planner learns the score tables' sizes after a pass's first round and again after the pass. A first pass
/// fills them from empty: planned for empty tables (autovacuum off or behind), every later round's lookup sorted all
/// the insights so far, and a pass over 200,000 clients grew quadratic (BENCHMARKS.md).
async fn learn_sizes(db: &DatabaseConnection) -> Result<(), DbErr> {
    crate::mirror::analyze(db, &["health_scores", "health_score_history", "insights", "insight_events"]).await
}

/// Scores every client of `portal` again; everything it changed.
pub async fn full_pass(
    db: &DatabaseConnection,
    portal: i64,
    scoring: Scoring,
    cause: &Value,
) -> Result<Changes, DbErr> {
    let (now, mut changes) = (Utc::now(), Changes::default());
    for (round, (subject, ids)) in rounds(db, portal).await?.into_iter().enumerate() {
        changes.extend(store::rescore(db, portal, subject, &ids, cause, scoring, now).await?);
        if round == 0 {
            learn_sizes(db).await?;
        }
    }
    learn_sizes(db).await?;
    Ok(changes)
}

impl Health {
    /// Scores every client of `portal` again, telling subscribers round by round rather than holding every change
    /// of the pass; how many scores and insights changed.
    pub async fn full_pass(&self, portal: i64, cause: &Value) -> Result<(usize, usize), DbErr> {
        let (now, mut scores, mut insights) = (Utc::now(), 0, 0);
        for (round, (subject, ids)) in rounds(&self.db, portal).await?.into_iter().enumerate() {
            let changes = store::rescore(&self.db, portal, subject, &ids, cause, self.scoring, now).await?;
            (scores, insights) = (scores + changes.scores.len(), insights + changes.insights.len());
            self.publish(portal, &changes, cause).await;
            if round == 0 {
                learn_sizes(&self.db).await?;
            }
        }
        learn_sizes(&self.db).await?;
        Ok((scores, insights))
    }
}

/// How soon to look again while no portal has a client to score (the backfill is still filling the mirror).
const EMPTY_RETRY: Duration = Duration::from_secs(30);

/// Full passes over every portal, one at start and then every `every`, each counted in `passes` when it ends.
pub async fn keep_scored(health: Health, every: Duration, passes: Arc<AtomicU64>) {
    let db = health.db.clone();
    let mut scored_any = false;
    loop {
        match entities::portal::Entity::find().all(&db).await {
            Ok(portals) => {
                for portal in portals {
                    let cause = json!({ "kind": "fullPass" });
                    match health.full_pass(portal.portal_id, &cause).await {
                        Ok((scores, insights)) => {
                            tracing::info!(portal = portal.portal_id, scores, insights, "health scores refreshed")
                        }
                        Err(err) => tracing::warn!(portal = portal.portal_id, error = %err, "scoring failed"),
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "listing portals to score failed"),
        }
        passes.fetch_add(1, Ordering::Relaxed);
        scored_any = scored_any || entities::health_score::Entity::find().count(&db).await.is_ok_and(|n| n > 0);
        tokio::time::sleep(if scored_any { every } else { every.min(EMPTY_RETRY) }).await;
    }
}
