//! Tamper evidence of the stored record (SPEC §2 "Record", §5 "Nothing lost").
//!
//! Each test builds a small real deployment in a SQLite file (the organisation record and two
//! incidents with facts, decisions proposed and approved, and tasks), then edits the database
//! directly with rusqlite, as an attacker with the `sqlite3` shell and write access to the data
//! directory would, and checks that `verify_store` (what `sitrep verify` runs) names the right
//! record and seq as the first break, and that the ledger refuses to start on it.
//!
//! # What the chain alone cannot show
//!
//! The chain and the `heads` table make every edit *inside* a record evident: a changed byte, a
//! deleted, swapped or inserted row. They cannot make evident an attacker who rewrites the whole
//! tail of a record consistently: re-hashes every entry from the forgery onwards and rewrites the
//! record's row in `heads` to match (or deletes the last entries and moves `heads` back). Such a
//! record is indistinguishable from a genuine one using only what the store holds; detecting it
//! needs a head the attacker cannot rewrite, i.e. an external signed checkpoint (a later issue).
//! The `limit_*` tests pin down exactly that boundary, so that the day checkpoints exist they can
//! be turned into tests that the forgery is caught.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use rusqlite::types::Value;
use rusqlite::{Connection, params};
use sitrep_core::chain::{Break, BreakReason};
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::ActionSpec;
use sitrep_core::{DecisionClass, DecisionId, Entry, FactId, IncidentNumber, RecordId, TaskId};
use sitrep_store::ledger::system_clock;
use sitrep_store::verify::{Verified, VerifyError, verify_and_fold, verify_store};
use sitrep_store::{Ledger, LedgerError, SqliteStore, Store, record_from_key};
use support::*;
use tempfile::TempDir;

/// The entry columns an attacker can change, in table order after `(record, seq)`.
const COLUMNS: [&str; 6] = ["at", "actor", "kind", "body", "prev", "hash"];

/// One stored entry row exactly as SQLite holds it (values keep their SQL type).
#[derive(Debug, Clone)]
struct Row {
    record: i64,
    seq: i64,
    values: [Value; 6],
}

impl Row {
    fn record_id(&self) -> RecordId {
        record_from_key(self.record).expect("a stored record key")
    }

    fn seq(&self) -> u64 {
        u64::try_from(self.seq).expect("a positive seq")
    }

    fn text(&self, column: usize) -> &str {
        match &self.values[column] {
            Value::Text(text) => text,
            other => panic!("{} is stored as {other:?}, not text", COLUMNS[column]),
        }
    }

    /// The entry this row holds, parsed.
    fn entry(&self) -> Entry {
        Entry {
            seq: self.seq(),
            at: self.text(0).parse().expect("a stored timestamp"),
            actor: self.text(1).parse().expect("a stored actor"),
            kind: self.text(2).to_owned(),
            body: self.text(3).to_owned(),
            prev: self.text(4).parse().expect("a stored prev"),
            hash: self.text(5).parse().expect("a stored hash"),
        }
    }
}

/// A deployment on disk, written through the ledger, and a copy of every row it holds.
struct Deployment {
    _dir: TempDir,
    path: PathBuf,
    rows: Vec<Row>,
}

