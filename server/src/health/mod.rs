//! Client health: a score per company (and per contact without one) from what the mirror holds, with its
//! explanation and history. A periodic full pass keeps time-based inputs (recency, the 90-day windows) current.

pub mod inputs;
pub mod score;
pub mod store;

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use serde_json::{Value, json};

pub use inputs::Subject;
pub use score::Weights;
pub use store::Change;

/// The live clients of a portal: every company, and every contact linked to no live company.
pub async fn clients(db: &impl ConnectionTrait, portal: i64, subject: Subject) -> Result<Vec<i64>, DbErr> {
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

/// Scores every client of `portal` again.
pub async fn full_pass(
    db: &DatabaseConnection,
    portal: i64,
    weights: Weights,
    cause: &Value,
) -> Result<Vec<Change>, DbErr> {
    let now = Utc::now();
    let mut changes = Vec::new();
    for subject in [Subject::Company, Subject::Contact] {
        let ids = clients(db, portal, subject).await?;
        changes.extend(store::rescore(db, portal, subject, &ids, cause, weights, now).await?);
    }
    Ok(changes)
}

/// Full passes over every portal, one at start and then every `every`.
pub async fn keep_scored(db: DatabaseConnection, weights: Weights, every: Duration) {
    loop {
        match entities::portal::Entity::find().all(&db).await {
            Ok(portals) => {
                for portal in portals {
                    let cause = json!({ "kind": "fullPass" });
                    match full_pass(&db, portal.portal_id, weights, &cause).await {
                        Ok(changes) => {
                            tracing::info!(
                                portal = portal.portal_id,
                                changed = changes.len(),
                                "health scores refreshed"
                            )
                        }
                        Err(err) => tracing::warn!(portal = portal.portal_id, error = %err, "scoring failed"),
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "listing portals to score failed"),
        }
        tokio::time::sleep(every).await;
    }
}
