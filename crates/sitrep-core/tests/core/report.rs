//! The post-incident report: metrics measured on a scripted timeline, the NIST CSF 2.0 view,
//! evidence names kept from those who may not read evidence, and Markdown that shows user text
//! as written. Every incident here is built through the harness in `support` (decided, sealed,
//! folded and refolded), so the report reads exactly the record the server would hold.

use crate::support;

use sitrep_core::decide::IncidentCommand as C;
use sitrep_core::events::Audience;
use sitrep_core::post_report::{
    CSF_MAPPING, Metrics, NO_REGULATORY_CLOCKS, PostIncidentReport, containment_classes, describe,
};
use sitrep_core::{Declare, Phase, Timestamp};
use support::*;

fn phase(phase: Phase) -> C {
    C::SetPhase { phase }
}

/// The seq of the last entry of this kind.
fn last(w: &World, kind: &str) -> u64 {
    w.record.iter().rev().find(|e| e.kind == kind).map(|e| e.seq).unwrap_or_else(|| panic!("no {kind} entry"))
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    (to.unix_micros() - from.unix_micros()) as f64 / 1e6
}

/// The report as `viewer` reads it.
fn report(w: &World, viewer: &str) -> PostIncidentReport {
    report_of(&w.record, &w.incident, w, viewer)
}

/// Jumps the harness clock so the next entry is written `n` seconds after the last one.
fn wait(w: &mut World, n: i64) {
    w.org.clock += n - 1;
}

/// Proposes and approves the `close` decision (the review must be complete), as cmd and exec.
fn close(w: &mut World) -> u64 {
    let id = w.incident.decisions.len() as u64 + 1;
    act(w, "cmd", propose("close", "All clear")).expect("the commander proposes closing");
    act(w, "exec", approve(id)).expect("the executive approves closing");
    assert_eq!(w.incident.phase, Phase::Closed);
    id
}

