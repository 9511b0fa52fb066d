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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::entry::EntryHash;
use crate::ids::{DecisionClass, Role, UserName};
use crate::time::Timestamp;

/// The policy a new deployment starts with.
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

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
    pub source: String,
    /// SHA-256 of `source`, hex.
    pub sha256: String,
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

/// How a decision is approved; copied into each proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub approve: Approve,
    pub people: u32,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approve {
    AnyOf(Vec<Role>),
    AllOf(Vec<Role>),
    Quorum { n: u32, of: Vec<Role> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// One person standing behind a decision in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsement<'a> {
    pub user: &'a UserName,
    pub role: &'a Role,
    /// The rule's other roles the person held when endorsing: their one endorsement may stand
    /// for any one of these instead of `role`.
    pub also: &'a [Role],
}

/// The most of `roles` that different people can stand for at once, each person for one role
/// they may stand for: a maximum bipartite matching, found by augmenting paths.
fn matched(roles: &[Role], stands_for: &[Vec<&Role>]) -> usize {
    fn augment(
        person: usize,
        roles: &[Role],
        stands_for: &[Vec<&Role>],
        taken_by: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for (index, role) in roles.iter().enumerate() {
            if seen[index] || !stands_for[person].contains(&role) {
                continue;
            }
            seen[index] = true;
            let free = match taken_by[index] {
                None => true,
                Some(other) => augment(other, roles, stands_for, taken_by, seen),
            };
            if free {
                taken_by[index] = Some(person);
                return true;
            }
        }
        false
    }
    let mut taken_by = vec![None; roles.len()];
    (0..stands_for.len())
        .filter(|person| augment(*person, roles, stands_for, &mut taken_by, &mut vec![false; roles.len()]))
        .count()
}

/// Who stands behind a decision, and how many of the rule's roles they cover.
struct Tally<'a> {
    people: BTreeSet<&'a UserName>,
    stands_for: Vec<Vec<&'a Role>>,
    have: usize,
    needed: usize,
}

/// Where a proposed decision stands against its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub approved: bool,
    /// Distinct people behind it, the proposer included.
    pub people: usize,
    /// Roles whose holders can move it forward now.
    pub awaiting: Vec<Role>,
    /// What is still missing, in words: "legal has not approved yet".
    pub waiting_on: String,
}

