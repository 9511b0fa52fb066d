//! The authority policy: who may propose and who must approve each class of decision.
//!
//! # The approval rule (SPEC §3)
//!
//! Every required role must be endorsed by a different person who holds it. Proposing endorses
//! one required role the proposer holds; every other endorsement is an explicit approval. A
//! person counts once however many roles they hold. `people` is the least number of distinct
//! people, the proposer included, who must stand behind the decision. The decision is approved
//! the moment both the role requirement and `people` hold.
//!
//! A decision records the rule in force when it was proposed and is judged by that copy, so a
//! policy replaced mid-incident never changes a decision already under way, and the incident's
//! state stays a pure fold over its own record.
//!
//! The model is here; the file format and its checks are `parse.rs`, judging approvals
//! against a rule is `rules.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::entry::EntryHash;
use crate::ids::{DecisionClass, Role, UserName};
use crate::time::Timestamp;

mod parse;
mod rules;

pub(crate) use parse::located;
use parse::*;
use rules::*;
pub use rules::{Endorsement, Progress};

/// The policy a new deployment starts with.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/default.toml");

/// The classes every policy must define, because other features rely on them.
pub const BUILT_IN_CLASSES: &[&str] = &[
    "containment",
    "credential_revocation",
    "eradication",
    "recovery",
    "evidence_sharing",
    "external_statement",
    "customer_notification",
    "regulatory_notification",
    "law_enforcement",
    "close",
];

/// A parsed, validated policy, with the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub roles: Roles,
    pub actions: ActionRules,
    /// In file order, which is the order the matrix shows.
    pub classes: Vec<ClassPolicy>,
    /// Determinations a person records (for example that personal data was affected), by name,
    /// with what each means; recording one starts the clocks that start on it.
    pub determinations: Vec<(String, String)>,
    /// Regulatory clocks, in file order.
    pub clocks: Vec<ClockPolicy>,
    /// Org units (regions, business units) an incident's scope may name, with their titles.
    /// In a unit in scope, its own role holders decide `local` classes.
    pub units: Vec<(String, String)>,
    /// `acr` values the identity provider uses for a multi-factor sign-in (besides `amr`
    /// naming a second factor), for classes whose [`StepUp`] asks for MFA.
    pub mfa_acr: Vec<String>,
    /// When people are reminded of what they owe and approvals escalated.
    pub alerts: AlertTimes,
    pub source: String,
    /// SHA-256 of `source`, hex.
    pub sha256: String,
}

/// When alerts remind and escalate (`[alerts]` in the file). An approval owed longer than
/// `remind_after_minutes` reminds its approvers; longer than `escalate_after_minutes` tells the
/// commander and the deputies of the roles it waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTimes {
    pub remind_after_minutes: u32,
    pub escalate_after_minutes: u32,
    /// A task's owner is told this long before it falls due.
    pub task_due_soon_minutes: u32,
    /// The commander is told this long before a promised update is due.
    pub update_reminder_minutes: u32,
    /// For a role, the role whose holders are told when an approval it owes is escalated.
    pub deputies: BTreeMap<Role, Role>,
}

