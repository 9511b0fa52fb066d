//! Loading a record from the store and folding it, as the ledger does when it opens.

use sitrep_core::incident::FoldError;
use sitrep_core::{Entry, IncidentNumber, IncidentState, OrgState, RecordId};

use super::{LedgerError, stored};
use crate::Store;

/// Entries read per query when loading a record.
const LOAD_CHUNK: usize = 10_000;

/// A record's state, folded from its entries.
#[derive(Debug)]
pub enum Folded {
    Org(Box<OrgState>),
    Incident(IncidentNumber, Box<IncidentState>),
}

/// Folds a record's entries exactly as the ledger does when it opens: `sitrep verify` uses the
/// same function, so the two never disagree about a record.
pub fn fold_entries(record: RecordId, entries: &[Entry]) -> Result<Folded, FoldError> {
    Ok(match record {
        RecordId::Org => Folded::Org(Box::new(OrgState::fold(entries)?)),
        RecordId::Incident(number) => Folded::Incident(number, Box::new(IncidentState::fold(entries)?)),
    })
}

pub(crate) fn load(store: &dyn Store, record: RecordId) -> Result<Vec<Entry>, LedgerError> {
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let chunk = store.read(record, entries.len() as u64 + 1, LOAD_CHUNK).map_err(stored)?;
        let done = chunk.len() < LOAD_CHUNK;
        for entry in chunk {
            if entry.computed_hash() != entry.hash {
                return Err(LedgerError::Corrupt {
                    record,
                    reason: format!("seq {}: the hash does not match the entry's contents", entry.seq),
                });
            }
            entries.push(entry);
        }
        if done {
            return Ok(entries);
        }
    }
}
