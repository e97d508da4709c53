//! The request budget per portal: HubSpot allows so many calls per rolling window (100 per 10 s for a private app
//! on Free/Starter) and, on top, 5 searches a second. A call waits until its window has room, so the limit, not a
//! 429, paces a sync. The budget starts from configuration and follows what HubSpot's headers report. With Redis,
//! replicas spend from one budget; while Redis is unreachable each falls back to its own.

mod shared;
mod window;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

use self::{shared::SharedBudget, window::Window};
use crate::shared_redis::SharedRedis;

/// Which budget a call spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    General,
    Search,
}

/// A call's place in its window, given back to [`Limiter::settle`] once answered.
#[derive(Debug)]
pub enum Slot {
    Local(Instant),
    Shared(String),
}

#[derive(Debug)]
struct PortalBudget {
    general: Window,
    search: Window,
}

/// Budgets of every portal this gateway calls HubSpot for.
#[derive(Clone, Debug)]
pub struct Limiter {
    max: usize,
    span: Duration,
    searches_per_second: usize,
    /// The windows in this process; they also hold each portal's size as HubSpot reports it.
    portals: Arc<Mutex<HashMap<i64, PortalBudget>>>,
    shared: Option<SharedBudget>,
}

impl Limiter {
    pub fn new(max: usize, span: Duration, searches_per_second: usize, redis: Option<SharedRedis>) -> Self {
        Self { max, span, searches_per_second, portals: Arc::default(), shared: redis.map(SharedBudget::new) }
    }

    fn with<T>(&self, portal: i64, f: impl FnOnce(&mut PortalBudget) -> T) -> T {
        let mut portals = self.portals.lock().expect("limiter state");
        let budget = portals.entry(portal).or_insert_with(|| PortalBudget {
            general: Window::new(self.max, self.span),
            search: Window::new(self.searches_per_second, Duration::from_secs(1)),
        });
        f(budget)
    }

    fn size(&self, portal: i64) -> (usize, Duration) {
        self.with(portal, |b| (b.general.max, b.general.span))
    }

    /// Waits until `portal` may make one more call of this kind, and counts it.
    pub async fn acquire(&self, portal: i64, budget: Budget) -> Slot {
        if let Some(shared) = &self.shared {
            loop {
                let (max, span) = self.size(portal);
                match shared.take(portal, budget, max, span, self.searches_per_second).await {
                    Ok(Ok(member)) => return Slot::Shared(member),
                    Ok(Err(wait)) => tokio::time::sleep(wait).await,
                    Err(err) => {
                        tracing::warn!(error = %err, "rate budget: Redis unavailable, counting in this process");
                        break;
                    }
                }
            }
        }
        Slot::Local(self.acquire_here(portal, budget).await)
    }

    async fn acquire_here(&self, portal: i64, budget: Budget) -> Instant {
        loop {
            let now = Instant::now();
            let verdict = self.with(portal, |b| {
                match budget {
                    Budget::General => b.general.take(now),
                    // A search spends from both budgets.
                    Budget::Search => {
                        b.search.take(now).and_then(|()| b.general.take(now).inspect_err(|_| b.search.untake()))
                    }
                }
            });
            match verdict {
                Ok(()) => return now,
                Err(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }

    /// The call that took `slot` has been answered: the slot counts from now.
    pub async fn settle(&self, portal: i64, budget: Budget, slot: Slot) {
        match slot {
            Slot::Local(sent) => self.with(portal, |b| {
                let now = Instant::now();
                b.general.hold(sent, now);
                if budget == Budget::Search {
                    b.search.hold(sent, now);
                }
            }),
            Slot::Shared(member) => {
                if let Some(shared) = &self.shared
                    && let Err(err) = shared.settle(portal, &member).await
                {
                    tracing::warn!(error = %err, "rate budget: could not settle a call in Redis");
                }
            }
        }
    }

    /// Follows HubSpot's own count: its `X-HubSpot-RateLimit-Max`/`-Interval-Milliseconds` replace the configured
    /// size, and when it reports fewer calls remaining than we think (a client outside the gateway shares the
    /// token), the difference is counted as spent now.
    pub async fn observe(&self, portal: i64, max: Option<usize>, interval: Option<Duration>, remaining: Option<usize>) {
        self.with(portal, |b| {
            if let Some(max) = max.filter(|m| *m > 0) {
                b.general.max = max;
            }
            if let Some(span) = interval.filter(|s| !s.is_zero()) {
                b.general.span = span;
            }
        });
        if let Some(remaining) = remaining {
            self.correct(portal, remaining, None).await;
        }
    }

    /// After a 429: the window is full until `wait` has passed.
    pub async fn exhausted(&self, portal: i64, wait: Duration) {
        self.correct(portal, 0, Some(wait)).await;
    }

    async fn correct(&self, portal: i64, remaining: usize, wait: Option<Duration>) {
        if let Some(shared) = &self.shared {
            let (max, span) = self.size(portal);
            match shared.correct(portal, max, span, remaining, wait).await {
                Ok(()) => return,
                Err(err) => tracing::warn!(error = %err, "rate budget: Redis unavailable, correcting in this process"),
            }
        }
        self.with(portal, |b| match wait {
            Some(wait) => b.general.full_for(wait),
            None => b.general.spent_elsewhere(remaining),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_calls_to_the_window() {
        let limiter = Limiter::new(3, Duration::from_secs(10), 5, None);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(1, Budget::General).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(1, Budget::General).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10), "the fourth call waits for the first to leave");
        // Another portal has its own budget.
        let other = Instant::now();
        limiter.acquire(2, Budget::General).await;
        assert_eq!(other.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn searches_have_their_own_per_second_budget() {
        let limiter = Limiter::new(100, Duration::from_secs(10), 2, None);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(1, Budget::Search).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn follows_what_hubspot_reports() {
        let limiter = Limiter::new(100, Duration::from_secs(10), 5, None);
        limiter.observe(1, Some(2), Some(Duration::from_secs(1)), Some(0)).await;
        let start = Instant::now();
        limiter.acquire(1, Budget::General).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1), "HubSpot said none remain in a 1 s window");
    }
}
