//! Step-up: a class can ask that whoever proposes or approves it signed in recently, with a
//! second factor; the entries record how they did.

use sitrep_core::authn::{AuthMethod, Authentication};
use sitrep_core::decide::OrgCommand;
use sitrep_core::policy::Policy;
use sitrep_core::{Refusal, Timestamp};

use crate::support::*;

const MFA_ACR: &str = "urn:example:mfa";

/// The default policy, with recovery needing a sign-in within 15 minutes, with MFA.
fn stepped_up_world() -> World {
    let mut w = world();
    let source = format!("mfa_acr = [\"{MFA_ACR}\"]\n{}", Policy::default_policy().source).replacen(
        "[classes.recovery]\n",
        "[classes.recovery]\nstep_up = { within_minutes = 15, mfa = true }\n",
        1,
    );
    w.org.act(ADMIN, OrgCommand::ReplacePolicy { source }).expect("the policy is replaced");
    w
}

fn signed_in(at: Timestamp, acr: Option<&str>, amr: &[&str]) -> Authentication {
    Authentication {
        method: AuthMethod::Oidc,
        at,
        issuer: Some("https://idp.example".into()),
        acr: acr.map(str::to_owned),
        amr: amr.iter().map(|m| (*m).to_owned()).collect(),
    }
}

fn refused_for_step_up(result: Result<Vec<sitrep_core::Entry>, Refusal>, says: &str) {
    match result {
        Err(Refusal::Forbidden { rule, message }) => {
            assert_eq!(rule, "classes.recovery.step_up");
            assert!(message.contains(says), "{message}");
        }
        other => panic!("expected a step-up refusal, got {other:?}"),
    }
}

#[test]
fn a_step_up_class_needs_a_recent_multi_factor_sign_in_to_propose_and_approve() {
    let mut w = stepped_up_world();
    let now = at(w.org.clock + 1);
    let fresh_mfa = signed_in(now.plus_seconds(-60), Some(MFA_ACR), &["pwd"]);
    let before = w.record.len();

    // A token (no sign-in), a password alone, and an MFA sign-in 20 minutes old are refused.
    refused_for_step_up(act(&mut w, "tech", propose("recovery", "Restore")), "API token");
    let password = Authentication::password(now);
    refused_for_step_up(act_signed_in(&mut w, "tech", Some(&password), propose("recovery", "Restore")), "one factor");
    let stale = signed_in(now.plus_seconds(-20 * 60), None, &["pwd", "otp"]);
    refused_for_step_up(act_signed_in(&mut w, "tech", Some(&stale), propose("recovery", "Restore")), "20 minutes ago");
    assert_eq!(w.record.len(), before, "nothing was written");

    // A fresh MFA sign-in proposes; the entry says how the proposer signed in.
    let entries = act_signed_in(&mut w, "tech", Some(&fresh_mfa), propose("recovery", "Restore")).expect("proposed");
    let proposed: serde_json::Value = serde_json::from_str(&entries[0].body).expect("JSON");
    assert_eq!(proposed["authentication"]["acr"], MFA_ACR);
    assert_eq!(w.decision(1).approvals[0].authentication.as_ref(), Some(&fresh_mfa));

    // The commander's approval needs the same; a second factor named in `amr` counts too.
    refused_for_step_up(act(&mut w, "cmd", approve(1)), "API token");
    let otp = signed_in(at(w.org.clock + 1), None, &["pwd", "otp"]);
    let entries = act_signed_in(&mut w, "cmd", Some(&otp), approve(1)).expect("approved");
    let approved: serde_json::Value = serde_json::from_str(&entries[0].body).expect("JSON");
    assert_eq!(approved["authentication"]["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(approved["authentication"]["method"], "oidc");
    assert_eq!(w.decision(1).state.as_str(), "approved");
}

#[test]
fn classes_without_a_step_up_take_a_token_as_before() {
    let mut w = stepped_up_world();
    act(&mut w, "tech", propose("containment", "Isolate the host")).expect("proposed with a token");
    act(&mut w, "cmd", approve(1)).expect("approved with a token");
    let body: serde_json::Value = serde_json::from_str(&w.record.last().expect("an entry").body).expect("JSON");
    assert!(body.get("authentication").is_none(), "nothing to record: {body}");
}

#[test]
fn the_register_shows_how_each_approver_signed_in() {
    let mut w = stepped_up_world();
    let fresh = signed_in(at(w.org.clock + 1), Some(MFA_ACR), &["pwd", "otp"]);
    act_signed_in(&mut w, "tech", Some(&fresh), propose("recovery", "Restore")).expect("proposed");
    act_signed_in(&mut w, "cmd", Some(&fresh), approve(1)).expect("approved");
    let report = report_of(&w.record, &w.incident, &w, "cmd");
    let lines: Vec<String> = report.decisions[0].endorsements.iter().filter_map(|e| e.authenticated.clone()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("oidc (https://idp.example), acr urn:example:mfa, amr pwd+otp")));
}

#[test]
fn a_step_up_is_checked_when_the_policy_is_read() {
    let with = |step_up: &str| {
        let source = Policy::default_policy().source.replacen(
            "[classes.recovery]\n",
            &format!("[classes.recovery]\nstep_up = {step_up}\n"),
            1,
        );
        Policy::parse(&source)
    };
    let parsed = with("{ within_minutes = 15 }").expect("parses");
    let recovery = parsed.class(&class("recovery")).expect("the class").rule.step_up.expect("a step-up");
    assert_eq!((recovery.within_minutes, recovery.mfa), (15, false));
    let error = with("{ within_minutes = 0, mfa = true }").expect_err("zero minutes");
    assert!(error.to_string().contains("classes.recovery.step_up.within_minutes"), "{error}");
    let error = with("{ within_minutes = 5, mfa = true, acr = \"x\" }").expect_err("an unknown key");
    assert!(error.to_string().contains("acr"), "{error}");
}

#[test]
fn a_decision_keeps_the_step_up_it_was_proposed_with() {
    let mut w = stepped_up_world();
    let fresh = signed_in(at(w.org.clock + 1), Some(MFA_ACR), &["pwd", "otp"]);
    act_signed_in(&mut w, "tech", Some(&fresh), propose("recovery", "Restore")).expect("proposed");
    // The step-up is taken out of the policy; the decision under way is judged by its own rule.
    w.org.act(ADMIN, OrgCommand::ReplacePolicy { source: Policy::default_policy().source }).expect("replaced");
    refused_for_step_up(act(&mut w, "cmd", approve(1)), "API token");
    act(&mut w, "tech", propose("recovery", "Restore, second try")).expect("a new proposal takes a token again");
}
