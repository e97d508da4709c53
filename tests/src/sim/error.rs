//! HubSpot's error bodies: `{status: "error", message, correlationId, category, errors?, context?}`.

use axum::{
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use hubspot::ObjectType;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct SimError {
    pub status: StatusCode,
    pub category: &'static str,
    pub message: String,
    pub errors: Vec<Value>,
    /// Seconds, for 429 and 477.
    pub retry_after: Option<u64>,
    /// Extra top-level fields (`policyName`, `errorType`).
    pub extra: Vec<(&'static str, Value)>,
}

impl SimError {
    pub fn new(status: StatusCode, category: &'static str, message: impl Into<String>) -> Self {
        Self { status, category, message: message.into(), errors: Vec::new(), retry_after: None, extra: Vec::new() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub fn not_found(object_type: ObjectType, id: i64) -> Self {
        let mut e = Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "resource not found");
        e.errors.push(json!({ "message": format!("{} {id} was not found", object_type.singular()), "code": "OBJECT_NOT_FOUND", "context": { "id": [id.to_string()] } }));
        e
    }

    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    pub fn bad_object_type(name: &str) -> Self {
        Self::validation(format!("Unable to infer object type from: {name}"))
    }

    pub fn unknown_properties(names: &[&String]) -> Self {
        let message = names.iter().map(|n| format!("Property \"{n}\" does not exist")).collect::<Vec<_>>().join(",");
        let mut e = Self::validation(message);
        e.errors = names
            .iter()
            .map(|n| {
                json!({ "message": format!("Property \"{n}\" does not exist"), "code": "PROPERTY_DOESNT_EXIST",
                        "context": { "propertyName": [n] } })
            })
            .collect();
        e
    }

    /// HubSpot's answer to values it will not take: the problems listed in the message, as its v3 API words it,
    /// and in `errors` with their codes (`INVALID_OPTION`, `READ_ONLY_VALUE`, `INVALID_INTEGER`, …).
    pub fn invalid_values(problems: &[super::store::Invalid]) -> Self {
        let listed: Vec<Value> = problems
            .iter()
            .map(|p| {
                json!({ "isValid": false, "message": p.message, "error": p.code, "name": p.name,
                        "localizedErrorMessage": p.message })
            })
            .collect();
        let mut e = Self::validation(format!("Property values were not valid: {}", Value::Array(listed)));
        e.errors = problems
            .iter()
            .map(|p| json!({ "message": p.message, "code": p.code, "context": { "propertyName": [p.name] } }))
            .collect();
        e
    }

    /// A `VALIDATION_ERROR` about one field of a request body, with HubSpot's code for it.
    pub fn field_error(code: &'static str, message: impl Into<String>, field: &str) -> Self {
        let mut e = Self::validation(message);
        e.errors.push(json!({ "message": e.message, "code": code, "context": { "field": [field] } }));
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_AUTHENTICATION", message)
    }

    pub fn expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 0 second(s) ago.",
        )
    }

    pub fn rate_limited(policy: &'static str, retry_after: u64) -> Self {
        let message = match policy {
            "SECONDLY" => "You have reached your secondly limit.",
            _ => "You have reached your ten_secondly_rolling limit.",
        };
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITS", message);
        e.retry_after = Some(retry_after);
        e.extra = vec![("errorType", json!("RATE_LIMIT")), ("policyName", json!(policy))];
        e
    }

    pub fn server(status: StatusCode) -> Self {
        Self::new(status, "INTERNAL_ERROR", "The simulator failed this request on purpose (chaos).")
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        for (key, value) in &self.extra {
            body[*key] = value.clone();
        }
        body
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

/// A UUID-shaped id, as HubSpot puts in every error.
pub fn correlation_id() -> String {
    let n: u128 = rand::random();
    let hex = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
