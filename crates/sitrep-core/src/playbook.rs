//! Playbooks: versioned, pre-approved plans for common incidents.
//!
//! A playbook file (TOML) names the roles it needs, the inputs it takes (`key_id`,
//! `provider`, …), its steps (a task for a role, due some minutes after the start, optionally
//! with a decision to propose) and its pre-approved decisions: decisions recorded as approved
//! the moment the playbook starts, citing the playbook's id, version, file hash and who
//! approved it. Text may name inputs as `{key_id}`; they are filled in when it starts.
//!
//! The loader checks a file against the policy in force and reports the first problem with its
//! line and column: syntax, an unknown role, class or connector, an input used but not
//! declared. Actions name configured destinations and commands; a URL or a command line in a
//! playbook is refused, as it is from a person.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::entry::EntryHash;
use crate::events::{ActionSpec, Audience};
use crate::ids::{DecisionClass, Role};
use crate::policy::{Policy, PolicyError, located};

/// The playbooks every deployment starts with.
pub const BUILT_IN_PLAYBOOKS: &[&str] = &[
    include_str!("../playbooks/leaked-secret.toml"),
    include_str!("../playbooks/oauth-grant-abuse.toml"),
    include_str!("../playbooks/compromised-service-account.toml"),
    include_str!("../playbooks/generic.toml"),
];

/// The longest input a playbook takes, in characters.
pub const INPUT_MAX: usize = 500;

/// A playbook file that cannot be used, located in the file.
pub type PlaybookError = PolicyError;

#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub id: String,
    pub title: String,
    pub version: String,
    pub approved_by: String,
    pub approved_at: String,
    pub summary: String,
    pub required_roles: Vec<Role>,
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
    pub preapproved: Vec<DecisionTemplate>,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub title: String,
    pub role: Role,
    pub due_minutes: Option<u32>,
    /// Proposed when the playbook starts; approved by the policy's rule like any other.
    pub decision: Option<DecisionTemplate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTemplate {
    pub class: DecisionClass,
    pub title: String,
    pub rationale: Option<String>,
    pub actions: Vec<ActionSpec>,
    /// The draft statement the decision approves: drafted when the playbook starts, and the
    /// decision bound to it, so approvers see the exact text.
    pub statement: Option<StatementTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTemplate {
    pub audience: Audience,
    pub title: String,
    pub text: String,
}

/// What a pre-approved decision cites: the playbook that approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    pub playbook: String,
    pub version: String,
    pub sha256: String,
    pub approved_by: String,
}

impl Playbook {
    pub fn citation(&self) -> Citation {
        Citation {
            playbook: self.id.clone(),
            version: self.version.clone(),
            sha256: self.sha256.clone(),
            approved_by: self.approved_by.clone(),
        }
    }

    /// Parses and validates a playbook file against the policy in force.
    pub fn parse(source: &str, policy: &Policy) -> Result<Playbook, PlaybookError> {
        let raw: RawPlaybook = toml::from_str(source).map_err(|error| {
            let at = error.span().unwrap_or(0..0);
            located(source, &at, error.message().trim_end().to_owned())
        })?;
        Loader { source, policy }.load(raw)
    }