impl Deployment {
    /// The organisation record and two incidents of a dozen or more entries each.
    fn build() -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(DB_FILE);
        {
            let store = open_sqlite(dir.path());
            let ledger = deploy(&store);
            let first = incident_of(&declare(&ledger, "Leaked AWS key"));
            for (by, text) in [
                ("tech", "CloudTrail shows ListBuckets from 203.0.113.7"),
                ("cmd", "Key AKIAEXAMPLE was committed to a public repository at 09:14"),
                ("tech", "No writes seen from the key"),
                ("lee", "Customer data bucket is in scope"),
            ] {
                act(&ledger, by, first, log_fact(text)).expect("logs a fact");
            }
            act(
                &ledger,
                "tech",
                first,
                IncidentCommand::VerifyFact { fact: FactId(1), basis: "CloudTrail export".into() },
            )
            .expect("verifies");
            let revoke = IncidentCommand::Propose {
                class: DecisionClass::parse("containment").expect("class"),
                title: "Deactivate AKIAEXAMPLE".into(),
                rationale: Some("the key is public".into()),
                actions: vec![ActionSpec::Task {
                    title: "Deactivate the key in IAM".into(),
                    owner_role: Some(role("tech_lead")),
                    due_in_minutes: Some(15),
                }],
                statement: None,
                clocks: Vec::new(),
            };
            act(&ledger, "tech", first, revoke).expect("tech proposes containment");
            act(&ledger, "cmd", first, IncidentCommand::Approve { decision: DecisionId(1), note: Some("go".into()) })
                .expect("the commander approves");
            act(
                &ledger,
                "cmd",
                first,
                IncidentCommand::CreateTask { title: "Rotate CI secrets".into(), owner: Some(user("tech")), due: None },
            )
            .expect("creates a task");
            act(
                &ledger,
                "tech",
                first,
                IncidentCommand::CompleteTask { task: TaskId(1), note: Some("rotated".into()) },
            )
            .expect("completes it");
            act(&ledger, "lee", first, IncidentCommand::AddNote { text: "Counsel informed".into(), occurred: None })
                .expect("notes");

            let second = incident_of(&declare(&ledger, "OAuth grant abuse — \"consent\" phishing"));
            for (by, text) in [
                ("cora", "Users report a consent screen for «Doc Viewer» ✓"),
                ("tech", "Grant issued to app id 4f1c…, tab\there"),
                ("cmd", "Three mailboxes read"),
            ] {
                act(&ledger, by, second, log_fact(text)).expect("logs a fact");
            }
            let draft = IncidentCommand::DraftStatement {
                audience: sitrep_core::events::Audience::Press,
                title: "Customer notice about the phishing app".into(),
                text: "We are investigating a phishing app that asked for consent.".into(),
            };
            act(&ledger, "cora", second, draft).expect("comms drafts the text");
            let statement = IncidentCommand::Propose {
                class: DecisionClass::parse("external_statement").expect("class"),
                title: "Customer notice about the phishing app".into(),
                rationale: None,
                actions: Vec::new(),
                statement: Some(sitrep_core::ids::StatementId(1)),
                clocks: Vec::new(),
            };
            act(&ledger, "cora", second, statement).expect("comms proposes a statement");
            act(&ledger, "lee", second, IncidentCommand::Approve { decision: DecisionId(1), note: None })
                .expect("legal approves");
            let recovery = IncidentCommand::Propose {
                class: DecisionClass::parse("recovery").expect("class"),
                title: "Re-enable third-party app consent".into(),
                rationale: None,
                actions: Vec::new(),
                statement: None,
                clocks: Vec::new(),
            };
            act(&ledger, "tech", second, recovery).expect("tech proposes recovery");
            act(&ledger, "cmd", second, IncidentCommand::Approve { decision: DecisionId(2), note: None })
                .expect("the commander approves");
            act(
                &ledger,
                "cmd",
                second,
                IncidentCommand::CreateTask { title: "Revoke the grant".into(), owner: Some(user("tech")), due: None },
            )
            .expect("creates a task");
            act(
                &ledger,
                "tech",
                second,
                IncidentCommand::BlockTask { task: TaskId(1), reason: "waiting for the tenant admin".into() },
            )
            .expect("blocks it");
            assert_eq!((first, second), (IncidentNumber(1), IncidentNumber(2)));
            ledger.close();
        }
        let conn = Connection::open(&path).expect("opens the database");
        let mut query = conn
            .prepare("SELECT record, seq, at, actor, kind, body, prev, hash FROM entries ORDER BY record, seq")
            .expect("prepares");
        let rows: Vec<Row> = query
            .query_map([], |row| {
                Ok(Row {
                    record: row.get(0)?,
                    seq: row.get(1)?,
                    values: [row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?],
                })
            })
            .expect("queries")
            .collect::<Result<_, _>>()
            .expect("reads every row");
        for record in 0..=2 {
            let count = rows.iter().filter(|r| r.record == record).count();
            assert!(count >= 9, "record {record} has only {count} entries");
        }
        let deployment = Deployment { _dir: dir, path, rows };
        let verifier = deployment.verifier();
        let clean = verify(&verifier).expect("the untouched deployment verifies");
        assert_eq!(clean, Verified { records: 3, entries: deployment.rows.len() as u64 });
        deployment
    }

    /// The store `sitrep verify` would open.
    fn verifier(&self) -> SqliteStore {
        SqliteStore::open_read_only(&self.path).expect("opens read-only")
    }

    fn attacker(&self) -> Attacker {
        Attacker::open(&self.path)
    }

    fn record(&self, key: i64) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.record == key).collect()
    }

    fn last_seq(&self, key: i64) -> i64 {
        self.record(key).last().expect("the record has entries").seq
    }

    fn is_last(&self, row: &Row) -> bool {
        row.seq == self.last_seq(row.record)
    }
}

