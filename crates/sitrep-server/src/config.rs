//! Server configuration: built-in defaults, then a TOML file, then `SITREP_*` environment
//! variables, then command-line flags, each overriding the one before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event, for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The data directory (SQLite store, evidence blobs, signing key).
    pub data: PathBuf,
    /// A PostgreSQL connection string (`host=db.internal user=sitrep dbname=sitrep` or
    /// `postgres://…`): keep the records there instead of the SQLite file in `data`. Evidence
    /// blobs and the signing key stay in `data`.
    pub database: Option<String>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL people reach the server at; an `https://` URL marks session cookies `Secure`.
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest evidence file accepted, in bytes (default 2 GiB); larger uploads get 413 and
    /// nothing is stored.
    pub max_evidence_bytes: u64,
    /// How long a browser session lasts, however active, before signing in again.
    pub session_hours: u64,
    /// How long a browser session may go unused before it ends.
    pub session_idle_minutes: u64,
    /// Expiry of API tokens when the request names none; `0` means they do not expire.
    pub token_days: u64,
    /// How many reverse proxies you run in front of sitrep, each appending the address it saw
    /// to `X-Forwarded-For`. The client address for sign-in throttling is the entry that many
    /// places from the right (entries further left are whatever the client sent). `0` (the
    /// default) ignores the header and uses the connection's address.
    pub trusted_proxies: usize,
    /// Older spelling of `trusted_proxies = 1`.
    pub trust_forwarded_for: bool,
    /// Seconds a client has to send a request's headers; a kept-alive connection with no next
    /// request for this long is closed too.
    pub header_timeout_secs: u64,
    /// Seconds a request body may pause before the request is answered 408 and dropped.
    pub body_timeout_secs: u64,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Connections open at once from one client address (`0`: no limit). Not applied behind
    /// `trusted_proxies`, where every connection comes from a proxy: limit clients there.
    pub max_connections_per_address: usize,
    /// Webhook destinations that decisions' actions may name.
    pub destinations: BTreeMap<String, Destination>,
    /// Executables that decisions' actions may name.
    pub commands: BTreeMap<String, CommandConfig>,
    /// Communications channels that decision classes' paths name.
    pub channels: BTreeMap<String, Channel>,
    /// The mail server for `email` channels.
    pub smtp: Option<Smtp>,
    /// A bearer token `/metrics` requires (`Authorization: Bearer …`). Unset, `/metrics` is open,
    /// as Prometheus endpoints usually are: it shows counts, never names or texts, but it does
    /// count restricted incidents, so set this where the port is reachable by others.
    pub metrics_token: Option<String>,
    /// The hex SHA-256 of the bearer token an identity provider sends to `/scim/v2`. Unset,
    /// SCIM provisioning is off and every `/scim/v2` route answers 404; only the hash is kept so
    /// the configuration file holds no usable secret.
    pub scim_token_sha256: Option<String>,
    /// Sign-in through an OpenID Connect provider (`[oidc]`); see `docs/sign-in.md`.
    pub oidc: Option<OidcConfig>,

    // Statement outlets (docs/statements.md).
    /// For each statement audience, the channels (from `[channels]`) sitrep itself delivers a
    /// published statement to: publishing on one of them sends the approved bytes there.
    pub outlets: BTreeMap<sitrep_core::events::Audience, Vec<String>>,
    // Chat, two-way (issue 16).
    /// The Matrix bot (`[matrix]`): incident rooms and commands from chat; see `docs/chat.md`.
    pub matrix: Option<MatrixConfig>,
}

/// The Matrix account sitrep's bot acts as, on one homeserver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's client-server API base, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The bot's Matrix user id, e.g. `@sitrep:example.org`.
    pub user_id: String,
    /// The bot's access token, inline (prefer `access_token_env`).
    pub access_token: Option<String>,
    /// The environment variable holding the bot's access token.
    pub access_token_env: Option<String>,
    /// How long one `/sync` long-poll waits for news, in seconds.
    #[serde(default = "thirty")]
    pub sync_timeout_secs: u64,
}

