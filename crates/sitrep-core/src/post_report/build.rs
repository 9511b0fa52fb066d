//! The report assembled from the walked record and the folded state.

use super::*;
use crate::entry::{Entry, RecordId};
use crate::events::{DecisionState, IncidentEvent};
use crate::incident::{ControlChangeState, IncidentState};
use crate::policy::Policy;
use crate::view::{IncidentView, ShareView};

impl PostIncidentReport {
    /// The report of the viewed incident, as of its seq, from `entries` (the record from seq 1;
    /// entries after the state's seq are ignored). Evidence names, types, sources, collectors
    /// and download purposes appear only for evidence readers.
    pub fn of(entries: &[Entry], view: &IncidentView<'_>) -> PostIncidentReport {
        let (state, org, now) = (view.state(), view.org(), view.now());
        let policy = &org.policy;
        let walked = walk(entries, policy, state.seq);
        // The record as of the state: verified by the one chain verifier, then tied to its head.
        let within = &entries[..entries.iter().take_while(|e| e.seq <= state.seq).count()];
        let summary = Summary {
            incident: state.id,
            title: state.title.clone(),
            severity: state.severity,
            phase: state.phase,
            restricted: state.restricted,
            exercise: state.exercise,
            scope: state.scope.clone(),
            declared_at: state.declared_at,
            declared_by: state.declared_by.clone(),
            occurrence: state.occurrence.clone(),
            closed: walked.closure.clone(),
            commander: state
                .roles
                .iter()
                .find(|(role, _)| role.as_str() == "commander")
                .map(|(_, holders)| holders.clone())
                .unwrap_or_default(),
            roles: state.roles.clone(),
            policy: state.policy.clone(),
            playbooks: state.playbooks.iter().map(|p| format!("{} v{}", p.id, p.version)).collect(),
            generated_at: now,
            as_of_seq: state.seq,
            as_of_hash: state.head,
            chain_verified: walked.chain_verified
                && crate::chain::verify_entries(RecordId::Incident(state.id), within).is_ok()
                && within.last().is_some_and(|e| e.hash == state.head),
        };
        PostIncidentReport {
            summary,
            metrics: walked.metrics.clone(),
            deadlines: deadline_compliance(state, now),
            decisions: decisions(state, policy),
            statements: statements(state),
            evidence: evidence(state, view.evidence_reader()),
            third_parties: view
                .parties()
                .iter()
                .map(|party| PartyRecord {
                    party: party.engaged.party.clone(),
                    name: party.name().to_owned(),
                    kind: party.kind(),
                    operates: party.operates().map(str::to_owned),
                    authority: party.authority().to_vec(),
                    reason: party.engaged.reason.clone(),
                    engaged_by: party.engaged.engaged_by.clone(),
                    engaged_at: party.engaged.engaged_at,
                })
                .collect(),
            shares: view
                .shares()
                .into_iter()
                .map(|ShareView { share, live, .. }| ShareRecord {
                    id: share.id,
                    decision: share.decision,
                    party: share.party.clone(),
                    items: share.items.clone(),
                    created_at: share.created_at,
                    expires_at: share.expires_at,
                    revoked: share.revoked.as_ref().map(|r| {
                        let why = if r.text.is_empty() { String::new() } else { format!(": {}", r.text) };
                        format!("by {} at {}{why}", r.by, r.at)
                    }),
                    uses: share.uses,
                    live,
                })
                .collect(),
            review: ReviewRecord {
                lessons: state.review.lessons.clone(),
                control_changes: state
                    .review
                    .control_changes
                    .iter()
                    .map(|c| ControlChangeRecord {
                        id: c.id,
                        lesson: c.lesson,
                        title: c.title.clone(),
                        owner: c.owner.clone(),
                        due: c.due,
                        csf: c.csf.clone(),
                        state: c.state,
                        overdue: c.state == ControlChangeState::Open && c.due < now,
                        planned_by: c.planned_by.clone(),
                        planned_at: c.planned_at,
                        closed: c.closed.as_ref().map(|n| {
                            let note = if n.text.is_empty() { String::new() } else { format!(": {}", n.text) };
                            format!("by {} at {}{note}", n.by, n.at)
                        }),
                    })
                    .collect(),
                completed: state.review.completed.clone(),
            },
            csf: csf_view(&walked.csf),
            timeline: timeline(entries, state.seq, view.evidence_reader()),
        }
    }
}

/// Every entry up to `seq` in words, in the order things happened: a fact or note with an
/// occurrence time sits where it happened, everything else where it was recorded.
pub(super) fn timeline(entries: &[Entry], seq: u64, evidence_names: bool) -> Vec<TimelineLine> {
    let mut lines: Vec<TimelineLine> = entries
        .iter()
        .take_while(|e| e.seq <= seq)
        .map(|entry| {
            let (occurred_at, backfill_reason) = match IncidentEvent::parse(&entry.kind, &entry.body) {
                Ok(IncidentEvent::FactLogged(f)) => (f.occurred_at, f.backfill_reason),
                Ok(IncidentEvent::NoteAdded(n)) => (n.occurred_at, n.backfill_reason),
                _ => (None, None),
            };
            TimelineLine {
                seq: entry.seq,
                at: entry.at,
                occurred_at: occurred_at.unwrap_or(entry.at),
                backfill_reason,
                actor: entry.actor.clone(),
                kind: entry.kind.clone(),
                hash: entry.hash,
                what: describe(entry, evidence_names),
            }
        })
        .collect();
    lines.sort_by_key(|line| (line.occurred_at, line.seq));
    lines
}