/// A direct connection to the database file, doing what the application never does.
struct Attacker {
    conn: Connection,
}

impl Attacker {
    fn open(path: &Path) -> Attacker {
        let conn = Connection::open(path).expect("the attacker opens the file");
        // Nothing here needs to survive a crash, and thousands of edits must be fast.
        conn.pragma_update(None, "synchronous", "OFF").expect("synchronous=OFF");
        Attacker { conn }
    }

    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> usize {
        self.conn.execute(sql, params).unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// Stores `bytes` in one column of one row, as text (as `sqlite3` would store a string
    /// literal or `CAST(x'..' AS TEXT)`) or as a blob (`x'..'`). Either may be invalid UTF-8.
    fn set_bytes(&self, row: &Row, column: usize, bytes: &[u8], as_blob: bool) {
        let value = if as_blob { "?1" } else { "CAST(?1 AS TEXT)" };
        let sql = format!("UPDATE entries SET {} = {value} WHERE record = ?2 AND seq = ?3", COLUMNS[column]);
        assert_eq!(self.exec(&sql, params![bytes, row.record, row.seq]), 1, "one row changed");
    }

    fn set_value(&self, row: &Row, column: usize, value: &Value) {
        let sql = format!("UPDATE entries SET {} = ?1 WHERE record = ?2 AND seq = ?3", COLUMNS[column]);
        assert_eq!(self.exec(&sql, params![value, row.record, row.seq]), 1, "one row changed");
    }

    /// Writes every column of `row` back as it was, into the row at `row`'s (record, seq).
    fn restore(&self, row: &Row) {
        self.overwrite(row.record, row.seq, row);
    }

    /// Writes the contents (not the seq) of `from` into the row at (record, seq).
    fn overwrite(&self, record: i64, seq: i64, from: &Row) {
        let [at, actor, kind, body, prev, hash] = &from.values;
        let changed = self.exec(
            "UPDATE entries SET at = ?1, actor = ?2, kind = ?3, body = ?4, prev = ?5, hash = ?6 WHERE record = ?7 AND seq = ?8",
            params![at, actor, kind, body, prev, hash, record, seq],
        );
        assert_eq!(changed, 1, "one row changed");
    }

    fn set_seq(&self, record: i64, from: i64, to: i64) {
        assert_eq!(
            self.exec("UPDATE entries SET seq = ?1 WHERE record = ?2 AND seq = ?3", params![to, record, from]),
            1,
            "one row renumbered"
        );
    }

    fn delete(&self, record: i64, seq: i64) {
        assert_eq!(
            self.exec("DELETE FROM entries WHERE record = ?1 AND seq = ?2", params![record, seq]),
            1,
            "one row deleted"
        );
    }

    fn insert(&self, row: &Row) {
        let [at, actor, kind, body, prev, hash] = &row.values;
        self.exec(
            "INSERT INTO entries (record, seq, at, actor, kind, body, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![row.record, row.seq, at, actor, kind, body, prev, hash],
        );
    }

    fn insert_entry(&self, record: i64, entry: &Entry) {
        self.insert(&row_of(record, entry));
    }

    fn set_head(&self, record: i64, seq: i64, hash: &str) {
        assert_eq!(
            self.exec("UPDATE heads SET seq = ?1, hash = ?2 WHERE record = ?3", params![seq, hash, record]),
            1,
            "one head changed"
        );
    }

    fn head(&self, record: i64) -> (i64, String) {
        self.conn
            .query_row("SELECT seq, hash FROM heads WHERE record = ?1", params![record], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("the record has a head")
    }
}

fn row_of(record: i64, entry: &Entry) -> Row {
    Row {
        record,
        seq: i64::try_from(entry.seq).expect("seq fits"),
        values: [
            Value::Text(entry.at.to_string()),
            Value::Text(entry.actor.to_string()),
            Value::Text(entry.kind.clone()),
            Value::Text(entry.body.clone()),
            Value::Text(entry.prev.to_hex()),
            Value::Text(entry.hash.to_hex()),
        ],
    }
}

fn bytes_of(value: &Value) -> Vec<u8> {
    match value {
        Value::Text(text) => text.as_bytes().to_vec(),
        Value::Blob(bytes) => bytes.clone(),
        other => panic!("an entry column holds {other:?}"),
    }
}

fn verify(store: &dyn Store) -> Result<Verified, VerifyError> {
    verify_store(store, &mut |_| {})
}

/// The first break `sitrep verify` reports; fails the test if the store verifies.
#[track_caller]
fn first_break(store: &dyn Store, what: &dyn Fn() -> String) -> Break {
    match verify(store) {
        Err(VerifyError::Break(found)) => found,
        Ok(verified) => panic!("{} went unnoticed: the store verified ({verified:?})", what()),
        Err(VerifyError::Store(error)) => panic!("{}: verify could not read the store: {error}", what()),
    }
}

#[track_caller]
fn assert_breaks_at(store: &dyn Store, record: RecordId, seq: u64, what: &dyn Fn() -> String) -> BreakReason {
    let found = first_break(store, what);
    assert_eq!((found.record, found.seq), (record, seq), "{}: reported {found}", what());
    found.reason
}

/// The byte positions of a field that the exhaustive test changes: every position of a field up
/// to 200 bytes; for a longer one (the organisation record's `policy.replaced` body holds the
/// whole policy file, about 4 KiB) every position in the first and last 100 bytes, where the
/// JSON framing and the fields around the long text are, plus every 37th byte in between, which
/// samples the long text itself (a prime step, so it does not fall into step with line lengths).
fn positions(len: usize) -> Vec<usize> {
    if len <= 200 {
        return (0..len).collect();
    }
    (0..100).chain((100..len - 100).step_by(37)).chain(len - 100..len).collect()
}

fn is_about_this_entry(reason: &BreakReason) -> bool {
    matches!(reason, BreakReason::BadField { .. } | BreakReason::PrevMismatch { .. } | BreakReason::HashMismatch { .. })
}

#[test]
fn changing_any_byte_of_any_stored_field_breaks_the_chain_at_that_entry() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    let mut changes = 0usize;
    let mut invalid_utf8 = 0usize;
    for row in &deployment.rows {
        for (column, name) in COLUMNS.iter().enumerate() {
            let original = bytes_of(&row.values[column]);
            for pos in positions(original.len()) {
                // Two changes per byte: one bit flipped (an ASCII byte stays ASCII, so the text
                // stays valid UTF-8 and plausible: a digit becomes another digit), stored as
                // text; and 0xFF, never valid in UTF-8, stored as a blob.
                for (new, as_blob) in [(original[pos] ^ (1 << (pos % 7)), false), (0xFF, true)] {
                    let mut changed = original.clone();
                    changed[pos] = new;
                    invalid_utf8 += usize::from(std::str::from_utf8(&changed).is_err());
                    attacker.set_bytes(row, column, &changed, as_blob);
                    let what = || {
                        format!(
                            "{} seq {}: {name} byte {pos} {:#04x} -> {new:#04x}",
                            row.record_id(),
                            row.seq,
                            original[pos]
                        )
                    };
                    let reason = assert_breaks_at(&verifier, row.record_id(), row.seq(), &what);
                    assert!(is_about_this_entry(&reason), "{}: {reason}", what());
                    attacker.set_value(row, column, &row.values[column]);
                    changes += 1;
                }
            }
        }
        verify(&verifier).unwrap_or_else(|error| {
            panic!("restoring {} seq {} left the store broken: {error}", row.record_id(), row.seq)
        });
    }
    assert!(changes > 10_000, "only {changes} changes were tried");
    assert!(invalid_utf8 > changes / 3, "only {invalid_utf8} of {changes} changes made invalid UTF-8");
}

#[test]
fn random_single_byte_changes_break_the_chain_at_the_changed_entry() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    let records: Vec<Vec<&Row>> = (0..=2).map(|key| deployment.record(key)).collect();
    let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = (0..records.len(), any::<Index>(), 0..COLUMNS.len(), any::<Index>(), any::<u8>(), any::<bool>());
    runner
        .run(&strategy, |(record, row, column, pos, new, as_blob)| {
            let row = *row.get(&records[record]);
            let original = bytes_of(&row.values[column]);
            let pos = pos.index(original.len());
            let mut changed = original.clone();
            changed[pos] = new;
            attacker.set_bytes(row, column, &changed, as_blob);
            let outcome = verify(&verifier);
            attacker.set_value(row, column, &row.values[column]);
            let what = format!(
                "{} seq {}: {} byte {pos} {:#04x} -> {new:#04x}",
                row.record_id(),
                row.seq,
                COLUMNS[column],
                original[pos]
            );
            if changed == original {
                // Rewriting a byte with its own value (as text or blob) is no change at all.
                prop_assert!(outcome.is_ok(), "{what} is no change, yet: {outcome:?}");
            } else {
                match outcome {
                    Err(VerifyError::Break(found)) => {
                        prop_assert_eq!(
                            (found.record, found.seq),
                            (row.record_id(), row.seq()),
                            "{}: reported {}",
                            what,
                            found
                        );
                    }
                    other => prop_assert!(false, "{what} went unnoticed: {other:?}"),
                }
            }
            Ok(())
        })
        .expect("every random change is reported at the changed entry");
    verify(&verifier).expect("every change was restored");
}

