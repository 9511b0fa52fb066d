//! Idempotency keys: a retry within the window is answered from its first execution, even
//! after a restart, and a key reused for a different request is refused.

use std::collections::BTreeMap;

use sitrep_core::decide::Refusal;
use sitrep_core::{RecordId, Timestamp};

use super::writer::{Outcome, Side, Staged, Writer};
use super::{Job, LedgerError, Receipt, stored};
use crate::IdempotencyRow;

/// How long a retried request is answered from its first execution.
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 24 * 60 * 60;

impl Writer {
    /// Answers a retry from its first execution, or decides and stages the command.
    pub(super) fn admit(
        &mut self,
        job: &Job,
        index: usize,
        now: Timestamp,
        staged: &mut BTreeMap<RecordId, Staged>,
        side: &mut Side,
    ) -> Outcome {
        let Some(idempotency) = &job.idempotency else {
            return self.stage(job, now, staged, side).unwrap_or_else(Outcome::Failed);
        };
        let slot = (job.by.to_string(), idempotency.key.clone());
        let reused = || {
            Outcome::Failed(LedgerError::Refused(Refusal::Invalid {
                field: "Idempotency-Key".into(),
                message: "this key was already used for a different request; use a new key for a new request".into(),
            }))
        };
        if let Some(first) = self.remembered.get(&slot) {
            if first.fingerprint != idempotency.fingerprint {
                return reused();
            }
            let count = (first.last_seq - first.first_seq + 1) as usize;
            return match self.published.store.read(first.record, first.first_seq, count) {
                Ok(entries) => Outcome::Replayed(Receipt { record: first.record, entries, replayed: true }),
                Err(error) => Outcome::Failed(stored(error)),
            };
        }
        if let Some(earlier) = side.idempotency.iter().position(|row| row.user == slot.0 && row.key == slot.1) {
            let row = &side.idempotency[earlier];
            if row.fingerprint != idempotency.fingerprint {
                return reused();
            }
            return Outcome::SameAs(side.idempotent_jobs[earlier]);
        }
        let outcome = self.stage(job, now, staged, side).unwrap_or_else(Outcome::Failed);
        if let Outcome::Staged(record, range) = &outcome {
            let entries = &staged[record].entries[range.clone()];
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                side.idempotency.push(IdempotencyRow {
                    user: slot.0,
                    key: slot.1,
                    fingerprint: idempotency.fingerprint.clone(),
                    record: *record,
                    first_seq: first.seq,
                    last_seq: last.seq,
                    at: now,
                });
                side.idempotent_jobs.push(index);
            }
        }
        outcome
    }

    /// Forgets idempotency keys older than the window, now and then.
    pub(super) fn prune(&mut self, jobs: usize) {
        self.jobs_since_prune += jobs;
        if self.jobs_since_prune < 10_000 {
            return;
        }
        self.jobs_since_prune = 0;
        let cutoff = (self.clock)().plus_seconds(-IDEMPOTENCY_WINDOW_SECS);
        self.remembered.retain(|_, row| row.at >= cutoff);
    }
}
