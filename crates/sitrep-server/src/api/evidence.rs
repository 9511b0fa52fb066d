//! Evidence: streamed uploads into the blob store, listings with the chain of custody, and
//! downloads that are recorded before the first byte and re-hashed as they are served.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sitrep_core::decide::{self, IncidentCommand, SystemCommand};
use sitrep_core::events::EvidenceRegistered;
use sitrep_core::incident::EvidenceItem;
use sitrep_core::view::EvidenceList;
use sitrep_core::{IncidentNumber, Timestamp, UserName};
use sitrep_store::Request;
use sitrep_store::blobs::{BlobError, SNIFF_BYTES};
use utoipa::{IntoParams, ToSchema};

use super::{incident_number, read, read_view, written};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Params, Segments};
use crate::state::AppState;
use crate::views;

/// The largest text part of an upload form (source, collected_by, collected_at, csrf).
const TEXT_PART_MAX: u64 = 4096;
/// Room for the multipart framing and the text parts around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// What one evidence item looks like in the API.
pub fn item_view(item: &EvidenceItem) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
}

/// Checks a command against the current state without writing anything: how uploads and
/// downloads refuse before a byte is stored or served.
pub fn dry_run(
    app: &AppState,
    user: &UserName,
    number: IncidentNumber,
    command: &IncidentCommand,
) -> Result<(), ApiError> {
    let org = app.ledger.org();
    app.ledger
        .with_incident(number, |state| decide::decide_incident(state, &org, user, command, app.now()).map(|_| ()))
        .ok_or_else(|| ApiError::NotFound(format!("there is no incident {number}")))?
        .map_err(ApiError::from)
}

/// A registration with a placeholder hash: enough to ask whether the caller may add evidence.
pub fn probe_registration() -> IncidentCommand {
    IncidentCommand::RegisterEvidence(EvidenceRegistered {
        sha256: "0".repeat(64),
        size: 0,
        name: "probe".into(),
        declared_type: None,
        sniffed_type: None,
        source: None,
        collected_by: None,
        collected_at: None,
    })
}

/// Receives a multipart upload (part `file`; optional `source`, `collected_by`, `collected_at`)
/// and registers it. Nothing is read before the caller is known to be allowed, nothing is kept
/// when the file is over the limit or the registration would be refused, and the blob is
/// durable under its hash before the entry that names it is written. `csrf`, for browser forms,
/// is the session's token, which the form's `csrf` part must match before the file is read.
pub async fn receive(
    app: &AppState,
    user: &UserName,
    number: IncidentNumber,
    headers: &HeaderMap,
    body: axum::body::Body,
    csrf: Option<&str>,
) -> Result<(sitrep_store::Receipt, String), ApiError> {
    // Whatever the answer, the body is read to its end (up to a bound): a server that answers and
    // closes with the upload unread makes the client's kernel reset the connection, and the
    // client then sees "broken pipe" instead of the refusal.
    let body = forward(body);
    dry_run(app, user, number, &probe_registration())?;
    let limit = app.config.max_evidence_bytes;
    let declared_length =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(too_large(limit));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::UnsupportedMediaType(
            "send evidence as multipart/form-data with the file in a part named `file`".into(),
        )
    })?;
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["file", "source", "collected_by", "collected_at", "collected_at_utc", "csrf"])
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(limit.saturating_add(FORM_OVERHEAD))
                .for_field("source", TEXT_PART_MAX)
                .for_field("collected_by", TEXT_PART_MAX)
                .for_field("collected_at", TEXT_PART_MAX)
                .for_field("collected_at_utc", TEXT_PART_MAX)
                .for_field("csrf", TEXT_PART_MAX),
        );
    let mut form = multer::Multipart::with_constraints(body, boundary, constraints);
    let mut upload = None;
    let (mut source, mut collected_by, mut collected_at, mut collected_utc) = (None, None, None, None);
    let mut csrf_seen = csrf.is_none();
    while let Some(mut part) = form.next_field().await.map_err(|e| form_error(e, limit))? {
        let name = part.name().unwrap_or_default().to_owned();
        if !csrf_seen && name != "csrf" {
            return Err(ApiError::Csrf("the form's CSRF token must come before the file; reload the page".into()));
        }
        match name.as_str() {
            "file" => {
                if upload.is_some() {
                    return Err(ApiError::invalid("file", "send one file per upload"));
                }
                let file_name = part.file_name().unwrap_or_default().to_owned();
                let declared = part.content_type().map(ToString::to_string);
                let mut blob = app.blobs.receive(limit).await.map_err(blob_error)?;
                while let Some(chunk) = part.chunk().await.map_err(|e| form_error(e, limit))? {
                    blob.write(&chunk).await.map_err(blob_error)?;
                }
                upload = Some((blob, file_name, declared));
            }
            text_part => {
                let value = part.text().await.map_err(|e| form_error(e, limit))?;
                match text_part {
                    "csrf" => {
                        if csrf.is_some_and(|expected| crate::auth::same_secret(&value, expected)) {
                            csrf_seen = true;
                        } else {
                            return Err(ApiError::Csrf("the form's CSRF token is wrong; reload the page".into()));
                        }
                    }
                    "source" => source = Some(value).filter(|v| !v.trim().is_empty()),
                    "collected_by" => collected_by = Some(value).filter(|v| !v.trim().is_empty()),
                    "collected_at_utc" => collected_utc = Some(value).filter(|v| !v.trim().is_empty()),
                    _ => collected_at = Some(value).filter(|v| !v.trim().is_empty()),
                }
            }
        }
    }
    let Some((blob, file_name, declared_type)) = upload else {
        return Err(ApiError::invalid("file", "the form has no part named `file`"));
    };
    // The web form's script sends the instant it read in the person's zone beside their text.
    let collected_at = match (collected_at, collected_utc) {
        (Some(_), Some(instant)) => Some(parse_time(&instant)?),
        (text, _) => text.map(|text| parse_time(&text)).transpose()?,
    };
    let sha256 = blob.digest();
    let command = IncidentCommand::RegisterEvidence(EvidenceRegistered {
        sha256: sha256.clone(),
        size: blob.size(),
        name: file_name,
        declared_type,
        sniffed_type: sniff(blob.head()),
        source,
        collected_by,
        collected_at,
    });
    // Refused now (a duplicate, a bad field), the temporary file goes and nothing is stored.
    dry_run(app, user, number, &command)?;
    blob.finish().await.map_err(blob_error)?;
    let receipt = app.ledger.execute(user, Request::Incident { incident: number, command }).await?;
    Ok((receipt, sha256))
}

