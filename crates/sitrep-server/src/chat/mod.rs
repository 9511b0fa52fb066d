//! Chat, two-way: the chat-neutral half. Parsing `!sitrep …` commands, running them through
//! `Ledger::execute` as the linked sitrep user, the one-time codes that link a chat identity,
//! and the SITREP headline a room shows. `matrix.rs` is the Matrix adapter; a Slack adapter
//! reuses everything here.
//!
//! A chat message is a request like any other: the linked user's authority, the same policy,
//! and no step-up (a chat message proves no recent sign-in, as an API token does not). The
//! chat event's id is the idempotency key, so a re-delivered event changes nothing.

pub mod matrix;

use std::collections::HashMap;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use sitrep_core::decide::{Declare, IncidentCommand, Occurred, OrgCommand, Refusal, can_see, is_backfill};
use sitrep_core::events::FactStatus;
use sitrep_core::incident::IncidentState;
use sitrep_core::org::OrgState;
use sitrep_core::sitrep::Sitrep;
use sitrep_core::{DecisionId, IncidentNumber, Role, TaskId, Timestamp, UserName};
use sitrep_store::ledger::IdempotencyKey;
use sitrep_store::{Ledger, LedgerError, Receipt, Request};

/// How long a link code works.
pub const LINK_CODE_MINUTES: i64 = 10;

/// One-time codes that link a chat identity to the signed-in person who asked for one. Kept in
/// this node's memory only: a code works on the node that issued it, for ten minutes, once.
#[derive(Debug, Default)]
pub struct LinkCodes {
    codes: Mutex<HashMap<String, (UserName, Timestamp)>>,
}

impl LinkCodes {
    /// A new code for `user`, and when it expires.
    pub fn issue(&self, user: &UserName, now: Timestamp) -> Result<(String, Timestamp), String> {
        let random = sitrep_store::datadir::random_bytes::<8>().map_err(|e| e.to_string())?;
        let digits = hex::encode_upper(random);
        let code = format!("{}-{}", &digits[..5], &digits[5..10]);
        let expires_at = now.plus_seconds(LINK_CODE_MINUTES * 60);
        let mut codes = self.codes.lock();
        codes.retain(|_, (_, expiry)| *expiry > now);
        codes.insert(code.clone(), (user.clone(), expires_at));
        Ok((code, expires_at))
    }

    /// The person a code was issued to, if it is known and unexpired; it works only once.
    pub fn redeem(&self, code: &str, now: Timestamp) -> Option<UserName> {
        let (user, expiry) = self.codes.lock().remove(&code.trim().to_ascii_uppercase())?;
        (expiry > now).then_some(user)
    }
}

/// What a person asks of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    Help,
    Link(String),
    Unlink,
    Status,
    Fact(String),
    Approve(DecisionId, Option<String>),
    Reject(DecisionId, String),
    Done(TaskId),
    Assign(Role, UserName),
    Declare(String),
}

/// A command and the incident it names (`!sitrep INC-3 status`); without one, the room's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub incident: Option<IncidentNumber>,
    pub command: ChatCommand,
}

pub const USAGE: &str = "commands: `!sitrep status`, `!sitrep fact <text>`, `!sitrep approve D-n [note]`, \
`!sitrep reject D-n <reason>`, `!sitrep done T-n`, `!sitrep assign <role> <user>`, `!sitrep declare <title>`, \
`!sitrep link <code>`, `!sitrep unlink`; in a room that is not an incident's, name it: `!sitrep INC-3 status`. \
React with 📌 to log a message as an unverified fact.";

/// Parses a message: `None` when it is not for the bot, `Err` with a reply when it is malformed.
pub fn parse(body: &str) -> Option<Result<Parsed, String>> {
    let rest = body.trim().strip_prefix("!sitrep")?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(parse_words(rest.trim()))
}

