//! User text: every field a person writes keeps one character rule (`sitrep_core::text`).
//!
//! Issue 11 point 11: titles, facts, notes, reasons, names and labels accepted invisible
//! characters (U+200B, U+200D, U+2060, U+FEFF, U+2028), so "ad\u{200B}min approved" displayed as
//! "admin approved". Each field below is given text holding one such character and must be
//! refused naming the field and the character.

use crate::support;

use sitrep_core::decide::{Declare, IncidentCommand as C, OrgCommand as O};
use sitrep_core::events::{ActionSpec, Audience, Contact, EvidenceRegistered, FactStatus, Party};
use sitrep_core::ids::{ControlChangeId, LessonId, ShareId, StatementId};
use sitrep_core::text::{Hidden, hidden};
use sitrep_core::{DecisionId, FactId, OrgRole, Severity, TaskId};
use support::*;

/// Text with U+200B ZERO WIDTH SPACE, and what its refusal says.
const DISGUISED: &str = "ad\u{200B}min approved";
const SAYS: &str = "contains U+200B (ZERO WIDTH SPACE), an invisible character that can disguise text";

/// INC-1 with something for every command to act on: F-1, T-1, D-1 (proposed, bound to ST-2), ST-1, an
/// evidence item, the party `acme` engaged and shared with (SH-1, through D-2), ST-1 approved
/// for publishing (D-3), L-1 and CC-1.
fn busy_world() -> World {
    let mut w = world();
    act(&mut w, "resp", fact("seed")).expect("F-1");
    act(&mut w, "cmd", task("seed")).expect("T-1");
    act(&mut w, "cora", draft(Audience::Customers, "seed")).expect("ST-1");
    act(&mut w, "cora", draft(Audience::Press, "seed")).expect("ST-2");
    // A statement decision approves a text: D-1 is bound to ST-2.
    act(&mut w, "cora", propose_statement("external_statement", 2)).expect("D-1");
    act(&mut w, "tech", register(&blob(1), "trail.json")).expect("evidence");
    register_party(&mut w, "acme");
    register_party(&mut w, "globex");
    act(&mut w, "cmd", engage("acme")).expect("acme engaged");
    act(&mut w, "resp", with_actions("evidence_sharing", "Share", vec![share("acme", &[&blob(1)], 72)])).expect("D-2");
    act(&mut w, "lee", approve(2)).expect("legal approves");
    act(&mut w, "cmd", approve(2)).expect("the commander approves");
    system(&mut w, run_share(2, 0)).expect("SH-1");
    act(&mut w, "cora", propose_statement("customer_notification", 1)).expect("D-3");
    act(&mut w, "lee", approve(3)).expect("legal approves ST-1");
    act(&mut w, "exec", approve(3)).expect("the executive approves ST-1");
    act(&mut w, "cmd", lesson("seed")).expect("L-1");
    act(&mut w, "cmd", control_change(1, "cmd", "PR.AA-05")).expect("CC-1");
    w
}

fn evidence(change: impl FnOnce(&mut EvidenceRegistered)) -> C {
    let C::RegisterEvidence(mut registered) = register(&blob(2), "memory.dump") else { unreachable!() };
    change(&mut registered);
    C::RegisterEvidence(registered)
}

fn party(change: impl FnOnce(&mut Party)) -> O {
    let mut party = msp("initech");
    change(&mut party);
    O::RegisterParty(party)
}

fn proposal(title: &str, rationale: Option<String>, actions: Vec<ActionSpec>) -> C {
    C::Propose { class: class("containment"), title: title.into(), rationale, actions, statement: None, clocks: vec![] }
}

