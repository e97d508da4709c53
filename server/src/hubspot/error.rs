//! What a failed call to HubSpot tells the caller: HubSpot's status, category, message and correlation id.

use std::time::Duration;

use serde_json::Value;

/// The category of [`HubSpotError::local`].
const LOCAL: &str = "LOCAL";
/// The category of [`HubSpotError::circuit_open`].
const CIRCUIT_OPEN: &str = "CIRCUIT_OPEN";

#[derive(Clone, Debug, thiserror::Error)]
#[error("HubSpot answered {}: {category}: {message}", status.map_or("nothing".to_owned(), |s| s.to_string()))]
pub struct HubSpotError {
    /// The HTTP status; `None` when no answer came (timeout, connection refused).
    pub status: Option<u16>,
    /// HubSpot's `category` (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`, `RATE_LIMITS`, …), or ours for transport
    /// failures (`TIMEOUT`; `UNREACHABLE`: no connection, nothing sent; `CONNECTION_LOST`: cut after sending) and
    /// for a call refused while HubSpot's circuit is open (`CIRCUIT_OPEN`).
    pub category: String,
    pub message: String,
    pub correlation_id: Option<String>,
    /// From `Retry-After`, when HubSpot sent one.
    pub retry_after: Option<Duration>,
    /// HubSpot's `errors` list, as sent (boxed: errors travel in every `Result`).
    pub errors: Box<Value>,
}

