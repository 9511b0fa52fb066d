//! The authorisation matrix: every route × every kind of caller × a normal and a restricted
//! incident, as a table. The table must name exactly the routes of the OpenAPI document, so a
//! route added without a row (or a row left behind by a removed route) fails the tests.

use std::collections::{BTreeSet, HashMap};

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sitrep_core::authn::Authentication;
use sitrep_core::decide::{OrgCommand, SystemCommand};
use sitrep_core::{DecisionId, IncidentNumber, OrgRole};
use sitrep_store::datadir::new_token;
use sitrep_store::{Request, SessionRow};

use crate::helpers::*;

/// Who calls. The table's status columns are in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// An admin who holds no role on the incident.
    Admin,
    /// A member holding the incident role the row's action needs (`Row::participant`).
    Participant,
    /// A member who holds no role on the incident.
    Outsider,
    Viewer,
    Auditor,
    /// No credentials at all.
    Anonymous,
}

const COLUMNS: [Caller; 6] =
    [Caller::Admin, Caller::Participant, Caller::Outsider, Caller::Viewer, Caller::Auditor, Caller::Anonymous];

/// The order callers act in: those expected to be refused first, so the one expected to
/// succeed finds the state the row was written for.
const ORDER: [Caller; 6] =
    [Caller::Anonymous, Caller::Viewer, Caller::Auditor, Caller::Outsider, Caller::Admin, Caller::Participant];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Incident {
    Normal,
    Restricted,
}

struct Row {
    method: &'static str,
    /// The path as the OpenAPI document spells it.
    path: &'static str,
    /// The member who stands for "participant" in this row.
    participant: &'static str,
    /// Path parameters other than `{id}`; a value starting with `$` is looked up in the
    /// fixtures.
    params: &'static [(&'static str, &'static str)],
    body: fn(Incident) -> Option<Value>,
    /// Status by caller, in `COLUMNS` order, on a normal incident (or for a route that names
    /// no incident).
    normal: [u16; 6],
    /// The same on a restricted incident; `None` for routes that name no incident.
    restricted: Option<[u16; 6]>,
}

fn none(_: Incident) -> Option<Value> {
    None
}

/// A row body with this member is sent as a multipart form whose `file` part holds the
/// member's value, rather than as JSON.
const MULTIPART_FILE: &str = "$multipart_file";

/// Restricted incidents do not exist for anyone outside them, admins included.
const HIDDEN: [u16; 6] = [404, 200, 404, 404, 404, 401];
const HIDDEN_CREATED: [u16; 6] = [404, 201, 404, 404, 404, 401];

