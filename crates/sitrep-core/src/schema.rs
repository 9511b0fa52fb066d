//! OpenAPI schemas for the types whose JSON is written by hand (ids, names, times, hashes), so
//! the API's document says what their JSON really is: a string. Only with feature `openapi`.

/// A string schema named after the type, with a description and an example.
macro_rules! string_schema {
    ($ty:ty, $description:expr, $example:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

/// A closed vocabulary: one of its words.
macro_rules! word_schema {
    ($ty:ty) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(<$ty>::ALL.iter().map(|word| word.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

string_schema!(crate::ids::UserName, "A user name", "lee");
string_schema!(crate::ids::Role, "An incident role of the policy", "tech_lead");
string_schema!(crate::ids::DecisionClass, "A decision class of the policy", "containment");
string_schema!(crate::ids::IncidentNumber, "An incident id", "INC-12");
string_schema!(crate::ids::FactId, "A fact id", "F-3");
string_schema!(crate::ids::DecisionId, "A decision id", "D-2");
string_schema!(crate::ids::LessonId, "A lesson id", "L-1");
string_schema!(crate::ids::ControlChangeId, "A control change id", "CC-2");
string_schema!(crate::ids::ShareId, "A share id", "SH-1");
string_schema!(crate::ids::StatementId, "A statement id", "ST-2");
string_schema!(crate::ids::TaskId, "A task id", "T-5");
word_schema!(crate::ids::Severity);
word_schema!(crate::ids::Phase);
word_schema!(crate::ids::OrgRole);
string_schema!(crate::ids::Actor, "Who wrote an entry: a user name, or system:<connector>", "system:worker");
string_schema!(crate::time::Timestamp, "A server time, UTC, to the microsecond", "2026-11-27T03:10:00.000000Z");
string_schema!(
    crate::entry::EntryHash,
    "A SHA-256, 64 lower-case hex digits",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
);
