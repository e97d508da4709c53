//! Tables a serving process holds in memory (API keys, registered operations) so that checking a request reads no
//! database: read again every [`RELOAD_EVERY`], and for something not held (made a moment ago by another process)
//! at most once per [`RELOAD_ON_MISS`], so a flood of unknown ones costs one read a second.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// How often a serving process reads such a table again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The least time between two reads for something not held.
pub const RELOAD_ON_MISS: Duration = Duration::from_secs(1);

/// When a table was last read, and whether a miss may read it again now.
pub struct MissGate {
    read_at: Mutex<Instant>,
    every: Duration,
}

impl Default for MissGate {
    fn default() -> Self {
        Self::new(RELOAD_ON_MISS)
    }
}

impl MissGate {
    /// Misses read the table at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self { read_at: Mutex::new(Instant::now()), every }
    }

    /// The table was just read.
    pub fn read(&self) {
        if let Ok(mut at) = self.read_at.lock() {
            *at = Instant::now();
        }
    }

    /// Whether a miss may read the table now; claims the read before it is made, so concurrent misses make one.
    pub fn claim(&self) -> bool {
        self.read_at.lock().is_ok_and(|mut at| {
            let due = at.elapsed() >= self.every;
            if due {
                *at = Instant::now();
            }
            due
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_reads_once_per_interval() {
        let gate = MissGate::new(Duration::from_secs(3600));
        assert!(!gate.claim(), "just read");
        let gate = MissGate::new(Duration::ZERO);
        assert!(gate.claim() && gate.claim(), "no interval: every miss reads");
    }
}
