//! Installing the public app on a portal. An admin asks for a single-use ticket ([`Install::ticket`]); opening it
//! in a browser ([`Install::open`]) makes an expiring `state` bound to that browser and sends it to HubSpot's
//! authorize page; the callback ([`Install::finish`]) takes the state (once, from that browser only), exchanges the
//! code, stores the tokens encrypted, registers the portal and has the supervisor keep it in step. Any failure stores nothing.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};

use super::{OAuthTokens, state, ticket};
use crate::{hubspot::HubSpotError, mirror, sync};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("HubSpot did not grant access: {0}")]
    Denied(String),
    #[error("this install link is unknown, already used or expired; ask for a new one (POST /oauth/hubspot/install)")]
    BadTicket,
    #[error("this install is unknown, already used or expired; start the install again")]
    BadState,
    #[error(
        "this install was started in another browser, or this browser lost its cookie; start the install again and \
         finish it in the same browser"
    )]
    OtherBrowser,
    #[error("HubSpot refused the authorization code: {0}")]
    Exchange(HubSpotError),
    #[error("storing the install failed: {0}")]
    Db(#[from] DbErr),
}

pub struct Install {
    pub tokens: Arc<OAuthTokens>,
    /// HubSpot's authorize page (`https://app.hubspot.com/oauth/authorize`).
    pub authorize_url: String,
    /// Keeps each installed portal in step (backfill, sweeps, reference data) from its install until its disconnect.
    pub supervisor: sync::Supervisor,
    /// `PUBLIC_URL`, without a trailing slash: install links start with it, and on https the browser's cookie is
    /// `Secure`.
    pub public_url: String,
}

/// A ticket as the admin receives it.
#[derive(Debug)]
pub struct InstallLink {
    /// `{PUBLIC_URL}/oauth/hubspot/install/{ticket}`, to open in the browser that will finish the install.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A finished install.
#[derive(Debug)]
pub struct Installed {
    pub portal: i64,
    /// The caller who asked for the ticket (`key:{id}`, …); `None` for an install started before tickets named one.
    pub by: Option<String>,
}

/// Where an opened ticket sends the browser, and the nonce it must keep.
#[derive(Debug)]
pub struct Opened {
    /// HubSpot's authorize page, with the state.
    pub authorize_url: String,
    /// For the browser's cookie; the callback must bring it.
    pub nonce: String,
}

impl Install {
    /// A single-use install link for the admin `created_by`.
    pub async fn ticket(&self, db: &DatabaseConnection, created_by: &str) -> Result<InstallLink, DbErr> {
        let ticket = ticket::issue(db, created_by).await?;
        let url = format!("{}/oauth/hubspot/install/{}", self.public_url, ticket.secret);
        Ok(InstallLink { url, expires_at: ticket.expires_at })
    }

    /// Uses the ticket up and starts the install in the browser that opened it.
    pub async fn open(&self, db: &DatabaseConnection, ticket: &str) -> Result<Opened, InstallError> {
        let created_by = ticket::redeem(db, ticket).await?.ok_or(InstallError::BadTicket)?;
        let pending = state::bind(db, &created_by).await?;
        let app = self.tokens.app();
        let scopes = app.scopes.join(" ");
        let url = reqwest::Url::parse_with_params(
            &self.authorize_url,
            [
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", app.redirect_uri.as_str()),
                ("scope", scopes.as_str()),
                ("state", pending.state.as_str()),
            ],
        )
        .map_err(|e| DbErr::Custom(format!("HUBSPOT_AUTHORIZE_URL is not a URL: {e}")))?;
        Ok(Opened { authorize_url: url.into(), nonce: pending.nonce })
    }

    /// Whether the browser's cookie may be `Secure` (a cookie so marked is not kept over plain http).
    pub fn secure_cookie(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The callback's query and the browser's nonce (its cookie): takes the state (once, and only from the browser
    /// it was bound to), exchanges the code, stores the tokens and starts the backfill. The installed portal, and
    /// who started the install.
    pub async fn finish(
        &self,
        db: &DatabaseConnection,
        query: &HashMap<String, String>,
        nonce: Option<&str>,
    ) -> Result<Installed, InstallError> {
        let given = query.get("state").map(String::as_str).unwrap_or_default();
        // Used up whatever happens next, even from the wrong browser: a state never works twice.
        let pending = state::take(db, given).await?.ok_or(InstallError::BadState)?;
        if !state::same_browser(&pending, nonce) {
            return Err(InstallError::OtherBrowser);
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
        // Installed again within a disconnect's grace period: the mirror stays, and is brought up to date.
        mirror::purge::mark_connected(db, portal).await?;
        self.supervisor.supervise(portal);
        tracing::info!(portal, by = pending.created_by.as_deref().unwrap_or("?"), "HubSpot app installed");
        Ok(Installed { portal, by: pending.created_by })
    }
}
