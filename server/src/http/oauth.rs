//! `/oauth/hubspot/disconnect/{portal}`, and the pages the install answers with (see `install.rs`).

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use schema::{
    Role,
    audit::{self, Entry},
};

use super::AppState;

/// Text made safe inside HTML, attributes included.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub(super) fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p><p><a href=\"/oauth/hubspot/install\">Install again</a></p>",
        escape(title),
        escape(text)
    );
    (status, Html(body)).into_response()
}

pub(super) fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "OAuth is not configured",
        "Set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and TOKEN_ENCRYPTION_KEY to install the app.",
    )
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
    let entry = Entry::new(&caller.id, Some(portal), "POST /oauth/hubspot/disconnect").operation("disconnectPortal");
    // Marked before the tokens go, so no revoked install is left unmarked; the purge skips a portal that still
    // has tokens, and a failed revoke takes the mark back.
    let marked = match install.tokens.installed(portal).await {
        Ok(installed) => installed,
        Err(err) => return internal(portal, &err),
    };
    if marked && let Err(err) = crate::mirror::purge::mark_disconnected(&state.db, portal, chrono::Utc::now()).await {
        return internal(portal, &err);
    }
    match install.tokens.disconnect(portal).await {
        Ok(()) => {
            install.supervisor.stop(portal);
            audit::write(&state.db, entry).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => {
            if marked && let Err(err) = crate::mirror::purge::mark_connected(&state.db, portal).await {
                tracing::error!(portal, error = %err, "taking back the disconnect mark of a portal still installed");
            }
            audit::write(&state.db, crate::audit::failed_at_hubspot(entry, &err)).await;
            (StatusCode::BAD_GATEWAY, format!("disconnecting portal {portal} failed: {err}")).into_response()
        }
    }
}

/// A database failure during a disconnect: logged here, and the caller told nothing of it.
fn internal(portal: i64, err: &sea_orm::DbErr) -> Response {
    tracing::error!(portal, error = %err, "disconnecting a portal");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("disconnecting portal {portal} failed: internal error")).into_response()
}
