//! Commands in, entries out, state folded: every entry kind, every command's accepted path and
//! every refusal `decide.rs` can give, through the harness in `support`.

use crate::support;

use std::collections::BTreeSet;

use serde_json::json;
use sitrep_core::decide::SystemCommand;
use sitrep_core::decide::{
    self, ActionFailure, Declare, IncidentCommand as C, MAX_ACTIONS, OrgCommand as O, SHORT_MAX, TEXT_MAX, TITLE_MAX,
};
use sitrep_core::entry::{Entry, EntryHash};
use sitrep_core::events::*;
use sitrep_core::ids::{ControlChangeId, ShareId, StatementId};
use sitrep_core::incident::{ActionStatus, NoticeStatus, TaskState};
use sitrep_core::policy::DEFAULT_POLICY;
use sitrep_core::{DecisionId, FactId, IncidentState, OrgRole, Phase, Refusal, Severity, TaskId};
use support::*;

/// A world whose incident has been closed by an approved close decision.
fn closed_world() -> World {
    let mut w = world();
    review(&mut w);
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("the commander proposes closing");
    act(&mut w, "exec", approve(1)).expect("the executive approves closing");
    assert_eq!(w.incident.phase, Phase::Closed);
    w
}

// ---------------------------------------------------------------------------------------------
// (a) The fold: every entry kind is decided and folded, and the fold refuses what could not be.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_full_incident_life_decides_and_folds_every_incident_entry_kind() {
    let mut w = world();
    // incident.declared and role.assigned
    let s = &w.incident;
    assert_eq!(
        (s.id.to_string().as_str(), s.title.as_str(), s.severity, s.phase),
        ("INC-1", "Leaked deploy key", Severity::Sev2, Phase::Declared)
    );
    assert_eq!((s.restricted, s.exercise, s.declared_by.to_string().as_str()), (false, false, "cmd"));
    assert_eq!(s.policy, w.org.state.policy.sha256);
    for (name, r) in STAFF {
        assert_eq!(s.roles[&role(r)], vec![user(name)], "{name} holds {r}");
    }
    assert_eq!(w.kinds()[..2], ["incident.declared", "role.assigned"]);

    act(&mut w, "cmd", assign("scribe", "resp")).expect("the commander staffs");
    assert_eq!(w.incident.roles_of(&user("resp")), vec![role("responder"), role("scribe")]);
    act(&mut w, "cmd", release("scribe", "resp")).expect("the commander releases");
    assert!(!w.incident.roles.contains_key(&role("scribe")));
    act(&mut w, "cmd", hand_over("tech", "cmd steps away for an hour")).expect("command handed over");
    act(&mut w, "tech", hand_over("cmd", "cmd is back")).expect("and handed back");
    assert_eq!(w.incident.commander(), Some(&user("cmd")));
    assert_eq!(w.incident.handovers.len(), 2);
    let started = at(w.org.clock - 3600);
    let occurrence = C::RecordOccurrence {
        started_at: Some(started),
        first_seen_at: None,
        detected_at: None,
        backfill_reason: Some("commit time from git".into()),
    };
    act(&mut w, "cmd", occurrence).expect("when it started");
    assert_eq!(w.incident.occurrence.started_at, Some(started));

    act(&mut w, "cmd", C::SetPhase { phase: Phase::Triage }).expect("the commander moves the phase");
    assert_eq!(w.incident.phase, Phase::Triage);
    act(&mut w, "cmd", C::SetSeverity { severity: Severity::Sev1, reason: Some("customer data".into()) })
        .expect("the commander raises severity");
    assert_eq!(w.incident.severity, Severity::Sev1);

    act(&mut w, "resp", fact("Deploy key seen in a public gist")).expect("a responder logs a fact");
    let f1 = &w.incident.facts[0];
    assert_eq!(
        (f1.id, f1.status, f1.logged_by.to_string().as_str(), f1.judged.is_none()),
        (FactId(1), FactStatus::Unverified, "resp", true)
    );
    act(&mut w, "tech", verify(1, "gist fetched; fingerprint matches")).expect("the tech lead verifies");
    let f1 = &w.incident.facts[0];
    let judged = f1.judged.as_ref().expect("judged");
    assert_eq!(
        (f1.status, judged.by.to_string().as_str(), judged.basis.as_str()),
        (FactStatus::Verified, "tech", "gist fetched; fingerprint matches")
    );
    act(&mut w, "resp", fact("The attacker pushed with the key")).expect("a responder logs a fact");
    act(&mut w, "tech", disprove(2, "no pushes since the key was created")).expect("the tech lead disproves");
    assert_eq!(w.incident.facts[1].status, FactStatus::Disproved);

    act(
        &mut w,
        "cmd",
        C::CreateTask { title: "Rotate the key".into(), owner: Some(user("resp")), due: Some(at(3600)) },
    )
    .expect("a task");
    let t1 = &w.incident.tasks[0];
    assert_eq!(
        (t1.id, t1.state, t1.owner.clone(), t1.due, &t1.origin),
        (TaskId(1), TaskState::Open, Some(user("resp")), Some(at(3600)), &TaskOrigin::Manual)
    );
    act(&mut w, "cmd", assign_task(1, "tech")).expect("reassigned");
    assert_eq!(w.incident.tasks[0].owner, Some(user("tech")));
    act(&mut w, "tech", block(1, "waiting for GitHub support")).expect("blocked");
    assert_eq!(
        (w.incident.tasks[0].state, w.incident.tasks[0].note.as_deref()),
        (TaskState::Blocked, Some("waiting for GitHub support"))
    );
    act(&mut w, "tech", C::CompleteTask { task: TaskId(1), note: Some("rotated".into()) })
        .expect("a blocked task can be completed");
    assert_eq!((w.incident.tasks[0].state, w.incident.tasks[0].note.as_deref()), (TaskState::Done, Some("rotated")));
    act(&mut w, "cmd", task("Tell the partner")).expect("a task");
    act(&mut w, "cmd", cancel(2)).expect("cancelled");
    assert_eq!(w.incident.tasks[1].state, TaskState::Cancelled);

    act(&mut w, "cora", note("Holding statement drafted")).expect("a note");
    assert_eq!(
        (w.incident.notes[0].by.to_string().as_str(), w.incident.notes[0].text.as_str()),
        ("cora", "Holding statement drafted")
    );

    // decision.proposed, decision.approved, then the worker runs its two actions.
    act(&mut w, "tech", with_actions("containment", "Revoke the deploy key", vec![webhook("github-revoke"), notify()]))
        .expect("proposed");
    let d1 = w.decision(1);
    assert_eq!(
        (d1.state, d1.proposer.as_str(), d1.approvals.len(), d1.actions.len()),
        (DecisionState::Proposed, "tech", 0, 2)
    );
    assert!(d1.actions.iter().all(|a| a.status == ActionStatus::Pending));
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    let d1 = w.decision(1);
    assert_eq!(
        (d1.state, d1.approvals[0].user.as_str(), d1.approvals[0].role.as_ref().map(|r| r.as_str())),
        (DecisionState::Approved, "cmd", Some("commander"))
    );
    assert!(d1.decided_at.is_some());
    // The worker runs D-1's actions through `decide_system`: the webhook succeeds at once, the
    // notification fails for good, a person asks for a retry and the second attempt succeeds.
    let entries = system(&mut w, start(1, 0)).expect("the worker starts the webhook");
    assert_eq!((entries[0].kind.as_str(), &entries[0].actor), ("action.started", &worker()));
    assert_eq!((w.decision(1).actions[0].status, w.decision(1).actions[0].attempts), (ActionStatus::Running, 1));
    system(&mut w, succeed(1, 0, Some("HTTP 204"))).expect("succeeded");
    assert_eq!(
        (w.decision(1).actions[0].status, w.decision(1).actions[0].detail.as_deref()),
        (ActionStatus::Succeeded, Some("HTTP 204"))
    );
    system(&mut w, start(1, 1)).expect("the worker starts the notification");
    system(&mut w, fail(1, 1, "channel unreachable", false)).expect("failed for good");
    let a2 = &w.decision(1).actions[1];
    assert_eq!(
        (a2.status, a2.last_error.as_deref(), a2.retryable, a2.failures),
        (ActionStatus::Failed, Some("channel unreachable"), false, 1)
    );
    act(&mut w, "tech", retry(1, 1)).expect("the tech lead asks for a retry");
    let a2 = &w.decision(1).actions[1];
    assert_eq!((a2.status, a2.retryable, a2.failures, a2.attempts), (ActionStatus::Pending, true, 0, 1));
    system(&mut w, start(1, 1)).expect("started again");
    system(&mut w, succeed(1, 1, None)).expect("succeeded");
    assert_eq!((w.decision(1).actions[1].status, w.decision(1).actions[1].attempts), (ActionStatus::Succeeded, 2));

    // The notifier tells D-1's communications path of its proposal and its approval.
    let owed = |w: &World| {
        w.decision(1).notices.iter().map(|n| (n.moment, n.channel.clone(), n.status, n.attempts)).collect::<Vec<_>>()
    };
    let channel = || "incident-channel".to_owned();
    assert_eq!(
        owed(&w),
        [
            (Moment::Proposed, channel(), NoticeStatus::Pending, 0),
            (Moment::Approved, channel(), NoticeStatus::Pending, 0)
        ]
    );
    system(&mut w, delivered(1, Moment::Proposed, "incident-channel")).expect("delivered");
    system(&mut w, undelivered(1, Moment::Approved, "incident-channel", "HTTP 410", false)).expect("failed");
    assert_eq!(
        owed(&w),
        [
            (Moment::Proposed, channel(), NoticeStatus::Delivered, 1),
            (Moment::Approved, channel(), NoticeStatus::Failed, 1)
        ]
    );

    act(&mut w, "cora", propose("external_statement", "Tell customers")).expect("comms proposes");
    act(&mut w, "lee", reject(2, "it names the vendor")).expect("legal rejects");
    let d2 = w.decision(2);
    assert_eq!(
        (d2.state, d2.rejections[0].user.as_str(), d2.rejections[0].note.as_deref()),
        (DecisionState::Rejected, "lee", Some("it names the vendor"))
    );

    act(&mut w, "tech", propose("containment", "Block the IP")).expect("proposed");
    act(&mut w, "tech", withdraw(3)).expect("the proposer withdraws");
    assert_eq!(
        (w.decision(3).state, w.decision(3).withdrawn.as_ref().map(|a| a.user.as_str())),
        (DecisionState::Withdrawn, Some("tech"))
    );

    // Alerts (their rules are in tests/core/alerts.rs): told after a failure, a review link
    // opened, the next update promised.
    let alerted = |outcome| SystemCommand::Alerted {
        person: user("lee"),
        about: vec!["role:legal".into()],
        route: "email".into(),
        outcome,
    };
    let failure = decide::ActionFailure { reason: "SMTP 451".into(), retryable: true };
    system(&mut w, alerted(Err(failure))).expect("alert.failed");
    system(&mut w, alerted(Ok(None))).expect("alert.sent");
    act(&mut w, "lee", C::OpenReviewLink { decision: DecisionId(2), link: "0a1b2c".into() })
        .expect("review_link.opened");
    let next_at = w.org.now().plus_seconds(3600);
    act(&mut w, "cmd", C::ScheduleUpdate { next_at, every_minutes: None, subscribers: vec![] })
        .expect("update.scheduled");

    // playbook.started, as an incident command: the generic playbook's eight tasks follow it.
    let entries = act(&mut w, "cmd", run_playbook("generic", &[])).expect("the commander starts a playbook");
    assert_eq!((entries[0].kind.as_str(), entries.len()), ("playbook.started", 9));
    assert_eq!(w.incident.playbooks.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["generic"]);

    // Evidence with its custody, a third party sharing it, a statement approved and published.
    act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("evidence.registered");
    act(&mut w, "lee", access(&blob(1), "legal review")).expect("evidence.accessed");
    system(&mut w, SystemCommand::IntegrityFailed { sha256: blob(1), detail: "hash mismatch".into() })
        .expect("evidence.integrity_failed");
    register_party(&mut w, "acme");
    act(&mut w, "cmd", engage("acme")).expect("party.engaged");
    act(&mut w, "lee", with_actions("evidence_sharing", "Share the log", vec![share("acme", &[&blob(1)], 24)]))
        .expect("legal proposes sharing");
    act(&mut w, "cmd", approve(4)).expect("the commander approves sharing");
    system(&mut w, run_share(4, 0)).expect("share.created");
    act(&mut w, "cmd", C::RevokeShare { share: ShareId(1), reason: None }).expect("share.revoked");
    act(&mut w, "cora", draft(Audience::Press, "We are investigating.")).expect("statement.drafted");
    act(&mut w, "cora", revise(1, "We are investigating an incident.")).expect("statement.revised");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("comms proposes the statement");
    act(&mut w, "lee", approve(5)).expect("legal approves it");
    act(&mut w, "cora", publish(1, "status page")).expect("statement.published");
    // Published on a configured outlet: sitrep owes a delivery, fails once for good, is
    // asked to retry, and delivers.
    act(&mut w, "cora", publish_to_outlet(1, "press-list", Audience::Press)).expect("published to an outlet");
    let text = "We are investigating an incident.";
    let refused = ActionFailure { reason: "HTTP 410".into(), retryable: false };
    system(&mut w, delivery(1, 2, "press-list", text, Err(refused))).expect("statement.delivery_failed");
    let retry = C::RetryDelivery { statement: StatementId(1), version: 2, channel: "press-list".into() };
    act(&mut w, "cora", retry).expect("statement.delivery_retry_requested");
    system(&mut w, delivery(1, 2, "press-list", text, Ok(Some("HTTP 200".into())))).expect("statement.delivered");

    // A regulatory clock: started by a determination, warned, missed, then stopped late.
    act(&mut w, "lee", determine("personal_data_breach", None)).expect("determination.recorded");
    let started = w.org.clock;
    jump_to(&mut w, started + 60 * 3600);
    let warned = SystemCommand::ClockWarned { clock: "gdpr_art33".into(), told: vec!["legal".into()], failed: vec![] };
    system(&mut w, warned).expect("clock.warned");
    jump_to(&mut w, started + 72 * 3600);
    system(&mut w, SystemCommand::ClockMissed { clock: "gdpr_art33".into() }).expect("clock.missed");
    let room = || SystemCommand::OpenChatRoom { system: "matrix".into(), room: "!abc:example.org".into() };
    system(&mut w, room()).expect("chat.room_opened");
    assert_eq!(w.incident.chat_rooms["matrix"], "!abc:example.org");
    assert!(matches!(system(&mut w, room()), Err(Refusal::Conflict(_))), "one room per chat system");
    act(&mut w, "lee", draft(Audience::Regulator, "We report a personal data breach.")).expect("drafted");
    act(&mut w, "lee", propose_statement("regulatory_notification", 2)).expect("legal proposes");
    act(&mut w, "exec", approve(6)).expect("the executive approves: approving is not sending");
    assert!(w.incident.clocks[0].is_running());
    let sent = C::SubmitNotification {
        clock: "gdpr_art33".into(),
        sent_at: at(w.org.clock),
        authority: "CNIL".into(),
        channel: "portal".into(),
        reference: "CNIL-1".into(),
        statement: sitrep_core::ids::StatementId(2),
        version: 1,
    };
    act(&mut w, "lee", sent).expect("clock.submitted: the clock stops, late");
    assert_eq!(w.incident.clocks[0].submission.as_ref().map(|s| s.met), Some(false));
    // A determination withdrawn and a notification not required, each with its basis.
    act(&mut w, "lee", determine("significant_incident", None)).expect("determined");
    let not_required = C::NotificationNotRequired { clock: "nis2_early_warning".into(), basis: "CSIRT: no".into() };
    act(&mut w, "lee", not_required).expect("clock.not_required");
    let withdrawn =
        C::WithdrawDetermination { determination: "significant_incident".into(), basis: "not significant".into() };
    act(&mut w, "lee", withdrawn).expect("determination.withdrawn");

    // The post-incident review: lessons become control changes; one is done, one cancelled.
    act(&mut w, "cmd", lesson("A deploy key sat in a public repository")).expect("lesson.recorded");
    act(&mut w, "tech", control_change(1, "tech", "PR.AA-05")).expect("control_change.planned");
    act(&mut w, "tech", control_change(1, "resp", "DE.CM-09")).expect("a second control change");
    act(&mut w, "tech", C::CancelControlChange { change: ControlChangeId(2), note: "covered by CC-1".into() })
        .expect("control_change.cancelled");
    // Closing leaves no task open: what is left is done (or cancelled, carried into a change).
    let open: Vec<u64> = w.incident.close_checklist(None).tasks.iter().map(|t| t.id.0).collect();
    for task in open {
        act(&mut w, "cmd", complete(task)).expect("a task done before closing");
    }
    assert_eq!(
        conflict(act(&mut w, "cmd", propose("close", "Close INC-1"))),
        "INC-1 cannot close yet: the post-incident review is not complete: 1 lesson(s) recorded; complete the review"
    );
    act(&mut w, "cmd", complete_review("Contained within the hour.")).expect("review.completed");

    // A close decision closes the incident in the same step.
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("proposed");
    let entries = act(&mut w, "exec", approve(7)).expect("the executive approves closing");
    assert_eq!(
        entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["decision.approved", "incident.phase_changed"]
    );
    assert_eq!(entries[1].body, r#"{"decision":"D-7","from":"triage","to":"closed"}"#);
    assert_eq!((w.incident.phase, w.decision(7).state), (Phase::Closed, DecisionState::Approved));
    // The owner marks their control change done after the incident closed: it is tracked on.
    act(&mut w, "tech", C::CompleteControlChange { change: ControlChangeId(1), note: Some("enforced".into()) })
        .expect("control_change.done");
    assert_eq!(w.incident.review.control_changes[0].state, sitrep_core::incident::ControlChangeState::Done);

    // playbook.started at declaration, on another incident.
    let command = Declare {
        playbook: Some("leaked-secret".into()),
        inputs: inputs(&[("key_id", "AKIA1234"), ("provider", "AWS")]),
        ..declaration("Key in a public repository", &STAFF[1..])
    };
    let declared = declare(org(), "cmd", &command).expect("declared with a playbook");
    assert_eq!(declared.kinds()[STAFF.len() + 1], "playbook.started");
    assert_eq!(declared.incident.playbooks[0].id, "leaked-secret");

    let seen: BTreeSet<&str> = w.kinds().into_iter().chain(declared.kinds()).collect();
    for kind in IncidentEvent::KINDS {
        assert!(seen.contains(kind), "no test produces and folds '{kind}'");
    }
}

