//! The HTTP API, tested through a real server on an ephemeral port with a real SQLite store.
//!
//! Every test starts its own server (`helpers::spawn_app`) over a fresh data directory, so
//! tests are independent and run in parallel.

mod auth;
mod authz;
mod chain_page;
mod command;
mod concurrency;
mod connections;
mod errors;
mod events;
mod evidence;
mod export;
mod helpers;
mod life;
mod occurrence;
mod oidc;
mod openapi;
mod ops;
mod refusals;
mod report;
mod review;
mod scim;
mod shares;
mod statements;
mod step_up;
