//! What a failed call to HubSpot tells the caller: HubSpot's status, category, message and correlation id.

use std::time::Duration;

use serde_json::Value;

/// The category of [`HubSpotError::local`].
const LOCAL: &str = "LOCAL";

#[derive(Clone, Debug, thiserror::Error)]
#[error("HubSpot answered {}: {category}: {message}", status.map_or("nothing".to_owned(), |s| s.to_string()))]
pub struct HubSpotError {
    /// The HTTP status; `None` when no answer came (timeout, connection refused).
    pub status: Option<u16>,
    /// HubSpot's `category` (`VALIDATION_ERROR`, `OBJECT_NOT_FOUND`, `RATE_LIMITS`, …), or ours for transport
    /// failures (`TIMEOUT`, `UNREACHABLE`).
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

    /// No answer at all. The URL is left out: OAuth paths carry tokens.
    pub fn transport(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let category = if err.is_timeout() { "TIMEOUT" } else { "UNREACHABLE" };
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
        match self.status {
            None => matches!(self.category.as_str(), "TIMEOUT" | "UNREACHABLE"),
            Some(status) => matches!(status, 423 | 429 | 477) || status >= 500,
        }
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
}
