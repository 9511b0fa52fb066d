//! The embedded store: one SQLite file in the data directory.
//!
//! Durability: WAL mode with `synchronous=FULL`, so a commit returns only after the WAL is
//! fsynced (MACHINE-NOTES: `NORMAL` loses commits on power loss). Appends run in `BEGIN
//! IMMEDIATE` transactions on the one writer connection; the ledger hands over whole batches, so
//! many commands share one transaction and one fsync. Readers use their own connections and
//! never block the writer.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use sitrep_core::chain::RawEntry;
use sitrep_core::{Entry, RecordId};

use crate::{
    Append, Extras, Head, IdempotencyRow, SessionRow, Store, StoreError, authentication_from, authentication_json,
    decode_entry, record_from_key, record_key, timestamp_from,
};

/// Applied in order, once each; an applied migration is never edited, only followed by a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_record.sql"),
    include_str!("../migrations/sqlite/0002_secrets_and_idempotency.sql"),
    include_str!("../migrations/sqlite/0003_sessions.sql"),
];

#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Option<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
}

fn backend(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
        migrate(&conn)?;
        Ok(SqliteStore { path: path.to_owned(), writer: Some(Mutex::new(conn)), readers: Mutex::new(Vec::new()) })
    }

    /// Opens an existing database for reading only, as `sitrep verify` does while a server runs.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return Err(StoreError::Backend(format!("{} does not exist", path.display())));
        }
        let store = SqliteStore { path: path.to_owned(), writer: None, readers: Mutex::new(Vec::new()) };
        let conn = store.connect_reader()?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(backend)?;
        if version as usize != MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "{} has schema version {version}; this build expects {} (start the server once to migrate it)",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        store.readers.lock().push(conn);
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect_reader(&self) -> Result<Connection, StoreError> {
        let conn =
            Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
        Ok(conn)
    }

    /// Runs a small write outside any record (session bookkeeping) on the writer connection.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let Some(writer) = &self.writer else {
            return Err(StoreError::Backend("the store is open read-only".into()));
        };
        f(&writer.lock()).map_err(backend)
    }

    /// Runs `f` on a pooled read connection.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.connect_reader()?,
        };
        let result = f(&conn);
        let mut readers = self.readers.lock();
        if readers.len() < 8 {
            readers.push(conn);
        }
        result
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(backend)?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this build knows ({}); use a newer sitrep",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;", index + 1))
            .map_err(backend)?;
    }
    Ok(())
}

/// A stored value as the bytes a verifier must see. Values of the wrong SQL type are shown in
/// their textual form, so that they fail the hash check instead of being skipped.
fn bytes(value: ValueRef<'_>) -> std::borrow::Cow<'_, [u8]> {
    match value {
        ValueRef::Text(b) | ValueRef::Blob(b) => std::borrow::Cow::Borrowed(b),
        ValueRef::Integer(i) => std::borrow::Cow::Owned(i.to_string().into_bytes()),
        ValueRef::Real(r) => std::borrow::Cow::Owned(r.to_string().into_bytes()),
        ValueRef::Null => std::borrow::Cow::Borrowed(b""),
    }
}

fn integer(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    }
}

/// Reads columns `first..first + 7` (seq, at, actor, kind, body, prev, hash) and hands them on.
fn with_raw<T>(row: &rusqlite::Row<'_>, first: usize, f: impl FnOnce(RawEntry<'_>) -> T) -> Result<T, rusqlite::Error> {
    let seq = integer(row.get_ref(first)?);
    let at = bytes(row.get_ref(first + 1)?);
    let actor = bytes(row.get_ref(first + 2)?);
    let kind = bytes(row.get_ref(first + 3)?);
    let body = bytes(row.get_ref(first + 4)?);
    let prev = bytes(row.get_ref(first + 5)?);
    let hash = bytes(row.get_ref(first + 6)?);
    Ok(f(RawEntry { seq, at: &at, actor: &actor, kind: &kind, body: &body, prev: &prev, hash: &hash }))
}

