//! What callers send the ledger and what it answers: requests, receipts, live commits, errors.

use sitrep_core::decide::{Declare, IncidentCommand, OrgCommand, Refusal, SystemCommand};
use sitrep_core::{Entry, IncidentNumber, RecordId, UserName};

use crate::StoreError;

/// What a person asks the ledger to do.
#[derive(Debug, Clone)]
pub enum Request {
    Declare(Declare),
    Incident {
        incident: IncidentNumber,
        command: IncidentCommand,
    },
    /// As [`Request::Incident`], from a browser session: judged with how its person signed in
    /// (a class's step-up), which proposals and approvals record.
    IncidentInSession {
        incident: IncidentNumber,
        command: IncidentCommand,
        authentication: sitrep_core::authn::Authentication,
    },
    Org(OrgCommand),
    /// Sets a password: the entry records that it was set; `phc` (an argon2id hash the caller
    /// computed, off the writer thread) is stored beside it in the same transaction.
    SetPassword {
        user: UserName,
        phc: String,
    },
    /// What a connector reports about an incident (the action worker, the notifier), written
    /// as `system:<connector>`.
    System {
        incident: IncidentNumber,
        connector: String,
        command: SystemCommand,
    },
    /// A change an identity connector (`oidc`, `scim`) makes to the organisation's users,
    /// written as `system:<connector>`.
    OrgSystem {
        connector: String,
        command: OrgCommand,
    },
    /// Begins a browser session of the requesting user: the `session.started` entry and the
    /// stored session commit together.
    SignIn {
        session: crate::SessionRow,
    },
    /// Ends a session (`session`: the SHA-256 of its secret), recorded as `session.ended`; the
    /// requester is its owner or an admin.
    SignOut {
        user: UserName,
        session: String,
        reason: Option<String>,
    },
    /// Adds a user, with a password when `phc` is given, in one step: both or neither.
    AddUser {
        user: UserName,
        display_name: Option<String>,
        org_role: sitrep_core::OrgRole,
        phc: Option<String>,
    },
}

/// A client's `Idempotency-Key`, and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// The entries a command appended, once durable.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub record: RecordId,
    pub entries: Vec<Entry>,
    /// True when this answers a retry from the first execution; nothing new was written.
    pub replayed: bool,
}

/// Entries newly committed to one record, as told to live subscribers.
#[derive(Debug)]
pub struct Committed {
    pub record: RecordId,
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the record could not be written, so nothing changed: {0}")]
    Unavailable(StoreError),
    #[error("sitrep is shutting down; nothing was written")]
    ShuttingDown,
    /// The writer stopped on a defect; the server must restart. A command in flight when it
    /// stopped may or may not have been written: retry it with its idempotency key.
    #[error(
        "the record's writer stopped ({0}); sitrep must restart, and a request in flight may or may not have been written"
    )]
    Stopped(String),
    #[error("this data directory has no organisation record; run `sitrep init` first")]
    NotInitialised,
    #[error("{record} cannot be loaded: {reason}; run `sitrep verify` for details")]
    Corrupt { record: RecordId, reason: String },
    /// A defect: decided entries did not fold. Nothing was written.
    #[error("internal error, nothing was written: {0}")]
    Internal(String),
}

impl LedgerError {
    /// The same error again, for a second caller (errors hold no resources).
    pub(super) fn duplicate(&self) -> LedgerError {
        match self {
            LedgerError::Refused(refusal) => LedgerError::Refused(refusal.clone()),
            LedgerError::Unavailable(error) => LedgerError::Unavailable(error.clone()),
            LedgerError::ShuttingDown => LedgerError::ShuttingDown,
            LedgerError::Stopped(reason) => LedgerError::Stopped(reason.clone()),
            LedgerError::NotInitialised => LedgerError::NotInitialised,
            LedgerError::Corrupt { record, reason } => LedgerError::Corrupt { record: *record, reason: reason.clone() },
            LedgerError::Internal(reason) => LedgerError::Internal(reason.clone()),
        }
    }
}
