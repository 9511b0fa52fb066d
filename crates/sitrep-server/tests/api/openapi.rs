//! The OpenAPI document: generated from the code, and listing every fixed route of SPEC §4.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::Value;

use crate::authz::documented_routes;
use crate::helpers::*;

/// SPEC §4's fixed routes that exist now (the evidence routes come with the evidence store).
const FIXED_ROUTES: [(&str, &str); 19] = [
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/users/{name}/tokens"),
    ("POST", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{id}"),
    ("GET", "/api/v1/incidents/{id}/record"),
    ("GET", "/api/v1/incidents/{id}/sitrep"),
    ("GET", "/api/v1/incidents/{id}/events"),
    ("POST", "/api/v1/incidents/{id}/roles"),
    ("POST", "/api/v1/incidents/{id}/phase"),
    ("POST", "/api/v1/incidents/{id}/facts"),
    ("POST", "/api/v1/incidents/{id}/facts/{fid}/verify"),
    ("POST", "/api/v1/incidents/{id}/facts/{fid}/disprove"),
    ("POST", "/api/v1/incidents/{id}/decisions"),
    ("POST", "/api/v1/incidents/{id}/decisions/{did}/approve"),
    ("POST", "/api/v1/incidents/{id}/decisions/{did}/reject"),
    ("POST", "/api/v1/incidents/{id}/decisions/{did}/withdraw"),
    ("POST", "/api/v1/incidents/{id}/tasks"),
    ("GET", "/api/v1/playbooks"),
];

#[tokio::test]
async fn the_openapi_document_is_json_listing_every_fixed_route_of_the_spec() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("the server answers");
    assert!(content_type(response.headers()).starts_with("application/json"));
    let document: Value = json_of(response, StatusCode::OK).await;
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "an OpenAPI 3 document");
    assert!(document["info"]["title"].as_str().is_some(), "with a title");
    let schemes = &document["components"]["securitySchemes"];
    assert!(schemes.get("token").is_some() && schemes.get("session").is_some(), "both ways to authenticate: {schemes}");

    let routes = documented_routes(&app).await;
    let missing: Vec<_> = FIXED_ROUTES
        .iter()
        .filter(|(method, path)| !routes.contains(&((*method).to_owned(), (*path).to_owned())))
        .collect();
    assert!(missing.is_empty(), "fixed routes of SPEC §4 missing from the OpenAPI document: {missing:?}");

    // Every operation says what it answers, and the fixed routes that take a body document it.
    for (method, path) in &routes {
        let operation = &document["paths"][path][method.to_lowercase()];
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents answers");
    }
    for (method, path) in FIXED_ROUTES.iter().filter(|(method, _)| *method == "POST") {
        let operation = &document["paths"][path][method.to_lowercase()];
        assert!(operation.get("requestBody").is_some(), "{method} {path} documents its body");
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literal that starts `text` (after whitespace), if any.
fn leading_literal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

#[test]
fn every_api_route_is_registered_through_utoipa() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "the scan finds the server's sources in {}", src.display());
    let mut outside = Vec::new();
    let mut document_route_seen = false;
    for file in &files {
        let source = std::fs::read_to_string(file).expect("a readable source file");
        let relative = file.strip_prefix(&src).expect("inside src").to_string_lossy().replace('\\', "/");
        // Any way of adding a route by path to an axum router.
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for (at, _) in source.match_indices(call) {
                let Some(path) = leading_literal(&source[at + call.len()..]) else { continue };
                let allowed = relative == "lib.rs" && path == "/api/v1/openapi.json";
                document_route_seen |= allowed;
                if path.starts_with("/api") && !allowed {
                    let line = source[..at].lines().count() + 1;
                    outside.push(format!("src/{relative}:{line}: {call}\"{path}\""));
                }
            }
        }
    }
    assert!(document_route_seen, "the scan reads registrations that span lines, like the document's own route");
    assert!(
        outside.is_empty(),
        "API routes registered with axum directly are missing from the OpenAPI document; register them in \
         api::routes() with .routes(routes!(handler)) and a #[utoipa::path]: {outside:#?}"
    );
}

