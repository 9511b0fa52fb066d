//! The `command` connector, with real scripts the test writes: the action arrives as JSON on
//! stdin with the playbook's input filled in and the idempotency key in the environment; the
//! exit code decides the outcome; a command that hangs, even one that never reads its input, is
//! killed with every process it started at its timeout, holds up no other work meanwhile, and
//! does not hold up the worker's shutdown.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    ADMIN, COMMANDER, KEY_ID, LEGAL, TestServer, action, action_entries, action_reaches, assert_idempotency_key,
    eventually, kinds_and_attempts, spawn_with_scratch,
};
use crate::receiver::{Receiver, SECRET};

/// Writes an executable script.
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("the script is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("the script is executable");
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}

/// A playbook whose pre-approved containment runs the registered command `disable-account`.
const PLAYBOOK: &str = r#"id = "disable-account"
title = "Disable a compromised account"
version = "2.1"
approved_by = "Head of Security Operations"
approved_at = "2026-10-01"
required_roles = ["commander", "tech_lead"]

[inputs.account]
description = "The account to disable"

[[preapproved]]
class = "containment"
title = "Disable {account}"
actions = [{ connector = "command", command = "disable-account", input = { account = "{account}", reason = "compromised" } }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_script_gets_the_action_on_stdin_and_its_output_is_recorded() {
    let server = spawn_with_scratch(|dir| {
        let path = script(
            dir,
            "disable-account.sh",
            r#"cat > "$1/stdin.json"
printf '%s' "$SITREP_IDEMPOTENCY_KEY" > "$1/key"
echo "disabled the account"
"#,
        );
        format!(
            "[commands.disable-account]\npath = \"{path}\"\nargs = [\"{dir}\"]\ntimeout_secs = 10\n",
            dir = dir.display()
        )
    })
    .await;
    let added = server.put(ADMIN, "/api/v1/playbooks/disable-account", json!({ "source": PLAYBOOK })).await;
    assert_eq!(added.status(), StatusCode::OK, "the admin adds the playbook: {:?}", added.text().await);
    let state = server
        .declare(
            "Service account svc-build used from abroad",
            json!({"playbook": "disable-account", "inputs": {"account": "svc-build"}}),
        )
        .await;
    let incident = state["id"].as_str().expect("an incident id");
    let did = state["decisions"][0]["id"].as_str().expect("the pre-approved decision");

    let done = action_reaches(&server, incident, did, 1, "succeeded").await;
    assert_eq!(done["detail"], "exit 0: disabled the account", "the exit code and output are recorded: {done:#}");

    let stdin: Value = serde_json::from_str(
        &std::fs::read_to_string(server.scratch.join("stdin.json")).expect("the script saved its stdin"),
    )
    .expect("the script got JSON on stdin");
    assert_eq!(stdin["input"], json!({"account": "svc-build", "reason": "compromised"}), "the input, filled in");
    assert_eq!(stdin["incident"], incident);
    assert_eq!(stdin["decision"], did);
    assert_eq!(stdin["class"], "containment");
    assert_eq!(stdin["playbook"]["playbook"], "disable-account");
    let key = std::fs::read_to_string(server.scratch.join("key")).expect("the script saved its key");
    assert_idempotency_key(&key, state["uuid"].as_str().expect("a UUID"), did, 1);
    assert_eq!(stdin["idempotency_key"], key, "stdin and the environment carry the same key");

    let runs = action_entries(&server.record(incident).await, did, 1);
    let kinds: Vec<&str> = runs.iter().map(|e| e["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["action.started", "action.succeeded"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_past_its_timeout_is_killed_and_retried_later() {
    let server = spawn_with_scratch(|dir| {
        let path = script(dir, "slow.sh", "exec sleep 20\n");
        format!("[commands.slow]\npath = \"{path}\"\ntimeout_secs = 1\n")
    })
    .await;
    let state = server.declare("Slow containment", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let proposed = server
        .post_ok(
            COMMANDER,
            &format!("/api/v1/incidents/{incident}/decisions"),
            json!({"class": "containment", "title": "Block the egress", "actions": [{"connector": "command", "command": "slow"}]}),
            StatusCode::CREATED,
        )
        .await;
    let did = proposed["id"].as_str().expect("a decision id");

    let started = std::time::Instant::now();
    let failed = action_reaches(&server, incident, did, 1, "failed").await;
    assert!(started.elapsed().as_secs() < 10, "killed at its 1 s timeout, not at the end of its sleep");
    let reason = failed["last_error"].as_str().expect("a reason");
    assert!(reason.contains("did not finish within 1 s"), "{reason}");
    assert_eq!(failed["retryable"], true, "a timeout may be retried: {failed:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_75_asks_for_a_retry_and_any_other_failure_is_final() {
    let server = spawn_with_scratch(|dir| {
        let busy = script(dir, "busy.sh", "echo 'the directory is busy' >&2\nexit 75\n");
        let broken = script(dir, "broken.sh", "echo 'no such account'\nexit 3\n");
        format!("[commands.busy]\npath = \"{busy}\"\n\n[commands.broken]\npath = \"{broken}\"\n")
    })
    .await;
    let state = server.declare("Two commands", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let proposed = server
        .post_ok(
            COMMANDER,
            &format!("/api/v1/incidents/{incident}/decisions"),
            json!({"class": "containment", "title": "Disable and lock", "actions": [
                {"connector": "command", "command": "busy"},
                {"connector": "command", "command": "broken"},
            ]}),
            StatusCode::CREATED,
        )
        .await;
    let did = proposed["id"].as_str().expect("a decision id");

    let busy = action_reaches(&server, incident, did, 1, "failed").await;
    assert_eq!(busy["retryable"], true, "{busy:#}");
    assert!(busy["last_error"].as_str().is_some_and(|e| e.contains("exit 75") && e.contains("busy")), "{busy:#}");
    let broken = action_reaches(&server, incident, did, 2, "failed").await;
    assert_eq!(broken["retryable"], false, "{broken:#}");
    assert!(
        broken["last_error"].as_str().is_some_and(|e| e.contains("exit 3") && e.contains("no such account")),
        "{broken:#}"
    );
    assert_eq!(action(&server.state(incident).await, did, 2)["attempts"], 1);
}

/// Whether the process is gone (or a zombie waiting for whoever inherited it to reap it).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        // The state follows the command's name in parentheses: `123 (sleep) S …`.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Reads a pid a script wrote, waiting for it to be written.
async fn pid_written(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    eventually(&format!("the script to write {name}"), || async {
        std::fs::read_to_string(&path).ok().filter(|pid| pid.ends_with('\n'))
    })
    .await
}

/// Proposes a containment decision (approved as it is proposed) with these actions; its id.
async fn contain(server: &TestServer, incident: &str, title: &str, actions: Value) -> String {
    let proposed = server
        .post_ok(
            COMMANDER,
            &format!("/api/v1/incidents/{incident}/decisions"),
            json!({"class": "containment", "title": title, "actions": actions}),
            StatusCode::CREATED,
        )
        .await;
    proposed["id"].as_str().expect("a decision id").to_owned()
}

/// More than a pipe holds (64 KiB), so a command that never reads it cannot take it all.
fn large_input() -> Value {
    json!({"accounts": "svc-build ".repeat(20_000)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_never_reads_a_large_input_is_killed_with_its_process_group_at_its_timeout() {
    // The script starts a grandchild and waits for it, reading nothing: with more input than a
    // pipe holds, writing its stdin would never finish.
    let server = spawn_with_scratch(|dir| {
        let path = script(
            dir,
            "deaf.sh",
            r#"echo $$ > "$1/leader.tmp" && mv "$1/leader.tmp" "$1/leader"
sleep 120 &
echo $! > "$1/grandchild.tmp" && mv "$1/grandchild.tmp" "$1/grandchild"
wait
echo "finished after all"
"#,
        );
        format!("[commands.deaf]\npath = \"{path}\"\nargs = [\"{dir}\"]\ntimeout_secs = 2\n", dir = dir.display())
    })
    .await;
    let state = server.declare("A command that reads nothing", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id");
    let started = std::time::Instant::now();
    let did = contain(
        &server,
        incident,
        "Disable the accounts",
        json!([{"connector": "command", "command": "deaf", "input": large_input()}]),
    )
    .await;
    let leader = pid_written(&server.scratch, "leader").await;
    let grandchild = pid_written(&server.scratch, "grandchild").await;

    let failed = action_reaches(&server, incident, &did, 1, "failed").await;
    assert!(started.elapsed().as_secs() < 10, "killed at its 2 s timeout, not when its sleep ends");
    let reason = failed["last_error"].as_str().expect("a reason");
    assert!(reason.contains("did not finish within 2 s") && reason.contains("process group was killed"), "{reason}");
    assert_eq!(failed["retryable"], true, "a timeout may be retried: {failed:#}");
    eventually("the script and the sleep it started to be killed", || async {
        (gone(&leader) && gone(&grandchild)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_command_is_stuck_another_action_and_a_missed_deadline_are_recorded() {
    let receiver = Receiver::start().await;
    let server = spawn_with_scratch(|dir| {
        let path = script(dir, "stuck.sh", "sleep 120\n");
        format!(
            "[commands.stuck]\npath = \"{path}\"\ntimeout_secs = 600\n\n\
             [destinations.cloud-iam]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\ntimeout_secs = 5\n",
            url = receiver.url("/hook/cloud-iam"),
        )
    })
    .await;
    let state = server.declare("Invoices read by an unknown address", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id").to_owned();
    let stuck = contain(
        &server,
        &incident,
        "Disable the accounts",
        json!([{"connector": "command", "command": "stuck", "input": large_input()}]),
    )
    .await;
    server
        .entry(&incident, "the stuck command to start", |e| {
            e["kind"] == "action.started" && e["body"]["decision"] == stuck.as_str()
        })
        .await;

    // Another approved action reaches its receiver meanwhile.
    let revoke = contain(
        &server,
        &incident,
        "Revoke the key",
        json!([{"connector": "webhook", "destination": "cloud-iam",
                "payload": {"operation": "deactivate_access_key", "key_id": KEY_ID}}]),
    )
    .await;
    action_reaches(&server, &incident, &revoke, 1, "succeeded").await;
    assert_eq!(receiver.deliveries("/hook/cloud-iam").len(), 1);

    // A regulatory clock runs out meanwhile, and the miss is recorded.
    server
        .post_ok(
            LEGAL,
            &format!("/api/v1/incidents/{incident}/determinations"),
            json!({"determination": "personal_data_breach", "basis": "EU invoices were listed"}),
            StatusCode::CREATED,
        )
        .await;
    server.advance(73 * 3600).await;
    server.entry(&incident, "clock.missed", |e| e["kind"] == "clock.missed").await;

    let still = action(&server.state(&incident).await, &stuck, 1).clone();
    assert_eq!(still["status"], "running", "the stuck command is still running: {still:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_during_a_stuck_command_stops_at_once_and_a_restart_runs_it_again_with_the_same_key() {
    // The first run hangs; the run after the restart succeeds.
    let mut server = spawn_with_scratch(|dir| {
        let path = script(
            dir,
            "once-stuck.sh",
            r#"printf '%s\n' "$SITREP_IDEMPOTENCY_KEY" >> "$1/keys"
if [ -e "$1/leader" ]; then echo "disabled on the second run"; exit 0; fi
echo $$ > "$1/leader.tmp" && mv "$1/leader.tmp" "$1/leader"
sleep 120
"#,
        );
        format!(
            "[commands.once-stuck]\npath = \"{path}\"\nargs = [\"{dir}\"]\ntimeout_secs = 600\n",
            dir = dir.display()
        )
    })
    .await;
    let state = server.declare("A command interrupted by a restart", json!({})).await;
    let incident = state["id"].as_str().expect("an incident id").to_owned();
    let did = contain(
        &server,
        &incident,
        "Disable the account",
        json!([{"connector": "command", "command": "once-stuck", "input": large_input()}]),
    )
    .await;
    let leader = pid_written(&server.scratch, "leader").await;

    let took = server.restart_worker().await;
    assert!(took < Duration::from_millis(2500), "the worker stopped {took:?} after being told to");
    eventually("the stuck command to be killed when the worker stopped", || async { gone(&leader).then_some(()) })
        .await;

    // Nothing was recorded as finished; the new worker runs it again, with the same key.
    let done = action_reaches(&server, &incident, &did, 1, "succeeded").await;
    assert!(done["detail"].as_str().is_some_and(|d| d.contains("second run")), "{done:#}");
    let runs = action_entries(&server.record(&incident).await, &did, 1);
    assert_eq!(
        kinds_and_attempts(&runs),
        [("action.started".to_owned(), 1), ("action.started".to_owned(), 2), ("action.succeeded".to_owned(), 2)],
        "{runs:#?}"
    );
    let keys = std::fs::read_to_string(server.scratch.join("keys")).expect("the script saved its keys");
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(keys.len(), 2, "two runs: {keys:?}");
    assert_idempotency_key(keys[0], state["uuid"].as_str().expect("a UUID"), &did, 1);
    assert_eq!(keys[0], keys[1], "a run after a restart carries the same idempotency key");
}
