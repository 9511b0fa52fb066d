//! Re-verifying a record from the bytes a store holds.
//!
//! The verifier works on raw column bytes, not on parsed entries, so that any changed byte is
//! seen even where a lenient parser would have read the same value. Rows must arrive ordered by
//! record, then by seq; each record's chain is checked link by link and then against the head the
//! store recorded in the same transaction as the last append, which catches a deleted last entry.

use crate::entry::{ENTRY_FORMAT, EntryHash, RecordId, preimage_into};
use crate::time::{Timestamp, TimestampError};

/// One stored entry as the store holds it, before any parsing.
#[derive(Debug, Clone, Copy)]
pub struct RawEntry<'a> {
    /// `None` when the stored seq is not an integer.
    pub seq: Option<i64>,
    pub at: &'a [u8],
    pub actor: &'a [u8],
    pub kind: &'a [u8],
    pub body: &'a [u8],
    pub prev: &'a [u8],
    pub hash: &'a [u8],
}

/// Where a record stops verifying, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record} seq {seq}: {reason}")]
pub struct Break {
    pub record: RecordId,
    pub seq: u64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakReason {
    #[error("the entry is missing (the next stored entry has seq {found})")]
    Missing { found: u64 },
    #[error("the stored seq is not a positive integer")]
    BadSeq,
    #[error("an entry with this seq was already seen; the rows are duplicated or out of order")]
    Duplicate,
    #[error("field '{field}' is not valid: {detail}")]
    BadField { field: &'static str, detail: String },
    #[error("'prev' does not match the hash of the entry before (expected {expected}, stored {stored})")]
    PrevMismatch { expected: String, stored: String },
    #[error("the hash does not match the entry's contents (stored {stored}, computed {computed})")]
    HashMismatch { stored: String, computed: String },
    #[error("the time goes backwards ({at} is before the previous entry's {previous})")]
    TimeReversed { at: String, previous: String },
    #[error("the record ends at seq {last} but the store's head says it reaches seq {head}")]
    Truncated { last: u64, head: u64 },
    #[error("the store's head says the record ends at seq {head}, before entries that follow")]
    BeyondHead { head: u64 },
    /// The entry chains and hashes correctly but means nothing the state can take (a fact
    /// verified that was never logged, say): the server refuses to start on such a record.
    #[error("the entry ({kind}) does not fold into the record's state: {reason}")]
    Unfoldable { kind: String, reason: String },
    #[error("the last entry's hash differs from the store's head ({head})")]
    HeadMismatch { head: String },
    #[error("the store has a head for this record but no entries")]
    Empty,
}

/// Checks one record's rows in order. It can be kept and given later entries, so a record that
/// grows is verified once, not from seq 1 every time.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    record: RecordId,
    seq: u64,
    /// The hash of the last entry verified (`EntryHash::ZERO` before the first).
    head: EntryHash,
    /// The previous entry's hash as lower-case hex, compared byte for byte with `prev`.
    prev: [u8; 64],
    last_at: Vec<u8>,
    /// Reused for every preimage, so verifying allocates nothing per entry.
    buffer: Vec<u8>,
}

impl ChainVerifier {
    pub fn new(record: RecordId) -> Self {
        ChainVerifier {
            record,
            seq: 0,
            head: EntryHash::ZERO,
            prev: [b'0'; 64],
            last_at: Vec::new(),
            buffer: Vec::with_capacity(1024),
        }
    }

    /// The hash of the last entry verified (`EntryHash::ZERO` before the first).
    pub fn head(&self) -> EntryHash {
        self.head
    }

    /// Checks the next entry, parsed (exports, API answers, pages).
    pub fn check_entry(&mut self, entry: &crate::entry::Entry) -> Result<(), Break> {
        let at = entry.at.to_string();
        let actor = entry.actor.to_string();
        let prev = entry.prev.to_hex();
        let hash = entry.hash.to_hex();
        self.check(&RawEntry {
            seq: i64::try_from(entry.seq).ok(),
            at: at.as_bytes(),
            actor: actor.as_bytes(),
            kind: entry.kind.as_bytes(),
            body: entry.body.as_bytes(),
            prev: prev.as_bytes(),
            hash: hash.as_bytes(),
        })
    }