    /// Fills `{input}` placeholders, refusing missing or unknown inputs and inputs that are not
    /// user text ([`crate::decide::text`]'s rule, at most [`INPUT_MAX`] characters).
    pub fn fill(&self, inputs: &BTreeMap<String, String>) -> Result<Filled, FillError> {
        for name in inputs.keys() {
            if !self.inputs.iter().any(|i| &i.name == name) {
                let known: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
                return Err(FillError {
                    field: format!("inputs.{name}"),
                    message: format!("playbook '{}' takes no input '{name}'; it takes {}", self.id, known.join(", ")),
                });
            }
        }
        for input in &self.inputs {
            match inputs.get(&input.name).filter(|value| !value.trim().is_empty()) {
                Some(value) => {
                    // Inputs are user text: filled into titles, they are read like any other.
                    let length = value.chars().count();
                    let problem = if length > INPUT_MAX {
                        Some(format!("is {length} characters; the limit is {INPUT_MAX}"))
                    } else {
                        crate::text::refusal(value)
                    };
                    if let Some(message) = problem {
                        return Err(FillError { field: format!("inputs.{}", input.name), message });
                    }
                }
                None if input.required => {
                    return Err(FillError {
                        field: format!("inputs.{}", input.name),
                        message: format!("playbook '{}' needs it: {}", self.id, input.description),
                    });
                }
                _ => {}
            }
        }
        // Optional inputs left out read as such in the text, rather than as "{repository}".
        let mut inputs = inputs.clone();
        for input in self.inputs.iter().filter(|i| !i.required) {
            inputs.entry(input.name.clone()).or_insert_with(|| format!("({} not given)", input.name.replace('_', " ")));
        }
        let inputs = &inputs;
        let text = |template: &str| substitute(template, inputs);
        let decision = |d: &DecisionTemplate| DecisionTemplate {
            class: d.class.clone(),
            title: text(&d.title),
            rationale: d.rationale.as_deref().map(text),
            actions: d.actions.iter().map(|a| fill_action(a, inputs)).collect(),
            statement: d.statement.as_ref().map(|t| StatementTemplate {
                audience: t.audience,
                title: text(&t.title),
                text: text(&t.text),
            }),
        };
        Ok(Filled {
            steps: self
                .steps
                .iter()
                .map(|s| Step {
                    title: text(&s.title),
                    role: s.role.clone(),
                    due_minutes: s.due_minutes,
                    decision: s.decision.as_ref().map(decision),
                })
                .collect(),
            preapproved: self.preapproved.iter().map(decision).collect(),
        })
    }
}

/// A playbook's steps and decisions with its inputs filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub steps: Vec<Step>,
    pub preapproved: Vec<DecisionTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FillError {
    pub field: String,
    pub message: String,
}

/// The `{name}` placeholders of a text.
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                    found.push(name);
                }
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    found
}

/// Replaces each `{name}` of the template with its input, in one pass: an input's value is
/// never itself read as a template, so `{provider}` typed as a key id stays `{provider}`.
fn substitute(template: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}').and_then(|end| inputs.get(&after[..end]).map(|value| (end, value))) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn fill_value(value: &serde_json::Value, inputs: &BTreeMap<String, String>) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(substitute(s, inputs)),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| fill_value(v, inputs)).collect())
        }
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), fill_value(v, inputs))).collect())
        }
        other => other.clone(),
    }
}

fn fill_action(action: &ActionSpec, inputs: &BTreeMap<String, String>) -> ActionSpec {
    match action {
        ActionSpec::Task { title, owner_role, due_in_minutes } => ActionSpec::Task {
            title: substitute(title, inputs),
            owner_role: owner_role.clone(),
            due_in_minutes: *due_in_minutes,
        },
        ActionSpec::Webhook { destination, payload } => {
            ActionSpec::Webhook { destination: destination.clone(), payload: fill_value(payload, inputs) }
        }
        ActionSpec::Command { command, input } => {
            ActionSpec::Command { command: command.clone(), input: fill_value(input, inputs) }
        }
        ActionSpec::Notify { message } => {
            ActionSpec::Notify { message: message.as_deref().map(|m| substitute(m, inputs)) }
        }
        // Refused when a playbook is parsed; kept as written should one ever get here.
        ActionSpec::Share { .. } => action.clone(),
    }
}

