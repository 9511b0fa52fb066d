//! Schemas for request fields that state what the core enforces, so a request the OpenAPI
//! document calls valid is one the server takes (unless the state refuses it: an unknown
//! playbook, a user who is not a participant). Used through `#[schema(schema_with = …)]`.
//!
//! User text follows the core's one rule (`sitrep_core::decide::text`): not blank, at most so
//! many characters, and none of the characters `sitrep_core::text::hidden` refuses. The pattern
//! is computed from that function, so the document cannot drift from it.

use std::sync::OnceLock;

use sitrep_core::decide::{SHORT_MAX, TEXT_MAX, TITLE_MAX};
use sitrep_core::{OrgRole, Phase, Severity};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// A character class (without brackets) of every character user text may not hold.
fn hidden_class() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for code in 0..=u32::from(char::MAX) {
            let Some(c) = char::from_u32(code) else { continue };
            if sitrep_core::text::hidden(c).is_none() {
                continue;
            }
            match ranges.last_mut() {
                Some((_, last)) if *last + 1 == code => *last = code,
                _ => ranges.push((code, code)),
            }
        }
        // Past the BMP the character itself: `\u{…}` is not read by every regex engine.
        let escape = |code: u32| match char::from_u32(code) {
            Some(c) if code > 0xFFFF => c.to_string(),
            _ => format!("\\u{code:04X}"),
        };
        ranges
            .iter()
            .map(
                |&(first, last)| {
                    if first == last { escape(first) } else { format!("{}-{}", escape(first), escape(last)) }
                },
            )
            .collect()
    })
}

/// Not blank, and no hidden character anywhere.
fn text_pattern() -> String {
    let hidden = hidden_class();
    format!("^[^{hidden}]*[^\\s{hidden}][^{hidden}]*$")
}

fn string(nullable: bool) -> ObjectBuilder {
    let kind =
        if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::Type(Type::String) };
    ObjectBuilder::new().schema_type(kind)
}

fn text_of(max: usize, nullable: bool) -> Object {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "Text: not blank, at most {max} characters, without control (but line breaks and tabs), \
             bidirectional-formatting or invisible characters"
        )))
        .build()
}

/// A title or a line (`TITLE_MAX` characters).
pub fn title() -> Object {
    text_of(TITLE_MAX, false)
}

/// A time in a form part: RFC 3339, or empty for "not given" (what a browser sends for a field
/// left blank).
pub fn form_time() -> utoipa::openapi::schema::Schema {
    let time = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)));
    let either = utoipa::openapi::schema::OneOfBuilder::new()
        .item(time)
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)))
        .description(Some("RFC 3339, or empty when not given"));
    utoipa::openapi::schema::Schema::OneOf(either.build())
}

/// An optional title or line.
pub fn optional_title() -> Object {
    text_of(TITLE_MAX, true)
}

/// A reason, note or basis (`SHORT_MAX` characters).
pub fn short() -> Object {
    text_of(SHORT_MAX, false)
}

/// An optional reason, note or basis.
pub fn optional_short() -> Object {
    text_of(SHORT_MAX, true)
}

/// Longer text: a fact, a statement, a lesson (`TEXT_MAX` characters).
pub fn long() -> Object {
    text_of(TEXT_MAX, false)
}

/// Optional longer text.
pub fn optional_long() -> Object {
    text_of(TEXT_MAX, true)
}

fn slug(max: usize, others: &str, nullable: bool, what: &str) -> Object {
    string(nullable)
        .pattern(Some(format!("^[a-z][a-z0-9{others}]{{0,{}}}$", max - 1)))
        .description(Some(what.to_owned()))
        .build()
}

/// A user name, as `UserName` reads it.
pub fn user_name() -> Object {
    slug(64, "._-", false, "A user name: a-z, 0-9, '.', '_' or '-', starting with a letter")
}

/// An optional user name.
pub fn optional_user_name() -> Object {
    slug(64, "._-", true, "A user name: a-z, 0-9, '.', '_' or '-', starting with a letter")
}

/// An incident role, as `Role` reads it (the policy says which exist).
pub fn role() -> Object {
    slug(40, "_", false, "An incident role of the policy, e.g. `legal`")
}

/// A decision class, as `DecisionClass` reads it (the policy says which exist).
pub fn decision_class() -> Object {
    slug(40, "_", false, "A decision class of the policy, e.g. `containment`")
}

fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, nullable: bool) -> Object {
    let mut values: Vec<Option<&str>> = values.into_iter().map(Some).collect();
    if nullable {
        values.push(None);
    }
    string(nullable).enum_values(Some(values)).build()
}

pub fn severity() -> Object {
    one_of(Severity::ALL.iter().map(|s| s.as_str()), false)
}

pub fn phase() -> Object {
    one_of(Phase::ALL.iter().map(|p| p.as_str()), false)
}

pub fn org_role() -> Object {
    one_of(OrgRole::ALL.iter().map(|r| r.as_str()), false)
}

pub fn audience() -> Object {
    one_of(sitrep_core::events::Audience::ALL.iter().map(|a| a.as_str()), false)
}

/// As `PartyKind` is spelled in JSON (snake case).
pub fn party_kind() -> Object {
    one_of(["msp", "cloud_operator", "vendor", "regulator", "law_enforcement", "counsel"], false)
}

/// As `FactStatus` is spelled in JSON.
pub fn optional_fact_status() -> Object {
    one_of(["unverified", "verified", "disproved"], true)
}

/// A header or query parameter is text or absent, never JSON `null`; utoipa documents an
/// optional header as nullable, which would tell clients to send the word `null`.
#[derive(Debug)]
pub struct NoNullParameters;

impl utoipa::Modify for NoNullParameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;

        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
                        && let SchemaType::Array(types) = &object.schema_type
                    {
                        let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                        if let [only] = kept.as_slice() {
                            object.schema_type = SchemaType::Type(only.clone());
                        }
                    }
                }
            }
        }
    }
}

/// utoipa names an operation after its handler, and several modules have a `list` or a `show`;
/// an operationId must be unique (clients name methods after it, links point at it), so a
/// repeated one gets the last fixed segment of its path: `list_parties`, `list_evidence`.
#[derive(Debug)]
pub struct UniqueOperationIds;

impl utoipa::Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for item in openapi.paths.paths.values() {
            for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch].into_iter().flatten() {
                if let Some(id) = &operation.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                if let Some(id) = &mut operation.operation_id
                    && seen.get(id.as_str()).is_some_and(|count| *count > 1)
                {
                    let resource = path
                        .split('/')
                        .rfind(|s| !s.is_empty() && !s.starts_with('{') && *s != id.as_str())
                        .unwrap_or("api")
                        .replace(['-', '.'], "_");
                    *id = format!("{id}_{resource}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_class_holds_exactly_what_the_core_refuses() {
        let class = hidden_class();
        assert!(class.starts_with("\\u0000-\\u0008"), "controls but tab: {class}");
        assert!(class.contains("\\u200B"), "zero width space");
        assert!(class.contains("\u{E0000}-"), "tag characters, past the BMP");
        assert!(!class.contains("\\u0009") && !class.contains("\\u000A"), "tab and line break are text");
    }
}
