//! `/Groups`: the organisation roles (`admin`, `member`, `viewer`, `auditor`) as fixed SCIM
//! groups. A group's members are the users who hold the role; adding or removing a member
//! grants or revokes it by `system:scim`, under the same rules as an admin (the last active
//! admin keeps the role). Groups cannot be created, renamed or deleted: 501 or 409 says so.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sitrep_core::decide::decide_org_system;
use sitrep_core::{OrgCommand, OrgRole, UserName};

use super::filter::{self, Filter};
use super::{
    CONNECTOR, GROUP_SCHEMA, ListParams, PATCH_SCHEMA, Scim, ScimError, Seen, base, check_if_match, json_body, member,
    meta, project, projection, require_schema, resource_response,
};

/// Who holds `role`, leaving out users deleted over SCIM.
fn holders(scim: &Scim, seen: &Seen, role: OrgRole) -> BTreeSet<UserName> {
    let org = scim.app.ledger.org();
    org.users.values().filter(|u| u.has(role) && !seen.is_deleted(&u.name)).map(|u| u.name.clone()).collect()
}

fn render(scim: &Scim, seen: &Seen, role: OrgRole) -> Value {
    let base = base(&scim.app);
    let org = scim.app.ledger.org();
    let members: Vec<Value> = holders(scim, seen, role)
        .iter()
        .map(|name| {
            let display = org.user(name).and_then(|u| u.display_name.clone()).unwrap_or_else(|| name.to_string());
            json!({"value": name.as_str(), "display": display, "$ref": format!("{base}/Users/{name}"), "type": "User"})
        })
        .collect();
    let created = seen.genesis();
    json!({"schemas": [GROUP_SCHEMA], "id": role.to_string(), "displayName": role.to_string(), "members": members,
        "meta": meta("Group", format!("{base}/Groups/{role}"), created, seen.role_changed(role))})
}

fn find(id: &str) -> Result<OrgRole, ScimError> {
    id.parse::<OrgRole>().map_err(|_| {
        let all: Vec<String> = OrgRole::ALL.iter().map(ToString::to_string).collect();
        ScimError::not_found(format!(
            "there is no group '{id}'; the groups are the organisation roles: {}",
            all.join(", ")
        ))
    })
}

fn case_exact(path: &str) -> bool {
    path.eq_ignore_ascii_case("id") || path.eq_ignore_ascii_case("members.value")
}

async fn listing(scim: &Scim, params: ListParams) -> Result<Response, ScimError> {
    let seen = scim.seen();
    let resources = OrgRole::ALL.iter().map(|role| render(scim, &seen, *role)).collect();
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
        let role = find(&id)?;
        let seen = scim.seen();
        let (attributes, excluded) = projection(&query);
        Ok::<_, ScimError>(resource_response(
            StatusCode::OK,
            &project(render(&scim, &seen, role), &attributes, &excluded),
        ))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A group cannot be created; naming an existing one says where it is.
pub(super) async fn create(State(scim): State<Scim>, body: Body) -> Response {
    let answer = async {
        let body = json_body(&scim.app, body).await?;
        let name = member(&body, "displayName").and_then(Value::as_str).unwrap_or_default();
        if let Ok(role) = name.to_ascii_lowercase().parse::<OrgRole>() {
            return Err(ScimError::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("the group '{role}' exists (id '{role}'); PATCH its members"),
            ));
        }
        Err(ScimError::not_implemented(
            "sitrep's groups are its organisation roles (admin, member, viewer, auditor); new groups cannot be created",
        ))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn delete(Path(id): Path<String>) -> Response {
    match find(&id) {
        Ok(role) => ScimError::not_implemented(format!(
            "the group '{role}' is an organisation role and cannot be deleted; remove its members instead"
        ))
        .into_response(),
        Err(error) => error.into_response(),
    }
}

/// The user names a `members` value lists (`[{"value": "lee"}, …]`), each an existing user.
fn member_names(scim: &Scim, seen: &Seen, value: Option<&Value>) -> Result<BTreeSet<UserName>, ScimError> {
    let items = match value {
        Some(Value::Array(items)) => items.as_slice(),
        Some(single @ Value::Object(_)) => std::slice::from_ref(single),
        Some(Value::Null) | None => &[],
        Some(_) => return Err(ScimError::bad("invalidValue", "members must be a list of {\"value\": user id}")),
    };
    let org = scim.app.ledger.org();
    items
        .iter()
        .map(|item| {
            let id = item
                .as_object()
                .and_then(|o| member(o, "value"))
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::bad("invalidValue", "each member needs a value: the user's id"))?;
            UserName::parse(id)
                .ok()
                .filter(|name| org.user(name).is_some() && !seen.is_deleted(name))
                .ok_or_else(|| ScimError::bad("invalidValue", format!("there is no user '{id}'")))
        })
        .collect()
}

/// Applies one operation to the wanted members.
fn patch_operation(
    scim: &Scim,
    seen: &Seen,
    role: OrgRole,
    members: &mut BTreeSet<UserName>,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(path) = path else {
        if op == "remove" {
            return Err(ScimError::bad("noTarget", "'remove' needs a path"));
        }
        let Some(Value::Object(attributes)) = value else {
            return Err(ScimError::bad("invalidValue", format!("'{op}' without a path needs an object of attributes")));
        };
        for (name, value) in attributes {
            if !name.eq_ignore_ascii_case("schemas") {
                patch_operation(scim, seen, role, members, op, Some(name), Some(value))?;
            }
        }
        return Ok(());
    };
    let bare = filter::bare(path);
    let top = bare.split(['.', '[']).next().unwrap_or_default().to_ascii_lowercase();
    match top.as_str() {
        "members" => {
            if let Some(open) = bare.find('[') {
                // `members[value eq "lee"]`: the members the filter picks.
                let close = bare
                    .rfind(']')
                    .filter(|c| *c > open && *c == bare.len() - 1)
                    .ok_or_else(|| ScimError::bad("invalidPath", format!("'{path}' is not members[filter]")))?;
                let picked: Filter =
                    filter::parse(&bare[open + 1..close]).map_err(|e| ScimError::bad("invalidFilter", e.0))?;
                if op != "remove" {
                    return Err(ScimError::bad("invalidPath", "a members[filter] path is only for remove"));
                }
                members.retain(|name| !picked.matches(&json!({"value": name.as_str()}), &|_| true));
                return Ok(());
            }
            if bare.len() != top.len() {
                return Err(ScimError::bad("invalidPath", format!("'{path}' is not an attribute of a group")));
            }
            match op {
                "add" => members.extend(member_names(scim, seen, value)?),
                "replace" => *members = member_names(scim, seen, value)?,
                _ => match value {
                    Some(Value::Null) | None => members.clear(),
                    value => {
                        for name in member_names(scim, seen, value)? {
                            members.remove(&name);
                        }
                    }
                },
            }
        }
        "displayname" if bare.len() == top.len() => {
            let same = op != "remove"
                && value.and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(&role.to_string()));
            if !same {
                return Err(ScimError::bad(
                    "mutability",
                    "a group's displayName is its organisation role and cannot change",
                ));
            }
        }
        "id" | "meta" | "schemas" => return Err(ScimError::bad("mutability", format!("{top} is read-only"))),
        _ => return Err(ScimError::bad("invalidPath", format!("'{path}' is not an attribute of a group"))),
    }
    Ok(())
}

