//! The request budget per portal: HubSpot allows so many calls per rolling window (100 per 10 s for a private app
//! on Free/Starter) and, on top, 5 searches a second. A call waits until its window has room, so the limit, not a
//! 429, paces a sync. The budget starts from configuration and follows what HubSpot's headers report.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

/// Which budget a call spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    General,
    Search,
}

#[derive(Debug)]
struct Window {
    max: usize,
    span: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    fn new(max: usize, span: Duration) -> Self {
        Self { max: max.max(1), span, sent: VecDeque::new() }
    }

    fn prune(&mut self, now: Instant) {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            self.sent.pop_front();
        }
    }

    /// A slot taken at `sent` is held until `done`: HubSpot counts a call when it arrives, which is after we sent
    /// it, so counting from the send would let the next call in a little early.
    fn hold(&mut self, sent: Instant, done: Instant) {
        if let Some(slot) = self.sent.iter_mut().find(|t| **t == sent) {
            *slot = done;
            self.sent.make_contiguous().sort_unstable();
        }
    }

    /// Takes a slot now, or says how long until one frees up.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.prune(now);
        if self.sent.len() < self.max {
            self.sent.push_back(now);
            return Ok(());
        }
        Err(self.span.saturating_sub(now.duration_since(self.sent[0])))
    }
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
    portals: Arc<Mutex<HashMap<i64, PortalBudget>>>,
}

impl Limiter {
    pub fn new(max: usize, span: Duration, searches_per_second: usize) -> Self {
        Self { max, span, searches_per_second, portals: Arc::default() }
    }

    fn with<T>(&self, portal: i64, f: impl FnOnce(&mut PortalBudget) -> T) -> T {
        let mut portals = self.portals.lock().expect("limiter state");
        let budget = portals.entry(portal).or_insert_with(|| PortalBudget {
            general: Window::new(self.max, self.span),
            search: Window::new(self.searches_per_second, Duration::from_secs(1)),
        });
        f(budget)
    }

    /// Waits until `portal` may make one more call of this kind, and counts it; the answer is the slot's
    /// time, for [`Limiter::settle`].
    pub async fn acquire(&self, portal: i64, budget: Budget) -> Instant {
        loop {
            let now = Instant::now();
            let verdict = self.with(portal, |b| {
                match budget {
                    Budget::General => b.general.take(now),
                    // A search spends from both budgets.
                    Budget::Search => b.search.take(now).and_then(|()| {
                        b.general.take(now).inspect_err(|_| {
                            b.search.sent.pop_back();
                        })
                    }),
                }
            });
            match verdict {
                Ok(()) => return now,
                Err(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }

    /// The call that took the slot at `sent` has been answered: the slot counts from now.
    pub fn settle(&self, portal: i64, budget: Budget, sent: Instant) {
        self.with(portal, |b| {
            let now = Instant::now();
            b.general.hold(sent, now);
            if budget == Budget::Search {
                b.search.hold(sent, now);
            }
        });
    }

    /// Follows HubSpot's own count: its `X-HubSpot-RateLimit-Max`/`-Interval-Milliseconds` replace the configured
    /// size, and when it reports fewer calls remaining than we think (another client shares the token), the
    /// difference is counted as spent now.
    pub fn observe(&self, portal: i64, max: Option<usize>, interval: Option<Duration>, remaining: Option<usize>) {
        self.with(portal, |b| {
            let window = &mut b.general;
            if let Some(max) = max.filter(|m| *m > 0) {
                window.max = max;
            }
            if let Some(span) = interval.filter(|s| !s.is_zero()) {
                window.span = span;
            }
            let now = Instant::now();
            window.prune(now);
            if let Some(remaining) = remaining {
                let ours = window.max.saturating_sub(window.sent.len());
                for _ in remaining..ours {
                    window.sent.push_back(now);
                }
            }
        });
    }

    /// After a 429: the window is full until `wait` has passed.
    pub fn exhausted(&self, portal: i64, wait: Duration) {
        self.with(portal, |b| {
            let window = &mut b.general;
            let now = Instant::now();
            // Slots taken at `now + wait - span` free up at `now + wait`.
            let at = (now + wait).checked_sub(window.span).unwrap_or(now);
            window.sent.clear();
            window.sent.extend(std::iter::repeat_n(at, window.max));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_calls_to_the_window() {
        let limiter = Limiter::new(3, Duration::from_secs(10), 5);
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
        let limiter = Limiter::new(100, Duration::from_secs(10), 2);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(1, Budget::Search).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn follows_what_hubspot_reports() {
        let limiter = Limiter::new(100, Duration::from_secs(10), 5);
        limiter.observe(1, Some(2), Some(Duration::from_secs(1)), Some(0));
        let start = Instant::now();
        limiter.acquire(1, Budget::General).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1), "HubSpot said none remain in a 1 s window");
    }
}