#[test]
fn metrics_follow_a_scripted_timeline() {
    // Declared by cmd with only the commander role staffed: four required roles are blockers.
    let mut w = declare(org(), "cmd", &declaration("Ransomware on the build farm", &[])).expect("cmd declares");
    let declared = w.incident.declared_at;
    let m = Metrics::walk(&w.record, &w.org.state.policy);
    assert_eq!((m.staffed.clone(), m.first_containment_decision.clone(), m.contained.clone()), (None, None, None));

    // Staffed 10 minutes in, when the last of the five required roles is filled.
    wait(&mut w, 120);
    act(&mut w, "cmd", assign("tech_lead", "tech")).expect("tech lead");
    act(&mut w, "cmd", assign("legal", "lee")).expect("legal");
    act(&mut w, "cmd", assign("comms", "cora")).expect("comms");
    let so_far = seconds(declared, w.org.now()) as i64;
    wait(&mut w, 600 - so_far);
    let staffed = act(&mut w, "cmd", assign("executive", "exec")).expect("executive").remove(0);
    assert_eq!(seconds(declared, staffed.at), 600.0);
    // A role released and filled again later does not move the first moment it was staffed.
    act(&mut w, "cmd", release("legal", "lee")).expect("released");
    act(&mut w, "cmd", assign("legal", "lee")).expect("filled again");

    // D-1 containment proposed by the tech lead, approved by the commander 5 minutes later.
    act(&mut w, "tech", propose("containment", "Isolate the build farm")).expect("D-1");
    let proposed = w.decision(1).proposed_at;
    wait(&mut w, 300);
    let approved = act(&mut w, "cmd", approve(1)).expect("D-1 approved").remove(0);
    // D-2 containment, approved 100 s after its proposal; D-3 credential revocation, approved at
    // once by the commander who proposed it (a containment class: its CSF reference is RS.MI-01).
    act(&mut w, "tech", propose("containment", "Block the C2 domain")).expect("D-2");
    wait(&mut w, 100);
    act(&mut w, "cmd", approve(2)).expect("D-2 approved");
    act(&mut w, "cmd", propose("credential_revocation", "Revoke the farm's deploy keys")).expect("D-3");
    assert_eq!(w.decision(3).decided_at, Some(w.decision(3).proposed_at), "approved at once");

    // Through containment to eradication: contained.
    act(&mut w, "cmd", phase(Phase::Containment)).expect("containment");
    wait(&mut w, 3600);
    let contained = act(&mut w, "cmd", phase(Phase::Eradication)).expect("eradication").remove(0);
    act(&mut w, "cmd", phase(Phase::Recovery)).expect("recovery");
    review(&mut w);
    let close_id = close(&mut w);
    let closed = w.record.last().expect("entries").clone();

    let m = Metrics::walk(&w.record, &w.org.state.policy);
    let staffed_at = m.staffed.as_ref().expect("staffed");
    assert_eq!((staffed_at.seq, staffed_at.after_seconds), (staffed.seq, 600.0));
    let first = m.first_containment_decision.as_ref().expect("a containment decision");
    assert_eq!(first.seq, approved.seq);
    assert_eq!(first.after_seconds, seconds(declared, approved.at));
    assert_eq!(first.detail.as_deref(), Some("D-1 containment"));
    let contained_at = m.contained.as_ref().expect("contained");
    assert_eq!((contained_at.seq, contained_at.detail.as_deref()), (contained.seq, Some("to eradication")));
    assert_eq!(contained_at.after_seconds, seconds(declared, contained.at));
    let closed_at = m.closed.as_ref().expect("closed");
    assert_eq!((closed_at.seq, closed_at.detail.clone()), (closed.seq, Some(format!("D-{close_id}"))));

    // Latency per class: containment 300 s and 100 s; the revocation at once.
    let containment = m.approval_latency.iter().find(|l| l.class == "containment").expect("containment");
    let d1 = seconds(proposed, approved.at);
    assert_eq!(d1, 300.0);
    assert_eq!((containment.count, containment.immediate), (2, 0));
    assert_eq!(containment.seconds, vec![300.0, 100.0]);
    assert_eq!((containment.median_seconds, containment.max_seconds), (200.0, 300.0));
    let revocation = m.approval_latency.iter().find(|l| l.class == "credential_revocation").expect("revocation");
    assert_eq!((revocation.count, revocation.immediate, revocation.max_seconds), (1, 1, 0.0));
    let close_latency = m.approval_latency.iter().find(|l| l.class == "close").expect("close");
    assert_eq!(close_latency.count, 1);
    assert_eq!(
        containment_classes(&w.org.state.policy).iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        ["containment", "credential_revocation"]
    );

    // The report carries the same figures, the closure and the placeholder for clocks.
    let r = report(&w, "cmd");
    assert_eq!(r.metrics, m);
    let closure = r.summary.closed.as_ref().expect("closed");
    assert_eq!(
        (closure.seq, closure.by.to_string(), closure.decision),
        (closed.seq, "exec".to_owned(), Some(sitrep_core::DecisionId(close_id)))
    );
    assert_eq!(r.summary.commander, vec![user("cmd")]);
    assert!(r.summary.chain_verified);
    assert_eq!((r.summary.as_of_seq, r.summary.as_of_hash), (w.incident.seq, w.incident.head));
    assert_eq!(r.deadlines.note, NO_REGULATORY_CLOCKS);
    let md = r.to_markdown();
    says(
        &md,
        &[
            "| All required roles staffed | 10m 0s |",
            "| First approved containment decision | ",
            "(D-1 containment)",
            "| containment | 2 | 0 | 3m 20s | 5m 0s |",
            "| credential revocation | 1 | 1 | 0s | 0s |",
            "## Deadline compliance\n\nNo regulatory clocks",
            "Contained (phase past containment)",
        ],
    );
}

#[test]
fn roles_staffed_in_the_declaration_count_as_staffed_at_once_and_playbook_roles_count_too() {
    let w = world();
    let m = Metrics::walk(&w.record, &w.org.state.policy);
    assert_eq!(m.staffed.as_ref().map(|s| s.after_seconds), Some(0.0));

    // A record cut short is measured as far as it goes.
    let mut w = declare(org(), "cmd", &declaration("Partly staffed", &STAFF[1..4])).expect("declared");
    assert_eq!(Metrics::walk(&w.record, &w.org.state.policy).staffed, None, "the executive is missing");
    act(&mut w, "cmd", assign("executive", "exec")).expect("staffed");
    let m = Metrics::walk(&w.record, &w.org.state.policy);
    assert_eq!(m.staffed.as_ref().map(|s| s.seq), Some(w.incident.seq));
}

