//! The crash soak, as CI runs it: `sitrep bench crash --rounds 20` kills a real `sitrep serve`
//! with SIGKILL twenty times under concurrent idempotent writers, on SQLite and (when
//! `SITREP_TEST_POSTGRES` names a server, as CI does) on PostgreSQL. Every round, `sitrep verify`
//! must pass while the server is down, and after the restart the record must hold every
//! acknowledged write exactly once. The checker itself is unit-tested on records with a missing
//! and a duplicated write (`src/crash.rs`).

use std::process::Command;
use std::time::Instant;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sitrep");

/// Runs `sitrep --json bench crash --rounds 20 EXTRA…` and checks its totals.
fn soak(extra: &[&str]) {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let output = Command::new(BIN)
        .args(["--json", "bench", "crash", "--rounds", "20", "--writers", "8", "--min-ms", "20", "--max-ms", "300"])
        .args(["--dir", scratch.path().to_str().expect("temporary paths are UTF-8")])
        .args(extra)
        .env_remove("SITREP_DATA")
        .env_remove("SITREP_DATABASE")
        .output()
        .expect("sitrep bench crash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("sitrep bench crash {extra:?} took {:.1} s: {stdout}", started.elapsed().as_secs_f64());
    assert!(output.status.success(), "sitrep bench crash failed ({}):\n{stdout}\n{stderr}", output.status);
    let totals: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("no JSON totals ({e}):\n{stdout}"));
    assert_eq!(totals["ok"], true, "{totals}");
    assert_eq!(totals["rounds"], 20, "{totals}");
    assert_eq!(totals["lost"], 0, "{totals}");
    assert_eq!(totals["duplicated"], 0, "{totals}");
    assert_eq!(totals["other_failures"], 0, "{totals}");
    assert_eq!(totals["verify_clean"], 20, "{totals}");
    assert_eq!(totals["verify_failures"], 0, "{totals}");
    let acknowledged = totals["acknowledged"].as_u64().expect("a count of acknowledged writes");
    let retried = totals["retried"].as_u64().expect("a count of retried writes");
    assert!(acknowledged > 0, "no write was acknowledged: {totals}");
    // Each write is in the record once: those acknowledged before a kill and those sent again.
    assert_eq!(totals["facts_in_record"].as_u64(), Some(acknowledged + retried), "{totals}");
    // The deployment is removed after a clean run.
    let left: Vec<_> = std::fs::read_dir(scratch.path()).expect("the scratch directory").collect();
    assert!(left.is_empty(), "a clean run leaves nothing behind: {left:?}");
}

#[test]
fn twenty_sigkills_on_sqlite_lose_and_duplicate_no_acknowledged_write() {
    soak(&[]);
}

#[test]
fn twenty_sigkills_on_postgres_lose_and_duplicate_no_acknowledged_write() {
    let Some(server) = std::env::var("SITREP_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) else {
        eprintln!("SKIPPED: SITREP_TEST_POSTGRES is not set, so the PostgreSQL crash soak does not run");
        return;
    };
    soak(&["--postgres", &server]);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_made() {
    let output = Command::new(BIN)
        .args(["bench", "crash", "--min-ms", "500", "--max-ms", "100"])
        .output()
        .expect("sitrep bench crash runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "sitrep: --min-ms must not be more than --max-ms");
}
