//! OAuth installs (public app mode): started by an admin, finished in the browser that started them; tokens per
//! portal, encrypted at rest, refreshed ahead of expiry.

pub mod crypto;
mod install;
mod single_use;
mod state;
mod ticket;
mod tokens;

pub use install::{Install, InstallError, InstallLink, Installed, Opened};
pub use state::STATE_TTL;
pub use ticket::TICKET_TTL;
pub use tokens::{OAuthApp, OAuthTokens, TokenSet};
