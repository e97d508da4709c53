//! The cache for reads from HubSpot: Redis when configured, so replicas share it, and an in-process cache
//! otherwise or while Redis is down. Concurrent misses of one key wait on one upstream call. Errors are not cached.

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

type Answer = Result<Arc<Value>, HubSpotError>;
type Flight = Shared<BoxFuture<'static, Answer>>;

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
    ttl: Duration,
    redis: Option<SharedRedis>,
    local: moka::future::Cache<String, Arc<Value>>,
    flights: Arc<Mutex<HashMap<String, Flight>>>,
    stats: CacheStats,
}

impl ReadCache {
    /// Entries live `ttl`; the in-process tier holds at most `capacity` of them.
    pub fn new(ttl: Duration, redis: Option<SharedRedis>, capacity: u64) -> Self {
        let local = moka::future::Cache::builder().max_capacity(capacity).time_to_live(ttl).build();
        Self { ttl, redis, local, flights: Arc::default(), stats: CacheStats::default() }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The cached answer under `key`, or `fetch`'s, stored for next time.
    pub async fn get_or_fetch(&self, key: String, fetch: BoxFuture<'static, Result<Value, HubSpotError>>) -> Answer {
        if let Some(redis) = &self.redis {
            match redis.conn().get::<_, Option<Vec<u8>>>(redis.key(&key)).await {
                Ok(Some(bytes)) => {
                    if let Ok(value) = serde_json::from_slice(&bytes) {
                        CacheStats::count(&self.stats.hits);
                        return Ok(Arc::new(value));
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
                    let stored: redis::RedisResult<()> =
                        redis.conn().set_ex(redis.key(&key), bytes, cache.ttl.as_secs().max(1)).await;
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
            return Ok(value);
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
        flight.await
    }
}
