//! Server time under the test's control.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sitrep_core::Timestamp;

/// A clock the test moves forward by hand. It either stands still from a fixed start, or
/// follows the system clock plus what the test added: servers whose requests carry times the
/// test takes from the system clock (a date "today", a time "now") need the second.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Option<Timestamp>,
    offset_secs: Arc<AtomicI64>,
}

impl ManualClock {
    /// Stopped at `start` until the test moves it.
    pub fn starting_at(start: Timestamp) -> ManualClock {
        ManualClock { start: Some(start), offset_secs: Arc::new(AtomicI64::new(0)) }
    }

    /// The system clock, plus whatever the test adds.
    pub fn following_system() -> ManualClock {
        ManualClock { start: None, offset_secs: Arc::new(AtomicI64::new(0)) }
    }

    pub fn now(&self) -> Timestamp {
        let base = self.start.unwrap_or_else(system_now);
        base.plus_seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves the clock forward (servers never follow it back: their entry times never go
    /// backwards).
    pub fn advance(&self, seconds: i64) {
        self.offset_secs.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The clock as the ledger and the worker take it.
    pub fn clock(&self) -> Arc<dyn Fn() -> Timestamp + Send + Sync> {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

/// The wall clock, for tests whose requests carry times relative to today (the one place tests
/// read it; `clippy.toml` refuses it elsewhere).
#[allow(clippy::disallowed_methods)]
pub fn system_now() -> Timestamp {
    Timestamp::from_jiff(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told_and_every_copy_moves_with_it() {
        let start = Timestamp::from_unix_micros(1_800_000_000_000_000).expect("a time");
        let clock = ManualClock::starting_at(start);
        let read = clock.clock();
        assert_eq!((clock.now(), read()), (start, start));
        clock.clone().advance(90);
        assert_eq!(read(), start.plus_seconds(90));
        assert_eq!(clock.now(), start.plus_seconds(90));
    }

    #[test]
    fn a_following_clock_runs_ahead_of_the_system_by_what_was_added() {
        let clock = ManualClock::following_system();
        clock.advance(3600);
        let ahead = clock.now().unix_micros() - system_now().unix_micros();
        assert!((3_599_000_000..=3_600_000_000).contains(&ahead), "{ahead} µs ahead");
    }
}
