//! The shared store: a PostgreSQL database, for deployments that run more than one node or keep
//! their data in a managed database.
//!
//! Durability: every session sets `synchronous_commit = on`, so a commit returns only once the
//! WAL is flushed. An append locks its record's head row (`SELECT … FOR UPDATE`) and compares
//! the expected seq; two nodes racing to start the same record collide on the entries' primary
//! key. Either way the loser gets [`StoreError::Conflict`], and the ledger catches up and
//! decides again, as it does with SQLite.
//!
//! The `postgres` client blocks by running its own small runtime, which must not happen on a
//! thread that is already driving async tasks. So each connection lives on a thread of its own
//! and is handed work over a channel: the [`Store`] methods can then be called from anywhere,
//! as SQLite's are. One connection writes; another serves reads.

use std::ops::ControlFlow;
use std::sync::mpsc;

use parking_lot::Mutex;
use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};
use sitrep_core::chain::RawEntry;
use sitrep_core::{Entry, RecordId};

use crate::{
    Append, Extras, Head, IdempotencyRow, SessionRow, Store, StoreError, authentication_from, authentication_json,
    decode_entry, record_from_key, record_key, timestamp_from,
};

/// Applied in order, once each, under an advisory lock so two nodes starting together do not
/// both apply one.
const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/postgres/0001_record.sql"), include_str!("../migrations/postgres/0002_sessions.sql")];

/// Rows fetched per query when scanning the whole store.
const SCAN_PAGE: i64 = 10_000;

/// Any 64-bit number both nodes agree on: the key of the migration lock.
const MIGRATION_LOCK: i64 = 0x5317_5e9d_0001;

fn backend(error: postgres::Error) -> StoreError {
    match error.code() {
        Some(&SqlState::DISK_FULL) => StoreError::Full(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

/// Column `index` of `row`: an error, never a panic, if someone changed the column's type.
fn column<'a, T: postgres::types::FromSql<'a>>(row: &'a postgres::Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(|error| {
        let (name, kind) = row.columns().get(index).map_or(("?", "?"), |c| (c.name(), c.type_().name()));
        StoreError::Backend(format!(
            "column '{name}' holds {kind}, which sitrep does not store there ({error}); was the schema changed outside sitrep?"
        ))
    })
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A connection and the append statements prepared on it (once the tables exist).
struct Session {
    client: Client,
    append: Option<AppendStatements>,
}

struct AppendStatements {
    lock_head: Statement,
    insert: Statement,
    set_head: Statement,
}

impl Session {
    /// The client and the append statements, prepared on first use.
    fn for_append(&mut self) -> Result<(&mut Client, &AppendStatements), StoreError> {
        if self.append.is_none() {
            let client = &mut self.client;
            self.append = Some(AppendStatements {
                lock_head: client.prepare("SELECT seq FROM heads WHERE record = $1 FOR UPDATE").map_err(backend)?,
                // All of a record's new entries in one statement: one round trip per record.
                insert: client
                    .prepare(
                        "INSERT INTO entries (record, seq, at, actor, kind, body, prev, hash) \
                         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
                    )
                    .map_err(backend)?,
                set_head: client
                    .prepare(
                        "INSERT INTO heads (record, seq, hash) VALUES ($1, $2, $3) \
                         ON CONFLICT (record) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    )
                    .map_err(backend)?,
            });
        }
        match &self.append {
            Some(statements) => Ok((&mut self.client, statements)),
            None => Err(StoreError::Backend("the append statements are not prepared".into())),
        }
    }
}

/// A PostgreSQL connection on a thread of its own.
struct Connection {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Connection {
    fn open(url: &str) -> Result<Connection, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, opened) = mpsc::channel();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("sitrep-postgres".into())
            .spawn(move || {
                let mut session = match connect(&url) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        Session { client, append: None }
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                for job in queue {
                    // A server restart closes the connection; the next job gets a new one.
                    if session.client.is_closed()
                        && let Ok(fresh) = connect(&url)
                    {
                        session = Session { client: fresh, append: None };
                    }
                    job(&mut session);
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the PostgreSQL connection thread: {e}")))?;
        opened.recv().map_err(|_| StoreError::Backend("the PostgreSQL connection thread stopped".into()))??;
        Ok(Connection { jobs: Mutex::new(jobs) })
    }

    /// Runs `work` on the connection's thread and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Session) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |session| {
            let _ = answer.send(work(session));
        });
        let gone = || StoreError::Backend("the PostgreSQL connection thread stopped".into());
        self.jobs.lock().send(job).map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }

    fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |session| work(&mut session.client))
    }

    /// As [`Connection::call`], with the append statements prepared.
    fn call_append<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client, &AppendStatements) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |session| session.for_append().and_then(|(client, statements)| work(client, statements)))
    }
}

