//! The core's integration tests, in one test binary: each module is one capability, driven
//! through the public API as the server drives it (decide, seal, fold).

mod support;

mod alerts;
mod clocks;
mod closing;
mod dates;
mod decide;
mod delivery;
mod evidence;
mod occurrence;
mod playbooks;
mod policy_table;
mod queue;
mod report;
mod rfc6962;
mod step_up;
mod text;
mod units;