#[test]
fn changing_an_entrys_seq_to_an_unused_value_breaks_the_chain_at_that_seq() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    for row in &deployment.rows {
        for unused in [deployment.last_seq(row.record) + 1, deployment.last_seq(row.record) + 1000, i64::MAX] {
            attacker.set_seq(row.record, row.seq, unused);
            let what = || format!("{} seq {} renumbered to {unused}", row.record_id(), row.seq);
            let reason = assert_breaks_at(&verifier, row.record_id(), row.seq(), &what);
            let expected =
                if deployment.is_last(row) { u64::try_from(unused).expect("positive") } else { row.seq() + 1 };
            assert_eq!(reason, BreakReason::Missing { found: expected }, "{}", what());
            attacker.set_seq(row.record, unused, row.seq);
        }
    }
    verify(&verifier).expect("every change was restored");
}

#[test]
fn deleting_any_entry_breaks_the_chain_at_its_seq() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    for row in &deployment.rows {
        attacker.delete(row.record, row.seq);
        let what = || format!("deleting {} seq {}", row.record_id(), row.seq);
        let reason = assert_breaks_at(&verifier, row.record_id(), row.seq(), &what);
        if deployment.is_last(row) {
            // Nothing follows the last entry; the head the store wrote with it shows it is gone.
            assert_eq!(reason, BreakReason::Truncated { last: row.seq() - 1, head: row.seq() }, "{}", what());
        } else {
            assert_eq!(reason, BreakReason::Missing { found: row.seq() + 1 }, "{}", what());
        }
        attacker.insert(row);
    }
    verify(&verifier).expect("every row was put back");
}