impl Store for SqliteStore {
    fn commit(&self, batch: &[Append<'_>], extras: &Extras<'_>) -> Result<(), StoreError> {
        let Some(writer) = &self.writer else {
            return Err(StoreError::Backend("the store is open read-only".into()));
        };
        let mut conn = writer.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        {
            let mut head = tx.prepare_cached("SELECT seq FROM heads WHERE record = ?1").map_err(backend)?;
            let mut insert = tx
                .prepare_cached("INSERT INTO entries (record, seq, at, actor, kind, body, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .map_err(backend)?;
            let mut set_head = tx
                .prepare_cached("INSERT INTO heads (record, seq, hash) VALUES (?1, ?2, ?3) ON CONFLICT(record) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
                .map_err(backend)?;
            for item in batch {
                let key = record_key(item.record);
                let found: i64 =
                    head.query_row(params![key], |row| row.get(0)).optional().map_err(backend)?.unwrap_or(0);
                if found as u64 != item.after {
                    return Err(StoreError::Conflict {
                        record: item.record,
                        expected: item.after,
                        found: found as u64,
                    });
                }
                let mut expected = item.after;
                for entry in item.entries {
                    expected += 1;
                    if entry.seq != expected {
                        return Err(StoreError::Backend(format!(
                            "{}: entries must follow seq {} without gaps",
                            item.record,
                            expected - 1
                        )));
                    }
                    insert
                        .execute(params![
                            key,
                            entry.seq as i64,
                            entry.at.to_string(),
                            entry.actor.to_string(),
                            entry.kind,
                            entry.body,
                            entry.prev.to_hex(),
                            entry.hash.to_hex()
                        ])
                        .map_err(backend)?;
                }
                if let Some(last) = item.entries.last() {
                    set_head.execute(params![key, last.seq as i64, last.hash.to_hex()]).map_err(backend)?;
                }
            }
            if !extras.passwords.is_empty() {
                let mut set = tx
                    .prepare_cached("INSERT INTO passwords (user, phc) VALUES (?1, ?2) ON CONFLICT(user) DO UPDATE SET phc = excluded.phc")
                    .map_err(backend)?;
                for (user, phc) in extras.passwords {
                    set.execute(params![user, phc]).map_err(backend)?;
                }
            }
            if !extras.idempotency.is_empty() {
                let mut remember = tx
                    .prepare_cached("INSERT INTO idempotency (user, key, fingerprint, record, first_seq, last_seq, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                    .map_err(backend)?;
                for row in extras.idempotency {
                    remember
                        .execute(params![
                            row.user,
                            row.key,
                            row.fingerprint,
                            record_key(row.record),
                            row.first_seq as i64,
                            row.last_seq as i64,
                            row.at.to_string()
                        ])
                        .map_err(backend)?;
                }
            }
        }
        write_sessions(&tx, extras)?;
        tx.commit().map_err(backend)
    }

    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT phc FROM passwords WHERE user = ?1", params![user], |row| row.get(0))
                .optional()
                .map_err(backend)
        })
    }

    fn idempotency_since(&self, since: sitrep_core::Timestamp) -> Result<Vec<IdempotencyRow>, StoreError> {
        self.with_reader(|conn| {
            let mut query = conn
                .prepare_cached(
                    "SELECT user, key, fingerprint, record, first_seq, last_seq, at FROM idempotency WHERE at >= ?1",
                )
                .map_err(backend)?;
            let rows = query
                .query_map(params![since.to_string()], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                        row.get::<_, String>(6)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (user, key, fingerprint, record, first_seq, last_seq, at) = row.map_err(backend)?;
                let record = record_from_key(record)
                    .ok_or_else(|| StoreError::Backend(format!("idempotency holds an unknown record key {record}")))?;
                let at = at.parse().map_err(|e| StoreError::Backend(format!("idempotency time: {e}")))?;
                out.push(IdempotencyRow {
                    user,
                    key,
                    fingerprint,
                    record,
                    first_seq: first_seq as u64,
                    last_seq: last_seq as u64,
                    at,
                });
            }
            Ok(out)
        })
    }

    fn read(&self, record: RecordId, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.with_reader(|conn| {
            let mut query = conn
                .prepare_cached("SELECT seq, at, actor, kind, body, prev, hash FROM entries WHERE record = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3")
                .map_err(backend)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let from = i64::try_from(from).unwrap_or(i64::MAX);
            let mut rows = query.query(params![record_key(record), from, limit]).map_err(backend)?;
            let mut entries = Vec::new();
            while let Some(row) = rows.next().map_err(backend)? {
                entries.push(with_raw(row, 0, |raw| decode_entry(record, &raw)).map_err(backend)??);
            }
            Ok(entries)
        })
    }

    fn heads(&self) -> Result<Vec<Head>, StoreError> {
        self.with_reader(|conn| {
            let mut query =
                conn.prepare_cached("SELECT record, seq, hash FROM heads ORDER BY record").map_err(backend)?;
            let rows = query
                .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?)))
                .map_err(backend)?;
            let mut heads = Vec::new();
            for row in rows {
                let (key, seq, hash) = row.map_err(backend)?;
                let record = record_from_key(key)
                    .ok_or_else(|| StoreError::Backend(format!("heads holds an unknown record key {key}")))?;
                heads.push(Head { record, seq: seq.max(0) as u64, hash });
            }
            Ok(heads)
        })
    }

    fn scan(&self, visit: &mut dyn FnMut(RecordId, RawEntry<'_>) -> ControlFlow<()>) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            let mut query = conn
                .prepare("SELECT record, seq, at, actor, kind, body, prev, hash FROM entries ORDER BY record, seq")
                .map_err(backend)?;
            let mut rows = query.query([]).map_err(backend)?;
            while let Some(row) = rows.next().map_err(backend)? {
                let key: i64 = row.get(0).map_err(backend)?;
                let record = record_from_key(key)
                    .ok_or_else(|| StoreError::Backend(format!("entries holds an unknown record key {key}")))?;
                if with_raw(row, 1, |raw| visit(record, raw)).map_err(backend)?.is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| conn.query_row("SELECT count(*) FROM heads", [], |_| Ok(())).map_err(backend))
    }

    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        self.with_reader(|conn| {
            let mut query = conn.prepare_cached(&format!("{SESSION_COLUMNS} WHERE id = ?1")).map_err(backend)?;
            let row = query.query_row(params![id], session_text).optional().map_err(backend)?;
            row.map(session_row).transpose()
        })
    }

    fn sessions_of(&self, user: &str) -> Result<Vec<SessionRow>, StoreError> {
        self.with_reader(|conn| {
            let mut query = conn
                .prepare_cached(&format!("{SESSION_COLUMNS} WHERE user = ?1 ORDER BY started_at DESC"))
                .map_err(backend)?;
            let rows = query.query_map(params![user], session_text).map_err(backend)?;
            rows.map(|row| row.map_err(backend).and_then(session_row)).collect()
        })
    }

    fn touch_session(&self, id: &str, at: sitrep_core::Timestamp) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute("UPDATE sessions SET seen_at = ?2 WHERE id = ?1", params![id, at.to_string()]).map(drop)
        })
    }

    fn purge_sessions(
        &self,
        now: sitrep_core::Timestamp,
        idle_since: sitrep_core::Timestamp,
    ) -> Result<usize, StoreError> {
        self.write(|conn| {
            conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1 OR seen_at < ?2",
                params![now.to_string(), idle_since.to_string()],
            )
        })
    }
}