fn connect(url: &str) -> Result<Client, StoreError> {
    let mut client = Client::connect(url, NoTls).map_err(|e| StoreError::Backend(format!("PostgreSQL: {e}")))?;
    client.batch_execute("SET synchronous_commit = on").map_err(backend)?;
    Ok(client)
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(backend)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS sitrep_schema (version BIGINT NOT NULL)").map_err(backend)?;
    let version: Option<i64> = tx
        .query_opt("SELECT version FROM sitrep_schema", &[])
        .map_err(backend)?
        .map(|row| column(&row, 0))
        .transpose()?;
    let version = usize::try_from(version.unwrap_or(0)).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this build knows ({}); use a newer sitrep",
            MIGRATIONS.len()
        )));
    }
    for sql in MIGRATIONS.iter().skip(version) {
        tx.batch_execute(sql).map_err(backend)?;
    }
    let latest = MIGRATIONS.len() as i64;
    tx.execute("DELETE FROM sitrep_schema", &[]).map_err(backend)?;
    tx.execute("INSERT INTO sitrep_schema (version) VALUES ($1)", &[&latest]).map_err(backend)?;
    tx.commit().map_err(backend)
}

/// An entry as stored: the columns a verifier reads, as text.
struct Row {
    record: i64,
    seq: i64,
    fields: [String; 6],
}

impl Row {
    /// Reads seq and the six text columns from column `first` on; the record from column 0
    /// when `first` is 1 (a scan), else `record` is not in the row and reads as 0.
    fn of(row: &postgres::Row, first: usize) -> Result<Row, StoreError> {
        let mut fields: [String; 6] = Default::default();
        for (i, field) in fields.iter_mut().enumerate() {
            *field = column(row, first + 1 + i)?;
        }
        Ok(Row { record: if first == 0 { 0 } else { column(row, 0)? }, seq: column(row, first)?, fields })
    }

    fn raw(&self) -> RawEntry<'_> {
        let [at, actor, kind, body, prev, hash] = &self.fields;
        RawEntry {
            seq: Some(self.seq),
            at: at.as_bytes(),
            actor: actor.as_bytes(),
            kind: kind.as_bytes(),
            body: body.as_bytes(),
            prev: prev.as_bytes(),
            hash: hash.as_bytes(),
        }
    }
}

/// An entry to insert, owned so it can cross to the connection's thread.
struct NewRow {
    seq: i64,
    at: String,
    actor: String,
    kind: String,
    body: String,
    prev: String,
    hash: String,
}

struct NewAppend {
    record: RecordId,
    after: u64,
    rows: Vec<NewRow>,
}

pub struct PostgresStore {
    writer: Connection,
    reader: Connection,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://user@host/db` or `host=… dbname=…`)
    /// and brings its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let writer = Connection::open(url)?;
        writer.call(migrate)?;
        Ok(PostgresStore { writer, reader: Connection::open(url)? })
    }
}

/// A database of its own on a PostgreSQL server, for a test or benchmark run; dropped (with any
/// connections still open to it) when this is. `server` is a connection string without
/// `dbname` (`host=127.0.0.1 user=postgres`). Blocking: not for async tasks.
#[derive(Debug)]
pub struct ScratchDatabase {
    server: String,
    name: String,
}

