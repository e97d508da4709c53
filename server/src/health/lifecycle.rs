//! An insight's life in the mirror: raised when its rule first holds for a client, kept current (impact, confidence,
//! evidence) while it holds, resolved when it clears or the client goes. Each raise and resolution is an
//! `insight_events` row with its cause: what subscribers hear, and resume from.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entities::{insight, insight_event};
use schema::{
    feed::InsightChanged,
    insights::{InsightChangeKind, InsightStatus},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde_json::{Value, json};

use super::{inputs::Subject, insights::Finding};

fn same(row: &insight::Model, finding: &Finding, actions: &Value) -> bool {
    row.impact == finding.impact.as_str()
        && row.confidence == finding.confidence
        && row.evidence == finding.evidence
        && &row.actions == actions
}

/// Brings the insights of clients `ids` in line with what the rules found for them now (`findings`; a client
/// without an entry has none): new findings are raised, open insights whose rule no longer holds are resolved.
/// The raises and resolutions, for subscribers.
pub async fn settle(
    db: &impl ConnectionTrait,
    portal: i64,
    subject: Subject,
    ids: &[i64],
    findings: &BTreeMap<i64, Vec<Finding>>,
    cause: &Value,
    now: DateTime<Utc>,
) -> Result<Vec<InsightChanged>, DbErr> {
    let mut open: HashMap<(i64, String), insight::Model> = insight::Entity::find()
        .filter(insight::Column::PortalId.eq(portal))
        .filter(insight::Column::SubjectType.eq(subject.as_str()))
        .filter(insight::Column::SubjectId.is_in(ids.iter().copied()))
        .filter(insight::Column::Status.eq(InsightStatus::Open.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| ((row.subject_id, row.kind.clone()), row))
        .collect();
    let (mut raised, mut refreshed) = (Vec::new(), Vec::new());
    for (id, found) in findings {
        for finding in found {
            let actions = json!(finding.actions);
            match open.remove(&(*id, finding.kind.as_str().to_owned())) {
                Some(row) if same(&row, finding, &actions) => {}
                Some(row) => {
                    let mut row = row.into_active_model();
                    row.impact = Set(finding.impact.as_str().to_owned());
                    row.confidence = Set(finding.confidence);
                    row.actions = Set(actions);
                    row.evidence = Set(finding.evidence.clone());
                    row.updated_at = Set(now);
                    refreshed.push(row);
                }
                None => raised.push(insight::ActiveModel {
                    portal_id: Set(portal),
                    subject_type: Set(subject.as_str().to_owned()),
                    subject_id: Set(*id),
                    kind: Set(finding.kind.as_str().to_owned()),
                    impact: Set(finding.impact.as_str().to_owned()),
                    confidence: Set(finding.confidence),
                    status: Set(InsightStatus::Open.as_str().to_owned()),
                    actions: Set(actions),
                    evidence: Set(finding.evidence.clone()),
                    raised_at: Set(now),
                    updated_at: Set(now),
                    resolved_at: Set(None),
                    ..Default::default()
                }),
            }
        }
    }
    if !refreshed.is_empty() {
        use insight::Column as I;
        let on_conflict = OnConflict::column(I::Id)
            .update_columns([I::Impact, I::Confidence, I::Actions, I::Evidence, I::UpdatedAt])
            .to_owned();
        insight::Entity::insert_many(refreshed).on_conflict(on_conflict).exec(db).await?;
    }
    // What is still open found no rule holding any more.
    let mut resolved: Vec<insight::Model> = open.into_values().collect();
    resolved.sort_by_key(|row| row.id);
    if !resolved.is_empty() {
        insight::Entity::update_many()
            .col_expr(insight::Column::Status, Expr::value(InsightStatus::Resolved.as_str()))
            .col_expr(insight::Column::ResolvedAt, Expr::value(now))
            .col_expr(insight::Column::UpdatedAt, Expr::value(now))
            .filter(insight::Column::Id.is_in(resolved.iter().map(|row| row.id)))
            .exec(db)
            .await?;
        for row in &mut resolved {
            (row.status, row.resolved_at, row.updated_at) =
                (InsightStatus::Resolved.as_str().to_owned(), Some(now), now);
        }
    }
    let raised = if raised.is_empty() {
        Vec::new()
    } else {
        insight::Entity::insert_many(raised).exec_with_returning(db).await?
    };
    let (raise, resolve) = (InsightChangeKind::Raised.as_str(), InsightChangeKind::Resolved.as_str());
    let changed: Vec<(&'static str, insight::Model)> =
        raised.into_iter().map(|r| (raise, r)).chain(resolved.into_iter().map(|r| (resolve, r))).collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let events = changed.iter().map(|(change, row)| insight_event::ActiveModel {
        portal_id: Set(portal),
        insight_id: Set(row.id),
        change: Set((*change).to_owned()),
        cause: Set(cause.clone()),
        at: Set(now),
        ..Default::default()
    });
    let cursors: HashMap<(i64, String), i64> = insight_event::Entity::insert_many(events)
        .exec_with_returning(db)
        .await?
        .into_iter()
        .map(|event| ((event.insight_id, event.change), event.id))
        .collect();
    Ok(changed
        .into_iter()
        .map(|(change, insight)| InsightChanged {
            portal,
            cursor: cursors.get(&(insight.id, change.to_owned())).copied().unwrap_or_default(),
            change: change.to_owned(),
            insight,
            cause: cause.clone(),
        })
        .collect())
}