#[test]
fn swapping_the_contents_of_two_entries_breaks_the_chain_at_the_lower_seq() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    let mut pairs = 0;
    for key in 0..=2 {
        let rows = deployment.record(key);
        for (i, low) in rows.iter().enumerate() {
            for high in &rows[i + 1..] {
                attacker.overwrite(key, low.seq, high);
                attacker.overwrite(key, high.seq, low);
                let what = || format!("swapping {} seq {} and {}", low.record_id(), low.seq, high.seq);
                let reason = assert_breaks_at(&verifier, low.record_id(), low.seq(), &what);
                assert!(
                    matches!(reason, BreakReason::PrevMismatch { .. } | BreakReason::HashMismatch { .. }),
                    "{}: {reason}",
                    what()
                );
                attacker.restore(low);
                attacker.restore(high);
                pairs += 1;
            }
        }
    }
    assert!(pairs > 200, "only {pairs} pairs were swapped");
    verify(&verifier).expect("every swap was undone");
}

#[test]
fn a_row_added_after_the_end_of_a_record_breaks_it_at_the_next_seq() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    for key in 0..=2 {
        let last = *deployment.record(key).last().expect("entries");
        let end = last.seq + 1;
        let what = || format!("a row after the end of {}", last.record_id());

        let text = |s: &str| Value::Text(s.to_owned());
        let garbage = Row {
            record: key,
            seq: end,
            values: [text("yesterday"), text("mallory"), text("fact.logged"), text("{}"), text("0"), text("0")],
        };
        attacker.insert(&garbage);
        let reason = assert_breaks_at(&verifier, last.record_id(), last.seq() + 1, &what);
        assert!(is_about_this_entry(&reason), "{}: {reason}", what());
        attacker.delete(key, end);

        // A well-formed continuation that chains and hashes correctly still does not match the
        // head the store wrote in the same transaction as the genuine last entry.
        let genuine = last.entry();
        let forged = Entry::seal(
            genuine.seq + 1,
            genuine.at,
            "mallory".parse().expect("actor"),
            "note.added",
            r#"{"text":"all clear"}"#.into(),
            genuine.hash,
        );
        attacker.insert_entry(key, &forged);
        let reason = assert_breaks_at(&verifier, last.record_id(), last.seq() + 1, &what);
        assert_eq!(reason, BreakReason::BeyondHead { head: last.seq() }, "{}", what());
        attacker.delete(key, end);
    }
    verify(&verifier).expect("every added row was removed");
}

