//! Connectors against real receivers on loopback: a server with its worker over a fresh data
//! directory per test, and the receivers a deployment would talk to, started by the test: an
//! HTTP receiver that checks signatures and idempotency keys, real scripts for `command`, and
//! a real SMTP server (Python's aiosmtpd) for email.

mod alerts;
mod channels;
mod clocks;
mod command;
mod harness;
mod publish;
mod receiver;
mod refusals;
mod webhook;
