//! The client commands: every user action, over the HTTP API.
//!
//! The server is named by `--url`/`SITREP_URL` and the caller by `--token`/`SITREP_TOKEN`, or by
//! the file `sitrep login` writes (`$XDG_CONFIG_HOME/sitrep/client.toml`, mode 0600). Each
//! command prints one sentence, or the server's JSON with `--json`; errors are one line on
//! stderr, and the exit code says what kind of failure it was (see [`Exit`]).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::{ClientArgs, ClientCommand, FactCommand, PlaybookCommand, TaskCommand, TokenCommand, UserCommand};
use crate::exit::Exit;

mod clocks;
mod evidence;
mod export;
mod parties;
mod report;
mod review;
mod statements;

/// A failed client command: the one line to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: Exit,
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure { code: Exit::Usage, message: message.into() }
    }
}

type Outcome = Result<Exit, Failure>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    url: Option<String>,
    token: Option<String>,
}

fn config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("sitrep").join("client.toml"))
}

fn saved() -> Saved {
    let Some(path) = config_path() else { return Saved::default() };
    let Ok(text) = std::fs::read_to_string(&path) else { return Saved::default() };
    toml::from_str(&text).unwrap_or_else(|error| {
        eprintln!("sitrep: ignoring {}: {}", path.display(), one_line(&error.to_string()));
        Saved::default()
    })
}

/// Writes the file `sitrep login` reads back, private to the user: a new file with mode 0600
/// renamed over the old one, so an existing file with looser permissions never holds the token.
fn save(saved: &Saved) -> Result<PathBuf, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let path =
        config_path().ok_or_else(|| Failure::usage("cannot find a config directory: set HOME or XDG_CONFIG_HOME"))?;
    let local = |e: std::io::Error| Failure::usage(format!("{}: {e}", path.display()));
    let dir = path.parent().ok_or_else(|| Failure::usage("the config path has no directory"))?;
    std::fs::create_dir_all(dir).map_err(local)?;
    let text = toml::to_string(saved).map_err(|e| Failure::usage(e.to_string()))?;
    let fresh = dir.join(format!(".client.toml.{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&fresh).map_err(local)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(local)?;
    std::fs::rename(&fresh, &path).map_err(local)?;
    Ok(path)
}

/// Text from the server or the user, made safe for one terminal line: control characters
/// (newlines, escape sequences) and every character user text may not hold
/// (`sitrep_core::text`: the marks that reorder text, zero-width and other invisible characters)
/// are shown escaped, so nobody can forge a second line or disguise a name like
/// `evil\u{202e}fdp.exe` as `evilexe.pdf`, even in records written before the server refused
/// them.
pub fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() || sitrep_core::text::hidden(c).is_some() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    json: bool,
}