fn all_text(action: &ActionSpec) -> Vec<String> {
    fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match action {
        ActionSpec::Task { title, .. } => out.push(title.clone()),
        ActionSpec::Webhook { payload, .. } => strings(payload, &mut out),
        ActionSpec::Command { input, .. } => strings(input, &mut out),
        ActionSpec::Notify { message } => out.extend(message.clone()),
        ActionSpec::Share { party, items, .. } => {
            out.push(party.clone());
            out.extend(items.iter().cloned());
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    id: Spanned<String>,
    title: Spanned<String>,
    version: Spanned<String>,
    approved_by: Spanned<String>,
    approved_at: Spanned<String>,
    summary: Option<Spanned<String>>,
    #[serde(default)]
    required_roles: Vec<Spanned<String>>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    preapproved: Vec<Spanned<RawDecision>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    description: String,
    #[serde(default = "yes")]
    required: bool,
    example: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: Spanned<String>,
    role: Spanned<String>,
    due_minutes: Option<u32>,
    decision: Option<Spanned<RawDecision>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    class: Spanned<String>,
    title: Spanned<String>,
    rationale: Option<Spanned<String>>,
    #[serde(default)]
    actions: Vec<Spanned<toml::Value>>,
    statement: Option<Spanned<RawStatement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    audience: Spanned<Audience>,
    title: Spanned<String>,
    text: Spanned<String>,
}

struct Loader<'a> {
    source: &'a str,
    policy: &'a Policy,
}

impl Loader<'_> {
    fn err<T>(&self, span: &Range<usize>, message: impl Into<String>) -> Result<T, PlaybookError> {
        Err(located(self.source, span, message.into()))
    }

    fn text(&self, field: &str, value: &Spanned<String>, max: usize) -> Result<String, PlaybookError> {
        let text = value.get_ref().trim();
        if text.is_empty() || text.chars().count() > max {
            return self.err(&value.span(), format!("{field} must be 1 to {max} characters"));
        }
        self.plain(&value.span(), field, text)?;
        Ok(text.to_owned())
    }

    /// The file's text is user text too ([`crate::text`]): it becomes the titles of tasks and
    /// decisions in incident records.
    fn plain(&self, span: &Range<usize>, field: &str, text: &str) -> Result<(), PlaybookError> {
        match crate::text::refusal(text) {
            Some(refusal) => self.err(span, format!("{field} {refusal}")),
            None => Ok(()),
        }
    }

    fn role(&self, field: &str, value: &Spanned<String>) -> Result<Role, PlaybookError> {
        let role = Role::parse(value.get_ref()).or_else(|e| self.err(&value.span(), format!("{field}: {e}")))?;
        if !self.policy.knows_role(&role) {
            let known: Vec<&str> = self.policy.all_roles().map(Role::as_str).collect();
            return self.err(
                &value.span(),
                format!("{field}: unknown role '{role}'; the policy's roles are {}", known.join(", ")),
            );
        }
        Ok(role)
    }

    fn uses_known_inputs(
        &self,
        span: &Range<usize>,
        field: &str,
        text: &str,
        inputs: &[Input],
    ) -> Result<(), PlaybookError> {
        for name in placeholders(text) {
            if !inputs.iter().any(|i| i.name == name) {
                return self.err(
                    span,
                    format!("{field} uses the input {{{name}}}, which the playbook does not declare under [inputs]"),
                );
            }
        }
        Ok(())
    }

    fn decision(
        &self,
        field: &str,
        raw: &Spanned<RawDecision>,
        inputs: &[Input],
    ) -> Result<DecisionTemplate, PlaybookError> {
        let raw_decision = raw.get_ref();
        let class = DecisionClass::parse(raw_decision.class.get_ref())
            .or_else(|e| self.err(&raw_decision.class.span(), format!("{field}.class: {e}")))?;
        if self.policy.class(&class).is_none() {
            let known: Vec<&str> = self.policy.classes.iter().map(|c| c.class.as_str()).collect();
            return self.err(
                &raw_decision.class.span(),
                format!(
                    "{field}.class: unknown decision class '{class}'; the policy's classes are {}",
                    known.join(", ")
                ),
            );
        }
        if class == "close" {
            return self.err(&raw_decision.class.span(), format!("{field}.class: a playbook cannot close an incident"));
        }
        let title = self.text(&format!("{field}.title"), &raw_decision.title, 200)?;
        self.uses_known_inputs(&raw_decision.title.span(), &format!("{field}.title"), &title, inputs)?;
        if let Some(rationale) = &raw_decision.rationale {
            self.plain(&rationale.span(), &format!("{field}.rationale"), rationale.get_ref())?;
        }
        let mut actions = Vec::new();
        for (index, action) in raw_decision.actions.iter().enumerate() {
            let action_field = format!("{field}.actions[{index}]");
            let spec: ActionSpec = action.get_ref().clone().try_into().or_else(|e: toml::de::Error| {
                self.err(&action.span(), format!("{action_field}: {}", e.message().trim_end()))
            })?;
            match &spec {
                ActionSpec::Share { .. } => {
                    return self.err(
                        &action.span(),
                        format!(
                            "{action_field}: a playbook cannot share evidence; sharing needs an evidence_sharing decision naming the party and the items"
                        ),
                    );
                }
                ActionSpec::Task { owner_role: Some(role), .. } if !self.policy.knows_role(role) => {
                    return self.err(&action.span(), format!("{action_field}.owner_role: unknown role '{role}'"));
                }
                ActionSpec::Webhook { destination: name, .. } | ActionSpec::Command { command: name, .. }
                    if name.is_empty()
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') =>
                {
                    return self.err(
                        &action.span(),
                        format!(
                            "{action_field}: '{name}' is not the name of a configured {} (a-z, 0-9, '-', '_'); a URL or command line never goes in a playbook",
                            spec.connector()
                        ),
                    );
                }
                _ => {}
            }
            if let ActionSpec::Task { due_in_minutes: Some(minutes), .. } = &spec
                && let Some(message) = crate::decide::due_minutes_refusal(*minutes)
            {
                return self.err(&action.span(), format!("{action_field}.due_in_minutes {message}"));
            }
            if let Some((name, value)) = spec.free_form()
                && let Some(message) = crate::decide::free_form_refusal(value)
            {
                return self.err(&action.span(), format!("{action_field}.{name} {message}"));
            }
            let words = match &spec {
                ActionSpec::Task { title, .. } => Some(("title", title)),
                ActionSpec::Notify { message: Some(message) } => Some(("message", message)),
                _ => None,
            };
            if let Some((name, words)) = words {
                self.plain(&action.span(), &format!("{action_field}.{name}"), words)?;
            }
            for text in all_text(&spec) {
                self.uses_known_inputs(&action.span(), &action_field, &text, inputs)?;
            }
            actions.push(spec);
        }
        let rationale = raw_decision.rationale.as_ref().map(|r| r.get_ref().clone());
        let statement_class = crate::decide::is_statement_class(&class);
        if statement_class && field.starts_with("preapproved") {
            return self.err(
                &raw_decision.class.span(),
                format!(
                    "{field}.class: a playbook cannot pre-approve {class}; its approvers must see the statement's text"
                ),
            );
        }
        let statement = match &raw_decision.statement {
            None => None,
            Some(raw_statement) => {
                let raw_statement = raw_statement.get_ref();
                let audience = *raw_statement.audience.get_ref();
                if audience.class() != class.as_str() {
                    return self.err(
                        &raw_statement.audience.span(),
                        format!(
                            "{field}.statement.audience: a statement to {} is approved through {}, not {class}",
                            audience.as_str(),
                            audience.class()
                        ),
                    );
                }
                let title = self.text(&format!("{field}.statement.title"), &raw_statement.title, 200)?;
                self.uses_known_inputs(
                    &raw_statement.title.span(),
                    &format!("{field}.statement.title"),
                    &title,
                    inputs,
                )?;
                let text =
                    self.text(&format!("{field}.statement.text"), &raw_statement.text, crate::decide::TEXT_MAX)?;
                self.uses_known_inputs(&raw_statement.text.span(), &format!("{field}.statement.text"), &text, inputs)?;
                Some(StatementTemplate { audience, title, text })
            }
        };
        Ok(DecisionTemplate { class, title, rationale, actions, statement })
    }

    fn load(&self, raw: RawPlaybook) -> Result<Playbook, PlaybookError> {
        let id = raw.id.get_ref().clone();
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return self.err(&raw.id.span(), "id must be 1 to 64 characters of a-z, 0-9, '-' or '_'");
        }
        let title = self.text("title", &raw.title, 120)?;
        let version = self.text("version", &raw.version, 40)?;
        let approved_by = self.text("approved_by", &raw.approved_by, 120)?;
        let approved_at = self.text("approved_at", &raw.approved_at, 40)?;
        let required_roles =
            raw.required_roles.iter().map(|r| self.role("required_roles", r)).collect::<Result<Vec<_>, _>>()?;
        let mut inputs = Vec::new();
        for (name, input) in &raw.inputs {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return self.err(&input.span(), format!("inputs.{name}: an input's name is a-z, 0-9 and '_'"));
            }
            let value = input.get_ref();
            self.plain(&input.span(), &format!("inputs.{name}.description"), &value.description)?;
            if let Some(example) = &value.example {
                self.plain(&input.span(), &format!("inputs.{name}.example"), example)?;
            }
            inputs.push(Input {
                name: name.clone(),
                description: value.description.clone(),
                required: value.required,
                example: value.example.clone(),
            });
        }
        let mut steps = Vec::new();
        for (index, step) in raw.steps.iter().enumerate() {
            let field = format!("steps[{index}]");
            let raw_step = step.get_ref();
            let title = self.text(&format!("{field}.title"), &raw_step.title, 200)?;
            self.uses_known_inputs(&raw_step.title.span(), &format!("{field}.title"), &title, &inputs)?;
            let role = self.role(&format!("{field}.role"), &raw_step.role)?;
            let decision = raw_step
                .decision
                .as_ref()
                .map(|d| self.decision(&format!("{field}.decision"), d, &inputs))
                .transpose()?;
            if let Some(message) = raw_step.due_minutes.and_then(crate::decide::due_minutes_refusal) {
                return self.err(&step.span(), format!("{field}.due_minutes {message}"));
            }
            steps.push(Step { title, role, due_minutes: raw_step.due_minutes, decision });
        }
        let preapproved = raw
            .preapproved
            .iter()
            .enumerate()
            .map(|(index, d)| self.decision(&format!("preapproved[{index}]"), d, &inputs))
            .collect::<Result<Vec<_>, _>>()?;
        let summary = match &raw.summary {
            Some(summary) => {
                self.plain(&summary.span(), "summary", summary.get_ref())?;
                summary.get_ref().trim().to_owned()
            }
            None => String::new(),
        };
        Ok(Playbook {
            id,
            title,
            version,
            approved_by,
            approved_at,
            summary,
            required_roles,
            inputs,
            steps,
            preapproved,
            sha256: EntryHash::of(self.source.as_bytes()).to_hex(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::default_policy()
    }

    #[test]
    fn the_built_in_playbooks_load_under_the_default_policy() {
        let ids: Vec<String> = BUILT_IN_PLAYBOOKS
            .iter()
            .map(|source| Playbook::parse(source, &policy()).unwrap_or_else(|e| panic!("{e}")).id)
            .collect();
        assert_eq!(ids, ["leaked-secret", "oauth-grant-abuse", "compromised-service-account", "generic"]);
    }

    #[test]
    fn placeholders_are_filled_and_missing_inputs_refused() {
        let playbook = Playbook::parse(BUILT_IN_PLAYBOOKS[0], &policy()).expect("loads");
        let missing = playbook.fill(&BTreeMap::new()).expect_err("key_id is required");
        assert_eq!(missing.field, "inputs.key_id");
        let inputs: BTreeMap<String, String> =
            [("key_id", "AKIA1234"), ("provider", "AWS"), ("repository", "acme/infra")]
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
        let filled = playbook.fill(&inputs).expect("fills");
        assert!(filled.preapproved[0].title.contains("AKIA1234"), "{}", filled.preapproved[0].title);
        let unknown: BTreeMap<String, String> = [("colour".to_owned(), "red".to_owned())].into();
        assert_eq!(playbook.fill(&unknown).expect_err("unknown").field, "inputs.colour");
    }
}