fn parse_words(text: &str) -> Result<Parsed, String> {
    let (mut word, mut rest) = split(text);
    let mut incident = None;
    if let Ok(number) = word.parse::<IncidentNumber>() {
        incident = Some(number);
        (word, rest) = split(rest);
    }
    let need = |what: &str, value: &str| {
        if value.is_empty() { Err(format!("`!sitrep {word}` needs {what}; {USAGE}")) } else { Ok(value.to_owned()) }
    };
    let command = match word.to_ascii_lowercase().as_str() {
        "" | "help" => ChatCommand::Help,
        "link" => ChatCommand::Link(need("the code from sitrep's Tokens page", rest)?),
        "unlink" => ChatCommand::Unlink,
        "status" => ChatCommand::Status,
        "fact" => ChatCommand::Fact(need("the fact's text", rest)?),
        "declare" => ChatCommand::Declare(need("a title", rest)?),
        "approve" | "reject" => {
            let (id, note) = split(rest);
            let decision =
                id.parse::<DecisionId>().map_err(|_| format!("`!sitrep {word}` needs a decision id like D-2"))?;
            if word.eq_ignore_ascii_case("approve") {
                ChatCommand::Approve(decision, (!note.is_empty()).then(|| note.to_owned()))
            } else {
                ChatCommand::Reject(decision, need("a reason after the decision id", note)?)
            }
        }
        "done" => ChatCommand::Done(rest.parse().map_err(|_| "`!sitrep done` needs a task id like T-4".to_owned())?),
        "assign" => {
            let (role, person) = split(rest);
            let role = role.parse::<Role>().map_err(|_| format!("'{role}' is not a role; {USAGE}"))?;
            let person = UserName::parse(person.trim())
                .map_err(|_| "`!sitrep assign` needs a role and a sitrep user name".to_owned())?;
            ChatCommand::Assign(role, person)
        }
        other => return Err(format!("unknown command '{other}'; {USAGE}")),
    };
    Ok(Parsed { incident, command })
}

fn split(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (text, ""),
    }
}

/// Where a chat command came from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `matrix` or `slack`.
    pub system: &'static str,
    /// The sender's id in that system.
    pub sender: String,
    /// The incident whose room it was sent in, if any.
    pub room_incident: Option<IncidentNumber>,
    /// The chat event's id: the idempotency key.
    pub event: String,
    /// A link back to the message, kept as a fact's source.
    pub permalink: String,
    /// The message's time as the chat system says.
    pub sent_at: Option<Timestamp>,
}

/// Runs a parsed command. The answer is the reply to post, or `None` when the event was seen
/// before (a re-delivery) and nothing should be said again.
pub async fn run(
    ledger: &Ledger,
    codes: &LinkCodes,
    now: Timestamp,
    origin: &Origin,
    parsed: Parsed,
) -> Option<String> {
    let org = ledger.org();
    let linked = org.linked(origin.system, &origin.sender).filter(|u| u.active).map(|u| u.name.clone());
    // The event names the request: its sender and command, not what the server adds (times).
    let key = IdempotencyKey {
        key: format!("chat:{}:{}", origin.system, origin.event),
        fingerprint: hex::encode(Sha256::digest(format!("{}\n{parsed:?}", origin.sender))),
    };
    match parsed.command {
        ChatCommand::Help => return Some(USAGE.to_owned()),
        ChatCommand::Link(code) => {
            let Some(user) = codes.redeem(&code, now) else {
                // A re-delivered link message finds its code spent; the link it made stands.
                if linked.is_some() {
                    return None;
                }
                return Some(
                    "that code is unknown, used or expired; ask for a new one on sitrep's Tokens page (it works for 10 minutes, once)"
                        .into(),
                );
            };
            let command =
                OrgCommand::LinkChat { user: user.clone(), system: origin.system.into(), id: origin.sender.clone() };
            return Some(match ledger.execute(&user, Request::Org(command)).await {
                Ok(_) => format!("{} is now linked to the sitrep user {user}", origin.sender),
                Err(error) => refused(&error),
            });
        }
        _ => {}
    }
    let Some(user) = linked else {
        return Some(format!(
            "{} is not linked to a sitrep user, so nothing was done: sign in to sitrep, ask for a link code on the Tokens page, and send `!sitrep link CODE` here",
            origin.sender
        ));
    };
    let incident = parsed.incident.or(origin.room_incident);
    let request = match parsed.command {
        ChatCommand::Unlink => {
            let command = OrgCommand::UnlinkChat { user: user.clone(), system: origin.system.into() };
            return Some(match ledger.execute(&user, Request::Org(command)).await {
                Ok(_) => format!("{} is no longer linked to {user}", origin.sender),
                Err(error) => refused(&error),
            });
        }
        ChatCommand::Declare(title) => Request::Declare(Declare { title, ..Declare::default() }),
        command => {
            let Some(number) = incident else {
                return Some("this room is not an incident's room; name the incident: `!sitrep INC-3 status`".into());
            };
            let visible = ledger.with_incident(number, |state| can_see(state, &user)).unwrap_or(false);
            if !visible {
                return Some(format!("there is no incident {number} you may see; nothing was done"));
            }
            // A restricted incident is spoken of only in its own private room: elsewhere the
            // answer could reach people who may not see it.
            let restricted = ledger.with_incident(number, |state| state.restricted).unwrap_or(true);
            if restricted && origin.room_incident != Some(number) {
                return Some(format!("{number} is restricted: send commands in its own room"));
            }
            if command == ChatCommand::Status {
                return ledger.with_incident(number, |state| headline(state, &org, now));
            }
            let command = match command {
                ChatCommand::Fact(text) => IncidentCommand::LogFact {
                    text,
                    source: Some(origin.permalink.clone()),
                    status: FactStatus::Unverified,
                    basis: None,
                    occurred: origin.sent_at.filter(|at| *at <= now).map(|at| Occurred {
                        at,
                        backfill_reason: is_backfill(at, now).then(|| "sent in chat earlier".to_owned()),
                    }),
                },
                ChatCommand::Approve(decision, note) => IncidentCommand::Approve { decision, note },
                ChatCommand::Reject(decision, note) => IncidentCommand::Reject { decision, note },
                ChatCommand::Done(task) => {
                    IncidentCommand::CompleteTask { task, note: Some("done, said in chat".into()) }
                }
                ChatCommand::Assign(role, person) => IncidentCommand::AssignRole { role, user: person, unit: None },
                _ => return Some(USAGE.to_owned()),
            };
            Request::Incident { incident: number, command }
        }
    };
    match ledger.execute_once(&user, request, Some(key)).await {
        Ok(receipt) if receipt.replayed => None,
        Ok(receipt) => Some(done(&receipt)),
        Err(error) => Some(refused(&error)),
    }
}

