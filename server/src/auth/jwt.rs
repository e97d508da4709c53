//! JSON Web Tokens from a frontend's own identity provider: HS256 with a shared secret, or RS256 / ES256 with the
//! public keys the provider publishes as a JWKS. A valid token says who the caller is (`sub`), which portals it may
//! read and its role; the caller of `verify` decides what those mean.
//!
//! The JWKS is fetched on first use and kept in memory. A token naming a key id the cache lacks triggers a refetch
//! (keys rotate), but at most once per refetch interval, so a flood of made-up key ids cannot turn the gateway into a
//! load generator against the identity provider. The cache also goes stale after an hour, so a key the provider has
//! withdrawn stops being accepted.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Longest token looked at; real ones are a few kilobytes, and this bounds the work garbage can cause.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Largest JWKS document read; a provider publishes a handful of keys.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// Shorter HS256 secrets can be brute-forced from one captured token (RFC 7518 asks for at least 256 bits).
const MIN_SECRET_BYTES: usize = 32;

/// How callers' JWTs are checked; each field is also an environment variable of the gateway's config.
#[derive(Clone)]
pub struct JwtConfig {
    /// HS256 shared secret (JWT_SECRET). Never printed: Debug redacts it.
    pub secret: Option<String>,
    /// JWKS URL for RS256 / ES256 keys (JWT_JWKS_URL).
    pub jwks_url: Option<String>,
    /// Required `iss`, when set (JWT_ISSUER).
    pub issuer: Option<String>,
    /// Required `aud`, when set (JWT_AUDIENCE).
    pub audience: Option<String>,
    /// Claim holding the portals the caller may read: a JSON array of numbers or numeric strings, or one
    /// number/string (JWT_PORTALS_CLAIM; default "portals").
    pub portals_claim: String,
    /// Claim holding the role name (JWT_ROLE_CLAIM; default "role").
    pub role_claim: String,
}

impl Default for JwtConfig {
    // By hand so the claim names start at their documented defaults rather than empty strings.
    fn default() -> Self {
        Self {
            secret: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            portals_claim: "portals".into(),
            role_claim: "role".into(),
        }
    }
}

impl JwtConfig {
    /// Whether tokens can be checked at all: a secret or a JWKS URL is set (an empty env var counts as unset).
    pub fn is_enabled(&self) -> bool {
        non_empty(&self.secret).is_some() || non_empty(&self.jwks_url).is_some()
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("portals_claim", &self.portals_claim)
            .field("role_claim", &self.role_claim)
            .finish()
    }
}

/// Who a valid token says the caller is.
#[derive(Clone, Debug, PartialEq)]
pub struct JwtCaller {
    /// `sub`.
    pub subject: String,
    /// The portals claim, as i64 ids (may be empty if the claim is absent: the caller decides what that means).
    pub portals: Vec<i64>,
    /// The role claim's text, if present (the caller parses it).
    pub role: Option<String>,
}

/// Why a token was refused. Messages never quote the token or the secret.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's issuer is not {expected}")]
    WrongIssuer { expected: String },
    #[error("the token's audience is not {expected}")]
    WrongAudience { expected: String },
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token's key id (kid) is not among the identity provider's keys")]
    UnknownKey,
    #[error("the token names no key id (kid)")]
    MissingKeyId,
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token's {claim} claim is not {expected}")]
    BadClaim { claim: String, expected: &'static str },
    #[error("the token's algorithm is refused: {0}")]
    Algorithm(&'static str),
    #[error("the identity provider's keys (JWKS) could not be fetched")]
    JwksUnavailable,
}

impl JwtError {
    /// A short reason code for the 401 answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired => "TOKEN_EXPIRED",
            Self::NotYetValid => "TOKEN_NOT_YET_VALID",
            Self::WrongIssuer { .. } => "TOKEN_WRONG_ISSUER",
            Self::WrongAudience { .. } => "TOKEN_WRONG_AUDIENCE",
            Self::BadSignature => "TOKEN_BAD_SIGNATURE",
            Self::UnknownKey | Self::MissingKeyId => "TOKEN_UNKNOWN_KEY",
            Self::Malformed(_) | Self::BadClaim { .. } => "TOKEN_MALFORMED",
            Self::Algorithm(_) => "TOKEN_ALGORITHM",
            Self::JwksUnavailable => "JWKS_UNAVAILABLE",
        }
    }
}

/// Checks tokens against a [`JwtConfig`]; one per gateway, shared by every request.
pub struct JwtVerifier {
    config: JwtConfig,
    hmac_key: Option<DecodingKey>,
    jwks_url: Option<String>,
    /// `exp` required, `nbf` checked when present, `iss` / `aud` required when configured; the algorithm is set
    /// per token.
    validation: Validation,
    http: reqwest::Client,
    keys: RwLock<Option<KeySet>>,
    /// Held while fetching, so concurrent verifies share one fetch instead of each starting their own.
    fetch: Mutex<FetchState>,
    refetch_interval: Duration,
    fetch_timeout: Duration,
    max_key_age: Duration,
}

/// The JWKS as last fetched: usable keys by `kid`.
struct KeySet {
    keys: HashMap<String, Arc<JwksKey>>,
    fetched_at: Instant,
}

