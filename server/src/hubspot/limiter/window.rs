//! A rolling window of calls held in this process.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

#[derive(Debug)]
pub(super) struct Window {
    pub max: usize,
    pub span: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    pub fn new(max: usize, span: Duration) -> Self {
        Self { max: max.max(1), span, sent: VecDeque::new() }
    }

    fn prune(&mut self, now: Instant) {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            self.sent.pop_front();
        }
    }

    /// A slot taken at `sent` is held until `done`: HubSpot counts a call when it arrives, which is after we sent
    /// it, so counting from the send would let the next call in a little early.
    pub fn hold(&mut self, sent: Instant, done: Instant) {
        if let Some(slot) = self.sent.iter_mut().find(|t| **t == sent) {
            *slot = done;
            self.sent.make_contiguous().sort_unstable();
        }
    }

    /// Takes a slot now, or says how long until one frees up.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.prune(now);
        if self.sent.len() < self.max {
            self.sent.push_back(now);
            return Ok(());
        }
        Err(self.span.saturating_sub(now.duration_since(self.sent[0])))
    }

    /// Gives back the slot just taken.
    pub fn untake(&mut self) {
        self.sent.pop_back();
    }

    /// HubSpot says only `remaining` calls are left: count the difference as spent now.
    pub fn spent_elsewhere(&mut self, remaining: usize) {
        let now = Instant::now();
        self.prune(now);
        let ours = self.max.saturating_sub(self.sent.len());
        for _ in remaining..ours {
            self.sent.push_back(now);
        }
    }

    /// Full until `wait` has passed.
    pub fn full_for(&mut self, wait: Duration) {
        let now = Instant::now();
        // Slots taken at `now + wait - span` free up at `now + wait`.
        let at = (now + wait).checked_sub(self.span).unwrap_or(now);
        self.sent.clear();
        self.sent.extend(std::iter::repeat_n(at, self.max));
    }
}