#[test]
fn the_csf_view_names_the_entries_that_evidence_each_subcategory() {
    let mut w = world();
    let s = |w: &World| w.incident.seq;
    act(&mut w, "tech", fact("The runner pulled a poisoned image")).expect("F-1");
    let fact_seq = s(&w);
    act(&mut w, "tech", verify(1, "seen in the registry logs")).expect("verified");
    let verified_seq = s(&w);
    act(&mut w, "cmd", phase(Phase::Triage)).expect("triage");
    let triage_seq = s(&w);
    act(&mut w, "tech", propose("containment", "Isolate the runner")).expect("D-1");
    act(&mut w, "cmd", approve(1)).expect("approved");
    let contain_seq = s(&w);
    act(&mut w, "tech", register(&blob(1), "runner.log")).expect("evidence");
    let evidence_seq = s(&w);
    register_party(&mut w, "acme");
    act(&mut w, "cmd", engage("acme")).expect("engaged");
    let engaged_seq = s(&w);
    act(&mut w, "lee", with_actions("evidence_sharing", "Share the log", vec![share("acme", &[&blob(1)], 24)]))
        .expect("D-2");
    act(&mut w, "cmd", approve(2)).expect("sharing approved");
    system(&mut w, run_share(2, 0)).expect("share.created");
    let share_seq = last(&w, "share.created");
    let share_approved_seq = last(&w, "decision.approved");
    let share_ran_seq = last(&w, "action.succeeded");
    system(&mut w, share_used(1, &blob(1))).expect("acme fetches it");
    let fetched_seq = s(&w);
    act(&mut w, "cmd", phase(Phase::Recovery)).expect("recovery");
    let recovery_seq = s(&w);
    act(&mut w, "cora", draft(Audience::Customers, "Service is restored.")).expect("ST-1");
    let drafted_seq = s(&w);
    act(&mut w, "cora", propose_statement("customer_notification", 1)).expect("D-3");
    act(&mut w, "lee", approve(3)).expect("legal");
    act(&mut w, "exec", approve(3)).expect("executive");
    act(&mut w, "cora", publish(1, "customer mail")).expect("published");
    let published_seq = s(&w);
    review(&mut w);
    let review_seq = s(&w);
    let lesson_seq = review_seq - 2;
    close(&mut w);
    let closed_seq = s(&w);

    let r = report(&w, "cmd");
    let seqs = |id: &str| r.csf.get(id).unwrap_or_else(|| panic!("{id} is listed")).seqs.clone();
    assert_eq!(seqs("RS.MA-01")[0], 1, "the declaration starts the plan");
    assert!(seqs("RS.MA-03").contains(&1));
    assert_eq!(seqs("RS.AN-03"), vec![fact_seq, verified_seq]);
    assert_eq!(seqs("RS.MA-02"), vec![verified_seq, triage_seq]);
    assert_eq!(seqs("RS.MI-01"), vec![contain_seq], "the approval that completes the containment rule");
    // Registration and custody, and the evidence_sharing decision's approval and its action
    // (the class maps to RS.CO-03 and RS.AN-07 in the policy).
    assert_eq!(seqs("RS.AN-07"), vec![evidence_seq, share_approved_seq, share_ran_seq, fetched_seq]);
    // Party engagement, the sharing decision, the link and its use.
    let co3 = seqs("RS.CO-03");
    for seq in [engaged_seq, share_approved_seq, share_seq, share_ran_seq, fetched_seq] {
        assert!(co3.contains(&seq), "RS.CO-03 has seq {seq}: {co3:?}");
    }
    assert_eq!(seqs("RS.MA-05"), vec![recovery_seq]);
    assert_eq!(seqs("RC.RP-01"), vec![recovery_seq]);
    assert!(seqs("RS.CO-02").contains(&published_seq));
    assert!(!seqs("RS.CO-02").contains(&drafted_seq), "a draft informs nobody");
    assert_eq!(seqs("RC.CO-04"), vec![published_seq], "a public update with approved text");
    assert_eq!(seqs("RC.CO-03"), vec![published_seq], "published during recovery");
    assert_eq!(seqs("ID.IM-03"), vec![lesson_seq, lesson_seq + 1]);
    assert!(seqs("ID.IM-02").is_empty(), "not an exercise");
    assert_eq!(seqs("ID.IM-01"), vec![review_seq]);
    assert_eq!(seqs("RC.RP-06"), vec![review_seq, closed_seq]);
    assert!(seqs("RS.MI-02").is_empty(), "nothing eradicated by decision");
    // The close class's category-level references (RS.MA, ID.IM) are listed in their category.
    assert_eq!(seqs("RS.MA"), vec![closed_seq - 1]);
    assert_eq!(seqs("ID.IM"), vec![closed_seq - 1]);
    let kinds = r.csf.get("RS.AN-07").expect("listed").kinds.clone();
    assert_eq!(kinds, ["action.succeeded", "decision.approved", "evidence.accessed", "evidence.registered"]);
    let categories: Vec<&str> = r.csf.categories.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(categories, ["RS.MA", "RS.AN", "RS.CO", "RS.MI", "RC.RP", "RC.CO", "ID.IM"]);

    let md = r.to_markdown();
    says(
        &md,
        &[
            "## NIST CSF 2.0",
            "### RS.MI Incident Mitigation",
            &format!("| RS.MI-01 Incidents are contained | {contain_seq} |"),
        ],
    );
    assert!(CSF_MAPPING.iter().all(|row| !row.why.is_empty()));
}