/// How much of a refused upload is still read (and discarded) so the client sees the answer.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The request body as a stream fed by a task of its own; once the stream is dropped (the
/// upload refused), the task reads and discards the rest, within bounds, instead of leaving it
/// unread.
fn forward(body: axum::body::Body) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(8);
    tokio::spawn(async move {
        let mut chunks = body.into_data_stream();
        let mut forwarding = true;
        let mut discarded = 0u64;
        let mut deadline = None;
        loop {
            let next = match deadline {
                None => chunks.next().await,
                Some(deadline) => match tokio::time::timeout_at(deadline, chunks.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let Some(chunk) = next else { break };
            match chunk {
                Ok(bytes) if forwarding => {
                    if let Err(tokio::sync::mpsc::error::SendError(Ok(bytes))) = sender.send(Ok(bytes)).await {
                        forwarding = false;
                        discarded = bytes.len() as u64;
                        deadline = Some(tokio::time::Instant::now() + DRAIN_TIME);
                    }
                }
                Ok(bytes) => {
                    discarded += bytes.len() as u64;
                    if discarded > DRAIN_BYTES {
                        break;
                    }
                }
                Err(error) => {
                    if forwarding {
                        let _ = sender.send(Err(std::io::Error::other(error.to_string()))).await;
                    }
                    break;
                }
            }
        }
    });
    futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    )
}

/// RFC 3339, or a browser's `datetime-local` value ("2026-11-27T03:10"), which has no offset
/// and is read as UTC (the web form says so when its script does not run).
fn parse_time(text: &str) -> Result<Timestamp, ApiError> {
    let text = text.trim();
    let refused =
        || ApiError::invalid("collected_at", format!("'{text}' is not a time like 2026-11-27T03:10:00Z (RFC 3339)"));
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(Timestamp::from_jiff(at));
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| refused())?;
    let zoned = civil.to_zoned_datetime(jiff::tz::TimeZone::UTC).map_err(|_| refused())?;
    Ok(Timestamp::from_jiff(zoned.timestamp()))
}

/// The media type the first bytes show, whatever the uploader declared: binary formats by
/// their magic numbers, then the markup formats that browsers would render.
pub fn sniff(head: &[u8]) -> Option<String> {
    if let Some(kind) = infer::get(head) {
        return Some(kind.mime_type().to_owned());
    }
    let text = std::str::from_utf8(&head[..head.len().min(SNIFF_BYTES)]).ok().or_else(|| {
        // A chunk boundary may split a character: judge the valid prefix.
        std::str::from_utf8(&head[..head.len().saturating_sub(3)]).ok()
    })?;
    let start = text.trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    Some(
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            "text/html"
        } else if start.contains("<svg") {
            "image/svg+xml"
        } else if start.starts_with("<?xml") {
            "application/xml"
        } else if start.starts_with('{') || start.starts_with('[') {
            "application/json"
        } else {
            "text/plain"
        }
        .to_owned(),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) }
}

