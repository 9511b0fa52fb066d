//! The lines of `record.jsonl`: each one's form and hash, and the chain they make.

use serde::Deserialize;
use serde_json::Value;

use super::{Failure, fail, fail_at};
use crate::bundle::{Manifest, RECORD};
use crate::entry::{EntryHash, canonical_json, preimage};
use crate::time::Timestamp;

/// One verified line of `record.jsonl`.
#[derive(Debug)]
pub(in crate::bundle) struct Line {
    pub(in crate::bundle) seq: u64,
    pub(in crate::bundle) at: String,
    pub(in crate::bundle) kind: String,
    pub(in crate::bundle) body: Value,
    pub(in crate::bundle) prev: EntryHash,
    pub(in crate::bundle) hash: EntryHash,
}

pub(in crate::bundle) const ENTRY_FIELDS: [&str; 8] = ["actor", "at", "body", "hash", "kind", "prev", "seq", "v"];

/// A line's fields, borrowed where no escape forces a copy; the body kept as its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::bundle) struct Fields<'a> {
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    at: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    hash: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    prev: std::borrow::Cow<'a, str>,
    seq: u64,
    v: u64,
}

/// Parses and checks one line: canonical JSON with exactly an entry's fields, whose hash is the
/// SHA-256 of the canonical JSON of the other fields.
///
/// The common case, a well-formed line, is checked by writing the line again from its fields
/// (as the exporter does) and comparing bytes; only the body goes through the canonicaliser.
/// Anything that differs is judged by [`parse_line_generally`], which names the fault.
pub(in crate::bundle) fn parse_line(number: usize, line: &[u8]) -> Result<Line, Failure> {
    well_formed_line(line).map_or_else(|| parse_line_generally(number, line), Ok)
}

/// The line, if it is exactly what the exporter writes for a sound entry.
pub(in crate::bundle) fn well_formed_line(line: &[u8]) -> Option<Line> {
    let fields: Fields = serde_json::from_slice(line).ok()?;
    if fields.v != 1 || fields.seq == 0 || !Timestamp::has_record_shape(&fields.at) {
        return None;
    }
    let body: Value = serde_json::from_str(fields.body.get()).ok()?;
    if !body.is_object() || canonical_json(&body).ok()? != fields.body.get() {
        return None;
    }
    let prev: EntryHash = fields.prev.parse().ok()?;
    let hash: EntryHash = fields.hash.parse().ok()?;
    let (prev_hex, hash_hex) = (prev.to_hex(), hash.to_hex());
    let mut written = Vec::with_capacity(line.len());
    crate::entry::object_into(
        &mut written,
        1,
        fields.seq,
        &fields.at,
        &fields.actor,
        &fields.kind,
        fields.body.get(),
        &prev_hex,
        Some(&hash_hex),
    );
    let unsigned = preimage(1, fields.seq, &fields.at, &fields.actor, &fields.kind, fields.body.get(), &prev_hex);
    if written != line || EntryHash::of(&unsigned) != hash {
        return None;
    }
    Some(Line { seq: fields.seq, at: fields.at.into_owned(), kind: fields.kind.into_owned(), body, prev, hash })
}

