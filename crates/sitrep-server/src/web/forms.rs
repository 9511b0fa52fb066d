//! Forms that forgive: a refusal says which field it concerns, in the words the form uses, so
//! the page can put the reason beside that field; and a playbook's inputs are one labelled
//! field each, read back into the map the API takes.
//!
//! The API names fields as its JSON bodies do (`occurred_at`, `roles.legal`, `inputs.key_id`,
//! `actions[0].expires_in_hours`); a form names them as its inputs do. Both translations, to
//! the form's field and to a person's words, live here and nowhere else.

use std::fmt::Display;

use sitrep_core::OrgState;
use sitrep_core::playbook::Playbook;

use super::Fields;
use crate::error::ApiError;

/// Why a form's command was refused, with the API field it concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FormError {
    field: Option<String>,
    message: String,
}

impl FormError {
    /// A refusal about one field, named as the API names it.
    pub(super) fn at(field: &str, message: impl Into<String>) -> Self {
        FormError { field: Some(field.to_owned()), message: message.into() }
    }

    /// A refusal about no one field (an id in the path, the state of the incident).
    pub(super) fn text(message: impl Display) -> Self {
        FormError { field: None, message: message.to_string() }
    }
}

impl From<String> for FormError {
    fn from(message: String) -> Self {
        FormError::text(message)
    }
}

impl From<ApiError> for FormError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Invalid { field, message } => FormError { field: Some(field), message },
            other => FormError::text(other),
        }
    }
}

impl Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A refusal as a page shows it: which form (its hidden `form` field), which of its fields
/// (empty when none is at fault), and the reason in words.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refused {
    pub(crate) form: String,
    pub(crate) field: String,
    pub(crate) message: String,
}

impl Refused {
    /// The refusal of the form whose fields are `fields`.
    pub(super) fn of(error: impl Into<FormError>, fields: &Fields) -> Refused {
        let error = error.into();
        let form = fields.get("form").to_owned();
        let message = plain(&error.message);
        match error.field {
            Some(api) => Refused {
                form,
                field: form_field(&api, fields.get("playbook")).unwrap_or_default(),
                message: format!("{}: {message}", words(&api)),
            },
            None => Refused { form, field: String::new(), message },
        }
    }

    /// Whether this is the refusal of the form keyed `form`.
    pub(crate) fn is_for(&self, form: impl Display) -> bool {
        !self.form.is_empty() && self.form == form.to_string()
    }
}

/// The form field an API field is read from, when a form has one.
fn form_field(api: &str, playbook: &str) -> Option<String> {
    if let Some(role) = api.strip_prefix("roles.") {
        return Some(format!("role_{role}"));
    }
    if let Some(input) = api.strip_prefix("inputs.") {
        return Some(input_name(playbook, input));
    }
    if let Some(action) = api.strip_prefix("actions[0].") {
        // The share form's one action.
        return match action {
            "expires_in_hours" => Some("hours".into()),
            "items" | "party" => Some(action.into()),
            _ => None,
        };
    }
    match api {
        "inputs" => Some("playbook".into()),
        "body" | "actions" | "command" | "state" | "statement" => None,
        other if other.contains(['.', '[']) => None,
        other => Some(other.to_owned()),
    }
}

/// The form field of a playbook's input: one per playbook, so that each playbook's inputs keep
/// their own values while another is chosen.
pub(crate) fn input_name(playbook: &str, input: &str) -> String {
    format!("input.{playbook}.{input}")
}

/// An API field in the words the forms use for it.
fn words(api: &str) -> String {
    if let Some(role) = api.strip_prefix("roles.") {
        return format!("The {} role", role.replace('_', " "));
    }
    if let Some(input) = api.strip_prefix("inputs.") {
        return format!("The playbook input “{}”", input.replace('_', " "));
    }
    let known = match api.strip_prefix("actions[0].").unwrap_or(api) {
        "title" => "Title",
        "text" => "The text",
        "source" => "Source",
        "occurred_at" => "When it happened",
        "backfill_reason" => "Why only now",
        "class" => "Class",
        "rationale" => "Rationale",
        "owner" => "Owner",
        "due" => "Due",
        "audience" => "Audience",
        "channel" => "Channel",
        "sha256" => "The version",
        "severity" => "Severity",
        "scope" => "Scope",
        "playbook" => "Playbook",
        "inputs" => "The playbook inputs",
        "role" => "Role",
        "user" => "Person",
        "unit" => "Where",
        "to" => "Hand command to",
        "reason" | "why" => "Why",
        "phase" => "Phase",
        "note" => "Note",
        "basis" => "Basis",
        "file" => "The file",
        "collected_at" => "Collected at",
        "collected_by" => "Collected by",
        "lesson" => "Lesson",
        "csf" => "NIST CSF 2.0 subcategory",
        "what_happened" => "What happened",
        "change" => "What we change",
        "summary" => "Review summary",
        "party" => "Party",
        "items" => "Items",
        "hours" | "expires_in_hours" => "Link lifetime",
        "authority" => "Authority",
        "reference" => "Their reference",
        "sent_at" => "Sent at",
        "aware_at" => "Aware since",
        "determination" => "Determination",
        "purpose" => "Purpose",
        "actions" => "Actions",
        "statement" => "Statement",
        _ => "",
    };
    if known.is_empty() { "This form".to_owned() } else { known.to_owned() }
}

