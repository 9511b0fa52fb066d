//! The one place that reads the wall clock.
//!
//! Server time comes from the ledger's [`Clock`], which tests replace, so a test that moves
//! server time moves all of it. The few readings that must be the real time whatever the
//! server's clock says (a webhook signature's timestamp, a CLI's "now") come from [`now`].
//! `clippy.toml` refuses `jiff::Timestamp::now` and `SystemTime::now` everywhere else.

use std::sync::Arc;

use sitrep_core::Timestamp;

use crate::ledger::Clock;

/// The wall clock, now.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Timestamp {
    Timestamp::from_jiff(jiff::Timestamp::now())
}

/// The wall clock as the ledger and the worker take it.
pub fn system_clock() -> Clock {
    Arc::new(now)
}
