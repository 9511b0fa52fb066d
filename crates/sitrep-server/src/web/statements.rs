//! Statements: drafted, revised, proposed for approval and published.

use axum::extract::State;
use axum::response::Response;
use sitrep_core::IncidentNumber;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::Audience;

use super::{Fields, Path1, Path3, Viewer, act};
use crate::state::AppState;

pub(super) async fn draft_statement(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let audience = Audience::ALL.iter().find(|a| a.as_str() == fields.get("audience")).copied();
    let command = audience.ok_or_else(|| format!("'{}' is not an audience", fields.get("audience"))).map(|audience| {
        IncidentCommand::DraftStatement {
            audience,
            title: fields.get("title").to_owned(),
            text: fields.get("text").to_owned(),
        }
    });
    act(&app, &viewer, &id, &fields, "statements", command).await
}

/// `revise`, `propose` (for approval through the audience's class) or `publish`.
pub(super) async fn statement_action(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, sid, verb)): Path3,
    fields: Fields,
) -> Response {
    let number: Option<IncidentNumber> = id.parse().ok();
    let command = sid.parse::<sitrep_core::ids::StatementId>().map_err(|e| e.to_string()).and_then(|statement| {
        match verb.as_str() {
            "revise" => Ok(IncidentCommand::ReviseStatement { statement, text: fields.get("text").to_owned() }),
            "publish" => Ok(IncidentCommand::PublishStatement {
                statement,
                channel: fields.get("channel").to_owned(),
                sha256: fields.optional("sha256"),
            }),
            "propose" => {
                let found = number.and_then(|n| {
                    app.ledger.with_incident(n, |state| {
                        state.statement(statement).map(|s| {
                            (s.audience.class(), format!("Approve {statement} v{}: {}", s.latest().version, s.title))
                        })
                    })
                });
                let (class, title) = found.flatten().ok_or_else(|| format!("there is no statement {statement}"))?;
                let class = sitrep_core::DecisionClass::parse(class).map_err(|e| e.to_string())?;
                Ok(IncidentCommand::Propose {
                    class,
                    title: fields.optional("title").unwrap_or(title),
                    rationale: fields.optional("rationale"),
                    actions: Vec::new(),
                    statement: Some(statement),
                    clocks: Vec::new(),
                })
            }
            other => Err(format!("'{other}' is not something a statement can be")),
        }
    });
    act(&app, &viewer, &id, &fields, "statements", command).await
}
