//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) under `/scim/v2`, so an identity provider can
//! create, update and deactivate users and manage which organisation roles they hold.
//!
//! - **Off unless configured.** Without `scim_token_sha256` no route here exists (404), so a
//!   deployment that does not provision over SCIM shows outsiders nothing.
//! - **One bearer token**, compared by its SHA-256 in constant time; anything else is 401 with a
//!   SCIM error, logged, and nothing changes.
//! - **Every change is an entry** by `system:scim` (`Ledger::execute_org_system`), decided by
//!   the same `decide_org_system` as any connector: the record never forgets, so DELETE disables.
//! - **Groups are the organisation roles**, fixed; membership changes grant and revoke roles.
//!
//! `users.rs` and `groups.rs` hold the resources, `filter.rs` the filter language; this file
//! the routes, authentication, errors, discovery and what the record says about each user's
//! last change (`Tracker`).

pub mod filter;
mod groups;
mod users;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sitrep_core::org::{Changed, OrgState};
use sitrep_core::{OrgRole, Refusal, Timestamp, UserName};
use sitrep_store::LedgerError;

use crate::state::AppState;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const CONTENT_TYPE: &str = "application/scim+json";
/// The connector entries written here are by: `system:scim`.
pub const CONNECTOR: &str = "scim";
/// The reason a SCIM DELETE records: a user disabled with it reads as deleted (404) over SCIM.
pub const DELETED_REASON: &str = "deleted by the identity provider over SCIM";
/// The most resources one list answers with.
const PAGE_MAX: usize = 1000;

/// What every SCIM handler shares.
#[derive(Clone)]
pub(crate) struct Scim {
    app: AppState,
    token_sha256: Arc<str>,
}

/// The routes under `/scim/v2`, or none when SCIM is not configured.
pub fn routes(app: &AppState) -> Router<AppState> {
    let Some(hash) = app.config.scim_token_sha256.as_deref() else { return Router::new() };
    let scim = Scim { app: app.clone(), token_sha256: hash.to_ascii_lowercase().into() };
    let inner = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route("/Users/{id}", get(users::read).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route("/Groups/{id}", get(groups::read).put(groups::replace).patch(groups::patch).delete(groups::delete))
        .route("/.search", post(search_everything))
        .route("/Bulk", post(bulk))
        .route("/Me", get(me).post(me).put(me).patch(me).delete(me))
        .fallback(|| async { ScimError::not_found("there is no such SCIM endpoint; see /scim/v2/ResourceTypes") })
        .method_not_allowed_fallback(|| async {
            ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, "this endpoint does not take that method")
        })
        .layer(axum::middleware::from_fn_with_state(scim.clone(), authenticate))
        .with_state(scim);
    Router::new().nest("/scim/v2", inner)
}

/// Lets a request in only with the configured bearer token.
async fn authenticate(State(scim): State<Scim>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        tracing::warn!(path = %request.uri().path(), "SCIM request without a bearer token refused");
        return ScimError::unauthorized("send `Authorization: Bearer <the SCIM token>`").into_response();
    };
    let sha256 = hex::encode(Sha256::digest(token.as_bytes()));
    if !crate::auth::same_secret(&sha256, &scim.token_sha256) {
        tracing::warn!(path = %request.uri().path(), "SCIM request with a wrong bearer token refused");
        return ScimError::unauthorized("the SCIM token is wrong").into_response();
    }
    next.run(request).await
}

/// A SCIM error (RFC 7644 §3.12): the status, an optional `scimType` and words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    fn unauthorized(detail: &str) -> ScimError {
        ScimError::new(StatusCode::UNAUTHORIZED, None, detail)
    }

    pub fn not_implemented(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_IMPLEMENTED, None, detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body =
            json!({"schemas": [ERROR_SCHEMA], "status": self.status.as_u16().to_string(), "detail": self.detail});
        if let Some(kind) = self.scim_type {
            body["scimType"] = json!(kind);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim\""));
        }
        response
    }
}

impl From<LedgerError> for ScimError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Refused(Refusal::NotFound(message)) => ScimError::not_found(message),
            LedgerError::Refused(Refusal::Conflict(message)) => ScimError::new(StatusCode::CONFLICT, None, message),
            LedgerError::Refused(Refusal::Invalid { field, message }) => {
                ScimError::bad("invalidValue", format!("{field}: {message}"))
            }
            LedgerError::Refused(Refusal::Forbidden { message, .. }) => {
                ScimError::new(StatusCode::FORBIDDEN, None, message)
            }
            other => {
                let api: crate::ApiError = other.into();
                let status = match &api {
                    crate::ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
                    crate::ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                if let crate::ApiError::Internal(cause) = &api {
                    tracing::error!(%cause, "a SCIM change failed");
                }
                ScimError::new(status, None, api.to_string())
            }
        }
    }
}