#[test]
fn a_full_organisation_life_decides_and_folds_every_org_entry_kind() {
    let mut org = Org::genesis();
    // deployment.created, policy.replaced, user.added, token.issued
    assert_eq!(
        (org.state.name.as_str(), org.state.policy.sha256.as_str()),
        ("Example Corp", sitrep_core::Policy::default_policy().sha256.as_str())
    );
    assert!(org.state.users[&user(ADMIN)].has(OrgRole::Admin));
    assert_eq!(org.state.authenticate(&token(0), org.now()).map(|u| u.name.as_str()), Some(ADMIN));

    org.add("cmd", OrgRole::Member);
    let cmd = &org.state.users[&user("cmd")];
    assert_eq!((cmd.active, cmd.has(OrgRole::Member), cmd.added_by.to_string().as_str()), (true, true, ADMIN));
    org.act(ADMIN, O::GrantOrgRole { user: user("cmd"), role: OrgRole::Admin }).expect("granted");
    assert!(org.state.users[&user("cmd")].has(OrgRole::Admin));
    org.act(ADMIN, O::RevokeOrgRole { user: user("cmd"), role: OrgRole::Admin }).expect("revoked");
    assert!(!org.state.users[&user("cmd")].has(OrgRole::Admin));

    org.act("cmd", O::SetPassword { user: user("cmd") }).expect("a user sets their own password");
    let set_at = org.state.users[&user("cmd")].password_set_at;
    assert!(set_at.is_some());
    assert_eq!(org.record.last().map(|e| e.body.as_str()), Some(r#"{"user":"cmd"}"#), "the record holds no hash");
    org.add("eve", OrgRole::Member);
    assert!(
        matches!(org.act("cmd", O::SetPassword { user: user("eve") }), Err(Refusal::Forbidden { .. })),
        "a member may not set someone else's password"
    );
    org.act(ADMIN, O::SetPassword { user: user("eve") }).expect("an admin sets anyone's password");

    org.act(
        "cmd",
        O::IssueToken {
            minted_by: None,
            user: user("cmd"),
            sha256: token(1),
            expires_at: Some(at(1000)),
            label: Some("laptop".into()),
        },
    )
    .expect("a user issues their own token");
    assert_eq!(org.state.tokens[&token(1)].id, token(1)[..12]);
    assert_eq!(org.state.authenticate(&token(1), org.now()).map(|u| u.name.as_str()), Some("cmd"));
    assert!(org.state.authenticate(&token(1), at(1000)).is_none(), "a token stops at its expiry");
    org.act("cmd", O::RevokeToken { user: user("cmd"), token: token(1)[..12].to_owned() })
        .expect("a user revokes their own token");
    assert!(org.state.tokens[&token(1)].revoked);
    assert!(org.state.authenticate(&token(1), org.now()).is_none());

    org.act(
        ADMIN,
        O::IssueToken { minted_by: None, user: user("cmd"), sha256: token(2), expires_at: None, label: None },
    )
    .expect("the admin issues a token");
    org.act(ADMIN, O::DisableUser { user: user("cmd"), reason: Some("left the company".into()) }).expect("disabled");
    assert!(!org.state.users[&user("cmd")].active);
    assert!(org.state.tokens[&token(2)].revoked, "disabling a user revokes their tokens");

    let stricter = DEFAULT_POLICY.replace("name = \"default\"", "name = \"stricter\"");
    org.act(ADMIN, O::ReplacePolicy { source: stricter.clone() }).expect("replaced");
    assert_eq!((org.state.policy.name.as_str(), org.state.policy.source.as_str()), ("stricter", stricter.as_str()));

    let revised = sitrep_core::playbook::BUILT_IN_PLAYBOOKS[0].replace("version = \"1.1.0\"", "version = \"1.2.0\"");
    org.act(ADMIN, O::AddPlaybook { source: revised.clone() }).expect("added");
    let playbook = &org.state.playbooks["leaked-secret"];
    assert_eq!(
        (playbook.version.as_str(), playbook.sha256.clone()),
        ("1.2.0", EntryHash::of(revised.as_bytes()).to_hex())
    );

    org.act(ADMIN, O::RegisterParty(msp("acme"))).expect("party.registered");
    let mut changed = msp("acme");
    changed.authority.push("may audit their access logs".into());
    org.act(ADMIN, O::UpdateParty(changed.clone())).expect("party.updated");
    assert_eq!(org.state.parties["acme"].party, changed);

    org.act(ADMIN, O::EnableUser { user: user("cmd"), reason: Some("returned".into()) }).expect("user.enabled");
    org.act(ADMIN, O::UpdateUser { user: user("cmd"), display_name: Some("Commander".into()) }).expect("user.updated");
    let contact =
        O::SetContact { user: user("cmd"), email: Some("cmd@example.test".into()), webhook: None, mute: vec![] };
    org.act("cmd", contact).expect("user.contact_set");
    let authentication = sitrep_core::authn::Authentication::password(org.now());
    org.act("cmd", O::RecordSignIn { session: "00112233aabb".into(), authentication }).expect("session.started");
    org.act("cmd", O::RecordSignOut { user: user("cmd"), session: "00112233aabb".into(), reason: None })
        .expect("session.ended");

    // Chat identities: only the person links their own, one person per identity.
    let link = |who: &str, id: &str| O::LinkChat { user: user(who), system: "matrix".into(), id: id.into() };
    assert!(matches!(org.act(ADMIN, link("cmd", "@cmd:example.org")), Err(Refusal::Forbidden { .. })));
    org.act("cmd", link("cmd", "@cmd:example.org")).expect("chat.linked");
    assert_eq!(org.state.linked("matrix", "@cmd:example.org").map(|u| u.name.as_str()), Some("cmd"));
    assert!(matches!(org.act(ADMIN, link(ADMIN, "@cmd:example.org")), Err(Refusal::Conflict(_))));
    let unknown = O::LinkChat { user: user("cmd"), system: "irc".into(), id: "cmd".into() };
    assert!(matches!(org.act("cmd", unknown), Err(Refusal::Invalid { .. })));
    org.act("cmd", O::UnlinkChat { user: user("cmd"), system: "matrix".into() }).expect("chat.unlinked");
    assert!(org.state.linked("matrix", "@cmd:example.org").is_none());

    let seen: BTreeSet<&str> = org.record.iter().map(|e| e.kind.as_str()).collect();
    for kind in OrgEvent::KINDS {
        assert!(seen.contains(kind), "no test produces and folds '{kind}'");
    }
}

#[test]
fn the_fold_refuses_a_forged_approval_even_when_it_is_hashed_correctly() {
    let mut w = world();
    // A forged approval: re-hashed correctly, but it could not have been decided.
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    let statement = DecisionId(w.incident.decisions.len() as u64);
    let not_held = IncidentEvent::DecisionApproved(DecisionApproved {
        authentication: None,
        decision: statement,
        role: role("legal"),
        also: vec![],
        note: None,
        state: DecisionState::Approved,
    });
    let error = fold_refuses(&w, w.head(), &by("tech"), not_held.clone());
    assert_eq!(error.reason, "the approver does not hold the role the entry claims");
    let premature = IncidentEvent::DecisionApproved(DecisionApproved {
        authentication: None,
        decision: statement,
        role: role("comms"),
        also: vec![],
        note: None,
        state: DecisionState::Approved,
    });
    let error = fold_refuses(&w, w.head(), &by("cora"), premature);
    assert_eq!(error.reason, "a person endorses a decision once");
    let overstated = fold_refuses(&w, w.head(), &by("lee"), {
        let IncidentEvent::DecisionApproved(mut forged) = not_held else { unreachable!() };
        forged.state = DecisionState::Proposed;
        IncidentEvent::DecisionApproved(forged)
    });
    assert_eq!(overstated.reason, "the recorded state does not follow from the decision's rule");
}

#[test]
fn the_fold_refuses_entries_that_could_not_have_been_decided() {
    let mut w = world();
    act(&mut w, "tech", propose("containment", "Block the IP")).expect("proposed");
    act(&mut w, "tech", withdraw(1)).expect("withdrawn");
    let next = w.incident.seq + 1;

    let unknown_fact = fold_refuses(
        &w,
        w.head(),
        &by("tech"),
        IncidentEvent::FactVerified(FactJudged { fact: FactId(9), basis: "forged".into() }),
    );
    assert_eq!((unknown_fact.seq, unknown_fact.reason.as_str()), (next, "unknown fact"));

    let approved = IncidentEvent::DecisionApproved(DecisionApproved {
        authentication: None,
        decision: DecisionId(1),
        role: role("commander"),
        also: vec![],
        note: None,
        state: DecisionState::Approved,
    });
    let withdrawn = fold_refuses(&w, w.head(), &by("cmd"), approved.clone());
    assert_eq!(withdrawn.reason, "the decision is no longer open");

    let gap = fold_refuses(
        &w,
        (w.incident.seq + 1, w.incident.head),
        &by("cmd"),
        IncidentEvent::NoteAdded(NoteAdded { text: "skips a seq".into(), occurred_at: None, backfill_reason: None }),
    );
    assert_eq!((gap.seq, gap.reason), (next + 1, format!("does not follow seq {} of this record", next - 1)));
    let relinked = fold_refuses(
        &w,
        (w.incident.seq, EntryHash::ZERO),
        &by("cmd"),
        IncidentEvent::NoteAdded(NoteAdded { text: "wrong prev".into(), occurred_at: None, backfill_reason: None }),
    );
    assert!(relinked.reason.starts_with("does not follow"), "{relinked}");

    let rules = [
        (
            by("cmd"),
            IncidentEvent::DecisionApproved(DecisionApproved {
                authentication: None,
                decision: DecisionId(7),
                role: role("commander"),
                also: vec![],
                note: None,
                state: DecisionState::Approved,
            }),
            "unknown decision",
        ),
        (worker(), approved, "only people write this kind of entry"),
        (
            by("cmd"),
            IncidentEvent::RoleReleased(RoleRelease {
                change: RoleChange { role: role("legal"), user: user("cora"), unit: None },
                reason: None,
            }),
            "the user does not hold the role",
        ),
        (
            by("cmd"),
            IncidentEvent::RoleReleased(RoleRelease {
                change: RoleChange { role: role("liaison"), user: user("cora"), unit: None },
                reason: None,
            }),
            "nobody holds the role",
        ),
        (
            by("cmd"),
            IncidentEvent::RoleAssigned(RoleChange { role: role("legal"), user: user("lee"), unit: None }),
            "the user already holds the role",
        ),
        (
            by("cmd"),
            IncidentEvent::PhaseChanged(PhaseChanged { from: Phase::Recovery, to: Phase::Closed, decision: None }),
            "'from' is not the current phase",
        ),
        (
            by("cmd"),
            IncidentEvent::SeverityChanged(SeverityChanged { from: Severity::Sev4, to: Severity::Sev1, reason: None }),
            "'from' is not the current severity",
        ),
        (
            by("tech"),
            IncidentEvent::FactLogged(FactLogged {
                fact: FactId(5),
                text: "skips ids".into(),
                source: None,
                status: FactStatus::Unverified,
                basis: None,
                occurred_at: None,
                backfill_reason: None,
            }),
            "fact ids must be sequential",
        ),
        (
            by("tech"),
            IncidentEvent::TaskCreated(TaskCreated {
                task: TaskId(3),
                title: "skips ids".into(),
                owner: None,
                due: None,
                due_in_minutes: None,
                origin: TaskOrigin::Manual,
            }),
            "task ids must be sequential",
        ),
        (by("tech"), IncidentEvent::TaskDone(TaskClosed { task: TaskId(1), note: None }), "unknown task"),
        (
            worker(),
            IncidentEvent::ActionStarted(ActionStarted { decision: DecisionId(1), action: 0, attempt: 1 }),
            "unknown action",
        ),
        (
            by("cmd"),
            IncidentEvent::Declared(Declared {
                incident: w.incident.uuid,
                number: w.incident.id,
                title: "again".into(),
                severity: Severity::Sev1,
                scope: vec![],
                restricted: false,
                exercise: false,
                policy: w.incident.policy.clone(),
            }),
            "an incident is declared once",
        ),
    ];
    for (actor, event, reason) in rules {
        assert_eq!(fold_refuses(&w, w.head(), &actor, event).reason, reason);
    }

    let proposed = |decision: u64| {
        IncidentEvent::DecisionProposed(DecisionProposed {
            authentication: None,
            decision: DecisionId(decision),
            class: class("containment"),
            title: "t".into(),
            rationale: None,
            actions: vec![notify()],
            rule: w.decision(1).rule.clone(),
            role: None,
            also: vec![],
            state: DecisionState::Proposed,
            playbook: None,
            path: vec![],
            statement: None,
            clocks: Vec::new(),
        })
    };
    assert_eq!(fold_refuses(&w, w.head(), &worker(), proposed(2)).reason, "only people write this kind of entry");
    assert_eq!(fold_refuses(&w, w.head(), &by("tech"), proposed(5)).reason, "decision ids must be sequential");

    // An entry of a kind no version wrote, and one whose body does not fit its kind.
    let alien = Entry::seal(next, at(9_999), by("cmd"), "fact.deleted", r#"{"fact":"F-1"}"#.into(), w.incident.head);
    let error = w.incident.clone().apply_entry(&alien).expect_err("unknown kind");
    assert_eq!((error.seq, error.reason.as_str()), (next, "unknown entry kind 'fact.deleted'"));
    let garbled = Entry::seal(next, at(9_999), by("cmd"), "note.added", r#"{"txt":"typo"}"#.into(), w.incident.head);
    let error = w.incident.clone().apply_entry(&garbled).expect_err("bad body");
    assert!(error.reason.starts_with("body of 'note.added' is not valid"), "{error}");

    // A record must start with its declaration.
    let empty: [Entry; 0] = [];
    assert_eq!(IncidentState::fold(&empty).expect_err("empty").reason, "the record is empty");
    let headless = IncidentState::fold(&w.record[1..]).expect_err("no declaration");
    assert_eq!((headless.seq, headless.reason.as_str()), (2, "the first entry must be incident.declared"));

    // Nothing was applied by any of the refusals.
    act(&mut w, "cmd", note("still whole")).expect("the record goes on");
}

#[test]
fn the_org_fold_refuses_entries_that_could_not_have_been_decided() {
    let org = org();
    let refuses = |event: OrgEvent| {
        let entry =
            seal((org.state.seq, org.state.head), at(9_999), &by(ADMIN), std::slice::from_ref(&event)).remove(0);
        let error = org.state.clone().apply(&entry, &event).expect_err("the org fold refuses it");
        assert_eq!(error.seq, org.state.seq + 1);
        let mut record = org.record.clone();
        record.push(entry);
        let refolded = sitrep_core::OrgState::fold(&record).expect_err("refolding refuses it too");
        assert_eq!(refolded, error);
        error.reason
    };
    assert_eq!(
        refuses(OrgEvent::UserAdded(UserAdded {
            user: user("cmd"),
            display_name: None,
            org_role: OrgRole::Admin,
            identity: None
        })),
        "the user already exists"
    );
    assert_eq!(refuses(OrgEvent::UserDisabled(UserDisabled { user: user("ghost"), reason: None })), "unknown user");
    assert_eq!(
        refuses(OrgEvent::TokenIssued(TokenIssued {
            minted_by: None,
            user: user("ghost"),
            sha256: token(5),
            expires_at: None,
            label: None
        })),
        "unknown user"
    );
    assert_eq!(
        refuses(OrgEvent::TokenRevoked(TokenRevoked { user: user("cmd"), token: token(0)[..12].to_owned() })),
        "unknown token"
    );
    assert_eq!(
        refuses(OrgEvent::PolicyReplaced(PolicyReplaced {
            sha256: token(3),
            source: DEFAULT_POLICY.replace("default", "other")
        })),
        "the recorded policy does not match its sha256"
    );
    assert!(
        refuses(OrgEvent::PolicyReplaced(PolicyReplaced { sha256: token(3), source: "name = 1".into() }))
            .starts_with("the recorded policy does not load: line 1")
    );
    let created = OrgEvent::DeploymentCreated(DeploymentCreated {
        deployment: org.state.deployment,
        name: "again".into(),
        public_key: String::new(),
    });
    assert_eq!(refuses(created), "a deployment is created once");
}

// ---------------------------------------------------------------------------------------------
// (b) Decide: who may act at all.
// ---------------------------------------------------------------------------------------------

#[test]
fn someone_who_is_not_a_user_cannot_act() {
    let mut w = world();
    says(&forbidden(act(&mut w, "nobody", note("hi")), "users"), &["'nobody' is not a user of this deployment"]);
    says(&forbidden(declare(org(), "nobody", &declaration("x", &[])), "users"), &["not a user"]);
    forbidden(
        w.org.act("nobody", O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Admin }),
        "users",
    );
}

#[test]
fn a_disabled_user_cannot_act() {
    let mut w = world();
    w.org.act(ADMIN, O::DisableUser { user: user("tech"), reason: None }).expect("disabled");
    assert_eq!(forbidden(act(&mut w, "tech", note("still here?")), "users"), "the account 'tech' is disabled");
    forbidden(act(&mut w, "tech", verify(1, "x")), "users");
    forbidden(declare(w.org.clone(), "tech", &declaration("x", &[])), "users");
    forbidden(
        w.org.act(
            "tech",
            O::IssueToken { minted_by: None, user: user("tech"), sha256: token(9), expires_at: None, label: None },
        ),
        "users",
    );
    // Nor can they be given a role.
    says(&invalid(act(&mut w, "cmd", assign("scribe", "tech")), "user"), &["there is no active user 'tech'"]);
}

#[test]
fn a_viewer_cannot_act_even_on_an_incident_they_observe() {
    let mut w = restricted_world();
    act(&mut w, "cmd", assign("observer", VIEWER)).expect("a viewer may hold a read-only role");
    assert!(decide::can_see(&w.incident, &user(VIEWER)), "an observing viewer sees the restricted incident");
    let message = forbidden(act(&mut w, VIEWER, note("hello")), "org_roles");
    assert_eq!(
        message,
        "'vic' may read incidents but not act on them: acting needs the admin or member organisation role"
    );
    forbidden(act(&mut w, VIEWER, propose("evidence_sharing", "Share logs")), "org_roles");
    forbidden(declare(org(), VIEWER, &declaration("x", &[])), "org_roles");
    says(
        &invalid(act(&mut w, "cmd", assign("tech_lead", VIEWER)), "user"),
        &["'vic' is a viewer or auditor and may hold only read-only roles (observer)"],
    );
}

#[test]
fn restricted_incidents_are_not_found_by_non_participants_and_found_by_participants() {
    let mut w = restricted_world();
    for outsider in [OUTSIDER, ADMIN, VIEWER] {
        assert!(!decide::can_see(&w.incident, &user(outsider)));
        assert_eq!(not_found(act(&mut w, outsider, note("peek"))), "there is no incident INC-1");
        assert_eq!(
            not_found(act(&mut w, outsider, approve(1))),
            "there is no incident INC-1",
            "no hint that D-1 exists or not"
        );
    }
    for (name, _) in STAFF.iter().filter(|(_, r)| *r != "observer") {
        assert!(decide::can_see(&w.incident, &user(name)));
        act(&mut w, name, note("here")).expect("a participant acts");
    }
    forbidden(act(&mut w, "obs", note("here")), "actions.notes");
    // Leaving the incident's roles puts a person outside it again.
    act(&mut w, "cmd", release("responder", "resp")).expect("released");
    not_found(act(&mut w, "resp", note("still here?")));
    // An unrestricted incident is visible to every user.
    let open = world();
    assert!(decide::can_see(&open.incident, &user(OUTSIDER)) && decide::can_see(&open.incident, &user(VIEWER)));
}

#[test]
fn a_closed_incident_refuses_every_command() {
    let mut w = closed_world();
    let every_command = [
        assign("scribe", "resp"),
        release("legal", "lee"),
        C::SetPhase { phase: Phase::Recovery },
        C::SetSeverity { severity: Severity::Sev1, reason: None },
        fact("late finding"),
        verify(1, "x"),
        disprove(1, "x"),
        task("late task"),
        assign_task(1, "tech"),
        complete(1),
        block(1, "x"),
        cancel(1),
        propose("containment", "late"),
        approve(1),
        reject(1, "x"),
        withdraw(1),
        note("late note"),
        run_playbook("generic", &[]),
        retry(1, 0),
    ];
    for command in every_command {
        for name in ["cmd", "tech", "lee"] {
            assert_eq!(
                conflict(act(&mut w, name, command.clone())),
                "INC-1 is closed; its record is final",
                "{command}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Roles, phase and severity.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_commander_assigns_and_releases_roles() {
    let mut w = world();
    act(&mut w, "cmd", assign("liaison", OUTSIDER)).expect("the commander staffs an outsider");
    assert!(w.incident.is_participant(&user(OUTSIDER)));
    act(&mut w, "cmd", release("liaison", OUTSIDER)).expect("and releases them");
    assert!(!w.incident.is_participant(&user(OUTSIDER)));
}

#[test]
fn one_person_commands_at_a_time_and_handing_over_is_one_entry() {
    let mut w = world();
    // Assigning commander while cmd holds it used to make two commanders; it names the rule.
    let before = w.incident.seq;
    let message = conflict(act(&mut w, "cmd", assign("commander", "tech")));
    says(&message, &["one commander at a time: cmd commands INC-1", "hand command over instead"]);
    assert_eq!(w.incident.seq, before, "nothing was written");

    let entries = act(&mut w, "cmd", hand_over("tech", "end of shift; tech has the context")).expect("handed over");
    assert_eq!(entries.len(), 1, "one entry moves the role");
    assert_eq!(entries[0].kind, "commander.handed_over");
    assert_eq!(entries[0].body, r#"{"from":"cmd","reason":"end of shift; tech has the context","to":"tech"}"#);
    assert_eq!(w.incident.roles[&role("commander")], vec![user("tech")]);
    assert_eq!(w.incident.commander(), Some(&user("tech")));
    assert!(w.incident.holds(&user("tech"), "tech_lead"), "the new commander keeps their other roles");
    let handover = &w.incident.handovers[0];
    assert_eq!((handover.from.as_str(), handover.to.as_str(), handover.at), ("cmd", "tech", entries[0].at));

    // The old commander lost the role with it.
    forbidden(act(&mut w, "cmd", hand_over("lee", "back")), "actions.assign_roles");
    // Refusals change nothing and say why.
    let before = w.incident.seq;
    assert_eq!(conflict(act(&mut w, "tech", hand_over("tech", "again"))), "tech already commands INC-1");
    says(&invalid(act(&mut w, "tech", hand_over("ghost", "x")), "to"), &["there is no active user 'ghost'"]);
    says(&invalid(act(&mut w, "tech", hand_over(VIEWER, "x")), "to"), &["may hold only read-only roles"]);
    says(&invalid(act(&mut w, "tech", hand_over("lee", "  ")), "reason"), &["say why command changes hands"]);
    invalid(act(&mut w, "tech", hand_over("lee", "a\u{202E}b")), "reason");
    forbidden(act(&mut w, VIEWER, hand_over("lee", "x")), "org_roles");
    assert_eq!(w.incident.seq, before, "nothing was written");
}

#[test]
fn whoever_staffs_roles_may_hand_over_an_absent_commander_s_command() {
    let policy =
        DEFAULT_POLICY.replace("assign_roles = [\"commander\"]", "assign_roles = [\"commander\", \"executive\"]");
    let mut w = world();
    w.org.act(ADMIN, sitrep_core::decide::OrgCommand::ReplacePolicy { source: policy }).expect("policy replaced");
    act(&mut w, "exec", hand_over("lee", "cmd is unreachable")).expect("the executive hands cmd's command over");
    let handover = &w.incident.handovers[0];
    assert_eq!((handover.from.as_str(), handover.to.as_str()), ("cmd", "lee"));
    assert_eq!(handover.by.to_string(), "exec");
    assert_eq!(w.incident.roles[&role("commander")], vec![user("lee")]);
}

#[test]
fn an_older_record_with_two_commanders_still_folds_and_the_last_assigned_commands() {
    let mut w = world();
    let legacy = IncidentEvent::RoleAssigned(RoleChange { role: role("commander"), user: user("tech"), unit: None });
    append(&mut w, &by("cmd"), &[legacy]).expect("a record written before the rule folds");
    assert_eq!(w.incident.roles[&role("commander")], vec![user("cmd"), user("tech")]);
    assert_eq!(w.incident.commander(), Some(&user("tech")), "the one assigned last commands");
    // Either may hand over their own command; the other keeps theirs until released.
    act(&mut w, "cmd", hand_over("lee", "leaving")).expect("cmd hands over");
    assert_eq!(w.incident.roles[&role("commander")], vec![user("tech"), user("lee")]);
    act(&mut w, "lee", release("commander", "tech")).expect("the extra commander is released");
    assert_eq!(w.incident.roles[&role("commander")], vec![user("lee")]);
}

#[test]
fn the_fold_refuses_a_hand_over_that_could_not_have_been_decided() {
    let mut w = world();
    let forged = |from: &str, to: &str| {
        IncidentEvent::CommanderHandedOver(CommanderHandedOver { from: user(from), to: user(to), reason: "x".into() })
    };
    append(&mut w, &by("cmd"), &[forged("tech", "lee")]).expect_err("tech does not command");
    append(&mut w, &by("cmd"), &[forged("cmd", "cmd")]).expect_err("cmd already commands");
    append(&mut w, &by("cmd"), &[forged("cmd", "lee")]).expect("a real hand-over folds");
}

#[test]
fn assigning_roles_is_refused_with_what_would_satisfy_it() {
    let mut w = world();
    let message = forbidden(act(&mut w, "tech", assign("scribe", "resp")), "actions.assign_roles");
    assert_eq!(message, "assigning roles needs the commander role; you hold tech_lead (commander: cmd)");
    says(
        &forbidden(act(&mut w, "lee", release("comms", "cora")), "actions.assign_roles"),
        &["releasing roles needs the commander role", "(commander: cmd)"],
    );
    says(
        &invalid(act(&mut w, "cmd", assign("janitor", "resp")), "role"),
        &[
            "unknown role 'janitor'; roles are commander, tech_lead, legal, comms, executive, scribe, responder, observer, liaison",
        ],
    );
    says(&invalid(act(&mut w, "cmd", assign("scribe", "ghost")), "user"), &["there is no active user 'ghost'"]);
    assert_eq!(conflict(act(&mut w, "cmd", assign("legal", "lee"))), "lee already holds legal on INC-1");
    assert_eq!(conflict(act(&mut w, "cmd", release("legal", "cora"))), "cora does not hold legal on INC-1");
    says(&conflict(act(&mut w, "cmd", release("commander", "cmd"))), &["INC-1 must always have a commander"]);
}

#[test]
fn only_the_commander_moves_the_phase_and_only_a_close_decision_closes() {
    let mut w = world();
    act(&mut w, "cmd", C::SetPhase { phase: Phase::Containment }).expect("the commander may skip ahead");
    assert_eq!(w.incident.phase, Phase::Containment);
    let message = forbidden(act(&mut w, "tech", C::SetPhase { phase: Phase::Eradication }), "actions.set_phase");
    assert_eq!(message, "setting the phase needs the commander role; you hold tech_lead (commander: cmd)");
    let message = forbidden(act(&mut w, "cmd", C::SetPhase { phase: Phase::Closed }), "classes.close");
    assert_eq!(
        message,
        "an incident is closed only by an approved close decision (approved by commander and executive); propose one"
    );
    assert_eq!(
        conflict(act(&mut w, "cmd", C::SetPhase { phase: Phase::Containment })),
        "INC-1 is already in containment"
    );
}

#[test]
fn only_the_commander_sets_the_severity() {
    let mut w = world();
    let entries =
        act(&mut w, "cmd", C::SetSeverity { severity: Severity::Sev1, reason: Some("payments affected".into()) })
            .expect("set");
    assert_eq!(entries[0].body, r#"{"from":"sev2","reason":"payments affected","to":"sev1"}"#);
    says(
        &forbidden(
            act(&mut w, "exec", C::SetSeverity { severity: Severity::Sev3, reason: None }),
            "actions.set_severity",
        ),
        &["setting the severity needs the commander role; you hold executive"],
    );
    assert_eq!(
        conflict(act(&mut w, "cmd", C::SetSeverity { severity: Severity::Sev1, reason: None })),
        "INC-1 is already sev1"
    );
    invalid(
        act(&mut w, "cmd", C::SetSeverity { severity: Severity::Sev3, reason: Some("\u{1b}[2J".into()) }),
        "reason",
    );
}

// ---------------------------------------------------------------------------------------------
// Facts.
// ---------------------------------------------------------------------------------------------

fn logged(text: &str, status: FactStatus, basis: Option<&str>) -> C {
    C::LogFact {
        text: text.into(),
        source: Some("SIEM".into()),
        status,
        basis: basis.map(str::to_owned),
        occurred: None,
    }
}

#[test]
fn participants_log_facts_and_the_tech_lead_or_commander_judges_them() {
    let mut w = world();
    act(&mut w, "exec", fact("Board asked for an update")).expect("any participant logs");
    act(&mut w, "tech", logged("Key used from 203.0.113.9", FactStatus::Verified, Some("access log")))
        .expect("a verifier logs a verified fact");
    let f2 = &w.incident.facts[1];
    assert_eq!(
        (f2.status, f2.source.as_deref(), f2.judged.as_ref().map(|j| j.basis.as_str())),
        (FactStatus::Verified, Some("SIEM"), Some("access log"))
    );
    act(&mut w, "cmd", logged("No data left the VPC", FactStatus::Disproved, Some("flow logs")))
        .expect("the commander too");

    says(
        &forbidden(act(&mut w, "obs", fact("I saw it")), "actions.log_facts"),
        &["logging facts needs a role on INC-1 other than a read-only one; you hold observer"],
    );
    says(
        &forbidden(act(&mut w, OUTSIDER, fact("I saw it")), "actions.log_facts"),
        &["you hold no role on this incident"],
    );
    let message = forbidden(
        act(&mut w, "resp", logged("It is fine", FactStatus::Verified, Some("I think so"))),
        "actions.verify_facts",
    );
    assert_eq!(
        message,
        "logging a fact as verified or disproved needs the commander or tech_lead role; you hold responder (commander: cmd; tech_lead: tech)"
    );
    says(
        &invalid(act(&mut w, "resp", logged("x", FactStatus::Unverified, Some("why"))), "basis"),
        &["only given for a fact logged as verified or disproved"],
    );
    says(&invalid(act(&mut w, "tech", logged("x", FactStatus::Verified, None)), "basis"), &["must not be empty"]);
    invalid(
        act(
            &mut w,
            "resp",
            C::LogFact {
                text: "x".into(),
                source: Some("\u{0}".into()),
                status: FactStatus::Unverified,
                basis: None,
                occurred: None,
            },
        ),
        "source",
    );

    act(&mut w, "tech", verify(1, "minutes of the call")).expect("verified");
    act(&mut w, "tech", disprove(1, "the board did not ask")).expect("a verified fact can be disproved");
    assert_eq!(w.incident.facts[0].status, FactStatus::Disproved);
    let message = forbidden(act(&mut w, "resp", verify(1, "x")), "actions.verify_facts");
    assert_eq!(
        message,
        "verifying facts needs the commander or tech_lead role; you hold responder (commander: cmd; tech_lead: tech)"
    );
    says(
        &forbidden(act(&mut w, "lee", disprove(1, "x")), "actions.verify_facts"),
        &["disproving facts needs the commander or tech_lead role"],
    );
    assert_eq!(not_found(act(&mut w, "tech", verify(9, "x"))), "INC-1 has no fact F-9");
    assert_eq!(conflict(act(&mut w, "tech", disprove(1, "again"))), "F-1 is already disproved");
    assert_eq!(conflict(act(&mut w, "tech", verify(2, "again"))), "F-2 is already verified");
    invalid(act(&mut w, "tech", verify(1, " ")), "basis");
}

// ---------------------------------------------------------------------------------------------
// Tasks.
// ---------------------------------------------------------------------------------------------

#[test]
fn participants_create_assign_block_and_close_tasks() {
    let mut w = world();
    act(&mut w, "resp", C::CreateTask { title: "Pull logs".into(), owner: Some(user("tech")), due: Some(at(60)) })
        .expect("created");
    act(&mut w, "lee", task("Check contracts")).expect("created without an owner");
    act(&mut w, "lee", assign_task(2, "lee")).expect("assigned");
    act(&mut w, "lee", block(2, "waiting for the vendor")).expect("blocked");
    act(&mut w, "lee", assign_task(2, "cora")).expect("a blocked task can be reassigned");
    act(&mut w, "cora", C::CancelTask { task: TaskId(2), note: Some("not needed".into()) })
        .expect("a blocked task can be cancelled");
    act(&mut w, "tech", complete(1)).expect("done");
    assert_eq!(w.incident.tasks.iter().map(|t| t.state).collect::<Vec<_>>(), [TaskState::Done, TaskState::Cancelled]);
}

#[test]
fn task_commands_are_refused_with_what_would_satisfy_them() {
    let mut w = world();
    act(&mut w, "resp", C::CreateTask { title: "Pull logs".into(), owner: Some(user("resp")), due: None })
        .expect("created");
    act(&mut w, "resp", task("Image the laptop")).expect("created");
    says(
        &forbidden(act(&mut w, "obs", task("watching")), "actions.tasks"),
        &["creating tasks needs a role on INC-1 other than a read-only one; you hold observer"],
    );
    says(&forbidden(act(&mut w, "obs", assign_task(1, "tech")), "actions.tasks"), &["assigning tasks"]);
    says(&forbidden(act(&mut w, "obs", complete(1)), "actions.tasks"), &["completing tasks"]);
    says(&forbidden(act(&mut w, "obs", cancel(1)), "actions.tasks"), &["cancelling tasks"]);
    says(
        &forbidden(act(&mut w, OUTSIDER, block(1, "x")), "actions.tasks"),
        &["blocking tasks", "you hold no role on this incident"],
    );
    invalid(act(&mut w, "resp", task("")), "title");
    assert_eq!(
        invalid(
            act(&mut w, "resp", C::CreateTask { title: "x".into(), owner: Some(user(OUTSIDER)), due: None }),
            "owner"
        ),
        "'out' holds no role on INC-1; assign them a role first"
    );
    invalid(act(&mut w, "resp", assign_task(1, OUTSIDER)), "owner");
    assert_eq!(conflict(act(&mut w, "resp", assign_task(1, "resp"))), "T-1 is already assigned to resp");
    for command in [assign_task(9, "tech"), complete(9), cancel(9), block(9, "x")] {
        assert_eq!(not_found(act(&mut w, "resp", command)), "INC-1 has no task T-9");
    }
    invalid(act(&mut w, "resp", block(1, "")), "reason");
    invalid(act(&mut w, "resp", C::CompleteTask { task: TaskId(1), note: Some("\u{7}".into()) }), "note");
    act(&mut w, "resp", block(1, "no access")).expect("blocked");
    assert_eq!(conflict(act(&mut w, "resp", block(1, "still"))), "T-1 is blocked; only an open task can be blocked");
    act(&mut w, "resp", complete(1)).expect("done");
    assert_eq!(conflict(act(&mut w, "resp", complete(1))), "T-1 is already done");
    assert_eq!(conflict(act(&mut w, "resp", cancel(1))), "T-1 is already done");
    assert_eq!(conflict(act(&mut w, "resp", assign_task(1, "tech"))), "T-1 is done; it can no longer be assigned");
    assert_eq!(conflict(act(&mut w, "resp", block(1, "x"))), "T-1 is done; only an open task can be blocked");
    act(&mut w, "resp", cancel(2)).expect("cancelled");
    assert_eq!(conflict(act(&mut w, "resp", complete(2))), "T-2 is already cancelled");
}

// ---------------------------------------------------------------------------------------------
// Decisions.
// ---------------------------------------------------------------------------------------------

#[test]
fn proposing_is_refused_unless_the_policy_allows_the_proposer() {
    let mut w = world();
    let message = forbidden(act(&mut w, "lee", propose("containment", "Pull the plug")), "classes.containment.propose");
    assert_eq!(message, "containment may be proposed by commander or tech_lead; you hold legal");
    let message =
        forbidden(act(&mut w, "obs", propose("evidence_sharing", "Share logs")), "classes.evidence_sharing.propose");
    assert_eq!(message, "evidence_sharing may be proposed by any participant other than observer; you hold observer");
    says(
        &forbidden(
            act(&mut w, OUTSIDER, propose("evidence_sharing", "Share logs")),
            "classes.evidence_sharing.propose",
        ),
        &["you hold no role on this incident"],
    );
    let message = invalid(act(&mut w, "cmd", propose("ransom_payment", "Pay")), "class");
    assert_eq!(
        message,
        "unknown decision class 'ransom_payment'; classes are containment, credential_revocation, eradication, recovery, evidence_sharing, external_statement, customer_notification, regulatory_notification, law_enforcement, close"
    );
    act(&mut w, "resp", propose("evidence_sharing", "Share logs with the MSP"))
        .expect("any participant may propose evidence sharing");
    let entries = act(
        &mut w,
        "tech",
        C::Propose {
            class: class("containment"),
            title: "Isolate host".into(),
            rationale: Some("beaconing".into()),
            actions: vec![],
            statement: None,
            clocks: Vec::new(),
        },
    )
    .expect("proposed");
    assert_eq!(entries[0].kind, "decision.proposed");
    assert_eq!((w.decision(2).rationale.as_deref(), w.decision(2).proposer.as_str()), (Some("beaconing"), "tech"));
}

#[test]
fn a_proposal_refuses_bad_actions_naming_the_action() {
    let mut w = world();
    let tech = |actions: Vec<ActionSpec>| with_actions("containment", "Isolate host", actions);
    let task_action = |title: &str, owner_role: Option<&str>| ActionSpec::Task {
        title: title.into(),
        owner_role: owner_role.map(role),
        due_in_minutes: Some(30),
    };
    says(&invalid(act(&mut w, "tech", tech(vec![notify(); MAX_ACTIONS + 1])), "actions"), &["at most 20 actions"]);
    invalid(act(&mut w, "tech", tech(vec![task_action("", None)])), "actions[0].title");
    assert_eq!(
        invalid(
            act(&mut w, "tech", tech(vec![notify(), task_action("Image it", Some("janitor"))])),
            "actions[1].owner_role"
        ),
        "unknown role 'janitor'"
    );
    let message =
        invalid(act(&mut w, "tech", tech(vec![notify(), webhook("https://attacker.example/hook")])), "actions[1]");
    assert_eq!(message, "'https://attacker.example/hook' is not the name of a configured webhook (a-z, 0-9, '-', '_')");
    says(
        &invalid(
            act(&mut w, "tech", tech(vec![ActionSpec::Command { command: "rm -rf /".into(), input: json!(null) }])),
            "actions[0]",
        ),
        &["configured command"],
    );
    invalid(
        act(&mut w, "tech", tech(vec![ActionSpec::Notify { message: Some("\u{7}".into()) }])),
        "actions[0].message",
    );
    act(&mut w, "tech", tech(vec![notify(); MAX_ACTIONS])).expect("twenty actions are fine");
    act(
        &mut w,
        "tech",
        tech(vec![
            task_action("Image it", Some("responder")),
            ActionSpec::Command { command: "isolate-host".into(), input: json!({"host": "web-1"}) },
        ]),
    )
    .expect("well-formed actions");
    assert_eq!(w.decision(2).actions.len(), 2);
}

/// `{"a": {"a": … {} …}}`, `levels` objects deep.
fn nested(levels: usize) -> serde_json::Value {
    (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
}

/// Issue 11 point 8: free-form JSON nested deeper than any answer holding it can be read (124
/// levels, where serde_json stops at 128) was accepted. The domain bounds it, whatever the
/// path it came in by.
#[test]
fn an_action_s_free_form_json_nests_at_most_32_levels() {
    let mut w = world();
    let tech = |actions: Vec<ActionSpec>| with_actions("containment", "Isolate host", actions);
    let hook = |payload: serde_json::Value| ActionSpec::Webhook { destination: "siem".into(), payload };
    let command = |input: serde_json::Value| ActionSpec::Command { command: "isolate-host".into(), input };
    assert_eq!(decide::JSON_DEPTH_MAX, 32);
    assert_eq!(
        invalid(act(&mut w, "tech", tech(vec![hook(nested(33))])), "actions[0].payload"),
        "nests 33 levels of arrays and objects; the limit is 32"
    );
    says(
        &invalid(act(&mut w, "tech", tech(vec![notify(), command(nested(124))])), "actions[1].input"),
        &["nests 124 levels"],
    );
    let arrays = (1..40).fold(json!([]), |inner, _| json!([1, inner]));
    says(&invalid(act(&mut w, "tech", tech(vec![hook(arrays)])), "actions[0].payload"), &["nests 40 levels"]);
    act(&mut w, "tech", tech(vec![hook(nested(32)), command(json!({"list": [nested(30)]}))]))
        .expect("32 levels are fine");
}

#[test]
fn an_action_s_free_form_json_holds_only_numbers_a_double_keeps_exactly() {
    let mut w = world();
    let tech = |actions: Vec<ActionSpec>| with_actions("containment", "Isolate host", actions);
    let hook = |payload: serde_json::Value| ActionSpec::Webhook { destination: "siem".into(), payload };
    says(
        &invalid(act(&mut w, "tech", tech(vec![hook(json!({"n": 9_007_199_254_740_993u64}))])), "actions[0].payload"),
        &["holds 9007199254740993", "RFC 7493"],
    );
    invalid(act(&mut w, "tech", tech(vec![hook(json!([{"n": -9_007_199_254_740_992i64}]))])), "actions[0].payload");
    invalid(act(&mut w, "tech", tech(vec![hook(json!({"f": 1e300}))])), "actions[0].payload");
    act(&mut w, "tech", tech(vec![hook(json!({"n": 9_007_199_254_740_991u64, "f": 0.5}))])).expect("within range");
}

#[test]
fn approving_is_refused_with_the_role_still_missing_and_its_holder() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, "We are investigating.")).expect("drafted");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("comms proposes");
    let message = forbidden(act(&mut w, "cora", approve(1)), "people");
    assert_eq!(
        message,
        "you already stand behind D-1 (you proposed it) and a person counts once; legal has not approved yet (legal: lee)"
    );
    let message = forbidden(act(&mut w, "exec", approve(1)), "classes.external_statement.approve");
    assert_eq!(
        message,
        "external_statement needs approval by legal and comms; legal has not approved yet; you hold executive (legal: lee)"
    );
    says(
        &forbidden(act(&mut w, OUTSIDER, approve(1)), "classes.external_statement.approve"),
        &["you hold no role on this incident", "(legal: lee)"],
    );
    act(&mut w, "cmd", assign("comms", "resp")).expect("a second comms");
    let message = forbidden(act(&mut w, "resp", approve(1)), "classes.external_statement.approve");
    says(&message, &["D-1 already has comms", "legal has not approved yet (legal: lee)"]);
    assert_eq!(not_found(act(&mut w, "lee", approve(9))), "INC-1 has no decision D-9");
    invalid(act(&mut w, "lee", C::Approve { decision: DecisionId(1), note: Some("\u{0}".into()) }), "note");
    act(&mut w, "lee", C::Approve { decision: DecisionId(1), note: Some("wording checked".into()) })
        .expect("legal approves");
    assert_eq!(
        (w.decision(1).state, w.decision(1).approvals[1].note.as_deref()),
        (DecisionState::Approved, Some("wording checked"))
    );
    assert_eq!(conflict(act(&mut w, "cora", approve(1))), "D-1 is approved; it can no longer be approved");
    assert_eq!(conflict(act(&mut w, "lee", reject(1, "too late"))), "D-1 is approved; it can no longer be rejected");
    assert_eq!(conflict(act(&mut w, "cora", withdraw(1))), "D-1 is approved; it can no longer be withdrawn");
}

#[test]
fn an_approver_may_not_approve_twice_and_is_told_who_is_still_missing() {
    let mut w = world();
    act(&mut w, "resp", propose("evidence_sharing", "Share logs with the MSP")).expect("proposed");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    assert_eq!(w.decision(1).state, DecisionState::Proposed);
    let message = forbidden(act(&mut w, "lee", approve(1)), "people");
    assert_eq!(
        message,
        "you already stand behind D-1 (you have approved it) and a person counts once; commander has not approved yet (commander: cmd)"
    );
    assert_eq!(
        conflict(act(&mut w, "lee", reject(1, "changed my mind"))),
        "you have approved D-1; an approval cannot be turned into a rejection"
    );
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
}

#[test]
fn an_unfilled_role_is_named_as_unfilled() {
    let mut w = declare(org(), "cmd", &declaration("No lawyer yet", &[("cora", "comms")])).expect("declared");
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    says(
        &forbidden(act(&mut w, "cmd", approve(1)), "classes.external_statement.approve"),
        &["legal has not approved yet", "(legal: unfilled)"],
    );
}

#[test]
fn rejecting_needs_a_reason_and_a_required_role_and_is_not_for_the_proposer() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    assert_eq!(invalid(act(&mut w, "lee", reject(1, " ")), "note"), "a rejection needs a reason a person can act on");
    assert_eq!(
        forbidden(act(&mut w, "cora", reject(1, "oops")), "withdraw"),
        "you proposed D-1; withdraw it instead of rejecting it"
    );
    let message = forbidden(act(&mut w, "exec", reject(1, "no")), "classes.external_statement.approve");
    assert_eq!(message, "only a holder of legal or comms may reject external_statement; you hold executive");
    assert_eq!(not_found(act(&mut w, "lee", reject(9, "no"))), "INC-1 has no decision D-9");
    act(&mut w, "lee", reject(1, "names the vendor")).expect("legal rejects");
    let d1 = w.decision(1);
    assert_eq!(
        (d1.state, d1.rejections[0].role.as_ref().map(|r| r.as_str())),
        (DecisionState::Rejected, Some("legal"))
    );
    assert_eq!(conflict(act(&mut w, "cmd", reject(1, "also no"))), "D-1 is rejected; it can no longer be rejected");
    assert_eq!(conflict(act(&mut w, "lee", approve(1))), "D-1 is rejected; it can no longer be approved");
}

#[test]
fn the_proposer_or_the_commander_withdraws_a_decision() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Draft one")).expect("proposed");
    act(&mut w, "cora", propose("external_statement", "Draft two")).expect("proposed");
    assert_eq!(
        forbidden(act(&mut w, "lee", withdraw(1)), "withdraw"),
        "only the proposer (cora) or the commander may withdraw D-1"
    );
    invalid(act(&mut w, "cora", C::Withdraw { decision: DecisionId(1), note: Some(String::new()) }), "note");
    act(&mut w, "cora", C::Withdraw { decision: DecisionId(1), note: Some("superseded".into()) })
        .expect("the proposer withdraws");
    act(&mut w, "cmd", withdraw(2)).expect("the commander withdraws");
    assert_eq!(w.decision(2).withdrawn.as_ref().map(|a| a.user.as_str()), Some("cmd"));
    assert_eq!(conflict(act(&mut w, "cora", withdraw(1))), "D-1 is withdrawn; it can no longer be withdrawn");
    assert_eq!(not_found(act(&mut w, "cmd", withdraw(9))), "INC-1 has no decision D-9");
}

#[test]
fn replacing_the_policy_never_changes_a_decision_already_under_way() {
    let mut w = world();
    act(&mut w, "tech", propose("containment", "Isolate host")).expect("proposed under the default policy");
    let stricter = DEFAULT_POLICY.replacen(
        "approve = { any_of = [\"commander\"] }\npeople = 1",
        "approve = { all_of = [\"commander\", \"executive\"] }\npeople = 2",
        1,
    );
    assert_ne!(stricter, DEFAULT_POLICY);
    w.org.act(ADMIN, O::ReplacePolicy { source: stricter }).expect("replaced");
    act(&mut w, "tech", propose("containment", "Isolate another host")).expect("proposed under the new policy");
    act(&mut w, "cmd", approve(1)).expect("approved");
    act(&mut w, "cmd", approve(2)).expect("approved");
    assert_eq!((w.decision(1).state, w.decision(2).state), (DecisionState::Approved, DecisionState::Proposed));
}

#[test]
fn a_quorum_class_added_by_the_policy_needs_that_many_roles_held_by_different_people() {
    let mut w = world();
    let extended = format!(
        "{DEFAULT_POLICY}\n[classes.ai_model_rollback]\ntitle = \"Roll back a model\"\npropose = \"participants\"\napprove = {{ quorum = 2, of = [\"commander\", \"tech_lead\", \"legal\"] }}\npeople = 2\nscope = \"central\"\n"
    );
    w.org.act(ADMIN, O::ReplacePolicy { source: extended }).expect("an admin adds a class");
    act(&mut w, "cmd", assign("legal", "tech")).expect("tech holds tech_lead and legal");
    act(&mut w, "tech", propose("ai_model_rollback", "Roll back the triage model")).expect("proposed");
    let message = forbidden(act(&mut w, "exec", approve(1)), "classes.ai_model_rollback.approve");
    assert_eq!(
        message,
        "ai_model_rollback needs approval by 2 of commander, tech_lead, legal; 1 more of commander, tech_lead, legal must approve; you hold executive (commander: cmd; tech_lead: tech; legal: lee, tech)"
    );
    act(&mut w, "lee", approve(1)).expect("legal approves while tech stands for tech_lead");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
}

#[test]
fn the_people_a_decision_awaits_see_it_as_needing_their_decision() {
    let mut w = world();
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("proposed");
    let awaiting = |w: &World, name: &str| w.incident.awaiting(&user(name)).iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(awaiting(&w, "lee"), [DecisionId(1)]);
    assert!(awaiting(&w, "cora").is_empty() && awaiting(&w, "exec").is_empty());
}

// ---------------------------------------------------------------------------------------------
// User text.
// ---------------------------------------------------------------------------------------------

type TextCase = (&'static str, &'static str, usize, fn(String) -> C);

#[test]
fn user_text_refuses_empty_over_limit_and_control_characters_but_keeps_html_verbatim() {
    let mut base = world();
    act(&mut base, "resp", fact("seed")).expect("F-1");
    act(&mut base, "cora", draft(Audience::Press, "seed")).expect("ST-1");
    act(&mut base, "cora", propose_statement("external_statement", 1)).expect("D-1");
    let cases: [TextCase; 11] = [
        ("resp", "text", TEXT_MAX, |t| C::AddNote { text: t, occurred: None }),
        ("resp", "text", TEXT_MAX, |t| C::LogFact {
            text: t,
            source: None,
            status: FactStatus::Unverified,
            basis: None,
            occurred: None,
        }),
        ("resp", "source", TITLE_MAX, |t| C::LogFact {
            text: "x".into(),
            source: Some(t),
            status: FactStatus::Unverified,
            basis: None,
            occurred: None,
        }),
        ("tech", "basis", SHORT_MAX, |t| C::VerifyFact { fact: FactId(1), basis: t }),
        ("resp", "title", TITLE_MAX, |t| C::CreateTask { title: t, owner: None, due: None }),
        ("cmd", "title", TITLE_MAX, |t| C::Propose {
            class: class("containment"),
            title: t,
            rationale: None,
            actions: vec![],
            statement: None,
            clocks: Vec::new(),
        }),
        ("cmd", "rationale", TEXT_MAX, |t| C::Propose {
            class: class("containment"),
            title: "x".into(),
            rationale: Some(t),
            actions: vec![],
            statement: None,
            clocks: Vec::new(),
        }),
        ("cmd", "reason", SHORT_MAX, |t| C::SetSeverity { severity: Severity::Sev1, reason: Some(t) }),
        ("lee", "note", SHORT_MAX, |t| C::Approve { decision: DecisionId(1), note: Some(t) }),
        ("lee", "note", SHORT_MAX, |t| C::Reject { decision: DecisionId(1), note: t }),
        ("cora", "note", SHORT_MAX, |t| C::Withdraw { decision: DecisionId(1), note: Some(t) }),
    ];
    let html = "<img src=x onerror=alert(1)> & \"quotes\" </textarea>";
    for (name, field, max, command) in cases {
        let refused = |text: String| {
            let mut w = base.clone();
            invalid(act(&mut w, name, command(text)), field)
        };
        let empty = if matches!(command(String::new()), C::Reject { .. }) {
            "a rejection needs a reason a person can act on"
        } else {
            "must not be empty"
        };
        assert_eq!(refused(String::new()), empty, "{field}");
        assert_eq!(refused(" \n\t ".into()), empty, "{field}");
        assert_eq!(refused("é".repeat(max + 1)), format!("is {} characters; the limit is {max}", max + 1), "{field}");
        for control in ["nul\u{0}", "\u{1b}[2Jcleared", "del\u{7f}", "next\u{85}line", "bell\u{7}"] {
            says(&refused(control.into()), &["a control character"]);
        }
        for disguised in ["invoice\u{202E}fdp.exe", "admin\u{2066}ok\u{2069}"] {
            says(&refused(disguised.into()), &["a bidirectional formatting character"]);
        }
        for kept in [html.to_owned(), "line one\r\nline two\ttabbed".to_owned(), "é".repeat(max)] {
            let mut w = base.clone();
            let entries =
                act(&mut w, name, command(kept.clone())).unwrap_or_else(|r| panic!("{field} refused {kept:?}: {r}"));
            let body: serde_json::Value = serde_json::from_str(&entries[0].body).expect("json");
            assert!(
                body.as_object().expect("object").values().any(|v| v.as_str() == Some(kept.as_str())),
                "{field} was not kept verbatim in {}",
                entries[0].body
            );
        }
    }
    let mut w = base.clone();
    act(&mut w, "resp", note(html)).expect("html is text");
    assert_eq!(w.incident.notes[0].text, html);
    assert!(
        w.record.last().expect("entry").body.contains("<img src=x onerror=alert(1)>"),
        "stored verbatim, escaped only where rendered"
    );
}

// ---------------------------------------------------------------------------------------------
// Declaring.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_declarer_becomes_commander_unless_the_roles_name_one() {
    let w = declare(org(), "tech", &declaration("Phishing wave", &[("lee", "legal")])).expect("declared");
    assert_eq!(w.incident.roles_of(&user("tech")), vec![role("commander")]);
    assert_eq!(w.kinds(), ["incident.declared", "role.assigned", "role.assigned"]);
    assert_eq!(w.record[1].body, r#"{"role":"commander","user":"tech"}"#, "the commander is staffed first");

    let w = declare(org(), "tech", &declaration("Phishing wave", &[("lee", "legal"), ("cmd", "commander")]))
        .expect("declared");
    assert_eq!(w.incident.roles[&role("commander")], vec![user("cmd")]);
    assert!(!w.incident.is_participant(&user("tech")), "naming a commander leaves the declarer out");
    assert_eq!(w.record[1].body, r#"{"role":"commander","user":"cmd"}"#);

    let command =
        Declare { restricted: true, exercise: true, scope: vec!["emea".into()], ..declaration("Tabletop", &[]) };
    let w = declare(org(), "cmd", &command).expect("declared");
    assert_eq!(
        (w.incident.restricted, w.incident.exercise, w.incident.scope.clone()),
        (true, true, vec!["emea".to_owned()])
    );
}

#[test]
fn declaring_is_refused_with_what_would_satisfy_it() {
    let says_role = invalid(declare(org(), "cmd", &declaration("x", &[("lee", "janitor")])), "role");
    says(&says_role, &["unknown role 'janitor'; roles are commander"]);
    says(
        &invalid(declare(org(), "cmd", &declaration("x", &[(VIEWER, "tech_lead")])), "user"),
        &["may hold only read-only roles (observer)"],
    );
    let w = declare(org(), "cmd", &declaration("x", &[(VIEWER, "observer")])).expect("a viewer may observe");
    assert!(w.incident.holds(&user(VIEWER), "observer"));
    says(
        &invalid(declare(org(), "cmd", &declaration("x", &[("ghost", "legal")])), "user"),
        &["there is no active user 'ghost'"],
    );
    assert_eq!(
        invalid(declare(org(), "cmd", &Declare { severity: None, ..declaration("x", &[]) }), "severity"),
        "is required: one of sev1, sev2, sev3, sev4"
    );
    invalid(declare(org(), "cmd", &declaration("", &[])), "title");
    invalid(declare(org(), "cmd", &declaration(&"x".repeat(TITLE_MAX + 1), &[])), "title");
    invalid(declare(org(), "cmd", &declaration("a\u{0}b", &[])), "title");
    let too_wide = Declare { scope: (0..21).map(|i| format!("unit-{i}")).collect(), ..declaration("x", &[]) };
    assert_eq!(invalid(declare(org(), "cmd", &too_wide), "scope"), "names more than 20 org units");
    invalid(declare(org(), "cmd", &Declare { scope: vec![String::new()], ..declaration("x", &[]) }), "scope");
    forbidden(declare(org(), VIEWER, &declaration("x", &[])), "org_roles");
}

#[test]
fn a_scope_names_only_units_the_policy_defines() {
    let scoped = |units: &[&str]| Declare {
        scope: units.iter().map(|u| (*u).to_owned()).collect(),
        ..declaration("Branch office malware", &[])
    };
    // A typo used to pass silently, leaving the incident outside every unit's local roles.
    assert_eq!(
        invalid(declare(org(), "cmd", &scoped(&["emae"])), "scope"),
        "unknown org unit 'emae'; units are emea, amer, apac"
    );
    assert_eq!(invalid(declare(org(), "cmd", &scoped(&["emea", "emea"])), "scope"), "names emea twice");
    let w = declare(org(), "cmd", &scoped(&["emea", "apac"])).expect("defined units are taken");
    assert_eq!(w.incident.scope, ["emea", "apac"]);
}

// ---------------------------------------------------------------------------------------------
// The organisation.
// ---------------------------------------------------------------------------------------------

#[test]
fn only_admins_change_the_organisation() {
    let mut org = org();
    let cases = [
        (
            O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Admin },
            "adding users needs the admin organisation role",
        ),
        (O::DisableUser { user: user("tech"), reason: None }, "disabling users needs the admin organisation role"),
        (
            O::GrantOrgRole { user: user("cmd"), role: OrgRole::Admin },
            "granting organisation roles needs the admin organisation role",
        ),
        (
            O::RevokeOrgRole { user: user(ADMIN), role: OrgRole::Admin },
            "revoking organisation roles needs the admin organisation role",
        ),
        (
            O::IssueToken { minted_by: None, user: user("tech"), sha256: token(9), expires_at: None, label: None },
            "issuing tokens for someone else needs the admin organisation role",
        ),
        (
            O::RevokeToken { user: user(ADMIN), token: token(0)[..12].to_owned() },
            "revoking someone else's tokens needs the admin organisation role",
        ),
        (
            O::ReplacePolicy { source: DEFAULT_POLICY.replace("default", "mine") },
            "replacing the policy needs the admin organisation role",
        ),
        (
            O::AddPlaybook { source: sitrep_core::playbook::BUILT_IN_PLAYBOOKS[3].to_owned() },
            "adding playbooks needs the admin organisation role",
        ),
    ];
    for (command, message) in cases {
        assert_eq!(forbidden(org.act("cmd", command.clone()), "org_roles"), message);
        forbidden(org.act(VIEWER, command), "org_roles");
    }
}

#[test]
fn identity_connectors_provision_and_manage_users_and_nothing_else() {
    use sitrep_core::authn::ExternalIdentity;
    let mut org = org();
    let identity = ExternalIdentity { issuer: "https://idp.example".into(), subject: "00u1".into() };
    let provision =
        O::ProvisionUser { user: user("ivy"), display_name: Some("Ivy".into()), org_role: OrgRole::Member, identity };
    assert_eq!(
        forbidden(org.act(ADMIN, provision.clone()), "users"),
        "only an identity provider's connector provisions users"
    );
    let entries = org.act_system("oidc", provision.clone()).expect("provisioned");
    assert_eq!(entries[0].actor.to_string(), "system:oidc");
    assert_eq!(
        entries[0].body,
        r#"{"display_name":"Ivy","identity":{"issuer":"https://idp.example","subject":"00u1"},"org_role":"member","user":"ivy"}"#
    );
    assert_eq!(org.state.users[&user("ivy")].identity.as_ref().map(|i| i.subject.as_str()), Some("00u1"));
    assert_eq!(conflict(org.act_system("oidc", provision)), "the user 'ivy' already exists");
    org.act_system("scim", O::DisableUser { user: user("ivy"), reason: Some("SCIM: active=false".into()) })
        .expect("disabled");
    assert!(!org.state.users[&user("ivy")].active);
    // A person may not disable a disabled user again; the identity provider may restate it
    // with its own reason (deleting an account it had deactivated).
    assert_eq!(
        conflict(org.act(ADMIN, O::DisableUser { user: user("ivy"), reason: None })),
        "the user 'ivy' is already disabled"
    );
    let deleted = Some("deleted over SCIM".to_owned());
    let entries = org.act_system("scim", O::DisableUser { user: user("ivy"), reason: deleted }).expect("restated");
    assert_eq!(entries[0].kind, "user.disabled");
    assert!(!org.state.users[&user("ivy")].active);
    org.act_system("scim", O::EnableUser { user: user("ivy"), reason: None }).expect("enabled");
    assert!(org.state.users[&user("ivy")].active);
    org.act_system("scim", O::UpdateUser { user: user("ivy"), display_name: Some("Ivy Q".into()) }).expect("renamed");
    assert_eq!(org.state.users[&user("ivy")].display_name.as_deref(), Some("Ivy Q"));
    // The last admin stays, whoever asks.
    assert_eq!(
        conflict(org.act_system("scim", O::DisableUser { user: user(ADMIN), reason: None })),
        "the last active admin cannot be disabled; make someone else admin first"
    );
    // A connector does not touch policy, tokens or sessions.
    forbidden(org.act_system("scim", O::ReplacePolicy { source: DEFAULT_POLICY.replace("default", "x") }), "users");
    forbidden(org.act_system("oidc", O::RevokeToken { user: user(ADMIN), token: token(0)[..12].to_owned() }), "users");
}

#[test]
fn sign_ins_and_sign_outs_are_recorded_by_their_owner_or_an_admin() {
    use sitrep_core::authn::{AuthMethod, Authentication};
    let mut org = org();
    let mut authentication = Authentication::password(at(1));
    authentication.acr = Some("urn:example:mfa".into());
    let entries = org
        .act("tech", O::RecordSignIn { session: "0123456789ab".into(), authentication: authentication.clone() })
        .expect("recorded");
    assert_eq!(entries[0].kind, "session.started");
    assert!(entries[0].body.contains(r#""method":"password""#), "{}", entries[0].body);
    assert_eq!(org.state.users[&user("tech")].signed_in_at, Some(entries[0].at));
    invalid(
        org.act("tech", O::RecordSignIn { session: "not-an-id".into(), authentication: authentication.clone() }),
        "session",
    );
    let oversized = Authentication { method: AuthMethod::Oidc, acr: Some("x".repeat(3000)), ..authentication };
    invalid(org.act("tech", O::RecordSignIn { session: "0123456789ab".into(), authentication: oversized }), "acr");
    let sign_out = |who: &str| O::RecordSignOut { user: user(who), session: "0123456789ab".into(), reason: None };
    org.act("tech", sign_out("tech")).expect("their own");
    assert_eq!(
        forbidden(org.act("cmd", sign_out("tech")), "org_roles"),
        "ending someone else's session needs the admin organisation role"
    );
    org.act(ADMIN, sign_out("tech")).expect("an admin ends anyone's");
}

#[test]
fn users_are_added_disabled_and_given_org_roles_by_admins() {
    let mut org = org();
    org.act(
        ADMIN,
        O::AddUser { user: user("eve"), display_name: Some("Eve <Ops>".into()), org_role: OrgRole::Auditor },
    )
    .expect("added");
    assert_eq!(org.state.users[&user("eve")].display_name.as_deref(), Some("Eve <Ops>"));
    assert_eq!(
        conflict(org.act(ADMIN, O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Member })),
        "the user 'eve' already exists"
    );
    invalid(
        org.act(ADMIN, O::AddUser { user: user("fay"), display_name: Some("\u{0}".into()), org_role: OrgRole::Member }),
        "display_name",
    );

    assert_eq!(
        not_found(org.act(ADMIN, O::DisableUser { user: user("ghost"), reason: None })),
        "there is no user 'ghost'"
    );
    invalid(org.act(ADMIN, O::DisableUser { user: user("eve"), reason: Some(String::new()) }), "reason");
    org.act(ADMIN, O::DisableUser { user: user("eve"), reason: None }).expect("disabled");
    assert_eq!(
        conflict(org.act(ADMIN, O::DisableUser { user: user("eve"), reason: None })),
        "the user 'eve' is already disabled"
    );

    not_found(org.act(ADMIN, O::GrantOrgRole { user: user("ghost"), role: OrgRole::Member }));
    assert_eq!(
        conflict(org.act(ADMIN, O::GrantOrgRole { user: user("cmd"), role: OrgRole::Member })),
        "'cmd' already has the member organisation role"
    );
    not_found(org.act(ADMIN, O::RevokeOrgRole { user: user("ghost"), role: OrgRole::Member }));
    assert_eq!(
        conflict(org.act(ADMIN, O::RevokeOrgRole { user: user("cmd"), role: OrgRole::Admin })),
        "'cmd' does not have the admin organisation role"
    );
    org.act(ADMIN, O::RevokeOrgRole { user: user("cmd"), role: OrgRole::Member }).expect("revoked");
    let mut w = declare(org.clone(), "tech", &declaration("x", &[])).expect("declared");
    forbidden(act(&mut w, "cmd", note("x")), "org_roles");
}

#[test]
fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
    let mut org = org();
    assert_eq!(
        conflict(org.act(ADMIN, O::DisableUser { user: user(ADMIN), reason: None })),
        "the last active admin cannot be disabled; make someone else admin first"
    );
    assert_eq!(
        conflict(org.act(ADMIN, O::RevokeOrgRole { user: user(ADMIN), role: OrgRole::Admin })),
        "the last active admin keeps the admin role; make someone else admin first"
    );
    org.act(ADMIN, O::GrantOrgRole { user: user("cmd"), role: OrgRole::Admin }).expect("a second admin");
    org.act("cmd", O::RevokeOrgRole { user: user(ADMIN), role: OrgRole::Admin }).expect("now the first may be demoted");
    assert_eq!(
        forbidden(
            org.act(ADMIN, O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Member }),
            "org_roles"
        ),
        "adding users needs the admin organisation role"
    );
    conflict(org.act("cmd", O::DisableUser { user: user("cmd"), reason: None }));
    org.act("cmd", O::GrantOrgRole { user: user("lee"), role: OrgRole::Admin }).expect("a third admin");
    org.act("lee", O::DisableUser { user: user("cmd"), reason: None })
        .expect("an admin who is not the last may be disabled");
    assert_eq!(
        forbidden(
            org.act("cmd", O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Member }),
            "users"
        ),
        "the account 'cmd' is disabled"
    );
}

#[test]
fn a_token_made_with_a_token_expires_with_it_and_is_revoked_with_it() {
    let mut org = org();
    let mint = |sha256: String, expires_at, minted_by: Option<String>| O::IssueToken {
        user: user("tech"),
        sha256,
        expires_at,
        label: None,
        minted_by,
    };
    let (day, week) = (org.now().plus_seconds(86_400), org.now().plus_seconds(7 * 86_400));
    org.act("tech", mint(token(1), Some(day), None)).expect("a day-long token");
    let refused = invalid(org.act("tech", mint(token(2), Some(week), Some(token(1)))), "expires_at");
    assert!(refused.starts_with("a token created with another token cannot outlive it"), "{refused}");
    forbidden(org.act("tech", mint(token(2), None, Some(token(1)))), "org_roles");
    org.act("tech", mint(token(2), Some(day), Some(token(1)))).expect("as long as its parent");
    org.act("tech", mint(token(3), Some(day), Some(token(2)))).expect("and a grandchild");
    org.act(
        ADMIN,
        O::IssueToken { user: user("lee"), sha256: token(4), expires_at: None, label: None, minted_by: None },
    )
    .expect("lee's token");
    forbidden(org.act("tech", mint(token(5), Some(day), Some(token(4)))), "tokens");

    org.act("tech", O::RevokeToken { user: user("tech"), token: token(1)[..12].to_owned() }).expect("revoked");
    let now = org.now();
    for n in 1..=3 {
        assert!(org.state.authenticate(&token(n), now).is_none(), "token {n} is revoked with the first");
    }
    assert!(org.state.authenticate(&token(4), now).is_some(), "another user's token is untouched");
    forbidden(org.act("tech", mint(token(6), Some(day), Some(token(1)))), "tokens");
}

#[test]
fn tokens_follow_their_rules() {
    let mut org = org();
    let issue = |name: &str, sha256: String, expires_at| O::IssueToken {
        minted_by: None,
        user: user(name),
        sha256,
        expires_at,
        label: None,
    };
    let later = Some(org.now().plus_seconds(86_400));
    org.act("tech", issue("tech", token(1), later)).expect("a user issues their own");
    assert_eq!(
        forbidden(org.act("tech", issue("tech", token(6), None)), "org_roles"),
        "a token that never expires needs the admin organisation role"
    );
    org.act(ADMIN, issue("lee", token(2), Some(org.now().plus_seconds(60)))).expect("an admin issues anyone's");
    assert_eq!(not_found(org.act(ADMIN, issue("ghost", token(3), None))), "there is no user 'ghost'");
    assert_eq!(
        invalid(org.act("tech", issue("tech", token(3).to_uppercase().replace('0', "A"), later)), "sha256"),
        "must be 64 lower-case hex digits"
    );
    invalid(org.act("tech", issue("tech", "abc".into(), later)), "sha256");
    assert_eq!(conflict(org.act("tech", issue("tech", token(1), later))), "that token is already issued");
    let now = org.now();
    assert_eq!(invalid(org.act("tech", issue("tech", token(4), Some(now))), "expires_at"), "must be in the future");
    let far =
        invalid(org.act("tech", issue("tech", token(4), Some(now.plus_seconds(11 * 366 * 86_400)))), "expires_at");
    assert!(far.contains("more than ten years ahead"), "{far}");
    invalid(
        org.act(
            "tech",
            O::IssueToken {
                minted_by: None,
                user: user("tech"),
                sha256: token(4),
                expires_at: later,
                label: Some("\u{7}".into()),
            },
        ),
        "label",
    );
    org.act(ADMIN, O::AddUser { user: user("eve"), display_name: None, org_role: OrgRole::Member }).expect("added");
    org.act(ADMIN, O::DisableUser { user: user("eve"), reason: None }).expect("disabled");
    assert_eq!(conflict(org.act(ADMIN, issue("eve", token(5), None))), "the user 'eve' is disabled");

    let id = |n: u64| token(n)[..12].to_owned();
    assert_eq!(
        forbidden(org.act("tech", O::RevokeToken { user: user("lee"), token: id(2) }), "org_roles"),
        "revoking someone else's tokens needs the admin organisation role"
    );
    assert_eq!(
        not_found(org.act("tech", O::RevokeToken { user: user("tech"), token: id(2) })),
        format!("'tech' has no token {}", id(2))
    );
    org.act("tech", O::RevokeToken { user: user("tech"), token: id(1) }).expect("a user revokes their own");
    org.act(ADMIN, O::RevokeToken { user: user("lee"), token: id(2) }).expect("an admin revokes anyone's");
    assert_eq!(
        conflict(org.act("tech", O::RevokeToken { user: user("tech"), token: id(1) })),
        format!("token {} is already revoked", id(1))
    );
}

#[test]
fn a_broken_policy_is_refused_naming_its_line_and_column() {
    let mut org = org();
    let line = DEFAULT_POLICY.lines().position(|l| l == "people = 1").expect("present") + 1;
    let broken = DEFAULT_POLICY.replacen("people = 1", "people = 0", 1);
    let message = invalid(org.act(ADMIN, O::ReplacePolicy { source: broken }), "policy");
    assert_eq!(message, format!("line {line}, column 10: classes.containment.people must be between 1 and 9"));
    let message = invalid(org.act(ADMIN, O::ReplacePolicy { source: "name = \"x\"\n[roles\n".into() }), "policy");
    assert!(message.starts_with("line 2, column "), "{message}");
    assert_eq!(
        conflict(org.act(ADMIN, O::ReplacePolicy { source: DEFAULT_POLICY.into() })),
        "that policy is already in force"
    );
    assert_eq!(org.state.policy.source, DEFAULT_POLICY, "nothing changed");
}

#[test]
fn playbooks_are_added_by_admins_and_checked_against_the_policy() {
    let mut org = org();
    let generic = sitrep_core::playbook::BUILT_IN_PLAYBOOKS[3];
    assert_eq!(
        conflict(org.act(ADMIN, O::AddPlaybook { source: generic.into() })),
        "playbook 'generic' is already this file"
    );
    let revised = generic.replace("version = \"1.0.0\"", "version = \"2.0.0\"");
    org.act(ADMIN, O::AddPlaybook { source: revised }).expect("a new version");
    assert_eq!(org.state.playbooks["generic"].version, "2.0.0");
    let refused = |source: String| invalid(org.clone().act(ADMIN, O::AddPlaybook { source }), "playbook");
    says(&refused(generic.replace("id = \"generic\"", "id = \"Generic!\"")), &["line 2", "id must be"]);
    says(&refused(generic.replace("role = \"executive\"", "role = \"ceo\"")), &["unknown role 'ceo'"]);
    says(&refused("id = \"x\"\nversion = 1".into()), &["line 2", "invalid type"]);
}

#[test]
fn a_statement_class_decision_with_no_statement_bound_cannot_be_approved() {
    let mut w = world();
    // Proposed with nothing bound: legal and comms would approve no text at all.
    act(&mut w, "cora", propose("external_statement", "Holding statement")).expect("comms proposes");
    let refused = conflict(act(&mut w, "lee", approve(1)));
    says(&refused, &["D-1 (external_statement) is bound to no statement, so there is no text to approve"]);
    assert_eq!(w.decision(1).state, DecisionState::Proposed, "nothing changed");
    for class_name in ["customer_notification", "regulatory_notification"] {
        act(&mut w, "lee", propose(class_name, "Tell them")).expect("proposed");
        let id = w.incident.decisions.len() as u64;
        says(&conflict(act(&mut w, "exec", approve(id))), &["is bound to no statement"]);
    }
    // Bound to a text, the same approval goes through.
    act(&mut w, "cora", draft(Audience::Press, "We are investigating.")).expect("drafted");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("proposed bound");
    let id = w.incident.decisions.len() as u64;
    act(&mut w, "lee", approve(id)).expect("legal approves the text");
}

#[test]
fn a_bound_decision_shows_its_exact_text_and_its_changes_from_the_audiences_last_approved_text() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, "We are investigating.\nNo customer data was affected.")).expect("v1");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("D-1");
    let first = sitrep_core::statement_text::bound_text(&w.incident, w.decision(1)).expect("bound");
    assert_eq!(first.text, "We are investigating.\nNo customer data was affected.");
    assert!(first.previous.is_none() && first.changes.is_empty(), "nothing approved for the press before");
    act(&mut w, "lee", approve(1)).expect("approved");
    act(&mut w, "cora", revise(1, "We are investigating.\nSome customer emails were read.")).expect("v2");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("D-2");

    let bound = sitrep_core::statement_text::bound_text(&w.incident, w.decision(2)).expect("bound");
    assert_eq!((bound.version, bound.text.as_str()), (2, "We are investigating.\nSome customer emails were read."));
    let previous = bound.previous.as_ref().expect("v1 was approved for the press");
    assert_eq!((previous.version, previous.decision), (1, DecisionId(1)));
    use sitrep_core::statement_text::Change;
    assert_eq!(
        bound.changes,
        [
            Change::Same("We are investigating.".into()),
            Change::Removed("No customer data was affected.".into()),
            Change::Added("Some customer emails were read.".into()),
        ]
    );
    let markdown = sitrep_core::sitrep::Sitrep::of(&w.incident, &w.org.state, w.org.now()).to_markdown();
    says(
        &markdown,
        &[
            "approves ST-1 v2 \"Security notice\" to press",
            "    > Some customer emails were read.",
            "changes from ST-1 v1 (approved by D-1):",
            "    - **removed**: No customer data was affected.",
            "    - **added**: Some customer emails were read.",
        ],
    );
}

#[test]
fn a_role_released_with_a_reason_keeps_it_in_the_one_entry() {
    let mut w = world();
    let why = |reason: &str| C::ReleaseRole {
        role: role("comms"),
        user: user("cora"),
        unit: None,
        reason: Some(reason.into()),
    };
    let refused = act(&mut w, "cmd", why(&"x".repeat(TEXT_MAX + 1))).expect_err("an over-long reason");
    assert!(matches!(refused, Refusal::Invalid { .. }), "{refused:?}");
    assert!(w.incident.holds(&user("cora"), "comms"), "a refused release changes nothing");

    let entries = act(&mut w, "cmd", why("Off shift; chris takes comms")).expect("the commander releases cora");
    assert_eq!(entries.len(), 1, "the release and its reason are one entry");
    let body: serde_json::Value = serde_json::from_str(&entries[0].body).expect("JSON");
    assert_eq!(body, json!({"role": "comms", "user": "cora", "reason": "Off shift; chris takes comms"}));
    assert!(!w.incident.holds(&user("cora"), "comms"));
    w.check_refold();
}
