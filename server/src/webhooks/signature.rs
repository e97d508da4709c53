//! HubSpot's webhook signatures, checked on the raw bytes before anything else: v3 (HMAC-SHA256 over method, URI,
//! body and timestamp) when its headers are present, else v2 or v1 (SHA-256 of the secret and the request) by
//! `X-HubSpot-Signature-Version`. Every comparison is constant-time; any of several secrets may match, so a secret
//! can rotate. `WEBHOOK_SIGNATURES=v3` takes v3 only: v1 and v2 sign no time, so a captured delivery verifies for
//! ever.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use super::Refusal;

/// How old a v3 timestamp may be.
pub const MAX_AGE_MS: i64 = 300_000;

/// Which signature versions a receiver takes (`WEBHOOK_SIGNATURES`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Versions {
    /// v3, else v2 or v1: apps and proxies that still send only the older headers keep working.
    #[default]
    Any,
    /// v3 only; a delivery signed v1 or v2 alone is refused, however well signed, since it may be a replay.
    V3,
}

impl std::str::FromStr for Versions {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Self::Any),
            "v3" => Ok(Self::V3),
            _ => Err(format!("WEBHOOK_SIGNATURES must be any or v3, got {value:?}")),
        }
    }
}

/// The signature headers of one request (names are case-insensitive; the caller looks them up).
#[derive(Clone, Copy, Debug, Default)]
pub struct Signed<'a> {
    pub v3: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub version: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// One request as HubSpot signed it: `uri` is the full URL it called.
pub struct Request<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
}

/// Checks `headers` against `request` under any of `secrets`, at `now_ms`, taking the signature `versions` allow.
pub fn verify(
    headers: Signed<'_>,
    request: &Request<'_>,
    secrets: &[String],
    versions: Versions,
    now_ms: i64,
) -> Result<(), Refusal> {
    if let (Some(signature), Some(timestamp)) = (headers.v3, headers.timestamp) {
        let sent: i64 = timestamp.trim().parse().map_err(|_| Refusal::StaleTimestamp)?;
        // `abs_diff`: a timestamp near either end of i64 would overflow a subtraction.
        if now_ms.abs_diff(sent) > MAX_AGE_MS.unsigned_abs() {
            return Err(Refusal::StaleTimestamp);
        }
        let expected = STANDARD.decode(signature.trim()).map_err(|_| Refusal::BadSignature)?;
        return any(secrets, |secret| v3(secret, request, timestamp.trim()).ct_eq(&expected).into());
    }
    let signature = headers.signature.ok_or(Refusal::MissingSignature)?;
    // Refused before any hashing: whether an older signature would have matched is nobody's business.
    if versions == Versions::V3 {
        return Err(Refusal::SignatureVersion);
    }
    let expected = hex::decode(signature.trim()).map_err(|_| Refusal::BadSignature)?;
    let sign: fn(&str, &Request<'_>) -> Vec<u8> = match headers.version.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("v2") => v2,
        Some(v) if v.eq_ignore_ascii_case("v1") => v1,
        None => v1,
        Some(_) => return Err(Refusal::BadSignature),
    };
    any(secrets, |secret| sign(secret, request).ct_eq(&expected).into())
}

fn any(secrets: &[String], matches: impl Fn(&str) -> bool) -> Result<(), Refusal> {
    // Every secret is tried, matched or not, so timing does not tell which one matched.
    let found = secrets.iter().fold(false, |found, secret| matches(secret) | found);
    if found { Ok(()) } else { Err(Refusal::BadSignature) }
}

/// `hex(SHA-256(secret + body))`, as bytes.
pub fn v1(secret: &str, request: &Request<'_>) -> Vec<u8> {
    Sha256::new().chain_update(secret).chain_update(request.body).finalize().to_vec()
}

/// `hex(SHA-256(secret + method + uri + body))`, as bytes.
pub fn v2(secret: &str, request: &Request<'_>) -> Vec<u8> {
    Sha256::new()
        .chain_update(secret)
        .chain_update(request.method)
        .chain_update(request.uri)
        .chain_update(request.body)
        .finalize()
        .to_vec()
}

