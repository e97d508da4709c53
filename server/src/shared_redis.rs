//! The Redis that gateway replicas share (`REDIS_URL`): the read cache and the HubSpot rate budget live there.
//! Every use has a short deadline and an in-process fallback, so a Redis that stops slows nothing down.

use std::{fmt, time::Duration};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A lazily connected, self-reconnecting Redis connection and the prefix of every key we write.
#[derive(Clone)]
pub struct SharedRedis {
    conn: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRedis").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// Connects on first use, so the gateway starts while Redis is down. Must run inside Tokio.
    pub fn lazy(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        // Fail fast: a caller falls back to its in-process state rather than wait on Redis.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    /// `prefix:part`.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.prefix)
    }

    /// A handle for one command or script; clones share the one connection.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
