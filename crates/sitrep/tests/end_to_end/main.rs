//! The binary's tests, in one test binary: each module drives `sitrep` as a person or an
//! operator would (the CLI against a real `sitrep serve`, the store on SQLite and PostgreSQL).

mod support;

mod actions_survive_a_crash;
mod cli;
mod client;
mod crash_soak;
mod disk_full;
mod evidence;
mod export;
mod postgres;
mod review_clocks_reports;
mod serve;
mod sign_in_flood;
mod statements_and_parties;