#[test]
fn a_rehashed_forgery_inserted_mid_record_breaks_the_chain_right_after_it() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    for key in 0..=2 {
        let rows = deployment.record(key);
        let last = deployment.last_seq(key);
        for displaced in &rows {
            // The forgery takes the displaced entry's place: same time and actor, the right
            // `prev`, its own correct hash. Every later row moves up one seq.
            let genuine = displaced.entry();
            let forged = Entry::seal(
                genuine.seq,
                genuine.at,
                genuine.actor.clone(),
                "note.added",
                r#"{"text":"the key was never public"}"#.into(),
                genuine.prev,
            );
            for seq in (displaced.seq..=last).rev() {
                attacker.set_seq(key, seq, seq + 1);
            }
            attacker.insert_entry(key, &forged);
            let what = || format!("a forgery inserted at {} seq {}", displaced.record_id(), displaced.seq);
            // The forgery itself chains correctly; the entry it displaced no longer does.
            let reason = assert_breaks_at(&verifier, displaced.record_id(), displaced.seq() + 1, &what);
            assert!(matches!(reason, BreakReason::PrevMismatch { .. }), "{}: {reason}", what());
            attacker.delete(key, displaced.seq);
            for seq in displaced.seq..=last {
                attacker.set_seq(key, seq + 1, seq);
            }
        }
    }
    verify(&verifier).expect("every forgery was removed");
}

#[test]
fn changing_a_records_head_breaks_it_at_the_end() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    for key in 0..=2 {
        let record = record_from_key(key).expect("record");
        let (seq, hash) = attacker.head(key);
        let last = u64::try_from(seq).expect("positive");
        let what = || format!("the head of {record}");

        let other = format!("{}{}", if hash.starts_with('0') { '1' } else { '0' }, &hash[1..]);
        attacker.set_head(key, seq, &other);
        assert!(matches!(assert_breaks_at(&verifier, record, last, &what), BreakReason::HeadMismatch { .. }));
        attacker.set_head(key, seq - 1, &hash);
        assert_eq!(assert_breaks_at(&verifier, record, last, &what), BreakReason::BeyondHead { head: last - 1 });
        attacker.set_head(key, seq + 1, &hash);
        assert_eq!(
            assert_breaks_at(&verifier, record, last + 1, &what),
            BreakReason::Truncated { last, head: last + 1 }
        );
        attacker.set_head(key, seq, &hash);

        // A record whose head row is deleted is still noticed: its entries go beyond no head.
        attacker.exec("DELETE FROM heads WHERE record = ?1", params![key]);
        assert_eq!(assert_breaks_at(&verifier, record, 1, &what), BreakReason::BeyondHead { head: 0 });
        attacker.exec("INSERT INTO heads (record, seq, hash) VALUES (?1, ?2, ?3)", params![key, seq, hash]);
    }
    verify(&verifier).expect("every head was restored");
}

/// The honest limit, named as such: deleting a record's last entry is caught only through the
/// `heads` row written with it. An attacker who also moves that head back leaves a store that
/// verifies; only an external signed checkpoint of the head (a later issue) shows the loss.
#[test]
fn limit_deleting_the_last_entry_and_rewriting_its_head_needs_an_external_checkpoint() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    let rows = deployment.record(1);
    let [.., before, last] = rows.as_slice() else { panic!("INC-1 has entries") };
    attacker.delete(1, last.seq);
    assert_breaks_at(&verifier, last.record_id(), last.seq(), &|| "deleting the last entry".into());
    attacker.set_head(1, before.seq, before.text(5));
    let verified = verify(&verifier).expect("LIMIT: with the head rewritten too, the store alone cannot show the loss");
    assert_eq!(verified.entries, deployment.rows.len() as u64 - 1);
}