/// An OpenID Connect provider people sign in with (the code flow with PKCE).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the provider's discovery document and ID tokens name it.
    pub issuer: String,
    /// The name on the sign-in button ("Sign in with …").
    #[serde(default = "provider_name")]
    pub name: String,
    pub client_id: String,
    /// The client secret inline, or `client_secret_file`: a file holding it (kept out of the
    /// configuration so the file can be shown).
    pub client_secret: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// Where the provider sends people back; defaults to `public_url` + `/auth/oidc/callback`.
    pub redirect_uri: Option<String>,
    /// Scopes asked for beside `openid`.
    #[serde(default = "profile_scope")]
    pub scopes: Vec<String>,
    /// The ID token claim that holds the sitrep user name.
    #[serde(default = "preferred_username")]
    pub username_claim: String,
    /// When set, the user name claim must end in `@` this domain, which is taken off
    /// (`alice@example.com` signs in as `alice`); for providers whose names are e-mail addresses.
    pub username_domain: Option<String>,
    /// The ID token claim that holds the person's groups (a list of strings).
    #[serde(default = "groups_claim")]
    pub groups_claim: String,
    /// Group → organisation role. A person in none of these groups is refused; in several, the
    /// strongest role wins (admin, member, auditor, viewer).
    #[serde(default)]
    pub roles: BTreeMap<String, sitrep_core::OrgRole>,
    /// Create a sitrep user at the first sign-in (recorded as `system:oidc`); otherwise an admin
    /// adds people first.
    #[serde(default)]
    pub just_in_time: bool,
    /// Whether sitrep's own passwords still sign people in; `false` leaves only the provider.
    #[serde(default = "yes")]
    pub password_sign_in: bool,
}

fn provider_name() -> String {
    "your identity provider".into()
}

fn profile_scope() -> Vec<String> {
    vec!["profile".into()]
}

fn preferred_username() -> String {
    "preferred_username".into()
}

fn groups_claim() -> String {
    "groups".into()
}

/// Where a `webhook` action posts, and the secret it signs with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub url: String,
    /// The HMAC key, or `secret_env`: the environment variable that holds it.
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    #[serde(default = "ten")]
    pub timeout_secs: u64,
}

/// An executable a `command` action runs: no shell, the action as JSON on stdin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "thirty")]
    pub timeout_secs: u64,
}

/// A channel of a communications path.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Channel {
    /// A signed JSON POST, like a webhook destination.
    Webhook {
        url: String,
        secret: Option<String>,
        secret_env: Option<String>,
        #[serde(default = "ten")]
        timeout_secs: u64,
    },
    /// A Slack-compatible incoming webhook (`{"text": …}`).
    Slack {
        url: String,
        #[serde(default = "ten")]
        timeout_secs: u64,
    },
    /// Mail to these addresses, through `[smtp]`.
    Email { to: Vec<String> },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "submission")]
    pub port: u16,
    /// Upgrade to TLS with STARTTLS (required unless you turn it off for a local relay).
    #[serde(default = "yes")]
    pub starttls: bool,
    pub username: Option<String>,
    /// The environment variable holding the SMTP password.
    pub password_env: Option<String>,
    pub from: String,
    #[serde(default = "ten")]
    pub timeout_secs: u64,
}

fn ten() -> u64 {
    10
}

fn thirty() -> u64 {
    30
}

fn submission() -> u16 {
    587
}

fn yes() -> bool {
    true
}

/// A secret given inline or by naming the environment variable that holds it.
pub fn secret(inline: &Option<String>, env: &Option<String>, what: &str) -> Result<String, ConfigError> {
    match (inline, env) {
        (Some(secret), _) if !secret.is_empty() => Ok(secret.clone()),
        (_, Some(name)) => std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| ConfigError::Env {
            name: name.clone(),
            value: String::new(),
            message: format!("{what} names this variable for its secret, and it is not set"),
        }),
        _ => Err(ConfigError::Env {
            name: what.to_owned(),
            value: String::new(),
            message: "needs `secret` or `secret_env`".into(),
        }),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./sitrep-data"),
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            log_format: LogFormat::Human,
            max_body_bytes: 1024 * 1024,
            max_evidence_bytes: 2 * 1024 * 1024 * 1024,
            session_hours: 12,
            session_idle_minutes: 240,
            token_days: 90,
            trusted_proxies: 0,
            trust_forwarded_for: false,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 4096,
            max_connections_per_address: 512,
            destinations: BTreeMap::new(),
            commands: BTreeMap::new(),
            channels: BTreeMap::new(),
            smtp: None,
            matrix: None,
            metrics_token: None,
            scim_token_sha256: None,
            oidc: None,
            outlets: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name}={value}: {message}")]
    Env { name: String, value: String, message: String },
    #[error("outlets.{audience}: {message}")]
    Outlet { audience: &'static str, message: String },
}

