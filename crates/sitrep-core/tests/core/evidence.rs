//! Evidence and its chain of custody, third parties and their share links, and statements that
//! go out only through the one approval path their audience requires, through the harness in
//! `support`: every accepted command is decided, sealed, folded and refolded, and every forged
//! entry is refused by the fold.

use crate::support;

use sitrep_core::decide::{
    self, IncidentCommand as C, MAX_SHARE_HOURS, MAX_SHARED_ITEMS, OrgCommand as O, SHORT_MAX, SystemCommand,
};
use sitrep_core::entry::sha256_hex;
use sitrep_core::events::*;
use sitrep_core::ids::{ShareId, StatementId};
use sitrep_core::incident::{ActionStatus, Custody};
use sitrep_core::playbook::Playbook;
use sitrep_core::{Actor, DecisionId, OrgRole, Policy, Timestamp};
use support::*;

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// The refusal a read of evidence by someone without the evidence role gets.
const EVIDENCE_ROLES: &str = "the commander, tech_lead, legal or responder role";
const EVIDENCE_HOLDERS: &str = "(commander: cmd; tech_lead: tech; legal: lee; responder: resp)";

/// A custody record as a comparable tuple.
fn custody(c: &Custody) -> (Actor, Timestamp, &str, Option<ShareId>) {
    (c.by.clone(), c.at, c.purpose.as_str(), c.share)
}

/// INC-1 with two items registered by the tech lead (blob 1, a log; blob 2, a memory dump) and
/// the MSP `acme` registered and engaged by the commander.
fn sharing_world() -> World {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("the tech lead registers the log");
    act(&mut w, "tech", register(&blob(2), "memory.dump")).expect("the tech lead registers the dump");
    register_party(&mut w, "acme");
    act(&mut w, "cmd", engage("acme")).expect("the commander engages acme");
    w
}

fn share_decision(items: &[&str], hours: u32) -> C {
    with_actions("evidence_sharing", "Share the CloudTrail log with Acme", vec![share("acme", items, hours)])
}

/// [`sharing_world`] with D-1 sharing blob 1 with acme for `hours`, proposed by a responder,
/// approved by legal and the commander, and run: SH-1 exists.
fn shared_world(hours: u32) -> World {
    let mut w = sharing_world();
    act(&mut w, "resp", share_decision(&[&blob(1)], hours)).expect("a responder proposes sharing");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    system(&mut w, run_share(1, 0)).expect("the share action runs");
    w
}

fn revoke(share: u64, reason: Option<&str>) -> C {
    C::RevokeShare { share: ShareId(share), reason: reason.map(str::to_owned) }
}

fn accessed(sha256: &str, share: Option<u64>) -> IncidentEvent {
    IncidentEvent::EvidenceAccessed(EvidenceAccessed {
        sha256: sha256.to_owned(),
        purpose: "fetched by acme through SH-1".into(),
        share: share.map(ShareId),
    })
}

fn share_created(share: u64, party: &str, items: &[&str], hours: u32) -> IncidentEvent {
    IncidentEvent::ShareCreated(ShareCreated {
        share: ShareId(share),
        decision: DecisionId(1),
        action: 0,
        party: party.to_owned(),
        items: items.iter().map(|s| (*s).to_owned()).collect(),
        expires_in_hours: hours,
    })
}

/// A `decision.proposed` as decide would write it for `class` under the default policy, with
/// the given actions, proposer role, state and statement binding.
fn proposed(
    w: &World,
    class_name: &str,
    actions: Vec<ActionSpec>,
    role_held: Option<&str>,
    state: DecisionState,
    statement: Option<StatementRef>,
) -> IncidentEvent {
    let policy = w.org.state.policy.class(&class(class_name)).expect("a class of the default policy");
    IncidentEvent::DecisionProposed(DecisionProposed {
        authentication: None,
        decision: DecisionId(w.incident.decisions.len() as u64 + 1),
        class: class(class_name),
        title: "Forged".into(),
        rationale: None,
        actions,
        rule: policy.rule.clone(),
        role: role_held.map(role),
        also: Vec::new(),
        state,
        playbook: None,
        path: policy.path.clone(),
        statement,
        clocks: Vec::new(),
    })
}

fn statement_ref(statement: u64, version: u32, text: &str) -> StatementRef {
    StatementRef { statement: StatementId(statement), version, sha256: sha256_hex(text.as_bytes()) }
}

fn published(statement: u64, version: u32, text: &str, decision: u64) -> IncidentEvent {
    IncidentEvent::StatementPublished(StatementPublished {
        statement: StatementId(statement),
        version,
        sha256: sha256_hex(text.as_bytes()),
        channel: "status page".into(),
        decision: DecisionId(decision),
        outlet: false,
    })
}

fn publish_read(statement: u64, channel: &str, text: &str) -> C {
    C::PublishStatement {
        statement: StatementId(statement),
        channel: channel.to_owned(),
        sha256: Some(sha256_hex(text.as_bytes())),
        outlet_for: Vec::new(),
    }
}

/// A publication as a comparable tuple: version, hash, channel, decision, by.
fn publication(w: &World, statement: u64, n: usize) -> (u32, String, String, DecisionId, Actor) {
    let p = &w.incident.statement(StatementId(statement)).expect("the statement exists").publications[n];
    (p.version, p.sha256.clone(), p.channel.clone(), p.decision, p.by.clone())
}

const V1: &str = "We are investigating unauthorised access to a deploy key. No customer data is known to be affected.";
const V2: &str = "We are investigating unauthorised access to a deploy key. We will update this notice by 18:00 UTC.";

