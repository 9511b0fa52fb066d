//! Org units: local classes may be decided by the role holders of a unit in the incident's
//! scope; central classes only by the incident's central role holders.

use crate::support;

use sitrep_core::decide::IncidentCommand as C;
use sitrep_core::events::DecisionState;
use sitrep_core::policy::{Policy, Scope};
use sitrep_core::{OrgRole, Refusal};
use support::*;

/// INC-1 with EMEA in scope, staffed centrally as [`world`], plus `local` holding `roles` in
/// EMEA only.
fn emea_world(local_roles: &[&str]) -> World {
    let mut org = org();
    org.add("local", OrgRole::Member);
    let command = sitrep_core::Declare { scope: vec!["emea".into()], ..declaration("EMEA outage", &STAFF[1..]) };
    let mut w = declare(org, "cmd", &command).expect("declared");
    for role in local_roles {
        act(&mut w, "cmd", local(role, "local", "emea")).expect("a local role in EMEA");
    }
    w
}

fn local(role: &str, name: &str, unit: &str) -> C {
    C::AssignRole { role: support::role(role), user: user(name), unit: Some(unit.to_owned()) }
}

#[test]
fn each_class_is_decided_by_unit_holders_only_when_it_is_local() {
    let policy = Policy::default_policy();
    for class_policy in &policy.classes {
        let class = class_policy.class.as_str();
        if class == "close" {
            continue; // closing has its own preconditions; it is central like the other notices.
        }
        let approvers = class_policy.rule.approve.roles().to_vec();
        let local_scope = class_policy.rule.scope == Scope::Local;
        // `local` holds every role the class needs to approve, in EMEA only.
        let names: Vec<&str> = approvers.iter().map(|r| r.as_str()).collect();
        let mut w = emea_world(&names);
        // A central person proposes whose proposal alone does not decide it.
        let waits = |w: &World, who: &str| {
            let mut trial = w.clone();
            act(&mut trial, who, propose(class, "by the centre")).is_ok()
                && trial.incident.decisions.last().is_some_and(|d| d.state == DecisionState::Proposed)
        };
        let proposer = ["tech", "resp", "lee", "cora", "cmd"]
            .into_iter()
            .find(|p| waits(&w, p))
            .unwrap_or_else(|| panic!("{class}: a central person's proposal waits for approval"));
        act(&mut w, proposer, propose(class, "by the centre")).expect("proposed");
        let decision = w.incident.decisions.len() as u64;
        let outcome = act(&mut w, "local", approve(decision));
        match (local_scope, outcome) {
            (true, Ok(_)) => {}
            (false, Err(Refusal::Forbidden { message, .. })) => {
                assert!(message.contains("you hold no role"), "{class}: {message}");
            }
            (true, Err(e)) => panic!("{class} is local: an EMEA holder of its role approves, but got {e:?}"),
            (false, Ok(_)) => panic!("{class} is central: an EMEA-only holder approved it"),
            (false, Err(other)) => panic!("{class} is central: expected a policy refusal, got {other:?}"),
        }
    }
}

#[test]
fn a_local_holder_proposes_and_decides_containment_and_the_refusal_names_the_unit() {
    let mut w = emea_world(&["commander"]);
    // Holding commander in EMEA only, `local` decides containment (local) at once...
    act(&mut w, "local", propose("containment", "Isolate the EMEA VPN concentrator")).expect("proposed");
    assert_eq!(w.decision(1).state, DecisionState::Approved);
    // ...but not evidence sharing, which is central.
    act(&mut w, "resp", propose("evidence_sharing", "Send logs")).expect("proposed");
    let refused = forbidden(act(&mut w, "local", approve(2)), "classes.evidence_sharing.approve");
    says(&refused, &["needs approval by"]);

    // Someone with no role anywhere is told the class is local to EMEA.
    let mut w = emea_world(&[]);
    act(&mut w, "tech", propose("recovery", "Restore from backup")).expect("the tech lead proposes");
    let refused = forbidden(act(&mut w, "out", approve(1)), "classes.recovery.approve");
    says(&refused, &["recovery is local to EMEA; you hold no role in EMEA"]);
}

#[test]
fn local_roles_are_held_only_in_units_in_scope_and_are_released_as_they_were_given() {
    let mut w = emea_world(&[]);
    says(
        &invalid(act(&mut w, "cmd", local("commander", "local", "amer")), "unit"),
        &["amer is not in the scope of INC-1"],
    );
    says(&invalid(act(&mut w, "cmd", local("commander", "local", "mars")), "unit"), &["unknown unit 'mars'"]);
    act(&mut w, "cmd", local("tech_lead", "local", "emea")).expect("assigned");
    says(&conflict(act(&mut w, "cmd", local("tech_lead", "local", "emea"))), &["already holds tech_lead in emea"]);
    assert!(w.incident.is_participant(&user("local")), "a local role makes a participant");
    assert!(!w.incident.holds(&user("local"), "tech_lead"), "a local role is not a central one");
    let release =
        C::ReleaseRole { role: role("tech_lead"), user: user("local"), unit: Some("emea".into()), reason: None };
    act(&mut w, "cmd", release.clone()).expect("released");
    says(&conflict(act(&mut w, "cmd", release)), &["does not hold tech_lead in emea"]);
    // Only those who may assign roles assign local ones.
    assert!(matches!(act(&mut w, "tech", local("scribe", "local", "emea")), Err(Refusal::Forbidden { .. })));
}

#[test]
fn the_fold_refuses_a_local_role_outside_the_scope_and_a_central_approval_claimed_through_one() {
    let mut w = emea_world(&["legal"]);
    let forged = sitrep_core::events::IncidentEvent::RoleAssigned(sitrep_core::events::RoleChange {
        role: role("commander"),
        user: user("local"),
        unit: Some("amer".into()),
    });
    assert_eq!(
        fold_refuses(&w, w.head(), &by("cmd"), forged).reason,
        "a local role is held in a unit in the incident's scope"
    );
    act(&mut w, "resp", propose("evidence_sharing", "Send logs")).expect("proposed");
    let claimed = sitrep_core::events::IncidentEvent::DecisionApproved(sitrep_core::events::DecisionApproved {
        authentication: None,
        decision: sitrep_core::DecisionId(1),
        role: role("legal"),
        also: vec![],
        note: None,
        state: DecisionState::Proposed,
    });
    assert_eq!(
        fold_refuses(&w, w.head(), &by("local"), claimed).reason,
        "the approver does not hold the role the entry claims"
    );
}
