//! Who the client acts as: `whoami`, `login`, users and tokens.

use serde_json::{Value, json};

use super::{Client, Outcome, Saved, read_line, read_secret, save, text, urlencode};
use crate::cli::{ClientArgs, LoginArgs};
use reqwest::Method;

/// `sitrep whoami`: who the token acts as, on which server.
pub(super) async fn whoami(client: &Client) -> Outcome {
    let me = client.get("/api/v1/session").await?;
    let roles: Vec<String> = me
        .get("org_roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    client.say(&me, |me| format!("{} ({}) on {}", text(me, "name"), roles.join(", "), client.base))
}

/// `sitrep user add`.
pub(super) async fn add_user(
    client: &Client,
    name: String,
    role: String,
    display_name: Option<String>,
    password_stdin: bool,
) -> Outcome {
    let password = if password_stdin { Some(read_secret("password: ", true)?) } else { None };
    let body = json!({ "name": name, "org_role": role, "display_name": display_name, "password": password });
    let user = client.post("/api/v1/users", body).await?;
    client.say(&user, |u| format!("Added {}.", text(u, "name")))
}

/// `sitrep user list`.
pub(super) async fn list_users(client: &Client) -> Outcome {
    let users = client.get("/api/v1/users").await?;
    client.say(&users, |all| {
        all["users"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                let roles: Vec<&str> =
                    u["org_roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                format!(
                    "{:<16} {:<24} {}{}",
                    text(u, "name"),
                    text(u, "display_name"),
                    roles.join(","),
                    if u["active"] == false { " (disabled)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `sitrep token create`, for yourself unless `--user` names another.
pub(super) async fn create_token(
    client: &Client,
    user: Option<String>,
    days: Option<u64>,
    label: Option<String>,
) -> Outcome {
    let user = match user {
        Some(user) => user,
        None => text(&client.get("/api/v1/session").await?, "name"),
    };
    let body = json!({ "expires_in_days": days, "label": label });
    let token = client.post(&format!("/api/v1/users/{}/tokens", urlencode(&user)), body).await?;
    client.say(&token, |t| format!("Token {} for {user} (shown once):\n{}", text(t, "id"), text(t, "token")))
}

/// `sitrep token revoke`, of yours unless `--user` names another.
pub(super) async fn revoke_token(client: &Client, id: String, user: Option<String>) -> Outcome {
    let user = match user {
        Some(user) => user,
        None => text(&client.get("/api/v1/session").await?, "name"),
    };
    let path = format!("/api/v1/users/{}/tokens/{}", urlencode(&user), urlencode(&id));
    let answer = client.send(client.request(Method::DELETE, &path)).await?;
    client.say(&answer, |_| format!("Revoked token {id}."))
}

/// `sitrep login`: a token from the name and password (or the one given), saved for later.
pub(super) async fn login(args: &ClientArgs, login: &LoginArgs) -> Outcome {
    let client = Client::new(args, false)?;
    let token = match &client.token {
        Some(token) if login.name.is_none() => token.clone(),
        _ => {
            let name = match &login.name {
                Some(name) => name.clone(),
                None => read_line("user name: ")?,
            };
            let password = read_secret("password: ", login.password_stdin)?;
            let body =
                json!({ "name": name, "password": password, "expires_in_days": login.days, "label": "sitrep login" });
            let answer = Client { token: None, ..client_clone(&client) }.post("/api/v1/tokens", body).await?;
            text(&answer, "token")
        }
    };
    let me = Client { token: Some(token.clone()), ..client_clone(&client) }.get("/api/v1/session").await?;
    let path = save(&Saved { url: Some(client.base.clone()), token: Some(token) })?;
    client.say(&me, |me| format!("Signed in to {} as {}; saved in {}.", client.base, text(me, "name"), path.display()))
}

fn client_clone(client: &Client) -> Client {
    Client { http: client.http.clone(), base: client.base.clone(), token: client.token.clone(), json: client.json }
}
