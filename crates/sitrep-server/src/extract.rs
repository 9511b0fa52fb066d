//! Request bodies: parsed strictly, with errors that name the field.
//!
//! `Body<T>` reads at most the configured number of bytes (413 beyond), requires a JSON content
//! type (415 otherwise), refuses malformed JSON with 400 and a value of the wrong type, a
//! missing field or an unknown field with 422 naming the field. It also picks up the
//! `Idempotency-Key` header and fingerprints the request, so a retry can be recognised.
//!
//! Before a body is read into its type, one pass over its bytes ([`check_structure`]) holds it
//! to the rules a type cannot: no object repeats a key (serde keeps the last of them silently
//! in maps and free-form JSON), nothing nests deeper than
//! [`JSON_DEPTH_MAX`](sitrep_core::decide::JSON_DEPTH_MAX) levels, and every number is one
//! I-JSON (RFC 7493) keeps exactly: an integer beyond ±(2^53 − 1) would otherwise be stored as
//! a different number, and one too large for a double (`1e400`) is refused by name too.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use sitrep_core::decide::JSON_DEPTH_MAX;
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
        check_structure(&bytes)?;
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

/// A count or seq in a query, as the OpenAPI document states it (`int64`, not negative): a
/// larger number is refused rather than read.
pub fn int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = <Option<u64> as serde::Deserialize>::deserialize(deserializer)?;
    match value {
        Some(number) if number > i64::MAX as u64 => {
            Err(serde::de::Error::custom(format!("{number} is larger than the largest seq, {}", i64::MAX)))
        }
        value => Ok(value),
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

/// Refuses a body in which an object repeats a key or arrays and objects nest deeper than
/// [`JSON_DEPTH_MAX`], with 422 naming the JSON path (`actions[0].payload.a`). The top-level
/// object's own fields are left to [`parse_json`], whose errors for them already name the
/// field. A body that is not JSON at all passes here and is refused by [`parse_json`].
pub fn check_structure(bytes: &[u8]) -> Result<(), ApiError> {
    let found = RefCell::new(None);
    let walk = Walk { place: &Place::Body, depth: 0, found: &found };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match (walk.deserialize(&mut deserializer), found.into_inner()) {
        (Err(_), Some(Found { field, message })) => Err(ApiError::invalid(field, message)),
        _ => Ok(()),
    }
}

/// A place in a body, spelled as problem documents name fields: `actions[0].payload.a`.
enum Place<'a> {
    Body,
    Key(&'a Place<'a>, &'a str),
    Index(&'a Place<'a>, usize),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// A key is shown whole up to this many characters.
        const KEY_SHOWN: usize = 64;
        match self {
            Place::Body => f.write_str("body"),
            Place::Key(parent, key) => {
                if !matches!(parent, Place::Body) {
                    write!(f, "{parent}.")?;
                }
                match key.char_indices().nth(KEY_SHOWN) {
                    Some((end, _)) => write!(f, "{}…", &key[..end]),
                    None => f.write_str(key),
                }
            }
            Place::Index(Place::Body, index) => write!(f, "[{index}]"),
            Place::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// What [`check_structure`] refused, kept aside while serde unwinds with an error of its own.
struct Found {
    field: String,
    message: String,
}

/// The walk at one value: where it is, how many arrays and objects hold it, and the slot for
/// what it refuses. It reads every value through serde's `deserialize_any` and builds nothing.
#[derive(Clone, Copy)]
struct Walk<'a> {
    place: &'a Place<'a>,
    depth: usize,
    found: &'a RefCell<Option<Found>>,
}

impl Walk<'_> {
    fn refuse<E: de::Error>(&self, place: &Place<'_>, message: String) -> E {
        let field = place.to_string();
        let error = E::custom(format!("{field}: {message}"));
        *self.found.borrow_mut() = Some(Found { field, message });
        error
    }

    /// The depth of the array or object this value opens, refused beyond the bound.
    fn open<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > JSON_DEPTH_MAX {
            let message =
                format!("nests too deeply: a body nests at most {JSON_DEPTH_MAX} levels of arrays and objects");
            return Err(self.refuse(self.place, message));
        }
        Ok(depth)
    }

    /// Every number passes through here: one beyond I-JSON's safe range is refused.
    fn number<E: de::Error>(self, number: serde_json::Number) -> Result<(), E> {
        if sitrep_core::decide::i_json_number(&number) {
            Ok(())
        } else {
            Err(self.refuse(self.place, sitrep_core::decide::i_json_refusal(number)))
        }
    }

    /// serde_json refuses a number too large for a double (`1e400`) itself, without saying
    /// where; the array or object holding it names the place.
    fn out_of_range<E: de::Error>(&self, place: &Place<'_>, error: E) -> E {
        if self.found.borrow().is_none() && error.to_string().starts_with("number out of range") {
            let message = "holds a number too large for a double (I-JSON, RFC 7493); send it as a string".to_owned();
            return self.refuse(place, message);
        }
        error
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<(), E> {
        self.number(number.into())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<(), E> {
        self.number(number.into())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(number) {
            Some(number) => self.number(number),
            None => Err(self.refuse(self.place, "is not a finite number".to_owned())),
        }
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let depth = self.open()?;
        let mut index = 0;
        loop {
            let place = Place::Index(self.place, index);
            let next = items.next_element_seed(Walk { place: &place, depth, found: self.found });
            if next.map_err(|error| self.out_of_range(&place, error))?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.open()?;
        let mut keys: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let place = Place::Key(self.place, &key);
            // The top-level object's fields are the body type's, which refuses a repeat itself.
            if depth > 1 && keys.contains(&key) {
                let message = "appears more than once in its object; give each key once".to_owned();
                return Err(self.refuse(&place, message));
            }
            map.next_value_seed(Walk { place: &place, depth, found: self.found })
                .map_err(|error| self.out_of_range(&place, error))?;
            keys.insert(key);
        }
        Ok(())
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

    /// What [`check_structure`] makes of a body: `None` when it passes, else the field named and
    /// a word of the detail.
    fn check(body: &str, expected: Option<(&str, &str)>) {
        let found = check_structure(body.as_bytes()).err().map(|error| {
            let problem = error.problem();
            assert_eq!(problem.status, 422, "{body}");
            (problem.field.unwrap_or_default(), problem.detail)
        });
        match (found, expected) {
            (None, None) => {}
            (Some((field, detail)), Some((want, says))) => {
                assert_eq!(field, want, "{body}");
                assert!(detail.contains(says), "{body}: {detail}");
            }
            (found, _) => panic!("{body}: expected {expected:?}, found {found:?}"),
        }
    }

    #[test]
    fn repeated_keys_below_the_top_level_are_refused_naming_the_path() {
        let twice = "more than once";
        check(r#"{"a": {"k": 1, "k": 2}}"#, Some(("a.k", twice)));
        check(r#"{"a": [0, {"k": 1, "j": {}, "k": 1}]}"#, Some(("a[1].k", twice)));
        check(r#"{"a": {"k": 1, "k": 2}}"#, Some(("a.k", twice)));
        check(r#"[{"k": 1, "k": 2}]"#, Some(("[0].k", twice)));
        check(
            &format!(r#"{{"a": {{"{long}": 1, "{long}": 2}}}}"#, long = "é".repeat(100)),
            Some((&format!("a.{}…", "é".repeat(64)), twice)),
        );
        check(r#"{"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]}"#, None);
        // The top level's own fields are the body type's to refuse (see the next test).
        check(r#"{"k": 1, "k": 2}"#, None);
        let (status, field, detail) = super::tests::field(r#"{"text": "a", "text": "b"}"#);
        assert_eq!((status, field.as_str()), (422, "body"), "{detail}");
    }

    #[test]
    fn nesting_deeper_than_the_bound_is_refused_where_it_goes_too_deep() {
        let nested = |levels: usize| format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
        check(&nested(JSON_DEPTH_MAX), None);
        let deep = format!("a{}", ".a".repeat(JSON_DEPTH_MAX - 1));
        check(&nested(JSON_DEPTH_MAX + 1), Some((&deep, "at most 32 levels")));
        check(&nested(1000), Some((&deep, "at most 32 levels")));
        check(
            &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
            Some((&"[0]".repeat(JSON_DEPTH_MAX), "32 levels")),
        );
        // Not JSON, or broken before anything is refused: left to `parse_json`'s 400.
        for broken in ["", "nul", r#"{"a": {"k": 1"#, "{} trailing"] {
            check(broken, None);
        }
    }

    #[test]
    fn numbers_outside_i_json_are_refused_naming_where_they_are() {
        let exact = "do not keep exactly";
        check(r#"{"a": {"n": 9007199254740991, "m": -9007199254740991, "f": 0.1, "e": -1.5e15}}"#, None);
        check(r#"{"a": {"e": 1e300}}"#, Some(("a.e", exact)));
        check(r#"{"a": {"n": 9007199254740992}}"#, Some(("a.n", exact)));
        check(r#"{"a": [1, -9007199254740993]}"#, Some(("a[1]", exact)));
        check(r#"{"a": {"n": 18446744073709551616}}"#, Some(("a.n", exact)));
        check(r#"{"a": {"n": 9007199254740993.0}}"#, Some(("a.n", exact)));
        check(r#"{"a": {"n": 1e400}}"#, Some(("a.n", "too large for a double")));
        check(r#"{"a": [[-1e400]]}"#, Some(("a[0][0]", "too large for a double")));
        check(r#"{"expires_in_days": 9007199254740993}"#, Some(("expires_in_days", exact)));
    }
}
