//! Tokens at rest: AES-256-GCM under a named key, so keys can rotate (new writes use the current key; rows under an
//! older key still decrypt while that key is configured).

use std::collections::HashMap;

use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
use base64::{Engine, engine::general_purpose::STANDARD};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("TOKEN_ENCRYPTION_KEY must be `key-id:base64 of 32 bytes`, got {0}")]
    BadKey(String),
    #[error("tokens were stored under key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("a stored token does not decrypt under key {0:?}")]
    Corrupt(String),
}

pub struct Keys {
    current: String,
    ciphers: HashMap<String, Aes256Gcm>,
}

fn parse(spec: &str) -> Result<(String, Aes256Gcm), CryptoError> {
    // The key itself never goes into the message.
    let describe = |why: &str| CryptoError::BadKey(why.to_owned());
    let (id, key) = spec.trim().split_once(':').ok_or_else(|| describe("no `key-id:` prefix"))?;
    if id.is_empty() {
        return Err(describe("an empty key id"));
    }
    let bytes = STANDARD.decode(key).map_err(|_| describe("a key that is not base64"))?;
    let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| describe(&format!("{} bytes", bytes.len())))?;
    Ok((id.to_owned(), cipher))
}

impl Keys {
    /// `current` encrypts; `older` (same `id:base64` form) only decrypt.
    pub fn new(current: &str, older: &[String]) -> Result<Self, CryptoError> {
        let (id, cipher) = parse(current)?;
        let mut ciphers: HashMap<String, Aes256Gcm> = older.iter().map(|k| parse(k)).collect::<Result<_, _>>()?;
        ciphers.insert(id.clone(), cipher);
        Ok(Self { current: id, ciphers })
    }

    /// The key id and `nonce ‖ ciphertext`.
    pub fn encrypt(&self, plain: &str) -> (String, Vec<u8>) {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let cipher = &self.ciphers[&self.current];
        let sealed = cipher.encrypt(&Nonce::from(nonce_bytes), plain.as_bytes()).expect("AES-GCM seals any input");
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        (self.current.clone(), out)
    }

    pub fn decrypt(&self, key_id: &str, data: &[u8]) -> Result<String, CryptoError> {
        let cipher = self.ciphers.get(key_id).ok_or_else(|| CryptoError::UnknownKey(key_id.to_owned()))?;
        let corrupt = || CryptoError::Corrupt(key_id.to_owned());
        if data.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt())?;
        let plain = cipher.decrypt(&Nonce::from(nonce), sealed).map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> String {
        format!("{id}:{}", STANDARD.encode([byte; 32]))
    }

    #[test]
    fn round_trips_and_rotates() {
        let old = Keys::new(&key("k1", 1), &[]).unwrap();
        let (id, sealed) = old.encrypt("refresh-token-value");
        assert_eq!(id, "k1");
        assert!(!sealed.windows(7).any(|w| w == b"refresh"), "no plaintext at rest");
        let rotated = Keys::new(&key("k2", 2), &[key("k1", 1)]).unwrap();
        assert_eq!(rotated.decrypt("k1", &sealed).unwrap(), "refresh-token-value");
        assert_eq!(rotated.encrypt("x").0, "k2");
        let forgot = Keys::new(&key("k2", 2), &[]).unwrap();
        assert_eq!(forgot.decrypt("k1", &sealed), Err(CryptoError::UnknownKey("k1".into())));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(old.decrypt("k1", &tampered), Err(CryptoError::Corrupt("k1".into())));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let err = Keys::new("k1:c2hvcnQ=", &[]).err().unwrap().to_string();
        assert!(err.contains("TOKEN_ENCRYPTION_KEY") && !err.contains("c2hvcnQ"), "{err}");
        assert!(Keys::new("nokeyid", &[]).is_err());
    }
}
