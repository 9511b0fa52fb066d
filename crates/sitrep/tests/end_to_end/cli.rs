//! The admin commands as a user runs them: the real binary, a real data directory, and the
//! `sqlite3` shell as the tool someone would use to tamper with the record.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use sitrep_core::decide::{Declare, IncidentCommand};
use sitrep_core::events::FactStatus;
use sitrep_core::{IncidentNumber, Severity, UserName};
use sitrep_store::datadir::DataDir;
use sitrep_store::ledger::system_clock;
use sitrep_store::{Ledger, Request, SqliteStore, Store};

fn sitrep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep")).args(args).env_remove("SITREP_DATA").output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn init(data: &Path) -> Output {
    sitrep(&["init", "--data", data.to_str().expect("utf-8 path"), "--admin", "alice"])
}

/// Declares an incident and logs a few facts through the ledger, as the server would.
fn record_an_incident(data: &Path) {
    let dir = DataDir::open(data).expect("the deployment opens");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.database_path()).expect("store"));
    let ledger = Ledger::open(store, system_clock()).expect("ledger");
    let alice = UserName::parse("alice").expect("name");
    let declare = Declare { title: "Leaked deploy key".into(), severity: Some(Severity::Sev2), ..Declare::default() };
    ledger.execute_blocking(&alice, Request::Declare(declare)).expect("declares");
    for text in ["Key found in a public gist", "Key used from 203.0.113.7"] {
        let command = IncidentCommand::LogFact {
            text: text.into(),
            source: None,
            status: FactStatus::Unverified,
            basis: None,
            occurred: None,
        };
        ledger.execute_blocking(&alice, Request::Incident { incident: IncidentNumber(1), command }).expect("logs");
    }
}

#[test]
fn init_prints_a_token_last_and_verify_passes() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    let created = init(&data);
    assert!(created.status.success(), "{}", stderr(&created));
    let out = stdout(&created);
    let token = out.lines().last().expect("output");
    assert!(token.starts_with("sitrep_") && token.len() == 50, "the last line is the token: {out}");
    let database = std::fs::read(data.join("sitrep.db")).expect("database");
    assert!(!String::from_utf8_lossy(&database).contains(token), "only the token's hash is stored");

    let verified = sitrep(&["verify", "--data", data.to_str().expect("utf-8")]);
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    // The organisation record: the deployment, the policy, the four built-in playbooks, the
    // admin and the admin's token.
    assert_eq!(stdout(&verified), "ok: 8 entries in 1 records verify; no evidence blobs to check\n");
}

#[test]
fn init_refuses_to_overwrite_a_deployment() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    assert!(init(&data).status.success());
    let again = init(&data);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("refusing to overwrite an existing deployment"), "{}", stderr(&again));
    assert_eq!(sitrep(&["verify", "--data", data.to_str().expect("utf-8")]).status.code(), Some(0));
}

#[test]
fn init_refuses_a_bad_admin_name() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    let refused = sitrep(&["init", "--data", data.to_str().expect("utf-8"), "--admin", "Alice Smith"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("'Alice Smith' is not a valid user name"), "{}", stderr(&refused));
    assert!(!data.exists(), "a refused init creates nothing");
}

#[test]
fn verify_names_the_incident_and_seq_of_an_edited_entry() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    assert!(init(&data).status.success());
    record_an_incident(&data);
    let path = data.to_str().expect("utf-8");
    assert_eq!(sitrep(&["verify", "--data", path]).status.code(), Some(0));

    // Someone with shell access rewrites a fact, as they might to hide what was known when.
    let edit = Command::new("sqlite3")
        .arg(data.join("sitrep.db"))
        .arg("UPDATE entries SET body = replace(body, '203.0.113.7', '198.51.100.1') WHERE record = 1 AND seq = 4; SELECT changes();")
        .output()
        .expect("the sqlite3 shell runs (install the sqlite3 package)");
    assert!(edit.status.success(), "{}", stderr(&edit));
    assert_eq!(stdout(&edit).trim(), "1", "the edit changed one row");

    let broken = sitrep(&["verify", "--data", path]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(stdout(&broken).starts_with("BROKEN: INC-1 seq 4: the hash does not match"), "{}", stdout(&broken));

    let json = sitrep(&["verify", "--data", path, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    assert_eq!(report["record"], "INC-1");
    assert_eq!(report["seq"], 4);
}

#[test]
fn verify_of_a_missing_directory_says_how_to_create_one() {
    let parent = tempfile::tempdir().expect("temp dir");
    let missing = parent.path().join("nothing-here");
    let output = sitrep(&["verify", "--data", missing.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("sitrep init"), "{}", stderr(&output));
}

#[test]
fn policy_check_locates_errors_and_matrix_shows_the_default() {
    let parent = tempfile::tempdir().expect("temp dir");
    let file = parent.path().join("policy.toml");
    let broken = sitrep_core::policy::DEFAULT_POLICY
        .replace("approve = { any_of = [\"commander\"] }", "approve = { any_of = [\"comander\"] }");
    std::fs::write(&file, broken).expect("writes");
    let checked = sitrep(&["policy", "check", file.to_str().expect("utf-8")]);
    assert_eq!(checked.status.code(), Some(1));
    let message = stdout(&checked);
    assert!(message.contains("policy.toml:") && message.contains("unknown role 'comander'"), "{message}");

    let matrix = sitrep(&["policy", "matrix"]);
    assert!(matrix.status.success());
    assert!(
        stdout(&matrix).contains("| containment | commander or tech_lead | commander | 1 | local |"),
        "{}",
        stdout(&matrix)
    );
}

#[test]
fn serve_help_says_it_serves_the_web_ui_now() {
    let help = sitrep(&["serve", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = stdout(&help);
    assert!(!text.contains("later"), "the web UI ships with the server: {text}");
    assert!(text.contains("web UI"), "{text}");
}

/// Every subcommand `sitrep --help` lists has a row in `docs/cli.md`, so a command cannot ship
/// undocumented (`playbook` and `retry` once did).
#[test]
fn every_command_is_documented_in_the_cli_guide() {
    let help = sitrep(&["--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = stdout(&help);
    let commands: Vec<&str> = text
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a list of commands")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.contains(&"playbook") && commands.contains(&"retry"), "{commands:?}");
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).expect("docs/cli.md");
    let missing: Vec<&&str> = commands.iter().filter(|name| !guide.contains(&format!("`sitrep {name}"))).collect();
    assert!(missing.is_empty(), "docs/cli.md has no row for: {missing:?}");
}
