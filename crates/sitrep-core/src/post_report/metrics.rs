//! Walking the record once: milestones, approval latencies and the CSF evidence it holds.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::entry::Entry;
use crate::events::{Audience, DecisionState, IncidentEvent};
use crate::ids::{DecisionClass, DecisionId, Phase};
use crate::incident::IncidentState;
use crate::policy::Policy;
use crate::time::Timestamp;

/// What one walk over the record finds: the history-dependent parts of the report.
#[derive(Debug, Clone)]
pub(super) struct Walked {
    pub(super) metrics: Metrics,
    pub(super) csf: BTreeMap<String, (BTreeSet<u64>, BTreeSet<String>)>,
    pub(super) closure: Option<Closure>,
    pub(super) chain_verified: bool,
}

impl Metrics {
    /// Walks the record (entries from seq 1, in order) and measures it. Entries that do not
    /// fold end the walk; what was measured before them stands.
    pub fn walk(entries: &[Entry], policy: &Policy) -> Metrics {
        walk(entries, policy, u64::MAX).metrics
    }
}

pub(super) fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.unix_micros() - from.unix_micros()) as f64 / 1_000_000.0
}

pub(super) fn walk(entries: &[Entry], policy: &Policy, up_to: u64) -> Walked {
    let declared_at = entries.first().map_or_else(epoch, |e| e.at);
    let containment = containment_classes(policy);
    let mut walked = Walked {
        metrics: Metrics {
            declared_at,
            staffed: None,
            first_containment_decision: None,
            contained: None,
            closed: None,
            approval_latency: Vec::new(),
            containment_classes: containment.clone(),
        },
        csf: BTreeMap::new(),
        closure: None,
        chain_verified: !entries.is_empty(),
    };
    let mut state: Option<IncidentState> = None;
    for entry in entries.iter().take_while(|e| e.seq <= up_to) {
        let Ok(event) = IncidentEvent::parse(&entry.kind, &entry.body) else {
            walked.chain_verified = false;
            break;
        };
        // The state just before this entry: the phase it was written in, decisions' classes.
        let before_phase = state.as_ref().map_or(Phase::Declared, |s| s.phase);
        let exercise = match (&state, &event) {
            (Some(s), _) => s.exercise,
            (None, IncidentEvent::Declared(d)) => d.exercise,
            (None, _) => false,
        };
        let class_of = |decision: DecisionId, after: &IncidentState| after.decision(decision).map(|d| d.class.clone());
        let folded = match state.as_mut() {
            Some(folding) => folding.apply(entry, &event),
            None => match IncidentState::declare(entry, &event) {
                Ok(declared) => {
                    state = Some(declared);
                    Ok(())
                }
                Err(error) => Err(error),
            },
        };
        let (Ok(()), Some(after)) = (folded, state.as_ref()) else {
            walked.chain_verified = false;
            break;
        };
        let milestone = |detail: Option<String>| Milestone {
            seq: entry.seq,
            at: entry.at,
            after_seconds: seconds_between(declared_at, entry.at),
            detail,
        };
        let metrics = &mut walked.metrics;
        if metrics.staffed.is_none() && after.unfilled(&policy.roles.required).is_empty() {
            metrics.staffed = Some(milestone(None));
        }
        // The decision this entry approves, if it does.
        let approved = match &event {
            IncidentEvent::DecisionProposed(p) if p.state == DecisionState::Approved => Some(p.decision),
            IncidentEvent::DecisionApproved(a) if a.state == DecisionState::Approved => Some(a.decision),
            _ => None,
        };
        if let Some(decision) = approved
            && metrics.first_containment_decision.is_none()
            && let Some(class) = class_of(decision, after)
            && containment.contains(&class)
        {
            metrics.first_containment_decision = Some(milestone(Some(format!("{decision} {}", words(class.as_str())))));
        }
        if let IncidentEvent::PhaseChanged(change) = &event {
            let past_containment =
                matches!(change.to, Phase::Eradication | Phase::Recovery | Phase::PostIncident | Phase::Closed);
            if past_containment && metrics.contained.is_none() {
                metrics.contained = Some(milestone(Some(format!("to {}", change.to))));
            }
            if change.to == Phase::Closed {
                metrics.closed = Some(milestone(change.decision.map(|d| d.to_string())));
                walked.closure =
                    Some(Closure { at: entry.at, by: entry.actor.clone(), seq: entry.seq, decision: change.decision });
            }
        }

        // The CSF 2.0 view.
        let mut refs: Vec<String> = Vec::new();
        for row in CSF_MAPPING.iter().filter(|r| r.kind == entry.kind) {
            let holds = match row.when {
                When::Always => true,
                When::PhaseTo(phases) => {
                    matches!(&event, IncidentEvent::PhaseChanged(c) if phases.contains(&c.to))
                }
                When::Approves => approved.is_some(),
                When::ThroughShare => matches!(&event, IncidentEvent::EvidenceAccessed(a) if a.share.is_some()),
                When::PublicAudience => matches!(&event, IncidentEvent::StatementPublished(p)
                    if after.statement(p.statement).is_some_and(|s| matches!(s.audience, Audience::Customers | Audience::Press))),
                When::InRecovery => matches!(before_phase, Phase::Recovery | Phase::PostIncident | Phase::Closed),
            };
            if !holds {
                continue;
            }
            refs.extend(row.csf.iter().map(|r| (*r).to_owned()));
            if row.class_refs {
                let decision = match &event {
                    IncidentEvent::ActionSucceeded(a) => Some(a.decision),
                    _ => approved,
                };
                if let Some(class) = decision.and_then(|d| class_of(d, after)) {
                    refs.extend(class_refs(policy, &class).iter().cloned());
                }
            }
        }
        for reference in refs {
            let reference = if exercise && reference == "ID.IM-03" { "ID.IM-02".to_owned() } else { reference };
            let (seqs, kinds) = walked.csf.entry(reference).or_default();
            seqs.insert(entry.seq);
            kinds.insert(entry.kind.clone());
        }
    }

    // Approval latency, per class, from the decisions the walk folded.
    if let Some(state) = &state {
        let mut by_class: BTreeMap<DecisionClass, (Vec<f64>, usize)> = BTreeMap::new();
        for decision in state.decisions.iter().filter(|d| d.state == DecisionState::Approved) {
            let Some(decided) = decision.decided_at else { continue };
            let (seconds, immediate) = by_class.entry(decision.class.clone()).or_default();
            seconds.push(seconds_between(decision.proposed_at, decided));
            if decided == decision.proposed_at
                && decision.rejections.is_empty()
                && decision.approvals.iter().all(|a| a.implied)
            {
                *immediate += 1;
            }
        }
        walked.metrics.approval_latency = by_class
            .into_iter()
            .map(|(class, (seconds, immediate))| ClassLatency {
                class,
                count: seconds.len(),
                immediate,
                median_seconds: median(&seconds),
                max_seconds: seconds.iter().copied().fold(0.0, f64::max),
                seconds,
            })
            .collect();
    }
    walked
}