#[rustfmt::skip]
fn table() -> Vec<Row> {
    vec![
        //                                                                                     admin part outs view aud anon
        // Incidents: anyone who may act declares; only participants see a restricted one.
        Row { method: "POST", path: "/api/v1/incidents", participant: COMMANDER, params: &[],
              body: |i| Some(json!({"title": "Another", "severity": "sev3", "restricted": i == Incident::Restricted})),
              normal: [201, 201, 201, 403, 403, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/incidents", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/incidents/{id}", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/record", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/sitrep", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        // The post-incident report and the decision register: whoever sees the incident (evidence
        // names only for evidence readers, tested in report.rs).
        Row { method: "GET", path: "/api/v1/incidents/{id}/report", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/decisions.csv", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/events", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        // Staffing, phase and severity: the commander.
        Row { method: "POST", path: "/api/v1/incidents/{id}/roles", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"role": "liaison", "user": RESPONDER})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "DELETE", path: "/api/v1/incidents/{id}/roles/{role}/{user}", participant: COMMANDER,
              params: &[("role", "scribe"), ("user", RESPONDER)], body: none,
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/phase", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"phase": "triage"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/severity", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"severity": "sev1"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/occurrence", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"detected_at": in_days(0)})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Notes, facts and tasks: any participant; verifying: commander or tech lead.
        // Only the commander promises the next update.
        Row { method: "PUT", path: "/api/v1/incidents/{id}/next-update", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"next_at": sitrep_testing::system_now().plus_seconds(3600).to_string()})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/notes", participant: RESPONDER, params: &[],
              body: |_| Some(json!({"text": "a note"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/facts", participant: RESPONDER, params: &[],
              body: |_| Some(json!({"text": "a fact"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/facts/{fid}/verify", participant: TECH_LEAD,
              params: &[("fid", "F-1")], body: |_| Some(json!({"basis": "seen in the logs"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/facts/{fid}/disprove", participant: TECH_LEAD,
              params: &[("fid", "F-2")], body: |_| Some(json!({"basis": "not in the logs"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/tasks", participant: RESPONDER, params: &[],
              body: |_| Some(json!({"title": "a task"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/tasks/{tid}/assign", participant: RESPONDER,
              params: &[("tid", "T-1")], body: |_| Some(json!({"owner": TECH_LEAD})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/tasks/{tid}/done", participant: RESPONDER,
              params: &[("tid", "T-2")], body: |_| Some(json!({})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/tasks/{tid}/block", participant: RESPONDER,
              params: &[("tid", "T-3")], body: |_| Some(json!({"reason": "waiting"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/tasks/{tid}/cancel", participant: RESPONDER,
              params: &[("tid", "T-4")], body: |_| Some(json!({})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Decisions: by the policy's roles (D-1..D-3 are statements proposed by comms).
        Row { method: "POST", path: "/api/v1/incidents/{id}/decisions", participant: TECH_LEAD, params: &[],
              body: |_| Some(json!({"class": "containment", "title": "Isolate the host"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/decisions/{did}/approve", participant: LEGAL,
              params: &[("did", "D-1")], body: |_| Some(json!({})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/decisions/{did}/reject", participant: LEGAL,
              params: &[("did", "D-2")], body: |_| Some(json!({"note": "not yet"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/decisions/{did}/withdraw", participant: COMMS,
              params: &[("did", "D-3")], body: |_| Some(json!({})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Playbooks: the commander starts one (once per incident).
        Row { method: "POST", path: "/api/v1/incidents/{id}/playbooks", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"playbook": "generic"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Retrying: the commander or tech lead. The fixture has no failed action, so a permitted
        // caller gets past the policy and learns there is no such action.
        Row { method: "POST", path: "/api/v1/incidents/{id}/decisions/{did}/actions/{action}/retry", participant: TECH_LEAD,
              params: &[("did", "D-1"), ("action", "1")], body: none,
              normal: [403, 404, 403, 403, 403, 401], restricted: Some([404, 404, 404, 404, 404, 401]) },
        // Evidence: the evidence roles (commander, tech lead, legal, responder) add, list and
        // download it; the upload is a multipart form, the download names its purpose.
        Row { method: "POST", path: "/api/v1/incidents/{id}/evidence", participant: RESPONDER, params: &[],
              body: |_| Some(json!({MULTIPART_FILE: "uploaded through the matrix"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/evidence", participant: RESPONDER, params: &[], body: none,
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/evidence/{sha256}", participant: LEGAL,
              params: &[("sha256", "$evidence_with_purpose")], body: none,
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Checkpoints: anyone who sees the incident; exports list the evidence, so only those
        // who may read it export.
        Row { method: "GET", path: "/api/v1/incidents/{id}/checkpoint", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/export", participant: LEGAL, params: &[],
              body: |_| Some(json!({"blobs": true, "purpose": "the matrix"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Third parties: admins keep the registry; commander, legal and liaison engage parties
        // and revoke share links (SH-1 shares the fixture's evidence with `acme`).
        Row { method: "POST", path: "/api/v1/parties", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"party": "matrix-new", "name": "Matrix Vendor", "kind": "vendor"})),
              normal: [201, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/parties", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "PUT", path: "/api/v1/parties/{party}", participant: COMMANDER, params: &[("party", "acme")],
              body: |_| Some(json!({"name": "Acme, renamed", "kind": "msp"})),
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "POST", path: "/api/v1/incidents/{id}/parties", participant: LEGAL, params: &[],
              body: |_| Some(json!({"party": "matrix-engage", "reason": "the matrix"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/shares/{sid}/revoke", participant: COMMANDER,
              params: &[("sid", "SH-1")], body: |_| Some(json!({"reason": "the matrix"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Statements: comms, commander and legal draft and revise (ST-1); comms and the
        // commander publish an approved one (ST-2, approved by D-5).
        Row { method: "POST", path: "/api/v1/incidents/{id}/statements", participant: COMMS, params: &[],
              body: |_| Some(json!({"audience": "press", "title": "Holding statement", "text": "We are investigating."})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/statements", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/statements/{sid}/revisions", participant: COMMS,
              params: &[("sid", "ST-1")], body: |_| Some(json!({"text": "revised through the matrix"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/statements/{sid}/publish", participant: COMMS,
              params: &[("sid", "ST-2")], body: |_| Some(json!({"channel": "status page"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // ST-2's delivery to the `status-page` outlet failed for good; comms and the commander
        // ask for another try.
        Row { method: "POST", path: "/api/v1/incidents/{id}/statements/{sid}/deliveries/retry", participant: COMMS,
              params: &[("sid", "ST-2")], body: |_| Some(json!({"version": 1, "channel": "status-page"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Determinations (commander, legal) start regulatory clocks; anyone who sees the
        // incident sees its clocks.
        Row { method: "POST", path: "/api/v1/incidents/{id}/determinations", participant: LEGAL, params: &[],
              body: |_| Some(json!({"determination": "personal_data_breach", "basis": "invoices were read"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "GET", path: "/api/v1/incidents/{id}/clocks", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        // A notification sent (legal, commander) meets a clock; legal stops one unmet with a basis.
        Row { method: "POST", path: "/api/v1/incidents/{id}/clocks/{clock}/submission", participant: LEGAL,
              params: &[("clock", "gdpr_art33")],
              body: |_| Some(json!({"sent_at": in_days(0), "authority": "CNIL", "channel": "portal",
                  "reference": "CNIL-1", "statement": "ST-3", "version": 1})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/clocks/{clock}/not-required", participant: LEGAL,
              params: &[("clock", "nis2_early_warning")], body: |_| Some(json!({"basis": "the CSIRT said so"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/determinations/{determination}/withdraw",
              participant: LEGAL, params: &[("determination", "significant_incident")],
              body: |_| Some(json!({"basis": "below the threshold"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // The review: commander, tech lead and scribe record it (L-1 with CC-1 and CC-2 exist;
        // the lesson row adds L-2, the control-change row converts it, so completing works).
        Row { method: "GET", path: "/api/v1/incidents/{id}/review", participant: RESPONDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/review/lessons", participant: TECH_LEAD, params: &[],
              body: |_| Some(json!({"what_happened": "a", "why": "b", "change": "c"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/review/control-changes", participant: TECH_LEAD, params: &[],
              body: |_| Some(json!({"lesson": "L-2", "title": "t", "owner": LEGAL, "due": in_days(60), "csf": "RS.MA-01"})),
              normal: [403, 201, 403, 403, 403, 401], restricted: Some(HIDDEN_CREATED) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/review/control-changes/{cc}/done", participant: TECH_LEAD,
              params: &[("cc", "CC-1")], body: |_| Some(json!({})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/review/control-changes/{cc}/cancel", participant: TECH_LEAD,
              params: &[("cc", "CC-2")], body: |_| Some(json!({"note": "superseded"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "POST", path: "/api/v1/incidents/{id}/review/complete", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"summary": "done"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        // Handing command over: the commander (last of the incident rows: cmd no longer commands).
        Row { method: "POST", path: "/api/v1/incidents/{id}/handover", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"to": TECH_LEAD, "reason": "end of the matrix"})),
              normal: [403, 200, 403, 403, 403, 401], restricted: Some(HIDDEN) },
        Row { method: "GET", path: "/api/v1/control-changes", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        // The organisation: admins change it; users manage their own tokens and password.
        // `otto` is the outsider, so for his own tokens and password the outsider column is "self".
        Row { method: "POST", path: "/api/v1/users", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"name": "newcomer", "org_role": "member"})),
              normal: [201, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/users", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "POST", path: "/api/v1/users/{name}/disable", participant: COMMANDER,
              params: &[("name", "spare-disable")], body: |_| Some(json!({"reason": "left"})),
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "POST", path: "/api/v1/users/{name}/org-roles", participant: COMMANDER,
              params: &[("name", "spare-grant")], body: |_| Some(json!({"role": "auditor"})),
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "DELETE", path: "/api/v1/users/{name}/org-roles/{role}", participant: COMMANDER,
              params: &[("name", "spare-revoke"), ("role", "auditor")], body: none,
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "PUT", path: "/api/v1/users/{name}/password", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: |_| Some(json!({"password": PASSWORD, "current_password": PASSWORD})),
              normal: [200, 403, 200, 403, 403, 401], restricted: None },
        Row { method: "POST", path: "/api/v1/users/{name}/tokens", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: |_| Some(json!({"label": "matrix"})),
              normal: [201, 403, 201, 403, 403, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/users/{name}/tokens", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: none,
              normal: [200, 403, 200, 403, 403, 401], restricted: None },
        Row { method: "DELETE", path: "/api/v1/users/{name}/tokens/{token}", participant: COMMANDER,
              params: &[("name", "spare-token"), ("token", "$spare_token_id")], body: none,
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        // Users see and end their own sessions; admins anyone's.
        Row { method: "GET", path: "/api/v1/users/{name}/sessions", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: none,
              normal: [200, 403, 200, 403, 403, 401], restricted: None },
        Row { method: "DELETE", path: "/api/v1/users/{name}/sessions/{session}", participant: COMMANDER,
              params: &[("name", "spare-token"), ("session", "$spare_session_id")], body: none,
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        // Users see and set their own contact routes; admins anyone's (the same routes again
        // are a conflict: nothing to change).
        Row { method: "GET", path: "/api/v1/users/{name}/contact", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: none,
              normal: [200, 403, 200, 403, 403, 401], restricted: None },
        Row { method: "PUT", path: "/api/v1/users/{name}/contact", participant: COMMANDER,
              params: &[("name", OUTSIDER)], body: |_| Some(json!({"email": "otto@example.test"})),
              normal: [409, 403, 200, 403, 403, 401], restricted: None },
        // Anyone signed in may ask for a code linking their own chat identity; it names no one else.
        Row { method: "POST", path: "/api/v1/chat/link-codes", participant: COMMANDER, params: &[],
              body: none, normal: [201, 201, 201, 201, 201, 401], restricted: None },
        // Signing in needs no credentials: the password is the credential.
        Row { method: "POST", path: "/api/v1/tokens", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"name": "spare-login", "password": PASSWORD})),
              normal: [201, 201, 201, 201, 201, 201], restricted: None },
        Row { method: "POST", path: "/api/v1/session", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"name": "spare-login", "password": PASSWORD})),
              normal: [200, 200, 200, 200, 200, 200], restricted: None },
        // Signing out ends a browser session; a token caller has none.
        Row { method: "DELETE", path: "/api/v1/session", participant: COMMANDER, params: &[], body: none,
              normal: [400, 400, 400, 400, 400, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/session", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/policy", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "PUT", path: "/api/v1/policy", participant: COMMANDER, params: &[],
              body: |_| Some(json!({"source": sitrep_core::policy::Policy::default_policy().source.replacen("name = \"default\"", "name = \"matrix\"", 1)})),
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/org/record", participant: COMMANDER, params: &[], body: none,
              normal: [200, 403, 403, 403, 200, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/playbooks", participant: COMMANDER, params: &[], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "GET", path: "/api/v1/playbooks/{playbook}", participant: COMMANDER,
              params: &[("playbook", "generic")], body: none,
              normal: [200, 200, 200, 200, 200, 401], restricted: None },
        Row { method: "PUT", path: "/api/v1/playbooks/{playbook}", participant: COMMANDER,
              params: &[("playbook", "generic")],
              body: |_| Some(json!({"source": sitrep_core::playbook::BUILT_IN_PLAYBOOKS[3].replacen("version = \"1.0.0\"", "version = \"1.0.1\"", 1)})),
              normal: [200, 403, 403, 403, 403, 401], restricted: None },
    ]
}

/// Routes outside the OpenAPI document: the document itself and the operational endpoints,
/// open to anyone.
const UNDOCUMENTED_PUBLIC: [&str; 4] = ["/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every (method, path) the OpenAPI document lists.
pub(crate) async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("the server answers");
    let document = json_of(response, StatusCode::OK).await;
    let paths = document["paths"].as_object().expect("the document has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn check_table_matches_document(documented: &BTreeSet<(String, String)>) {
    let rows: BTreeSet<(String, String)> =
        table().iter().map(|row| (row.method.to_owned(), row.path.to_owned())).collect();
    assert_eq!(rows.len(), table().len(), "each route has one row");
    let missing: Vec<_> = documented.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(documented).collect();
    assert!(
        missing.is_empty(),
        "routes in /api/v1/openapi.json without a row in the authorisation matrix (add one to authz.rs): {missing:?}"
    );
    assert!(stale.is_empty(), "rows in the authorisation matrix for routes the OpenAPI document lacks: {stale:?}");
}

#[tokio::test]
async fn every_documented_route_has_a_row_in_the_authorization_matrix() {
    let app = spawn_app().await;
    check_table_matches_document(&documented_routes(&app).await);
}

/// The press's outlet `status-page` (nothing listens, and no worker runs in these tests).
fn with_outlet(config: &mut sitrep_server::Config) {
    let text = "[channels.status-page]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"s\"\n\n[outlets]\npress = [\"status-page\"]\n";
    let parsed: sitrep_server::Config = toml::from_str(text).expect("the outlet parses");
    config.channels = parsed.channels;
    config.outlets = parsed.outlets;
}

/// What a row acts on: two incidents staffed alike, one restricted, each with facts F-1 and
/// F-2, tasks T-1..T-4, statement decisions D-1..D-3 proposed by comms, an evidence item shared
/// with the party `acme` through the approved D-4 (share SH-1), statements ST-1 (a draft) and
/// ST-2 (approved by D-5, published on the outlet `status-page`, its delivery failed for good);
/// the parties `acme` and `matrix-engage`; and spare users for the
/// organisation rows.
async fn fixtures(app: &TestApp) -> (HashMap<Incident, String>, HashMap<&'static str, String>) {
    let mut incidents = HashMap::new();
    for party in ["acme", "matrix-engage"] {
        let body = json!({"party": party, "name": format!("{party} Ltd"), "kind": "vendor"});
        app.post_ok(ADMIN, "/api/v1/parties", body, StatusCode::CREATED).await;
    }
    let evidence = b"evidence for the matrix";
    for (kind, restricted) in [(Incident::Normal, false), (Incident::Restricted, true)] {
        let id = app.standard_incident(&format!("{kind:?} incident"), restricted).await;
        let at = |path: &str| format!("/api/v1/incidents/{id}{path}");
        for text in ["first fact", "second fact"] {
            app.post_ok(RESPONDER, &at("/facts"), json!({"text": text}), StatusCode::CREATED).await;
        }
        for title in ["assign me", "finish me", "block me", "cancel me"] {
            app.post_ok(COMMANDER, &at("/tasks"), json!({"title": title}), StatusCode::CREATED).await;
        }
        for title in ["revise me", "publish me"] {
            let body = json!({"audience": "press", "title": title, "text": title});
            app.post_ok(COMMS, &at("/statements"), body, StatusCode::CREATED).await;
        }
        for title in ["approve me", "reject me", "withdraw me"] {
            // A statement decision approves a text: bound to ST-1.
            let body = json!({"class": "external_statement", "title": title, "statement": "ST-1"});
            app.post_ok(COMMS, &at("/decisions"), body, StatusCode::CREATED).await;
        }
        app.post_ok(COMMANDER, &at("/parties"), json!({"party": "acme"}), StatusCode::CREATED).await;
        let sha256 = app.evidence(RESPONDER, &id, "matrix.txt", evidence).await["sha256"].clone();
        let share = json!({"connector": "share", "party": "acme", "items": [sha256], "expires_in_hours": 24});
        let body = json!({"class": "evidence_sharing", "title": "share it", "actions": [share]});
        assert_eq!(app.post_ok(COMMANDER, &at("/decisions"), body, StatusCode::CREATED).await["id"], "D-4");
        app.post_ok(LEGAL, &at("/decisions/D-4/approve"), json!({}), StatusCode::OK).await;
        let number: IncidentNumber = id.parse().expect("an incident id");
        let run = SystemCommand::RunShareAction { decision: DecisionId(4), action: 0 };
        app.ledger.execute_system(number, "worker", run).await.expect("the share action runs");
        let body = json!({"class": "external_statement", "title": "publish ST-2", "statement": "ST-2"});
        assert_eq!(app.post_ok(COMMS, &at("/decisions"), body, StatusCode::CREATED).await["id"], "D-5");
        app.post_ok(LEGAL, &at("/decisions/D-5/approve"), json!({}), StatusCode::OK).await;
        // ST-2 published on its outlet, whose delivery failed for good.
        app.post_ok(COMMS, &at("/statements/ST-2/publish"), json!({"channel": "status-page"}), StatusCode::OK).await;
        let failed = SystemCommand::StatementDelivered {
            statement: sitrep_core::ids::StatementId(2),
            version: 1,
            channel: "status-page".into(),
            sha256: sha256_hex(b"publish me"),
            outcome: Err(sitrep_core::decide::ActionFailure { reason: "HTTP 410".into(), retryable: false }),
        };
        app.ledger.execute_system(number, "publisher", failed).await.expect("the failure is recorded");
        // A text to the regulator, approved (D-6), for the submission row; NIS2 clocks for the
        // not-required row.
        let body = json!({"audience": "regulator", "title": "to the DPA", "text": "We report a breach."});
        app.post_ok(LEGAL, &at("/statements"), body, StatusCode::CREATED).await;
        let body = json!({"class": "regulatory_notification", "title": "notify", "statement": "ST-3"});
        assert_eq!(app.post_ok(LEGAL, &at("/decisions"), body, StatusCode::CREATED).await["id"], "D-6");
        app.post_ok(EXECUTIVE, &at("/decisions/D-6/approve"), json!({}), StatusCode::OK).await;
        let body = json!({"determination": "significant_incident", "basis": "EU customers"});
        app.post_ok(LEGAL, &at("/determinations"), body, StatusCode::CREATED).await;
        let lesson = json!({"what_happened": "x", "why": "y", "change": "z"});
        app.post_ok(COMMANDER, &at("/review/lessons"), lesson, StatusCode::CREATED).await;
        for title in ["finish me", "cancel me"] {
            let change = json!({"lesson": "L-1", "title": title, "owner": LEGAL,
                "due": in_days(60), "csf": "PR.AA-05"});
            app.post_ok(COMMANDER, &at("/review/control-changes"), change, StatusCode::CREATED).await;
        }
        incidents.insert(kind, id);
    }

    let admin = user(ADMIN);
    for (name, role) in [
        ("spare-disable", OrgRole::Member),
        ("spare-grant", OrgRole::Member),
        ("spare-revoke", OrgRole::Member),
        ("spare-token", OrgRole::Member),
        ("spare-login", OrgRole::Member),
    ] {
        let add = OrgCommand::AddUser { user: user(name), display_name: None, org_role: role };
        app.ledger.execute(&admin, Request::Org(add)).await.expect("the admin adds a spare user");
    }
    let grant = OrgCommand::GrantOrgRole { user: user("spare-revoke"), role: OrgRole::Auditor };
    app.ledger.execute(&admin, Request::Org(grant)).await.expect("the admin grants a role");
    let (_, sha256) = new_token().expect("a token");
    let issue = OrgCommand::IssueToken {
        minted_by: None,
        user: user("spare-token"),
        sha256: sha256.clone(),
        expires_at: None,
        label: None,
    };
    app.ledger.execute(&admin, Request::Org(issue)).await.expect("the admin issues a token");
    let (_, session_sha256) = new_token().expect("a session id");
    let now = app.clock.now();
    let session = SessionRow {
        id: session_sha256.clone(),
        user: "spare-token".into(),
        csrf: "csrf".into(),
        started_at: now,
        seen_at: now,
        expires_at: now.plus_seconds(3600),
        authentication: Authentication::password(now),
    };
    app.ledger.execute(&user("spare-token"), Request::SignIn { session }).await.expect("a session begins");
    app.give_password("spare-login").await;
    // Setting one's own password needs the current one.
    app.give_password(OUTSIDER).await;
    let values = HashMap::from([
        ("$spare_token_id", sha256[..12].to_owned()),
        ("$spare_session_id", session_sha256[..12].to_owned()),
        ("$evidence_with_purpose", format!("{}?purpose=the%20matrix", sha256_hex(evidence))),
    ]);
    (incidents, values)
}

fn who(row: &Row, caller: Caller) -> Option<&'static str> {
    match caller {
        Caller::Admin => Some(ADMIN),
        Caller::Participant => Some(row.participant),
        Caller::Outsider => Some(OUTSIDER),
        Caller::Viewer => Some(VIEWER),
        Caller::Auditor => Some(AUDITOR),
        Caller::Anonymous => None,
    }
}

fn fill(row: &Row, incident: Option<&str>, values: &HashMap<&'static str, String>) -> String {
    let mut path = row.path.to_owned();
    if let Some(id) = incident {
        path = path.replace("{id}", id);
    }
    for (name, value) in row.params {
        let value = if value.starts_with('$') { values[value].as_str() } else { value };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(!path.contains('{'), "every parameter of {} is filled: {path}", row.path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_kind_of_caller_as_the_matrix_says() {
    let app = spawn_app_with(with_outlet).await;
    check_table_matches_document(&documented_routes(&app).await);
    let (incidents, values) = fixtures(&app).await;

    let mut failures = Vec::new();
    let mut checked = 0;
    for row in table() {
        let variants: Vec<(Incident, [u16; 6])> = match row.restricted {
            Some(restricted) => vec![(Incident::Normal, row.normal), (Incident::Restricted, restricted)],
            None => vec![(Incident::Normal, row.normal)],
        };
        for (incident, expected) in variants {
            let id = row.restricted.map(|_| incidents[&incident].as_str());
            let path = fill(&row, id, &values);
            for caller in ORDER {
                let column = COLUMNS.iter().position(|c| *c == caller).expect("every caller has a column");
                let method = Method::from_bytes(row.method.as_bytes()).expect("a method");
                let mut request = app.request(method, who(&row, caller), &path);
                if let Some(body) = (row.body)(incident) {
                    request = match body.get(MULTIPART_FILE).and_then(Value::as_str) {
                        Some(content) => request.multipart(file_form("matrix-upload.txt", content.as_bytes())),
                        None => request.json(&body),
                    };
                }
                let response = request.send().await.expect("the server answers");
                let status = response.status().as_u16();
                checked += 1;
                let label = format!("{} {path} ({incident:?} incident) as {caller:?}", row.method);
                if status == 401 && response.headers().get(WWW_AUTHENTICATE).is_none() {
                    failures.push(format!("{label}: 401 without WWW-Authenticate"));
                }
                let content_type = content_type(response.headers());
                // The event stream never ends; read bodies of everything else.
                let text = if path.ends_with("/events") && status == 200 {
                    String::new()
                } else {
                    response.text().await.expect("a body")
                };
                if status != expected[column] {
                    failures.push(format!("{label}: expected {}, got {status}: {text}", expected[column]));
                } else if status >= 400 && content_type != "application/problem+json" {
                    failures.push(format!("{label}: error {status} is {content_type:?}, not a problem document"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} answers differ from the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Lists: everyone sees the normal incident; only participants see the restricted one.
    let (normal, restricted) = (&incidents[&Incident::Normal], &incidents[&Incident::Restricted]);
    // The hand-over row left tech in command, and cmd (who held only commander) outside both.
    for id in [normal, restricted] {
        let back = json!({"to": COMMANDER, "reason": "back"});
        app.post_ok(TECH_LEAD, &format!("/api/v1/incidents/{id}/handover"), back, StatusCode::OK).await;
    }
    for name in [ADMIN, COMMANDER, RESPONDER, OUTSIDER, VIEWER, AUDITOR] {
        let listed: Vec<String> = app.get_json(name, "/api/v1/incidents").await["incidents"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| i["id"].as_str().expect("an id").to_owned())
            .collect();
        assert!(listed.contains(normal), "{name} sees the normal incident in the list");
        let participant = [COMMANDER, RESPONDER].contains(&name);
        assert_eq!(
            listed.contains(restricted),
            participant,
            "{name} sees the restricted incident only as a participant"
        );
    }

    // Public operational routes.
    for path in UNDOCUMENTED_PUBLIC {
        let response = app.client.get(app.url(path)).send().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "{path} needs no credentials");
    }
}

#[tokio::test]
async fn restricted_incidents_look_exactly_like_missing_ones_to_outsiders() {
    let app = spawn_app().await;
    let restricted = app.standard_incident("Insider threat", true).await;
    let missing = "INC-999";
    for name in [ADMIN, OUTSIDER, VIEWER, AUDITOR] {
        for (method, suffix, body) in [
            (Method::GET, "", None),
            (Method::GET, "/record", None),
            (Method::GET, "/sitrep", None),
            (Method::GET, "/report", None),
            (Method::GET, "/decisions.csv", None),
            (Method::GET, "/events", None),
            (Method::POST, "/facts", Some(json!({"text": "x"}))),
            (Method::POST, "/decisions/D-1/approve", Some(json!({}))),
        ] {
            let mut answers = Vec::new();
            for id in [&restricted, &missing.to_owned()] {
                let mut request = app.request(method.clone(), Some(name), &format!("/api/v1/incidents/{id}{suffix}"));
                if let Some(body) = &body {
                    request = request.json(body);
                }
                let problem = problem(request.send().await.expect("the server answers"), StatusCode::NOT_FOUND).await;
                answers.push(problem["detail"].as_str().expect("detail").replacen(id.as_str(), "INC-?", 1));
            }
            assert_eq!(answers[0], answers[1], "{name} {method} {suffix}: the same answer as for a missing incident");
        }
    }
}
