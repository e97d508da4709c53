//! A circuit breaker per portal in front of HubSpot: after `failures` attempts in a row fail as an outage does
//! (no answer, or a 5xx), calls fail at once for `open_for` instead of each waiting out its timeouts and retries;
//! then calls go through again (half-open), and the first answer closes the circuit while a failure opens it
//! anew, for longer each time (doubling, up to eight times `open_for`). Refusals (4xx, 429 included) are answers:
//! HubSpot is up.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use failsafe::{StateMachine, backoff, failure_policy};

use super::error::HubSpotError;

type Breaker = StateMachine<failure_policy::ConsecutiveFailures<backoff::Exponential>, ()>;

/// When a circuit opens, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct CircuitSettings {
    /// Attempts failing in a row that open the circuit.
    pub failures: u32,
    /// How long it stays open the first time (at least a second).
    pub open_for: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        Self { failures: 5, open_for: Duration::from_secs(30) }
    }
}

struct Portal {
    breaker: Breaker,
    /// The failure that opened the circuit, so a refused call can say what HubSpot last answered.
    last: Option<HubSpotError>,
}

#[derive(Clone)]
pub struct Circuits {
    settings: CircuitSettings,
    portals: Arc<Mutex<HashMap<i64, Portal>>>,
}

impl Circuits {
    pub fn new(settings: CircuitSettings) -> Self {
        // failsafe's backoff counts whole seconds.
        let open_for = settings.open_for.max(Duration::from_secs(1));
        Self { settings: CircuitSettings { open_for, ..settings }, portals: Arc::default() }
    }

    fn with<T>(&self, portal: i64, f: impl FnOnce(&mut Portal) -> T) -> T {
        let mut portals = self.portals.lock().expect("circuit breakers");
        let entry = portals.entry(portal).or_insert_with(|| {
            let backoff = backoff::exponential(self.settings.open_for, self.settings.open_for * 8);
            let policy = failure_policy::consecutive_failures(self.settings.failures, backoff);
            Portal { breaker: failsafe::Config::new().failure_policy(policy).build(), last: None }
        });
        f(entry)
    }

    /// `Ok` when a call to HubSpot for `portal` may go; the error to answer at once when its circuit is open.
    pub fn admit(&self, portal: i64) -> Result<(), HubSpotError> {
        self.with(portal, |p| {
            if p.breaker.is_call_permitted() {
                return Ok(());
            }
            tracing::debug!(portal, "HubSpot's circuit is open: a call fails at once");
            Err(HubSpotError::circuit_open(p.last.as_ref()))
        })
    }

    /// Records an attempt's outcome.
    pub fn record(&self, portal: i64, outcome: Result<(), &HubSpotError>) {
        self.with(portal, |p| match outcome {
            Err(err) if err.is_outage() => {
                let was_open = !p.breaker.is_call_permitted();
                p.last = Some(err.clone());
                p.breaker.on_error();
                if !was_open && !p.breaker.is_call_permitted() {
                    tracing::warn!(portal, error = %err, "HubSpot keeps failing: its circuit is open");
                }
            }
            _ => p.breaker.on_success(),
        });
    }
}