impl Client {
    fn new(args: &ClientArgs, need_token: bool) -> Result<Client, Failure> {
        let file = saved();
        let base =
            args.url.clone().or(file.url).ok_or_else(|| {
                Failure::usage("no server: pass --url, set SITREP_URL, or run `sitrep login --url URL`")
            })?;
        let token = args.token.clone().or(file.token);
        if need_token && token.is_none() {
            return Err(Failure::usage("not signed in: pass --token, set SITREP_TOKEN, or run `sitrep login`"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("sitrep-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Client { http, base: base.trim_end_matches('/').to_owned(), token, json: args.json })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        self.send_unbounded(request.timeout(Duration::from_secs(60))).await
    }

    /// [`Client::send`] without the overall time limit, for uploads that take as long as the
    /// file does.
    async fn send_unbounded(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        self.answer(response).await
    }

    fn unreachable(&self, error: &reqwest::Error) -> Failure {
        Failure {
            code: Exit::Unavailable,
            message: one_line(&format!("cannot reach {}: {}", self.base, root_cause(error))),
        }
    }

    /// The JSON of a successful answer, or the failure a refusal comes to. A successful answer
    /// that cannot be read is a failure too: read as nothing, it would print "No decisions" and
    /// tell a script something false.
    async fn answer(&self, response: reqwest::Response) -> Result<Value, Failure> {
        let status = response.status();
        let path = response.url().path().to_owned();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(failure(status, &text));
        }
        serde_json::from_str(&text).map_err(|error| unreadable(&format!("the answer to {path}"), &error))
    }

    async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.send(self.request(Method::GET, path)).await
    }

    /// The body of a successful GET as text (Markdown, CSV), asking for the media type `accept`.
    async fn get_text(&self, path: &str, accept: &str) -> Result<String, Failure> {
        let request = self.request(Method::GET, path).header("accept", accept).timeout(Duration::from_secs(60));
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(failure(status, &text));
        }
        Ok(text)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.send(self.request(Method::POST, path).json(&body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.send(self.request(Method::PUT, path).json(&body)).await
    }

    /// Prints the server's JSON with `--json`, else the sentence.
    fn say(&self, answer: &Value, sentence: impl FnOnce(&Value) -> String) -> Outcome {
        if self.json {
            println!("{}", serde_json::to_string_pretty(answer).unwrap_or_default());
        } else {
            println!("{}", sentence(answer));
        }
        Ok(Exit::Ok)
    }
}

/// The failure an answer from the server that is not JSON the client can read comes to: the
/// server (or something between it and us) is not answering as sitrep does.
fn unreadable(what: &str, error: &serde_json::Error) -> Failure {
    Failure { code: Exit::Unavailable, message: one_line(&format!("{what} cannot be read as JSON: {error}")) }
}

/// The one line a refused request comes to: the problem's detail, and the rule if the policy refused.
fn failure(status: StatusCode, body: &str) -> Failure {
    let problem: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let detail =
        problem.get("detail").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("{status}"));
    let message = match problem.get("rule").and_then(Value::as_str) {
        Some(rule) => format!("refused by the policy ({rule}): {detail}"),
        None => detail,
    };
    Failure { code: code_for(status), message: one_line(&message) }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn code_for(status: StatusCode) -> Exit {
    match status.as_u16() {
        401 => Exit::Unauthenticated,
        403 => Exit::Refused,
        404 => Exit::NotFound,
        409 => Exit::Conflict,
        400 | 413 | 415 | 422 => Exit::Invalid,
        _ => Exit::Unavailable,
    }
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn seq(value: &Value) -> String {
    value.get("seq").map(|s| format!(" (seq {s})")).unwrap_or_default()
}

/// "waiting: legal has not approved yet (must act: legal: lena)" or "approved".
fn decision_words(decision: &Value) -> String {
    match text(decision, "state").as_str() {
        "proposed" => {
            let must_act: Vec<String> = decision
                .get("must_act")
                .and_then(Value::as_array)
                .map(|roles| {
                    roles
                        .iter()
                        .map(|r| {
                            let holders: Vec<String> = r
                                .get("holders")
                                .and_then(Value::as_array)
                                .map(|h| h.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                                .unwrap_or_default();
                            format!(
                                "{}: {}",
                                text(r, "role"),
                                if holders.is_empty() { "unfilled".into() } else { holders.join(", ") }
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("waiting: {} (must act: {})", text(decision, "waiting_on"), must_act.join("; "))
        }
        state => state.to_owned(),
    }
}

/// A password: typed without echo at a terminal, or read from standard input when asked to.
fn read_secret(prompt: &str, from_stdin: bool) -> Result<String, Failure> {
    let value = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::usage(e.to_string()))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| Failure::usage(e.to_string()))?
    } else {
        return Err(Failure::usage(
            "no terminal to ask for the password; pass --password-stdin to read it from standard input",
        ));
    };
    if value.is_empty() {
        return Err(Failure::usage("the password is empty"));
    }
    Ok(value)
}

/// A line of input at a terminal (a user name), echoed.
fn read_line(prompt: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "no terminal to ask for the {}; pass it as an option",
            prompt.trim_end_matches([':', ' '])
        )));
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(line.trim().to_owned())
}

fn incident_path(incident: &str) -> String {
    format!("/api/v1/incidents/{}", urlencode(incident))
}

fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Runs one client command.
pub fn run(command: ClientCommand, args: &ClientArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(e.to_string()))?;
    runtime.block_on(dispatch(command, args))
}

async fn dispatch(command: ClientCommand, args: &ClientArgs) -> Outcome {
    // Signing in is the one command that needs no token yet.
    if let ClientCommand::Login(login) = &command {
        return login_command(args, login).await;
    }
    let client = Client::new(args, true)?;
    match command {
        ClientCommand::Login(login) => login_command(args, &login).await,
        ClientCommand::Whoami => {
            let me = client.get("/api/v1/session").await?;
            let roles: Vec<String> = me
                .get("org_roles")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            client.say(&me, |me| format!("{} ({}) on {}", text(me, "name"), roles.join(", "), client.base))
        }
        ClientCommand::Incidents { state, mine } => {
            let list = client.get(&format!("/api/v1/incidents?state={}&mine={mine}", urlencode(&state))).await?;
            client.say(&list, |list| {
                let rows: Vec<String> = list
                    .get("incidents")
                    .and_then(Value::as_array)
                    .map(|all| {
                        all.iter()
                            .map(|i| {
                                let waiting = i.get("waiting_on_you").and_then(Value::as_u64).unwrap_or(0);
                                format!(
                                    "{:<7} {:<5} {:<14} {:>8}  {}{}{}{}",
                                    text(i, "id"),
                                    text(i, "severity"),
                                    text(i, "phase"),
                                    text(i, "age"),
                                    text(i, "title"),
                                    if i["restricted"] == true { " [restricted]" } else { "" },
                                    if i["exercise"] == true { " [exercise]" } else { "" },
                                    if waiting > 0 { format!(" — {waiting} waiting on you") } else { String::new() }
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if rows.is_empty() { "No incidents.".to_owned() } else { rows.join("\n") }
            })
        }
        ClientCommand::Declare(declare) => {
            let mut roles = serde_json::Map::new();
            for pair in &declare.roles {
                let (role, user) =
                    pair.split_once('=').ok_or_else(|| Failure::usage(format!("--role {pair}: write role=user")))?;
                roles.insert(role.to_owned(), json!(user));
            }
            let body = json!({
                "title": declare.title, "severity": declare.severity, "restricted": declare.restricted,
                "exercise": declare.exercise, "scope": declare.scope, "roles": roles,
                "playbook": declare.playbook, "inputs": pairs("--input", &declare.inputs)?,
            });
            let state = client.post("/api/v1/incidents", body).await?;
            client.say(&state, |s| {
                let commander = s["roles"]["commander"]
                    .as_array()
                    .map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
                format!(
                    "Declared {}: {} ({}). Commander: {}.",
                    text(s, "id"),
                    text(s, "title"),
                    text(s, "severity"),
                    commander.unwrap_or_default()
                )
            })
        }
        ClientCommand::Show { incident } => {
            let path = format!("{}/sitrep", incident_path(&incident));
            if client.json {
                let report = client.get(&path).await?;
                return client.say(&report, |_| String::new());
            }
            let markdown = client.get_text(&path, "text/markdown").await?;
            report::print_raw(&markdown)
        }
        ClientCommand::Status { incident, phase: None } => {
            let state = client.get(&incident_path(&incident)).await?;
            client.say(&state, |s| {
                let pending = if s["phase"] == "closed" {
                    0
                } else {
                    s["decisions"].as_array().map_or(0, |d| d.iter().filter(|d| d["state"] == "proposed").count())
                };
                let blockers =
                    s["blockers"].as_array().map(|b| b.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
                format!(
                    "{} {}: {} · phase {} · {} decision(s) waiting{}",
                    text(s, "id"),
                    text(s, "title"),
                    text(s, "severity"),
                    text(s, "phase"),
                    pending,
                    blockers.filter(|b| !b.is_empty()).map(|b| format!(" · unfilled: {b}")).unwrap_or_default()
                )
            })
        }
        ClientCommand::Status { incident, phase: Some(phase) } => {
            let state = client.post(&format!("{}/phase", incident_path(&incident)), json!({ "phase": phase })).await?;
            client.say(&state, |s| format!("{} is now in {}.", text(s, "id"), text(s, "phase")))
        }
        ClientCommand::Severity { incident, severity, reason } => {
            let state = client
                .post(
                    &format!("{}/severity", incident_path(&incident)),
                    json!({ "severity": severity, "reason": reason }),
                )
                .await?;
            client.say(&state, |s| format!("{} is now {}.", text(s, "id"), text(s, "severity")))
        }
        ClientCommand::Assign { incident, role, user, release, unit } => {
            let state = if release {
                let mut path = format!("{}/roles/{}/{}", incident_path(&incident), urlencode(&role), urlencode(&user));
                if let Some(unit) = &unit {
                    path.push_str(&format!("?unit={}", urlencode(unit)));
                }
                client.send(client.request(Method::DELETE, &path)).await?
            } else {
                let body = json!({ "role": role, "user": user, "unit": unit });
                client.post(&format!("{}/roles", incident_path(&incident)), body).await?
            };
            let place = unit.as_deref().map(|u| format!(" in {}", one_line(u))).unwrap_or_default();
            client.say(&state, |s| {
                if release {
                    format!("{user} no longer holds {role}{place} on {}.", text(s, "id"))
                } else {
                    format!("{user} holds {role}{place} on {}.", text(s, "id"))
                }
            })
        }
        ClientCommand::Handover { incident, user, reason } => {
            let body = json!({ "to": user, "reason": reason });
            let state = client.post(&format!("{}/handover", incident_path(&incident)), body).await?;
            client.say(&state, |s| {
                let from =
                    s["handovers"].as_array().and_then(|h| h.last()).map(|h| text(h, "from")).unwrap_or_default();
                format!("{} now commands {} (handed over by {from}).", text(s, "commander"), text(s, "id"))
            })
        }
        ClientCommand::Log(log) => {
            let body = json!({
                "text": log.text, "source": log.source, "status": log.status, "basis": log.basis,
                "occurred_at": log.occurred_at, "backfill_reason": log.backfill_reason,
            });
            let fact = client.post(&format!("{}/facts", incident_path(&log.incident)), body).await?;
            client.say(&fact, |f| format!("Logged {} on {} as {}.", text(f, "id"), log.incident, text(f, "status")))
        }
        ClientCommand::Fact { command } => {
            let (incident, fact, basis, verb) = match command {
                FactCommand::Verify { incident, fact, basis } => (incident, fact, basis, "verify"),
                FactCommand::Disprove { incident, fact, basis } => (incident, fact, basis, "disprove"),
            };
            let path = format!("{}/facts/{}/{verb}", incident_path(&incident), urlencode(&fact));
            let answer = client.post(&path, json!({ "basis": basis })).await?;
            client.say(&answer, |f| format!("{} is now {}.", text(f, "id"), text(f, "status")))
        }
        ClientCommand::Propose(propose) => {
            let actions = propose
                .actions
                .iter()
                .map(|a| {
                    serde_json::from_str::<Value>(a).map_err(|e| Failure::usage(format!("--action {a}: not JSON: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = json!({
                "class": propose.class, "title": propose.title, "rationale": propose.rationale, "actions": actions,
                "clocks": propose.clocks,
            });
            let decision = client.post(&format!("{}/decisions", incident_path(&propose.incident)), body).await?;
            client.say(&decision, |d| {
                let clocks: Vec<&str> =
                    d["clocks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                let stops = if clocks.is_empty() { String::new() } else { format!(" for {}", clocks.join(", ")) };
                format!("Proposed {} ({}){stops}: {}.", text(d, "id"), text(d, "class"), decision_words(d))
            })
        }
        ClientCommand::Approve { incident, decision, note } => {
            let path = format!("{}/decisions/{}/approve", incident_path(&incident), urlencode(&decision));
            let answer = client.post(&path, json!({ "note": note })).await?;
            client.say(&answer, |d| format!("Approved {}; it is {}.", text(d, "id"), decision_words(d)))
        }
        ClientCommand::Reject { incident, decision, note } => {
            let path = format!("{}/decisions/{}/reject", incident_path(&incident), urlencode(&decision));
            let answer = client.post(&path, json!({ "note": note })).await?;
            client.say(&answer, |d| format!("Rejected {}.", text(d, "id")))
        }
        ClientCommand::Withdraw { incident, decision, note } => {
            let path = format!("{}/decisions/{}/withdraw", incident_path(&incident), urlencode(&decision));
            let answer = client.post(&path, json!({ "note": note })).await?;
            client.say(&answer, |d| format!("Withdrew {}.", text(d, "id")))
        }
        ClientCommand::Task { command } => task(&client, command).await,
        ClientCommand::Note { incident, text: note, occurred_at, backfill_reason } => {
            let body = json!({ "text": note, "occurred_at": occurred_at, "backfill_reason": backfill_reason });
            let answer = client.post(&format!("{}/notes", incident_path(&incident)), body).await?;
            client.say(&answer, |n| format!("Noted on {incident}{}.", seq(n)))
        }
        ClientCommand::Occurrence { incident, started, first_seen, detected, backfill_reason } => {
            let state = if started.is_none() && first_seen.is_none() && detected.is_none() && backfill_reason.is_none()
            {
                client.get(&incident_path(&incident)).await?
            } else {
                let body = json!({
                    "started_at": started, "first_seen_at": first_seen, "detected_at": detected,
                    "backfill_reason": backfill_reason,
                });
                client.post(&format!("{}/occurrence", incident_path(&incident)), body).await?
            };
            client.say(&state, |s| {
                let o = &s["occurrence"];
                let times: Vec<String> =
                    [("started", "started_at"), ("first seen", "first_seen_at"), ("detected", "detected_at")]
                        .into_iter()
                        .filter_map(|(what, key)| o[key].as_str().map(|at| format!("{what} {at}")))
                        .collect();
                let times = if times.is_empty() { "no occurrence times recorded".to_owned() } else { times.join(", ") };
                format!("{}: {times}; declared {}.", text(s, "id"), text(s, "declared_at"))
            })
        }
        ClientCommand::Playbook { command } => playbook(&client, command).await,
        ClientCommand::Retry { incident, decision, action } => {
            let path =
                format!("{}/decisions/{}/actions/{action}/retry", incident_path(&incident), urlencode(&decision));
            let state = client.post(&path, json!({})).await?;
            client.say(&state, |_| format!("Action {action} of {decision} will run again."))
        }
        ClientCommand::Record { incident, from } => {
            let mut next = Some(from);
            while let Some(from) = next {
                let page = client.get(&format!("{}/record?from={from}", incident_path(&incident))).await?;
                for entry in page["entries"].as_array().into_iter().flatten() {
                    if client.json {
                        println!("{entry}");
                    } else {
                        println!("{}", entry_line(entry));
                    }
                }
                next = page["next"].as_u64();
            }
            Ok(Exit::Ok)
        }
        ClientCommand::Watch { incident, after } => watch(&client, &incident, after).await,
        ClientCommand::Determine(args) => clocks::determine(&client, args).await,
        ClientCommand::Clocks { incident } => clocks::list(&client, &incident).await,
        ClientCommand::Submit(args) => clocks::submit(&client, args).await,
        ClientCommand::NotRequired(args) => clocks::not_required(&client, args).await,
        ClientCommand::WithdrawDetermination(args) => clocks::withdraw(&client, args).await,
        ClientCommand::Review(args) => review::run(&client, args).await,
        ClientCommand::ControlChanges { state } => review::control_changes(&client, &state).await,
        ClientCommand::Report { incident, markdown } => report::report(&client, &incident, markdown).await,
        ClientCommand::Decisions(args) => report::decisions(&client, args).await,
        ClientCommand::Evidence { command } => evidence::run(&client, command).await,
        ClientCommand::Export(args) => export::run(&client, args).await,
        ClientCommand::Checkpoint { incident, output } => export::checkpoint(&client, &incident, output).await,
        ClientCommand::Party { command } => parties::party(&client, command).await,
        ClientCommand::Share { command } => parties::share(&client, command).await,
        ClientCommand::Statement { command } => statements::run(&client, command).await,
        ClientCommand::User { command: UserCommand::Add { name, role, display_name, password_stdin } } => {
            let password = if password_stdin { Some(read_secret("password: ", true)?) } else { None };
            let body = json!({ "name": name, "org_role": role, "display_name": display_name, "password": password });
            let user = client.post("/api/v1/users", body).await?;
            client.say(&user, |u| format!("Added {}.", text(u, "name")))
        }
        ClientCommand::User { command: UserCommand::List } => {
            let users = client.get("/api/v1/users").await?;
            client.say(&users, |all| {
                all["users"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| {
                        let roles: Vec<&str> =
                            u["org_roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                        format!(
                            "{:<16} {:<24} {}{}",
                            text(u, "name"),
                            text(u, "display_name"),
                            roles.join(","),
                            if u["active"] == false { " (disabled)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        ClientCommand::Token { command: TokenCommand::Create { user, days, label } } => {
            let user = match user {
                Some(user) => user,
                None => text(&client.get("/api/v1/session").await?, "name"),
            };
            let body = json!({ "expires_in_days": days, "label": label });
            let token = client.post(&format!("/api/v1/users/{}/tokens", urlencode(&user)), body).await?;
            client.say(&token, |t| format!("Token {} for {user} (shown once):\n{}", text(t, "id"), text(t, "token")))
        }
        ClientCommand::Token { command: TokenCommand::Revoke { id, user } } => {
            let user = match user {
                Some(user) => user,
                None => text(&client.get("/api/v1/session").await?, "name"),
            };
            let path = format!("/api/v1/users/{}/tokens/{}", urlencode(&user), urlencode(&id));
            let answer = client.send(client.request(Method::DELETE, &path)).await?;
            client.say(&answer, |_| format!("Revoked token {id}."))
        }
    }
}

/// `name=value` arguments as a JSON object.
fn pairs(flag: &str, items: &[String]) -> Result<serde_json::Map<String, Value>, Failure> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), json!(value)))
                .ok_or_else(|| Failure::usage(format!("{flag} {item}: write name=value")))
        })
        .collect()
}

async fn playbook(client: &Client, command: PlaybookCommand) -> Outcome {
    match command {
        PlaybookCommand::List => {
            let list = client.get("/api/v1/playbooks").await?;
            client.say(&list, |all| {
                all["playbooks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let inputs: Vec<String> =
                            p["inputs"].as_array().into_iter().flatten().map(|i| text(i, "name")).collect();
                        format!(
                            "{:<28} v{:<7} {}{}",
                            text(p, "id"),
                            text(p, "version"),
                            text(p, "title"),
                            if inputs.is_empty() { String::new() } else { format!(" (inputs: {})", inputs.join(", ")) }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        PlaybookCommand::Show { playbook } => {
            let found = client.get(&format!("/api/v1/playbooks/{}", urlencode(&playbook))).await?;
            client.say(&found, |p| text(p, "source"))
        }
        PlaybookCommand::Add { file } => {
            let source =
                std::fs::read_to_string(&file).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
            let id = source
                .lines()
                .find_map(|line| line.trim().strip_prefix("id").map(str::trim).and_then(|rest| rest.strip_prefix('=')))
                .map(|value| value.trim().trim_matches('"').to_owned())
                .ok_or_else(|| Failure::usage(format!("{}: the file has no `id = \"...\"` line", file.display())))?;
            let path = format!("/api/v1/playbooks/{}", urlencode(&id));
            let answer = client.send(client.request(Method::PUT, &path).json(&json!({ "source": source }))).await?;
            client.say(&answer, |a| {
                format!(
                    "Playbook {} v{} is in place (sha256 {}).",
                    text(a, "id"),
                    text(a, "version"),
                    text(a, "sha256")
                )
            })
        }
        PlaybookCommand::Run { incident, playbook, inputs } => {
            let body = json!({ "playbook": playbook, "inputs": pairs("--input", &inputs)? });
            let state = client.post(&format!("{}/playbooks", incident_path(&incident)), body).await?;
            client.say(&state, |s| {
                format!(
                    "Started {playbook} on {}: {} tasks, {} decisions.",
                    text(s, "id"),
                    s["tasks"].as_array().map_or(0, Vec::len),
                    s["decisions"].as_array().map_or(0, Vec::len)
                )
            })
        }
    }
}

async fn task(client: &Client, command: TaskCommand) -> Outcome {
    let (incident, path, body, created) = match command {
        TaskCommand::Add { incident, title, owner, due } => {
            let path = format!("{}/tasks", incident_path(&incident));
            (incident, path, json!({ "title": title, "owner": owner, "due": due }), true)
        }
        TaskCommand::Assign { incident, task, owner } => {
            let path = format!("{}/tasks/{}/assign", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "owner": owner }), false)
        }
        TaskCommand::Done { incident, task, note } => {
            let path = format!("{}/tasks/{}/done", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "note": note }), false)
        }
        TaskCommand::Block { incident, task, reason } => {
            let path = format!("{}/tasks/{}/block", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "reason": reason }), false)
        }
        TaskCommand::Cancel { incident, task, note } => {
            let path = format!("{}/tasks/{}/cancel", incident_path(&incident), urlencode(&task));
            (incident, path, json!({ "note": note }), false)
        }
    };
    let answer = client.post(&path, body).await?;
    client.say(&answer, |t| {
        let owner = t.get("owner").and_then(Value::as_str).map(|o| format!(", owner {o}")).unwrap_or_default();
        if created {
            format!("Created {} on {incident}{owner}.", text(t, "id"))
        } else {
            format!("{} is {}{owner}.", text(t, "id"), text(t, "state"))
        }
    })
}

/// `seq 12  2026-11-27T17:00:13.809082Z  tom  fact.logged  {"fact":"F-3",...}`
fn entry_line(entry: &Value) -> String {
    format!(
        "seq {:<5} {}  {:<10} {:<26} {}",
        text(entry, "seq"),
        text(entry, "at"),
        text(entry, "actor"),
        text(entry, "kind"),
        entry["body"]
    )
}

/// Streams live entries, reconnecting with `Last-Event-ID` after a dropped connection so that
/// nothing is missed or printed twice.
async fn watch(client: &Client, incident: &str, after: Option<u64>) -> Outcome {
    let mut last = after;
    let mut failures = 0;
    let mut connected = false;
    loop {
        let mut request = client
            .request(Method::GET, &format!("{}/events", incident_path(incident)))
            .header("accept", "text/event-stream");
        if let Some(seq) = last {
            request = request.header("last-event-id", seq.to_string());
        }
        let response = match request.send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => {
                let status = response.status();
                return Err(failure(status, &response.text().await.unwrap_or_default()));
            }
            Err(error) => {
                failures += 1;
                if !connected || failures > 5 {
                    return Err(Failure {
                        code: Exit::Unavailable,
                        message: one_line(&format!("cannot reach {}: {}", client.base, root_cause(&error))),
                    });
                }
                eprintln!(
                    "sitrep: lost the connection; reconnecting after seq {} (attempt {failures})",
                    last.unwrap_or(0)
                );
                tokio::time::sleep(Duration::from_secs(1 << failures.min(4))).await;
                continue;
            }
        };
        connected = true;
        failures = 0;
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut data = String::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                } else if let Some(id) = line.strip_prefix("id:") {
                    last = id.trim().parse().ok().or(last);
                } else if line.is_empty() && !data.is_empty() {
                    let entry: Value = serde_json::from_str(&data).map_err(|error| {
                        let which = last.map_or_else(|| "an event".to_owned(), |seq| format!("event {seq}"));
                        unreadable(&format!("{which} of {incident}"), &error)
                    })?;
                    if client.json {
                        println!("{entry}");
                    } else {
                        println!("{}", entry_line(&entry));
                    }
                    let _ = std::io::stdout().flush();
                    data.clear();
                }
            }
        }
    }
}

async fn login_command(args: &ClientArgs, login: &crate::cli::LoginArgs) -> Outcome {
    let client = Client::new(args, false)?;
    let token = match &client.token {
        Some(token) if login.name.is_none() => token.clone(),
        _ => {
            let name = match &login.name {
                Some(name) => name.clone(),
                None => read_line("user name: ")?,
            };
            let password = read_secret("password: ", login.password_stdin)?;
            let body =
                json!({ "name": name, "password": password, "expires_in_days": login.days, "label": "sitrep login" });
            let answer = Client { token: None, ..client_clone(&client) }.post("/api/v1/tokens", body).await?;
            text(&answer, "token")
        }
    };
    let me = Client { token: Some(token.clone()), ..client_clone(&client) }.get("/api/v1/session").await?;
    let path = save(&Saved { url: Some(client.base.clone()), token: Some(token) })?;
    client.say(&me, |me| format!("Signed in to {} as {}; saved in {}.", client.base, text(me, "name"), path.display()))
}

fn client_clone(client: &Client) -> Client {
    Client { http: client.http.clone(), base: client.base.clone(), token: client.token.clone(), json: client.json }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_escapes_what_would_break_the_line_or_hide_in_it() {
        for (text, shown) in [
            ("two\nlines", "two\\nlines"),
            ("evil\u{202e}fdp.exe", "evil\\u{202e}fdp.exe"),
            ("ad\u{200b}min approved", "ad\\u{200b}min approved"),
            ("soft\u{ad}hyphen", "soft\\u{ad}hyphen"),
            ("⚠️ café 日本", "⚠️ café 日本"),
        ] {
            assert_eq!(one_line(text), shown, "{text:?}");
        }
    }
}