fn form_error(error: multer::Error, limit: u64) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } => too_large(limit),
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            ApiError::invalid(field_name.unwrap_or_default(), format!("a text part is at most {TEXT_PART_MAX} bytes"))
        }
        multer::Error::UnknownField { field_name } => ApiError::invalid(
            field_name.unwrap_or_default(),
            "unknown part; the form takes file, source, collected_by and collected_at",
        ),
        multer::Error::StreamReadFailed(cause) => match ApiError::body(cause.as_ref(), usize::MAX) {
            ApiError::BadRequest(_) => ApiError::BadRequest(format!("the multipart body cannot be read: {cause}")),
            read => read,
        },
        other => ApiError::BadRequest(format!("the multipart body cannot be read: {other}")),
    }
}

pub fn blob_error(error: BlobError) -> ApiError {
    match error {
        BlobError::TooLarge { limit } => too_large(limit),
        BlobError::BadName(name) => ApiError::NotFound(format!("'{name}' is not a SHA-256")),
        BlobError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
            tracing::error!(%source, "evidence could not be stored: the disk is full");
            ApiError::InsufficientStorage(
                "the server's evidence storage is full, so nothing was stored; an operator must free space".into(),
            )
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// The upload form, for the document only: `upload` reads the parts itself, streaming the
/// file while it hashes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The evidence file; its name is kept as metadata, never as a path.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Where it comes from (a tool, a person, a ticket).
    #[schema(schema_with = super::contract::optional_title)]
    source: Option<String>,
    /// Who collected it.
    #[schema(schema_with = super::contract::optional_title)]
    collected_by: Option<String>,
    /// When it was collected (RFC 3339; empty, as a browser sends a blank field, means not given).
    #[schema(schema_with = super::contract::form_time)]
    collected_at: Option<String>,
}

/// Add an evidence file (streamed; the SHA-256 is computed as it arrives).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/evidence", tag = "evidence",
    params(("id" = String, Path, description = "INC-<n>")),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "part `file`; optional `source`, `collected_by`, `collected_at` (RFC 3339)"),
    responses((status = 201, description = "The item: `{sha256, size, name, declared_type, sniffed_type, source, collected_by, collected_at, registered_by, received_at, custody}`", body = EvidenceItem),
        (status = 413, description = "Over the evidence size limit; nothing was stored", body = Problem),
        (status = 415, description = "Not multipart/form-data", body = Problem), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let (receipt, sha256) = receive(&app, &caller.user, number, &headers, body, None).await?;
    let view = read(&app, number, |state| state.evidence_item(&sha256).map(item_view))?
        .ok_or_else(|| ApiError::Internal("the registered item is missing from the state".into()))?;
    Ok(written(StatusCode::CREATED, &receipt, view))
}

/// The incident's evidence, each item with its chain of custody.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/evidence", tag = "evidence",
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 200, description = "`{evidence: [...]}`", body = EvidenceListing), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let number = incident_number(&app, &caller, &id)?;
    let listing = read_view(&app, &caller, number, |view| match view.evidence() {
        EvidenceList::Listed(items) => Ok(views::json(EvidenceListing { evidence: items })),
        EvidenceList::Hidden { .. } => Err(evidence_refusal(view.state(), &view.org().policy)),
    })??;
    Ok(axum::Json(listing).into_response())
}

/// The incident's evidence, for those who may read it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvidenceListing<'a> {
    evidence: &'a [EvidenceItem],
}

