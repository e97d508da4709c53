//! A portal's OAuth tokens: stored encrypted, read back on demand, and refreshed a few minutes before they expire,
//! one refresh at a time per portal however many calls wait on it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};
use entities::oauth_token;
use futures::future::BoxFuture;
use reqwest::Method;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, sea_query::OnConflict};
use serde_json::Value;

use super::crypto::Keys;
use crate::hubspot::{HubSpot, HubSpotError, TokenSource};

/// Refresh when a token has less than this left.
const REFRESH_AHEAD: Duration = Duration::minutes(5);

/// The public app the gateway installs as.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

/// What HubSpot's token endpoint hands out.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for TokenSet {
    /// Tokens never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenSet {
    fn from_answer(answer: &Value, scopes: Vec<String>) -> Result<Self, HubSpotError> {
        let text = |key: &str| {
            answer[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| HubSpotError::bad_response(format!("no {key} in HubSpot's token answer")))
        };
        let expires_in = answer["expires_in"].as_i64().unwrap_or(1800);
        Ok(Self {
            access_token: text("access_token")?,
            refresh_token: text("refresh_token")?,
            expires_at: Utc::now() + Duration::seconds(expires_in),
            scopes,
        })
    }
}

pub struct OAuthTokens {
    db: DatabaseConnection,
    keys: Arc<Keys>,
    app: OAuthApp,
    /// Calls HubSpot's OAuth endpoints (no bearer token).
    hubspot: HubSpot,
    refreshing: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// Access tokens already read, until they are due for a refresh: an upstream call then costs no database read.
    /// Another replica's refresh leaves ours valid until it expires, as HubSpot keeps old access tokens working.
    current: Mutex<HashMap<i64, (String, DateTime<Utc>)>>,
}