impl HubSpotError {
    /// An error answer: HubSpot's JSON body when it has one, the bare status otherwise.
    pub fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
        let category = text("category")
            .or_else(|| text("errorType"))
            .or_else(|| text("status").filter(|s| s != "error"))
            .unwrap_or_else(|| format!("HTTP_{status}"));
        let message = text("message").unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
        Self {
            status: Some(status),
            category,
            message,
            correlation_id: text("correlationId"),
            retry_after,
            errors: Box::new(json.get("errors").cloned().unwrap_or(Value::Null)),
        }
    }

    /// An answer we cannot read.
    pub fn bad_response(message: impl Into<String>) -> Self {
        Self {
            status: None,
            category: "BAD_RESPONSE".to_owned(),
            message: message.into(),
            correlation_id: None,
            retry_after: None,
            errors: Box::default(),
        }
    }

    /// A failure on our side before or after the call (reading or decrypting a stored token, a portal with no
    /// credential, a database error): HubSpot did not fail, so it is never retried as if it had.
    pub fn local(message: impl Into<String>) -> Self {
        Self { category: LOCAL.to_owned(), ..Self::bad_response(message) }
    }

    /// Whether this failure is ours ([`Self::local`]) rather than HubSpot's.
    pub fn is_local(&self) -> bool {
        self.category == LOCAL
    }

    /// A call not made because HubSpot's circuit is open (see `circuit`): its status and message are those of the
    /// failure that opened it, so the caller sees what HubSpot last answered.
    pub fn circuit_open(last: Option<&HubSpotError>) -> Self {
        let last_words = last.map_or_else(String::new, |e| format!("; the last call: {e}"));
        Self {
            status: last.and_then(|e| e.status),
            category: CIRCUIT_OPEN.to_owned(),
            message: format!("HubSpot is failing: calls to it are paused for a while{last_words}"),
            correlation_id: None,
            retry_after: None,
            errors: Box::default(),
        }
    }

    /// No answer at all. The URL is left out: OAuth paths carry tokens.
    pub fn transport(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let category = if err.is_timeout() {
            "TIMEOUT"
        } else if err.is_connect() {
            "UNREACHABLE"
        } else {
            "CONNECTION_LOST"
        };
        Self {
            status: None,
            category: category.to_owned(),
            message: format!("calling HubSpot failed: {err}"),
            correlation_id: None,
            retry_after: None,
            errors: Box::default(),
        }
    }

    /// The scopes HubSpot said the credential lacks (`MISSING_SCOPES`, 403); `None` for any other error.
    pub fn missing_scopes(&self) -> Option<Vec<String>> {
        (self.category == "MISSING_SCOPES").then(|| {
            let named = self.errors.as_array().into_iter().flatten();
            let scopes = named.flat_map(|e| e.pointer("/context/requiredGranularScopes").and_then(Value::as_array));
            scopes.flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
        })
    }

    /// Worth another try, as HubSpot's guidance says: rate limits (429), HubSpot's locks (423) and migrations (477),
    /// server errors, timeouts and refused connections. Other 4xx will fail the same way again, and so will a local
    /// error or an answer we cannot read: retrying those would only hide them behind HubSpot's name.
    pub fn retryable(&self) -> bool {
        if self.category == CIRCUIT_OPEN {
            return false;
        }
        match self.status {
            None => matches!(self.category.as_str(), "TIMEOUT" | "UNREACHABLE" | "CONNECTION_LOST"),
            Some(status) => matches!(status, 423 | 429 | 477) || status >= 500,
        }
    }

    /// HubSpot down or failing rather than refusing: no answer, or a 5xx. These open the circuit; a refusal (any
    /// 4xx, 429 included) is HubSpot up and answering.
    pub fn is_outage(&self) -> bool {
        let failed = match self.status {
            None => matches!(self.category.as_str(), "TIMEOUT" | "UNREACHABLE" | "CONNECTION_LOST"),
            Some(status) => status >= 500,
        };
        failed && self.category != CIRCUIT_OPEN
    }

    /// The same request may work later: [`Self::retryable`], or refused at once while the circuit is open.
    pub fn unavailable(&self) -> bool {
        self.retryable() || self.category == CIRCUIT_OPEN
    }

    /// Whether HubSpot may have done what a call asked although no success came back: it timed out, its
    /// connection was cut after sending, or a 5xx came (a proxy's 502/504/524 can follow work done behind it).
    /// A refused connection, a 4xx (429, 423 and 477 included) and an open circuit say it did nothing.
    pub fn outcome_unknown(&self) -> bool {
        let unanswered = match self.status {
            None => matches!(self.category.as_str(), "TIMEOUT" | "CONNECTION_LOST"),
            Some(status) => status >= 500,
        };
        unanswered && self.category != CIRCUIT_OPEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hubspots_error_body() {
        let body = br#"{"status":"error","message":"Property \"x\" does not exist","correlationId":"c-1","category":"VALIDATION_ERROR","errors":[{"code":"PROPERTY_DOESNT_EXIST"}]}"#;
        let e = HubSpotError::from_response(400, None, body);
        assert_eq!(e.category, "VALIDATION_ERROR");
        assert_eq!(e.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(e.errors[0]["code"], "PROPERTY_DOESNT_EXIST");
        assert!(!e.retryable());
        let limited = HubSpotError::from_response(
            429,
            None,
            br#"{"status":"error","message":"slow down","errorType":"RATE_LIMIT"}"#,
        );
        assert_eq!(limited.category, "RATE_LIMIT");
        assert!(limited.retryable());
        let oauth = HubSpotError::from_response(400, None, br#"{"status":"BAD_REFRESH_TOKEN","message":"missing"}"#);
        assert_eq!(oauth.category, "BAD_REFRESH_TOKEN");
        let bare = HubSpotError::from_response(502, None, b"<html>bad gateway</html>");
        assert_eq!(bare.category, "HTTP_502");
        assert!(bare.retryable());
        assert!(HubSpotError::from_response(477, None, b"").retryable());
    }

    #[test]
    fn only_hubspots_failures_are_retried() {
        let local = HubSpotError::local("decrypting the stored token failed");
        assert!(local.is_local() && !local.retryable(), "a local error is not HubSpot failing");
        assert!(!HubSpotError::bad_response("HubSpot's answer is not JSON").retryable());
        assert!(!HubSpotError::from_response(404, None, b"").is_local());
    }

    #[test]
    fn an_open_circuit_is_unavailable_but_not_retried_nor_an_outage() {
        let last = HubSpotError::from_response(503, None, b"");
        let open = HubSpotError::circuit_open(Some(&last));
        assert_eq!((open.status, open.category.as_str()), (Some(503), "CIRCUIT_OPEN"));
        assert!(open.unavailable() && !open.retryable() && !open.is_outage() && !open.outcome_unknown());
        assert!(last.outcome_unknown() && last.is_outage());
        let throttled = HubSpotError::from_response(429, None, b"");
        assert!(throttled.retryable() && !throttled.is_outage() && !throttled.outcome_unknown());
    }
}
