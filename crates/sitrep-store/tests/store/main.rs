//! The store's tests, in one test binary: the conformance story every backend passes, concurrent
//! writers, crashes mid-commit and a tampered record.

mod support;

mod concurrency;
mod conformance;
mod crash;
mod tamper;
