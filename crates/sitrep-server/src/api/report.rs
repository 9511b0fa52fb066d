//! The post-incident report (JSON or Markdown) and the decision register as CSV.
//!
//! Both are generated from the record alone: the handler reads the incident's entries up to the
//! published head, folds them (so the report describes exactly the entries it walked) and hands
//! both to `sitrep_core::post_report`. Evidence names, sources and download purposes appear only
//! for callers the policy lets read evidence.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sitrep_core::IncidentView;
use sitrep_core::post_report::{DecisionRecord, PostIncidentReport};
use sitrep_core::{Entry, IncidentNumber, IncidentState, RecordId, UserName};
use sitrep_store::{Store, StoreError};

use super::{incident_number, read};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Segments;
use crate::state::AppState;

/// Entries 1..=`head` of an incident's record, read in pages.
pub fn record_until(store: &dyn Store, number: IncidentNumber, head: u64) -> Result<Vec<Entry>, StoreError> {
    const PAGE: usize = 10_000;
    let mut entries: Vec<Entry> = Vec::with_capacity(usize::try_from(head).unwrap_or(0));
    while (entries.len() as u64) < head {
        let page = store.read(RecordId::Incident(number), entries.len() as u64 + 1, PAGE)?;
        if page.is_empty() {
            break;
        }
        entries.extend(page.into_iter().take_while(|e| e.seq <= head));
    }
    Ok(entries)
}

/// The report of a visible incident for `user`, from its record as published now.
pub async fn build(app: &AppState, number: IncidentNumber, user: &UserName) -> Result<PostIncidentReport, ApiError> {
    let head = read(app, number, |state| state.seq)?;
    let store = app.ledger.store().clone();
    let entries = tokio::task::spawn_blocking(move || record_until(store.as_ref(), number, head))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let state = IncidentState::fold(&entries)
        .map_err(|e| ApiError::Internal(format!("the record of {number} does not fold: {e}")))?;
    let org = app.ledger.org();
    let view = IncidentView::of(&state, &org, user, app.now())
        .ok_or_else(|| ApiError::NotFound(format!("there is no incident {number}")))?;
    Ok(PostIncidentReport::of(&entries, &view))
}

/// The post-incident report, generated from the record: JSON, or Markdown with
/// `Accept: text/markdown`.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/report", tag = "incidents",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "The post-incident report as JSON (summary, metrics, deadlines, decisions, statements, evidence, third_parties, shares, review, csf, timeline), or as Markdown (`text/markdown`) when the Accept header asks for it",
        content((sitrep_core::post_report::PostIncidentReport = "application/json"), (String = "text/markdown")))),
    security(("token" = []), ("session" = [])))]
pub async fn report(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let report = build(&app, number, &caller.user).await?;
    Ok(super::markdown_or_json(&headers, &report, |report| report.to_markdown()))
}

/// The decision register as CSV: one row for each proposal, approval, rejection and withdrawal.
/// Cells that a spreadsheet would read as a formula are neutralised.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/decisions.csv", tag = "decisions",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`text/csv` attachment; columns: incident, decision, class, title, state, event, by, role, at, note, proposed_at, decided_at, latency_seconds, actions, authenticated", body = String, content_type = "text/csv")),
    security(("token" = []), ("session" = [])))]
pub async fn decisions_csv(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let report = build(&app, number, &caller.user).await?;
    let body = register_csv(number, &report.decisions).map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{number}-decisions.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "incident",
    "decision",
    "class",
    "title",
    "state",
    "event",
    "by",
    "role",
    "at",
    "note",
    "proposed_at",
    "decided_at",
    "latency_seconds",
    "actions",
    "authenticated",
];

/// A cell a spreadsheet would not evaluate: one that begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return (which spreadsheets read as the start of a formula) gets a leading `'`, as
/// the OWASP guidance on CSV injection advises. Every cell is also quoted.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_owned() }
}

/// The register as CSV text.
pub fn register_csv(number: IncidentNumber, decisions: &[DecisionRecord]) -> Result<String, csv::Error> {
    let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS.iter().map(|c| neutralise(c)))?;
    for d in decisions {
        let actions: Vec<String> = d
            .actions
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}: {:?} after {} attempt(s){}",
                    a.number,
                    a.connector,
                    a.target,
                    a.status,
                    a.attempts,
                    a.last_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
                )
                .to_lowercase()
            })
            .collect();
        let actions = actions.join("; ");
        let mut events: Vec<[String; 6]> = vec![[
            "proposed".into(),
            d.proposer.to_string(),
            String::new(),
            d.proposed_at.to_string(),
            d.rationale.clone().unwrap_or_default(),
            String::new(),
        ]];
        events.extend(d.endorsements.iter().map(|e| {
            [
                e.what.to_owned(),
                e.user.to_string(),
                e.role.as_ref().map(ToString::to_string).unwrap_or_default(),
                e.at.to_string(),
                e.note.clone().unwrap_or_default(),
                e.authenticated.clone().unwrap_or_default(),
            ]
        }));
        for [event, by, role, at, note, authenticated] in events {
            let row = [
                number.to_string(),
                d.id.to_string(),
                d.class.to_string(),
                d.title.clone(),
                d.state.as_str().to_owned(),
                event,
                by,
                role,
                at,
                note,
                d.proposed_at.to_string(),
                d.decided_at.map(|t| t.to_string()).unwrap_or_default(),
                d.latency_seconds.map(|s| format!("{s:.3}")).unwrap_or_default(),
                actions.clone(),
                authenticated,
            ];
            writer.write_record(row.iter().map(|cell| neutralise(cell)))?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (cell, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("Isolate the host", "Isolate the host"),
            ("2026-11-27T16:26:42.123456Z", "2026-11-27T16:26:42.123456Z"),
            ("", ""),
            (" =1", " =1"),
        ] {
            assert_eq!(neutralise(cell), expected, "{cell:?}");
        }
    }
}