/// A SCIM JSON answer.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], bytes).into_response()
}

/// A resource with its `ETag` (the `meta.version`) and, for a new one, its `Location`.
fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut response = scim_json(status, resource);
    let meta = &resource["meta"];
    if let Some(version) = meta["version"].as_str().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::ETAG, version);
    }
    if status == StatusCode::CREATED
        && let Some(location) = meta["location"].as_str().and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Reads a JSON object body within the server's body limit.
async fn json_body(app: &AppState, body: Body) -> Result<serde_json::Map<String, Value>, ScimError> {
    let limit = app.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, format!("the request body is larger than {limit} bytes"))
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|error| ScimError::bad("invalidSyntax", format!("the body is not valid JSON: {error}")))?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ScimError::bad("invalidSyntax", "the body must be a JSON object")),
    }
}

/// Refuses a body whose `schemas` does not name `schema`.
fn require_schema(body: &serde_json::Map<String, Value>, schema: &str) -> Result<(), ScimError> {
    let named = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|list| list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema))));
    if named { Ok(()) } else { Err(ScimError::bad("invalidSyntax", format!("`schemas` must name {schema}"))) }
}

/// A member of a JSON object by a case-insensitive name (SCIM attribute names are).
fn member<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The base URL resources' `location` is under.
fn base(app: &AppState) -> String {
    format!("{}/scim/v2", app.config.base_url().trim_end_matches('/'))
}

/// The paging, filtering and projection a list or `.search` asks for.
#[derive(Debug, Default)]
struct ListParams {
    filter: Option<filter::Filter>,
    start_index: usize,
    count: Option<usize>,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl ListParams {
    fn from_query(query: &HashMap<String, String>) -> Result<ListParams, ScimError> {
        let get = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be a whole number")))
                })
                .transpose()
        };
        Self::build(
            get("filter"),
            number("startIndex")?,
            number("count")?,
            get("attributes"),
            get("excludedAttributes"),
        )
    }

    fn from_search(body: &serde_json::Map<String, Value>) -> Result<ListParams, ScimError> {
        let text = |name: &str| member(body, name).and_then(Value::as_str);
        let list = |name: &str| -> Option<String> {
            match member(body, name)? {
                Value::Array(items) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
                Value::String(s) => Some(s.clone()),
                _ => None,
            }
        };
        let number = |name: &str| member(body, name).and_then(Value::as_i64);
        let (attributes, excluded) = (list("attributes"), list("excludedAttributes"));
        Self::build(text("filter"), number("startIndex"), number("count"), attributes.as_deref(), excluded.as_deref())
    }

    fn build(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<ListParams, ScimError> {
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| filter::parse(f).map_err(|e| ScimError::bad("invalidFilter", e.0)))
            .transpose()?;
        let names = |text: Option<&str>| -> Vec<String> {
            text.map(|t| t.split(',').map(|a| filter::bare(a.trim()).to_owned()).filter(|a| !a.is_empty()).collect())
                .unwrap_or_default()
        };
        Ok(ListParams {
            filter,
            // RFC 7644 §3.4.2.4: a start below 1 is 1, a negative count 0.
            start_index: usize::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1),
            count: count.map(|c| usize::try_from(c.max(0)).unwrap_or(0).min(PAGE_MAX)),
            attributes: names(attributes),
            excluded: names(excluded),
        })
    }

    /// The list answer for `resources` already rendered: filtered, paged and projected.
    fn answer(&self, resources: Vec<Value>, case_exact: &dyn Fn(&str) -> bool) -> Response {
        let matching: Vec<Value> = match &self.filter {
            Some(filter) => resources.into_iter().filter(|r| filter.matches(r, case_exact)).collect(),
            None => resources,
        };
        let total = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count.unwrap_or(PAGE_MAX))
            .map(|r| project(r, &self.attributes, &self.excluded))
            .collect();
        scim_json(
            StatusCode::OK,
            &json!({"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": self.start_index,
                "itemsPerPage": page.len(), "Resources": page}),
        )
    }
}

/// `attributes` / `excludedAttributes` of one GET.
fn projection(query: &HashMap<String, String>) -> (Vec<String>, Vec<String>) {
    let params = ListParams::build(
        None,
        None,
        None,
        query.iter().find(|(k, _)| k.eq_ignore_ascii_case("attributes")).map(|(_, v)| v.as_str()),
        query.iter().find(|(k, _)| k.eq_ignore_ascii_case("excludedAttributes")).map(|(_, v)| v.as_str()),
    )
    .unwrap_or_default();
    (params.attributes, params.excluded)
}

