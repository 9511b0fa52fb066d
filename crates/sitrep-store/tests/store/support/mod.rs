//! Shared setup for the store's integration tests: a deployment with people for the core roles,
//! incidents staffed by them, and short ways to run commands through the ledger exactly as the
//! server does.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sitrep_core::decide::{Declare, IncidentCommand, OrgCommand, genesis};
use sitrep_core::events::FactStatus;
use sitrep_core::{Entry, IncidentNumber, OrgRole, RecordId, Role, Severity, Timestamp, UserName};
use sitrep_store::ledger::system_clock;
use sitrep_store::{Ledger, LedgerError, Receipt, Request, SqliteStore, Store};

/// The admin created with the deployment.
pub(crate) const ADMIN: &str = "admin";

/// The people of every test deployment and the incident role each is staffed in.
pub(crate) const STAFF: &[(&str, &str)] =
    &[("cmd", "commander"), ("tech", "tech_lead"), ("lee", "legal"), ("cora", "comms"), ("exec", "executive")];

/// The database file inside a data directory, as `sitrep serve --data DIR` names it.
pub(crate) const DB_FILE: &str = "sitrep.db";

pub(crate) fn user(name: &str) -> UserName {
    UserName::parse(name).expect("valid user name")
}

pub(crate) fn role(name: &str) -> Role {
    Role::parse(name).expect("valid role")
}

pub(crate) fn now() -> Timestamp {
    sitrep_store::time::now()
}

/// Opens (creating if needed) the SQLite store of a data directory.
pub(crate) fn open_sqlite(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.join(DB_FILE)).expect("the SQLite store opens")) as Arc<dyn Store>
}

/// Writes a new deployment's organisation record into `store`.
pub(crate) fn create_deployment(store: &dyn Store) -> Vec<Entry> {
    let events = genesis(uuid::Uuid::new_v4(), "test", "cHVibGlj", &user(ADMIN), &"a".repeat(64));
    Ledger::create_deployment(store, &events, now()).expect("a new store takes a deployment")
}

/// Adds every member of [`STAFF`] (and `extra`) that the organisation does not have yet.
pub(crate) fn add_users(ledger: &Ledger, extra: &[&str]) -> Vec<Receipt> {
    let mut receipts = Vec::new();
    for name in STAFF.iter().map(|(name, _)| *name).chain(extra.iter().copied()) {
        if ledger.org().user(&user(name)).is_some() {
            continue;
        }
        let add = OrgCommand::AddUser { user: user(name), display_name: None, org_role: OrgRole::Member };
        receipts.push(ledger.execute_blocking(&user(ADMIN), Request::Org(add)).expect("the admin adds users"));
    }
    receipts
}

/// A fresh deployment with an admin and the [`STAFF`], and the ledger over it.
pub(crate) fn deploy(store: &Arc<dyn Store>) -> Ledger {
    create_deployment(store.as_ref());
    let ledger = Ledger::open(store.clone(), system_clock()).expect("a new deployment opens");
    add_users(&ledger, &[]);
    ledger
}

/// Declares an incident as `cmd`, with every core role staffed from [`STAFF`].
pub(crate) fn declare(ledger: &Ledger, title: &str) -> Receipt {
    let roles: BTreeMap<Role, UserName> =
        STAFF.iter().filter(|(_, r)| *r != "commander").map(|(u, r)| (role(r), user(u))).collect();
    let declare = Declare { title: title.into(), severity: Some(Severity::Sev2), roles, ..Declare::default() };
    ledger.execute_blocking(&user("cmd"), Request::Declare(declare)).expect("a member declares an incident")
}

/// The incident a receipt wrote to.
pub(crate) fn incident_of(receipt: &Receipt) -> IncidentNumber {
    match receipt.record {
        RecordId::Incident(number) => number,
        RecordId::Org => panic!("the command wrote to the organisation record, not an incident"),
    }
}

pub(crate) fn act(
    ledger: &Ledger,
    by: &str,
    incident: IncidentNumber,
    command: IncidentCommand,
) -> Result<Receipt, LedgerError> {
    ledger.execute_blocking(&user(by), Request::Incident { incident, command })
}

pub(crate) fn log_fact(text: &str) -> IncidentCommand {
    IncidentCommand::LogFact {
        text: text.into(),
        source: None,
        status: FactStatus::Unverified,
        basis: None,
        occurred: None,
    }
}