/// The same limit for a forged tail: change an entry, re-seal it and every entry after it, and
/// rewrite the head. Every link holds, so only an external signed checkpoint can show it.
#[test]
fn limit_a_resealed_tail_with_a_rewritten_head_needs_an_external_checkpoint() {
    let deployment = Deployment::build();
    let verifier = deployment.verifier();
    let attacker = deployment.attacker();
    let entries: Vec<Entry> = deployment.record(1).iter().map(|r| r.entry()).collect();
    let target = entries.iter().position(|e| e.kind == "fact.logged").expect("INC-1 has a fact");
    let mut prev = entries[target].prev;
    for (index, genuine) in entries.iter().enumerate().skip(target) {
        let body = if index == target { genuine.body.replace("203.0.113.7", "10.0.0.1") } else { genuine.body.clone() };
        assert!(index != target || body != genuine.body, "the forgery changes the fact");
        let forged = Entry::seal(genuine.seq, genuine.at, genuine.actor.clone(), &genuine.kind, body, prev);
        attacker.overwrite(1, forged.seq as i64, &row_of(1, &forged));
        prev = forged.hash;
    }
    assert!(matches!(first_break(&verifier, &|| "a resealed tail".into()).reason, BreakReason::HeadMismatch { .. }));
    let last = entries.last().expect("entries").seq as i64;
    attacker.set_head(1, last, &prev.to_hex());
    verify(&verifier).expect("LIMIT: a consistently resealed tail and head verify without an external checkpoint");
}

fn open_ledger(path: &Path) -> Result<Ledger, LedgerError> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).expect("the store opens"));
    Ledger::open(store, system_clock())
}

#[track_caller]
fn assert_refused_as_corrupt(path: &Path, record: RecordId, what: &dyn Fn() -> String) {
    match open_ledger(path) {
        Err(LedgerError::Corrupt { record: named, reason }) => {
            assert_eq!(named, record, "{}: Corrupt names the wrong record ({reason})", what())
        }
        Err(other) => panic!("{}: the ledger refused to open, but not as corrupt: {other:?}", what()),
        Ok(_) => panic!("{}: the ledger opened on a tampered store", what()),
    }
}

/// Every row, every field, changed so that it still parses (a digit for another digit, a letter
/// for another letter), and every row that is not the last deleted: the ledger re-checks hashes
/// and links when it loads, so the server does not start on a tampered record.
#[test]
fn the_ledger_refuses_to_start_on_a_changed_or_deleted_entry_and_names_the_record() {
    let deployment = Deployment::build();
    let attacker = deployment.attacker();
    let plausible = |byte: u8| match byte {
        b'0'..=b'8' | b'a'..=b'e' => byte + 1,
        b'9' => b'0',
        b'f'..=b'z' => byte - 1,
        other => other ^ 1,
    };
    for row in &deployment.rows {
        for (column, name) in COLUMNS.iter().enumerate() {
            let original = row.text(column);
            // The last microsecond digit of `at`, the middle of a body, and the last character
            // of the others: a letter of the actor's name or of the kind, a hex digit of a hash.
            let pos = match *name {
                "at" => original.len() - 2,
                "body" => original.len() / 2,
                _ => original.len() - 1,
            };
            let mut changed = original.as_bytes().to_vec();
            changed[pos] = plausible(changed[pos]);
            let Ok(text) = String::from_utf8(changed) else { continue };
            attacker.set_bytes(row, column, text.as_bytes(), false);
            assert_refused_as_corrupt(&deployment.path, row.record_id(), &|| {
                format!("{} seq {}: {name} {original:?} -> {text:?}", row.record_id(), row.seq)
            });
            attacker.set_value(row, column, &row.values[column]);
        }
        if !deployment.is_last(row) {
            attacker.delete(row.record, row.seq);
            assert_refused_as_corrupt(&deployment.path, row.record_id(), &|| {
                format!("deleting {} seq {}", row.record_id(), row.seq)
            });
            attacker.insert(row);
        }
    }
    open_ledger(&deployment.path).expect("the restored store opens");
}

/// A row the store cannot even parse (a field that is not UTF-8, a timestamp or hash in another
/// spelling) is corruption naming the record, not "store unavailable": a caller that retries on
/// `Unavailable` would otherwise retry forever on a tampered database.
#[test]
fn the_ledger_reports_an_unparsable_entry_as_corrupt_not_as_unavailable() {
    let deployment = Deployment::build();
    let attacker = deployment.attacker();
    let row = &deployment.record(2)[3];
    let upper_case_hash = "AB".repeat(32);
    let cases: [(usize, &[u8]); 3] =
        [(3, b"{\"text\":\"\xff\"}"), (0, b"2026-11-27T16:26:42Z"), (5, upper_case_hash.as_bytes())];
    let mut wrong = Vec::new();
    for (column, bytes) in cases {
        attacker.set_bytes(row, column, bytes, false);
        match open_ledger(&deployment.path) {
            Err(LedgerError::Corrupt { record, .. }) if record == row.record_id() => {}
            other => wrong.push(format!("{}: {other:?}", COLUMNS[column])),
        }
        attacker.set_value(row, column, &row.values[column]);
    }
    assert!(
        wrong.is_empty(),
        "Ledger::open must refuse an unparsable entry as Corrupt naming INC-2; got:\n{}",
        wrong.join("\n")
    );
}