impl Rule {
    /// Judges a decision by its proposer and endorsements (each person at most once).
    ///
    /// Which role each person stands for is not fixed by the order of endorsements: a person
    /// holding two of the rule's roles stands for whichever one the others leave open.
    pub fn progress(&self, proposer: &UserName, endorsements: &[Endorsement<'_>]) -> Progress {
        let rule_roles = self.approve.roles();
        let Tally { people, stands_for, have, needed } = self.tally(proposer, endorsements);
        let roles_met = have >= needed;
        let people_met = people.len() >= self.people as usize;
        let (awaiting, waiting_on): (Vec<Role>, String) = if !roles_met {
            // The roles whose holder would add an endorsement that counts.
            let missing: Vec<Role> = rule_roles
                .iter()
                .filter(|role| {
                    let mut more = stands_for.clone();
                    more.push(vec![*role]);
                    matched(rule_roles, &more) > have
                })
                .cloned()
                .collect();
            let short = needed - have;
            let words = match &self.approve {
                Approve::AllOf(_) if missing.len() == short => {
                    format!("{} {} not approved yet", join(&missing, "and"), verb(missing.len()))
                }
                Approve::AnyOf(_) => format!("no {} has approved yet", join(&missing, "or")),
                Approve::AllOf(_) | Approve::Quorum { .. } => {
                    format!("{short} more of {} must approve", list(&missing))
                }
            };
            (missing, words)
        } else if !people_met {
            let words = format!(
                "{} distinct people must endorse it and {} {} so far; another holder of {} must approve",
                self.people,
                people.len(),
                if people.len() == 1 { "has" } else { "have" },
                join(rule_roles, "or"),
            );
            (rule_roles.to_vec(), words)
        } else {
            (Vec::new(), String::new())
        };
        Progress { approved: roles_met && people_met, people: people.len(), awaiting, waiting_on }
    }

    /// Whether the rule is met: [`Rule::progress`] without working out what is missing, for the
    /// fold, which judges every recorded approval.
    pub fn is_met(&self, proposer: &UserName, endorsements: &[Endorsement<'_>]) -> bool {
        let tally = self.tally(proposer, endorsements);
        tally.have >= tally.needed && tally.people.len() >= self.people as usize
    }

    fn tally<'a>(&self, proposer: &'a UserName, endorsements: &[Endorsement<'a>]) -> Tally<'a> {
        let rule_roles = self.approve.roles();
        let mut people: BTreeSet<&UserName> = endorsements.iter().map(|e| e.user).collect();
        let stands_for: Vec<Vec<&Role>> = people
            .iter()
            .map(|user| {
                endorsements
                    .iter()
                    .filter(|e| e.user == *user)
                    .flat_map(|e| std::iter::once(e.role).chain(e.also))
                    .filter(|r| rule_roles.contains(r))
                    .collect()
            })
            .collect();
        people.insert(proposer);
        let have = matched(rule_roles, &stands_for);
        Tally { people, stands_for, have, needed: self.approve.needed() }
    }

    /// The role a person endorses: one of the rule's roles they hold, preferring one nobody has
    /// endorsed yet. `None` when they hold none of them.
    pub fn endorsement_role(&self, holds: &[Role], endorsed: &[&Role]) -> Option<Role> {
        let roles = self.approve.roles();
        roles
            .iter()
            .find(|r| holds.contains(r) && !endorsed.contains(r))
            .or_else(|| roles.iter().find(|r| holds.contains(r)))
            .cloned()
    }
}

fn verb(count: usize) -> &'static str {
    if count == 1 { "has" } else { "have" }
}

fn list(roles: &[Role]) -> String {
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(", ")
}

/// "a", "a and b", "a, b and c".
fn join(roles: &[Role], word: &str) -> String {
    match roles {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {word} {last}", list(init)),
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

fn is_key(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An error at a byte span of a TOML source, as line and column.
pub(crate) fn located(source: &str, span: &Range<usize>, message: String) -> PolicyError {
    let before = &source[..span.start.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    PolicyError { line, column, message }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Spanned<String>,
    roles: RawRoles,
    actions: RawActions,
    classes: Spanned<BTreeMap<Spanned<String>, Spanned<RawClass>>>,
    #[serde(default)]
    determinations: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    units: BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    clocks: BTreeMap<Spanned<String>, Spanned<RawClock>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    title: String,
    starts_on: Spanned<String>,
    deadline: Spanned<Deadline>,
    stopped_by: Spanned<String>,
    #[serde(default)]
    warn_hours: u32,
    from_submission_of: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    required: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    optional: Vec<Spanned<String>>,
    #[serde(default)]
    read_only: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActions {
    set_phase: Spanned<toml::Value>,
    set_severity: Spanned<toml::Value>,
    assign_roles: Spanned<toml::Value>,
    log_facts: Spanned<toml::Value>,
    verify_facts: Spanned<toml::Value>,
    tasks: Spanned<toml::Value>,
    notes: Spanned<toml::Value>,
    run_playbooks: Option<Spanned<toml::Value>>,
    retry_actions: Option<Spanned<toml::Value>>,
    evidence: Option<Spanned<toml::Value>>,
    statements: Option<Spanned<toml::Value>>,
    publish_statements: Option<Spanned<toml::Value>>,
    third_parties: Option<Spanned<toml::Value>>,
    review: Option<Spanned<toml::Value>>,
    determinations: Option<Spanned<toml::Value>>,
    submissions: Option<Spanned<toml::Value>>,
    release_clocks: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    title: Spanned<String>,
    propose: Spanned<toml::Value>,
    approve: Spanned<toml::Value>,
    people: Spanned<i64>,
    scope: Spanned<String>,
    #[serde(default)]
    path: Vec<Spanned<String>>,
    #[serde(default)]
    csf: Vec<Spanned<String>>,
    #[serde(default)]
    ai_rmf: Vec<Spanned<String>>,
}

struct Resolver<'a> {
    source: &'a str,
}

impl Resolver<'_> {
    fn err<T>(&self, span: &Range<usize>, message: impl Into<String>) -> Result<T, PolicyError> {
        Err(located(self.source, span, message.into()))
    }

    fn resolve(&self, raw: RawPolicy) -> Result<Policy, PolicyError> {
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() || name.len() > 80 {
            return self.err(&raw.name.span(), "name must be 1 to 80 characters");
        }
        let required = self.role_names(raw.roles.required.get_ref(), "roles.required")?;
        if required.is_empty() {
            return self.err(&raw.roles.required.span(), "roles.required must name at least one role");
        }
        let optional = self.role_names(&raw.roles.optional, "roles.optional")?;
        let mut seen = BTreeSet::new();
        for (role, spanned) in
            required.iter().zip(raw.roles.required.get_ref()).chain(optional.iter().zip(&raw.roles.optional))
        {
            if !seen.insert(role.clone()) {
                return self.err(&spanned.span(), format!("role '{role}' is listed twice"));
            }
        }
        for needed in ["commander"] {
            if !required.iter().any(|r| r == needed) {
                return self.err(
                    &raw.roles.required.span(),
                    format!("roles.required must include '{needed}': it runs the incident"),
                );
            }
        }
        let known: Vec<Role> = required.iter().chain(&optional).cloned().collect();
        let read_only = self.known_roles(&raw.roles.read_only, &known, "roles.read_only")?;
        if read_only.iter().any(|r| r == "commander") {
            return self.err(&raw.roles.read_only[0].span(), "the commander cannot be read-only");
        }

        let who = |value: &Spanned<toml::Value>, field: &str| self.who(value, &known, field);
        // Actions added after the first policy format: a file that does not name them gets the
        // default, so older policy files keep loading.
        let or_default = |value: &Option<Spanned<toml::Value>>, field: &str, default: &[&str]| match value {
            Some(value) => self.who(value, &known, field),
            None => Ok(Who::Roles(
                default.iter().filter_map(|r| Role::parse(r).ok()).filter(|r| known.contains(r)).collect(),
            )),
        };
        let actions = ActionRules {
            set_phase: who(&raw.actions.set_phase, "actions.set_phase")?,
            set_severity: who(&raw.actions.set_severity, "actions.set_severity")?,
            assign_roles: who(&raw.actions.assign_roles, "actions.assign_roles")?,
            log_facts: who(&raw.actions.log_facts, "actions.log_facts")?,
            verify_facts: who(&raw.actions.verify_facts, "actions.verify_facts")?,
            tasks: who(&raw.actions.tasks, "actions.tasks")?,
            notes: who(&raw.actions.notes, "actions.notes")?,
            run_playbooks: or_default(&raw.actions.run_playbooks, "actions.run_playbooks", &["commander"])?,
            retry_actions: or_default(
                &raw.actions.retry_actions,
                "actions.retry_actions",
                &["commander", "tech_lead"],
            )?,
            evidence: or_default(
                &raw.actions.evidence,
                "actions.evidence",
                &["commander", "tech_lead", "legal", "responder"],
            )?,
            statements: or_default(&raw.actions.statements, "actions.statements", &["comms", "commander", "legal"])?,
            publish_statements: or_default(
                &raw.actions.publish_statements,
                "actions.publish_statements",
                &["comms", "commander"],
            )?,
            third_parties: or_default(
                &raw.actions.third_parties,
                "actions.third_parties",
                &["commander", "legal", "liaison"],
            )?,
            review: or_default(&raw.actions.review, "actions.review", &["commander", "tech_lead", "scribe"])?,
            determinations: or_default(&raw.actions.determinations, "actions.determinations", &["commander", "legal"])?,
            submissions: or_default(&raw.actions.submissions, "actions.submissions", &["legal", "commander"])?,
            release_clocks: or_default(&raw.actions.release_clocks, "actions.release_clocks", &["legal"])?,
        };

        let mut classes: Vec<(usize, ClassPolicy)> = Vec::new();
        for (key, class) in raw.classes.get_ref() {
            let start = key.span().start;
            classes.push((start, self.class(key, class, &known)?));
        }
        classes.sort_by_key(|(start, _)| *start);
        let classes: Vec<ClassPolicy> = classes.into_iter().map(|(_, c)| c).collect();
        for needed in BUILT_IN_CLASSES {
            if !classes.iter().any(|c| c.class == *needed) {
                return self.err(
                    &raw.classes.span(),
                    format!(
                        "class '{needed}' is missing; every policy must define the built-in classes ({})",
                        BUILT_IN_CLASSES.join(", ")
                    ),
                );
            }
        }
        let mut determinations: Vec<(usize, (String, String))> = Vec::new();
        for (key, meaning) in &raw.determinations {
            if !is_key(key.get_ref()) {
                return self.err(&key.span(), "a determination's name is a-z, 0-9 and '_'");
            }
            determinations.push((key.span().start, (key.get_ref().clone(), meaning.trim().to_owned())));
        }
        determinations.sort_by_key(|(start, _)| *start);
        let determinations: Vec<(String, String)> = determinations.into_iter().map(|(_, d)| d).collect();
        let mut clocks: Vec<(usize, ClockPolicy)> = Vec::new();
        for (key, raw_clock) in &raw.clocks {
            let field = format!("clocks.{}", key.get_ref());
            if !is_key(key.get_ref()) {
                return self.err(&key.span(), "a clock's name is a-z, 0-9 and '_'");
            }
            let clock = raw_clock.get_ref();
            if !determinations.iter().any(|(name, _)| name == clock.starts_on.get_ref()) {
                return self.err(
                    &clock.starts_on.span(),
                    format!("{field}.starts_on: '{}' is not one of [determinations]", clock.starts_on.get_ref()),
                );
            }
            let stopped_by = DecisionClass::parse(clock.stopped_by.get_ref())
                .ok()
                .filter(|c| classes.iter().any(|known| &known.class == c))
                .map_or_else(
                    || self.err(&clock.stopped_by.span(), format!("{field}.stopped_by: not a class of this policy")),
                    Ok,
                )?;
            let deadline = *clock.deadline.get_ref();
            if matches!(deadline, Deadline::Hours(0) | Deadline::BusinessDays(0) | Deadline::Months(0)) {
                return self.err(&clock.deadline.span(), format!("{field}.deadline must be more than zero"));
            }
            clocks.push((
                key.span().start,
                ClockPolicy {
                    clock: key.get_ref().clone(),
                    title: clock.title.trim().to_owned(),
                    starts_on: clock.starts_on.get_ref().clone(),
                    deadline,
                    stopped_by,
                    warn_hours: clock.warn_hours,
                    from_submission_of: clock.from_submission_of.as_ref().map(|first| first.get_ref().clone()),
                },
            ));
        }
        for (key, raw_clock) in &raw.clocks {
            let Some(first) = &raw_clock.get_ref().from_submission_of else { continue };
            let runs_from = clocks.iter().map(|(_, c)| c).find(|c| &c.clock == first.get_ref());
            let fits = runs_from.is_some_and(|c| {
                c.clock != *key.get_ref()
                    && c.starts_on == *raw_clock.get_ref().starts_on.get_ref()
                    && c.from_submission_of.is_none()
            });
            if !fits {
                return self.err(
                    &first.span(),
                    format!(
                        "clocks.{}.from_submission_of: '{}' is not another clock starting on the same determination \
                         and running from awareness",
                        key.get_ref(),
                        first.get_ref()
                    ),
                );
            }
        }
        clocks.sort_by_key(|(start, _)| *start);
        let mut units: Vec<(usize, (String, String))> = Vec::new();
        for (key, title) in &raw.units {
            if !is_key(key.get_ref()) {
                return self.err(&key.span(), "a unit's name is a-z, 0-9 and '_'");
            }
            units.push((key.span().start, (key.get_ref().clone(), title.trim().to_owned())));
        }
        units.sort_by_key(|(start, _)| *start);
        Ok(Policy {
            units: units.into_iter().map(|(_, u)| u).collect(),
            name,
            roles: Roles { required, optional, read_only },
            actions,
            classes,
            determinations,
            clocks: clocks.into_iter().map(|(_, c)| c).collect(),
            source: self.source.to_owned(),
            sha256: EntryHash::of(self.source.as_bytes()).to_hex(),
        })
    }

    fn role_names(&self, names: &[Spanned<String>], field: &str) -> Result<Vec<Role>, PolicyError> {
        names
            .iter()
            .map(|name| {
                Role::parse(name.get_ref()).or_else(|error| self.err(&name.span(), format!("{field}: {error}")))
            })
            .collect()
    }

    fn known_roles(&self, names: &[Spanned<String>], known: &[Role], field: &str) -> Result<Vec<Role>, PolicyError> {
        let roles = self.role_names(names, field)?;
        for (role, name) in roles.iter().zip(names) {
            if !known.contains(role) {
                return self.err(&name.span(), format!("{field}: unknown role '{role}'; roles are {}", list(known)));
            }
        }
        Ok(roles)
    }

    /// Roles from a TOML array of strings; `span` locates errors for the whole value.
    fn role_list(
        &self,
        value: &toml::Value,
        span: &Range<usize>,
        known: &[Role],
        field: &str,
    ) -> Result<Vec<Role>, PolicyError> {
        let Some(items) = value.as_array() else {
            return self.err(span, format!("{field} must be a list of roles"));
        };
        let mut roles: Vec<Role> = Vec::new();
        for item in items {
            let Some(text) = item.as_str() else {
                return self.err(span, format!("{field} must be a list of role names (strings)"));
            };
            let role = Role::parse(text).or_else(|error| self.err(span, format!("{field}: {error}")))?;
            if !known.contains(&role) {
                return self.err(span, format!("{field}: unknown role '{role}'; roles are {}", list(known)));
            }
            if roles.contains(&role) {
                return self.err(span, format!("{field}: role '{role}' is listed twice"));
            }
            roles.push(role);
        }
        if roles.is_empty() {
            return self.err(span, format!("{field} must name at least one role"));
        }
        Ok(roles)
    }

    fn who(&self, value: &Spanned<toml::Value>, known: &[Role], field: &str) -> Result<Who, PolicyError> {
        match value.get_ref() {
            toml::Value::String(word) if word == "participants" => Ok(Who::Participants),
            toml::Value::String(word) => self.err(
                &value.span(),
                format!("{field}: '{word}' is not understood; write \"participants\" or a list of roles"),
            ),
            other => self.role_list(other, &value.span(), known, field).map(Who::Roles),
        }
    }

    fn class(
        &self,
        key: &Spanned<String>,
        raw: &Spanned<RawClass>,
        known: &[Role],
    ) -> Result<ClassPolicy, PolicyError> {
        let class = DecisionClass::parse(key.get_ref()).or_else(|error| self.err(&key.span(), error.to_string()))?;
        let raw = raw.get_ref();
        let field = |name: &str| format!("classes.{class}.{name}");
        let title = raw.title.get_ref().trim().to_owned();
        if title.is_empty() || title.len() > 80 {
            return self.err(&raw.title.span(), format!("{} must be 1 to 80 characters", field("title")));
        }
        let propose = self.who(&raw.propose, known, &field("propose"))?;
        let approve = self.approve(&raw.approve, known, &field("approve"))?;
        let people = *raw.people.get_ref();
        if !(1..=9).contains(&people) {
            return self.err(&raw.people.span(), format!("{} must be between 1 and 9", field("people")));
        }
        let scope = match raw.scope.get_ref().as_str() {
            "local" => Scope::Local,
            "central" => Scope::Central,
            other => {
                return self.err(
                    &raw.scope.span(),
                    format!("{}: '{other}' is not a scope; write \"local\" or \"central\"", field("scope")),
                );
            }
        };
        let path = raw
            .path
            .iter()
            .map(|channel| {
                let name = channel.get_ref();
                let valid = !name.is_empty()
                    && name.len() <= 40
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
                if valid {
                    Ok(name.clone())
                } else {
                    self.err(
                        &channel.span(),
                        format!("{}: '{name}' is not a channel name (a-z, 0-9, '-', '_')", field("path")),
                    )
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let csf = raw
            .csf
            .iter()
            .map(|reference| {
                if is_csf_reference(reference.get_ref()) {
                    Ok(reference.get_ref().clone())
                } else {
                    self.err(
                        &reference.span(),
                        format!(
                            "{}: '{}' is not a NIST CSF 2.0 reference such as RS.MI-01 or RS.MA",
                            field("csf"),
                            reference.get_ref()
                        ),
                    )
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ai_rmf = raw
            .ai_rmf
            .iter()
            .map(|reference| {
                if is_ai_rmf_reference(reference.get_ref()) {
                    Ok(reference.get_ref().clone())
                } else {
                    self.err(
                        &reference.span(),
                        format!(
                            "{}: '{}' is not a NIST AI RMF GOVERN reference such as \"GOVERN 2.1\"",
                            field("ai_rmf"),
                            reference.get_ref()
                        ),
                    )
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClassPolicy {
            class,
            title,
            propose,
            rule: Rule { approve, people: people as u32, scope },
            path,
            csf,
            ai_rmf,
        })
    }

    fn approve(&self, value: &Spanned<toml::Value>, known: &[Role], field: &str) -> Result<Approve, PolicyError> {
        let span = value.span();
        let Some(table) = value.get_ref().as_table() else {
            return self.err(&span, format!("{field} must be a table: {{ any_of = [...] }}, {{ all_of = [...] }} or {{ quorum = N, of = [...] }}"));
        };
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        match keys.as_slice() {
            ["any_of"] => self.role_list(&table["any_of"], &span, known, field).map(Approve::AnyOf),
            ["all_of"] => self.role_list(&table["all_of"], &span, known, field).map(Approve::AllOf),
            ["of", "quorum"] | ["quorum", "of"] => {
                let of = self.role_list(&table["of"], &span, known, field)?;
                let n = table["quorum"].as_integer().filter(|n| *n >= 1 && (*n as usize) <= of.len());
                match n {
                    Some(n) => Ok(Approve::Quorum { n: n as u32, of }),
                    None => self.err(&span, format!("{field}: quorum must be a whole number from 1 to {}", of.len())),
                }
            }
            _ => self.err(&span, format!("{field} must have exactly one of any_of, all_of, or quorum with of")),
        }
    }
}

/// "RS.MI-01" (subcategory) or "RS.MA" (category) of NIST CSF 2.0.
fn is_csf_reference(text: &str) -> bool {
    crate::csf::is_subcategory(text) || crate::csf::is_category(text)
}

/// "GOVERN 2.1".
fn is_ai_rmf_reference(text: &str) -> bool {
    text.strip_prefix("GOVERN ")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
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
        let rule =
            Rule { approve: Approve::AllOf(vec![role("legal"), role("comms")]), people: 2, scope: Scope::Central };
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