/// What a command wrote, in a line.
fn done(receipt: &Receipt) -> String {
    let kinds: Vec<&str> = receipt.entries.iter().map(|e| e.kind.as_str()).collect();
    format!("recorded in {}: {}", receipt.record, kinds.join(", "))
}

/// A refusal as the policy words it, with where to go for a step-up.
pub fn refused(error: &LedgerError) -> String {
    match error {
        LedgerError::Refused(Refusal::Forbidden { rule, message }) if rule.ends_with(".step_up") => format!(
            "refused ({rule}): {message}. A chat message proves no recent sign-in: approve in the web, signed in with MFA"
        ),
        LedgerError::Refused(Refusal::Forbidden { rule, message }) => format!("refused ({rule}): {message}"),
        LedgerError::Refused(refusal) => format!("refused: {refusal}"),
        other => format!("nothing was done: {other}"),
    }
}

/// The SITREP's headline: one line a room shows and keeps current.
pub fn headline(state: &IncidentState, org: &OrgState, now: Timestamp) -> String {
    let report = Sitrep::of(state, org, now);
    let commander = report.commander.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "nobody".into());
    let exercise = if report.exercise { "EXERCISE · " } else { "" };
    format!(
        "{exercise}{} {} · {} · {} · commander {commander} · facts {} verified, {} unverified · {} decisions pending · {} open tasks{}",
        report.incident,
        report.title,
        report.severity,
        report.phase,
        report.verified_facts.len(),
        report.unverified_facts.len(),
        report.pending_decisions.len(),
        report.open_tasks.len(),
        if report.blockers.is_empty() {
            String::new()
        } else {
            format!(" · unstaffed: {}", report.blockers.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "))
        }
    )
}

/// The approval card for a proposed decision: its exact actions or the exact statement text
/// it would approve. Evidence never appears: an action names hashes at most.
pub fn approval_card(state: &IncidentState, decision: DecisionId) -> Option<String> {
    let found = state.decision(decision)?;
    let mut card =
        format!("{} {decision} proposed by {}: [{}] {}\n", state.id, found.proposer, found.class, found.title);
    for (i, action) in found.actions.iter().enumerate() {
        let spec = serde_json::to_string(&action.spec).unwrap_or_default();
        card.push_str(&format!("action {}: {spec}\n", i + 1));
    }
    if let Some(bound) = sitrep_core::statement_text::bound_text(state, found) {
        card.push_str(&format!("statement text, exactly:\n{}\n", bound.text));
    }
    card.push_str(&format!("answer `!sitrep approve {decision}` or `!sitrep reject {decision} <reason>`"));
    Some(card)
}