/// `(who, field, command)` for every incident command's text fields.
fn incident_cases(t: &str) -> Vec<(&'static str, &'static str, C)> {
    let s = || Some(t.to_owned());
    let t = || t.to_owned();
    vec![
        ("resp", "text", C::AddNote { text: t(), occurred: None }),
        (
            "resp",
            "text",
            C::LogFact { text: t(), source: None, status: FactStatus::Unverified, basis: None, occurred: None },
        ),
        (
            "resp",
            "source",
            C::LogFact { text: "x".into(), source: s(), status: FactStatus::Unverified, basis: None, occurred: None },
        ),
        (
            "tech",
            "basis",
            C::LogFact { text: "x".into(), source: None, status: FactStatus::Verified, basis: s(), occurred: None },
        ),
        ("tech", "basis", C::VerifyFact { fact: FactId(1), basis: t() }),
        ("tech", "basis", C::DisproveFact { fact: FactId(1), basis: t() }),
        ("cmd", "reason", C::SetSeverity { severity: Severity::Sev1, reason: s() }),
        ("resp", "title", C::CreateTask { title: t(), owner: None, due: None }),
        ("cmd", "note", C::CompleteTask { task: TaskId(1), note: s() }),
        ("cmd", "note", C::CancelTask { task: TaskId(1), note: s() }),
        ("cmd", "reason", C::BlockTask { task: TaskId(1), reason: t() }),
        ("cmd", "title", proposal(&t(), None, vec![])),
        ("cmd", "rationale", proposal("x", s(), vec![])),
        (
            "cmd",
            "actions[0].title",
            proposal("x", None, vec![ActionSpec::Task { title: t(), owner_role: None, due_in_minutes: None }]),
        ),
        ("cmd", "actions[1].message", proposal("x", None, vec![notify(), ActionSpec::Notify { message: s() }])),
        ("lee", "note", C::Approve { decision: DecisionId(1), note: s() }),
        ("lee", "note", C::Reject { decision: DecisionId(1), note: t() }),
        ("cora", "note", C::Withdraw { decision: DecisionId(1), note: s() }),
        ("cmd", "inputs.key_id", run_playbook("leaked-secret", &[("key_id", &t()), ("provider", "AWS")])),
        (
            "cmd",
            "inputs.repository",
            run_playbook("leaked-secret", &[("key_id", "AKIA1"), ("provider", "AWS"), ("repository", &t())]),
        ),
        ("tech", "source", evidence(|e| e.source = s())),
        ("tech", "collected_by", evidence(|e| e.collected_by = s())),
        ("tech", "declared_type", evidence(|e| e.declared_type = s())),
        ("lee", "purpose", access(&blob(1), &t())),
        ("cmd", "reason", C::EngageParty { party: "globex".into(), reason: s() }),
        ("cmd", "reason", C::RevokeShare { share: ShareId(1), reason: s() }),
        ("cora", "title", C::DraftStatement { audience: Audience::Press, title: t(), text: "x".into() }),
        ("cora", "text", C::DraftStatement { audience: Audience::Press, title: "x".into(), text: t() }),
        ("cora", "text", C::ReviseStatement { statement: StatementId(1), text: t() }),
        (
            "cora",
            "channel",
            C::PublishStatement { statement: StatementId(1), channel: t(), sha256: None, outlet_for: vec![] },
        ),
        ("cmd", "what_happened", C::RecordLesson { what_happened: t(), why: "x".into(), change: "x".into() }),
        ("cmd", "why", C::RecordLesson { what_happened: "x".into(), why: t(), change: "x".into() }),
        ("cmd", "change", C::RecordLesson { what_happened: "x".into(), why: "x".into(), change: t() }),
        (
            "cmd",
            "title",
            C::PlanControlChange {
                lesson: LessonId(1),
                title: t(),
                owner: user("cmd"),
                due: at(86_400),
                csf: "PR.AA-05".into(),
            },
        ),
        ("cmd", "note", C::CompleteControlChange { change: ControlChangeId(1), note: s() }),
        ("cmd", "note", C::CancelControlChange { change: ControlChangeId(1), note: t() }),
        ("cmd", "summary", C::CompleteReview { summary: t() }),
        (
            "cmd",
            "basis",
            C::RecordDetermination { determination: "personal_data_breach".into(), basis: t(), aware_at: None },
        ),
    ]
}

/// `(field, declaration)` for every text field of a declaration.
fn declare_cases(t: &str) -> Vec<(&'static str, Declare)> {
    let base = || declaration("x", &STAFF[1..]);
    let playbook =
        |given: &[(&str, &str)]| Declare { playbook: Some("leaked-secret".into()), inputs: inputs(given), ..base() };
    vec![
        ("title", declaration(t, &STAFF[1..])),
        ("scope", Declare { scope: vec![t.to_owned()], ..base() }),
        ("inputs.provider", playbook(&[("key_id", "AKIA1"), ("provider", t)])),
    ]
}

