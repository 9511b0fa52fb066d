//! Durable storage of records, and the single writer in front of it.
//!
//! [`Store`] is the one storage trait: append entries to records with an expected seq, read them
//! back, and hand over the raw rows for verification. Each backend lives in its own module with
//! its migrations beside it (`migrations/<backend>/`); `tests/store/conformance.rs` is the story every
//! backend must pass. [`Ledger`] sits in front of a store: it owns the in-memory state, runs
//! every command through `sitrep_core::decide`, and commits concurrent commands together.
//!
//! This crate knows nothing of HTTP or of how people sign in.

use std::ops::ControlFlow;

use sitrep_core::chain::RawEntry;
use sitrep_core::{Entry, RecordId};

pub mod blobs;
pub mod datadir;
pub mod ledger;
pub mod postgres;
pub mod sqlite;
pub mod time;
pub mod verify;

pub use ledger::{Committed, Ledger, LedgerError, Receipt, Request};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Opens the store a deployment keeps its records in: the PostgreSQL database `database` names
/// if given, else the SQLite file in the data directory.
pub fn open_store(data: &datadir::DataDir, database: Option<&str>) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    Ok(match database {
        Some(url) => std::sync::Arc::new(PostgresStore::open(url)?),
        None => std::sync::Arc::new(SqliteStore::open(&data.database_path())?),
    })
}

/// Why a store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended first; nothing of this batch was written.
    #[error("{record} has moved on: expected it to end at seq {expected}, it ends at seq {found}")]
    Conflict { record: RecordId, expected: u64, found: u64 },
    /// A stored row cannot be read as an entry; `sitrep verify` says more.
    #[error("{record} seq {seq} is unreadable: {reason}; run `sitrep verify`")]
    Corrupt { record: RecordId, seq: u64, reason: String },
    /// The disk the store writes to is full; nothing was written. Writes succeed again once
    /// there is room.
    #[error("the store's disk is full: {0}")]
    Full(String),
    /// The database itself failed: permissions, a broken file, a lost connection.
    #[error("the store failed: {0}")]
    Backend(String),
}

/// Entries to add to one record, which must currently end at seq `after`.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    pub record: RecordId,
    pub after: u64,
    pub entries: &'a [Entry],
}

/// Rows that are not entries but must commit atomically with them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Password hashes to set (argon2id PHC strings), for `user.password_set` entries.
    pub passwords: &'a [(String, String)],
    /// Idempotency keys and the entries they produced.
    pub idempotency: &'a [IdempotencyRow],
    /// Sessions begun, for `session.started` entries.
    pub sessions_started: &'a [SessionRow],
    /// Sessions (by id) ended, for `session.ended` entries.
    pub sessions_ended: &'a [String],
    /// Users all of whose sessions end, for `user.disabled` entries.
    pub sessions_ended_of: &'a [String],
}

/// A browser session as stored: its secret is the cookie's, of which only the SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 (hex) of the cookie's secret.
    pub id: String,
    pub user: String,
    /// The token every change made with this session must carry (CSRF).
    pub csrf: String,
    pub started_at: sitrep_core::Timestamp,
    /// The last request made with it, updated at most once a minute.
    pub seen_at: sitrep_core::Timestamp,
    /// When it ends however active it is.
    pub expires_at: sitrep_core::Timestamp,
    pub authentication: sitrep_core::authn::Authentication,
}

impl SessionRow {
    /// The name the record and the lists use: the first 12 hex digits of the id.
    pub fn public_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// What a request with an `Idempotency-Key` produced, so a retry can be answered from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRow {
    pub user: String,
    pub key: String,
    /// SHA-256 of the request (method, path, body): a key reused for a different request is refused.
    pub fingerprint: String,
    pub record: RecordId,
    pub first_seq: u64,
    pub last_seq: u64,
    pub at: sitrep_core::Timestamp,
}

/// A record's last seq and hash, as the store recorded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub record: RecordId,
    pub seq: u64,
    pub hash: String,
}