/// Grants and revokes `role` until `wanted` hold it: all decided dry first, so a refusal
/// changes nothing.
async fn make_members(
    scim: &Scim,
    role: OrgRole,
    now_holding: &BTreeSet<UserName>,
    wanted: &BTreeSet<UserName>,
) -> Result<(), ScimError> {
    let grants = wanted.difference(now_holding).map(|user| OrgCommand::GrantOrgRole { user: user.clone(), role });
    let revokes = now_holding.difference(wanted).map(|user| OrgCommand::RevokeOrgRole { user: user.clone(), role });
    let commands: Vec<OrgCommand> = grants.chain(revokes).collect();
    let org = scim.app.ledger.org();
    let now = scim.app.now();
    for command in &commands {
        decide_org_system(&org, command, now)
            .map_err(|refusal| ScimError::from(sitrep_store::LedgerError::Refused(refusal)))?;
    }
    for command in commands {
        scim.app.ledger.execute_org_system(CONNECTOR, command).await?;
    }
    Ok(())
}

fn patched(
    scim: &Scim,
    seen: &Seen,
    role: OrgRole,
    body: &Map<String, Value>,
    mut members: BTreeSet<UserName>,
) -> Result<BTreeSet<UserName>, ScimError> {
    require_schema(body, PATCH_SCHEMA)?;
    let Some(Value::Array(operations)) = member(body, "Operations") else {
        return Err(ScimError::bad("invalidSyntax", "a PatchOp needs Operations: a list"));
    };
    if operations.is_empty() {
        return Err(ScimError::bad("invalidSyntax", "Operations is empty"));
    }
    for operation in operations {
        let Value::Object(operation) = operation else {
            return Err(ScimError::bad("invalidSyntax", "each operation is an object"));
        };
        let op = member(operation, "op").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        if !matches!(op.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::bad("invalidSyntax", "op must be add, replace or remove"));
        }
        let path = match member(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(path.trim()),
            Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string")),
        };
        patch_operation(scim, seen, role, &mut members, &op, path, member(operation, "value"))?;
    }
    Ok(members)
}

pub(super) async fn patch(
    State(scim): State<Scim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let role = find(&id)?;
        let body = json_body(&scim.app, body).await?;
        let seen = scim.seen();
        check_if_match(&headers, &render(&scim, &seen, role))?;
        let holding = holders(&scim, &seen, role);
        let wanted = patched(&scim, &seen, role, &body, holding.clone())?;
        make_members(&scim, role, &holding, &wanted).await?;
        let seen = scim.seen();
        Ok::<_, ScimError>(resource_response(StatusCode::OK, &render(&scim, &seen, role)))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn replace(
    State(scim): State<Scim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let role = find(&id)?;
        let body = json_body(&scim.app, body).await?;
        require_schema(&body, GROUP_SCHEMA)?;
        let name = member(&body, "displayName").and_then(Value::as_str).unwrap_or_default();
        if !name.eq_ignore_ascii_case(&role.to_string()) {
            return Err(ScimError::bad(
                "mutability",
                "a group's displayName is its organisation role and cannot change",
            ));
        }
        let seen = scim.seen();
        check_if_match(&headers, &render(&scim, &seen, role))?;
        let holding = holders(&scim, &seen, role);
        let wanted = member_names(&scim, &seen, member(&body, "members"))?;
        make_members(&scim, role, &holding, &wanted).await?;
        let seen = scim.seen();
        Ok::<_, ScimError>(resource_response(StatusCode::OK, &render(&scim, &seen, role)))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}