#[test]
fn an_exercise_identifies_improvements_from_an_exercise() {
    let command = Declare { exercise: true, ..declaration("Tabletop: leaked key", &STAFF[1..]) };
    let mut w = declare(org(), "cmd", &command).expect("declared");
    review(&mut w);
    let r = report(&w, "cmd");
    assert!(r.csf.get("ID.IM-03").expect("listed").seqs.is_empty());
    assert_eq!(r.csf.get("ID.IM-02").expect("listed").seqs.len(), 2, "the lesson and its control change");
    says(&r.to_markdown(), &["**EXERCISE — this incident was a drill.**", "- Exercise: yes"]);
}

#[test]
fn evidence_names_sources_and_purposes_reach_evidence_readers_only() {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "payroll-export-2026.xlsx")).expect("registered");
    act(&mut w, "lee", access(&blob(1), "counsel review for the regulator")).expect("downloaded");
    system(
        &mut w,
        sitrep_core::decide::SystemCommand::IntegrityFailed { sha256: blob(1), detail: "blob at /srv/x".into() },
    )
    .expect("integrity failure");

    let secrets = ["payroll-export-2026", "CloudTrail export", "counsel review", "/srv/x", "text/plain"];
    let hidden = report(&w, "cora");
    let json = serde_json::to_string(&hidden).expect("serialises");
    let md = hidden.to_markdown();
    for secret in secrets {
        assert!(!json.contains(secret), "the JSON for a non-reader holds {secret}");
        assert!(!md.contains(secret), "the Markdown for a non-reader holds {secret}");
    }
    let item = &hidden.evidence.items[0];
    assert_eq!((item.name.clone(), item.source.clone(), item.custody.len()), (None, None, 0));
    // Hashes, sizes and custody counts are for everyone.
    assert_eq!(
        (item.sha256.as_str(), item.size, item.downloads, item.integrity_failures),
        (blob(1).as_str(), 1234, 1, 1)
    );
    assert!(!hidden.evidence.names_shown);
    says(&md, &[&blob(1), "(withheld)", "1 download(s)", "shown to evidence readers only"]);

    let shown = report(&w, "cmd");
    let json = serde_json::to_string(&shown).expect("serialises");
    for secret in secrets {
        assert!(json.contains(secret), "the JSON for a reader holds {secret}");
    }
    says(&shown.to_markdown(), &["payroll-export-2026.xlsx"]);

    // The describer is the command view's too.
    let registered = &w.record[w.record.len() - 3];
    assert_eq!(
        describe(registered, true),
        format!("added evidence \"payroll-export-2026.xlsx\" (1234 bytes, {})", &blob(1)[..12])
    );
    assert!(!describe(registered, false).contains("payroll"));
}