/// Keeps only `attributes` (with `id` and `schemas`, which are always returned), or drops
/// `excluded`; a sub-attribute (`name.givenName`) keeps or drops only itself.
fn project(mut resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Some(object) = resource.as_object_mut() else { return resource };
    let always = |key: &str| key == "id" || key == "schemas";
    if !attributes.is_empty() {
        let wanted =
            |key: &str| attributes.iter().any(|a| a.split('.').next().is_some_and(|top| top.eq_ignore_ascii_case(key)));
        object.retain(|key, _| always(key) || wanted(key));
        for attribute in attributes {
            if let Some((top, sub)) = attribute.split_once('.')
                && let Some((_, Value::Object(inner))) = object.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(top))
                && !attributes.iter().any(|a| a.eq_ignore_ascii_case(top))
            {
                let keep: Vec<&str> = attributes
                    .iter()
                    .filter_map(|a| a.split_once('.').filter(|(t, _)| t.eq_ignore_ascii_case(top)).map(|(_, s)| s))
                    .collect();
                inner
                    .retain(|key, _| keep.iter().any(|k| k.eq_ignore_ascii_case(key)) || key.eq_ignore_ascii_case(sub));
            }
        }
    } else {
        for attribute in excluded {
            match attribute.split_once('.') {
                Some((top, sub)) => {
                    if let Some((_, Value::Object(inner))) =
                        object.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(top))
                    {
                        inner.retain(|key, _| !key.eq_ignore_ascii_case(sub));
                    }
                }
                None => object.retain(|key, _| always(key) || !key.eq_ignore_ascii_case(attribute)),
            }
        }
    }
    resource
}

/// The organisation as SCIM sees it: users deleted over SCIM (disabled with
/// [`DELETED_REASON`] by `system:scim`, not enabled since) are gone, and each resource's
/// version is the entry that last changed it.
pub(crate) struct Seen {
    org: Arc<OrgState>,
}

impl Seen {
    pub(crate) fn is_deleted(&self, name: &UserName) -> bool {
        self.org.user(name).is_some_and(|user| {
            !user.active
                && user.disabled.as_ref().is_some_and(|disabled| {
                    disabled.reason.as_deref() == Some(DELETED_REASON) && disabled.by.to_string() == "system:scim"
                })
        })
    }

    pub(crate) fn user_changed(&self, name: &UserName) -> Option<Changed> {
        self.org.user(name).map(|user| user.changed)
    }

    pub(crate) fn role_changed(&self, role: OrgRole) -> Option<Changed> {
        self.org.roles_changed.get(&role).copied()
    }

    /// When the organisation record began: when the fixed groups were created.
    pub(crate) fn genesis(&self) -> Timestamp {
        self.org.created_at
    }
}

impl Scim {
    fn seen(&self) -> Seen {
        Seen { org: self.app.ledger.org() }
    }
}

/// `meta` for a resource.
fn meta(resource_type: &str, location: String, created: Timestamp, changed: Option<Changed>) -> Value {
    let modified = changed.map_or(created, |c| c.at);
    let version = format!("W/\"{}\"", changed.map_or(0, |c| c.seq));
    json!({"resourceType": resource_type, "created": created.to_string(), "lastModified": modified.to_string(),
        "location": location, "version": version})
}

/// Refuses a change whose `If-Match` names another version (RFC 7644 §3.14).
fn check_if_match(headers: &axum::http::HeaderMap, current: &Value) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let version = current["meta"]["version"].as_str().unwrap_or_default();
    let strip = |v: &str| v.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    if wanted.trim() == "*" || wanted.split(',').any(|w| strip(w) == strip(version)) {
        Ok(())
    } else {
        Err(ScimError::new(StatusCode::PRECONDITION_FAILED, None, format!("the resource is now at version {version}")))
    }
}

async fn search_everything() -> ScimError {
    ScimError::not_implemented(
        "searching every resource type at once is not supported; POST /Users/.search or /Groups/.search",
    )
}

async fn bulk() -> ScimError {
    ScimError::not_implemented("bulk operations are not supported (see /ServiceProviderConfig)")
}

async fn me() -> ScimError {
    ScimError::not_implemented("/Me is not supported: the SCIM token belongs to no user")
}

async fn service_provider_config(State(scim): State<Scim>) -> Response {
    let base = base(&scim.app);
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [SPC_SCHEMA],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": PAGE_MAX},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The token whose SHA-256 is the server's scim_token_sha256",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
        }),
    )
}