/// The ledger verifies the store before it starts, so a record whose last entry was deleted
/// (reported as truncated against its head) is refused rather than served shortened.
#[test]
fn the_ledger_refuses_to_start_on_a_record_whose_last_entry_was_deleted() {
    let deployment = Deployment::build();
    let attacker = deployment.attacker();
    let last = *deployment.record(2).last().expect("entries");
    attacker.delete(last.record, last.seq);
    assert_breaks_at(&deployment.verifier(), last.record_id(), last.seq(), &|| "deleting the last entry".into());
    assert_refused_as_corrupt(&deployment.path, last.record_id(), &|| {
        format!("deleting the last entry of {}", last.record_id())
    });
}

/// An incident whose row in `heads` was deleted does not silently vanish: the ledger refuses to
/// start, as `sitrep verify` reports the record.
#[test]
fn the_ledger_refuses_to_start_without_an_incident_whose_head_row_was_deleted() {
    let deployment = Deployment::build();
    let attacker = deployment.attacker();
    attacker.exec("DELETE FROM heads WHERE record = 2", []);
    assert_breaks_at(&deployment.verifier(), RecordId::Incident(IncidentNumber(2)), 1, &|| {
        "deleting the head row".into()
    });
    assert_refused_as_corrupt(&deployment.path, RecordId::Incident(IncidentNumber(2)), &|| {
        "deleting the head row of INC-2".into()
    });
}

/// The precondition of every test above: each stored field is in its one spelling (the text
/// the parsed entry formats back to), so any changed byte is a changed value, not a re-spelling.
#[test]
fn stored_rows_hold_each_field_in_its_one_spelling() {
    let deployment = Deployment::build();
    for row in &deployment.rows {
        let entry = row.entry();
        assert_eq!(
            row_of(row.record, &entry).values,
            row.values,
            "{} seq {} is stored as sealed",
            row.record_id(),
            row.seq
        );
        assert_eq!(entry.computed_hash(), entry.hash, "{} seq {}", row.record_id(), row.seq);
    }
}

/// Issue 12 point 5: an entry appended with a correct hash, `prev` and head, whose body the fold
/// refuses, passed `sitrep verify` while the server refused to start on the store. Both now
/// name it.
#[test]
fn a_well_hashed_entry_the_fold_refuses_is_named_by_verify_and_the_server_refuses_it() {
    for key in 0..=2 {
        let deployment = Deployment::build();
        let verifier = deployment.verifier();
        let attacker = deployment.attacker();
        let last = *deployment.record(key).last().expect("entries");
        let genuine = last.entry();
        // Chains, hashes and heads correctly, but verifies a fact nobody logged (or, in the
        // organisation record, revokes a token nobody has).
        let (kind, body) = if key == 0 {
            ("token.revoked", r#"{"token":"000000000000","user":"admin"}"#)
        } else {
            ("fact.verified", r#"{"basis":"trust me","fact":"F-99"}"#)
        };
        let forged = Entry::seal(
            genuine.seq + 1,
            genuine.at,
            "mallory".parse().expect("actor"),
            kind,
            body.into(),
            genuine.hash,
        );
        attacker.insert_entry(key, &forged);
        attacker.set_head(key, forged.seq as i64, &forged.hash.to_string());
        verify(&verifier).expect("the chain itself holds: that is what makes this forgery subtle");

        let found = match verify_and_fold(&verifier, &mut |_| {}) {
            Err(VerifyError::Break(found)) => found,
            other => panic!("record {key}: sitrep verify passed a record the server refuses: {other:?}"),
        };
        assert_eq!((found.record, found.seq), (last.record_id(), forged.seq), "{found}");
        assert!(matches!(&found.reason, BreakReason::Unfoldable { kind: k, .. } if k == kind), "{found}");

        let store: Arc<dyn Store> = Arc::new(deployment.verifier());
        let refused = Ledger::open(store, system_clock()).expect_err("the server refuses it");
        assert!(refused.to_string().contains(&format!("seq {}", forged.seq)), "{refused}");
    }
}