    pub fn record(&self) -> RecordId {
        self.record
    }

    /// How many entries have verified so far.
    pub fn verified(&self) -> u64 {
        self.seq
    }

    fn fail(&self, seq: u64, reason: BreakReason) -> Break {
        Break { record: self.record, seq, reason }
    }

    /// Checks the next row; the first failure is where the record breaks.
    pub fn check<'a>(&mut self, raw: &RawEntry<'a>) -> Result<(), Break> {
        let expected = self.seq + 1;
        let seq = match raw.seq {
            Some(seq) if seq > 0 => seq as u64,
            _ => return Err(self.fail(expected, BreakReason::BadSeq)),
        };
        if seq < expected {
            return Err(self.fail(seq, BreakReason::Duplicate));
        }
        if seq > expected {
            return Err(self.fail(expected, BreakReason::Missing { found: seq }));
        }
        let text = |field: &'static str, bytes: &'a [u8]| -> Result<&'a str, Break> {
            std::str::from_utf8(bytes).map_err(|_| Break {
                record: self.record,
                seq,
                reason: BreakReason::BadField { field, detail: "not UTF-8 text".into() },
            })
        };
        let at = text("at", raw.at)?;
        let actor = text("actor", raw.actor)?;
        let kind = text("kind", raw.kind)?;
        let body = text("body", raw.body)?;
        let prev = text("prev", raw.prev)?;
        text("hash", raw.hash)?;

        if !Timestamp::has_record_shape(at) {
            let detail = TimestampError(at.to_owned()).to_string();
            return Err(self.fail(seq, BreakReason::BadField { field: "at", detail }));
        }
        if raw.prev != self.prev {
            let expected = String::from_utf8_lossy(&self.prev).into_owned();
            return Err(self.fail(seq, BreakReason::PrevMismatch { expected, stored: prev.to_owned() }));
        }
        self.buffer.clear();
        preimage_into(&mut self.buffer, ENTRY_FORMAT, seq, at, actor, kind, body, prev);
        let hashed = EntryHash::of(&self.buffer);
        let mut computed = [0u8; 64];
        // Encoding 32 bytes into 64 hex digits cannot fail.
        let _ = hex::encode_to_slice(hashed.0, &mut computed);
        if raw.hash != computed {
            return Err(self.fail(
                seq,
                BreakReason::HashMismatch {
                    stored: String::from_utf8_lossy(raw.hash).into_owned(),
                    computed: String::from_utf8_lossy(&computed).into_owned(),
                },
            ));
        }
        // Fixed-width UTC text sorts as time does.
        if raw.at < self.last_at.as_slice() {
            return Err(self.fail(
                seq,
                BreakReason::TimeReversed {
                    at: at.to_owned(),
                    previous: String::from_utf8_lossy(&self.last_at).into_owned(),
                },
            ));
        }
        self.last_at.clear();
        self.last_at.extend_from_slice(raw.at);
        self.seq = seq;
        self.head = hashed;
        self.prev = computed;
        Ok(())
    }

    /// Checks that the record ends where the store's head says it does.
    pub fn finish(self, head_seq: u64, head_hash: &[u8]) -> Result<u64, Break> {
        if self.seq == 0 {
            return Err(self.fail(1, BreakReason::Empty));
        }
        if self.seq < head_seq {
            return Err(self.fail(self.seq + 1, BreakReason::Truncated { last: self.seq, head: head_seq }));
        }
        if self.seq > head_seq {
            return Err(self.fail(head_seq + 1, BreakReason::BeyondHead { head: head_seq }));
        }
        if head_hash != self.prev {
            return Err(self
                .fail(self.seq, BreakReason::HeadMismatch { head: String::from_utf8_lossy(head_hash).into_owned() }));
        }
        Ok(self.seq)
    }
}