fn resource_type_json(base: &str, id: &str) -> Value {
    let (endpoint, schema, description) = match id {
        "User" => ("/Users", USER_SCHEMA, "The organisation's users; DELETE disables (the record never forgets)"),
        _ => ("/Groups", GROUP_SCHEMA, "The organisation roles, fixed; membership grants and revokes the role"),
    };
    json!({"schemas": [RESOURCE_TYPE_SCHEMA], "id": id, "name": id, "endpoint": endpoint, "description": description,
        "schema": schema, "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")}})
}

async fn resource_types(State(scim): State<Scim>) -> Response {
    let base = base(&scim.app);
    let all: Vec<Value> = ["User", "Group"].iter().map(|id| resource_type_json(&base, id)).collect();
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": all.len(), "startIndex": 1, "itemsPerPage": all.len(), "Resources": all}),
    )
}

async fn resource_type(State(scim): State<Scim>, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    match id.as_str() {
        "User" | "Group" => scim_json(StatusCode::OK, &resource_type_json(&base(&scim.app), &id)),
        _ => {
            ScimError::not_found(format!("there is no resource type '{id}'; there are User and Group")).into_response()
        }
    }
}

/// One attribute's description in `/Schemas`.
fn attribute(name: &str, kind: &str, mutability: &str, required: bool, case_exact: bool, description: &str) -> Value {
    json!({"name": name, "type": kind, "multiValued": false, "description": description, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default",
        "uniqueness": if name == "userName" { "server" } else { "none" }})
}

fn reference_list(name: &str, mutability: &str, referenced: &str, description: &str) -> Value {
    let sub = |n: &str, kind: &str, description: &str| {
        let mut a = attribute(n, kind, mutability, false, n == "value" || n == "$ref", description);
        if kind == "reference" {
            a["referenceTypes"] = json!([referenced]);
        }
        a
    };
    json!({"name": name, "type": "complex", "multiValued": true, "description": description, "required": false,
    "mutability": mutability, "returned": "default", "uniqueness": "none",
    "subAttributes": [
        sub("value", "string", "The id of the member"),
        sub("$ref", "reference", "The URI of the member"),
        sub("display", "string", "A human-readable name"),
        sub("type", "string", "User"),
    ]})
}

fn schema_json(base: &str, id: &str) -> Option<Value> {
    let (name, description, attributes) = match id {
        USER_SCHEMA => (
            "User",
            "A sitrep user. Only what sitrep keeps is described: other User attributes are accepted and not kept.",
            vec![
                attribute(
                    "userName",
                    "string",
                    "immutable",
                    true,
                    false,
                    "The sitrep user name, also the id: lower-case, and a name that is not already valid is derived (see docs/scim.md)",
                ),
                attribute(
                    "externalId",
                    "string",
                    "immutable",
                    false,
                    true,
                    "The identity provider's id for the person, recorded once when provisioned",
                ),
                attribute("displayName", "string", "readWrite", false, false, "The name shown for the person"),
                attribute(
                    "active",
                    "boolean",
                    "readWrite",
                    true,
                    false,
                    "false disables the user: tokens and sessions end. Always held, so never removed; a create without it means true",
                ),
                reference_list("groups", "readOnly", "Group", "The organisation roles the user holds"),
            ],
        ),
        GROUP_SCHEMA => (
            "Group",
            "An organisation role of sitrep: the groups are fixed, their members are who holds the role.",
            vec![
                attribute("displayName", "string", "immutable", true, false, "The organisation role's name"),
                reference_list("members", "readWrite", "User", "The users who hold the role"),
            ],
        ),
        _ => return None,
    };
    Some(json!({"schemas": [SCHEMA_SCHEMA], "id": id, "name": name, "description": description,
        "attributes": attributes, "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}}))
}

async fn schemas(State(scim): State<Scim>) -> Response {
    let base = base(&scim.app);
    let all: Vec<Value> = [USER_SCHEMA, GROUP_SCHEMA].iter().filter_map(|id| schema_json(&base, id)).collect();
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_SCHEMA], "totalResults": all.len(), "startIndex": 1, "itemsPerPage": all.len(), "Resources": all}),
    )
}

async fn schema(State(scim): State<Scim>, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    match schema_json(&base(&scim.app), &id) {
        Some(schema) => scim_json(StatusCode::OK, &schema),
        None => ScimError::not_found(format!("there is no schema '{id}'")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_what_was_asked() {
        let user =
            json!({"schemas": [USER_SCHEMA], "id": "lee", "userName": "lee", "displayName": "Lee", "active": true});
        let only = project(user.clone(), &["displayName".into()], &[]);
        assert_eq!(only, json!({"schemas": [USER_SCHEMA], "id": "lee", "displayName": "Lee"}));
        let without = project(user, &[], &["active".into(), "id".into()]);
        assert_eq!(without, json!({"schemas": [USER_SCHEMA], "id": "lee", "userName": "lee", "displayName": "Lee"}));
    }
}