impl OAuthTokens {
    pub fn new(db: DatabaseConnection, keys: Arc<Keys>, app: OAuthApp, hubspot: HubSpot) -> Self {
        Self { db, keys, app, hubspot, refreshing: Mutex::default(), current: Mutex::default() }
    }

    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Trades an authorization code for tokens (not stored yet).
    pub async fn exchange(&self, code: &str) -> Result<TokenSet, HubSpotError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.app.redirect_uri.as_str()),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", self.app.client_secret.as_str()),
        ];
        let answer = self.hubspot.unauthenticated(Method::POST, "/oauth/v1/token", Some(&form)).await?;
        TokenSet::from_answer(&answer, self.app.scopes.clone())
    }

    /// The portal (`hub_id`) an access token belongs to.
    pub async fn portal_of(&self, access_token: &str) -> Result<i64, HubSpotError> {
        let path = format!("/oauth/v1/access-tokens/{access_token}");
        let info = self.hubspot.unauthenticated(Method::GET, &path, None).await?;
        info["hub_id"].as_i64().ok_or_else(|| HubSpotError::bad_response("HubSpot's token info has no hub_id"))
    }

    pub async fn store(&self, portal: i64, tokens: &TokenSet) -> Result<(), DbErr> {
        let (key_id, access) = self.keys.encrypt(&tokens.access_token);
        let (_, refresh) = self.keys.encrypt(&tokens.refresh_token);
        let now = Utc::now();
        let row = oauth_token::ActiveModel {
            portal_id: Set(portal),
            key_id: Set(key_id),
            access_token_enc: Set(access),
            refresh_token_enc: Set(refresh),
            expires_at: Set(tokens.expires_at),
            scopes: Set(tokens.scopes.join(" ")),
            created_at: Set(now),
            updated_at: Set(now),
        };
        use oauth_token::Column as C;
        let on_conflict = OnConflict::column(C::PortalId)
            .update_columns([C::KeyId, C::AccessTokenEnc, C::RefreshTokenEnc, C::ExpiresAt, C::Scopes, C::UpdatedAt])
            .to_owned();
        oauth_token::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(&self.db).await.map(drop)
    }

    pub async fn load(&self, portal: i64) -> Result<Option<TokenSet>, HubSpotError> {
        let row = oauth_token::Entity::find_by_id(portal)
            .one(&self.db)
            .await
            .map_err(|e| HubSpotError::local(format!("reading stored tokens: {e}")))?;
        let Some(row) = row else { return Ok(None) };
        let decrypt =
            |data: &[u8]| self.keys.decrypt(&row.key_id, data).map_err(|e| HubSpotError::local(e.to_string()));
        Ok(Some(TokenSet {
            access_token: decrypt(&row.access_token_enc)?,
            refresh_token: decrypt(&row.refresh_token_enc)?,
            expires_at: row.expires_at,
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        }))
    }

    /// Whether `portal` is installed (has stored tokens).
    pub async fn installed(&self, portal: i64) -> Result<bool, DbErr> {
        Ok(oauth_token::Entity::find_by_id(portal).count(&self.db).await? > 0)
    }

    /// Disconnect: revokes the refresh token at HubSpot, then forgets the tokens.
    pub async fn disconnect(&self, portal: i64) -> Result<(), HubSpotError> {
        if let Some(tokens) = self.load(portal).await? {
            let path = format!("/oauth/v1/refresh-tokens/{}", tokens.refresh_token);
            match self.hubspot.unauthenticated(Method::DELETE, &path, None).await {
                Ok(_) => {}
                // Already revoked at HubSpot: forgetting it here is all that is left to do.
                Err(err) if err.status == Some(404) => {}
                Err(err) => return Err(err),
            }
        }
        self.current.lock().expect("token cache").remove(&portal);
        oauth_token::Entity::delete_by_id(portal)
            .exec(&self.db)
            .await
            .map_err(|e| HubSpotError::local(format!("deleting stored tokens: {e}")))?;
        Ok(())
    }

    fn lock_for(&self, portal: i64) -> Arc<tokio::sync::Mutex<()>> {
        self.refreshing.lock().expect("refresh locks").entry(portal).or_default().clone()
    }

    /// A current access token for `portal`, refreshing it first when it is about to expire.
    pub async fn access_token(&self, portal: i64) -> Result<String, HubSpotError> {
        let due = |expires_at: DateTime<Utc>| expires_at - Utc::now() <= REFRESH_AHEAD;
        if let Some((token, expires_at)) = self.current.lock().expect("token cache").get(&portal)
            && !due(*expires_at)
        {
            return Ok(token.clone());
        }
        let token = self.read_or_refresh(portal).await?;
        self.current.lock().expect("token cache").insert(portal, (token.access_token.clone(), token.expires_at));
        Ok(token.access_token)
    }

    /// The stored tokens, refreshed first when they are due.
    async fn read_or_refresh(&self, portal: i64) -> Result<TokenSet, HubSpotError> {
        let fresh = |t: &TokenSet| t.expires_at - Utc::now() > REFRESH_AHEAD;
        let missing = || HubSpotError::local(format!("portal {portal} has no OAuth install"));
        let tokens = self.load(portal).await?.ok_or_else(missing)?;
        if fresh(&tokens) {
            return Ok(tokens);
        }
        let lock = self.lock_for(portal);
        let _one_at_a_time = lock.lock().await;
        // Whoever held the lock before may have refreshed already.
        let tokens = self.load(portal).await?.ok_or_else(missing)?;
        if fresh(&tokens) {
            return Ok(tokens);
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_str()),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", self.app.client_secret.as_str()),
        ];
        let answer = self.hubspot.unauthenticated(Method::POST, "/oauth/v1/token", Some(&form)).await?;
        let renewed = TokenSet::from_answer(&answer, tokens.scopes)?;
        self.store(portal, &renewed).await.map_err(|e| HubSpotError::local(format!("storing tokens: {e}")))?;
        tracing::info!(portal, expires_at = %renewed.expires_at, "refreshed the OAuth access token");
        Ok(renewed)
    }
}

impl TokenSource for OAuthTokens {
    fn token(&self, portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>> {
        Box::pin(self.access_token(portal))
    }
}