/// Every operation of the document, as `(METHOD path, operation)`.
fn operations(document: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            found.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    found
}

#[tokio::test]
async fn errors_are_documented_as_problem_json_under_each_status_the_operation_answers() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("the server answers");
    let document: Value = json_of(response, StatusCode::OK).await;
    let problem = &document["components"]["responses"]["Problem"];
    assert_eq!(
        problem["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
        "one reusable problem response: {problem}"
    );
    let mut ids = std::collections::BTreeSet::new();
    for (name, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(ids.insert(id.clone()), "{name}: operationId {id} is used twice; clients and links need it unique");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, answer) in responses {
            assert!(!status.ends_with("XX"), "{name}: {status} is a range; name each status the server answers");
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    answer["$ref"], "#/components/responses/Problem",
                    "{name} {status}: an error is the Problem response (application/problem+json)"
                );
            }
        }
        let has = |status: &str| responses.contains_key(status);
        assert!(has("500"), "{name}: a defect answers 500");
        if operation["security"].as_array().is_some_and(|s| !s.is_empty()) {
            assert!(has("401"), "{name}: with credentials, 401");
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "422"] {
                assert!(has(status), "{name}: with a body, {status}");
            }
        }
        if !name.starts_with("GET ") {
            for status in ["403", "409", "503"] {
                assert!(has(status), "{name}: a change, {status}");
            }
        }
    }
}

#[tokio::test]
async fn request_text_fields_state_the_cores_text_rule() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("the server answers");
    let document: Value = json_of(response, StatusCode::OK).await;
    let title = &document["components"]["schemas"]["DeclareBody"]["properties"]["title"];
    assert_eq!(title["maxLength"], 200, "{title}");
    let pattern = title["pattern"].as_str().expect("a pattern");
    assert!(pattern.contains("\\u200B") && pattern.contains("\\s"), "not blank, nothing hidden: {pattern}");
    let reject = &document["components"]["schemas"]["RejectBody"];
    assert_eq!(reject["required"], serde_json::json!(["note"]), "a rejection's note is required: {reject}");
    let list = operations(&document)
        .into_iter()
        .find(|(name, _)| name == "GET /api/v1/incidents")
        .map(|(_, operation)| operation.clone())
        .expect("the incident list");
    let mine = list["parameters"].as_array().and_then(|p| p.iter().find(|p| p["name"] == "mine")).expect("mine");
    assert_eq!(mine["in"], "query", "a query parameter is documented in the query: {mine}");
}

/// Why an operation's success answers do not say what they are, if they do not.
fn success_without_schema(operation: &Value) -> Option<String> {
    let responses = operation["responses"].as_object()?;
    let mut missing = Vec::new();
    for (status, answer) in responses.iter().filter(|(status, _)| status.starts_with('2')) {
        if status == "204" {
            continue;
        }
        let Some(content) = answer["content"].as_object().filter(|c| !c.is_empty()) else {
            missing.push(format!("{status} names no content type"));
            continue;
        };
        for (media, body) in content {
            // Markdown, CSV, tar, event streams: the content type is what they are. JSON needs a
            // schema, and `{}` (anything) is none.
            let schema = body.get("schema").filter(|s| s.as_object().is_none_or(|o| !o.is_empty()));
            if media.contains("json") && schema.is_none() {
                missing.push(format!("{status} {media} has no schema"));
            }
        }
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

#[tokio::test]
async fn every_success_answer_with_a_body_has_a_schema() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.expect("the server answers");
    let document: Value = json_of(response, StatusCode::OK).await;
    let mut lacking = Vec::new();
    for (name, operation) in operations(&document) {
        if let Some(why) = success_without_schema(operation) {
            let id = operation["operationId"].as_str().unwrap_or_default();
            lacking.push(format!("{name} ({id}): {why}"));
        }
    }
    assert!(lacking.is_empty(), "success answers without a schema; give each a `body = …` type: {lacking:#?}");
    let answer = &document["components"]["schemas"]["IncidentAnswer"];
    assert!(answer["properties"]["decisions"].is_object(), "the incident's schema is in the document: {answer}");
}
