//! The printable post-incident report page: the same report as `GET /api/v1/incidents/{id}/report`
//! (built by `crate::api::report::build`, so evidence names appear only for evidence readers),
//! laid out for reading on screen and on paper.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sitrep_core::Timestamp;
use sitrep_core::post_report::{Milestone, PostIncidentReport, duration, seq_ranges, when};

use super::filters;
use super::view::Me;
use super::{Viewer, render, visible_incident};
use crate::extract::Segments;
use crate::state::AppState;

/// A timestamp however deep the template's references to it are.
pub trait Instant {
    fn instant(&self) -> Timestamp;
}

impl Instant for Timestamp {
    fn instant(&self) -> Timestamp {
        *self
    }
}

impl<T: Instant + ?Sized> Instant for &T {
    fn instant(&self) -> Timestamp {
        (**self).instant()
    }
}

/// Seconds however deep the template's references to them are.
pub trait Seconds {
    fn seconds(&self) -> f64;
}

impl Seconds for f64 {
    fn seconds(&self) -> f64 {
        *self
    }
}

impl<T: Seconds + ?Sized> Seconds for &T {
    fn seconds(&self) -> f64 {
        (**self).seconds()
    }
}

/// One line of the metrics table.
#[derive(Debug)]
pub struct MetricRow {
    pub label: &'static str,
    pub after: String,
    pub reached: String,
}

#[derive(Debug, Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub me: Option<Me>,
    pub r: PostIncidentReport,
    pub metrics: Vec<MetricRow>,
}

impl ReportPage {
    pub fn when(&self, at: impl Instant) -> String {
        when(at.instant())
    }

    pub fn took(&self, seconds: impl Seconds) -> String {
        duration(seconds.seconds())
    }

    pub fn seqs(&self, seqs: &[u64]) -> String {
        if seqs.is_empty() { "—".to_owned() } else { seq_ranges(seqs) }
    }

    pub fn words(&self, text: &str) -> String {
        text.replace('_', " ")
    }
}

fn metric(label: &'static str, milestone: Option<&Milestone>, missing: &str) -> MetricRow {
    match milestone {
        Some(m) => MetricRow {
            label,
            after: duration(m.after_seconds),
            reached: format!(
                "seq {} at {}{}",
                m.seq,
                when(m.at),
                m.detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        },
        None => MetricRow { label, after: "—".to_owned(), reached: missing.to_owned() },
    }
}

/// `GET /incidents/{id}/report`.
pub async fn report_page(State(app): State<AppState>, viewer: Viewer, Segments(id): Segments<String>) -> Response {
    let number = match visible_incident(&app, &viewer, &id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let r = match crate::api::report::build(&app, number, &viewer.user).await {
        Ok(report) => report,
        Err(error) => return error.into_response(),
    };
    let m = &r.metrics;
    let metrics = vec![
        metric("All required roles staffed", m.staffed.as_ref(), "never fully staffed"),
        metric(
            "First approved containment decision",
            m.first_containment_decision.as_ref(),
            "no containment decision approved",
        ),
        metric("Contained (phase past containment)", m.contained.as_ref(), "not yet"),
        metric("Closed", m.closed.as_ref(), "not yet"),
    ];
    render(&ReportPage { me: Some(viewer.me(&app)), r, metrics }, StatusCode::OK)
}
