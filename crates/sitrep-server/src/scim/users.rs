//! `/Users`: the organisation's users as SCIM User resources.
//!
//! `id` and `userName` are the sitrep user name. sitrep keeps a user's name, display name,
//! whether they are active, their organisation roles (as `groups`) and, for users provisioned
//! here, the identity provider's id (`externalId`, recorded once). Other User attributes
//! (`name`, `emails`, …) are accepted and not kept, so an answer shows only what the record holds.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sitrep_core::authn::ExternalIdentity;
use sitrep_core::decide::decide_org_system;
use sitrep_core::org::User;
use sitrep_core::{OrgCommand, OrgRole, UserName};

use super::{
    CONNECTOR, DELETED_REASON, ListParams, PATCH_SCHEMA, Scim, ScimError, Seen, USER_SCHEMA, base, check_if_match,
    json_body, member, meta, project, projection, require_schema, resource_response,
};

/// The issuer recorded in the identity of users provisioned here.
const ISSUER: &str = "scim";

/// Attributes of the SCIM User schema sitrep does not keep: accepted in a change and ignored.
const NOT_KEPT: &[&str] = &[
    "name",
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "password",
    "emails",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
];

/// The enterprise extension, whose attributes are accepted and not kept.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user";

/// The sitrep user name for a SCIM `userName`. A valid sitrep name is kept as it is; any other
/// is derived the same way every time, so the identity provider's filter on `userName` finds
/// the user again: lower-cased, each character outside `a-z 0-9 . _ -` becomes `-`, and a name
/// that does not start with a letter gets a `u` in front. Longer than 64 characters: refused.
pub(super) fn derive_name(user_name: &str) -> Result<UserName, ScimError> {
    let trimmed = user_name.trim();
    if trimmed.is_empty() {
        return Err(ScimError::bad("invalidValue", "userName must not be empty"));
    }
    let mut name: String = trimmed
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert(0, 'u');
    }
    UserName::parse(&name).map_err(|_| {
        ScimError::bad("invalidValue", format!("userName '{trimmed}' gives a sitrep name longer than 64 characters"))
    })
}

/// Attributes compared case-exactly in filters.
fn case_exact(path: &str) -> bool {
    path.eq_ignore_ascii_case("id") || path.eq_ignore_ascii_case("externalId")
}

/// The `externalId` a user shows: the subject of an identity this connector recorded.
fn external_id(user: &User) -> Option<&str> {
    user.identity.as_ref().filter(|i| i.issuer == ISSUER).map(|i| i.subject.as_str())
}

/// The User resource for `user`.
fn render(scim: &Scim, seen: &Seen, user: &User) -> Value {
    let base = base(&scim.app);
    let name = user.name.as_str();
    let mut resource = json!({"schemas": [USER_SCHEMA], "id": name, "userName": name, "active": user.active});
    if let Some(id) = external_id(user) {
        resource["externalId"] = json!(id);
    }
    if let Some(display) = &user.display_name {
        resource["displayName"] = json!(display);
    }
    let groups: Vec<Value> = user
        .org_roles
        .iter()
        .map(|role| json!({"value": role.to_string(), "display": role.to_string(), "$ref": format!("{base}/Groups/{role}"), "type": "direct"}))
        .collect();
    if !groups.is_empty() {
        resource["groups"] = Value::Array(groups);
    }
    resource["meta"] = meta("User", format!("{base}/Users/{name}"), user.added_at, seen.user_changed(&user.name));
    resource
}

/// The user `id` names, unless unknown or deleted over SCIM.
fn find(scim: &Scim, seen: &Seen, id: &str) -> Result<User, ScimError> {
    let missing = || ScimError::not_found(format!("there is no user '{id}'"));
    let name = UserName::parse(id).map_err(|_| missing())?;
    if seen.is_deleted(&name) {
        return Err(missing());
    }
    scim.app.ledger.org().user(&name).cloned().ok_or_else(missing)
}

async fn listing(scim: &Scim, mut params: ListParams) -> Result<Response, ScimError> {
    if let Some(filter) = &mut params.filter {
        // `userName eq` names the identity provider's spelling; compare sitrep's. Partial
        // matches (`sw`, `co`, …) compare as given, case-insensitively.
        filter.map_values("userName", &|value| {
            if let Some(name) = value.as_str().and_then(|text| derive_name(text).ok()) {
                *value = json!(name.as_str());
            }
        });
    }
    let seen = scim.seen();
    let org = scim.app.ledger.org();
    let resources = org.users.values().filter(|u| !seen.is_deleted(&u.name)).map(|u| render(scim, &seen, u)).collect();
    Ok(params.answer(resources, &case_exact))
}

