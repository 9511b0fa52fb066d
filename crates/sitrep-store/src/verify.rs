//! Re-verifying everything a store holds, from the raw rows.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sitrep_core::RecordId;
use sitrep_core::chain::{Break, BreakReason, ChainVerifier};

use crate::ledger::fold_entries;
use crate::{LedgerError, Store, StoreError};

/// What a clean verification covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub entries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A record does not verify: the first break in record order.
    #[error("{0}")]
    Break(Break),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `sitrep verify` checks: every chain ([`verify_store`]), then that every record folds
/// into a state, as the server does before it will start. A record whose entries all hash and
/// chain but one of which the fold refuses (an insider appending a well-formed entry that means
/// nothing) is reported at that entry.
pub fn verify_and_fold(store: &dyn Store, progress: &mut dyn FnMut(u64)) -> Result<Verified, VerifyError> {
    let verified = verify_store(store, progress)?;
    for head in store.heads()? {
        let entries = match crate::ledger::load(store, head.record) {
            Ok(entries) => entries,
            Err(LedgerError::Unavailable(error)) => return Err(VerifyError::Store(error)),
            Err(other) => return Err(VerifyError::Store(StoreError::Backend(other.to_string()))),
        };
        if let Err(error) = fold_entries(head.record, &entries) {
            let reason = BreakReason::Unfoldable { kind: error.kind, reason: error.reason };
            return Err(VerifyError::Break(Break { record: head.record, seq: error.seq, reason }));
        }
    }
    Ok(verified)
}

/// Verifies every record's chain and that it ends at the head the store recorded. `progress` is
/// called now and then with the number of entries verified so far.
pub fn verify_store(store: &dyn Store, progress: &mut dyn FnMut(u64)) -> Result<Verified, VerifyError> {
    let heads: BTreeMap<RecordId, (u64, String)> =
        store.heads()?.into_iter().map(|h| (h.record, (h.seq, h.hash))).collect();
    // Headed records not yet seen in the scan; any left behind have lost all their rows.
    let mut unseen: BTreeSet<RecordId> = heads.keys().copied().collect();
    let mut current: Option<ChainVerifier> = None;
    let mut verified = Verified { records: 0, entries: 0 };
    let mut outcome: Result<(), Break> = Ok(());

    let close = |verifier: ChainVerifier, record: RecordId, verified: &mut Verified| -> Result<(), Break> {
        let (seq, hash) = heads.get(&record).map_or((0, ""), |(seq, hash)| (*seq, hash.as_str()));
        verifier.finish(seq, hash.as_bytes())?;
        verified.records += 1;
        Ok(())
    };
    let empty = |unseen: &BTreeSet<RecordId>, before: Option<RecordId>| -> Result<(), Break> {
        match unseen.iter().find(|r| before.is_none_or(|b| **r < b)) {
            Some(record) => Err(Break { record: *record, seq: 1, reason: BreakReason::Empty }),
            None => Ok(()),
        }
    };

    store.scan(&mut |record, raw| {
        if current.as_ref().map(ChainVerifier::record) != Some(record) {
            let step = current
                .take()
                .map_or(Ok(()), |verifier| {
                    let finished = verifier.record();
                    close(verifier, finished, &mut verified)
                })
                .and_then(|()| empty(&unseen, Some(record)));
            if let Err(error) = step {
                outcome = Err(error);
                return ControlFlow::Break(());
            }
            unseen.remove(&record);
            current = Some(ChainVerifier::new(record));
        }
        let Some(verifier) = current.as_mut() else { return ControlFlow::Break(()) };
        if let Err(error) = verifier.check(&raw) {
            outcome = Err(error);
            return ControlFlow::Break(());
        }
        verified.entries += 1;
        if verified.entries.is_multiple_of(65_536) {
            progress(verified.entries);
        }
        ControlFlow::Continue(())
    })?;
    outcome.map_err(VerifyError::Break)?;
    if let Some(verifier) = current.take() {
        let record = verifier.record();
        close(verifier, record, &mut verified).map_err(VerifyError::Break)?;
    }
    empty(&unseen, None).map_err(VerifyError::Break)?;
    progress(verified.entries);
    Ok(verified)
}
