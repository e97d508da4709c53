//! The rolling windows in Redis, so every replica spends from one budget per portal. Each window is a sorted set
//! of calls scored by Redis' own clock (replicas' clocks may disagree); each step is one atomic script.

use std::{sync::LazyLock, time::Duration};

use redis::Script;

use super::Budget;
use crate::shared_redis::SharedRedis;

/// KEYS: general window, search window. ARGV: max, span ms, searches a second (0: not a search), member.
/// Answers 0 when the call may go (and counts it), else the milliseconds to wait.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function wait(key, max, span)
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
          if redis.call('ZCARD', key) < max then return 0 end
          local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
          return math.max(1, tonumber(oldest[2]) + span - now)
        end
        local max, span, searches = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local w = wait(KEYS[1], max, span)
        if searches > 0 then w = math.max(w, wait(KEYS[2], searches, 1000)) end
        if w > 0 then return w end
        redis.call('ZADD', KEYS[1], now, ARGV[4])
        redis.call('PEXPIRE', KEYS[1], span + 60000)
        if searches > 0 then
          redis.call('ZADD', KEYS[2], now, ARGV[4])
          redis.call('PEXPIRE', KEYS[2], 61000)
        end
        return 0
        ",
    )
});

/// KEYS: general window, search window. ARGV: member. The call is answered: its slot counts from now.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
        redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
        return 0
        ",
    )
});

/// KEYS: general window. ARGV: max, span ms, remaining HubSpot reports, wait ms (-1: not exhausted), nonce.
/// Counts calls HubSpot saw and we did not as spent now; after a 429, fills the window until the wait is over.
static CORRECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local max, span, remaining, wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local at = now
        if wait >= 0 then
          redis.call('DEL', KEYS[1])
          remaining = 0
          at = now + wait - span
        else
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
        end
        local ours = max - redis.call('ZCARD', KEYS[1])
        for i = remaining + 1, ours do
          redis.call('ZADD', KEYS[1], at, ARGV[5] .. ':' .. i)
        end
        redis.call('PEXPIRE', KEYS[1], span + 60000)
        return 0
        ",
    )
});

#[derive(Clone, Debug)]
pub(super) struct SharedBudget {
    redis: SharedRedis,
}

impl SharedBudget {
    pub fn new(redis: SharedRedis) -> Self {
        Self { redis }
    }

    fn keys(&self, portal: i64) -> [String; 2] {
        ["general", "search"].map(|kind| self.redis.key(&format!("rate:{portal}:{kind}")))
    }

    fn member() -> String {
        format!("{:016x}", rand::random::<u64>())
    }

    /// `Ok(Ok(member))`: the call may go, counted as `member`; `Ok(Err(wait))`: not yet.
    pub async fn take(
        &self,
        portal: i64,
        budget: Budget,
        max: usize,
        span: Duration,
        searches_per_second: usize,
    ) -> redis::RedisResult<Result<String, Duration>> {
        let member = Self::member();
        let searches = if budget == Budget::Search { searches_per_second } else { 0 };
        let mut take = TAKE.key(&self.keys(portal));
        take.arg(max).arg(span.as_millis() as u64).arg(searches).arg(&member);
        let wait: u64 = self.redis.run(async |mut conn| take.invoke_async(&mut conn).await).await?;
        Ok(if wait == 0 { Ok(member) } else { Err(Duration::from_millis(wait)) })
    }

    pub async fn settle(&self, portal: i64, member: &str) -> redis::RedisResult<()> {
        let mut settle = SETTLE.key(&self.keys(portal));
        settle.arg(member);
        self.redis.run(async |mut conn| settle.invoke_async(&mut conn).await).await
    }

    /// HubSpot reports `remaining` calls left, or (`wait`) a 429 that holds until then.
    pub async fn correct(
        &self,
        portal: i64,
        max: usize,
        span: Duration,
        remaining: usize,
        wait: Option<Duration>,
    ) -> redis::RedisResult<()> {
        let [general, _] = self.keys(portal);
        let mut correct = CORRECT.key(general);
        correct
            .arg(max)
            .arg(span.as_millis() as u64)
            .arg(remaining)
            .arg(wait.map_or(-1, |w| w.as_millis() as i64))
            .arg(Self::member());
        self.redis.run(async |mut conn| correct.invoke_async(&mut conn).await).await
    }
}
