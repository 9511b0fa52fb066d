//! Chat, two-way, against a real Matrix homeserver: Synapse (PyPI) started once for this test
//! binary by `tools/matrix/synapse.py`, real Matrix clients driven through
//! `tools/matrix/client.py` (matrix-nio), and a real sitrep server whose bot is a Synapse user.
//!
//! Without Synapse the tests print why and pass, unless `SITREP_MATRIX_TESTS=required`.

#[allow(dead_code, unused_imports)]
#[path = "../api/helpers.rs"]
mod helpers;

mod commands;
mod harness;
mod link_codes;
mod rooms;