/// A one-time link code: send `!sitrep link CODE` to the bot from your chat account.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LinkCode {
    /// Ten characters and a dash, e.g. `4F2A9-0C7D1`.
    pub code: String,
    /// Ten minutes from now; the code also stops working once used.
    pub expires_at: Timestamp,
    /// What to send, and where.
    pub instructions: String,
}

/// Asks for a code that links your chat identity (Matrix) to you. It works once, for ten
/// minutes, on this server node only.
#[utoipa::path(post, path = "/api/v1/chat/link-codes", tag = "organisation",
    responses((status = 201, description = "A one-time code", body = LinkCode), (status = 401, body = crate::error::Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn create_link_code(
    axum::extract::State(app): axum::extract::State<crate::AppState>,
    caller: crate::auth::Caller,
) -> Result<(axum::http::StatusCode, axum::Json<LinkCode>), crate::ApiError> {
    let (code, expires_at) = app.link_codes.issue(&caller.user, app.now()).map_err(crate::ApiError::Internal)?;
    let instructions = format!("send `!sitrep link {code}` to the sitrep bot from your chat account within 10 minutes");
    Ok((axum::http::StatusCode::CREATED, axum::Json(LinkCode { code, expires_at, instructions })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(1_795_796_802_000_000 + seconds * 1_000_000).expect("in range")
    }

    #[test]
    fn a_link_code_works_once_and_for_ten_minutes() {
        let codes = LinkCodes::default();
        let alice = UserName::parse("alice").expect("a name");
        let (code, expires_at) = codes.issue(&alice, at(0)).expect("a code");
        assert_eq!(expires_at, at(600));
        assert_eq!(codes.redeem(&code.to_ascii_lowercase(), at(599)), Some(alice.clone()), "case does not matter");
        assert_eq!(codes.redeem(&code, at(1)), None, "a used code is spent");
        let (late, _) = codes.issue(&alice, at(0)).expect("a code");
        assert_eq!(codes.redeem(&late, at(600)), None, "an expired code is refused");
        assert_eq!(codes.redeem("00000-00000", at(1)), None);
    }

    fn check(body: &str, expected: Option<Result<Parsed, &str>>) {
        let parsed = parse(body);
        match (parsed, expected) {
            (None, None) => {}
            (Some(Ok(got)), Some(Ok(want))) => assert_eq!(got, want, "{body}"),
            (Some(Err(got)), Some(Err(want))) => assert!(got.contains(want), "{body}: {got}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    fn cmd(command: ChatCommand) -> Option<Result<Parsed, &'static str>> {
        Some(Ok(Parsed { incident: None, command }))
    }

    #[test]
    fn commands_parse_and_malformed_ones_say_what_is_wanted() {
        check("hello there", None);
        check("!sitrepx status", None);
        check("!sitrep", cmd(ChatCommand::Help));
        check("!sitrep status", cmd(ChatCommand::Status));
        check("  !sitrep fact the key leaked ", cmd(ChatCommand::Fact("the key leaked".into())));
        check("!sitrep approve D-2", cmd(ChatCommand::Approve(DecisionId(2), None)));
        check("!sitrep approve D-2 fine by me", cmd(ChatCommand::Approve(DecisionId(2), Some("fine by me".into()))));
        check("!sitrep reject D-3 wrong wording", cmd(ChatCommand::Reject(DecisionId(3), "wrong wording".into())));
        check("!sitrep done T-4", cmd(ChatCommand::Done(TaskId(4))));
        check(
            "!sitrep INC-7 status",
            Some(Ok(Parsed { incident: Some("INC-7".parse().expect("id")), command: ChatCommand::Status })),
        );
        check("!sitrep fact", Some(Err("needs the fact's text")));
        check("!sitrep reject D-3", Some(Err("needs a reason")));
        check("!sitrep approve 3", Some(Err("needs a decision id like D-2")));
        check("!sitrep done soon", Some(Err("needs a task id like T-4")));
        check("!sitrep assign legal", Some(Err("needs a role and a sitrep user name")));
        check(
            "!sitrep assign legal lee",
            cmd(ChatCommand::Assign(Role::parse("legal").expect("role"), UserName::parse("lee").expect("name"))),
        );
        check("!sitrep dance", Some(Err("unknown command 'dance'")));
    }
}
