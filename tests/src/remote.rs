//! A gateway process reached over its port, as its callers and HubSpot reach it: GraphQL over HTTP and webhook
//! deliveries signed v3.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use server::webhooks::signature;

/// The gateway on `127.0.0.1:port` (its `PUBLIC_URL` is `http://127.0.0.1:port`, which signatures cover).
#[derive(Clone)]
pub struct Remote {
    pub port: u16,
    client: Client,
}

impl Remote {
    pub fn new(port: u16) -> Self {
        // Each request is bounded, so a request the gateway never answers fails the test instead of hanging it.
        let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
        Self { port, client }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A GraphQL request with `key` as bearer (none with `AUTH=off`): its status and JSON body; `Err` when no
    /// answer came (refused, cut).
    pub async fn graphql(
        &self,
        key: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<(StatusCode, Value), String> {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::String(body))))
    }

    /// The text of `/metrics`; `Err` when no answer came.
    pub async fn metrics(&self) -> Result<String, String> {
        let response = self.client.get(self.url("/metrics")).send().await.map_err(|e| e.to_string())?;
        response.text().await.map_err(|e| e.to_string())
    }

    /// The `data` of a request that must succeed.
    pub async fn data(&self, key: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(key, query, variables).await.expect("an answer");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    /// Delivers `events` to `/webhooks/hubspot` signed v3 with `secret`, now: the status and JSON body; `Err` when
    /// no answer came.
    pub async fn deliver(&self, secret: &str, events: &Value) -> Result<(StatusCode, Value), String> {
        let url = self.url("/webhooks/hubspot");
        let body = serde_json::to_vec(events).expect("events serialise");
        let timestamp = chrono::Utc::now().timestamp_millis().to_string();
        let signed = signature::Request { method: "POST", uri: &url, body: &body };
        let response = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("X-HubSpot-Signature-V3", STANDARD.encode(signature::v3(secret, &signed, &timestamp)))
            .header("X-HubSpot-Request-Timestamp", timestamp)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::String(body))))
    }
}

/// One `propertyChange` event of `portal`'s `object` (`contact`, `company`, …) `id`, occurring now.
pub fn property_change(portal: i64, event_id: i64, object: &str, id: i64, property: &str, value: &str) -> Value {
    json!({ "eventId": event_id, "subscriptionId": 1, "portalId": portal, "appId": 1,
            "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": format!("{object}.propertyChange"),
            "objectId": id, "propertyName": property, "propertyValue": value, "attemptNumber": 0 })
}
