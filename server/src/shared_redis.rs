//! The Redis that gateway replicas share (`REDIS_URL`): the read cache and the HubSpot rate budget live there.
//! Every use has a short deadline and an in-process fallback, so a Redis that stops slows nothing down: once a
//! command finds it unreachable, commands skip it for [`COOL_OFF`] and their fallbacks answer at once, instead of
//! each waiting out a reconnection attempt; then the next command tries it again.

use std::{
    fmt,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::{
    ErrorKind, RedisError, RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::time::Instant;

/// How long commands skip a Redis that was just found unreachable.
pub const COOL_OFF: Duration = Duration::from_secs(1);

/// A lazily connected, self-reconnecting Redis connection and the prefix of every key we write.
#[derive(Clone)]
pub struct SharedRedis {
    conn: ConnectionManager,
    prefix: String,
    /// Until when commands skip Redis, after one found it unreachable.
    skip_until: Arc<Mutex<Option<Instant>>>,
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
        Ok(Self { conn, prefix: prefix.to_owned(), skip_until: Arc::default() })
    }

    /// `prefix:part`.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.prefix)
    }

    /// A handle for one command or script that must be tried even while Redis is being skipped; clones share the
    /// one connection. Everything else goes through [`SharedRedis::run`].
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Runs `command` on the connection, or fails at once while Redis is skipped (it was unreachable less than
    /// [`COOL_OFF`] ago), so the caller's fallback answers without waiting.
    pub async fn run<T, F>(&self, command: impl FnOnce(ConnectionManager) -> F) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let skipped = self.skip_until.lock().expect("skip state").is_some_and(|until| Instant::now() < until);
        if skipped {
            return Err(RedisError::from((ErrorKind::Io, "Redis was unreachable a moment ago; not tried")));
        }
        let result = command(self.conn.clone()).await;
        if let Err(err) = &result
            && (err.is_io_error() || err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal())
        {
            *self.skip_until.lock().expect("skip state") = Some(Instant::now() + COOL_OFF);
        }
        result
    }
}