/// Where an empty record's durations would start: never used for a record with entries.
pub(super) fn epoch() -> Timestamp {
    Timestamp::from_jiff(jiff::Timestamp::UNIX_EPOCH)
}

/// The median; the mean of the two middle values for an even count; 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub(super) fn csf_view(found: &BTreeMap<String, (BTreeSet<u64>, BTreeSet<String>)>) -> CsfView {
    let evidence = |id: &str| {
        let (seqs, kinds) = found.get(id).cloned().unwrap_or_default();
        CsfEvidence {
            id: id.to_owned(),
            title: csf_title(id).to_owned(),
            seqs: seqs.into_iter().collect(),
            kinds: kinds.into_iter().collect(),
        }
    };
    let mut categories: Vec<CsfCategory> = CSF_CATEGORIES
        .iter()
        .map(|category| {
            // The known subcategories, then anything else the policy names in this category
            // (a category-level reference such as `RS.MA` included).
            let mut ids: Vec<&str> =
                CSF_SUBCATEGORIES.iter().map(|(id, _)| *id).filter(|id| category_of(id) == *category).collect();
            for id in found.keys().map(String::as_str) {
                if category_of(id) == *category && !ids.contains(&id) {
                    ids.push(id);
                }
            }
            CsfCategory {
                id: (*category).to_owned(),
                title: crate::csf::category_name(category).unwrap_or_default().to_owned(),
                subcategories: ids.into_iter().map(evidence).collect(),
            }
        })
        .collect();
    let others: Vec<CsfEvidence> = found
        .keys()
        .filter(|id| !CSF_CATEGORIES.iter().any(|category| category_of(id) == *category))
        .map(|id| evidence(id))
        .collect();
    if !others.is_empty() {
        categories.push(CsfCategory {
            id: "other".to_owned(),
            title: "Other references from the policy".to_owned(),
            subcategories: others,
        });
    }
    CsfView { categories }
}
