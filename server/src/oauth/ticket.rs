//! Install tickets: a browser navigation carries no API key, so an admin's API call gets a single-use link to open
//! in the browser instead. Only the ticket's hash is stored; it works once, for a few minutes.

use chrono::{DateTime, Duration, Utc};
use entities::oauth_ticket::{self, Column as C};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::single_use;

/// Long enough to switch from a terminal to a browser, short enough that a leaked link is soon worthless.
pub const TICKET_TTL: Duration = Duration::minutes(5);

/// A ticket as handed to the admin: the only time its secret is seen.
#[derive(Debug)]
pub struct Ticket {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// Makes a ticket for `created_by`, clearing expired ones first so the table stays as small as its live tickets.
pub async fn issue(db: &DatabaseConnection, created_by: &str) -> Result<Ticket, DbErr> {
    let now = Utc::now();
    oauth_ticket::Entity::delete_many().filter(C::ExpiresAt.lte(now)).exec(db).await?;
    let secret = single_use::fresh();
    let row = oauth_ticket::ActiveModel {
        ticket_hash: Set(single_use::digest(&secret)),
        created_by: Set(created_by.to_owned()),
        expires_at: Set(now + TICKET_TTL),
        created_at: Set(now),
    };
    oauth_ticket::Entity::insert(row).exec_without_returning(db).await?;
    Ok(Ticket { secret, expires_at: now + TICKET_TTL })
}

/// Uses the ticket up: who asked for it, if it was live; None if unknown, used or expired.
pub async fn redeem(db: &DatabaseConnection, secret: &str) -> Result<Option<String>, DbErr> {
    let live = Condition::all().add(C::TicketHash.eq(single_use::digest(secret))).add(C::ExpiresAt.gt(Utc::now()));
    Ok(single_use::take::<oauth_ticket::Entity, _>(db, live).await?.map(|row| row.created_by))
}
