//! Installing the public app on a portal: a redirect to HubSpot's authorize page with a single-use, expiring
//! `state`, then the callback that checks it, exchanges the code, stores the tokens encrypted, registers the portal
//! and starts its backfill. Any failure stores nothing.

use std::{collections::HashMap, sync::Arc};

use chrono::{Duration, Utc};
use entities::oauth_state;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

use super::OAuthTokens;
use crate::{
    hubspot::{HubSpot, HubSpotError},
    mirror, sync,
};

const STATE_TTL: Duration = Duration::minutes(10);

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("HubSpot did not grant access: {0}")]
    Denied(String),
    #[error("this install link is {0}; start the install again")]
    BadState(&'static str),
    #[error("HubSpot refused the authorization code: {0}")]
    Exchange(HubSpotError),
    #[error("storing the install failed: {0}")]
    Db(#[from] DbErr),
}

pub struct Install {
    pub tokens: Arc<OAuthTokens>,
    /// HubSpot's authorize page (`https://app.hubspot.com/oauth/authorize`).
    pub authorize_url: String,
    /// The client for installed portals, authenticated by their OAuth tokens (the backfill after an install); one
    /// for every install, so installs share its rate budgets and read cache.
    pub hubspot: HubSpot,
}

impl Install {
    /// Where to send the browser: HubSpot's authorize page, with a fresh state remembered for ten minutes.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<String, DbErr> {
        let state: String = (0..24).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let now = Utc::now();
        let row = oauth_state::ActiveModel {
            state: Set(state.clone()),
            expires_at: Set(now + STATE_TTL),
            created_at: Set(now),
        };
        oauth_state::Entity::insert(row).exec_without_returning(db).await?;
        let app = self.tokens.app();
        let scopes = app.scopes.join(" ");
        let url = reqwest::Url::parse_with_params(
            &self.authorize_url,
            [
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", app.redirect_uri.as_str()),
                ("scope", scopes.as_str()),
                ("state", state.as_str()),
            ],
        )
        .map_err(|e| DbErr::Custom(format!("HUBSPOT_AUTHORIZE_URL is not a URL: {e}")))?;
        Ok(url.into())
    }

    /// The callback's query: checks the state (once), exchanges the code, stores the tokens and starts the backfill.
    /// The installed portal.
    pub async fn finish(&self, db: &DatabaseConnection, query: &HashMap<String, String>) -> Result<i64, InstallError> {
        let state = query.get("state").map(String::as_str).unwrap_or_default();
        // Used up whatever happens next: a state never works twice.
        let pending = oauth_state::Entity::find_by_id(state.to_owned()).one(db).await?;
        oauth_state::Entity::delete_by_id(state.to_owned()).exec(db).await?;
        match pending {
            None => return Err(InstallError::BadState("unknown or already used")),
            Some(p) if p.expires_at < Utc::now() => return Err(InstallError::BadState("expired")),
            Some(_) => {}
        }
        if let Some(error) = query.get("error") {
            let why = query.get("error_description").cloned().unwrap_or_else(|| error.clone());
            return Err(InstallError::Denied(why));
        }
        let code = query.get("code").ok_or(InstallError::Denied("no authorization code".to_owned()))?;
        let tokens = self.tokens.exchange(code).await.map_err(InstallError::Exchange)?;
        let portal = self.tokens.portal_of(&tokens.access_token).await.map_err(InstallError::Exchange)?;
        self.tokens.store(portal, &tokens).await?;
        mirror::ensure_portal(db, portal, &format!("Portal {portal}")).await?;
        let hubspot = self.hubspot.clone();
        let db = db.clone();
        tokio::spawn(async move {
            if let Err(err) = sync::backfill(&db, &hubspot, portal, false, &sync::Progress::for_terminal()).await {
                tracing::error!(portal, error = %err, "backfill after install stopped");
            }
        });
        tracing::info!(portal, "HubSpot app installed");
        Ok(portal)
    }
}
