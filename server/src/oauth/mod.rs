//! OAuth installs (public app mode): tokens per portal, encrypted at rest, refreshed ahead of expiry.

pub mod crypto;
mod tokens;

pub use tokens::{OAuthApp, OAuthTokens, TokenSet};
