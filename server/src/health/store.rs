//! Scores kept in the mirror: the current one per client, and a history row each time its figures change, with
//! what caused the change (the history's id is the cursor subscribers resume from). The insight rules run on the
//! same inputs, in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use entities::{health_score, health_score_history};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict,
};
use serde_json::Value;

use super::{
    Scoring,
    inputs::{self, Subject},
    insights, lifecycle,
    score::{self, Score},
};

/// Clients scored per round of statements.
const CHUNK: usize = 500;

/// What a rescoring changed: scores whose figures moved, and insights raised or resolved.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub scores: Vec<Change>,
    pub insights: Vec<schema::feed::InsightChanged>,
}

impl Changes {
    pub fn extend(&mut self, other: Changes) {
        self.scores.extend(other.scores);
        self.insights.extend(other.insights);
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty() && self.insights.is_empty()
    }
}

/// A score whose figures changed.
#[derive(Clone, Debug)]
pub struct Change {
    pub subject: Subject,
    pub id: i64,
    pub previous: Option<i32>,
    pub score: Score,
    /// The history row: the change's cursor.
    pub history_id: i64,
    pub computed_at: DateTime<Utc>,
}

impl Change {
    /// The change as subscribers receive it.
    pub fn event(&self, portal: i64, cause: &Value) -> schema::feed::ScoreChanged {
        let s = &self.score;
        schema::feed::ScoreChanged {
            portal,
            subject_type: self.subject.as_str().to_owned(),
            subject_id: self.id,
            cursor: self.history_id,
            overall: s.overall,
            previous_overall: self.previous,
            crm: s.crm,
            payment: s.payment,
            engagement: s.engagement,
            support: s.support,
            churn_risk: s.churn_risk,
            cause: cause.clone(),
            computed_at: self.computed_at,
        }
    }
}

fn same_figures(row: &health_score::Model, s: &Score) -> bool {
    (row.overall, row.crm, row.payment, row.engagement, row.support, row.churn_risk)
        == (s.overall, s.crm, s.payment, s.engagement, s.support, s.churn_risk)
}

/// Scores the clients `ids` again from the mirror as it is now. A client whose figures changed gets a new current
/// score and a history row saying `cause`; one whose figures stayed gets its explanation refreshed (days pass);
/// one no longer live loses its score. Their insights follow what the rules find now.
pub async fn rescore(
    db: &DatabaseConnection,
    portal: i64,
    subject: Subject,
    ids: &[i64],
    cause: &Value,
    scoring: Scoring,
    now: DateTime<Utc>,
) -> Result<Changes, DbErr> {
    let Scoring { weights, thresholds } = scoring;
    let baseline = inputs::baseline(db, portal).await?;
    let mut changes = Changes::default();
    for chunk in ids.chunks(CHUNK) {
        let gathered = inputs::gather(db, portal, subject, chunk, now).await?;
        let txn = crate::db::begin_write(db).await?;
        let current: BTreeMap<i64, health_score::Model> = health_score::Entity::find()
            .filter(health_score::Column::PortalId.eq(portal))
            .filter(health_score::Column::SubjectType.eq(subject.as_str()))
            .filter(health_score::Column::SubjectId.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|row| (row.subject_id, row))
            .collect();
        let gone: Vec<i64> = current.keys().filter(|id| !gathered.contains_key(id)).copied().collect();
        if !gone.is_empty() {
            health_score::Entity::delete_many()
                .filter(health_score::Column::PortalId.eq(portal))
                .filter(health_score::Column::SubjectType.eq(subject.as_str()))
                .filter(health_score::Column::SubjectId.is_in(gone))
                .exec(&txn)
                .await?;
        }
        let (mut rows, mut history, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        let mut findings = BTreeMap::new();
        for (id, inputs) in &gathered {
            let s = score::score(inputs, baseline, weights, now);
            findings.insert(*id, insights::evaluate(inputs, &s, &thresholds, now));
            let explanation = score::explanation(&s, weights, baseline);
            let held = current.get(id);
            if held.is_some_and(|row| same_figures(row, &s) && row.explanation == explanation) {
                continue;
            }
            rows.push(health_score::ActiveModel {
                portal_id: Set(portal),
                subject_type: Set(subject.as_str().to_owned()),
                subject_id: Set(*id),
                overall: Set(s.overall),
                crm: Set(s.crm),
                payment: Set(s.payment),
                engagement: Set(s.engagement),
                support: Set(s.support),
                churn_risk: Set(s.churn_risk),
                explanation: Set(explanation),
                computed_at: Set(now),
            });
            if held.is_some_and(|row| same_figures(row, &s)) {
                continue;
            }
            let previous = held.map(|row| row.overall);
            history.push(health_score_history::ActiveModel {
                portal_id: Set(portal),
                subject_type: Set(subject.as_str().to_owned()),
                subject_id: Set(*id),
                overall: Set(s.overall),
                crm: Set(s.crm),
                payment: Set(s.payment),
                engagement: Set(s.engagement),
                support: Set(s.support),
                churn_risk: Set(s.churn_risk),
                previous_overall: Set(previous),
                cause: Set(cause.clone()),
                computed_at: Set(now),
                ..Default::default()
            });
            changed.push((*id, previous, s));
        }
        if !rows.is_empty() {
            use health_score::Column as H;
            let on_conflict = OnConflict::columns([H::PortalId, H::SubjectType, H::SubjectId])
                .update_columns([
                    H::Overall,
                    H::Crm,
                    H::Payment,
                    H::Engagement,
                    H::Support,
                    H::ChurnRisk,
                    H::Explanation,
                    H::ComputedAt,
                ])
                .to_owned();
            health_score::Entity::insert_many(rows).on_conflict(on_conflict).exec(&txn).await?;
        }
        let written: BTreeMap<i64, i64> = if history.is_empty() {
            BTreeMap::new()
        } else {
            health_score_history::Entity::insert_many(history)
                .exec_with_returning(&txn)
                .await?
                .into_iter()
                .map(|row| (row.subject_id, row.id))
                .collect()
        };
        changes.insights.extend(lifecycle::settle(&txn, portal, subject, chunk, &findings, cause, now).await?);
        txn.commit().await?;
        changes.scores.extend(changed.into_iter().map(|(id, previous, score)| Change {
            subject,
            id,
            previous,
            score,
            history_id: written.get(&id).copied().unwrap_or_default(),
            computed_at: now,
        }));
    }
    Ok(changes)
}

/// Drops the scores of `contacts` that are no longer scored alone (they have a company now, or are gone), and
/// resolves their open insights (the company's speak for them now).
pub async fn forget_unless_lone(
    db: &DatabaseConnection,
    portal: i64,
    contacts: &[i64],
    cause: &Value,
    now: DateTime<Utc>,
) -> Result<Vec<schema::feed::InsightChanged>, DbErr> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let lone: BTreeSet<i64> =
        super::clients_among(db, portal, Subject::Contact, Some(contacts)).await?.into_iter().collect();
    let scored_with_a_company: Vec<i64> = contacts.iter().filter(|id| !lone.contains(id)).copied().collect();
    if !scored_with_a_company.is_empty() {
        health_score::Entity::delete_many()
            .filter(health_score::Column::PortalId.eq(portal))
            .filter(health_score::Column::SubjectType.eq(Subject::Contact.as_str()))
            .filter(health_score::Column::SubjectId.is_in(scored_with_a_company.iter().copied()))
            .exec(db)
            .await?;
        let none = BTreeMap::new();
        return lifecycle::settle(db, portal, Subject::Contact, &scored_with_a_company, &none, cause, now).await;
    }
    Ok(Vec::new())
}
