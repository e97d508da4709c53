//! The OAuth `state` of a pending install, bound to the browser that started it: the browser keeps a random nonce in
//! a cookie, the row keeps its hash, and the callback must bring the nonce. Without the binding, anyone holding a
//! state (from a log, a shared screen, or their own install) could make another browser finish it.

use chrono::{Duration, Utc};
use entities::oauth_state::{self, Column as C};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::single_use;

/// How long a user may take at HubSpot's consent page; the browser's cookie lives as long.
pub const STATE_TTL: Duration = Duration::minutes(10);

/// A pending install as its browser sees it.
#[derive(Debug)]
pub struct Pending {
    /// Sent to HubSpot, which sends it back to the callback.
    pub state: String,
    /// Kept in the browser's cookie; only its hash is stored.
    pub nonce: String,
}

/// Makes a state bound to a fresh nonce, clearing expired states first so abandoned installs do not pile up.
pub async fn bind(db: &DatabaseConnection, created_by: &str) -> Result<Pending, DbErr> {
    let now = Utc::now();
    oauth_state::Entity::delete_many().filter(C::ExpiresAt.lte(now)).exec(db).await?;
    let pending = Pending { state: single_use::fresh(), nonce: single_use::fresh() };
    let row = oauth_state::ActiveModel {
        state: Set(pending.state.clone()),
        expires_at: Set(now + STATE_TTL),
        created_at: Set(now),
        browser_hash: Set(Some(single_use::digest(&pending.nonce))),
        created_by: Set(Some(created_by.to_owned())),
    };
    oauth_state::Entity::insert(row).exec_without_returning(db).await?;
    Ok(pending)
}

/// Uses the state up, whatever comes next: its row if it was live; None if unknown, used or expired.
pub async fn take(db: &DatabaseConnection, state: &str) -> Result<Option<oauth_state::Model>, DbErr> {
    let live = Condition::all().add(C::State.eq(state)).add(C::ExpiresAt.gt(Utc::now()));
    single_use::take::<oauth_state::Entity, _>(db, live).await
}

/// Whether `nonce` (from the callback's cookie) is the one `row` was bound to.
pub fn same_browser(row: &oauth_state::Model, nonce: Option<&str>) -> bool {
    match (nonce, row.browser_hash.as_deref()) {
        (Some(nonce), Some(hash)) => single_use::matches(nonce, hash),
        _ => false,
    }
}