/// `HMAC-SHA256(secret, method + decoded uri + body + timestamp)`.
pub fn v3(secret: &str, request: &Request<'_>, timestamp: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(request.method.as_bytes());
    mac.update(v3_uri(request.uri).as_bytes());
    mac.update(request.body);
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// v3 signs the URI with HubSpot's list of escapes decoded.
fn v3_uri(uri: &str) -> String {
    const ESCAPES: [(&str, &str); 12] = [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        match ESCAPES.iter().find(|(e, _)| e.eq_ignore_ascii_case(escape)) {
            Some((_, plain)) => {
                out.push_str(plain);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    // HubSpot's published test vectors (HUBSPOT.md).
    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const URI: &str = "https://www.example.com/webhook_uri";

    fn request<'a>(method: &'a str, body: &'a str) -> Request<'a> {
        Request { method, uri: URI, body: body.as_bytes() }
    }

    #[test]
    fn hubspots_vectors() {
        let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
        assert_eq!(
            hex::encode(v1(SECRET, &request("POST", body))),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
        );
        assert_eq!(
            hex::encode(v2(SECRET, &request("GET", ""))),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
        );
        assert_eq!(
            hex::encode(v2(SECRET, &request("POST", r#"{"example_field":"example_value"}"#))),
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
        );
        assert_eq!(
            STANDARD.encode(v3(SECRET, &request("POST", "{'example_field':'example_value'}"), "15000000")),
            "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
        );
    }

    #[test]
    fn v3_is_preferred_checked_for_age_and_any_secret_may_match() {
        let req = request("POST", "[]");
        let now = 1_700_000_000_000_i64;
        let signature = STANDARD.encode(v3("new", &req, &now.to_string()));
        let stamp = now.to_string();
        let headers =
            Signed { v3: Some(&signature), timestamp: Some(&stamp), version: Some("v1"), signature: Some("00") };
        let secrets = ["old".to_owned(), "new".to_owned()];
        assert_eq!(verify(headers, &req, &secrets, Versions::Any, now + 1_000), Ok(()));
        assert_eq!(verify(headers, &req, &secrets, Versions::Any, now + MAX_AGE_MS + 1), Err(Refusal::StaleTimestamp));
        assert_eq!(verify(headers, &req, &secrets[..1], Versions::Any, now), Err(Refusal::BadSignature));
        assert_eq!(verify(Signed::default(), &req, &secrets, Versions::Any, now), Err(Refusal::MissingSignature));
    }

    #[test]
    fn requiring_v3_refuses_older_signatures_by_version_and_still_takes_v3() {
        let req = request("POST", "[]");
        let now = 1_700_000_000_000_i64;
        let secrets = ["s".to_owned()];
        let (v1, v2) = (hex::encode(v1("s", &req)), hex::encode(v2("s", &req)));
        for (version, signature) in [(None, &v1), (Some("v1"), &v1), (Some("v2"), &v2)] {
            let headers = Signed { version, signature: Some(signature), ..Signed::default() };
            assert_eq!(verify(headers, &req, &secrets, Versions::Any, now), Ok(()), "{version:?}");
            assert_eq!(verify(headers, &req, &secrets, Versions::V3, now), Err(Refusal::SignatureVersion));
        }
        let stamp = now.to_string();
        let signature = STANDARD.encode(v3("s", &req, &stamp));
        let headers = Signed { v3: Some(&signature), timestamp: Some(&stamp), ..Signed::default() };
        assert_eq!(verify(headers, &req, &secrets, Versions::V3, now), Ok(()));
        // A v3 header without its timestamp is no v3 signature: the v1 beside it is refused by version.
        let headers = Signed { v3: Some(&signature), version: Some("v1"), signature: Some(&v1), ..Signed::default() };
        assert_eq!(verify(headers, &req, &secrets, Versions::V3, now), Err(Refusal::SignatureVersion));
        assert_eq!(verify(Signed::default(), &req, &secrets, Versions::V3, now), Err(Refusal::MissingSignature));
        assert_eq!("V3".parse(), Ok(Versions::V3));
        assert!("v2".parse::<Versions>().unwrap_err().contains("WEBHOOK_SIGNATURES"));
    }

    #[test]
    fn a_timestamp_at_either_end_of_i64_is_stale_not_an_overflow() {
        let req = request("POST", "[]");
        for stamp in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let headers = Signed { v3: Some("AAAA"), timestamp: Some(&stamp), ..Signed::default() };
            assert_eq!(verify(headers, &req, &["s".to_owned()], Versions::Any, 0), Err(Refusal::StaleTimestamp));
        }
    }

    const NOW: i64 = 1_700_000_000_000;

    /// A header's value: absent, any text, or text shaped like a signature, a version or a timestamp.
    fn header() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            "\\PC{0,80}",
            "[A-Za-z0-9+/=%]{0,64}",
            "[0-9a-fA-F]{0,70}",
            "[ vV]{0,2}[0-9]{0,2} ?",
            prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                proptest::arbitrary::any::<i64>(),
                (NOW - 400_000)..(NOW + 400_000)
            ]
            .prop_map(|t| t.to_string()),
        ])
    }

    proptest! {
        #![proptest_config(crate::webhooks::fuzz_config(512))]

        /// Whatever the headers and the request hold, verifying answers (never panics), and a signature nobody
        /// computed never verifies.
        #[test]
        fn arbitrary_signature_headers_are_refused_without_a_panic(
            v3 in header(), timestamp in header(), version in header(), signature in header(),
            method in "\\PC{0,8}", uri in "\\PC{0,40}", body in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..64),
            secrets in proptest::collection::vec("\\PC{0,12}", 0..3), only_v3 in proptest::arbitrary::any::<bool>(),
        ) {
            let headers = Signed {
                v3: v3.as_deref(),
                timestamp: timestamp.as_deref(),
                version: version.as_deref(),
                signature: signature.as_deref(),
            };
            let request = Request { method: &method, uri: &uri, body: &body };
            let versions = if only_v3 { Versions::V3 } else { Versions::Any };
            prop_assert!(verify(headers, &request, &secrets, versions, NOW).is_err());
        }
    }

    #[test]
    fn v3_decodes_the_listed_escapes_only() {
        assert_eq!(v3_uri("https://x.io/a%3Ab?q=%2F%20%3f%ZZ%"), "https://x.io/a:b?q=/%20?%ZZ%");
    }
}
