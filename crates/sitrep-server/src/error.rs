//! The one HTTP error type: RFC 9457 problem details that a person can act on.
//!
//! Every variant documents its status. Internal errors are logged with their cause and shown
//! only as "internal error", so nothing about the server's insides leaks to a caller.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sitrep_core::Refusal;
use sitrep_store::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read at all (not JSON, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or credentials that are unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the policy or the caller's organisation role does not allow it.
    #[error("{message}")]
    Forbidden { rule: String, message: String },
    /// 403: a cookie-authenticated change without the session's CSRF token.
    #[error("{0}")]
    Csrf(String),
    /// 404: no such thing, or the caller may not know it exists.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but does not take this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// 408: the request body stopped arriving (`body_timeout_secs` without a byte).
    #[error("{0}")]
    RequestTimeout(String),
    /// 410: a share link that was revoked or has expired.
    #[error("{0}")]
    Gone(String),
    /// 413: the body is larger than the limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// 415: a body in a format the route does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the body is JSON but a field's value is wrong or missing.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// 429: too many failed sign-ins; try again later.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// 507: the server's disk is full; nothing was stored.
    #[error("{0}")]
    InsufficientStorage(String),
    /// 503: the record cannot be written right now; nothing changed.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a stored evidence blob no longer matches its hash; it was not served.
    #[error("{0}")]
    Integrity(String),
    /// 500: a defect; the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// The problem document (RFC 9457) with sitrep's extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What happened and what would make it work, in words.
    pub detail: String,
    /// The policy rule that refused a 403, e.g. `classes.external_statement.approve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The request field a 422 is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::Csrf(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Integrity(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthenticated",
            ApiError::Forbidden { .. } => "policy-refusal",
            ApiError::Csrf(_) => "csrf",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::RequestTimeout(_) => "request-timeout",
            ApiError::Gone(_) => "gone",
            ApiError::TooLarge { .. } => "too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Invalid { .. } => "invalid-field",
            ApiError::TooManyRequests { .. } => "throttled",
            ApiError::InsufficientStorage(_) => "storage-full",
            ApiError::Unavailable(_) => "record-unavailable",
            ApiError::Integrity(_) => "evidence-integrity",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (rule, field, detail) = match self {
            ApiError::Forbidden { rule, message } => (Some(rule.clone()), None, message.clone()),
            ApiError::Invalid { field, message } => (None, Some(field.clone()), format!("{field}: {message}")),
            other => (None, None, other.to_string()),
        };
        Problem {
            kind: format!("https://sitrep.invalid/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            rule,
            field,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    /// Why a request body could not be read: over `limit` (413), stopped arriving (408), or
    /// broken off (400).
    pub fn body(error: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(error) = cause {
            if error.is::<http_body_util::LengthLimitError>() {
                return ApiError::TooLarge { limit };
            }
            if error.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::RequestTimeout(
                    "the request body stopped arriving before it was complete; send it again".into(),
                );
            }
            cause = error.source();
        }
        ApiError::BadRequest(format!("the request body could not be read: {error}"))
    }

    /// 413 at once when the client announces a body over `limit`, before reading any of it.
    pub fn announced_too_large(headers: &axum::http::HeaderMap, limit: u64) -> Option<ApiError> {
        let length: u64 = headers.get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()?;
        (length > limit).then(|| ApiError::TooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) })
    }
}

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Documents the problems each operation can answer, in one place, so the OpenAPI document
/// says what the server does rather than what each handler's attribute remembered.
///
/// Every problem is the one `Problem` response component (`application/problem+json`); an
/// attribute's `body = Problem` answer keeps its description and points at it. Beyond what an
/// attribute names, each operation gets the statuses its shape implies: 401 with credentials,
/// 404 with path segments, 400/408/413/415/422 with a JSON body, 422 with a query or header
/// parameter, 403, 409, 422, 503 and 507 for a change, and 500 everywhere. A `4XX` range is
/// replaced by them.
#[derive(Debug)]
pub struct ProblemResponses;

impl utoipa::Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

        let components = openapi.components.get_or_insert_with(Default::default);
        components.responses.insert(
            "Problem".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("A problem: RFC 9457 problem details saying what went wrong and what would work")
                    .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, item.get.as_mut()),
                (true, item.put.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (change, operation) in operations {
                if let Some(operation) = operation {
                    document_problems(operation, change);
                }
            }
        }
    }
}

/// The statuses an operation's shape implies, and every `Problem` answer as the component.
fn document_problems(operation: &mut utoipa::openapi::path::Operation, change: bool) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Ref, RefOr};

    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let in_query = parameters.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Header));
    let credentials = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let body = operation.request_body.as_ref();
    let json_body = body.is_some_and(|b| b.content.contains_key("application/json"));

    let mut statuses: Vec<u16> = vec![500];
    if credentials {
        statuses.push(401);
    }
    if in_path {
        statuses.push(404);
    }
    if body.is_some() {
        statuses.extend([400, 408, 413, 422]);
    }
    if json_body {
        statuses.push(415);
    }
    if in_query {
        statuses.push(422);
    }
    if change {
        statuses.extend([403, 409, 422, 503, 507]);
    }

    let responses = &mut operation.responses.responses;
    responses.retain(|status, _| !status.ends_with("XX"));
    for response in responses.values_mut() {
        let RefOr::T(answer) = response else { continue };
        let is_problem = answer.content.values().any(
            |content| matches!(&content.schema, Some(RefOr::Ref(schema)) if schema.ref_location.ends_with("/Problem")),
        );
        if is_problem {
            let mut reference = Ref::new("#/components/responses/Problem");
            reference.description = answer.description.clone();
            *response = RefOr::Ref(reference);
        }
    }
    for status in statuses {
        responses.entry(status.to_string()).or_insert_with(|| {
            let mut reference = Ref::new("#/components/responses/Problem");
            reference.description =
                StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or_default().to_owned();
            RefOr::Ref(reference)
        });
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sitrep\""));
            }
            ApiError::TooManyRequests { retry_after_secs, .. } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(message) => ApiError::NotFound(message),
            Refusal::Forbidden { rule, message } => ApiError::Forbidden { rule, message },
            Refusal::Conflict(message) => ApiError::Conflict(message),
            Refusal::Invalid { field, message } => ApiError::Invalid { field, message },
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Refused(refusal) => refusal.into(),
            LedgerError::Unavailable(sitrep_store::StoreError::Full(cause)) => {
                tracing::error!(%cause, "the record could not be written: the disk is full");
                ApiError::InsufficientStorage(
                    "the server's storage is full, so nothing was written; an operator must free space".into(),
                )
            }
            LedgerError::Unavailable(cause) => {
                tracing::error!(%cause, "the record could not be written");
                ApiError::Unavailable("the record could not be written, so nothing changed; try again shortly".into())
            }
            LedgerError::ShuttingDown => ApiError::Unavailable("sitrep is shutting down; nothing was written".into()),
            LedgerError::Stopped(reason) => {
                tracing::error!(%reason, "a request reached a stopped writer");
                ApiError::Unavailable(
                    "sitrep is restarting after an internal error; retry with the same Idempotency-Key".into(),
                )
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sitrep_store::StoreError> for ApiError {
    fn from(error: sitrep_store::StoreError) -> Self {
        tracing::error!(%error, "store error");
        ApiError::Unavailable("the record cannot be read right now; try again shortly".into())
    }
}
