//! The texts of automatic persisted queries, by hash: in this process, and in Redis when `REDIS_URL` is set so a
//! query registered on one replica runs by its hash on every other. An entry never goes stale (its key is the hash
//! of its text), so the local copy sits in front of Redis with no invalidation; while Redis does not answer, each
//! process keeps its own.

use std::{sync::Arc, time::Duration};

use redis::AsyncCommands;

use crate::shared_redis::SharedRedis;

/// How long a persisted query is kept after it was sent; a client sends its text again after that.
pub const TTL: Duration = Duration::from_secs(24 * 3600);
/// Bytes of query text one process keeps (a text may be as long as a request body).
const LOCAL_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct QueryCache {
    local: moka::future::Cache<String, Arc<str>>,
    redis: Option<SharedRedis>,
}

impl QueryCache {
    pub fn new(redis: Option<SharedRedis>) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(LOCAL_BYTES)
            .weigher(|hash: &String, text: &Arc<str>| u32::try_from(hash.len() + text.len()).unwrap_or(u32::MAX))
            .time_to_live(TTL)
            .build();
        Self { local, redis }
    }

    fn key(redis: &SharedRedis, hash: &str) -> String {
        redis.key(&format!("apq:{hash}"))
    }

    /// The text sent with `hash`, here or on another replica.
    pub async fn get(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(text) = self.local.get(hash).await {
            return Some(text);
        }
        let redis = self.redis.as_ref()?;
        // The connection's own short timeouts bound the wait (see `SharedRedis::lazy`).
        let text: Option<String> = match redis.run(async |mut conn| conn.get(Self::key(redis, hash)).await).await {
            Ok(text) => text,
            Err(err) => {
                tracing::debug!(error = %err, "Redis persisted queries unavailable; looking in process only");
                return None;
            }
        };
        // Whatever else can write to this Redis must not choose what a hash runs.
        let text = text.filter(|text| super::sha256_hex(text) == hash)?;
        let text: Arc<str> = Arc::from(text);
        self.local.insert(hash.to_owned(), Arc::clone(&text)).await;
        Some(text)
    }

    /// Keeps `text` under `hash`, its SHA-256 (the caller has checked), for [`TTL`].
    pub async fn insert(&self, hash: String, text: Arc<str>) {
        if let Some(redis) = &self.redis {
            let stored: redis::RedisResult<()> =
                redis.run(async |mut conn| conn.set_ex(Self::key(redis, &hash), &*text, TTL.as_secs()).await).await;
            if let Err(err) = stored {
                tracing::debug!(error = %err, "Redis persisted queries unavailable; keeping the query in process");
            }
        }
        self.local.insert(hash, text).await;
    }
}