/// Durable, append-only storage of records.
///
/// The trait is blocking: the ledger calls it from its own writer thread, and readers call it
/// from blocking tasks. That keeps SQLite simple and suits a PostgreSQL client equally well.
pub trait Store: Send + Sync + 'static {
    /// Appends every item and writes the extras in one durable transaction, or nothing.
    /// Returns only once the entries would survive a crash or power loss.
    fn commit(&self, batch: &[Append<'_>], extras: &Extras<'_>) -> Result<(), StoreError>;

    /// [`Store::commit`] without extras.
    fn append(&self, batch: &[Append<'_>]) -> Result<(), StoreError> {
        self.commit(batch, &Extras::default())
    }

    /// The argon2id hash of a user's password, if one was set.
    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError>;

    /// Idempotency keys recorded since `since`, to answer retries after a restart.
    fn idempotency_since(&self, since: sitrep_core::Timestamp) -> Result<Vec<IdempotencyRow>, StoreError>;

    /// Up to `limit` entries of a record with seq ≥ `from`, in order.
    fn read(&self, record: RecordId, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;

    /// Every record's head, ordered by record (organisation first).
    fn heads(&self) -> Result<Vec<Head>, StoreError>;

    /// Visits every stored row, ordered by record then seq, exactly as stored.
    fn scan(&self, visit: &mut dyn FnMut(RecordId, RawEntry<'_>) -> ControlFlow<()>) -> Result<(), StoreError>;

    /// Whether the store answers at all (for readiness checks).
    fn ping(&self) -> Result<(), StoreError>;

    /// A session by the SHA-256 of its secret, whether or not it has expired.
    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;

    /// A user's sessions, newest first.
    fn sessions_of(&self, user: &str) -> Result<Vec<SessionRow>, StoreError>;

    /// Notes that a session was used at `at` (for the idle limit).
    fn touch_session(&self, id: &str, at: sitrep_core::Timestamp) -> Result<(), StoreError>;

    /// Deletes sessions past their absolute end at `now` or unused since `idle_since`.
    fn purge_sessions(
        &self,
        now: sitrep_core::Timestamp,
        idle_since: sitrep_core::Timestamp,
    ) -> Result<usize, StoreError>;
}

/// The authentication a stored session carries, as its column holds it.
fn authentication_json(authentication: &sitrep_core::authn::Authentication) -> Result<String, StoreError> {
    serde_json::to_string(authentication).map_err(|e| StoreError::Backend(format!("a session's authentication: {e}")))
}

fn authentication_from(text: &str) -> Result<sitrep_core::authn::Authentication, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("a stored session's authentication: {e}")))
}

fn timestamp_from(text: &str) -> Result<sitrep_core::Timestamp, StoreError> {
    text.parse().map_err(|_| StoreError::Backend(format!("a stored session holds the time '{text}'")))
}

/// Record ids as stored: 0 is the organisation record, n is `INC-n`.
pub fn record_key(record: RecordId) -> i64 {
    match record {
        RecordId::Org => 0,
        RecordId::Incident(number) => number.0 as i64,
    }
}

pub fn record_from_key(key: i64) -> Option<RecordId> {
    match key {
        0 => Some(RecordId::Org),
        n if n > 0 => Some(RecordId::Incident(sitrep_core::IncidentNumber(n as u64))),
        _ => None,
    }
}

/// Parses a stored row into an entry, strictly: any field not in its one valid spelling is
/// reported as corruption rather than silently normalised.
pub fn decode_entry(record: RecordId, raw: &RawEntry<'_>) -> Result<Entry, StoreError> {
    let seq = raw.seq.filter(|s| *s > 0).map(|s| s as u64);
    let corrupt = |reason: String| StoreError::Corrupt { record, seq: seq.unwrap_or(0), reason };
    let seq = seq.ok_or_else(|| corrupt("seq is not a positive integer".into()))?;
    let text = |field: &str, bytes: &[u8]| -> Result<String, StoreError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(format!("{field} is not UTF-8")))
    };
    let at = text("at", raw.at)?.parse().map_err(|e| corrupt(format!("at: {e}")))?;
    let actor = text("actor", raw.actor)?.parse().map_err(|e| corrupt(format!("actor: {e}")))?;
    let prev = text("prev", raw.prev)?.parse().map_err(|e| corrupt(format!("prev: {e}")))?;
    let hash = text("hash", raw.hash)?.parse().map_err(|e| corrupt(format!("hash: {e}")))?;
    Ok(Entry { seq, at, actor, kind: text("kind", raw.kind)?, body: text("body", raw.body)?, prev, hash })
}