/// A reason without the machine's spellings: an API field named inside it (`occurred_at`) is
/// given in words, and serde's backticks become quotes.
fn plain(message: &str) -> String {
    if message.strip_prefix("missing field `").is_some_and(|rest| rest.ends_with('`')) {
        return "is missing".to_owned();
    }
    message
        .split_inclusive(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(|token| {
            let end = token.len() - token.trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).len();
            let (word, tail) = token.split_at(token.len() - end);
            let said = words(word);
            if word.contains('_') && said != "This form" { format!("“{said}”{tail}") } else { token.to_owned() }
        })
        .collect::<String>()
        .replace('`', "'")
}

/// One playbook a form offers, with one field per declared input.
#[derive(Debug, Clone)]
pub(crate) struct PlaybookChoice {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) chosen: bool,
    pub(crate) inputs: Vec<InputField>,
}

/// One declared input of a playbook as a form field; `value` is what was typed before a refusal.
#[derive(Debug, Clone)]
pub(crate) struct InputField {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) description: String,
    pub(crate) required: bool,
    pub(crate) example: String,
    pub(crate) value: String,
}

/// The playbooks named in `ids` (all when `None`), each with its inputs and the values
/// `fields` carried; the one `fields` chose is marked, else the first when `first_chosen`.
pub(super) fn playbook_choices(
    org: &OrgState,
    ids: Option<&[String]>,
    fields: &Fields,
    first_chosen: bool,
) -> Vec<PlaybookChoice> {
    let chosen = fields.get("playbook");
    let mut choices: Vec<PlaybookChoice> = org
        .playbooks
        .values()
        .filter(|p| ids.is_none_or(|ids| ids.contains(&p.id)))
        .filter_map(|p| Playbook::parse(&p.source, &org.policy).ok())
        .map(|p| PlaybookChoice {
            chosen: p.id == chosen,
            inputs: p
                .inputs
                .iter()
                .map(|i| {
                    let name = input_name(&p.id, &i.name);
                    InputField {
                        id: format!("pb-{}-{}", p.id, i.name),
                        label: capitalised(&i.name.replace('_', " ")),
                        description: i.description.clone(),
                        required: i.required,
                        example: i.example.clone().unwrap_or_default(),
                        value: fields.get(&name).to_owned(),
                        name,
                    }
                })
                .collect(),
            id: p.id,
            title: p.title,
        })
        .collect();
    if first_chosen
        && !choices.iter().any(|c| c.chosen)
        && let Some(first) = choices.first_mut()
    {
        first.chosen = true;
    }
    choices
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The chosen playbook's inputs as the API's `inputs` map; blank fields are left out, for the
/// playbook to refuse a missing required one by name.
pub(super) fn inputs_of(fields: &Fields) -> serde_json::Map<String, serde_json::Value> {
    let prefix = input_name(fields.get("playbook").trim(), "");
    fields
        .0
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix(&prefix)?, value.trim())))
        .filter(|(name, value)| !name.is_empty() && !value.is_empty())
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{FormError, Refused, inputs_of};
    use crate::web::Fields;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
    }

    #[test]
    fn a_refusal_names_the_forms_field_in_words() {
        let form = fields(&[("form", "fact"), ("playbook", "leaked_key")]);
        let refused = Refused::of(
            FormError::at("backfill_reason", "is given only with occurred_at, the time it explains"),
            &form,
        );
        assert_eq!(refused.form, "fact");
        assert_eq!(refused.field, "backfill_reason");
        assert_eq!(refused.message, "Why only now: is given only with “When it happened”, the time it explains");
        let input = Refused::of(FormError::at("inputs.key_id", "is required"), &form);
        assert_eq!(input.field, "input.leaked_key.key_id");
        assert_eq!(input.message, "The playbook input “key id”: is required");
        let role = Refused::of(FormError::at("roles.legal", "there is no active user 'x'"), &form);
        assert_eq!(
            (role.field.as_str(), role.message.as_str()),
            ("role_legal", "The legal role: there is no active user 'x'")
        );
        let missing = Refused::of(FormError::at("title", "missing field `title`"), &form);
        assert_eq!(missing.message, "Title: is missing");
        let whole = Refused::of(FormError::text("the incident is closed"), &form);
        assert_eq!((whole.field.as_str(), whole.message.as_str()), ("", "the incident is closed"));
    }

    #[test]
    fn only_the_chosen_playbooks_inputs_are_read() {
        let form = fields(&[
            ("playbook", "leaked_key"),
            ("input.leaked_key.key_id", " AKIA "),
            ("input.leaked_key.note", " "),
            ("input.phishing.mailbox", "ops"),
        ]);
        let inputs = inputs_of(&form);
        assert_eq!(inputs.len(), 1, "{inputs:?}");
        assert_eq!(inputs.get("key_id").and_then(|v| v.as_str()), Some("AKIA"));
    }
}