impl Config {
    /// Defaults, overridden by `file` (if given) and then by `SITREP_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                toml::from_str(&text)
                    .map_err(|error| ConfigError::Parse { path: path.to_owned(), message: error.to_string() })?
            }
            None => Config::default(),
        };
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let bad = |name: &str, value: &str, message: &str| ConfigError::Env {
            name: name.to_owned(),
            value: value.to_owned(),
            message: message.to_owned(),
        };
        if let Some(value) = var("SITREP_DATA") {
            config.data = PathBuf::from(value);
        }
        if let Some(value) = var("SITREP_DATABASE") {
            config.database = Some(value);
        }
        if let Some(value) = var("SITREP_LISTEN") {
            config.listen =
                value.parse().map_err(|_| bad("SITREP_LISTEN", &value, "not an address like 127.0.0.1:8080"))?;
        }
        if let Some(value) = var("SITREP_PUBLIC_URL") {
            config.public_url = Some(value);
        }
        if let Some(value) = var("SITREP_LOG_FORMAT") {
            config.log_format = match value.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => return Err(bad("SITREP_LOG_FORMAT", &value, "use human or json")),
            };
        }
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            var(name).map(|value| value.parse().map_err(|_| bad(name, &value, "not a whole number"))).transpose()
        };
        if let Some(bytes) = number("SITREP_MAX_BODY_BYTES")? {
            config.max_body_bytes = bytes as usize;
        }
        if let Some(bytes) = number("SITREP_MAX_EVIDENCE_BYTES")? {
            config.max_evidence_bytes = bytes;
        }
        if let Some(hours) = number("SITREP_SESSION_HOURS")? {
            config.session_hours = hours;
        }
        if let Some(minutes) = number("SITREP_SESSION_IDLE_MINUTES")? {
            config.session_idle_minutes = minutes;
        }
        if let Some(days) = number("SITREP_TOKEN_DAYS")? {
            config.token_days = days;
        }
        if let Some(value) = var("SITREP_METRICS_TOKEN") {
            config.metrics_token = Some(value);
        }
        if let Some(value) = var("SITREP_SCIM_TOKEN_SHA256") {
            config.scim_token_sha256 = Some(value);
        }
        if let Some(hash) = &config.scim_token_sha256
            && !(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(bad("scim_token_sha256", hash, "must be 64 hex digits: the SHA-256 of the SCIM token"));
        }
        if let Some(value) = var("SITREP_TRUST_FORWARDED_FOR") {
            config.trust_forwarded_for = matches!(value.as_str(), "1" | "true" | "yes");
        }
        if let Some(proxies) = number("SITREP_TRUSTED_PROXIES")? {
            config.trusted_proxies = proxies as usize;
        }
        if let Some(seconds) = number("SITREP_HEADER_TIMEOUT_SECS")? {
            config.header_timeout_secs = seconds;
        }
        if let Some(seconds) = number("SITREP_BODY_TIMEOUT_SECS")? {
            config.body_timeout_secs = seconds;
        }
        if let Some(count) = number("SITREP_MAX_CONNECTIONS")? {
            config.max_connections = count as usize;
        }
        if let Some(count) = number("SITREP_MAX_CONNECTIONS_PER_ADDRESS")? {
            config.max_connections_per_address = count as usize;
        }
        if config.trust_forwarded_for && config.trusted_proxies == 0 {
            config.trusted_proxies = 1;
        }
        config.check_outlets()?;
        Ok(config)
    }

    /// Every outlet names a configured channel that can deliver (an e-mail one needs `[smtp]`).
    fn check_outlets(&self) -> Result<(), ConfigError> {
        for (audience, outlets) in &self.outlets {
            let bad = |message: String| ConfigError::Outlet { audience: audience.as_str(), message };
            for name in outlets {
                match self.channels.get(name) {
                    None => {
                        let known: Vec<&str> = self.channels.keys().map(String::as_str).collect();
                        return Err(bad(format!(
                            "no channel '{name}' is configured in [channels] (configured: {})",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        )));
                    }
                    Some(Channel::Email { .. }) if self.smtp.is_none() => {
                        return Err(bad(format!("'{name}' is an email channel and there is no [smtp] section")));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The audiences that have `channel` among their outlets: what a publish command carries
    /// so that the record says whether sitrep owes that channel a delivery.
    pub fn outlet_for(&self, channel: &str) -> Vec<sitrep_core::events::Audience> {
        self.outlets.iter().filter(|(_, names)| names.iter().any(|n| n == channel)).map(|(a, _)| *a).collect()
    }

    /// Whether sitrep's own passwords sign people in (turned off only by `[oidc]`).
    pub fn password_sign_in(&self) -> bool {
        self.oidc.as_ref().is_none_or(|oidc| oidc.password_sign_in)
    }

    /// Whether people reach the server over TLS (so cookies must be `Secure`).
    pub fn behind_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }

    /// The base URL for links in notifications and the CLI.
    pub fn base_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("sitrep.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nsession_hours = 4\n").expect("writes");
        let env = |name: &str| (name == "SITREP_SESSION_HOURS").then(|| "2".to_owned());
        let config = Config::load(Some(&file), env).expect("loads");
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.session_hours, 2);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn the_scim_token_is_configured_by_its_hash() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let env = |name: &str| (name == "SITREP_SCIM_TOKEN_SHA256").then(|| hash.to_owned());
        assert_eq!(Config::load(None, env).expect("loads").scim_token_sha256.as_deref(), Some(hash));
        assert_eq!(Config::load(None, |_| None).expect("loads").scim_token_sha256, None, "off by default");
        let token = |name: &str| (name == "SITREP_SCIM_TOKEN_SHA256").then(|| "the-token-itself".to_owned());
        let error = Config::load(None, token).expect_err("a token is not its hash");
        assert!(error.to_string().contains("must be 64 hex digits"), "{error}");
    }

    #[test]
    fn outlets_name_configured_channels_of_known_audiences() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("sitrep.toml");
        let channels = "[channels.status-page]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"s\"\n\n[channels.customer-list]\nkind = \"email\"\nto = [\"c@example.com\"]\n";
        let load = |text: String| {
            std::fs::write(&file, text).expect("writes");
            Config::load(Some(&file), |_| None)
        };
        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nfrom = \"sitrep@example.com\"\n";
        let good = format!(
            "{channels}{smtp}[outlets]\ncustomers = [\"status-page\", \"customer-list\"]\npress = [\"status-page\"]\n"
        );
        let config = load(good).expect("loads");
        use sitrep_core::events::Audience;
        assert_eq!(config.outlet_for("status-page"), [Audience::Customers, Audience::Press]);
        assert_eq!(config.outlet_for("customer-list"), [Audience::Customers]);
        assert!(config.outlet_for("status page").is_empty(), "a name that is no outlet");

        let error = load(format!("{channels}{smtp}[outlets]\ncustomers = [\"status-pag\"]\n")).expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "outlets.customers: no channel 'status-pag' is configured in [channels] (configured: customer-list, status-page)"
        );
        let error = load(format!("{channels}[outlets]\ncustomers = [\"customer-list\"]\n")).expect_err("no smtp");
        assert_eq!(
            error.to_string(),
            "outlets.customers: 'customer-list' is an email channel and there is no [smtp] section"
        );
        let error = load(format!("{channels}[outlets]\nshareholders = [\"status-page\"]\n")).expect_err("audience");
        assert!(error.to_string().contains("unknown variant `shareholders`"), "{error}");
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("sitrep.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").expect("writes");
        let error = Config::load(Some(&file), |_| None).expect_err("unknown key");
        assert!(error.to_string().contains("unknown field `lisen`"), "{error}");
        let error = Config::load(None, |name| (name == "SITREP_LISTEN").then(|| "here".to_owned())).expect_err("bad");
        assert_eq!(error.to_string(), "SITREP_LISTEN=here: not an address like 127.0.0.1:8080");
    }
}
