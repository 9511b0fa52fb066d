//! A deployment whose records are in PostgreSQL: `sitrep init --database`, `sitrep serve` with
//! `database` in its configuration, a SIGKILL, and `sitrep verify --database`, against the real
//! server `SITREP_TEST_POSTGRES` names (CI sets it; the store's own conformance suite says more).

use crate::support;

use sitrep_store::postgres::ScratchDatabase;
use support::*;

/// A database of its own for the test, dropped afterwards; `None` when the server is not named.
fn database() -> Option<ScratchDatabase> {
    let Some(server) = std::env::var("SITREP_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) else {
        eprintln!("SKIPPED: SITREP_TEST_POSTGRES is not set, so the PostgreSQL deployment is not tested");
        return None;
    };
    Some(ScratchDatabase::create(&server, "sitrep_cli").expect("SITREP_TEST_POSTGRES names a server that answers"))
}

#[test]
fn a_deployment_on_postgres_keeps_every_acknowledged_entry_through_a_sigkill_and_verifies() {
    let Some(database) = database() else { return };
    let (mut server, token) = Server::init_on_postgres("root", &database.url());
    let root = server.cli(&token);
    root.run(&["declare", "Leaked deploy key", "--severity", "sev2"]).ok();
    for n in 1..=20 {
        root.run(&["log", "INC-1", &format!("finding {n}")]).ok();
    }
    assert!(!server.data.join("sitrep.db").exists(), "no SQLite file: the records are in PostgreSQL");

    // Everything acknowledged before the kill is there after it.
    let killed = server.kill_hard();
    assert!(!killed.success());
    let server = server.restart();
    let record = server.cli(&token).run(&["record", "INC-1", "--json"]);
    let facts = record.ok().lines().filter(|line| line.contains(r#""kind":"fact.logged""#)).count();
    assert_eq!(facts, 20, "{}", record.ok());

    let (code, said) = server.verify_data();
    assert_eq!(code, Some(0), "{said}");
    let mut client = postgres::Client::connect(&database.url(), postgres::NoTls).expect("connects");
    let rows: i64 = client.query_one("SELECT count(*) FROM entries WHERE record = 1", &[]).expect("counts").get(0);
    assert!(rows >= 21, "the incident's entries are rows of the database: {rows}");

    // A changed row in the database is found by `sitrep verify --database`.
    client
        .execute("UPDATE entries SET body = replace(body, 'finding 7', 'finding 8') WHERE record = 1", &[])
        .expect("tampers");
    let (code, said) = server.verify_data();
    assert_eq!(code, Some(1), "sitrep verify exits 1 on a break: {said}");
    assert!(said.contains("INC-1"), "{said}");
}
