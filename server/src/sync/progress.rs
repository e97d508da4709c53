//! Backfill progress: a bar per object type in a terminal, a log line every few seconds otherwise.

use std::{
    collections::HashMap,
    io::IsTerminal,
    sync::Mutex,
    time::{Duration, Instant},
};

use hubspot::ObjectType;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

pub enum Progress {
    Bars { all: MultiProgress, bars: Mutex<HashMap<ObjectType, ProgressBar>> },
    Log { last: Mutex<Instant> },
    Quiet,
}

impl Progress {
    /// Bars when standard error is a terminal, log lines otherwise.
    pub fn for_terminal() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bars { all: MultiProgress::new(), bars: Mutex::default() }
        } else {
            Self::Log { last: Mutex::new(Instant::now()) }
        }
    }

    pub fn start(&self, object_type: ObjectType, total: Option<u64>, done: u64) {
        match self {
            Self::Bars { all, bars } => {
                let bar = all.add(ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>10} {bar:40} {pos}/{len} {per_sec} eta {eta}")
                        .expect("a valid template"),
                );
                bar.set_prefix(object_type.plural());
                bar.set_position(done);
                bars.lock().expect("progress bars").insert(object_type, bar);
            }
            Self::Log { .. } => tracing::info!(object_type = object_type.plural(), ?total, done, "backfill started"),
            Self::Quiet => {}
        }
    }

    pub fn advance(&self, object_type: ObjectType, done: u64) {
        match self {
            Self::Bars { bars, .. } => {
                if let Some(bar) = bars.lock().expect("progress bars").get(&object_type) {
                    bar.set_position(done);
                }
            }
            Self::Log { last } => {
                let mut last = last.lock().expect("progress clock");
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    tracing::info!(object_type = object_type.plural(), done, "backfill progress");
                }
            }
            Self::Quiet => {}
        }
    }

    pub fn done(&self, object_type: ObjectType, done: u64) {
        match self {
            Self::Bars { bars, .. } => {
                if let Some(bar) = bars.lock().expect("progress bars").get(&object_type) {
                    bar.set_length(done);
                    bar.finish();
                }
            }
            Self::Log { .. } => tracing::info!(object_type = object_type.plural(), done, "backfill finished"),
            Self::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Self::Bars { all, .. } = self {
            let _ = all.clear();
        }
    }
}