impl Default for AlertTimes {
    fn default() -> AlertTimes {
        AlertTimes {
            remind_after_minutes: 30,
            escalate_after_minutes: 60,
            task_due_soon_minutes: 60,
            update_reminder_minutes: 15,
            deputies: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub required: Vec<Role>,
    pub optional: Vec<Role>,
    pub read_only: Vec<Role>,
}

/// Who may take an action that is not a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Anyone holding a role on the incident other than a read-only one.
    Participants,
    Roles(Vec<Role>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRules {
    pub set_phase: Who,
    pub set_severity: Who,
    pub assign_roles: Who,
    pub log_facts: Who,
    pub verify_facts: Who,
    pub tasks: Who,
    pub notes: Who,
    /// Who may start a playbook on an incident (default: the commander).
    pub run_playbooks: Who,
    /// Who may retry a failed action (default: the commander and the technical lead).
    pub retry_actions: Who,
    /// Who may add, list and download evidence (default: commander, tech_lead, legal, responder).
    pub evidence: Who,
    /// Who may draft and revise statements (default: comms, commander, legal).
    pub statements: Who,
    /// Who may publish an approved statement (default: comms, commander).
    pub publish_statements: Who,
    /// Who may engage third parties and revoke their share links (default: commander, legal, liaison).
    pub third_parties: Who,
    /// Who may record the post-incident review: lessons, control changes, completion (default:
    /// commander, tech_lead, scribe). A control change's owner may also mark it done.
    pub review: Who,
    /// Who may record a determination that starts regulatory clocks (default: commander, legal).
    pub determinations: Who,
    /// Who may record that a notification was sent to an authority, which meets a clock
    /// (default: legal, commander).
    pub submissions: Who,
    /// Who may withdraw a determination or record that a notification is not required, which
    /// stops a clock unmet (default: legal).
    pub release_clocks: Who,
}

/// A deadline a regulator imposes, started by a determination and stopped by the execution of
/// a decision of one class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockPolicy {
    pub clock: String,
    pub title: String,
    pub starts_on: String,
    pub deadline: Deadline,
    pub stopped_by: DecisionClass,
    /// The stopping class's path is told this many hours before the deadline.
    pub warn_hours: u32,
    /// The clock (of the same determination) whose submission starts this one; none: it runs
    /// from awareness.
    pub from_submission_of: Option<String>,
}

/// How long a clock runs from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    Hours(u32),
    /// Monday to Friday, UTC, at the start's time of day; public holidays are not known.
    BusinessDays(u32),
    /// Calendar months, UTC (a month from 31 January is the last day of February).
    Months(u32),
}

impl Deadline {
    /// When a clock started at `start` runs out.
    pub fn after(self, start: Timestamp) -> Timestamp {
        match self {
            Deadline::Hours(hours) => start.plus_seconds(i64::from(hours) * 3600),
            Deadline::BusinessDays(days) => {
                let mut at = start;
                let mut left = days;
                while left > 0 {
                    at = at.plus_seconds(86_400);
                    if !is_weekend(at) {
                        left -= 1;
                    }
                }
                at
            }
            Deadline::Months(months) => {
                let utc = jiff::tz::TimeZone::UTC;
                utc.to_datetime(start.as_jiff())
                    .checked_add(jiff::Span::new().months(i64::from(months)))
                    .ok()
                    .and_then(|later| utc.to_timestamp(later).ok())
                    .map_or(start, Timestamp::from_jiff)
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            Deadline::Hours(h) => format!("{h} hours"),
            Deadline::BusinessDays(d) => format!("{d} business days"),
            Deadline::Months(1) => "one month".to_owned(),
            Deadline::Months(m) => format!("{m} months"),
        }
    }
}

fn is_weekend(at: Timestamp) -> bool {
    let day = jiff::tz::TimeZone::UTC.to_datetime(at.as_jiff()).weekday();
    matches!(day, jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday)
}

/// One decision class and its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassPolicy {
    pub class: DecisionClass,
    pub title: String,
    pub propose: Who,
    pub rule: Rule,
    /// Communications channels told when such a decision is proposed and decided.
    pub path: Vec<String>,
    /// NIST CSF 2.0 references.
    pub csf: Vec<String>,
    /// NIST AI RMF GOVERN references, where the decision concerns accountability.
    pub ai_rmf: Vec<String>,
}

/// A decision class's demand on its proposers' and approvers' authentication: signed in (or
/// re-authenticated) within `within_minutes`, and with a second factor when `mfa`. An API
/// token is no interactive authentication, so it never meets a step-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepUp {
    pub within_minutes: u32,
    #[serde(default)]
    pub mfa: bool,
}