impl ScratchDatabase {
    pub fn create(server: &str, prefix: &str) -> Result<ScratchDatabase, StoreError> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = Client::connect(&format!("{server} dbname=postgres"), NoTls)
            .map_err(|e| StoreError::Backend(format!("PostgreSQL at {server}: {e}")))?;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(backend)?;
        Ok(ScratchDatabase { server: server.to_owned(), name })
    }

    /// The connection string for the database.
    pub fn url(&self) -> String {
        format!("{} dbname={}", self.server, self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&format!("{} dbname=postgres", self.server), NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The seq the record's head holds now, outside any transaction (for a conflict's report).
fn current_head(client: &mut Client, key: i64) -> Result<u64, StoreError> {
    let found: Option<i64> = client
        .query_opt("SELECT seq FROM heads WHERE record = $1", &[&key])
        .map_err(backend)?
        .map(|row| column(&row, 0))
        .transpose()?;
    Ok(found.unwrap_or(0).max(0) as u64)
}

fn commit(
    client: &mut Client,
    statements: &AppendStatements,
    appends: &[NewAppend],
    extras: &OwnedExtras,
) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    for item in appends {
        let key = record_key(item.record);
        let found: Option<i64> =
            tx.query_opt(&statements.lock_head, &[&key]).map_err(backend)?.map(|row| column(&row, 0)).transpose()?;
        let found = found.unwrap_or(0).max(0) as u64;
        if found != item.after {
            return Err(StoreError::Conflict { record: item.record, expected: item.after, found });
        }
        let Some(last) = item.rows.last() else { continue };
        for (offset, row) in item.rows.iter().enumerate() {
            if row.seq as u64 != item.after + 1 + offset as u64 {
                return Err(StoreError::Backend(format!(
                    "{}: entries must follow seq {} without gaps",
                    item.record,
                    item.after + offset as u64
                )));
            }
        }
        let column = |field: fn(&NewRow) -> &String| item.rows.iter().map(field).collect::<Vec<&String>>();
        let seqs: Vec<i64> = item.rows.iter().map(|row| row.seq).collect();
        let (at, actor, kind) = (column(|r| &r.at), column(|r| &r.actor), column(|r| &r.kind));
        let (body, prev, hash) = (column(|r| &r.body), column(|r| &r.prev), column(|r| &r.hash));
        tx.execute(&statements.insert, &[&key, &seqs, &at, &actor, &kind, &body, &prev, &hash]).map_err(|error| {
            // Two nodes started the same record at once: the other one's seq 1 is in.
            if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                StoreError::Conflict { record: item.record, expected: item.after, found: item.after + 1 }
            } else {
                backend(error)
            }
        })?;
        tx.execute(&statements.set_head, &[&key, &last.seq, &last.hash]).map_err(backend)?;
    }
    for (user, phc) in &extras.passwords {
        tx.execute(
            "INSERT INTO passwords (username, phc) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET phc = excluded.phc",
            &[user, phc],
        )
        .map_err(backend)?;
    }
    for row in &extras.idempotency {
        tx.execute(
            "INSERT INTO idempotency (username, key, fingerprint, record, first_seq, last_seq, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &row.user,
                &row.key,
                &row.fingerprint,
                &record_key(row.record),
                &(row.first_seq as i64),
                &(row.last_seq as i64),
                &row.at.to_string(),
            ],
        )
        .map_err(backend)?;
    }
    for session in &extras.sessions_started {
        tx.execute(
            "INSERT INTO sessions (id, username, csrf, started_at, seen_at, expires_at, authentication) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &session.id,
                &session.user,
                &session.csrf,
                &session.started_at.to_string(),
                &session.seen_at.to_string(),
                &session.expires_at.to_string(),
                &authentication_json(&session.authentication)?,
            ],
        )
        .map_err(backend)?;
    }
    for id in &extras.sessions_ended {
        tx.execute("DELETE FROM sessions WHERE id = $1", &[id]).map_err(backend)?;
    }
    for user in &extras.sessions_ended_of {
        tx.execute("DELETE FROM sessions WHERE username = $1", &[user]).map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

struct OwnedExtras {
    passwords: Vec<(String, String)>,
    idempotency: Vec<IdempotencyRow>,
    sessions_started: Vec<SessionRow>,
    sessions_ended: Vec<String>,
    sessions_ended_of: Vec<String>,
}

const SESSION_COLUMNS: &str =
    "SELECT id, username, csrf, started_at, seen_at, expires_at, authentication FROM sessions";

fn session_row(row: &postgres::Row) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: column(row, 0)?,
        user: column(row, 1)?,
        csrf: column(row, 2)?,
        started_at: timestamp_from(column(row, 3)?)?,
        seen_at: timestamp_from(column(row, 4)?)?,
        expires_at: timestamp_from(column(row, 5)?)?,
        authentication: authentication_from(column(row, 6)?)?,
    })
}

