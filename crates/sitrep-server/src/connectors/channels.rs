//! Communications channels: signed webhooks, Slack-compatible incoming webhooks, and email
//! over SMTP (STARTTLS unless turned off for a local relay), through lettre.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};
use serde_json::{Value, json};
use sitrep_core::decide::ActionFailure;

use super::{read_answer, truncate, webhook};
use crate::config::{Channel, Config, secret};

/// What a channel is told.
#[derive(Debug, Clone)]
pub struct Message {
    pub subject: String,
    pub text: String,
    /// The structured form, for webhook channels.
    pub document: Value,
}

/// Whether the channel is configured (what an exercise checks instead of delivering).
pub fn configured(config: &Config, name: &str) -> Result<(), ActionFailure> {
    match config.channels.get(name) {
        Some(Channel::Email { .. }) if config.smtp.is_none() => Err(ActionFailure {
            reason: "email channels need an [smtp] section in the server configuration".into(),
            retryable: false,
        }),
        Some(_) => Ok(()),
        None => {
            Err(ActionFailure { reason: format!("no channel '{name}' is configured on this server"), retryable: false })
        }
    }
}

/// Delivers to one configured channel.
pub async fn deliver(
    config: &Config,
    http: &reqwest::Client,
    name: &str,
    key: &str,
    message: &Message,
) -> Result<Option<String>, ActionFailure> {
    configured(config, name)?;
    let Some(channel) = config.channels.get(name) else { return Ok(None) };
    match channel {
        Channel::Webhook { url, secret: inline, secret_env, timeout_secs } => {
            let secret = secret(inline, secret_env, name)
                .map_err(|e| ActionFailure { reason: e.to_string(), retryable: false })?;
            webhook::post(http, url, &secret, key, &message.document, Duration::from_secs(*timeout_secs)).await
        }
        Channel::Slack { url, timeout_secs } => {
            let response = http
                .post(url)
                .timeout(Duration::from_secs(*timeout_secs))
                .json(&json!({ "text": message.text }))
                .send()
                .await
                .map_err(|e| ActionFailure { reason: format!("could not reach {name}: {e}"), retryable: true })?;
            let status = response.status();
            let text = read_answer(response).await;
            if status.is_success() {
                Ok(Some(format!("HTTP {}: {text}", status.as_u16())))
            } else {
                Err(ActionFailure {
                    reason: format!("HTTP {}: {text}", status.as_u16()),
                    retryable: status.is_server_error() || status.as_u16() == 429,
                })
            }
        }
        Channel::Email { to } => email(config, to, message).await,
    }
}

pub(super) async fn email(config: &Config, to: &[String], message: &Message) -> Result<Option<String>, ActionFailure> {
    let (smtp, builder) = addressed(config, to, &message.subject)?;
    let mail = builder
        .header(ContentType::TEXT_PLAIN)
        .body(message.text.clone())
        .map_err(|e| ActionFailure { reason: e.to_string(), retryable: false })?;
    send(smtp, mail).await
}

/// The addressed message for `to` from `[smtp]`'s sender, or why it cannot be made.
pub(super) fn addressed<'a>(
    config: &'a Config,
    to: &[String],
    subject: &str,
) -> Result<(&'a crate::config::Smtp, lettre::message::MessageBuilder), ActionFailure> {
    let final_failure = |reason: String| ActionFailure { reason, retryable: false };
    let Some(smtp) = &config.smtp else {
        return Err(final_failure("email channels need an [smtp] section in the server configuration".into()));
    };
    let mut builder =
        Mail::builder().from(smtp.from.parse().map_err(|e| final_failure(format!("smtp.from: {e}")))?).subject(subject);
    for address in to {
        builder = builder.to(address.parse().map_err(|e| final_failure(format!("{address}: {e}")))?);
    }
    Ok((smtp, builder))
}

/// Sends one mail through `[smtp]`; the answer is the server's reply.
pub(super) async fn send(smtp: &crate::config::Smtp, mail: Mail) -> Result<Option<String>, ActionFailure> {
    let final_failure = |reason: String| ActionFailure { reason, retryable: false };
    let mut transport = if smtp.starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| final_failure(e.to_string()))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
    }
    .port(smtp.port)
    .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
    if let Some(username) = &smtp.username {
        let password = secret(&None, &smtp.password_env, "smtp").map_err(|e| final_failure(e.to_string()))?;
        transport = transport.credentials(Credentials::new(username.clone(), password));
    }
    let response = transport.build().send(mail).await.map_err(|e| ActionFailure {
        reason: format!("the mail server refused or could not be reached: {e}"),
        retryable: !e.is_permanent(),
    })?;
    Ok(Some(format!("SMTP {}: {}", response.code(), truncate(&response.message().collect::<Vec<_>>().join(" ")))))
}