// ---------------------------------------------------------------------------------------------
// Evidence: registration.
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_evidence_records_every_field_and_the_server_s_time_of_receipt() {
    let mut w = world();
    let registered = EvidenceRegistered {
        sha256: blob(1),
        size: 48_213,
        name: "cloudtrail-2026-11-03.json".into(),
        declared_type: Some("application/json".into()),
        sniffed_type: Some("text/plain".into()),
        source: Some("AWS CloudTrail, eu-west-1".into()),
        collected_by: Some("Pat from the platform team".into()),
        collected_at: Some(at(-3600)),
    };
    let entries = act(&mut w, "tech", C::RegisterEvidence(registered.clone())).expect("the tech lead registers");
    assert_eq!((entries.len(), entries[0].kind.as_str()), (1, "evidence.registered"));
    assert_eq!(
        IncidentEvent::parse(&entries[0].kind, &entries[0].body).expect("the body parses"),
        IncidentEvent::EvidenceRegistered(registered)
    );
    assert_eq!(w.incident.evidence.len(), 1);
    let item = w.incident.evidence_item(&blob(1)).expect("registered");
    assert_eq!(
        (item.sha256.as_str(), item.size, item.name.as_str(), item.declared_type.as_deref()),
        (blob(1).as_str(), 48_213, "cloudtrail-2026-11-03.json", Some("application/json"))
    );
    assert_eq!(
        (item.sniffed_type.as_deref(), item.source.as_deref(), item.collected_by.as_deref(), item.collected_at),
        (Some("text/plain"), Some("AWS CloudTrail, eu-west-1"), Some("Pat from the platform team"), Some(at(-3600)))
    );
    assert_eq!((&item.registered_by, item.received_at), (&by("tech"), entries[0].at));
    assert_eq!(item.received_at, at(w.org.clock));
    assert!(item.custody.is_empty() && item.integrity_failures.is_empty());

    // Optional fields may be left out; the time of receipt is still the entry's.
    let bare = EvidenceRegistered {
        sha256: blob(2),
        size: 0,
        name: "empty.bin".into(),
        declared_type: None,
        sniffed_type: None,
        source: None,
        collected_by: None,
        collected_at: None,
    };
    let entries = act(&mut w, "resp", C::RegisterEvidence(bare)).expect("a responder registers an empty file");
    assert_eq!(entries[0].body, format!(r#"{{"name":"empty.bin","sha256":"{}","size":0}}"#, blob(2)));
    let item = w.incident.evidence_item(&blob(2)).expect("registered");
    assert_eq!(
        (item.size, item.source.as_deref(), item.collected_at, &item.registered_by, item.received_at),
        (0, None, None, &by("resp"), entries[0].at)
    );
    assert_eq!(w.incident.evidence.iter().map(|e| e.sha256.clone()).collect::<Vec<_>>(), [blob(1), blob(2)]);
}

#[test]
fn the_same_file_is_registered_once_per_incident() {
    let mut w = world();
    let entries = act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("registered");
    let before = w.record.len();
    let message = conflict(act(&mut w, "lee", register(&blob(1), "copy-of-cloudtrail.json")));
    assert_eq!(message, format!("this file is already evidence on INC-1 (registered by tech at {})", entries[0].at));
    assert_eq!((w.record.len(), w.incident.evidence.len()), (before, 1));
    assert_eq!(w.incident.evidence[0].name, "cloudtrail.json");
    // The fold refuses a second registration of the hash too.
    let error = fold_refuses(
        &w,
        w.head(),
        &by("lee"),
        IncidentEvent::EvidenceRegistered(EvidenceRegistered {
            sha256: blob(1),
            size: 1,
            name: "again".into(),
            declared_type: None,
            sniffed_type: None,
            source: None,
            collected_by: None,
            collected_at: None,
        }),
    );
    assert_eq!(error.reason, "the item is already registered on this incident");
}

#[test]
fn a_malformed_sha256_is_refused_and_nothing_is_registered() {
    let mut w = world();
    let upper = blob(1).to_uppercase();
    let short = blob(1)[..63].to_owned();
    let long = format!("{}0", blob(1));
    let not_hex = format!("g{}", &blob(1)[1..]);
    for bad in [upper.as_str(), short.as_str(), long.as_str(), not_hex.as_str(), "", "../../etc/passwd"] {
        assert_eq!(invalid(act(&mut w, "tech", register(bad, "x.log")), "sha256"), "must be 64 lower-case hex digits");
    }
    assert!(w.incident.evidence.is_empty());
    assert_eq!(w.kinds().last(), Some(&"role.assigned"));
}

#[test]
fn only_holders_of_the_evidence_role_register_evidence() {
    let mut w = world();
    for name in ["obs", "cora", "exec", OUTSIDER] {
        let message = forbidden(act(&mut w, name, register(&blob(1), "x.log")), "actions.evidence");
        says(&message, &["adding evidence needs", EVIDENCE_ROLES, EVIDENCE_HOLDERS]);
    }
    let message = forbidden(act(&mut w, "cora", register(&blob(1), "x.log")), "actions.evidence");
    assert_eq!(message, format!("adding evidence needs {EVIDENCE_ROLES}; you hold comms {EVIDENCE_HOLDERS}"));
    for (n, name) in ["cmd", "tech", "lee", "resp"].into_iter().enumerate() {
        act(&mut w, name, register(&blob(n as u64 + 1), "x.log")).expect("a holder of the evidence role registers");
        assert_eq!(w.incident.evidence[n].registered_by, by(name));
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence: names.
// ---------------------------------------------------------------------------------------------

#[test]
fn characters_that_hide_or_reorder_a_name_are_written_out_visibly() {
    let cases = [
        ("report\0.pdf", "report<U+0000>.pdf"),
        ("invoice\u{202E}fdp.exe", "invoice<U+202E>fdp.exe"),
        ("\u{202D}\u{202A}\u{202B}\u{202C}", "<U+202D><U+202A><U+202B><U+202C>"),
        ("a\u{2066}b\u{2067}c\u{2068}d\u{2069}", "a<U+2066>b<U+2067>c<U+2068>d<U+2069>"),
        ("pay\u{200B}roll.xlsx", "pay<U+200B>roll.xlsx"),
        ("\u{200C}\u{200D}\u{200E}\u{200F}", "<U+200C><U+200D><U+200E><U+200F>"),
        ("\u{FEFF}notes.txt", "<U+FEFF>notes.txt"),
        ("line\nbreak\ttab\rreturn", "line<U+000A>break<U+0009>tab<U+000D>return"),
        ("\u{1b}[31mred.log", "<U+001B>[31mred.log"),
        ("del\u{7f}.bin", "del<U+007F>.bin"),
        ("next\u{85}line", "next<U+0085>line"),
    ];
    for (raw, shown) in cases {
        assert_eq!(decide::evidence_name(raw), shown, "{raw:?}");
    }
}

#[test]
fn the_word_joiner_invisible_operators_and_the_arabic_letter_mark_are_written_out_too() {
    // Zero-width and bidirectional marks outside the blocks above hide or reorder text just the
    // same: U+2060 WORD JOINER, U+2061..U+2064 invisible operators, U+061C ARABIC LETTER MARK.
    let cases = [
        ("word\u{2060}joiner.txt", "word<U+2060>joiner.txt"),
        ("f\u{2061}x\u{2064}.txt", "f<U+2061>x<U+2064>.txt"),
        ("arabic\u{061C}mark.txt", "arabic<U+061C>mark.txt"),
    ];
    for (raw, shown) in cases {
        assert_eq!(decide::evidence_name(raw), shown, "{raw:?}");
    }
}

#[test]
fn every_character_user_text_refuses_is_written_out_in_a_name() {
    // Issue 11 point 11: the one rule of user text (`sitrep_core::text`) decides what a name
    // shows written out, beyond the controls and marks above.
    let cases = [
        ("pay\u{00AD}roll.xlsx", "pay<U+00AD>roll.xlsx"),
        ("one\u{2028}two.txt", "one<U+2028>two.txt"),
        ("tag\u{E0041}.txt", "tag<U+E0041>.txt"),
        ("blank\u{3164}.txt", "blank<U+3164>.txt"),
        ("👩\u{200D}💻.png", "👩<U+200D>💻.png"),
        ("⚠️.txt", "⚠️.txt"),
    ];
    for (raw, shown) in cases {
        assert_eq!(decide::evidence_name(raw), shown, "{raw:?}");
    }
}

#[test]
fn a_name_kept_as_it_was_by_an_earlier_version_still_folds() {
    // Before the one rule, a soft hyphen stayed in a name as it was; records holding one fold.
    let registered = |n: u64, name: &str| {
        IncidentEvent::EvidenceRegistered(EvidenceRegistered {
            sha256: blob(n),
            size: 1,
            name: name.into(),
            declared_type: None,
            sniffed_type: None,
            source: None,
            collected_by: None,
            collected_at: None,
        })
    };
    let mut w = world();
    append(&mut w, &by("tech"), &[registered(1, "pay\u{00AD}roll.xlsx")]).expect("an earlier version's name folds");
    assert_eq!(w.incident.evidence[0].name, "pay\u{00AD}roll.xlsx");
    // A character every version wrote out is still refused.
    let error = fold_refuses(&w, w.head(), &by("tech"), registered(2, "pay\u{200B}roll.xlsx"));
    assert_eq!(error.reason, "the name holds characters the record never keeps as they are");
}

#[test]
fn a_path_in_a_name_is_kept_verbatim_as_metadata() {
    for name in ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\System32\\config\\SAM", "..", "<script>.svg"] {
        assert_eq!(decide::evidence_name(name), name);
    }
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "../../etc/passwd")).expect("registered");
    act(&mut w, "tech", register(&blob(2), "/etc/passwd")).expect("registered");
    act(&mut w, "tech", register(&blob(3), "evil\u{202E}gpj.exe")).expect("registered");
    act(&mut w, "tech", register(&blob(4), "")).expect("registered");
    let names: Vec<&str> = w.incident.evidence.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["../../etc/passwd", "/etc/passwd", "evil<U+202E>gpj.exe", "unnamed"]);
    assert!(w.record.last().expect("an entry").body.contains(r#""name":"unnamed""#));
}

#[test]
fn a_very_long_name_is_cut_to_255_characters_ending_with_an_ellipsis_and_an_empty_one_is_unnamed() {
    let exact = "é".repeat(255);
    assert_eq!(decide::evidence_name(&exact), exact);
    let cut = decide::evidence_name(&"a".repeat(10_000));
    assert_eq!(cut, format!("{}…", "a".repeat(254)));
    assert_eq!(cut.chars().count(), 255);
    let cut = decide::evidence_name(&"é".repeat(256));
    assert_eq!((cut.chars().count(), cut.ends_with("é…")), (255, true));
    // Written-out characters count towards the limit, so the cut name is still 255.
    let escaped = decide::evidence_name(&"\0".repeat(100));
    assert_eq!(escaped.chars().count(), 255);
    assert!(escaped.starts_with("<U+0000><U+0000>") && escaped.ends_with('…'), "{escaped}");
    for empty in ["", "   ", "\u{3000}"] {
        assert_eq!(decide::evidence_name(empty), "unnamed", "{empty:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence: access and custody.
// ---------------------------------------------------------------------------------------------

#[test]
fn each_access_appends_who_when_and_why_to_the_chain_of_custody_in_order() {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("registered");
    act(&mut w, "tech", register(&blob(2), "memory.dump")).expect("registered");
    let mut expected = Vec::new();
    for (name, purpose) in [("lee", "legal review"), ("resp", "IOC extraction"), ("lee", "counsel's request")] {
        let entries = act(&mut w, name, access(&blob(1), purpose)).expect("a holder of the evidence role reads it");
        assert_eq!(entries[0].kind, "evidence.accessed");
        assert_eq!(entries[0].body, format!(r#"{{"purpose":"{purpose}","sha256":"{}"}}"#, blob(1)));
        expected.push((by(name), entries[0].at, purpose, None));
    }
    let item = w.incident.evidence_item(&blob(1)).expect("registered");
    assert_eq!(item.custody.iter().map(custody).collect::<Vec<_>>(), expected);
    assert!(expected.windows(2).all(|pair| pair[0].1 < pair[1].1));
    // Another item's trail is its own.
    assert!(w.incident.evidence_item(&blob(2)).expect("registered").custody.is_empty());
    act(&mut w, "cmd", access(&blob(2), "timeline")).expect("the commander reads");
    act(&mut w, "tech", access(&blob(2), "strings")).expect("the tech lead reads");
    let trail: Vec<(Actor, String)> = w
        .incident
        .evidence_item(&blob(2))
        .expect("registered")
        .custody
        .iter()
        .map(|c| (c.by.clone(), c.purpose.clone()))
        .collect();
    assert_eq!(trail, [(by("cmd"), "timeline".to_owned()), (by("tech"), "strings".to_owned())]);
    assert_eq!(w.incident.evidence_item(&blob(1)).expect("registered").custody.len(), 3);
}

#[test]
fn reading_evidence_is_refused_without_the_evidence_role_and_the_refusal_does_not_name_the_item() {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "salaries-2026.xlsx")).expect("registered");
    let before = w.record.len();
    for (name, held) in [("obs", "observer"), ("cora", "comms"), ("exec", "executive")] {
        let message = forbidden(act(&mut w, name, access(&blob(1), "curious")), "actions.evidence");
        assert_eq!(message, format!("reading evidence needs {EVIDENCE_ROLES}; you hold {held} {EVIDENCE_HOLDERS}"));
        assert!(!message.contains("salaries"), "{message}");
        // An unknown hash gets the same answer, so the refusal says nothing about what exists.
        let unknown = forbidden(act(&mut w, name, access(&blob(9), "curious")), "actions.evidence");
        assert_eq!(unknown, message);
    }
    let message = forbidden(act(&mut w, OUTSIDER, access(&blob(1), "curious")), "actions.evidence");
    assert_eq!(
        message,
        format!("reading evidence needs {EVIDENCE_ROLES}; you hold no role on this incident {EVIDENCE_HOLDERS}")
    );
    forbidden(act(&mut w, VIEWER, access(&blob(1), "curious")), "org_roles");
    assert_eq!(w.record.len(), before);
    assert!(w.incident.evidence[0].custody.is_empty());
}

#[test]
fn on_a_need_to_know_incident_an_outsider_is_told_the_incident_does_not_exist() {
    let mut w = restricted_world();
    act(&mut w, "tech", register(&blob(1), "badge-logs.csv")).expect("registered");
    let message = not_found(act(&mut w, OUTSIDER, access(&blob(1), "curious")));
    assert_eq!(message, "there is no incident INC-1");
    assert_eq!(not_found(act(&mut w, OUTSIDER, access(&blob(9), "curious"))), "there is no incident INC-1");
    assert_eq!(not_found(act(&mut w, OUTSIDER, register(&blob(2), "planted.log"))), "there is no incident INC-1");
    // A participant without the evidence role is refused, not misled.
    forbidden(act(&mut w, "obs", access(&blob(1), "curious")), "actions.evidence");
    act(&mut w, "lee", access(&blob(1), "HR case review")).expect("legal reads");
    assert_eq!(w.incident.evidence.len(), 1);
    assert_eq!(w.incident.evidence[0].custody.len(), 1);
}

#[test]
fn reading_unknown_evidence_is_not_found_and_a_purpose_is_required() {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("registered");
    assert_eq!(not_found(act(&mut w, "lee", access(&blob(9), "review"))), format!("INC-1 has no evidence {}", blob(9)));
    let before = w.record.len();
    for empty in ["", "   ", "\n\t"] {
        assert_eq!(
            invalid(act(&mut w, "lee", access(&blob(1), empty)), "purpose"),
            "say why you are downloading it; the purpose goes in the chain of custody"
        );
    }
    says(
        &invalid(act(&mut w, "lee", access(&blob(1), "review\u{7}")), "purpose"),
        &["contains U+0007, a control character"],
    );
    says(
        &invalid(act(&mut w, "lee", access(&blob(1), "review\u{202E}")), "purpose"),
        &["contains U+202E (RIGHT-TO-LEFT OVERRIDE), a bidirectional formatting character"],
    );
    assert_eq!(
        invalid(act(&mut w, "lee", access(&blob(1), &"x".repeat(SHORT_MAX + 1))), "purpose"),
        format!("is {} characters; the limit is {SHORT_MAX}", SHORT_MAX + 1)
    );
    assert_eq!(w.record.len(), before);
    assert!(w.incident.evidence[0].custody.is_empty());
}

#[test]
fn a_failed_integrity_check_is_recorded_by_the_system_on_the_item() {
    let mut w = world();
    act(&mut w, "tech", register(&blob(1), "cloudtrail.json")).expect("registered");
    let entries = system(&mut w, SystemCommand::IntegrityFailed { sha256: blob(1), detail: "hash mismatch".into() })
        .expect("the store reports a corrupted blob");
    assert_eq!((entries[0].kind.as_str(), &entries[0].actor), ("evidence.integrity_failed", &worker()));
    let failures = &w.incident.evidence[0].integrity_failures;
    assert_eq!(
        failures.iter().map(|n| (n.by.clone(), n.at, n.text.as_str())).collect::<Vec<_>>(),
        [(worker(), entries[0].at, "hash mismatch")]
    );
    let unknown = system(&mut w, SystemCommand::IntegrityFailed { sha256: blob(9), detail: "gone".into() });
    assert_eq!(not_found(unknown), format!("INC-1 has no evidence {}", blob(9)));
    let forged = IncidentEvent::EvidenceIntegrityFailed(EvidenceIntegrityFailed {
        sha256: blob(1),
        detail: "a person says so".into(),
    });
    assert_eq!(fold_refuses(&w, w.head(), &by("tech"), forged).reason, "only the system writes this kind of entry");
    // A signed-in read is a person's entry; the system writes only reads through a share.
    let error = fold_refuses(&w, w.head(), &worker(), accessed(&blob(1), None));
    assert_eq!(error.reason, "only people write this kind of entry");
}

// ---------------------------------------------------------------------------------------------
// Third parties: the registry.
// ---------------------------------------------------------------------------------------------

#[test]
fn only_an_admin_registers_or_changes_a_third_party() {
    let mut org = org();
    let before = org.record.len();
    assert_eq!(
        forbidden(org.act("cmd", O::RegisterParty(msp("acme"))), "org_roles"),
        "registering third parties needs the admin organisation role"
    );
    forbidden(org.act(VIEWER, O::RegisterParty(msp("acme"))), "org_roles");
    assert_eq!(org.record.len(), before);
    assert!(org.state.parties.is_empty());

    let entries = org.act(ADMIN, O::RegisterParty(msp("acme"))).expect("the admin registers");
    assert_eq!(entries[0].kind, "party.registered");
    let record = &org.state.parties["acme"];
    assert_eq!(record.party, msp("acme"));
    assert_eq!(
        (record.registered_at, record.updated_at, &record.updated_by),
        (entries[0].at, entries[0].at, &by(ADMIN))
    );

    let mut changed = msp("acme");
    changed.contacts[0].phone = Some("+44 20 7946 0999".into());
    changed.authority.push("may audit their access logs".into());
    assert_eq!(
        forbidden(org.act("cmd", O::UpdateParty(changed.clone())), "org_roles"),
        "changing third parties needs the admin organisation role"
    );
    assert_eq!(org.state.parties["acme"].party, msp("acme"));
    org.act(ADMIN, O::GrantOrgRole { user: user("lee"), role: OrgRole::Admin }).expect("lee becomes an admin");
    let updated = org.act("lee", O::UpdateParty(changed.clone())).expect("another admin updates");
    assert_eq!(updated[0].kind, "party.updated");
    let record = &org.state.parties["acme"];
    assert_eq!(record.party, changed);
    assert_eq!(
        (record.registered_at, record.updated_at, &record.updated_by),
        (entries[0].at, updated[0].at, &by("lee"))
    );
}

#[test]
fn a_party_entry_with_a_bad_id_an_empty_name_or_unusable_text_is_refused() {
    let mut org = org();
    let before = org.record.len();
    let long = "x".repeat(65);
    for id in ["Acme", "acme corp", "", long.as_str(), "../acme", "acme/../../x", "acme.example"] {
        let message = invalid(org.act(ADMIN, O::RegisterParty(msp(id))), "party");
        assert_eq!(message, "a party id is 1-64 characters of a-z, 0-9, '-' and '_'", "{id:?}");
    }
    for name in ["", "   "] {
        let party = Party { name: name.into(), ..msp("acme") };
        assert_eq!(invalid(org.act(ADMIN, O::RegisterParty(party)), "name"), "must not be empty");
    }
    let mut nameless_contact = msp("acme");
    nameless_contact.contacts[0].name = String::new();
    assert_eq!(invalid(org.act(ADMIN, O::RegisterParty(nameless_contact)), "contacts[0].name"), "must not be empty");
    let mut disguised = msp("acme");
    disguised.authority = vec!["may revoke\u{202E} their access".into()];
    says(&invalid(org.act(ADMIN, O::RegisterParty(disguised)), "authority[0]"), &["bidirectional formatting"]);
    assert_eq!(org.record.len(), before);
    assert!(org.state.parties.is_empty());
    let longest = "a".repeat(64);
    org.act(ADMIN, O::RegisterParty(msp(&longest))).expect("a 64-character id is fine");
    org.act(ADMIN, O::RegisterParty(msp("acme_eu-2"))).expect("digits, '-' and '_' are fine");
    assert_eq!(org.state.parties.keys().cloned().collect::<Vec<_>>(), [longest, "acme_eu-2".to_owned()]);
}

#[test]
fn a_party_is_registered_once_updated_only_if_known_and_only_with_a_change() {
    let mut org = org();
    org.act(ADMIN, O::RegisterParty(msp("acme"))).expect("registered");
    let before = org.record.len();
    assert_eq!(
        conflict(org.act(ADMIN, O::RegisterParty(msp("acme")))),
        "the party 'acme' is already registered; update it instead"
    );
    assert_eq!(not_found(org.act(ADMIN, O::UpdateParty(msp("globex")))), "there is no registered party 'globex'");
    assert_eq!(conflict(org.act(ADMIN, O::UpdateParty(msp("acme")))), "the party 'acme' already reads exactly so");
    invalid(org.act(ADMIN, O::UpdateParty(msp("Acme"))), "party");
    assert_eq!(org.record.len(), before);
    assert_eq!(org.state.parties.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Third parties: engaging them on an incident.
// ---------------------------------------------------------------------------------------------

#[test]
fn engaging_a_party_needs_the_third_parties_role() {
    let mut w = world();
    register_party(&mut w, "acme");
    let message = forbidden(act(&mut w, "tech", engage("acme")), "actions.third_parties");
    assert_eq!(
        message,
        "engaging third parties needs the commander, legal or liaison role; you hold tech_lead (commander: cmd; legal: lee; liaison: unfilled)"
    );
    for name in ["cora", "exec", "resp", "obs", OUTSIDER] {
        forbidden(act(&mut w, name, engage("acme")), "actions.third_parties");
    }
    assert!(w.incident.parties.is_empty());
    let entries = act(&mut w, "lee", engage("acme")).expect("legal engages");
    assert_eq!(entries[0].kind, "party.engaged");
    let engaged = &w.incident.parties[0];
    assert_eq!(
        (engaged.party.as_str(), engaged.reason.as_deref(), &engaged.engaged_by, engaged.engaged_at),
        ("acme", Some("they run the CI runners"), &by("lee"), entries[0].at)
    );
    assert!(w.incident.is_engaged("acme"));
    register_party(&mut w, "globex");
    act(&mut w, "cmd", assign("liaison", OUTSIDER)).expect("the commander staffs a liaison");
    act(&mut w, OUTSIDER, C::EngageParty { party: "globex".into(), reason: None }).expect("the liaison engages");
    let parties: Vec<(&str, Option<&str>, &Actor)> =
        w.incident.parties.iter().map(|p| (p.party.as_str(), p.reason.as_deref(), &p.engaged_by)).collect();
    assert_eq!(parties, [("acme", Some("they run the CI runners"), &by("lee")), ("globex", None, &by(OUTSIDER))]);
}

#[test]
fn engaging_an_unregistered_party_names_the_registered_ones_and_a_party_is_engaged_once() {
    let mut w = world();
    assert_eq!(
        invalid(act(&mut w, "cmd", engage("acme")), "party"),
        "there is no registered party 'acme'; registered parties are none yet"
    );
    register_party(&mut w, "acme");
    register_party(&mut w, "globex");
    assert_eq!(
        invalid(act(&mut w, "cmd", engage("initech")), "party"),
        "there is no registered party 'initech'; registered parties are acme, globex"
    );
    act(&mut w, "cmd", engage("acme")).expect("engaged");
    let before = w.record.len();
    assert_eq!(conflict(act(&mut w, "lee", engage("acme"))), "acme is already engaged on INC-1");
    assert_eq!((w.record.len(), w.incident.parties.len()), (before, 1));
    let error = fold_refuses(
        &w,
        w.head(),
        &by("lee"),
        IncidentEvent::PartyEngaged(PartyEngaged { party: "acme".into(), reason: None }),
    );
    assert_eq!(error.reason, "the party is already engaged");
}

// ---------------------------------------------------------------------------------------------
// Shares: proposing them.
// ---------------------------------------------------------------------------------------------

#[test]
fn evidence_is_shared_only_through_an_evidence_sharing_decision() {
    let mut w = sharing_world();
    let share_1 = || share("acme", &[&blob(1)], 24);
    let message = invalid(act(&mut w, "tech", with_actions("containment", "Isolate", vec![share_1()])), "actions[0]");
    assert_eq!(message, "evidence is shared only through an evidence_sharing decision");
    for c in ["external_statement", "law_enforcement", "close"] {
        let command = with_actions(c, "Share on the side", vec![notify(), share_1()]);
        let message = invalid(act(&mut w, "cmd", command), "actions[1]");
        assert_eq!(message, "evidence is shared only through an evidence_sharing decision", "{c}");
    }
    assert!(w.incident.decisions.is_empty());
    act(&mut w, "resp", with_actions("evidence_sharing", "Share", vec![notify(), share_1()]))
        .expect("an evidence_sharing decision may carry it");
    assert_eq!(w.decision(1).actions[1].spec, share_1());
}

#[test]
fn a_share_names_a_registered_engaged_party_and_registered_items() {
    let mut w = sharing_world();
    let one = [blob(1)];
    let propose_share = |party: &str, items: &[String], hours: u32| {
        let items: Vec<&str> = items.iter().map(String::as_str).collect();
        with_actions("evidence_sharing", "Share", vec![share(party, &items, hours)])
    };
    let cases: Vec<(C, &str, String)> = vec![
        (propose_share("ghost", &one, 24), "actions[0].party", "there is no registered party 'ghost'".into()),
        (propose_share("Acme Corp", &one, 24), "actions[0].party", "'Acme Corp' is not a party id".into()),
        (propose_share("../acme", &one, 24), "actions[0].party", "'../acme' is not a party id".into()),
        (propose_share("acme", &[blob(9)], 24), "actions[0].items", format!("INC-1 has no evidence {}", blob(9))),
        (
            propose_share("acme", &[blob(1), blob(9)], 24),
            "actions[0].items",
            format!("INC-1 has no evidence {}", blob(9)),
        ),
        (propose_share("acme", &[], 24), "actions[0].items", "name between 1 and 100 evidence items by SHA-256".into()),
        (
            propose_share("acme", &(0..=MAX_SHARED_ITEMS as u64).map(blob).collect::<Vec<_>>(), 24),
            "actions[0].items",
            "name between 1 and 100 evidence items by SHA-256".into(),
        ),
        (
            propose_share("acme", &["../../etc/passwd".to_owned()], 24),
            "actions[0].items",
            "'../../etc/passwd' is not a SHA-256".into(),
        ),
        (
            propose_share("acme", &[blob(1).to_uppercase()], 24),
            "actions[0].items",
            format!("'{}' is not a SHA-256", blob(1).to_uppercase()),
        ),
        (propose_share("acme", &[blob(1), blob(1)], 24), "actions[0].items", "names an item twice".into()),
        (
            propose_share("acme", &one, 0),
            "actions[0].expires_in_hours",
            "a share link lives between 1 and 720 hours".into(),
        ),
        (
            propose_share("acme", &one, MAX_SHARE_HOURS + 1),
            "actions[0].expires_in_hours",
            "a share link lives between 1 and 720 hours".into(),
        ),
    ];
    for (command, field, message) in cases {
        assert_eq!(invalid(act(&mut w, "resp", command), field), message, "{field}");
    }
    register_party(&mut w, "globex");
    assert_eq!(
        invalid(act(&mut w, "resp", propose_share("globex", &one, 24)), "actions[0].party"),
        "globex is not engaged on INC-1; engage them first"
    );
    assert!(w.incident.decisions.is_empty());

    act(&mut w, "resp", propose_share("acme", &one, 1)).expect("one hour is the shortest link");
    act(&mut w, "resp", propose_share("acme", &[blob(1), blob(2)], MAX_SHARE_HOURS)).expect("720 hours the longest");
    assert_eq!(w.decision(2).actions[0].spec, share("acme", &[&blob(1), &blob(2)], 720));
}

#[test]
fn a_share_may_name_up_to_the_limit_of_items() {
    let mut w = sharing_world();
    let items: Vec<String> = (1..=MAX_SHARED_ITEMS as u64).map(blob).collect();
    for item in &items[2..] {
        act(&mut w, "tech", register(item, "log")).expect("registered");
    }
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    act(&mut w, "resp", share_decision(&refs, 24)).expect("the limit is accepted");
    assert_eq!(w.decision(1).actions[0].spec, share("acme", &refs, 24));
}

#[test]
fn a_playbook_cannot_carry_a_share_action() {
    let policy = Policy::default_policy();
    let file = |decision_in_step: bool, action: &str| {
        let decision = format!(
            "class = \"evidence_sharing\"\ntitle = \"Share the logs with Acme\"\nactions = [\n    {action},\n]\n"
        );
        let (preapproved, step) = if decision_in_step {
            (String::new(), format!("\n[steps.decision]\n{decision}"))
        } else {
            (format!("[[preapproved]]\n{decision}\n"), String::new())
        };
        format!(
            "id = \"exfiltration\"\ntitle = \"Data exfiltration\"\nversion = \"1.0.0\"\napproved_by = \"CISO\"\n\
             approved_at = \"2026-11-01\"\nsummary = \"Share logs with the MSP at once.\"\n\
             required_roles = [\"commander\"]\n\n{preapproved}[[steps]]\ntitle = \"Call Acme\"\nrole = \"commander\"\n\
             due_minutes = 30\n{step}"
        )
    };
    let share_action =
        format!("{{ connector = \"share\", party = \"acme\", items = [\"{}\"], expires_in_hours = 24 }}", blob(1));
    let notify_action = "{ connector = \"notify\", message = \"Acme is being told\" }";
    for (in_step, field) in [(false, "preapproved[0].actions[0]"), (true, "steps[0].decision.actions[0]")] {
        let fine = Playbook::parse(&file(in_step, notify_action), &policy).expect("the same file with notify loads");
        assert_eq!(fine.id, "exfiltration");
        let source = file(in_step, &share_action);
        let error = Playbook::parse(&source, &policy).expect_err("a share action is refused");
        assert_eq!(
            error.message,
            format!(
                "{field}: a playbook cannot share evidence; sharing needs an evidence_sharing decision naming the party and the items"
            )
        );
        let offset = source.find("{ connector = \"share\"").expect("in the file");
        assert_eq!(error.line, source[..offset].matches('\n').count() + 1, "{error}");
    }
    let mut org = org();
    let before = org.state.playbooks.len();
    let message = invalid(org.act(ADMIN, O::AddPlaybook { source: file(false, &share_action) }), "playbook");
    says(&message, &["preapproved[0].actions[0]: a playbook cannot share evidence"]);
    assert_eq!(org.state.playbooks.len(), before);
}

// ---------------------------------------------------------------------------------------------
// Shares: approval and execution.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_share_is_created_only_once_legal_and_the_commander_have_approved() {
    let mut w = sharing_world();
    forbidden(act(&mut w, "obs", share_decision(&[&blob(1)], 24)), "classes.evidence_sharing.propose");
    act(&mut w, "resp", share_decision(&[&blob(1)], 24)).expect("any participant proposes sharing");
    assert_eq!(w.decision(1).state, DecisionState::Proposed);
    assert_eq!(conflict(system(&mut w, run_share(1, 0))), "D-1 is not approved, so its actions do not run");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    assert_eq!(w.decision(1).state, DecisionState::Proposed);
    assert_eq!(conflict(system(&mut w, run_share(1, 0))), "D-1 is not approved, so its actions do not run");
    assert!(w.incident.shares.is_empty());
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
    system(&mut w, run_share(1, 0)).expect("the share runs");
    assert_eq!(w.incident.shares.len(), 1);

    // The commander proposing stands for the commander, and still needs legal: two people.
    act(&mut w, "cmd", share_decision(&[&blob(2)], 24)).expect("the commander proposes");
    forbidden(act(&mut w, "cmd", approve(2)), "people");
    forbidden(act(&mut w, "tech", approve(2)), "classes.evidence_sharing.approve");
    assert_eq!(conflict(system(&mut w, run_share(2, 0))), "D-2 is not approved, so its actions do not run");
    act(&mut w, "lee", approve(2)).expect("legal approves");
    system(&mut w, run_share(2, 0)).expect("the share runs");
    assert_eq!(
        w.incident.shares.iter().map(|s| (s.id, s.decision)).collect::<Vec<_>>(),
        [(ShareId(1), DecisionId(1)), (ShareId(2), DecisionId(2))]
    );

    // A rejected or withdrawn decision never shares.
    act(&mut w, "resp", share_decision(&[&blob(2)], 24)).expect("proposed");
    act(&mut w, "lee", reject(3, "not to an MSP")).expect("legal rejects");
    assert_eq!(conflict(system(&mut w, run_share(3, 0))), "D-3 is not approved, so its actions do not run");
    assert_eq!(w.incident.shares.len(), 2);
}

#[test]
fn running_an_approved_share_action_writes_its_start_the_share_and_its_success_at_once() {
    let mut w = sharing_world();
    act(&mut w, "resp", with_actions("evidence_sharing", "Share", vec![share("acme", &[&blob(1)], 24), notify()]))
        .expect("proposed");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    let message = invalid(system(&mut w, start(1, 0)), "action");
    assert_eq!(message, "action 1 of D-1 creates a share link; run it as a share action");
    assert_eq!(invalid(system(&mut w, run_share(1, 1)), "action"), "action 2 of D-1 is not a share action");
    assert_eq!(invalid(system(&mut w, run_task(1, 0)), "action"), "action 1 of D-1 is not a task action");
    assert_eq!(not_found(system(&mut w, run_share(1, 5))), "D-1 has no action 6");
    assert_eq!(not_found(system(&mut w, run_share(9, 0))), "INC-1 has no decision D-9");
    assert!(w.incident.shares.is_empty());

    let entries = system(&mut w, run_share(1, 0)).expect("the share runs");
    assert_eq!(
        entries.iter().map(|e| (e.kind.as_str(), &e.actor, e.at)).collect::<Vec<_>>(),
        [
            ("action.started", &worker(), at(w.org.clock)),
            ("share.created", &worker(), at(w.org.clock)),
            ("action.succeeded", &worker(), at(w.org.clock))
        ]
    );
    assert_eq!(
        entries[1].body,
        format!(
            r#"{{"action":0,"decision":"D-1","expires_in_hours":24,"items":["{}"],"party":"acme","share":"SH-1"}}"#,
            blob(1)
        )
    );
    let created = entries[1].at;
    let expires = at(w.org.clock + 24 * 3600);
    let s = w.incident.share(ShareId(1)).expect("SH-1 exists");
    assert_eq!(
        (s.id, s.decision, s.party.as_str(), s.items.clone(), s.created_at, s.expires_at, s.revoked.is_none(), s.uses),
        (ShareId(1), DecisionId(1), "acme", vec![blob(1)], created, expires, true, 0)
    );
    assert!(s.is_live(created) && s.is_live(at(w.org.clock + 24 * 3600 - 1)) && !s.is_live(expires));
    let action = &w.decision(1).actions[0];
    assert_eq!(
        (action.status, action.attempts, action.detail.clone()),
        (ActionStatus::Succeeded, 1, Some(format!("created SH-1 for acme, live until {expires}")))
    );
    assert_eq!(w.decision(1).actions[1].status, ActionStatus::Pending);
    assert_eq!(conflict(system(&mut w, run_share(1, 0))), "action 1 of D-1 is not waiting to run");
    assert_eq!(w.incident.shares.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Shares: using, revoking and expiring links.
// ---------------------------------------------------------------------------------------------

#[test]
fn each_use_of_a_live_link_is_a_custody_entry_written_by_the_system() {
    let mut w = shared_world(24);
    let first = system(&mut w, share_used(1, &blob(1))).expect("acme fetches the log");
    assert_eq!((first.len(), first[0].kind.as_str(), &first[0].actor), (1, "evidence.accessed", &worker()));
    assert_eq!(
        first[0].body,
        format!(r#"{{"purpose":"fetched by acme through SH-1","sha256":"{}","share":"SH-1"}}"#, blob(1))
    );
    act(&mut w, "lee", access(&blob(1), "check what acme received")).expect("legal reads");
    let second = system(&mut w, share_used(1, &blob(1))).expect("acme fetches it again");
    let item = w.incident.evidence_item(&blob(1)).expect("registered");
    assert_eq!(
        item.custody.iter().map(custody).collect::<Vec<_>>(),
        [
            (worker(), first[0].at, "fetched by acme through SH-1", Some(ShareId(1))),
            (by("lee"), at(w.org.clock - 1), "check what acme received", None),
            (worker(), second[0].at, "fetched by acme through SH-1", Some(ShareId(1))),
        ]
    );
    assert_eq!(w.incident.share(ShareId(1)).expect("SH-1").uses, 2);
}

#[test]
fn a_link_reaches_exactly_its_items() {
    let mut w = shared_world(24);
    let before = w.record.len();
    for (share, item) in [(1, blob(2)), (1, blob(9)), (2, blob(1)), (0, blob(1))] {
        assert_eq!(not_found(system(&mut w, share_used(share, &item))), "this link does not reach that item");
    }
    assert_eq!(w.record.len(), before);
    assert_eq!(w.incident.share(ShareId(1)).expect("SH-1").uses, 0);
    assert!(w.incident.evidence.iter().all(|e| e.custody.is_empty()));
}

#[test]
fn a_revoked_link_stops_working_at_once_and_is_revoked_once() {
    let mut w = shared_world(24);
    system(&mut w, share_used(1, &blob(1))).expect("the link works");
    for name in ["tech", "resp", "cora", "exec"] {
        let message = forbidden(act(&mut w, name, revoke(1, None)), "actions.third_parties");
        says(&message, &["revoking share links needs the commander, legal or liaison role"]);
    }
    let entries = act(&mut w, "lee", revoke(1, Some("they have what they need"))).expect("legal revokes");
    assert_eq!(entries[0].kind, "share.revoked");
    let revoked = w.incident.share(ShareId(1)).expect("SH-1").revoked.clone().expect("revoked");
    assert_eq!((revoked.by, revoked.at, revoked.text.as_str()), (by("lee"), entries[0].at, "they have what they need"));
    assert!(!w.incident.share(ShareId(1)).expect("SH-1").is_live(at(w.org.clock + 1)));
    let before = w.record.len();
    assert_eq!(
        conflict(system(&mut w, share_used(1, &blob(1)))),
        format!("this link was revoked at {}", entries[0].at)
    );
    assert_eq!(
        conflict(act(&mut w, "cmd", revoke(1, None))),
        format!("SH-1 was already revoked by lee at {}", entries[0].at)
    );
    assert_eq!(not_found(act(&mut w, "cmd", revoke(9, None))), "INC-1 has no share SH-9");
    assert_eq!(w.record.len(), before);
    let share = w.incident.share(ShareId(1)).expect("SH-1");
    assert_eq!((share.uses, w.incident.evidence[0].custody.len()), (1, 1));
    let error = fold_refuses(
        &w,
        w.head(),
        &by("cmd"),
        IncidentEvent::ShareRevoked(ShareRevoked { share: ShareId(1), reason: None }),
    );
    assert_eq!(error.reason, "the share is already revoked");
}

#[test]
fn a_link_works_until_its_expiry_and_not_a_second_longer() {
    let mut w = shared_world(2);
    let share = w.incident.share(ShareId(1)).expect("SH-1").clone();
    assert_eq!(share.expires_at, share.created_at.plus_seconds(2 * 3600));
    // The next entry is stamped one second after the clock: the last second the link works.
    w.org.clock += 2 * 3600 - 2;
    let last = system(&mut w, share_used(1, &blob(1))).expect("one second before expiry the link works");
    assert_eq!(last[0].at, share.expires_at.plus_seconds(-1));
    let before = w.record.len();
    assert_eq!(conflict(system(&mut w, share_used(1, &blob(1)))), format!("this link expired at {}", share.expires_at));
    w.org.clock += 3600 * 24;
    assert_eq!(conflict(system(&mut w, share_used(1, &blob(1)))), format!("this link expired at {}", share.expires_at));
    assert_eq!(w.record.len(), before);
    assert_eq!(w.incident.share(ShareId(1)).expect("SH-1").uses, 1);
    // An expired link can still be revoked, so the record says nobody may revive it.
    act(&mut w, "cmd", revoke(1, Some("expired"))).expect("revoked");
}

#[test]
fn closing_the_incident_leaves_no_link_that_works_and_cannot_be_revoked() {
    let mut w = shared_world(MAX_SHARE_HOURS);
    review(&mut w);
    act(&mut w, "cmd", propose("close", "Close INC-1")).expect("the commander proposes closing");
    act(&mut w, "exec", approve(2)).expect("the executive approves closing");
    assert_eq!(w.incident.phase, sitrep_core::Phase::Closed);
    // Either the link dies with the incident, or it can still be revoked: never neither.
    let used = system(&mut w, share_used(1, &blob(1)));
    let revoked = act(&mut w, "cmd", revoke(1, Some("incident closed")));
    assert!(
        used.is_err() || revoked.is_ok(),
        "SH-1 still serves evidence after close ({used:?}) and cannot be revoked ({revoked:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// Shares: forged entries.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_fold_refuses_a_share_that_no_running_share_action_created() {
    let mut w = sharing_world();
    let one: &[&str] = &[&blob(1)];
    // No decision at all, then a decision still proposed.
    assert_eq!(fold_refuses(&w, w.head(), &worker(), share_created(1, "acme", one, 24)).reason, "unknown action");
    act(&mut w, "resp", share_decision(one, 24)).expect("proposed");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    assert_eq!(fold_refuses(&w, w.head(), &worker(), share_created(1, "acme", one, 24)).reason, "unknown action");
    // Approved but not running.
    act(&mut w, "cmd", approve(1)).expect("the commander approves");
    let error = fold_refuses(&w, w.head(), &worker(), share_created(1, "acme", one, 24));
    assert_eq!(error.reason, "a share is created only by its running share action");
    // Running, but the share is not the one the decision approved.
    let started = IncidentEvent::ActionStarted(ActionStarted { decision: DecisionId(1), action: 0, attempt: 1 });
    append(&mut w, &worker(), &[started]).expect("the worker starts the action");
    for forged in [
        share_created(1, "acme", &[&blob(1), &blob(2)], 24),
        share_created(1, "acme", &[&blob(2)], 24),
        share_created(1, "globex", one, 24),
        share_created(1, "acme", one, MAX_SHARE_HOURS),
    ] {
        let error = fold_refuses(&w, w.head(), &worker(), forged);
        assert_eq!(error.reason, "a share is created only by its running share action");
    }
    let error = fold_refuses(&w, w.head(), &worker(), share_created(2, "acme", one, 24));
    assert_eq!(error.reason, "share ids must be sequential");
    // A person cannot write a share at all.
    let error = fold_refuses(&w, w.head(), &by("cmd"), share_created(1, "acme", one, 24));
    assert_eq!(error.reason, "only the system writes this kind of entry");
    append(&mut w, &worker(), &[share_created(1, "acme", one, 24)]).expect("exactly the approved share folds");
    assert_eq!(w.incident.shares.len(), 1);
}

#[test]
fn the_fold_refuses_a_use_of_a_link_that_is_revoked_expired_or_out_of_scope() {
    let mut w = shared_world(24);
    let error = fold_refuses(&w, w.head(), &worker(), accessed(&blob(2), Some(1)));
    assert_eq!(error.reason, "the share does not reach this item at this time");
    assert_eq!(fold_refuses(&w, w.head(), &worker(), accessed(&blob(1), Some(2))).reason, "unknown share");
    let error = fold_refuses(&w, w.head(), &by("lee"), accessed(&blob(1), Some(1)));
    assert_eq!(error.reason, "only the system writes this kind of entry");
    append(&mut w, &worker(), &[accessed(&blob(1), Some(1))]).expect("an in-scope use of a live link folds");
    act(&mut w, "cmd", revoke(1, None)).expect("revoked");
    let error = fold_refuses(&w, w.head(), &worker(), accessed(&blob(1), Some(1)));
    assert_eq!(error.reason, "the share does not reach this item at this time");

    // `fold_refuses` stamps its entry at at(9_999), after a one-hour link has expired.
    let w = shared_world(1);
    assert!(w.incident.share(ShareId(1)).expect("SH-1").expires_at < at(9_999));
    let error = fold_refuses(&w, w.head(), &worker(), accessed(&blob(1), Some(1)));
    assert_eq!(error.reason, "the share does not reach this item at this time");
}

#[test]
fn the_fold_refuses_a_share_action_outside_an_evidence_sharing_decision() {
    let w = sharing_world();
    // A containment decision the commander alone approves, carrying a share: decide never writes
    // it, and it would let evidence out without legal's approval.
    let forged = proposed(
        &w,
        "containment",
        vec![share("acme", &[&blob(1)], 24)],
        Some("commander"),
        DecisionState::Approved,
        None,
    );
    let error = fold_refuses(&w, w.head(), &by("cmd"), forged);
    says(&error.reason, &["evidence_sharing"]);
}

// ---------------------------------------------------------------------------------------------
// Statements: drafting and revising.
// ---------------------------------------------------------------------------------------------

#[test]
fn drafting_needs_the_statements_role_and_records_the_text_and_its_hash() {
    let mut w = world();
    for (name, held) in [("tech", "tech_lead"), ("exec", "executive"), ("resp", "responder"), ("obs", "observer")] {
        let message = forbidden(act(&mut w, name, draft(Audience::Customers, V1)), "actions.statements");
        assert_eq!(
            message,
            format!(
                "drafting statements needs the comms, commander or legal role; you hold {held} (comms: cora; commander: cmd; legal: lee)"
            )
        );
    }
    assert!(w.incident.statements.is_empty());
    let entries = act(&mut w, "cora", draft(Audience::Customers, V1)).expect("comms drafts");
    assert_eq!(entries[0].kind, "statement.drafted");
    let st = w.incident.statement(StatementId(1)).expect("ST-1");
    assert_eq!((st.id, st.audience, st.title.as_str()), (StatementId(1), Audience::Customers, "Security notice"));
    let v1 = &st.versions[0];
    assert_eq!(
        (v1.version, v1.text.as_str(), v1.sha256.clone(), &v1.by, v1.at),
        (1, V1, sha256_hex(V1.as_bytes()), &by("cora"), entries[0].at)
    );
    assert_eq!(st.latest().version, 1);
    assert!(st.publications.is_empty());
    act(&mut w, "lee", draft(Audience::Regulator, "Notification under GDPR Art. 33.")).expect("legal drafts");
    act(&mut w, "cmd", draft(Audience::Internal, "All staff: rotate your keys.")).expect("the commander drafts");
    let drafted: Vec<(StatementId, Audience, Actor)> =
        w.incident.statements.iter().map(|s| (s.id, s.audience, s.versions[0].by.clone())).collect();
    assert_eq!(
        drafted,
        [
            (StatementId(1), Audience::Customers, by("cora")),
            (StatementId(2), Audience::Regulator, by("lee")),
            (StatementId(3), Audience::Internal, by("cmd"))
        ]
    );
    assert_eq!(invalid(act(&mut w, "cora", draft(Audience::Press, "  ")), "text"), "must not be empty");
    says(&invalid(act(&mut w, "cora", draft(Audience::Press, "safe\u{202E}")), "text"), &["bidirectional formatting"]);
    assert_eq!(w.incident.statements.len(), 3);
}

#[test]
fn revising_adds_a_version_with_its_own_hash_and_an_identical_text_is_not_a_revision() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("drafted");
    forbidden(act(&mut w, "tech", revise(1, V2)), "actions.statements");
    let entries = act(&mut w, "lee", revise(1, V2)).expect("legal revises");
    assert_eq!(entries[0].kind, "statement.revised");
    assert_eq!(
        entries[0].body,
        format!(r#"{{"sha256":"{}","statement":"ST-1","text":"{V2}","version":2}}"#, sha256_hex(V2.as_bytes()))
    );
    let st = w.incident.statement(StatementId(1)).expect("ST-1");
    let versions: Vec<(u32, &str, String, Actor)> =
        st.versions.iter().map(|v| (v.version, v.text.as_str(), v.sha256.clone(), v.by.clone())).collect();
    assert_eq!(
        versions,
        [(1, V1, sha256_hex(V1.as_bytes()), by("cora")), (2, V2, sha256_hex(V2.as_bytes()), by("lee"))]
    );
    assert_eq!(st.latest().version, 2);
    let before = w.record.len();
    assert_eq!(conflict(act(&mut w, "cora", revise(1, V2))), "ST-1 v2 already says exactly this");
    assert_eq!(not_found(act(&mut w, "cora", revise(9, V2))), "INC-1 has no statement ST-9");
    assert_eq!(invalid(act(&mut w, "cora", revise(1, "")), "text"), "must not be empty");
    assert_eq!(w.record.len(), before);
}

// ---------------------------------------------------------------------------------------------
// Statements: the approval path.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_statement_is_proposed_only_through_the_class_its_audience_requires() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Customers, "To our customers")).expect("ST-1");
    act(&mut w, "lee", draft(Audience::Regulator, "To the ICO")).expect("ST-2");
    act(&mut w, "cora", draft(Audience::Press, "To the press")).expect("ST-3");
    act(&mut w, "cmd", draft(Audience::Internal, "To all staff")).expect("ST-4");
    act(&mut w, "cora", draft(Audience::Partners, "To our partners")).expect("ST-5");
    let cases = [
        (
            "cora",
            "external_statement",
            1,
            "a statement to customers is approved through customer_notification, not external_statement",
        ),
        (
            "lee",
            "customer_notification",
            2,
            "a statement to regulator is approved through regulatory_notification, not customer_notification",
        ),
        (
            "cora",
            "customer_notification",
            3,
            "a statement to press is approved through external_statement, not customer_notification",
        ),
        (
            "cmd",
            "regulatory_notification",
            4,
            "a statement to internal is approved through external_statement, not regulatory_notification",
        ),
        (
            "cmd",
            "customer_notification",
            5,
            "a statement to partners is approved through external_statement, not customer_notification",
        ),
        (
            "cmd",
            "containment",
            1,
            "a statement to customers is approved through customer_notification, not containment",
        ),
    ];
    for (name, c, statement, message) in cases {
        assert_eq!(invalid(act(&mut w, name, propose_statement(c, statement)), "class"), message);
    }
    assert_eq!(
        not_found(act(&mut w, "cmd", propose_statement("external_statement", 9))),
        "INC-1 has no statement ST-9"
    );
    assert!(w.incident.decisions.is_empty());

    let texts = ["To our customers", "To the ICO", "To the press", "To all staff", "To our partners"];
    for (n, audience) in Audience::ALL.iter().enumerate() {
        let st = w.incident.statements.iter().position(|s| s.audience == *audience).expect("drafted") as u64 + 1;
        act(&mut w, "cmd", propose_statement(audience.class(), st)).expect("the right class is accepted");
        let d = w.decision(n as u64 + 1);
        assert_eq!(d.class, class(audience.class()));
        assert_eq!(d.statement, Some(statement_ref(st, 1, texts[st as usize - 1])), "{}", audience.as_str());
    }
    let classes: Vec<(&str, &str)> = Audience::ALL.iter().map(|a| (a.as_str(), a.class())).collect();
    assert_eq!(
        classes,
        [
            ("internal", "external_statement"),
            ("customers", "customer_notification"),
            ("regulator", "regulatory_notification"),
            ("press", "external_statement"),
            ("partners", "external_statement")
        ]
    );
}

#[test]
fn a_decision_is_bound_to_the_latest_version_when_proposed() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("drafted");
    act(&mut w, "cora", revise(1, V2)).expect("revised");
    let entries = act(&mut w, "cora", propose_statement("external_statement", 1)).expect("proposed");
    assert!(
        entries[0].body.contains(&format!(
            r#""statement":{{"sha256":"{}","statement":"ST-1","version":2}}"#,
            sha256_hex(V2.as_bytes())
        )),
        "{}",
        entries[0].body
    );
    assert_eq!(w.decision(1).statement, Some(statement_ref(1, 2, V2)));
}

#[test]
fn publishing_follows_approval_and_a_changed_text_needs_a_new_approval() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("drafted");
    assert_eq!(
        forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve"),
        "ST-1 v1 has no approved external_statement decision; propose one bound to it"
    );
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("comms proposes");
    let message = forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve");
    assert_eq!(message, "ST-1 v1 is not approved yet: D-1 legal has not approved yet");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    assert_eq!(w.decision(1).state, DecisionState::Approved);

    let entries = act(&mut w, "cora", publish(1, "status page")).expect("comms publishes");
    assert_eq!(entries[0].kind, "statement.published");
    assert_eq!(publication(&w, 1, 0), (1, sha256_hex(V1.as_bytes()), "status page".into(), DecisionId(1), by("cora")));
    assert_eq!(w.incident.statement(StatementId(1)).expect("ST-1").publications[0].at, entries[0].at);
    assert_eq!(conflict(act(&mut w, "cmd", publish(1, "status page"))), "ST-1 v1 is already published on status page");
    act(&mut w, "cmd", publish(1, "press release")).expect("another channel is another publication");
    assert_eq!(publication(&w, 1, 1), (1, sha256_hex(V1.as_bytes()), "press release".into(), DecisionId(1), by("cmd")));

    act(&mut w, "cora", revise(1, V2)).expect("revised after approval");
    let before = w.record.len();
    let message = forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve");
    assert_eq!(
        message,
        "ST-1 changed after D-1 approved v1; v2 needs its own external_statement approval: propose one"
    );
    let message = forbidden(act(&mut w, "cora", publish(1, "twitter")), "classes.external_statement.approve");
    says(&message, &["changed after D-1 approved v1", "needs its own external_statement approval"]);
    // Publishing what the caller read, when it is no longer the latest, is a conflict.
    assert_eq!(
        conflict(act(&mut w, "cora", publish_read(1, "status page", V1))),
        "ST-1 changed since you read it: the latest is v2; read it again before publishing"
    );
    assert_eq!(w.record.len(), before);

    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("a new approval for v2");
    assert_eq!(w.decision(2).statement, Some(statement_ref(1, 2, V2)));
    let message =
        forbidden(act(&mut w, "cora", publish_read(1, "status page", V2)), "classes.external_statement.approve");
    assert_eq!(message, "ST-1 v2 is not approved yet: D-2 legal has not approved yet");
    act(&mut w, "lee", approve(2)).expect("legal approves v2");
    act(&mut w, "cora", publish_read(1, "status page", V2)).expect("v2 is published where v1 was");
    assert_eq!(publication(&w, 1, 2), (2, sha256_hex(V2.as_bytes()), "status page".into(), DecisionId(2), by("cora")));
    assert_eq!(w.incident.statement(StatementId(1)).expect("ST-1").publications.len(), 3);
}

#[test]
fn approving_a_decision_after_the_text_changed_does_not_let_the_new_text_out() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("drafted");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("proposed for v1");
    act(&mut w, "cora", revise(1, V2)).expect("revised while the decision is open");
    let message = forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve");
    assert_eq!(message, "ST-1 v2 has no approved external_statement decision; propose one bound to it");
    act(&mut w, "lee", approve(1)).expect("legal approves what it was shown: v1");
    assert_eq!(w.decision(1).statement, Some(statement_ref(1, 1, V1)));
    let message = forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve");
    assert_eq!(
        message,
        "ST-1 changed after D-1 approved v1; v2 needs its own external_statement approval: propose one"
    );
    assert!(w.incident.statement(StatementId(1)).expect("ST-1").publications.is_empty());
}

#[test]
fn only_holders_of_publish_statements_publish() {
    let mut w = world();
    act(&mut w, "lee", draft(Audience::Press, V1)).expect("legal drafts");
    act(&mut w, "cmd", propose_statement("external_statement", 1)).expect("the commander proposes");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    act(&mut w, "cora", approve(1)).expect("comms approves");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
    let message = forbidden(act(&mut w, "lee", publish(1, "status page")), "actions.publish_statements");
    assert_eq!(
        message,
        "publishing statements needs the comms or commander role; you hold legal (comms: cora; commander: cmd)"
    );
    for name in ["exec", "tech", "resp", "obs", OUTSIDER] {
        forbidden(act(&mut w, name, publish(1, "status page")), "actions.publish_statements");
    }
    assert!(w.incident.statement(StatementId(1)).expect("ST-1").publications.is_empty());
    assert_eq!(not_found(act(&mut w, "cora", publish(9, "status page"))), "INC-1 has no statement ST-9");
    invalid(act(&mut w, "cora", publish(1, "")), "channel");
    act(&mut w, "cora", publish(1, "status page")).expect("comms publishes");
}

#[test]
fn customer_and_regulator_statements_need_legal_and_an_executive() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Customers, "To our customers")).expect("ST-1");
    act(&mut w, "cora", propose_statement("customer_notification", 1)).expect("comms proposes");
    act(&mut w, "lee", approve(1)).expect("legal approves");
    let message = forbidden(act(&mut w, "cora", publish(1, "email")), "classes.customer_notification.approve");
    assert_eq!(message, "ST-1 v1 is not approved yet: D-1 executive has not approved yet");
    forbidden(act(&mut w, "cora", approve(1)), "people");
    act(&mut w, "exec", approve(1)).expect("the executive approves");
    act(&mut w, "cora", publish(1, "email")).expect("comms publishes");
    assert_eq!(publication(&w, 1, 0).3, DecisionId(1));

    act(&mut w, "lee", draft(Audience::Regulator, "To the ICO")).expect("ST-2");
    forbidden(
        act(&mut w, "cora", propose_statement("regulatory_notification", 2)),
        "classes.regulatory_notification.propose",
    );
    act(&mut w, "lee", propose_statement("regulatory_notification", 2)).expect("legal proposes");
    forbidden(act(&mut w, "lee", approve(2)), "people");
    let message = forbidden(act(&mut w, "cmd", publish(2, "ICO portal")), "classes.regulatory_notification.approve");
    assert_eq!(message, "ST-2 v1 is not approved yet: D-2 executive has not approved yet");
    act(&mut w, "exec", approve(2)).expect("the executive approves");
    act(&mut w, "cmd", publish(2, "ICO portal")).expect("the commander publishes");
    assert_eq!(
        publication(&w, 2, 0),
        (1, sha256_hex("To the ICO".as_bytes()), "ICO portal".into(), DecisionId(2), by("cmd"))
    );
}

#[test]
fn the_approvers_of_a_statement_are_distinct_people_holding_the_required_roles() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("ST-1");
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("comms proposes");
    assert_eq!(
        forbidden(act(&mut w, "cora", approve(1)), "people"),
        "you already stand behind D-1 (you proposed it) and a person counts once; legal has not approved yet (legal: lee)"
    );
    for name in ["exec", "cmd", "tech"] {
        forbidden(act(&mut w, name, approve(1)), "classes.external_statement.approve");
    }
    assert_eq!(w.decision(1).state, DecisionState::Proposed);
    forbidden(act(&mut w, "cora", publish(1, "status page")), "classes.external_statement.approve");

    // One person holding both comms and legal still counts once.
    act(&mut w, "cmd", assign("legal", "cora")).expect("cora also holds legal");
    act(&mut w, "cora", draft(Audience::Press, V2)).expect("ST-2");
    act(&mut w, "cora", propose_statement("external_statement", 2)).expect("cora proposes");
    let d2 = w.decision(2);
    assert_eq!(d2.state, DecisionState::Proposed);
    assert_eq!(d2.approvals.iter().map(|a| a.user.clone()).collect::<Vec<_>>(), [user("cora")]);
    forbidden(act(&mut w, "cora", approve(2)), "people");
    let message = forbidden(act(&mut w, "cora", publish(2, "status page")), "classes.external_statement.approve");
    says(&message, &["ST-2 v1 is not approved yet: D-2"]);
    act(&mut w, "lee", approve(2)).expect("a second person approves");
    assert_eq!(w.decision(2).state, DecisionState::Approved);
    act(&mut w, "cora", publish(2, "status page")).expect("published");

    // The two-role holder approving someone else's proposal also counts once.
    act(&mut w, "cmd", draft(Audience::Partners, "To our partners")).expect("ST-3");
    act(&mut w, "cmd", propose_statement("external_statement", 3)).expect("the commander proposes");
    act(&mut w, "cora", approve(3)).expect("cora approves once");
    assert_eq!(w.decision(3).state, DecisionState::Proposed);
    assert_eq!(
        forbidden(act(&mut w, "cora", approve(3)), "people").split(';').next(),
        Some("you already stand behind D-3 (you have approved it) and a person counts once")
    );
    forbidden(act(&mut w, "cmd", publish(3, "partner portal")), "classes.external_statement.approve");
    act(&mut w, "lee", approve(3)).expect("legal approves");
    let users: Vec<_> = w.decision(3).approvals.iter().map(|a| a.user.clone()).collect();
    assert_eq!((w.decision(3).state, users), (DecisionState::Approved, vec![user("cora"), user("lee")]));
    act(&mut w, "cmd", publish(3, "partner portal")).expect("published");
}

// ---------------------------------------------------------------------------------------------
// Statements: forged entries.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_fold_refuses_publishing_a_version_no_approved_decision_is_bound_to() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Press, V1)).expect("ST-1");
    let refused = "only the text an approved decision is bound to is published";
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V1, 1)).reason, refused);
    act(&mut w, "cora", propose_statement("external_statement", 1)).expect("D-1 proposed");
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V1, 1)).reason, refused);
    act(&mut w, "lee", approve(1)).expect("D-1 approved");
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V2, 1)).reason, refused);
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V1, 9)).reason, refused);
    assert_eq!(
        fold_refuses(&w, w.head(), &worker(), published(1, 1, V1, 1)).reason,
        "only people write this kind of entry"
    );
    // A decision of another class approving nothing does not let a text out either.
    act(&mut w, "cmd", propose("containment", "Isolate the runner")).expect("D-2 approved at once");
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V1, 2)).reason, refused);
    append(&mut w, &by("cora"), &[published(1, 1, V1, 1)]).expect("the approved text folds");

    act(&mut w, "cora", revise(1, V2)).expect("revised");
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), published(1, 2, V2, 1)).reason, refused);
    let error = fold_refuses(&w, w.head(), &by("cora"), published(1, 1, V1, 1));
    assert_eq!(error.reason, "only a statement's latest version is published");
}

