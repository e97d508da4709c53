//! OAuth installs (public app mode): tokens per portal, encrypted at rest, refreshed ahead of expiry.

pub mod crypto;
mod install;
mod tokens;

pub use install::{Install, InstallError};
pub use tokens::{OAuthApp, OAuthTokens, TokenSet};