pub(super) async fn list(State(scim): State<Scim>, Query(query): Query<HashMap<String, String>>) -> Response {
    match ListParams::from_query(&query) {
        Ok(params) => listing(&scim, params).await.unwrap_or_else(IntoResponse::into_response),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn search(State(scim): State<Scim>, body: Body) -> Response {
    let answer = async {
        let body = json_body(&scim.app, body).await?;
        listing(&scim, ListParams::from_search(&body)?).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn read(
    State(scim): State<Scim>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let answer = async {
        let seen = scim.seen();
        let user = find(&scim, &seen, &id)?;
        let (attributes, excluded) = projection(&query);
        Ok::<_, ScimError>(resource_response(
            StatusCode::OK,
            &project(render(&scim, &seen, &user), &attributes, &excluded),
        ))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// What a change leaves the user as.
#[derive(Debug, Clone)]
struct Draft {
    display_name: Option<String>,
    active: bool,
}

/// A string attribute, `null` meaning none.
fn optional_string(value: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(ScimError::bad("invalidValue", format!("{name} must be a string"))),
    }
}

/// `active` as a boolean; some identity providers send `"True"` and `"False"`.
fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad("invalidValue", "active must be true or false")),
    }
}

/// The attributes of a POST or PUT body that sitrep keeps.
struct Given {
    user_name: UserName,
    external_id: Option<String>,
    display_name: Option<String>,
    active: Option<bool>,
}

fn given(body: &Map<String, Value>) -> Result<Given, ScimError> {
    require_schema(body, USER_SCHEMA)?;
    let user_name = match member(body, "userName") {
        Some(Value::String(text)) => derive_name(text)?,
        Some(_) => return Err(ScimError::bad("invalidValue", "userName must be a string")),
        None => return Err(ScimError::bad("invalidValue", "userName is required")),
    };
    let external_id = member(body, "externalId").map(|v| optional_string(v, "externalId")).transpose()?.flatten();
    if external_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        return Err(ScimError::bad("invalidValue", "externalId must not be empty"));
    }
    let display_name = member(body, "displayName").map(|v| optional_string(v, "displayName")).transpose()?.flatten();
    let active = member(body, "active").filter(|v| !v.is_null()).map(boolean).transpose()?;
    Ok(Given { user_name, external_id, display_name, active })
}

pub(super) async fn create(State(scim): State<Scim>, body: Body) -> Response {
    let answer = async {
        let body = json_body(&scim.app, body).await?;
        let Given { user_name, external_id, display_name, active } = given(&body)?;
        let seen = scim.seen();
        let org = scim.app.ledger.org();
        let active = active.unwrap_or(true);
        if let Some(existing) = org.user(&user_name) {
            if !seen.is_deleted(&user_name) {
                return Err(ScimError::new(
                    StatusCode::CONFLICT,
                    Some("uniqueness"),
                    format!("a user '{user_name}' already exists; filter on userName to find them"),
                ));
            }
            // Deleted over SCIM and created again: the record never forgets, so the same
            // person comes back, with the identity they were first provisioned with.
            let current = existing.clone();
            apply(&scim, &current, Draft { display_name: display_name.clone(), active: true }).await?;
            if !active {
                // Back, but inactive: disabled again with a reason that does not read as deleted.
                let enabled = scim.app.ledger.org().user(&user_name).cloned().ok_or_else(|| {
                    ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "the user vanished from the organisation")
                })?;
                apply(&scim, &enabled, Draft { display_name, active: false }).await?;
            }
        } else {
            let subject = external_id.unwrap_or_else(|| user_name.to_string());
            let provision = OrgCommand::ProvisionUser {
                user: user_name.clone(),
                display_name,
                org_role: OrgRole::Member,
                identity: ExternalIdentity { issuer: ISSUER.to_owned(), subject },
            };
            let mut commands = vec![provision];
            if !active {
                commands.push(OrgCommand::DisableUser {
                    user: user_name.clone(),
                    reason: Some("provisioned inactive by the identity provider".into()),
                });
            }
            together(&scim, commands).await?;
        }
        tracing::info!(user = %user_name, "SCIM provisioned a user");
        let seen = scim.seen();
        let user = find(&scim, &seen, user_name.as_str())?;
        Ok::<_, ScimError>(resource_response(StatusCode::CREATED, &render(&scim, &seen, &user)))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// Makes `current` into `draft`: every command is first decided dry against the current
/// organisation, so a refusal changes nothing; then each is written by `system:scim`.
async fn apply(scim: &Scim, current: &User, draft: Draft) -> Result<(), ScimError> {
    let user = current.name.clone();
    let mut commands = Vec::new();
    if draft.display_name != current.display_name {
        commands.push(OrgCommand::UpdateUser { user: user.clone(), display_name: draft.display_name });
    }
    if draft.active != current.active {
        commands.push(if draft.active {
            OrgCommand::EnableUser {
                user: user.clone(),
                reason: Some("reactivated by the identity provider over SCIM".into()),
            }
        } else {
            OrgCommand::DisableUser {
                user: user.clone(),
                reason: Some("deactivated by the identity provider over SCIM".into()),
            }
        });
    }
    let org = scim.app.ledger.org();
    let now = scim.app.now();
    let mut decided = Vec::new();
    for command in commands {
        match decide_org_system(&org, &command, now) {
            Ok(_) => decided.push(command),
            // The same display name after trimming: nothing to change.
            Err(sitrep_core::Refusal::Conflict(_)) if matches!(command, OrgCommand::UpdateUser { .. }) => {}
            Err(refusal) => return Err(sitrep_store::LedgerError::Refused(refusal).into()),
        }
    }
    for command in decided {
        let disables = matches!(command, OrgCommand::DisableUser { .. });
        scim.app.ledger.execute_org_system(CONNECTOR, command).await?;
        if disables {
            scim.app.auth.end_sessions_of(&user);
        }
    }
    Ok(())
}

/// Answers with the user as they are now.
async fn current(scim: &Scim, name: &UserName) -> Result<Response, ScimError> {
    let seen = scim.seen();
    let user = find(scim, &seen, name.as_str())?;
    Ok(resource_response(StatusCode::OK, &render(scim, &seen, &user)))
}

pub(super) async fn replace(
    State(scim): State<Scim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let seen = scim.seen();
        let user = find(&scim, &seen, &id)?;
        check_if_match(&headers, &render(&scim, &seen, &user))?;
        let body = json_body(&scim.app, body).await?;
        let given = given(&body)?;
        if given.user_name != user.name {
            return Err(ScimError::bad("mutability", "userName cannot change: it is the sitrep user name"));
        }
        if given.external_id.is_some() && given.external_id.as_deref() != external_id(&user) {
            return Err(ScimError::bad("mutability", "externalId is recorded once, when the user is provisioned"));
        }
        apply(&scim, &user, Draft { display_name: given.display_name, active: given.active.unwrap_or(user.active) })
            .await?;
        current(&scim, &user.name).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// Applies one PATCH operation's attribute to the draft.
fn patch_attribute(
    user: &User,
    draft: &mut Draft,
    op: &str,
    path: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let lower = path.to_ascii_lowercase();
    let core = USER_SCHEMA.to_ascii_lowercase();
    let attribute = if let Some(rest) = lower.strip_prefix(&core) {
        if rest.is_empty() {
            // The schema URN itself: its value is an object of attributes.
            return patch_object(user, draft, op, value);
        }
        &path[core.len() + 1..]
    } else if lower.starts_with(ENTERPRISE) {
        return Ok(());
    } else if lower.starts_with("urn:") {
        return Err(ScimError::bad("invalidPath", format!("'{path}' is not an attribute of a sitrep user")));
    } else {
        path
    };
    let top = attribute.split(['.', '[']).next().unwrap_or_default().to_ascii_lowercase();
    let remove = op == "remove";
    let needs = || value.ok_or_else(|| ScimError::bad("invalidValue", format!("'{op}' of {path} needs a value")));
    match top.as_str() {
        "displayname" if attribute.len() == top.len() => {
            draft.display_name = if remove { None } else { optional_string(needs()?, "displayName")? };
        }
        "active" if attribute.len() == top.len() => {
            if remove {
                return Err(ScimError::bad(
                    "mutability",
                    "active cannot be removed; replace it with false to deactivate",
                ));
            }
            draft.active = boolean(needs()?)?;
        }
        "externalid" if attribute.len() == top.len() => {
            let same = !remove && optional_string(needs()?, "externalId")?.as_deref() == external_id(user);
            if !same {
                return Err(ScimError::bad("mutability", "externalId is recorded once, when the user is provisioned"));
            }
        }
        "username" if attribute.len() == top.len() => {
            let same = match (remove, value) {
                (false, Some(Value::String(text))) => derive_name(text)? == user.name,
                _ => false,
            };
            if !same {
                return Err(ScimError::bad("mutability", "userName cannot change: it is the sitrep user name"));
            }
        }
        "id" | "meta" | "groups" | "schemas" => {
            return Err(ScimError::bad("mutability", format!("{top} is read-only; groups change through /Groups")));
        }
        other if NOT_KEPT.contains(&other) => {}
        _ => return Err(ScimError::bad("invalidPath", format!("'{path}' is not an attribute of a sitrep user"))),
    }
    Ok(())
}

/// An `add` or `replace` without a path: each member of the value is an attribute.
fn patch_object(user: &User, draft: &mut Draft, op: &str, value: Option<&Value>) -> Result<(), ScimError> {
    if op == "remove" {
        return Err(ScimError::bad("noTarget", "'remove' needs a path"));
    }
    let Some(Value::Object(attributes)) = value else {
        return Err(ScimError::bad("invalidValue", format!("'{op}' without a path needs an object of attributes")));
    };
    for (name, value) in attributes {
        if name.eq_ignore_ascii_case("schemas") {
            continue;
        }
        patch_attribute(user, draft, op, name, Some(value))?;
    }
    Ok(())
}

/// Applies a PatchOp body (RFC 7644 §3.5.2) to a draft of `user`, all or nothing.
fn patched(user: &User, body: &Map<String, Value>) -> Result<Draft, ScimError> {
    require_schema(body, PATCH_SCHEMA)?;
    let Some(Value::Array(operations)) = member(body, "Operations") else {
        return Err(ScimError::bad("invalidSyntax", "a PatchOp needs Operations: a list"));
    };
    if operations.is_empty() {
        return Err(ScimError::bad("invalidSyntax", "Operations is empty"));
    }
    let mut draft = Draft { display_name: user.display_name.clone(), active: user.active };
    for operation in operations {
        let Value::Object(operation) = operation else {
            return Err(ScimError::bad("invalidSyntax", "each operation is an object"));
        };
        let op = member(operation, "op").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        if !matches!(op.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::bad("invalidSyntax", "op must be add, replace or remove"));
        }
        let value = member(operation, "value");
        match member(operation, "path") {
            None | Some(Value::Null) => patch_object(user, &mut draft, &op, value)?,
            Some(Value::String(path)) => patch_attribute(user, &mut draft, &op, path.trim(), value)?,
            Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string")),
        }
    }
    Ok(draft)
}

pub(super) async fn patch(
    State(scim): State<Scim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let seen = scim.seen();
        let user = find(&scim, &seen, &id)?;
        check_if_match(&headers, &render(&scim, &seen, &user))?;
        let body = json_body(&scim.app, body).await?;
        let draft = patched(&user, &body)?;
        apply(&scim, &user, draft).await?;
        current(&scim, &user.name).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// Writes commands that belong together: all are submitted, in order, before any is awaited,
/// so the writer takes them into one batch, whose entries readers see only all at once (unless
/// it wakes between two submissions; the ledger has no request carrying several commands).
async fn together(scim: &Scim, commands: Vec<OrgCommand>) -> Result<(), ScimError> {
    let writes = commands.into_iter().map(|command| scim.app.ledger.execute_org_system(CONNECTOR, command));
    for written in futures_util::future::join_all(writes).await {
        written?;
    }
    Ok(())
}

/// DELETE disables the user (the record never forgets them) with a reason that makes them
/// read as deleted here: 404, out of lists, and a POST of the same userName brings them back.
/// A user who is already inactive is disabled again, with that reason.
pub(super) async fn delete(State(scim): State<Scim>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let answer = async {
        let seen = scim.seen();
        let user = find(&scim, &seen, &id)?;
        check_if_match(&headers, &render(&scim, &seen, &user))?;
        let disable = OrgCommand::DisableUser { user: user.name.clone(), reason: Some(DELETED_REASON.into()) };
        scim.app.ledger.execute_org_system(CONNECTOR, disable).await?;
        scim.app.auth.end_sessions_of(&user.name);
        tracing::info!(user = %user.name, "SCIM deleted (disabled) a user");
        Ok::<_, ScimError>(StatusCode::NO_CONTENT.into_response())
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_kept_or_derived_the_same_way_every_time() {
        let derived = |name: &str| derive_name(name).map(|n| n.to_string());
        assert_eq!(derived("lee"), Ok("lee".into()));
        assert_eq!(derived("Lee.Smith"), Ok("lee.smith".into()));
        assert_eq!(derived("lee@example.com"), Ok("lee-example.com".into()));
        assert_eq!(derived("3f2a-11"), Ok("u3f2a-11".into()));
        assert_eq!(derived("Zoë Ü"), Ok("zo---".into()));
        assert!(derived("").is_err());
        assert!(derived(&"a".repeat(65)).is_err());
    }
}