#[test]
fn the_fold_refuses_a_statement_whose_recorded_hash_is_not_its_text_s() {
    let mut w = world();
    let drafted = |statement: u64, sha256: String| {
        IncidentEvent::StatementDrafted(StatementDrafted {
            statement: StatementId(statement),
            audience: Audience::Press,
            title: "Security notice".into(),
            text: V1.into(),
            sha256,
        })
    };
    let refused = "the recorded hash is not the text's";
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), drafted(1, sha256_hex(V2.as_bytes()))).reason, refused);
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), drafted(1, blob(1))).reason, refused);
    let error = fold_refuses(&w, w.head(), &by("cora"), drafted(2, sha256_hex(V1.as_bytes())));
    assert_eq!(error.reason, "statement ids must be sequential");
    append(&mut w, &by("cora"), &[drafted(1, sha256_hex(V1.as_bytes()))]).expect("a true hash folds");

    let revised = |version: u32, sha256: String| {
        IncidentEvent::StatementRevised(StatementRevised {
            statement: StatementId(1),
            version,
            text: V2.into(),
            sha256,
        })
    };
    assert_eq!(fold_refuses(&w, w.head(), &by("cora"), revised(2, sha256_hex(V1.as_bytes()))).reason, refused);
    let error = fold_refuses(&w, w.head(), &by("cora"), revised(3, sha256_hex(V2.as_bytes())));
    assert_eq!(error.reason, "statement versions must be sequential");
}