#[test]
fn the_register_holds_every_approval_rejection_and_action_outcome() {
    let mut w = world();
    act(&mut w, "tech", with_actions("containment", "Cut the runner off", vec![webhook("cloud-iam")])).expect("D-1");
    act(&mut w, "cmd", C::Approve { decision: sitrep_core::DecisionId(1), note: Some("go".into()) }).expect("ok");
    system(&mut w, start(1, 0)).expect("started");
    system(&mut w, fail(1, 0, "HTTP 503", true)).expect("failed");
    act(&mut w, "cora", propose("external_statement", "Say nothing yet")).expect("D-2");
    act(&mut w, "lee", reject(2, "too early")).expect("rejected");

    let r = report(&w, "cmd");
    let d1 = &r.decisions[0];
    let lines: Vec<(&str, String)> = d1.endorsements.iter().map(|e| (e.what, e.user.to_string())).collect();
    // The tech lead holds no role the containment rule names, so proposing endorsed nothing.
    assert_eq!(lines, [("approved", "cmd".to_owned())]);
    assert_eq!(d1.endorsements[0].note.as_deref(), Some("go"));
    assert_eq!((d1.actions[0].attempts, d1.actions[0].last_error.as_deref()), (1, Some("HTTP 503")));
    let d2 = &r.decisions[1];
    // Comms proposing endorses the comms role the rule names; legal rejects.
    let lines: Vec<(&str, String, Option<&str>)> =
        d2.endorsements.iter().map(|e| (e.what, e.user.to_string(), e.note.as_deref())).collect();
    assert_eq!(
        lines,
        [("approved by proposing", "cora".to_owned(), None), ("rejected", "lee".to_owned(), Some("too early"))]
    );
    assert_eq!(d2.latency_seconds, None, "only approved decisions have a latency");
    says(
        &r.to_markdown(),
        &[
            "### D-1 containment \"Cut the runner off\" — approved",
            "approved: cmd as commander at ",
            "webhook cloud-iam — FAILED after 1 attempt(s) (HTTP 503)",
            "rejected: lee as legal at ",
            ": too early",
        ],
    );
}

#[test]
fn markdown_shows_user_text_as_written_and_the_report_stops_at_the_state_it_describes() {
    let mut w = world();
    act(&mut w, "tech", propose("containment", "[click](http://evil) # now")).expect("D-1");
    let at_proposal = w.incident.clone();
    act(&mut w, "cmd", note("<script>alert(1)</script>")).expect("a note");
    let md = report(&w, "cmd").to_markdown();
    assert!(md.contains("\\[click\\](http://evil) \\# now"), "{md}");
    assert!(md.contains("\\<script\\>alert(1)\\</script\\>"));
    assert!(!md.contains("[click](http://evil)"));

    // Given a state behind the record, the report describes that state only.
    let r = report_of(&w.record, &at_proposal, &w, "cmd");
    assert_eq!(r.timeline.last().map(|l| l.seq), Some(at_proposal.seq));
    assert_eq!(r.summary.as_of_seq, at_proposal.seq);
    assert!(r.summary.chain_verified);
}

#[test]
fn a_changed_entry_makes_the_report_say_the_chain_did_not_verify() {
    let mut w = world();
    act(&mut w, "tech", fact("a fact")).expect("F-1");
    let mut record = w.record.clone();
    let last = record.last_mut().expect("entries");
    last.body = last.body.replace("a fact", "b fact");
    let r = report_of(&record, &w.incident, &w, "cmd");
    assert!(!r.summary.chain_verified);
    says(&r.to_markdown(), &["**the chain did not verify**"]);
}

#[test]
fn docs_reports_md_shows_the_mapping_table_as_the_code_has_it() {
    let doc = include_str!("../../../../docs/reports.md");
    let table = sitrep_core::post_report::mapping_table();
    assert!(doc.contains(&table), "docs/reports.md must contain this table exactly:\n{table}");
}

#[test]
fn the_sitrep_names_the_commander_and_every_hand_over() {
    let mut w = world();
    let s = sitrep_core::sitrep::Sitrep::of(&w.incident, &w.org.state, w.org.now());
    assert_eq!(s.commander, Some(user("cmd")));
    assert!(s.handovers.is_empty());
    says(&s.to_markdown(), &["Commander: **cmd**"]);

    act(&mut w, "cmd", hand_over("tech", "night shift <b>takes</b> over")).expect("handed over");
    let at = w.incident.updated_at;
    let s = sitrep_core::sitrep::Sitrep::of(&w.incident, &w.org.state, w.org.now());
    assert_eq!(s.commander, Some(user("tech")));
    let h = &s.handovers[0];
    assert_eq!(
        (h.from.as_str(), h.to.as_str(), h.reason.as_str(), h.at),
        ("cmd", "tech", "night shift <b>takes</b> over", at)
    );
    let markdown = s.to_markdown();
    says(
        &markdown,
        &[
            "Commander: **tech**",
            "## Command hand-overs",
            &format!("- {at}: cmd handed command to tech (recorded by cmd): night shift \\<b\\>takes\\</b\\> over"),
        ],
    );
    let r = report(&w, "cmd");
    assert_eq!(r.summary.commander, [user("tech")]);
    assert!(
        r.timeline.iter().any(|line| line.what == "handed command from cmd to tech: night shift <b>takes</b> over")
    );
}
