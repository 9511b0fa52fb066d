//! Statements: drafted, revised, proposed for approval and published.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::IncidentNumber;

use super::forms::FormError;
use super::{Fields, Path1, Path3, Viewer, act};
use crate::api::decisions::ProposeBody;
use crate::api::statements::{DraftBody, PublishBody, RetryDeliveryBody, ReviseBody};
use crate::state::AppState;

pub(super) async fn draft_statement(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["audience", "title", "text"], &[]).parse::<DraftBody>().map(DraftBody::into_command);
    act(&app, &viewer, &id, &fields, "statements", command).await
}

/// `revise`, `propose` (for approval through the audience's class), `publish` or
/// `retry-delivery`.
pub(super) async fn statement_action(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, sid, verb)): Path3,
    fields: Fields,
) -> Response {
    let number: Option<IncidentNumber> = id.parse().ok();
    let command = sid.parse::<sitrep_core::ids::StatementId>().map_err(FormError::text).and_then(|statement| {
        match verb.as_str() {
            "revise" => fields.body(&["text"], &[]).parse::<ReviseBody>().map(|body| body.into_command(statement)),
            "publish" => fields
                .body(&["channel"], &["sha256"])
                .parse::<PublishBody>()
                .map(|body| body.into_command(statement, &app.config)),
            "retry-delivery" => {
                // Adapter: the form's version is text; a malformed one names no publication.
                let version = fields.get("version").trim().parse::<u32>().unwrap_or(0);
                let body = fields.body(&["channel"], &[]).with("version", version);
                body.parse::<RetryDeliveryBody>().map(|body| body.into_command(statement))
            }
            "propose" => {
                let found = number.and_then(|n| {
                    app.ledger.with_incident(n, |state| {
                        state.statement(statement).map(|s| {
                            (s.audience.class(), format!("Approve {statement} v{}: {}", s.latest().version, s.title))
                        })
                    })
                });
                let (class, title) =
                    found.flatten().ok_or_else(|| FormError::text(format!("there is no statement {statement}")))?;
                // Adapter: the class is the audience's, and the title has a default.
                let body = fields
                    .body(&[], &["rationale"])
                    .with("class", class)
                    .with("title", fields.optional("title").unwrap_or(title))
                    .with("statement", statement.to_string());
                body.parse::<ProposeBody>().map(ProposeBody::into_command)
            }
            other => Err(FormError::text(format!("'{other}' is not something a statement can be"))),
        }
    });
    act(&app, &viewer, &id, &fields, "statements", command).await
}
