//! Everything that calls HubSpot.

pub mod cache;
pub mod circuit;
pub mod client;
pub mod credentials;
pub mod error;
pub mod limiter;

pub use cache::Cached;
pub use circuit::CircuitSettings;
pub use client::{Call, ClientSettings, HubSpot, PrivateApp, TokenSource};
pub use error::HubSpotError;