impl Store for PostgresStore {
    fn commit(&self, batch: &[Append<'_>], extras: &Extras<'_>) -> Result<(), StoreError> {
        let appends: Vec<NewAppend> = batch
            .iter()
            .map(|item| NewAppend {
                record: item.record,
                after: item.after,
                rows: item
                    .entries
                    .iter()
                    .map(|entry: &Entry| NewRow {
                        seq: entry.seq as i64,
                        at: entry.at.to_string(),
                        actor: entry.actor.to_string(),
                        kind: entry.kind.clone(),
                        body: entry.body.clone(),
                        prev: entry.prev.to_hex(),
                        hash: entry.hash.to_hex(),
                    })
                    .collect(),
            })
            .collect();
        let extras = OwnedExtras {
            passwords: extras.passwords.to_vec(),
            idempotency: extras.idempotency.to_vec(),
            sessions_started: extras.sessions_started.to_vec(),
            sessions_ended: extras.sessions_ended.to_vec(),
            sessions_ended_of: extras.sessions_ended_of.to_vec(),
        };
        self.writer.call_append(move |client, statements| match commit(client, statements, &appends, &extras) {
            // Report where the record ends now that the other writer's transaction is in.
            Err(StoreError::Conflict { record, expected, .. }) => {
                Err(StoreError::Conflict { record, expected, found: current_head(client, record_key(record))? })
            }
            other => other,
        })
    }

    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        let user = user.to_owned();
        self.reader.call(move |client| {
            client
                .query_opt("SELECT phc FROM passwords WHERE username = $1", &[&user])
                .map_err(backend)?
                .map(|row| column(&row, 0))
                .transpose()
        })
    }

    fn idempotency_since(&self, since: sitrep_core::Timestamp) -> Result<Vec<IdempotencyRow>, StoreError> {
        let since = since.to_string();
        self.reader.call(move |client| {
            let rows = client
                .query(
                    "SELECT username, key, fingerprint, record, first_seq, last_seq, at FROM idempotency WHERE at >= $1",
                    &[&since],
                )
                .map_err(backend)?;
            rows.iter()
                .map(|row| {
                    let key: i64 = column(row, 3)?;
                    let record = record_from_key(key)
                        .ok_or_else(|| StoreError::Backend(format!("idempotency holds an unknown record key {key}")))?;
                    let at: String = column(row, 6)?;
                    Ok(IdempotencyRow {
                        user: column(row, 0)?,
                        key: column(row, 1)?,
                        fingerprint: column(row, 2)?,
                        record,
                        first_seq: column::<i64>(row, 4)?.max(0) as u64,
                        last_seq: column::<i64>(row, 5)?.max(0) as u64,
                        at: at.parse().map_err(|e| StoreError::Backend(format!("idempotency time: {e}")))?,
                    })
                })
                .collect()
        })
    }