/// Verifies a whole record held as parsed entries (exports, API answers).
pub fn verify_entries(record: RecordId, entries: &[crate::entry::Entry]) -> Result<(), Break> {
    let mut verifier = ChainVerifier::new(record);
    entries.iter().try_for_each(|entry| verifier.check_entry(entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::ids::IncidentNumber;

    const RECORD: RecordId = RecordId::Incident(IncidentNumber(4));

    fn chain(n: u64) -> Vec<Entry> {
        let mut prev = EntryHash::ZERO;
        (1..=n)
            .map(|seq| {
                let at = Timestamp::from_unix_micros(1_700_000_000_000_000 + seq as i64).expect("in range");
                let entry = Entry::seal(
                    seq,
                    at,
                    "alice".parse().expect("actor"),
                    "note.added",
                    format!(r#"{{"text":"line {seq}"}}"#),
                    prev,
                );
                prev = entry.hash;
                entry
            })
            .collect()
    }

    fn check(entries: &[Entry]) -> Result<(), Break> {
        verify_entries(RECORD, entries)
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(check(&chain(5)), Ok(()));
    }

    #[test]
    fn a_changed_body_breaks_at_that_entry() {
        let mut entries = chain(5);
        entries[2].body = r#"{"text":"line X"}"#.into();
        let error = check(&entries).unwrap_err();
        assert_eq!((error.record, error.seq), (RECORD, 3));
        assert!(matches!(error.reason, BreakReason::HashMismatch { .. }));
        assert!(error.to_string().starts_with("INC-4 seq 3: the hash does not match"));
    }

    #[test]
    fn a_resealed_entry_breaks_the_next_link() {
        let mut entries = chain(5);
        let forged =
            Entry::seal(3, entries[2].at, entries[2].actor.clone(), "note.added", "{}".into(), entries[2].prev);
        entries[2] = forged;
        let error = check(&entries).unwrap_err();
        assert_eq!(error.seq, 4);
        assert!(matches!(error.reason, BreakReason::PrevMismatch { .. }));
    }

    #[test]
    fn gaps_duplicates_and_time_reversals_are_named() {
        let entries = chain(5);
        let gap: Vec<Entry> = entries.iter().filter(|e| e.seq != 2).cloned().collect();
        assert_eq!(check(&gap).unwrap_err().reason, BreakReason::Missing { found: 3 });

        let mut duplicated = entries.clone();
        duplicated.insert(2, entries[1].clone());
        assert_eq!(check(&duplicated).unwrap_err().seq, 2);

        let mut reversed = chain(2);
        let earlier = Timestamp::from_unix_micros(1_600_000_000_000_000).expect("in range");
        reversed[1] = Entry::seal(2, earlier, reversed[1].actor.clone(), "note.added", "{}".into(), reversed[0].hash);
        assert!(matches!(check(&reversed).unwrap_err().reason, BreakReason::TimeReversed { .. }));
    }

    #[test]
    fn finish_compares_with_the_head() {
        let entries = chain(3);
        let run = |head_seq: u64, head_hash: &str| {
            let mut verifier = ChainVerifier::new(RECORD);
            for entry in &entries[..2] {
                let (at, actor, prev, hash) =
                    (entry.at.to_string(), entry.actor.to_string(), entry.prev.to_hex(), entry.hash.to_hex());
                verifier
                    .check(&RawEntry {
                        seq: Some(entry.seq as i64),
                        at: at.as_bytes(),
                        actor: actor.as_bytes(),
                        kind: entry.kind.as_bytes(),
                        body: entry.body.as_bytes(),
                        prev: prev.as_bytes(),
                        hash: hash.as_bytes(),
                    })
                    .expect("verifies");
            }
            verifier.finish(head_seq, head_hash.as_bytes())
        };
        assert_eq!(run(2, &entries[1].hash.to_hex()), Ok(2));
        let truncated = run(3, &entries[2].hash.to_hex()).unwrap_err();
        assert_eq!((truncated.seq, truncated.reason), (3, BreakReason::Truncated { last: 2, head: 3 }));
        assert!(matches!(run(2, &entries[0].hash.to_hex()).unwrap_err().reason, BreakReason::HeadMismatch { .. }));
    }
}
