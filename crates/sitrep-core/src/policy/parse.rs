//! The policy file's format and its resolution into a [`Policy`]: every name checked, every
//! error located in the file.

use super::*;

pub(super) fn is_key(name: &str) -> bool {
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
pub(super) struct RawPolicy {
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
    #[serde(default)]
    mfa_acr: Vec<String>,
    #[serde(default)]
    alerts: Option<RawAlerts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    remind_after_minutes: Option<u32>,
    escalate_after_minutes: Option<u32>,
    task_due_soon_minutes: Option<u32>,
    update_reminder_minutes: Option<u32>,
    #[serde(default)]
    deputies: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepUp {
    within_minutes: Spanned<i64>,
    #[serde(default)]
    mfa: bool,
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
    step_up: Option<RawStepUp>,
}

pub(super) struct Resolver<'a> {
    pub(super) source: &'a str,
}

impl Resolver<'_> {
    fn err<T>(&self, span: &Range<usize>, message: impl Into<String>) -> Result<T, PolicyError> {
        Err(located(self.source, span, message.into()))
    }

    pub(super) fn resolve(&self, raw: RawPolicy) -> Result<Policy, PolicyError> {
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

        let actions = self.actions(&raw, &known)?;

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
        let clocks = self.clocks(&raw, &determinations, &classes)?;
        let mut units: Vec<(usize, (String, String))> = Vec::new();
        for (key, title) in &raw.units {
            if !is_key(key.get_ref()) {
                return self.err(&key.span(), "a unit's name is a-z, 0-9 and '_'");
            }
            units.push((key.span().start, (key.get_ref().clone(), title.trim().to_owned())));
        }
        units.sort_by_key(|(start, _)| *start);
        let alerts = self.alerts(raw.alerts.as_ref(), &known)?;
        Ok(Policy {
            alerts,
            units: units.into_iter().map(|(_, u)| u).collect(),
            name,
            roles: Roles { required, optional, read_only },
            actions,
            classes,
            determinations,
            clocks,
            mfa_acr: raw.mfa_acr.iter().map(|acr| acr.trim().to_owned()).filter(|acr| !acr.is_empty()).collect(),
            source: self.source.to_owned(),
            sha256: EntryHash::of(self.source.as_bytes()).to_hex(),
        })
    }

    /// When people are reminded and approvals escalated; what a file leaves out is the default.
    fn alerts(&self, raw: Option<&RawAlerts>, known: &[Role]) -> Result<AlertTimes, PolicyError> {
        let defaults = AlertTimes::default();
        let Some(raw) = raw else { return Ok(defaults) };
        let mut deputies = BTreeMap::new();
        for (role, deputy) in &raw.deputies {
            let named = self.known_roles(&[role.clone(), deputy.clone()], known, "alerts.deputies")?;
            deputies.insert(named[0].clone(), named[1].clone());
        }
        Ok(AlertTimes {
            remind_after_minutes: raw.remind_after_minutes.unwrap_or(defaults.remind_after_minutes),
            escalate_after_minutes: raw.escalate_after_minutes.unwrap_or(defaults.escalate_after_minutes),
            task_due_soon_minutes: raw.task_due_soon_minutes.unwrap_or(defaults.task_due_soon_minutes),
            update_reminder_minutes: raw.update_reminder_minutes.unwrap_or(defaults.update_reminder_minutes),
            deputies,
        })
    }

    /// Who may take each action; actions a file does not name get their default.
    fn actions(&self, raw: &RawPolicy, known: &[Role]) -> Result<ActionRules, PolicyError> {
        let who = |value: &Spanned<toml::Value>, field: &str| self.who(value, known, field);
        // Actions added after the first policy format: a file that does not name them gets the
        // default, so older policy files keep loading.
        let or_default = |value: &Option<Spanned<toml::Value>>, field: &str, default: &[&str]| match value {
            Some(value) => self.who(value, known, field),
            None => Ok(Who::Roles(
                default.iter().filter_map(|r| Role::parse(r).ok()).filter(|r| known.contains(r)).collect(),
            )),
        };
        Ok(ActionRules {
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
        })
    }

    /// The regulatory clocks, each starting on a known determination and stopped by a class of
    /// this policy, in file order.
    fn clocks(
        &self,
        raw: &RawPolicy,
        determinations: &[(String, String)],
        classes: &[ClassPolicy],
    ) -> Result<Vec<ClockPolicy>, PolicyError> {
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
        Ok(clocks.into_iter().map(|(_, c)| c).collect())
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
        let step_up = match &raw.step_up {
            None => None,
            Some(step_up) => {
                let minutes = *step_up.within_minutes.get_ref();
                if !(1..=1440).contains(&minutes) {
                    return self.err(
                        &step_up.within_minutes.span(),
                        format!("{} must be between 1 and 1440", field("step_up.within_minutes")),
                    );
                }
                Some(StepUp { within_minutes: minutes as u32, mfa: step_up.mfa })
            }
        };
        Ok(ClassPolicy {
            class,
            title,
            propose,
            rule: Rule { approve, people: people as u32, scope, step_up },
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
