//! Requests per credential: a generic cell rate (GCRA) of `RATE_LIMIT_PER_MINUTE`, a burst of that many and then
//! one every 60 s / n. With `REDIS_URL` the cell lives in Redis, so every replica spends from one budget per
//! credential; while Redis does not answer, each process keeps its own (governor).

use std::{num::NonZeroU32, sync::LazyLock, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use redis::Script;

use crate::shared_redis::SharedRedis;

/// KEYS: the credential's cell. ARGV: emission interval ms, burst tolerance ms. Answers 0 when the request may
/// go (and counts it), else the milliseconds until it may. Redis' own clock, so replicas' clocks may disagree.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        if now < tat - tolerance then return tat - tolerance - now end
        local next = tat + interval
        redis.call('SET', KEYS[1], next, 'PX', math.ceil(next - now) + 1000)
        return 0
        ",
    )
});

/// `RATE_LIMIT_PER_MINUTE`'s default.
pub const DEFAULT_PER_MINUTE: NonZeroU32 = NonZeroU32::new(1_200).expect("not zero");

/// Each credential's rate.
pub struct CallerRates {
    per_minute: NonZeroU32,
    local: DefaultKeyedRateLimiter<String>,
    redis: Option<SharedRedis>,
}

impl CallerRates {
    pub fn new(per_minute: NonZeroU32, redis: Option<SharedRedis>) -> Self {
        Self { per_minute, local: RateLimiter::keyed(Quota::per_minute(per_minute)), redis }
    }

    /// Counts a request of `caller`; `Err` holds how long until it may send one.
    pub async fn take(&self, caller: &str) -> Result<(), Duration> {
        if let Some(redis) = &self.redis {
            match self.take_shared(redis, caller).await {
                Ok(0) => return Ok(()),
                Ok(wait_ms) => return Err(Duration::from_millis(wait_ms)),
                Err(err) => tracing::debug!(error = %err, "Redis rate cell unavailable; counting in process"),
            }
        }
        self.local.check_key(&caller.to_owned()).map_err(|not_until| not_until.wait_time_from(self.local.clock().now()))
    }

    async fn take_shared(&self, redis: &SharedRedis, caller: &str) -> redis::RedisResult<u64> {
        let interval = 60_000 / u64::from(self.per_minute.get());
        let tolerance = interval * (u64::from(self.per_minute.get()) - 1);
        // The connection's own short timeouts bound the wait (see `SharedRedis::lazy`).
        let cell = redis.key(&format!("rate:{caller}"));
        redis
            .run(async |mut conn| TAKE.key(cell).arg(interval.max(1)).arg(tolerance).invoke_async(&mut conn).await)
            .await
    }
}
