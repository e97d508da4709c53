//! `/oauth/hubspot/install`, `/oauth/hubspot/callback` and `/oauth/hubspot/disconnect/{portal}`.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};

use schema::Role;

use super::AppState;
use crate::oauth::InstallError;

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p><p><a href=\"/oauth/hubspot/install\">Install again</a></p>",
        escape(title),
        escape(text)
    );
    (status, Html(body)).into_response()
}

fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "OAuth is not configured",
        "Set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and TOKEN_ENCRYPTION_KEY to install the app.",
    )
}

pub async fn install(State(state): State<AppState>) -> Response {
    let Some(install) = &state.install else { return not_configured() };
    match install.begin(&state.db).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "starting an install");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Install failed", "The gateway could not start the install.")
        }
    }
}

pub async fn callback(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(install) = &state.install else { return not_configured() };
    match install.finish(&state.db, &query).await {
        Ok(portal) => {
            page(StatusCode::OK, "Installed", &format!("Portal {portal} is connected; its data is being copied now."))
        }
        Err(err) => {
            tracing::warn!(error = %err, "install callback refused");
            let status = match err {
                InstallError::Denied(_) | InstallError::BadState(_) => StatusCode::BAD_REQUEST,
                InstallError::Exchange(_) => StatusCode::BAD_GATEWAY,
                InstallError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            page(status, "Install failed", &err.to_string())
        }
    }
}

/// Revokes a portal's tokens: for an admin whose credential grants the portal.
pub async fn disconnect(State(state): State<AppState>, headers: HeaderMap, Path(portal): Path<i64>) -> Response {
    let caller = match state.auth.caller(&state.db, &headers).await {
        Ok(caller) => caller,
        Err(err) => {
            let mut response = (StatusCode::UNAUTHORIZED, err.to_string()).into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(err.challenge()));
            return response;
        }
    };
    if caller.role < Role::Admin || !caller.portals.allows(portal) {
        let message = format!("disconnecting portal {portal} needs the admin role and a credential that grants it");
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    let Some(install) = &state.install else { return not_configured() };
    match install.tokens.disconnect(portal).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => (StatusCode::BAD_GATEWAY, format!("disconnecting portal {portal} failed: {err}")).into_response(),
    }
}