/// `(field, command)` for every text field of an organisation command, as the admin.
fn org_cases(t: &str) -> Vec<(&'static str, O)> {
    let s = || Some(t.to_owned());
    let contact = |change: fn(&mut Contact, String)| {
        let t = t.to_owned();
        party(move |p| change(&mut p.contacts[0], t))
    };
    vec![
        ("display_name", O::AddUser { user: user("newbie"), display_name: s(), org_role: OrgRole::Member }),
        ("reason", O::DisableUser { user: user("obs"), reason: s() }),
        (
            "label",
            O::IssueToken { user: user("obs"), sha256: token(99), expires_at: None, label: s(), minted_by: None },
        ),
        ("name", party(|p| p.name = t.to_owned())),
        ("contacts[0].name", contact(|c, t| c.name = t)),
        ("contacts[0].role", contact(|c, t| c.role = Some(t))),
        ("contacts[0].email", contact(|c, t| c.email = Some(t))),
        ("contacts[0].phone", contact(|c, t| c.phone = Some(t))),
        ("operates", party(|p| p.operates = Some(t.to_owned()))),
        ("authority[2]", party(|p| p.authority.push(t.to_owned()))),
        ("sharing_rule", party(|p| p.sharing_rule = Some(t.to_owned()))),
        ("name", O::UpdateParty(Party { name: t.to_owned(), ..msp("acme") })),
    ]
}

#[test]
fn every_user_text_field_refuses_an_invisible_character_naming_the_field_and_the_character() {
    let mut w = busy_world();
    for (who, field, command) in incident_cases(DISGUISED) {
        let what = format!("{command}");
        assert_eq!(invalid(act(&mut w, who, command), field), SAYS, "{what}: {field}");
    }
    for (field, command) in declare_cases(DISGUISED) {
        assert_eq!(invalid(declare(org(), "cmd", &command), field), SAYS, "declare: {field}");
    }
    for (field, command) in org_cases(DISGUISED) {
        assert_eq!(invalid(w.org.act(ADMIN, command), field), SAYS, "{field}");
    }
}

#[test]
fn every_user_text_field_takes_plain_text_in_any_script() {
    // The same commands with visible text are accepted, so each refusal above is the character's.
    let plain = "Zugriff gesperrt — 已撤销 — تم الإلغاء — ⚠️ café";
    for (who, field, command) in incident_cases(plain) {
        let mut w = busy_world();
        let what = format!("{command}");
        act(&mut w, who, command).unwrap_or_else(|refusal| panic!("{what} ({field}) refused: {refusal}"));
    }
    // A scope names units the policy defines, so free text there is refused for what it names.
    for (field, command) in declare_cases(plain).into_iter().filter(|(field, _)| *field != "scope") {
        declare(org(), "cmd", &command).unwrap_or_else(|refusal| panic!("declare ({field}) refused: {refusal}"));
    }
    for (field, command) in org_cases(plain) {
        let mut w = busy_world();
        w.org.act(ADMIN, command).unwrap_or_else(|refusal| panic!("{field} refused: {refusal}"));
    }
}

/// `check(text, refusal)`: what the one rule says of `text` through a note.
fn check(text: &str, expected: Option<&str>) {
    let mut w = world();
    match (act(&mut w, "resp", note(text)), expected) {
        (Ok(_), None) => {}
        (Err(refusal), Some(says)) => assert_eq!(refusal.to_string(), format!("text: {says}"), "{text:?}"),
        (outcome, _) => panic!("{text:?}: expected {expected:?}, got {outcome:?}"),
    }
}