impl StepUp {
    /// Words for the matrix and refusals: "signed in within 15 minutes, with MFA".
    pub fn describe(&self) -> String {
        let mfa = if self.mfa { ", with MFA" } else { "" };
        format!("signed in within {} minutes{mfa}", self.within_minutes)
    }
}

/// How a decision is approved; copied into each proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    pub approve: Approve,
    pub people: u32,
    pub scope: Scope,
    /// How fresh and strong the sign-in of whoever proposes or approves must be. Part of the
    /// rule, so a decision under way keeps the step-up it was proposed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Approve {
    AnyOf(Vec<Role>),
    AllOf(Vec<Role>),
    Quorum { n: u32, of: Vec<Role> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A unit's own role holders decide within its scope.
    Local,
    /// The incident's central role holders decide.
    Central,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Local => "local",
            Scope::Central => "central",
        }
    }
}

/// A policy file that cannot be used, located in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Who {
    pub fn describe(&self) -> String {
        match self {
            Who::Participants => "any participant".to_owned(),
            Who::Roles(roles) => join(roles, "or"),
        }
    }
}

impl Approve {
    pub fn roles(&self) -> &[Role] {
        match self {
            Approve::AnyOf(roles) | Approve::AllOf(roles) | Approve::Quorum { of: roles, .. } => roles,
        }
    }

    /// "legal and comms", "commander or tech_lead", "2 of legal, comms, executive".
    pub fn describe(&self) -> String {
        match self {
            Approve::AnyOf(roles) => join(roles, "or"),
            Approve::AllOf(roles) => join(roles, "and"),
            Approve::Quorum { n, of } => format!("{n} of {}", list(of)),
        }
    }

    /// How many of the roles must be endorsed, each by a different person.
    fn needed(&self) -> usize {
        match self {
            Approve::AnyOf(_) => 1,
            Approve::AllOf(roles) => roles.len(),
            Approve::Quorum { n, .. } => *n as usize,
        }
    }
}

impl Policy {
    /// A unit's title, if the policy defines the unit.
    pub fn unit(&self, name: &str) -> Option<&str> {
        self.units.iter().find(|(unit, _)| unit == name).map(|(_, title)| title.as_str())
    }

