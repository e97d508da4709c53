//! The cache for reads from HubSpot: Redis when configured, so replicas share it, and an in-process cache
//! otherwise or while Redis is down. Concurrent misses of one key wait on one upstream call. Errors are not cached;
//! a `null` answer (a record HubSpot does not hold, as [`super::HubSpot::read_record`] stores it) is kept for a short
//! while only.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::future::{BoxFuture, FutureExt, Shared};
use redis::AsyncCommands;
use serde_json::Value;

use super::HubSpotError;
use crate::shared_redis::SharedRedis;

/// How long a `null` answer is kept: a record missing now may be created any moment.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// A cached or fetched answer.
#[derive(Clone, Debug)]
pub struct Cached {
    pub value: Arc<Value>,
    /// It came from the cache, not from HubSpot.
    pub hit: bool,
}

type Answer = Result<Cached, HubSpotError>;
type Flight = Shared<BoxFuture<'static, Result<Arc<Value>, HubSpotError>>>;

/// Per entry: `null` answers live [`NEGATIVE_TTL`] (at most the TTL), others the TTL.
#[derive(Clone, Copy)]
struct Lifetime {
    ttl: Duration,
}

impl Lifetime {
    fn of(&self, value: &Value) -> Duration {
        if value.is_null() { NEGATIVE_TTL.min(self.ttl) } else { self.ttl }
    }
}

impl moka::Expiry<String, Arc<Value>> for Lifetime {
    fn expire_after_create(&self, _: &String, value: &Arc<Value>, _: std::time::Instant) -> Option<Duration> {
        Some(self.of(value))
    }
}

/// How the cache has been doing since start.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    pub hits: Arc<AtomicU64>,
    pub misses: Arc<AtomicU64>,
    /// Calls made to HubSpot on a miss; fewer than misses when misses were coalesced.
    pub upstream: Arc<AtomicU64>,
    /// Redis commands that failed, each answered from the in-process cache instead.
    pub redis_errors: Arc<AtomicU64>,
}

impl CacheStats {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Hits, misses, upstream calls, Redis errors.
    pub fn snapshot(&self) -> [u64; 4] {
        [&self.hits, &self.misses, &self.upstream, &self.redis_errors].map(|c| c.load(Ordering::Relaxed))
    }
}

#[derive(Clone)]
pub struct ReadCache {
    lifetime: Lifetime,
    redis: Option<SharedRedis>,
    local: moka::future::Cache<String, Arc<Value>>,
    flights: Arc<Mutex<HashMap<String, Flight>>>,
    stats: CacheStats,
}

impl ReadCache {
    /// Entries live `ttl`; the in-process tier holds at most `capacity` of them.
    pub fn new(ttl: Duration, redis: Option<SharedRedis>, capacity: u64) -> Self {
        let lifetime = Lifetime { ttl };
        let local = moka::future::Cache::builder().max_capacity(capacity).expire_after(lifetime).build();
        Self { lifetime, redis, local, flights: Arc::default(), stats: CacheStats::default() }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The cached answer under `key`, or `fetch`'s, stored for next time.
    pub async fn get_or_fetch(&self, key: String, fetch: BoxFuture<'static, Result<Value, HubSpotError>>) -> Answer {
        if let Some(redis) = &self.redis {
            let cached = redis.run(async |mut conn| conn.get::<_, Option<Vec<u8>>>(redis.key(&key)).await).await;
            match cached {
                Ok(Some(bytes)) => {
                    if let Ok(value) = serde_json::from_slice(&bytes) {
                        CacheStats::count(&self.stats.hits);
                        return Ok(Cached { value: Arc::new(value), hit: true });
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    CacheStats::count(&self.stats.redis_errors);
                    tracing::warn!(error = %err, "read cache: Redis unavailable, using the in-process cache");
                    return self.local_or_fetch(key, fetch).await;
                }
            }
            CacheStats::count(&self.stats.misses);
            let (cache, redis) = (self.clone(), redis.clone());
            let store = move |key: String, value: Arc<Value>| {
                async move {
                    let bytes = serde_json::to_vec(&*value).expect("a JSON value serialises");
                    let seconds = cache.lifetime.of(&value).as_secs().max(1);
                    let stored: redis::RedisResult<()> =
                        redis.run(async |mut conn| conn.set_ex(redis.key(&key), bytes, seconds).await).await;
                    if let Err(err) = stored {
                        CacheStats::count(&cache.stats.redis_errors);
                        tracing::warn!(error = %err, "read cache: could not store in Redis, keeping it in process");
                        cache.local.insert(key, value).await;
                    }
                }
                .boxed()
            };
            return self.fly(key, fetch, store).await;
        }
        self.local_or_fetch(key, fetch).await
    }

    async fn local_or_fetch(&self, key: String, fetch: BoxFuture<'static, Result<Value, HubSpotError>>) -> Answer {
        if let Some(value) = self.local.get(&key).await {
            CacheStats::count(&self.stats.hits);
            return Ok(Cached { value, hit: true });
        }
        CacheStats::count(&self.stats.misses);
        let local = self.local.clone();
        self.fly(key, fetch, move |key, value| async move { local.insert(key, value).await }.boxed()).await
    }

    /// Joins the call in flight for `key`, or starts it: fetch, store, then leave the table so the next miss
    /// starts afresh.
    async fn fly(
        &self,
        key: String,
        fetch: BoxFuture<'static, Result<Value, HubSpotError>>,
        store: impl FnOnce(String, Arc<Value>) -> BoxFuture<'static, ()> + Send + 'static,
    ) -> Answer {
        let flight = {
            let mut flights = self.flights.lock().expect("flight table");
            match flights.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let (flights_table, stats, key_owned) = (self.flights.clone(), self.stats.clone(), key.clone());
                    let flight = async move {
                        CacheStats::count(&stats.upstream);
                        let answer = fetch.await.map(Arc::new);
                        if let Ok(value) = &answer {
                            store(key_owned.clone(), value.clone()).await;
                        }
                        flights_table.lock().expect("flight table").remove(&key_owned);
                        answer
                    }
                    .boxed()
                    .shared();
                    flights.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await.map(|value| Cached { value, hit: false })
    }

    /// Drops the answer under `key`, after a write changed what HubSpot would answer.
    pub async fn forget(&self, key: &str) {
        self.local.invalidate(key).await;
        // Tried even while Redis is skipped: an entry left behind would answer what the write changed.
        if let Some(redis) = &self.redis
            && let Err(err) = redis.conn().del::<_, ()>(redis.key(key)).await
        {
            CacheStats::count(&self.stats.redis_errors);
            tracing::warn!(error = %err, "read cache: could not drop an entry from Redis; it expires with its TTL");
        }
    }
}