#[test]
fn the_rule_names_each_kind_of_character_it_refuses() {
    let invisible =
        |code: &str, name: &str| format!("contains {code} ({name}), an invisible character that can disguise text");
    check("ad\u{200B}min", Some(&invisible("U+200B", "ZERO WIDTH SPACE")));
    check("\u{200C}", Some(&invisible("U+200C", "ZERO WIDTH NON-JOINER")));
    check("👩\u{200D}💻 on call", Some(&invisible("U+200D", "ZERO WIDTH JOINER")));
    check("word\u{2060}joiner", Some(&invisible("U+2060", "WORD JOINER")));
    check("\u{FEFF}bom", Some(&invisible("U+FEFF", "ZERO WIDTH NO-BREAK SPACE")));
    check("one\u{2028}two", Some(&invisible("U+2028", "LINE SEPARATOR")));
    check("one\u{2029}two", Some(&invisible("U+2029", "PARAGRAPH SEPARATOR")));
    check("pay\u{00AD}roll", Some(&invisible("U+00AD", "SOFT HYPHEN")));
    check("x\u{180E}", Some(&invisible("U+180E", "MONGOLIAN VOWEL SEPARATOR")));
    check("x\u{2064}", Some(&invisible("U+2064", "INVISIBLE PLUS")));
    check("x\u{3164}", Some(&invisible("U+3164", "HANGUL FILLER")));
    check("x\u{034F}", Some(&invisible("U+034F", "COMBINING GRAPHEME JOINER")));
    check("x\u{E0041}", Some(&invisible("U+E0041", "a tag character")));
    check("x\u{E0100}", Some(&invisible("U+E0100", "a supplementary VARIATION SELECTOR")));
    check("x\u{0600}", Some(&invisible("U+0600", "an Arabic number sign")));
    let bidi = |code: &str, name: &str| {
        format!("contains {code} ({name}), a bidirectional formatting character, which can disguise text")
    };
    check("invoice\u{202E}fdp.exe", Some(&bidi("U+202E", "RIGHT-TO-LEFT OVERRIDE")));
    check("a\u{2066}b", Some(&bidi("U+2066", "LEFT-TO-RIGHT ISOLATE")));
    check("a\u{200F}b", Some(&bidi("U+200F", "RIGHT-TO-LEFT MARK")));
    check("a\u{061C}b", Some(&bidi("U+061C", "ARABIC LETTER MARK")));
    let control = |code: &str| {
        format!("contains {code}, a control character; text holds no control characters but line breaks and tabs")
    };
    check("bell\u{7}", Some(&control("U+0007")));
    check("\u{1b}[2J", Some(&control("U+001B")));
    check("next\u{85}line", Some(&control("U+0085")));
    // What stays: line breaks and tabs, emoji with their presentation selector, every script.
    check("line one\r\nline two\ttabbed", None);
    check("⚠️ ❤️ 🔥", None);
    check("Ελληνικά, 日本語, עברית, हिन्दी, ﷽", None);
    check("non\u{00A0}breaking and thin\u{2009}spaces", None);
}

#[test]
fn the_rule_covers_every_format_character_and_keeps_the_emoji_presentation_selectors() {
    // Unicode's general category Cf (17.0), all of it.
    let format = [
        0x00AD..=0x00AD,
        0x0600..=0x0605,
        0x061C..=0x061C,
        0x06DD..=0x06DD,
        0x070F..=0x070F,
        0x0890..=0x0891,
        0x08E2..=0x08E2,
        0x180E..=0x180E,
        0x200B..=0x200F,
        0x202A..=0x202E,
        0x2060..=0x2064,
        0x2066..=0x206F,
        0xFEFF..=0xFEFF,
        0xFFF9..=0xFFFB,
        0x110BD..=0x110BD,
        0x110CD..=0x110CD,
        0x13430..=0x1343F,
        0x1BCA0..=0x1BCA3,
        0x1D173..=0x1D17A,
        0xE0001..=0xE0001,
        0xE0020..=0xE007F,
    ];
    for c in format.into_iter().flatten().filter_map(char::from_u32) {
        assert!(matches!(hidden(c), Some(Hidden::Invisible | Hidden::Bidi)), "U+{:04X}", c as u32);
    }
    for c in ['\u{FE0E}', '\u{FE0F}', ' ', '\u{00A0}', '\u{3000}', 'a', '\n', '\t', '\r'] {
        assert_eq!(hidden(c), None, "U+{:04X}", c as u32);
    }
}