const SESSION_COLUMNS: &str = "SELECT id, user, csrf, started_at, seen_at, expires_at, authentication FROM sessions";

type SessionText = (String, String, String, String, String, String, String);

fn session_text(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionText> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn session_row(
    (id, user, csrf, started, seen, expires, authentication): SessionText,
) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id,
        user,
        csrf,
        started_at: timestamp_from(&started)?,
        seen_at: timestamp_from(&seen)?,
        expires_at: timestamp_from(&expires)?,
        authentication: authentication_from(&authentication)?,
    })
}

/// Sessions begun and ended, in the transaction of the entries that record them.
fn write_sessions(tx: &rusqlite::Transaction<'_>, extras: &Extras<'_>) -> Result<(), StoreError> {
    for session in extras.sessions_started {
        tx.execute(
            "INSERT INTO sessions (id, user, csrf, started_at, seen_at, expires_at, authentication) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                session.id,
                session.user,
                session.csrf,
                session.started_at.to_string(),
                session.seen_at.to_string(),
                session.expires_at.to_string(),
                authentication_json(&session.authentication)?
            ],
        )
        .map_err(backend)?;
    }
    for id in extras.sessions_ended {
        tx.execute("DELETE FROM sessions WHERE id = ?1", params![id]).map_err(backend)?;
    }
    for user in extras.sessions_ended_of {
        tx.execute("DELETE FROM sessions WHERE user = ?1", params![user]).map_err(backend)?;
    }
    Ok(())
}