struct JwksKey {
    key: DecodingKey,
    /// The one algorithm this key verifies, or `None` for a key of a kind or algorithm not accepted here.
    algorithm: Option<Algorithm>,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

/// What a JWKS fetch can run into; logged, never shown to callers.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("the identity provider answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("the answer is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not a JWKS document: {0}")]
    NotAKeySet(#[source] serde_json::Error),
}

/// The header fields read before verifying, parsed leniently so `alg: none` and friends are named as such.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

impl JwtVerifier {
    pub fn new(config: JwtConfig, http: reqwest::Client) -> Self {
        // Pick the crypto provider explicitly: jsonwebtoken panics at first use if feature unification ever enables
        // a second backend and none was installed. An error here only means one is installed already.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();

        let hmac_key = non_empty(&config.secret).and_then(|secret| {
            if secret.len() < MIN_SECRET_BYTES {
                tracing::warn!(
                    "JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; HS256 tokens can be forged by guessing it"
                );
            }
            DecodingKey::from_secret(secret.as_bytes()).ok()
        });
        let issuer = non_empty(&config.issuer).map(str::to_owned);
        let audience = non_empty(&config.audience).map(str::to_owned);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without this, jsonwebtoken refuses every token that carries an `aud` at all.
            None => validation.validate_aud = false,
        }
        // jsonwebtoken lets a token without `iss` / `aud` through when they are merely set: require them.
        validation.set_required_spec_claims(&required);

        let config = JwtConfig {
            issuer,
            audience,
            portals_claim: or_default(config.portals_claim, "portals"),
            role_claim: or_default(config.role_claim, "role"),
            ..config
        };
        Self {
            jwks_url: non_empty(&config.jwks_url).map(str::to_owned),
            config,
            hmac_key,
            validation,
            http,
            keys: RwLock::new(None),
            fetch: Mutex::new(FetchState::default()),
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_key_age: DEFAULT_MAX_KEY_AGE,
        }
    }

    /// Least time between two JWKS fetches (default 10 s).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Longest a JWKS fetch may take (default 5 s).
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Age after which the cached JWKS is refetched before use (default 1 h); while the provider cannot be
    /// reached, the stale keys keep working.
    pub fn with_max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// The names of the portals and role claims.
    pub fn claim_names(&self) -> (&str, &str) {
        (&self.config.portals_claim, &self.config.role_claim)
    }