    /// The built-in default policy of SPEC §3.
    pub fn default_policy() -> Policy {
        // The file is part of the build and covered by tests; failing here is a build defect.
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|error| panic!("default policy: {error}"))
    }

    pub fn class(&self, class: &DecisionClass) -> Option<&ClassPolicy> {
        self.classes.iter().find(|c| &c.class == class)
    }

    pub fn knows_role(&self, role: &Role) -> bool {
        self.all_roles().any(|r| r == role)
    }

    pub fn all_roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.required.iter().chain(&self.roles.optional)
    }

    pub fn is_read_only(&self, role: &Role) -> bool {
        self.roles.read_only.contains(role)
    }

    /// The policy as a Markdown table, one row per class.
    pub fn matrix(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Authority policy \"{}\" (sha256 {})\n", self.name, &self.sha256[..12]);
        out.push_str(
            "| class | may propose | must approve | people | scope | communications path | CSF 2.0 | AI RMF |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for class in &self.classes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                class.class,
                class.propose.describe(),
                class.rule.approve.describe(),
                class.rule.people,
                class.rule.scope.as_str(),
                or_dash(&class.path.join(", ")),
                or_dash(&class.csf.join(", ")),
                or_dash(&class.ai_rmf.join(", ")),
            );
        }
        let a = &self.actions;
        out.push_str("\n| action | who may take it |\n|---|---|\n");
        for (name, who) in [
            ("set phase", &a.set_phase),
            ("set severity", &a.set_severity),
            ("assign and release roles", &a.assign_roles),
            ("log facts", &a.log_facts),
            ("verify and disprove facts", &a.verify_facts),
            ("tasks", &a.tasks),
            ("notes", &a.notes),
            ("run playbooks", &a.run_playbooks),
            ("retry failed actions", &a.retry_actions),
            ("add and read evidence", &a.evidence),
            ("draft statements", &a.statements),
            ("publish approved statements", &a.publish_statements),
            ("engage third parties, revoke share links", &a.third_parties),
            ("post-incident review", &a.review),
            ("record determinations (start regulatory clocks)", &a.determinations),
            ("record notifications sent to authorities (meet clocks)", &a.submissions),
            ("withdraw determinations, record a notification not required", &a.release_clocks),
        ] {
            let _ = writeln!(out, "| {name} | {} |", who.describe());
        }
        let _ = writeln!(
            out,
            "\nRequired roles (blockers while unfilled): {}. Read-only roles: {}.",
            list(&self.roles.required),
            or_dash(&list(&self.roles.read_only)),
        );
        if !self.units.is_empty() {
            let units: Vec<String> = self.units.iter().map(|(name, title)| format!("{title} ({name})")).collect();
            let _ = writeln!(
                out,
                "\nOrg units: {}. A local class may be decided by the holders of its roles in a unit in the \
                 incident's scope, or by the central role holders; a central class only by the central ones.",
                units.join(", ")
            );
        }
        if !self.clocks.is_empty() {
            out.push_str(
                "\n| clock | starts on | deadline | met by a submission approved through | path told before |\n\
                 |---|---|---|---|---|\n",
            );
            for clock in &self.clocks {
                let from = match &clock.from_submission_of {
                    Some(first) => format!(" from the submission of {first}"),
                    None => " from awareness".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {}{from} | {} | {} h |",
                    clock.title,
                    clock.starts_on,
                    clock.deadline.describe(),
                    clock.stopped_by,
                    clock.warn_hours
                );
            }
        }
        out
    }

    /// Parses and validates a policy file; errors name the line, column and what is wrong.
    pub fn parse(source: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(source).map_err(|error| {
            let at = error.span().unwrap_or(0..0);
            located(source, &at, error.message().trim_end().to_owned())
        })?;
        Resolver { source }.resolve(raw)
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "—" } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Role {
        Role::parse(name).expect("role")
    }

    #[test]
    fn the_default_policy_loads_with_every_class() {
        let policy = Policy::default_policy();
        let names: Vec<&str> = policy.classes.iter().map(|c| c.class.as_str()).collect();
        assert_eq!(names, BUILT_IN_CLASSES);
        let statement = policy.class(&DecisionClass::parse("external_statement").expect("class")).expect("present");
        assert_eq!(statement.rule.approve, Approve::AllOf(vec![role("legal"), role("comms")]));
        assert_eq!(statement.rule.people, 2);
        assert_eq!(statement.rule.scope, Scope::Central);
    }

    #[test]
    fn the_matrix_reads_like_the_spec() {
        let matrix = Policy::default_policy().matrix();
        assert!(
            matrix.contains("| external_statement | comms or commander | legal and comms | 2 | central |"),
            "{matrix}"
        );
        assert!(
            matrix.contains(
                "| credential_revocation | commander, tech_lead or responder | commander or tech_lead | 1 | local |"
            ),
            "{matrix}"
        );
        assert!(
            matrix.contains("| evidence_sharing | any participant | legal and commander | 2 | central |"),
            "{matrix}"
        );
    }

    /// Replaces `from` with `to` in the default policy and returns the error.
    fn broken(from: &str, to: &str) -> PolicyError {
        assert!(DEFAULT_POLICY.contains(from), "{from} is not in the default policy");
        Policy::parse(&DEFAULT_POLICY.replacen(from, to, 1)).expect_err("must be refused")
    }

    fn line_of(needle: &str) -> usize {
        DEFAULT_POLICY.lines().position(|l| l.contains(needle)).expect("present") + 1
    }

    #[test]
    fn bad_policies_are_refused_with_a_location() {
        let check = |from: &str, to: &str, line: usize, says: &str| {
            let error = broken(from, to);
            assert_eq!(error.line, line, "{error}");
            assert!(error.to_string().contains(says), "{error} does not say {says}");
        };
        let statement_approve = line_of("approve = { all_of = [\"legal\", \"comms\"] }");
        check(
            "approve = { all_of = [\"legal\", \"comms\"] }",
            "approve = { all_of = [\"lawyer\", \"comms\"] }",
            statement_approve,
            "unknown role 'lawyer'",
        );
        check(
            "approve = { all_of = [\"legal\", \"comms\"] }",
            "approve = { quorum = 3, of = [\"legal\", \"comms\"] }",
            statement_approve,
            "quorum must be a whole number from 1 to 2",
        );
        check(
            "approve = { all_of = [\"legal\", \"comms\"] }",
            "approve = { one_of = [\"legal\"] }",
            statement_approve,
            "exactly one of any_of",
        );
        let people = line_of("people = 1");
        check("people = 1", "people = 0", people, "between 1 and 9");
        check("scope = \"local\"", "scope = \"regional\"", line_of("scope = \"local\""), "'regional' is not a scope");
        check(
            "csf = [\"RS.MI-01\"]",
            "csf = [\"RS-MI-01\"]",
            line_of("csf = [\"RS.MI-01\"]"),
            "not a NIST CSF 2.0 reference",
        );
        // Well formed, but not in the framework (RS.MI has two subcategories).
        check(
            "csf = [\"RS.MI-01\"]",
            "csf = [\"RS.MI-09\"]",
            line_of("csf = [\"RS.MI-01\"]"),
            "'RS.MI-09' is not a NIST CSF 2.0 reference",
        );
        check("people = 1", "people = \"one\"", people, "invalid type");
        check("people = 1", "peeple = 1", people, "unknown field `peeple`");
        check(
            "log_facts = \"participants\"",
            "log_facts = \"everyone\"",
            line_of("log_facts"),
            "'everyone' is not understood",
        );
        let close = broken("[classes.close]", "[classes.shut]");
        assert!(close.to_string().contains("class 'close' is missing"), "{close}");
        let syntax = broken("name = \"default\"", "name = \"default");
        assert_eq!(syntax.line, line_of("name = \"default\""), "{syntax}");
    }

    #[test]
    fn a_policy_may_add_classes_and_roles() {
        let extended = DEFAULT_POLICY.replace("optional = [\"scribe\"", "optional = [\"privacy_officer\", \"scribe\"")
            + "\n[classes.ai_model_rollback]\ntitle = \"Roll back an AI model\"\npropose = \"participants\"\napprove = { quorum = 2, of = [\"commander\", \"tech_lead\", \"privacy_officer\"] }\npeople = 2\nscope = \"central\"\nai_rmf = [\"GOVERN 3.2\"]\n";
        let policy = Policy::parse(&extended).expect("valid");
        let class = policy.classes.last().expect("added");
        assert_eq!(class.class, "ai_model_rollback");
        assert_eq!(class.rule.approve.describe(), "2 of commander, tech_lead, privacy_officer");
        assert!(policy.knows_role(&role("privacy_officer")));
    }

    #[test]
    fn progress_names_what_is_missing() {
        let rule = Rule {
            approve: Approve::AllOf(vec![role("legal"), role("comms")]),
            people: 2,
            scope: Scope::Central,
            step_up: None,
        };
        let (comms, legal) = (UserName::parse("carol").expect("user"), UserName::parse("lee").expect("user"));
        let (comms_role, legal_role) = (role("comms"), role("legal"));
        let proposed = rule.progress(&comms, &[Endorsement { user: &comms, role: &comms_role, also: &[] }]);
        assert!(!proposed.approved);
        assert_eq!(proposed.waiting_on, "legal has not approved yet");
        assert_eq!(proposed.awaiting, vec![role("legal")]);
        let approved = rule.progress(
            &comms,
            &[
                Endorsement { user: &comms, role: &comms_role, also: &[] },
                Endorsement { user: &legal, role: &legal_role, also: &[] },
            ],
        );
        assert!(approved.approved);
        assert_eq!(approved.people, 2);
    }
}
