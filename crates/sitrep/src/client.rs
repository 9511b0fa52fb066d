//! The client commands: every user action, over the HTTP API.
//!
//! The server is named by `--url`/`SITREP_URL` and the caller by `--token`/`SITREP_TOKEN`, or by
//! the file `sitrep login` writes (`$XDG_CONFIG_HOME/sitrep/client.toml`, mode 0600). Each
//! command prints one sentence, or the server's JSON with `--json`; errors are one line on
//! stderr, and the exit code says what kind of failure it was (see [`Exit`]).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::{ClientArgs, ClientCommand, TokenCommand, UserCommand};
use crate::exit::Exit;

mod clocks;
mod decisions;
mod evidence;
mod export;
mod incidents;
mod org;
mod parties;
mod record;
mod report;
mod review;
mod statements;

/// A failed client command: the one line to print and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
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
pub(crate) fn one_line(text: &str) -> String {
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
pub(crate) fn run(command: ClientCommand, args: &ClientArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(e.to_string()))?;
    runtime.block_on(dispatch(command, args))
}

async fn dispatch(command: ClientCommand, args: &ClientArgs) -> Outcome {
    // Signing in is the one command that needs no token yet.
    if let ClientCommand::Login(login) = &command {
        return org::login(args, login).await;
    }
    let client = Client::new(args, true)?;
    match command {
        ClientCommand::Login(login) => org::login(args, &login).await,
        ClientCommand::Whoami => org::whoami(&client).await,
        ClientCommand::Incidents { state, mine } => incidents::list(&client, state, mine).await,
        ClientCommand::Declare(declare) => incidents::declare(&client, declare).await,
        ClientCommand::Show { incident } => incidents::show(&client, incident).await,
        ClientCommand::Status { incident, phase: None } => incidents::status(&client, incident).await,
        ClientCommand::Status { incident, phase: Some(phase) } => incidents::set_phase(&client, incident, phase).await,
        ClientCommand::Severity { incident, severity, reason } => {
            incidents::severity(&client, incident, severity, reason).await
        }
        ClientCommand::Assign { incident, role, user, release, unit } => {
            incidents::assign(&client, incident, role, user, release, unit).await
        }
        ClientCommand::Handover { incident, user, reason } => {
            incidents::handover(&client, incident, user, reason).await
        }
        ClientCommand::Log(log) => decisions::log(&client, log).await,
        ClientCommand::Fact { command } => decisions::fact(&client, command).await,
        ClientCommand::Propose(propose) => decisions::propose(&client, propose).await,
        ClientCommand::Approve { incident, decision, note } => {
            decisions::approve(&client, incident, decision, note).await
        }
        ClientCommand::Reject { incident, decision, note } => {
            decisions::reject(&client, incident, decision, note).await
        }
        ClientCommand::Withdraw { incident, decision, note } => {
            decisions::withdraw(&client, incident, decision, note).await
        }
        ClientCommand::Task { command } => decisions::task(&client, command).await,
        ClientCommand::Note { incident, text: note, occurred_at, backfill_reason } => {
            incidents::note(&client, incident, note, occurred_at, backfill_reason).await
        }
        ClientCommand::Occurrence { incident, started, first_seen, detected, backfill_reason } => {
            incidents::occurrence(&client, incident, started, first_seen, detected, backfill_reason).await
        }
        ClientCommand::Playbook { command } => decisions::playbook(&client, command).await,
        ClientCommand::Retry { incident, decision, action } => {
            decisions::retry(&client, incident, decision, action).await
        }
        ClientCommand::Record { incident, from } => record::print(&client, incident, from).await,
        ClientCommand::Watch { incident, after } => record::watch(&client, &incident, after).await,
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
            org::add_user(&client, name, role, display_name, password_stdin).await
        }
        ClientCommand::User { command: UserCommand::List } => org::list_users(&client).await,
        ClientCommand::Token { command: TokenCommand::Create { user, days, label } } => {
            org::create_token(&client, user, days, label).await
        }
        ClientCommand::Token { command: TokenCommand::Revoke { id, user } } => {
            org::revoke_token(&client, id, user).await
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