#[test]
fn the_fold_refuses_a_decision_bound_to_a_statement_through_the_wrong_class_or_a_missing_version() {
    let mut w = world();
    act(&mut w, "cora", draft(Audience::Customers, V1)).expect("ST-1");
    let bound = Some(statement_ref(1, 1, V1));
    let wrong = proposed(&w, "external_statement", vec![], Some("comms"), DecisionState::Proposed, bound.clone());
    let error = fold_refuses(&w, w.head(), &by("cora"), wrong);
    assert_eq!(error.reason, "a statement is approved through the class its audience requires");
    for (bound, reason) in [
        (statement_ref(1, 2, V1), "the decision is bound to a statement version that does not exist"),
        (statement_ref(1, 1, V2), "the decision is bound to a statement version that does not exist"),
        (statement_ref(9, 1, V1), "unknown statement"),
    ] {
        let forged = proposed(&w, "customer_notification", vec![], None, DecisionState::Proposed, Some(bound));
        assert_eq!(fold_refuses(&w, w.head(), &by("cora"), forged).reason, reason);
    }
    let right = proposed(&w, "customer_notification", vec![], None, DecisionState::Proposed, bound);
    append(&mut w, &by("cora"), &[right]).expect("the right class folds");
    assert_eq!(w.decision(1).statement, Some(statement_ref(1, 1, V1)));
}