    fn read(&self, record: RecordId, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let key = record_key(record);
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.reader.call(move |client| {
            let rows = client
                .query(
                    "SELECT seq, at, actor, kind, body, prev, hash FROM entries \
                     WHERE record = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                    &[&key, &from, &limit],
                )
                .map_err(backend)?;
            rows.iter().map(|row| Row::of(row, 0)).collect::<Result<Vec<_>, _>>()
        })?;
        rows.iter().map(|row| decode_entry(record, &row.raw())).collect()
    }

    fn heads(&self) -> Result<Vec<Head>, StoreError> {
        self.reader.call(|client| {
            let rows = client.query("SELECT record, seq, hash FROM heads ORDER BY record", &[]).map_err(backend)?;
            rows.iter()
                .map(|row| {
                    let key: i64 = column(row, 0)?;
                    let record = record_from_key(key)
                        .ok_or_else(|| StoreError::Backend(format!("heads holds an unknown record key {key}")))?;
                    Ok(Head { record, seq: column::<i64>(row, 1)?.max(0) as u64, hash: column(row, 2)? })
                })
                .collect()
        })
    }

    fn scan(&self, visit: &mut dyn FnMut(RecordId, RawEntry<'_>) -> ControlFlow<()>) -> Result<(), StoreError> {
        // Page by (record, seq), so a large store never sits in memory at once.
        let mut after: (i64, i64) = (-1, 0);
        loop {
            let page = self.reader.call(move |client| {
                let rows = client
                    .query(
                        "SELECT record, seq, at, actor, kind, body, prev, hash FROM entries \
                         WHERE (record, seq) > ($1, $2) ORDER BY record, seq LIMIT $3",
                        &[&after.0, &after.1, &SCAN_PAGE],
                    )
                    .map_err(backend)?;
                rows.iter().map(|row| Row::of(row, 1)).collect::<Result<Vec<_>, _>>()
            })?;
            for row in &page {
                let record = record_from_key(row.record).ok_or_else(|| {
                    StoreError::Backend(format!("entries holds an unknown record key {}", row.record))
                })?;
                if visit(record, row.raw()).is_break() {
                    return Ok(());
                }
            }
            match page.last() {
                Some(last) if page.len() as i64 == SCAN_PAGE => after = (last.record, last.seq),
                _ => return Ok(()),
            }
        }
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.reader.call(|client| client.query_one("SELECT count(*) FROM heads", &[]).map(|_| ()).map_err(backend))
    }

    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let id = id.to_owned();
        self.reader.call(move |client| {
            let row = client.query_opt(&format!("{SESSION_COLUMNS} WHERE id = $1"), &[&id]).map_err(backend)?;
            row.as_ref().map(session_row).transpose()
        })
    }

    fn sessions_of(&self, user: &str) -> Result<Vec<SessionRow>, StoreError> {
        let user = user.to_owned();
        self.reader.call(move |client| {
            let rows = client
                .query(&format!("{SESSION_COLUMNS} WHERE username = $1 ORDER BY started_at DESC"), &[&user])
                .map_err(backend)?;
            rows.iter().map(session_row).collect()
        })
    }

    fn touch_session(&self, id: &str, at: sitrep_core::Timestamp) -> Result<(), StoreError> {
        let (id, at) = (id.to_owned(), at.to_string());
        self.writer.call(move |client| {
            client.execute("UPDATE sessions SET seen_at = $2 WHERE id = $1", &[&id, &at]).map(drop).map_err(backend)
        })
    }

    fn purge_sessions(
        &self,
        now: sitrep_core::Timestamp,
        idle_since: sitrep_core::Timestamp,
    ) -> Result<usize, StoreError> {
        let (now, idle_since) = (now.to_string(), idle_since.to_string());
        self.writer.call(move |client| {
            client
                .execute("DELETE FROM sessions WHERE expires_at <= $1 OR seen_at < $2", &[&now, &idle_since])
                .map(|n| n as usize)
                .map_err(backend)
        })
    }
}