    /// Verifies signature (HS256 with the secret; RS256/ES256 with the JWKS key named by the header's `kid`),
    /// `exp` (required), `nbf` (when present), `iss` and `aud` (when configured), with a leeway of 30 s.
    pub async fn verify(&self, token: &str) -> Result<JwtCaller, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed("it is too long"));
        }
        let header = raw_header(token)?;
        let jwks_key;
        // The secret only ever checks HS256 and a JWKS key only the algorithm it was published for, so a token
        // cannot choose how a key is used (an HS256 token "signed" with a public key is refused here).
        let (key, algorithm) = match header.alg.as_str() {
            "HS256" => match &self.hmac_key {
                Some(key) => (key, Algorithm::HS256),
                None => return Err(JwtError::Algorithm("HS256 needs a shared secret, and none is configured")),
            },
            alg @ ("RS256" | "ES256") => {
                let algorithm = if alg == "RS256" { Algorithm::RS256 } else { Algorithm::ES256 };
                let Some(url) = &self.jwks_url else {
                    return Err(JwtError::Algorithm("RS256 and ES256 need a JWKS URL, and none is configured"));
                };
                let kid = header.kid.as_deref().filter(|kid| !kid.is_empty()).ok_or(JwtError::MissingKeyId)?;
                jwks_key = self.jwks_key(url, kid).await?;
                if jwks_key.algorithm != Some(algorithm) {
                    return Err(JwtError::Algorithm("the key named by kid is not for this algorithm"));
                }
                (&jwks_key.key, algorithm)
            }
            "none" => return Err(JwtError::Algorithm("unsigned tokens (alg none) are never accepted")),
            _ => return Err(JwtError::Algorithm("only HS256, RS256 and ES256 are accepted")),
        };
        let mut validation = self.validation.clone();
        validation.algorithms = vec![algorithm];
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|err| self.refusal(err.into_kind()))?
            .claims;
        caller(&claims, &self.config)
    }

    /// The JWKS key named `kid`, fetching the key set when it is unknown or stale and a fetch is due.
    async fn jwks_key(&self, url: &str, kid: &str) -> Result<Arc<JwksKey>, JwtError> {
        let (cached, fresh) = self.cached_key(kid).await;
        let mut fetch = match &cached {
            Some(key) if fresh => return Ok(key.clone()),
            // A stale key still answers while another verify refreshes the set: nobody waits on the provider for
            // a key it already gave us.
            Some(key) => match self.fetch.try_lock() {
                Ok(fetch) => fetch,
                Err(_) => return Ok(key.clone()),
            },
            None => self.fetch.lock().await,
        };
        // Another verify may have fetched while this one waited for the lock.
        let (cached, fresh) = self.cached_key(kid).await;
        if let (Some(key), true) = (&cached, fresh) {
            return Ok(key.clone());
        }
        let due = fetch.last_attempt.is_none_or(|at| at.elapsed() >= self.refetch_interval);
        if due {
            fetch.last_attempt = Some(Instant::now());
            match self.download(url).await {
                Ok(keys) => {
                    fetch.last_failed = false;
                    tracing::debug!(keys = keys.len(), "fetched the JWKS");
                    let found = keys.get(kid).cloned();
                    *self.keys.write().await = Some(KeySet { keys, fetched_at: Instant::now() });
                    return found.ok_or(JwtError::UnknownKey);
                }
                Err(err) => {
                    fetch.last_failed = true;
                    tracing::warn!(%url, error = %err, "could not fetch the JWKS; tokens of uncached keys are refused");
                }
            }
        }
        match cached {
            // Stale, but the provider could not be asked: better than refusing everyone while it is down.
            Some(key) => Ok(key),
            None if fetch.last_failed => Err(JwtError::JwksUnavailable),
            None => Err(JwtError::UnknownKey),
        }
    }

    /// The cached key named `kid`, and whether the cache is younger than the maximum key age.
    async fn cached_key(&self, kid: &str) -> (Option<Arc<JwksKey>>, bool) {
        match &*self.keys.read().await {
            Some(set) => (set.keys.get(kid).cloned(), set.fetched_at.elapsed() < self.max_key_age),
            None => (None, false),
        }
    }

    async fn download(&self, url: &str) -> Result<HashMap<String, Arc<JwksKey>>, FetchError> {
        let fetch = async {
            let mut response = self
                .http
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(FetchError::Request)?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(FetchError::Request)? {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(self.fetch_timeout, fetch)
            .await
            .map_err(|_| FetchError::TimedOut(self.fetch_timeout))??;
        key_set(&body)
    }

    fn refusal(&self, kind: ErrorKind) -> JwtError {
        let wrong_issuer = || JwtError::WrongIssuer { expected: self.config.issuer.clone().unwrap_or_default() };
        let wrong_audience = || JwtError::WrongAudience { expected: self.config.audience.clone().unwrap_or_default() };
        match kind {
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            ErrorKind::InvalidIssuer => wrong_issuer(),
            ErrorKind::InvalidAudience => wrong_audience(),
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
                "iss" => wrong_issuer(),
                "aud" => wrong_audience(),
                "exp" => JwtError::Malformed("it has no numeric expiry (exp)"),
                "nbf" => JwtError::Malformed("its nbf is not a number"),
                _ => JwtError::Malformed("a registered claim has the wrong type"),
            },
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                JwtError::Algorithm("the key does not fit the token's algorithm")
            }
            ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
                JwtError::BadSignature
            }
            _ => JwtError::Malformed("it is not a JSON Web Token with a JSON object of claims"),
        }
    }
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("config", &self.config)
            .field("refetch_interval", &self.refetch_interval)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("max_key_age", &self.max_key_age)
            .finish_non_exhaustive()
    }
}

/// The header, read without trusting it: only to pick the algorithm and key.
fn raw_header(token: &str) -> Result<RawHeader, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("it is not three dot-separated parts"));
    };
    let json = URL_SAFE_NO_PAD.decode(header).map_err(|_| JwtError::Malformed("its header is not base64url"))?;
    serde_json::from_slice(&json).map_err(|_| JwtError::Malformed("its header is not a JSON object with alg"))
}

/// The keys of a JWKS document that can verify RS256 or ES256 tokens, by `kid`. A key this gateway cannot use is
/// kept as unusable (so its tokens are refused as such, not refetched); a key without `kid` cannot be named.
fn key_set(body: &[u8]) -> Result<HashMap<String, Arc<JwksKey>>, FetchError> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let document: Document = serde_json::from_slice(body).map_err(FetchError::NotAKeySet)?;
    let mut keys = HashMap::new();
    for value in document.keys {
        // Each key is parsed on its own, so one key of a kind jsonwebtoken cannot read does not hide the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            tracing::warn!(%kid, "the JWKS key cannot be read; tokens naming it are refused");
            continue;
        };
        keys.insert(kid, Arc::new(JwksKey { key, algorithm: jwk_algorithm(&jwk) }));
    }
    Ok(keys)
}

/// RS256 for an RSA key, ES256 for a P-256 key, when the key's own `alg` (if any) agrees.
fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let (algorithm, named) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(algorithm),
        Some(alg) if alg == named => Some(algorithm),
        Some(_) => None,
    }
}

/// The caller a verified token's claims describe.
fn caller(claims: &Map<String, Value>, config: &JwtConfig) -> Result<JwtCaller, JwtError> {
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(JwtError::Malformed("it has no subject (sub)")),
    };
    let portals = portals(claims.get(&config.portals_claim))
        .ok_or_else(|| JwtError::BadClaim { claim: config.portals_claim.clone(), expected: "a list of portal ids" })?;
    let role = match claims.get(&config.role_claim) {
        None | Some(Value::Null) => None,
        Some(Value::String(role)) => Some(role.clone()),
        Some(_) => return Err(JwtError::BadClaim { claim: config.role_claim.clone(), expected: "text" }),
    };
    Ok(JwtCaller { subject, portals, role })
}