/// [`parse_line`] for any bytes: finds and names what is wrong.
pub(in crate::bundle) fn parse_line_generally(number: usize, line: &[u8]) -> Result<Line, Failure> {
    let at_line = |reason: String| fail(RECORD, "entry", format!("line {number}: {reason}"));
    let value: Value = serde_json::from_slice(line).map_err(|e| at_line(format!("not JSON: {e}")))?;
    let canonical = canonical_json(&value).map_err(|e| at_line(e.to_string()))?;
    if canonical.as_bytes() != line {
        return Err(at_line("not in canonical JSON form (RFC 8785)".into()));
    }
    let Value::Object(mut object) = value else { return Err(at_line("not a JSON object".into())) };
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    if keys != ENTRY_FIELDS {
        return Err(at_line(format!("the fields are {keys:?}, not those of an entry {ENTRY_FIELDS:?}")));
    }
    let seq =
        object["seq"].as_u64().filter(|&s| s > 0).ok_or_else(|| at_line("seq is not a positive integer".into()))?;
    let bad = |field: &str| fail_at(RECORD, seq, "entry", format!("field '{field}' is not valid"));
    if object["v"].as_u64() != Some(1) {
        return Err(bad("v"));
    }
    let at = object["at"].as_str().filter(|at| Timestamp::has_record_shape(at)).ok_or_else(|| bad("at"))?.to_owned();
    object["actor"].as_str().ok_or_else(|| bad("actor"))?;
    let kind = object["kind"].as_str().ok_or_else(|| bad("kind"))?.to_owned();
    if !object["body"].is_object() {
        return Err(bad("body"));
    }
    let hex = |field: &str| -> Result<EntryHash, Failure> {
        object[field].as_str().and_then(|text| text.parse().ok()).ok_or_else(|| bad(field))
    };
    let prev = hex("prev")?;
    let hash = hex("hash")?;
    object.remove("hash");
    let unsigned = canonical_json(&object).map_err(|e| fail_at(RECORD, seq, "entry", e.to_string()))?;
    let computed = EntryHash::of(unsigned.as_bytes());
    if computed != hash {
        return Err(fail_at(
            RECORD,
            seq,
            "entry",
            format!("the hash does not match the entry's contents (stored {hash}, computed {computed})"),
        ));
    }
    let body = object.remove("body").unwrap_or(Value::Null);
    Ok(Line { seq, at, kind, body, prev, hash })
}

/// Every line of the record, each sound, chained to the one before, within the signed `size`,
/// and the first declaring the manifest's incident.
pub(super) fn record_lines(text: &[u8], manifest: &Manifest, size: u64) -> Result<Vec<Line>, Failure> {
    if !text.is_empty() && !text.ends_with(b"\n") {
        return Err(fail(RECORD, "entry", "the last line does not end with a newline"));
    }
    let mut lines = Vec::new();
    if let Some(body) = text.strip_suffix(b"\n") {
        for (index, line) in body.split(|&b| b == b'\n').enumerate() {
            lines.push(parse_line(index + 1, line)?);
        }
    }
    if lines.len() as u64 != manifest.entries {
        return Err(fail(
            RECORD,
            "entry",
            format!("{} entries, but the manifest says {}", lines.len(), manifest.entries),
        ));
    }
    if lines.is_empty() {
        return Err(fail(RECORD, "entry", "the record is empty"));
    }
    let mut previous: Option<&Line> = None;
    for line in &lines {
        if line.seq > size {
            return Err(fail_at(RECORD, line.seq, "chain", format!("beyond the checkpoint's size {size}")));
        }
        if let Some(before) = previous {
            if line.seq <= before.seq {
                return Err(fail_at(RECORD, line.seq, "chain", "the entries are not in increasing seq order"));
            }
            if line.seq == before.seq + 1 && line.prev != before.hash {
                return Err(fail_at(RECORD, line.seq, "chain", "'prev' is not the hash of the entry before"));
            }
            if line.at < before.at {
                return Err(fail_at(RECORD, line.seq, "chain", "the time goes backwards"));
            }
        }
        if line.seq == 1 {
            if line.prev != EntryHash::ZERO {
                return Err(fail_at(RECORD, 1, "chain", "the first entry's 'prev' is not all zeros"));
            }
            let number = line.body.get("number").and_then(Value::as_str);
            if line.kind != "incident.declared" || number != Some(manifest.incident.to_string().as_str()) {
                return Err(fail_at(
                    RECORD,
                    1,
                    "chain",
                    format!("the first entry does not declare {}", manifest.incident),
                ));
            }
        }
        previous = Some(line);
    }
    Ok(lines)
}
