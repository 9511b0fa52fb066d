//! The sitrep domain: the incident record and everything that can be derived from it.
//!
//! This crate owns the entry format and its hash chain, the Merkle tree over a record, the
//! authority policy, the fold from entries to state and the decision of what entries a command
//! yields. It does no I/O: no files, no clock, no randomness, no network, no database. Time and
//! identifiers come in as arguments, so every function here is deterministic and testable
//! without setup, and the store and server crates can only add ways in and out.

pub mod authn;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod csf;
pub mod decide;
pub mod entry;
pub mod events;
pub mod ids;
pub mod incident;
pub mod merkle;
pub mod org;
pub mod playbook;
pub mod policy;
pub mod post_report;
#[cfg(feature = "openapi")]
mod schema;
pub mod sitrep;
pub mod statement_text;
pub mod text;
pub mod time;
pub mod view;

pub use decide::{Declare, IncidentCommand, OrgCommand, Refusal};
pub use entry::{Entry, EntryHash, RecordId};
pub use events::{IncidentEvent, OrgEvent, RecordEvent};
pub use ids::{
    Actor, DecisionClass, DecisionId, FactId, IncidentNumber, OrgRole, Phase, Role, Severity, TaskId, UserName,
};
pub use incident::IncidentState;
pub use org::OrgState;
pub use policy::Policy;
pub use time::Timestamp;
pub use view::IncidentView;