/// Portal ids from an array of numbers or numeric strings, or from one of either; `None` if any is not an id.
fn portals(claim: Option<&Value>) -> Option<Vec<i64>> {
    match claim {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(portal_id).collect(),
        Some(one) => portal_id(one).map(|id| vec![id]),
    }
}

/// HubSpot portal ids are positive integers; anything else is refused rather than guessed at.
fn portal_id(value: &Value) -> Option<i64> {
    let id = match value {
        Value::Number(number) => number.as_i64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    (id > 0).then_some(id)
}

/// An env var set to blanks counts as unset; a value that is set is used as written (a secret is never trimmed).
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.trim().is_empty())
}

fn or_default(value: String, default: &str) -> String {
    if value.trim().is_empty() { default.to_owned() } else { value }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::{Json, Router, routing::get};
    use jsonwebtoken::{EncodingKey, Header, encode, get_current_timestamp};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "a-shared-test-secret-of-32-bytes-or-more";
    const ISSUER: &str = "https://id.example.test/";
    const AUDIENCE: &str = "hubspot-gateway";
    const RSA_PEM: &str = include_str!("testdata/rsa.pem");
    const EC_PEM: &str = include_str!("testdata/ec.pem");

    fn claims() -> Value {
        json!({
            "sub": "user-1",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": get_current_timestamp() + 600,
            "portals": [101, 202],
            "role": "editor",
        })
    }

    /// `claims()` with `key` set to `value`, or removed when `value` is `None`.
    fn claims_with(key: &str, value: Option<Value>) -> Value {
        let mut claims = claims();
        let map = claims.as_object_mut().unwrap();
        match value {
            Some(value) => map.insert(key.to_owned(), value),
            None => map.remove(key),
        };
        claims
    }

    fn hs256(claims: &Value, secret: &str) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap()).unwrap()
    }

    fn private_key(algorithm: Algorithm) -> EncodingKey {
        match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
            Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap(),
            other => panic!("no test key for {other:?}"),
        }
    }

    fn signed(algorithm: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.to_owned());
        encode(&header, claims, &private_key(algorithm)).unwrap()
    }

    /// The public half of a test key as a JWK (n/e for RSA, crv/x/y for EC), as a provider would publish it.
    fn public_jwk(algorithm: Algorithm, kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&private_key(algorithm), algorithm).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let jwk = serde_json::to_value(jwk).unwrap();
        let expected: &[&str] =
            if algorithm == Algorithm::RS256 { &["kty", "n", "e"] } else { &["kty", "crv", "x", "y"] };
        for field in expected {
            assert!(jwk.get(field).is_some(), "the JWK has {field}: {jwk}");
        }
        jwk
    }

    fn without_alg(mut jwk: Value) -> Value {
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    }

    fn client() -> reqwest::Client {
        // Loopback only: no proxy from the environment gets to see the test's requests.
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn hs_verifier() -> JwtVerifier {
        JwtVerifier::new(
            JwtConfig {
                secret: Some(SECRET.into()),
                issuer: Some(ISSUER.into()),
                audience: Some(AUDIENCE.into()),
                ..JwtConfig::default()
            },
            client(),
        )
    }

    fn jwks_verifier(url: &str) -> JwtVerifier {
        JwtVerifier::new(
            JwtConfig {
                jwks_url: Some(url.into()),
                issuer: Some(ISSUER.into()),
                audience: Some(AUDIENCE.into()),
                ..JwtConfig::default()
            },
            client(),
        )
    }

    async fn code(verifier: &JwtVerifier, token: &str) -> &'static str {
        verifier.verify(token).await.unwrap_err().code()
    }

    const SERVE: u8 = 0;
    const FAIL: u8 = 1;
    const HANG: u8 = 2;

    /// A JWKS endpoint on loopback that counts its hits and can be rotated, broken or made to hang.
    struct Provider {
        jwks: StdMutex<Value>,
        hits: AtomicUsize,
        mode: AtomicU8,
        url: String,
    }

    impl Provider {
        async fn start(keys: Vec<Value>) -> Arc<Provider> {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
            let provider = Arc::new(Provider {
                jwks: StdMutex::new(json!({ "keys": keys })),
                hits: AtomicUsize::new(0),
                mode: AtomicU8::new(SERVE),
                url,
            });
            let app = Router::new().route("/jwks.json", get(serve_jwks)).with_state(provider.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            provider
        }

        fn rotate(&self, keys: Vec<Value>) {
            *self.jwks.lock().unwrap() = json!({ "keys": keys });
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    async fn serve_jwks(State(provider): State<Arc<Provider>>) -> Response {
        provider.hits.fetch_add(1, Ordering::SeqCst);
        match provider.mode.load(Ordering::SeqCst) {
            FAIL => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            HANG => std::future::pending().await,
            _ => Json(provider.jwks.lock().unwrap().clone()).into_response(),
        }
    }

    #[tokio::test]
    async fn good_hs256_token_gives_subject_portals_and_role() {
        let caller = hs_verifier().verify(&hs256(&claims(), SECRET)).await.unwrap();
        assert_eq!(
            caller,
            JwtCaller { subject: "user-1".into(), portals: vec![101, 202], role: Some("editor".into()) }
        );
    }

    #[tokio::test]
    async fn portals_are_read_from_numbers_numeric_strings_or_a_single_value() {
        let verifier = hs_verifier();
        for (claim, expected) in [
            (json!(["101", " 202 "]), vec![101, 202]),
            (json!([101, "202"]), vec![101, 202]),
            (json!(303), vec![303]),
            (json!("404"), vec![404]),
            (json!([]), vec![]),
            (Value::Null, vec![]),
        ] {
            let token = hs256(&claims_with("portals", Some(claim.clone())), SECRET);
            assert_eq!(verifier.verify(&token).await.unwrap().portals, expected, "portals {claim}");
        }
        let absent = verifier.verify(&hs256(&claims_with("portals", None), SECRET)).await.unwrap();
        assert_eq!(absent.portals, Vec::<i64>::new());
        let no_role = verifier.verify(&hs256(&claims_with("role", None), SECRET)).await.unwrap();
        assert_eq!(no_role.role, None);
    }

    #[tokio::test]
    async fn claim_names_come_from_the_config() {
        let verifier = JwtVerifier::new(
            JwtConfig {
                secret: Some(SECRET.into()),
                portals_claim: "https://gateway.example/portals".into(),
                role_claim: "https://gateway.example/role".into(),
                ..JwtConfig::default()
            },
            client(),
        );
        let mut claims = claims();
        claims["https://gateway.example/portals"] = json!(["7"]);
        claims["https://gateway.example/role"] = json!("viewer");
        let caller = verifier.verify(&hs256(&claims, SECRET)).await.unwrap();
        assert_eq!(caller.portals, vec![7]);
        assert_eq!(caller.role.as_deref(), Some("viewer"));
    }

    #[tokio::test]
    async fn portal_or_role_claims_of_the_wrong_shape_are_refused() {
        let verifier = hs_verifier();
        for (claim, value) in [
            ("portals", json!({ "id": 1 })),
            ("portals", json!(["12a"])),
            ("portals", json!([1.5])),
            ("portals", json!([-3])),
            ("portals", json!([0])),
            ("portals", json!([18_446_744_073_709_551_615u64])),
            ("portals", json!([[1]])),
            ("role", json!(["admin"])),
            ("role", json!(7)),
        ] {
            let err = verifier.verify(&hs256(&claims_with(claim, Some(value.clone())), SECRET)).await.unwrap_err();
            assert_eq!(err.code(), "TOKEN_MALFORMED", "{claim} {value}");
            assert!(err.to_string().contains(claim), "{err}");
        }
    }

    #[tokio::test]
    async fn expired_token_is_refused_beyond_the_leeway() {
        let verifier = hs_verifier();
        let now = get_current_timestamp();
        let expired = hs256(&claims_with("exp", Some(json!(now - 120))), SECRET);
        let err = verifier.verify(&expired).await.unwrap_err();
        assert_eq!(err.code(), "TOKEN_EXPIRED");
        assert_eq!(err.to_string(), "the token expired");
        // Within the 30 s leeway, a clock a little behind the provider's is forgiven.
        let just_expired = hs256(&claims_with("exp", Some(json!(now - 5))), SECRET);
        assert!(verifier.verify(&just_expired).await.is_ok());
    }

    #[tokio::test]
    async fn token_without_exp_is_refused() {
        let verifier = hs_verifier();
        assert_eq!(code(&verifier, &hs256(&claims_with("exp", None), SECRET)).await, "TOKEN_MALFORMED");
        assert_eq!(code(&verifier, &hs256(&claims_with("exp", Some(json!("soon"))), SECRET)).await, "TOKEN_MALFORMED");
    }

    #[tokio::test]
    async fn token_used_before_nbf_is_refused() {
        let verifier = hs_verifier();
        let early = hs256(&claims_with("nbf", Some(json!(get_current_timestamp() + 300))), SECRET);
        assert_eq!(code(&verifier, &early).await, "TOKEN_NOT_YET_VALID");
        let started = hs256(&claims_with("nbf", Some(json!(get_current_timestamp() - 10))), SECRET);
        assert!(verifier.verify(&started).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_or_missing_audience_is_refused() {
        let verifier = hs_verifier();
        let err = verifier.verify(&hs256(&claims_with("aud", Some(json!("another-app"))), SECRET)).await.unwrap_err();
        assert_eq!(err.code(), "TOKEN_WRONG_AUDIENCE");
        assert_eq!(err.to_string(), format!("the token's audience is not {AUDIENCE}"));
        assert_eq!(code(&verifier, &hs256(&claims_with("aud", None), SECRET)).await, "TOKEN_WRONG_AUDIENCE");
        // One of several audiences is enough.
        let several = hs256(&claims_with("aud", Some(json!(["another-app", AUDIENCE]))), SECRET);
        assert!(verifier.verify(&several).await.is_ok());
    }

    #[tokio::test]
    async fn audience_is_not_checked_when_not_configured() {
        let verifier = JwtVerifier::new(JwtConfig { secret: Some(SECRET.into()), ..JwtConfig::default() }, client());
        assert!(verifier.verify(&hs256(&claims_with("aud", Some(json!("any-app"))), SECRET)).await.is_ok());
        assert!(verifier.verify(&hs256(&claims_with("iss", Some(json!("anyone"))), SECRET)).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_or_missing_issuer_is_refused() {
        let verifier = hs_verifier();
        let err =
            verifier.verify(&hs256(&claims_with("iss", Some(json!("https://evil.test/"))), SECRET)).await.unwrap_err();
        assert_eq!(err.code(), "TOKEN_WRONG_ISSUER");
        assert_eq!(err.to_string(), format!("the token's issuer is not {ISSUER}"));
        assert_eq!(code(&verifier, &hs256(&claims_with("iss", None), SECRET)).await, "TOKEN_WRONG_ISSUER");
    }

    #[tokio::test]
    async fn token_signed_with_another_secret_is_refused() {
        let token = hs256(&claims(), "another-secret-that-is-also-32-bytes-long");
        let err = hs_verifier().verify(&token).await.unwrap_err();
        assert_eq!(err.code(), "TOKEN_BAD_SIGNATURE");
        assert!(!err.to_string().contains(&token) && !format!("{err:?}").contains(&token));
    }

    #[tokio::test]
    async fn subject_is_required() {
        let verifier = hs_verifier();
        assert_eq!(code(&verifier, &hs256(&claims_with("sub", None), SECRET)).await, "TOKEN_MALFORMED");
        assert_eq!(code(&verifier, &hs256(&claims_with("sub", Some(json!(42))), SECRET)).await, "TOKEN_MALFORMED");
        assert_eq!(code(&verifier, &hs256(&claims_with("sub", Some(json!(""))), SECRET)).await, "TOKEN_MALFORMED");
    }

    fn unsigned(alg: &str, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.")
    }

    #[tokio::test]
    async fn alg_none_and_other_algorithms_are_refused() {
        let verifier = hs_verifier();
        for alg in ["none", "None", "NONE", "HS512", "RS256", "PS256", "EdDSA", ""] {
            let err = verifier.verify(&unsigned(alg, &claims())).await.unwrap_err();
            assert_eq!(err.code(), "TOKEN_ALGORITHM", "alg {alg:?}");
        }
        let hs512 =
            encode(&Header::new(Algorithm::HS512), &claims(), &EncodingKey::from_secret(SECRET.as_bytes()).unwrap());
        assert_eq!(code(&verifier, &hs512.unwrap()).await, "TOKEN_ALGORITHM");
    }

    #[tokio::test]
    async fn garbage_is_refused_without_panicking() {
        let verifier = hs_verifier();
        let header = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let huge_portals = claims_with("portals", Some(json!(vec![1; 40_000])));
        const MALFORMED: &str = "TOKEN_MALFORMED";
        let garbage = [
            (String::new(), MALFORMED),
            ("not a token".into(), MALFORMED),
            ("a.b".into(), MALFORMED),
            ("a.b.c.d".into(), MALFORMED),
            ("...".into(), MALFORMED),
            ("é.é.é".into(), MALFORMED),
            ("!!!.###.$$$".into(), MALFORMED),
            (format!("{}.e30.", header("not json")), MALFORMED),
            (format!("{}.e30.", header(r#"{"alg":5}"#)), MALFORMED),
            (format!("{}.e30.", header(r#"["HS256"]"#)), MALFORMED),
            (format!("{}.e30.c2ln", header(r#"{"alg":"HS256","kid":{"x":1}}"#)), MALFORMED),
            (format!("{}.!!.c2ln", header(r#"{"alg":"HS256"}"#)), "TOKEN_BAD_SIGNATURE"),
            (hs256(&json!(["not", "an", "object"]), SECRET), MALFORMED),
            (hs256(&json!("text"), SECRET), MALFORMED),
            (hs256(&claims_with("exp", Some(json!(1e300))), SECRET), MALFORMED),
            (hs256(&claims_with("exp", Some(json!(-5))), SECRET), MALFORMED),
            (hs256(&claims_with("nbf", Some(json!("later"))), SECRET), MALFORMED),
            (hs256(&claims_with("iss", Some(json!({ "not": "text" }))), SECRET), "TOKEN_WRONG_ISSUER"),
            (hs256(&claims_with("aud", Some(json!(17))), SECRET), "TOKEN_WRONG_AUDIENCE"),
            (hs256(&huge_portals, SECRET), MALFORMED),
            ("x".repeat(1 << 20), MALFORMED),
        ];
        for (token, expected) in &garbage {
            let err = verifier.verify(token).await.unwrap_err();
            let shown = format!("{err} {err:?}");
            assert_eq!(err.code(), *expected, "{shown}");
            assert!(token.len() < 8 || !shown.contains(token.as_str()), "{shown}");
            assert!(!shown.contains(SECRET));
        }
        // Large but under the size limit: read in full.
        let many = claims_with("portals", Some(json!((1..=5_000).collect::<Vec<i64>>())));
        assert_eq!(verifier.verify(&hs256(&many, SECRET)).await.unwrap().portals.len(), 5_000);
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_secret() {
        let config = JwtConfig { secret: Some(SECRET.into()), ..JwtConfig::default() };
        let shown = format!("{config:?} {:?}", JwtVerifier::new(config.clone(), client()));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn config_defaults_and_enabling() {
        let config = JwtConfig::default();
        assert_eq!((config.portals_claim.as_str(), config.role_claim.as_str()), ("portals", "role"));
        assert!(!config.is_enabled());
        assert!(!JwtConfig { secret: Some(" ".into()), ..JwtConfig::default() }.is_enabled());
        assert!(JwtConfig { secret: Some(SECRET.into()), ..JwtConfig::default() }.is_enabled());
        assert!(
            JwtConfig { jwks_url: Some("https://id.example.test/jwks".into()), ..JwtConfig::default() }.is_enabled()
        );
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_are_verified_against_the_served_jwks() {
        let provider = Provider::start(vec![
            public_jwk(Algorithm::RS256, "rsa-1"),
            without_alg(public_jwk(Algorithm::ES256, "ec-1")),
        ])
        .await;
        let verifier = jwks_verifier(&provider.url);
        let rsa = verifier.verify(&signed(Algorithm::RS256, "rsa-1", &claims())).await.unwrap();
        assert_eq!(rsa.subject, "user-1");
        let ec = verifier.verify(&signed(Algorithm::ES256, "ec-1", &claims())).await.unwrap();
        assert_eq!(ec.portals, vec![101, 202]);
        assert_eq!(provider.hits(), 1, "the key set is fetched once and then cached");
        // Claims are checked for JWKS tokens too.
        let expired =
            signed(Algorithm::RS256, "rsa-1", &claims_with("exp", Some(json!(get_current_timestamp() - 600))));
        assert_eq!(code(&verifier, &expired).await, "TOKEN_EXPIRED");
    }

    #[tokio::test]
    async fn concurrent_first_verifies_share_one_fetch() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier = jwks_verifier(&provider.url);
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        let results = futures::future::join_all((0..20).map(|_| verifier.verify(&token))).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(provider.hits(), 1);
    }

    #[tokio::test]
    async fn tampered_rs256_token_is_refused() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier = jwks_verifier(&provider.url);
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let admin = URL_SAFE_NO_PAD.encode(claims_with("role", Some(json!("admin"))).to_string());
        let tampered = format!("{}.{admin}.{}", parts[0], parts[2]);
        assert_eq!(code(&verifier, &tampered).await, "TOKEN_BAD_SIGNATURE");
    }

    #[tokio::test]
    async fn hs256_token_is_never_checked_against_a_public_key() {
        let rsa = public_jwk(Algorithm::RS256, "rsa-1");
        let provider = Provider::start(vec![rsa.clone()]).await;
        // The classic confusion attack: an HS256 token whose "secret" is public key material.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        let public_n = rsa["n"].as_str().unwrap();
        let forged = encode(&header, &claims(), &EncodingKey::from_secret(public_n.as_bytes()).unwrap()).unwrap();

        assert_eq!(code(&jwks_verifier(&provider.url), &forged).await, "TOKEN_ALGORITHM");
        let both = JwtVerifier::new(
            JwtConfig { secret: Some(SECRET.into()), jwks_url: Some(provider.url.clone()), ..JwtConfig::default() },
            client(),
        );
        assert_eq!(code(&both, &forged).await, "TOKEN_BAD_SIGNATURE");
        assert_eq!(provider.hits(), 0, "an HS256 token never reaches for the JWKS");
    }

    #[tokio::test]
    async fn header_alg_must_match_the_jwks_key() {
        let mut rsa_for_ps256 = public_jwk(Algorithm::RS256, "rsa-ps");
        rsa_for_ps256["alg"] = json!("PS256");
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1"), rsa_for_ps256]).await;
        let verifier = jwks_verifier(&provider.url);
        // An EC-signed token naming the RSA key, and an RS256 token naming a key published for PS256.
        assert_eq!(code(&verifier, &signed(Algorithm::ES256, "rsa-1", &claims())).await, "TOKEN_ALGORITHM");
        assert_eq!(code(&verifier, &signed(Algorithm::RS256, "rsa-ps", &claims())).await, "TOKEN_ALGORITHM");
        let mut no_kid = Header::new(Algorithm::RS256);
        no_kid.kid = None;
        let no_kid = encode(&no_kid, &claims(), &private_key(Algorithm::RS256)).unwrap();
        assert_eq!(code(&verifier, &no_kid).await, "TOKEN_UNKNOWN_KEY");
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier = jwks_verifier(&provider.url).with_refetch_interval(Duration::from_secs(3600));
        let new_key_token = signed(Algorithm::ES256, "ec-1", &claims());
        assert_eq!(code(&verifier, &new_key_token).await, "TOKEN_UNKNOWN_KEY");
        assert_eq!(provider.hits(), 1);

        // A flood of made-up kids, concurrent and sequential, does not reach the provider again.
        let made_up: Vec<String> =
            (0..20).map(|i| signed(Algorithm::ES256, &format!("made-up-{i}"), &claims())).collect();
        let results = futures::future::join_all(made_up.iter().map(|token| verifier.verify(token))).await;
        assert!(results.iter().all(|result| matches!(result, Err(JwtError::UnknownKey))));
        for token in &made_up {
            assert_eq!(code(&verifier, token).await, "TOKEN_UNKNOWN_KEY");
        }
        assert_eq!(provider.hits(), 1);

        // Even once the key is published, it is not looked for again within the interval; known keys still work.
        provider.rotate(vec![public_jwk(Algorithm::RS256, "rsa-1"), public_jwk(Algorithm::ES256, "ec-1")]);
        assert_eq!(code(&verifier, &new_key_token).await, "TOKEN_UNKNOWN_KEY");
        assert!(verifier.verify(&signed(Algorithm::RS256, "rsa-1", &claims())).await.is_ok());
        assert_eq!(provider.hits(), 1);
    }

    #[tokio::test]
    async fn rotated_key_is_accepted_after_the_refetch_interval() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier = jwks_verifier(&provider.url).with_refetch_interval(Duration::ZERO);
        let token = signed(Algorithm::ES256, "ec-2", &claims());
        assert_eq!(code(&verifier, &token).await, "TOKEN_UNKNOWN_KEY");
        assert_eq!(provider.hits(), 1);

        provider.rotate(vec![public_jwk(Algorithm::RS256, "rsa-1"), public_jwk(Algorithm::ES256, "ec-2")]);
        assert_eq!(verifier.verify(&token).await.unwrap().subject, "user-1");
        assert_eq!(provider.hits(), 2);
        // A key now cached is not fetched again, however short the interval.
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(provider.hits(), 2);
    }

    #[tokio::test]
    async fn withdrawn_key_is_refused_once_the_cache_is_stale() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier =
            jwks_verifier(&provider.url).with_refetch_interval(Duration::ZERO).with_max_key_age(Duration::ZERO);
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        assert!(verifier.verify(&token).await.is_ok());
        provider.rotate(vec![public_jwk(Algorithm::ES256, "ec-1")]);
        assert_eq!(code(&verifier, &token).await, "TOKEN_UNKNOWN_KEY");
        assert_eq!(provider.hits(), 2);
    }

    #[tokio::test]
    async fn stale_keys_keep_working_while_the_provider_is_down() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        let verifier =
            jwks_verifier(&provider.url).with_refetch_interval(Duration::ZERO).with_max_key_age(Duration::ZERO);
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        assert!(verifier.verify(&token).await.is_ok());
        provider.mode.store(FAIL, Ordering::SeqCst);
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(provider.hits(), 2, "the stale set was refetched, and the failure kept the old keys");
        assert_eq!(code(&verifier, &signed(Algorithm::ES256, "ec-1", &claims())).await, "JWKS_UNAVAILABLE");
    }

    #[tokio::test]
    async fn failing_provider_gives_jwks_unavailable_without_being_hammered() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        provider.mode.store(FAIL, Ordering::SeqCst);
        let verifier = jwks_verifier(&provider.url).with_refetch_interval(Duration::from_secs(3600));
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        assert_eq!(code(&verifier, &token).await, "JWKS_UNAVAILABLE");
        assert_eq!(code(&verifier, &token).await, "JWKS_UNAVAILABLE");
        assert_eq!(provider.hits(), 1);
    }

    #[tokio::test]
    async fn slow_or_unreachable_provider_gives_jwks_unavailable() {
        let provider = Provider::start(vec![public_jwk(Algorithm::RS256, "rsa-1")]).await;
        provider.mode.store(HANG, Ordering::SeqCst);
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        let slow = jwks_verifier(&provider.url).with_fetch_timeout(Duration::from_millis(100));
        assert_eq!(code(&slow, &token).await, "JWKS_UNAVAILABLE");

        // A port that was just released: nothing listens there.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let unreachable = jwks_verifier(&format!("http://{closed}/jwks.json"));
        assert_eq!(code(&unreachable, &token).await, "JWKS_UNAVAILABLE");
    }

    #[tokio::test]
    async fn a_document_that_is_not_a_key_set_gives_jwks_unavailable() {
        let provider = Provider::start(vec![]).await;
        *provider.jwks.lock().unwrap() = json!({ "error": "no keys here" });
        let token = signed(Algorithm::RS256, "rsa-1", &claims());
        assert_eq!(code(&jwks_verifier(&provider.url), &token).await, "JWKS_UNAVAILABLE");
        // Keys jsonwebtoken cannot read, or without kid, are skipped rather than spoiling the set.
        provider.rotate(vec![
            json!({ "kty": "weird", "kid": "x" }),
            json!({ "kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB" }),
            without_kid(public_jwk(Algorithm::ES256, "ec-1")),
            public_jwk(Algorithm::RS256, "rsa-1"),
        ]);
        assert!(jwks_verifier(&provider.url).verify(&token).await.is_ok());
    }

    fn without_kid(mut jwk: Value) -> Value {
        jwk.as_object_mut().unwrap().remove("kid");
        jwk
    }
}
