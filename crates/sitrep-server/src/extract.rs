//! Request bodies: parsed strictly, with errors that name the field.
//!
//! `Body<T>` reads at most the configured number of bytes (413 beyond), requires a JSON content
//! type (415 otherwise), refuses malformed JSON with 400 and a value of the wrong type, a
//! missing field or an unknown field with 422 naming the field. It also picks up the
//! `Idempotency-Key` header and fingerprints the request, so a retry can be recognised.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use sitrep_store::ledger::IdempotencyKey;

use crate::error::ApiError;
use crate::state::AppState;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// A JSON request body and the request's idempotency key, if it sent one.
#[derive(Debug)]
pub struct Body<T> {
    pub value: T,
    pub idempotency: Option<IdempotencyKey>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let limit = app.config.max_body_bytes;
        if let Some(refused) = ApiError::announced_too_large(&parts.headers, limit as u64) {
            return Err(refused);
        }
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|error| ApiError::body(&error, limit))?;
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let is_json = content_type
            .split(';')
            .next()
            .map(str::trim)
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        // An empty body means "no fields", so `POST …/done` needs no `{}`.
        let bytes = if bytes.is_empty() { axum::body::Bytes::from_static(b"{}") } else { bytes };
        if !is_json && bytes.as_ref() != b"{}" {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let idempotency = match parts.headers.get(IDEMPOTENCY_HEADER) {
            None => None,
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
                    .ok_or_else(|| {
                        ApiError::invalid("Idempotency-Key", "must be 1 to 200 printable ASCII characters")
                    })?;
                let mut hasher = Sha256::new();
                hasher.update(parts.method.as_str().as_bytes());
                hasher.update(b" ");
                hasher.update(parts.uri.path().as_bytes());
                hasher.update(b"\n");
                hasher.update(&bytes);
                Some(IdempotencyKey { key: key.to_owned(), fingerprint: hex::encode(hasher.finalize()) })
            }
        };
        Ok(Body { value: parse_json(&bytes)?, idempotency })
    }
}

/// Path segments (`{id}`, `{fid}`, …), with a problem document when one cannot be read.
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, app)
            .await
            .map(|axum::extract::Path(value)| Segments(value))
            .map_err(|rejection| ApiError::NotFound(format!("this path cannot be read: {}", rejection.body_text())))
    }
}

/// The query string, with a problem document naming the parameter when it cannot be read.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Params).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            let field = between_backticks(&message, "unknown field `")
                .or_else(|| between_backticks(&message, "missing field `"))
                .unwrap_or(if path == "." { "query".to_owned() } else { path });
            ApiError::invalid(field, message)
        })
    }
}

/// Parses JSON, turning serde's errors into ones that name the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    match parsed {
        Ok(value) => {
            deserializer
                .end()
                .map_err(|error| ApiError::BadRequest(format!("the body is not valid JSON: {}", clean(&error))))?;
            Ok(value)
        }
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::BadRequest(format!("the body is not valid JSON: {}", clean(&inner))));
            }
            let message = clean(&inner);
            let field = if let Some(missing) = between_backticks(&message, "missing field `") {
                if path == "." { missing } else { format!("{path}.{missing}") }
            } else if let Some(unknown) = between_backticks(&message, "unknown field `") {
                if path == "." { unknown } else { path }
            } else if path == "." {
                "body".to_owned()
            } else {
                path
            };
            Err(ApiError::invalid(field, message))
        }
    }
}

/// serde's message without its "at line 1 column 15" suffix, which means nothing to a person
/// who sent one line of JSON.
fn clean(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

fn between_backticks(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Fact {
        text: String,
        source: Option<String>,
        nested: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field(bytes: &str) -> (u16, String, String) {
        let error = parse_json::<Fact>(bytes.as_bytes()).expect_err("refused");
        let problem = error.problem();
        (problem.status, problem.field.unwrap_or_default(), problem.detail)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"text": 5}"#).0, 422);
        assert_eq!(field(r#"{"text": 5}"#).1, "text");
        assert_eq!(field(r#"{"source": "x"}"#).1, "text", "a missing field is named");
        assert_eq!(field(r#"{"text": "x", "sauce": "x"}"#).1, "sauce", "an unknown field is named");
        assert_eq!(field(r#"{"text": "x", "nested": {"count": "many"}}"#).1, "nested.count");
        let (status, _, detail) = field(r#"{"text": "x""#);
        assert_eq!(status, 400);
        assert!(detail.starts_with("the body is not valid JSON"), "{detail}");
        assert_eq!(field(r#"{"text": "x"} trailing"#).0, 400);
    }
}