fn evidence_refusal(state: &sitrep_core::IncidentState, policy: &sitrep_core::Policy) -> ApiError {
    ApiError::Forbidden {
        rule: "actions.evidence".into(),
        message: format!("evidence on {} is for {} only", state.id, policy.actions.evidence.describe()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// Why you are downloading it: recorded in the chain of custody.
    purpose: Option<String>,
}

/// Download an item, as an attachment. The download is recorded (who, when, why) before it is
/// served; a blob that no longer matches its hash is refused and the failure recorded.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/evidence/{sha256}", tag = "evidence",
    params(("id" = String, Path, description = "INC-<n>"), ("sha256" = String, Path), DownloadQuery),
    responses((status = 200, description = "The file, `application/octet-stream`, as an attachment", content_type = "application/octet-stream"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, description = "No purpose given", body = Problem),
        (status = 500, description = "The stored blob does not match its hash; nothing was served", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn download(
    State(app): State<AppState>,
    caller: Caller,
    method: axum::http::Method,
    Segments((id, sha256)): Segments<(String, String)>,
    Params(query): Params<DownloadQuery>,
) -> Result<Response, ApiError> {
    refuse_head(&method)?;
    let number = incident_number(&app, &caller, &id)?;
    let command =
        IncidentCommand::AccessEvidence { sha256: sha256.clone(), purpose: query.purpose.unwrap_or_default() };
    dry_run(&app, &caller.user, number, &command)?;
    let name = read(&app, number, |state| state.evidence_item(&sha256).map(|item| item.name.clone()))?
        .ok_or_else(|| ApiError::NotFound(format!("{number} has no evidence {sha256}")))?;
    let size = check_integrity(&app, number, &sha256).await?;
    app.ledger.execute(&caller.user, Request::Incident { incident: number, command }).await?;
    serve_blob(&app, &sha256, &name, size).await
}

/// Every download is a custody entry, so a HEAD (which axum would answer with the GET handler,
/// recording an access that served nothing) is refused.
pub fn refuse_head(method: &axum::http::Method) -> Result<(), ApiError> {
    if method == axum::http::Method::HEAD {
        return Err(ApiError::MethodNotAllowed("evidence is fetched with GET; each fetch is recorded".into()));
    }
    Ok(())
}

/// Re-hashes a stored blob before anything is served; a mismatch is recorded and refused.
pub async fn check_integrity(app: &AppState, number: IncidentNumber, sha256: &str) -> Result<u64, ApiError> {
    let blobs = app.blobs.clone();
    let hash = sha256.to_owned();
    let checked =
        tokio::task::spawn_blocking(move || blobs.check(&hash)).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    match checked {
        Ok(size) => Ok(size),
        Err(error @ (BlobError::Corrupt { .. } | BlobError::Missing(_))) => {
            let detail = error.to_string();
            tracing::error!(incident = %number, %sha256, %detail, "evidence integrity failure");
            let command = SystemCommand::IntegrityFailed { sha256: sha256.to_owned(), detail: detail.clone() };
            let recorded = app.ledger.execute_system(number, "integrity", command).await;
            let seq = recorded.ok().and_then(|r| r.entries.last().map(|e| e.seq));
            Err(ApiError::Integrity(format!(
                "{detail}; it was not served{}. Restore it from a backup that verifies, or re-collect it",
                seq.map(|s| format!(" and the failure is recorded at seq {s}")).unwrap_or_default()
            )))
        }
        Err(other) => Err(blob_error(other)),
    }
}

/// Streams a stored blob as a download that no browser renders, hashing it again on the way:
/// should the bytes change after the check, the response is cut off rather than completed.
pub async fn serve_blob(app: &AppState, sha256: &str, name: &str, size: u64) -> Result<Response, ApiError> {
    let path = app.blobs.path(sha256).map_err(blob_error)?;
    let file =
        tokio::fs::File::open(&path).await.map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let reading = Reading {
        chunks: tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
        hasher: Sha256::new(),
        expected: sha256.to_owned(),
        done: false,
    };
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(reading, Reading::next));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    if let Ok(value) = HeaderValue::from_str(sha256) {
        headers.insert("x-sitrep-sha256", value);
    }
    Ok(response)
}

/// A blob being served, hashed chunk by chunk.
struct Reading {
    chunks: tokio_util::io::ReaderStream<tokio::fs::File>,
    hasher: Sha256,
    expected: String,
    done: bool,
}

impl Reading {
    async fn next(mut self) -> Option<(std::io::Result<axum::body::Bytes>, Reading)> {
        if self.done {
            return None;
        }
        match self.chunks.next().await {
            Some(Ok(bytes)) => {
                self.hasher.update(&bytes);
                Some((Ok(bytes), self))
            }
            Some(Err(error)) => {
                self.done = true;
                Some((Err(error), self))
            }
            None => {
                self.done = true;
                let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
                if actual == self.expected {
                    None
                } else {
                    tracing::error!(expected = %self.expected, %actual, "evidence changed while it was served");
                    Some((Err(std::io::Error::other("the blob changed while it was served")), self))
                }
            }
        }
    }
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 8187 encoding. The name
/// is the uploaded one's last path component; it never names a file on this server. A last
/// component of only dots and spaces (`..`) names no file, so it is offered as `evidence`.
pub fn content_disposition(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let base = if base.trim_matches(['.', ' ']).is_empty() { "" } else { base };
    let ascii: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .take(100)
        .collect();
    let ascii = ascii.trim_start_matches(['.', ' ']).trim_end();
    let ascii = if ascii.is_empty() { "evidence" } else { ascii };
    let mut encoded = String::new();
    for byte in base.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if encoded.is_empty() {
        encoded.push_str("evidence");
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