pub(super) fn decisions(state: &IncidentState, policy: &Policy) -> Vec<DecisionRecord> {
    state
        .decisions
        .iter()
        .map(|d| {
            let mut endorsements: Vec<EndorsementLine> = d
                .approvals
                .iter()
                .map(|a| EndorsementLine {
                    what: if a.implied { "approved by proposing" } else { "approved" },
                    user: a.user.clone(),
                    role: a.role.clone(),
                    at: a.at,
                    note: a.note.clone(),
                    authenticated: a.authentication.as_ref().map(crate::authn::Authentication::describe),
                })
                .collect();
            endorsements.extend(d.rejections.iter().map(|r| EndorsementLine {
                what: "rejected",
                user: r.user.clone(),
                role: r.role.clone(),
                at: r.at,
                note: r.note.clone(),
                authenticated: None,
            }));
            endorsements.extend(d.withdrawn.iter().map(|w| EndorsementLine {
                what: "withdrew",
                user: w.user.clone(),
                role: None,
                at: w.at,
                note: w.note.clone(),
                authenticated: None,
            }));
            DecisionRecord {
                id: d.id,
                class: d.class.clone(),
                class_title: policy.classes.iter().find(|c| c.class == d.class).map(|c| c.title.clone()),
                title: d.title.clone(),
                rationale: d.rationale.clone(),
                state: d.state,
                proposer: d.proposer.clone(),
                proposed_at: d.proposed_at,
                decided_at: d.decided_at,
                latency_seconds: (d.state == DecisionState::Approved)
                    .then_some(d.decided_at)
                    .flatten()
                    .map(|at| seconds_between(d.proposed_at, at)),
                rule: format!(
                    "needs {}; at least {} {}",
                    d.rule.approve.describe(),
                    d.rule.people,
                    if d.rule.people == 1 { "person" } else { "people" }
                ),
                playbook: d.playbook.as_ref().map(|c| {
                    format!("pre-approved by playbook {} v{} (approved by {})", c.playbook, c.version, c.approved_by)
                }),
                statement: d
                    .statement
                    .as_ref()
                    .map(|s| format!("{} v{} (text SHA-256 {})", s.statement, s.version, short(&s.sha256))),
                endorsements,
                actions: d
                    .actions
                    .iter()
                    .enumerate()
                    .map(|(index, a)| ActionOutcome {
                        number: index as u32 + 1,
                        connector: a.spec.connector(),
                        target: crate::sitrep::target(&a.spec),
                        status: a.status,
                        attempts: a.attempts,
                        last_error: a.last_error.clone(),
                        detail: a.detail.clone(),
                    })
                    .collect(),
                notices: d
                    .notices
                    .iter()
                    .map(|n| NoticeLine {
                        moment: n.moment.as_str(),
                        channel: n.channel.clone(),
                        status: n.status,
                        attempts: n.attempts,
                    })
                    .collect(),
            }
        })
        .collect()
}

pub(super) fn statements(state: &IncidentState) -> Vec<StatementRecord> {
    state
        .statements
        .iter()
        .map(|s| StatementRecord {
            id: s.id,
            audience: s.audience,
            title: s.title.clone(),
            class: s.audience.class(),
            versions: s
                .versions
                .iter()
                .map(|v| VersionRecord {
                    version: v.version,
                    sha256: v.sha256.clone(),
                    by: v.by.clone(),
                    at: v.at,
                    text: v.text.clone(),
                    approvals: state
                        .decisions
                        .iter()
                        .filter(|d| {
                            d.statement
                                .as_ref()
                                .is_some_and(|b| b.statement == s.id && b.version == v.version && b.sha256 == v.sha256)
                        })
                        .map(|d| VersionApproval {
                            decision: d.id,
                            state: d.state,
                            approved_by: d.approvals.iter().map(|a| a.user.clone()).collect(),
                            decided_at: d.decided_at,
                        })
                        .collect(),
                })
                .collect(),
            publications: s
                .publications
                .iter()
                .map(|p| PublicationRecord {
                    version: p.version,
                    sha256: p.sha256.clone(),
                    channel: p.channel.clone(),
                    decision: p.decision,
                    by: p.by.clone(),
                    at: p.at,
                    delivery: p.delivery.clone(),
                })
                .collect(),
        })
        .collect()
}

pub(super) fn evidence(state: &IncidentState, names: bool) -> EvidenceManifest {
    let items: Vec<EvidenceLine> = state
        .evidence
        .iter()
        .map(|item| {
            let shared = item.custody.iter().filter(|c| c.share.is_some()).count();
            EvidenceLine {
                sha256: item.sha256.clone(),
                size: item.size,
                name: names.then(|| item.name.clone()),
                media_type: names.then(|| item.declared_type.clone().or_else(|| item.sniffed_type.clone())).flatten(),
                source: names.then(|| item.source.clone()).flatten(),
                collected_by: names.then(|| item.collected_by.clone()).flatten(),
                collected_at: names.then_some(item.collected_at).flatten(),
                registered_by: item.registered_by.clone(),
                received_at: item.received_at,
                downloads: item.custody.len() - shared,
                share_fetches: shared,
                integrity_failures: item.integrity_failures.len(),
                custody: if names {
                    item.custody
                        .iter()
                        .map(|c| CustodyLine { by: c.by.clone(), at: c.at, purpose: c.purpose.clone(), share: c.share })
                        .collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    EvidenceManifest {
        names_shown: names,
        total_bytes: items.iter().map(|i| i.size).sum(),
        downloads: items.iter().map(|i| i.downloads).sum(),
        share_fetches: items.iter().map(|i| i.share_fetches).sum(),
        integrity_failures: items.iter().map(|i| i.integrity_failures).sum(),
        items,
    }
}
