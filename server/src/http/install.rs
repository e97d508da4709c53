//! The install, in two steps because a browser navigation cannot carry an API key: `POST /oauth/hubspot/install`
//! (an admin's key) answers a single-use link; `GET /oauth/hubspot/install/{ticket}`, opened in the admin's browser,
//! sets a cookie binding the install to that browser and goes on to HubSpot; `GET /oauth/hubspot/callback` finishes
//! it only in that browser. `GET /oauth/hubspot/install` alone explains this.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use schema::{
    ApiError, Role,
    audit::{self, Entry},
};
use serde_json::json;

use super::{
    AppState,
    oauth::{escape, not_configured, page},
};
use crate::oauth::{InstallError, Installed, STATE_TTL};

/// The cookie holding the browser's nonce; scoped to the install's paths, so no other request carries it.
const COOKIE: &str = "hsgw_install";

pub async fn explain(State(state): State<AppState>) -> Response {
    let Some(install) = &state.install else { return not_configured() };
    let body = format!(
        "<!doctype html><title>Install the HubSpot app</title><h1>Install the HubSpot app</h1>\
         <p>Installing takes an admin API key, which a link cannot carry. Ask for a single-use install link:</p>\
         <pre>curl -X POST -H 'Authorization: Bearer &lt;admin API key&gt;' {}/oauth/hubspot/install</pre>\
         <p>then open its <code>installUrl</code> in this browser within {} minutes, and approve the install at \
         HubSpot in the same browser.</p>",
        escape(&install.public_url),
        crate::oauth::TICKET_TTL.num_minutes()
    );
    Html(body).into_response()
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "status": "error", "code": code, "message": message });
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// An install link for an admin: 401 without a valid credential, 403 below admin.
pub async fn ticket(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match state.auth.caller(&state.db, &headers).await {
        Ok(caller) => caller,
        Err(err) => {
            let mut response = refused(StatusCode::UNAUTHORIZED, err.code(), &err.to_string());
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(err.challenge()));
            return response;
        }
    };
    if caller.role < Role::Admin {
        return refused(StatusCode::FORBIDDEN, "FORBIDDEN", "installing the HubSpot app needs the admin role");
    }
    let Some(install) = &state.install else {
        let message = "OAuth is not configured: set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and TOKEN_ENCRYPTION_KEY";
        return refused(StatusCode::NOT_FOUND, "NOT_CONFIGURED", message);
    };
    let entry = Entry::new(&caller.id, None, "POST /oauth/hubspot/install").operation("issueInstallTicket");
    match install.ticket(&state.db, &caller.id).await {
        Ok(link) => {
            tracing::info!(caller = %caller.id, "install link issued");
            audit::write(&state.db, entry).await;
            let body = json!({ "installUrl": link.url, "expiresAt": link.expires_at.to_rfc3339() });
            // The link is a secret until used: no cache may keep it.
            (StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "issuing an install link");
            audit::write(&state.db, entry.failed(&ApiError::from(err))).await;
            refused(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "the gateway could not issue an install link")
        }
    }
}

/// Opens an install link: binds a new install to this browser and sends it to HubSpot.
pub async fn open(State(state): State<AppState>, Path(ticket): Path<String>) -> Response {
    let Some(install) = &state.install else { return not_configured() };
    match install.open(&state.db, &ticket).await {
        Ok(opened) => {
            let mut response = Redirect::to(&opened.authorize_url).into_response();
            let cookie = cookie(&opened.nonce, STATE_TTL.num_seconds(), install.secure_cookie());
            let headers = response.headers_mut();
            headers.insert(header::SET_COOKIE, cookie);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // HubSpot's page need not learn the link it came from.
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(InstallError::BadTicket) => {
            page(StatusCode::BAD_REQUEST, "Install failed", &InstallError::BadTicket.to_string())
        }
        Err(err) => {
            tracing::error!(error = %err, "starting an install");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Install failed", "The gateway could not start the install.")
        }
    }
}

/// HubSpot sends the browser back here; the answer clears the cookie, whatever the outcome.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(install) = &state.install else { return not_configured() };
    let nonce = nonce(&headers);
    let mut response = match install.finish(&state.db, &query, nonce).await {
        Ok(Installed { portal, by }) => {
            // Who asked for the ticket is who installed: the callback itself carries no credential.
            let by = by.as_deref().unwrap_or("unknown");
            let entry = Entry::new(by, Some(portal), "GET /oauth/hubspot/callback").operation("installPortal");
            audit::write(&state.db, entry).await;
            page(StatusCode::OK, "Installed", &format!("Portal {portal} is connected; its data is being copied now."))
        }
        Err(err) => {
            tracing::warn!(error = %err, "install callback refused");
            let status = match err {
                InstallError::Denied(_)
                | InstallError::BadTicket
                | InstallError::BadState
                | InstallError::OtherBrowser => StatusCode::BAD_REQUEST,
                InstallError::Exchange(_) => StatusCode::BAD_GATEWAY,
                InstallError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            page(status, "Install failed", &err.to_string())
        }
    };
    response.headers_mut().insert(header::SET_COOKIE, cookie("", 0, install.secure_cookie()));
    response
}

/// The install cookie: readable by no script, sent on HubSpot's top-level redirect back (Lax) but not on other
/// sites' requests, and on https only when the gateway is served over https.
fn cookie(nonce: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{COOKIE}={nonce}; HttpOnly; SameSite=Lax; Path=/oauth/hubspot; Max-Age={max_age}{secure}");
    // The nonce is hex: the value is always a valid header.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("hsgw_install=; Max-Age=0"))
}

/// The install cookie's nonce, from any `Cookie` header.
fn nonce(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_is_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(nonce(&headers), None);
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; hsgw_install_x=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2;hsgw_install=abc ; c=3"));
        assert_eq!(nonce(&headers), Some("abc"));
    }

    #[test]
    fn the_cookie_is_secure_only_on_https() {
        let plain = cookie("ab", 600, false);
        assert_eq!(plain, "hsgw_install=ab; HttpOnly; SameSite=Lax; Path=/oauth/hubspot; Max-Age=600");
        assert!(cookie("ab", 0, true).to_str().unwrap().ends_with("Max-Age=0; Secure"));
    }
}
