//! What sitrep's tests share, and only its tests (a dev-dependency of every crate): a clock the
//! test moves by hand, waiting for a condition with a deadline instead of sleeping, and
//! checking that a record as served is a chain, and the names of the people tests act as.

mod chain;
mod clock;
pub mod oidc;
pub mod people;
pub mod smtp;
mod wait;

pub use chain::assert_chain;
pub use clock::{ManualClock, system_now};
pub use wait::{Probe, eventually, eventually_blocking};
