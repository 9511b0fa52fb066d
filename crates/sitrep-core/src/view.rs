//! What one person may see of one incident: the read model.
//!
//! The rules that decide what a viewer sees — whether the incident is visible at all, whether
//! evidence names are theirs to read, whether share-link URLs are, how an engaged party reads
//! with the organisation's registry, where each decision stands — live here once. The API, the
//! web pages, the SITREP, the post-incident report and the live event stream only render an
//! [`IncidentView`]; none of them applies a rule of its own.
//!
//! The view's types are also the API's answer: [`IncidentAnswer`] names every field the
//! contract fixes, so renaming a field of the fold's internal state does not change an answer.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::decide::{can_see, may_read_evidence, may_see_share_links};
use crate::entry::{Entry, EntryHash};
use crate::events::{Audience, DecisionState, Party};
use crate::ids::{Actor, DecisionId, IncidentNumber, Phase, Role, Severity, UserName};
use crate::incident::{
    Clock, Decision, Determination, EngagedParty, EvidenceItem, Fact, Handover, IncidentState, LoggedNote, Occurrence,
    Publication, Review, Share, StartedPlaybook, Statement, StatementVersion, Task, TaskState,
};
use crate::org::OrgState;
use crate::statement_text::{BoundText, bound_text};
use crate::time::Timestamp;

/// What waits on one person in one incident ([`IncidentView::queue`]).
#[derive(Debug, Default)]
pub struct Queue<'a> {
    /// Decisions waiting on the person's approval or rejection.
    pub decisions: Vec<&'a Decision>,
    /// The person's open and blocked tasks, soonest due first.
    pub tasks: Vec<&'a Task>,
    /// The person's own proposals still waiting on others, with on whom.
    pub stuck: Vec<DecisionView<'a>>,
}

impl Queue<'_> {
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.tasks.is_empty() && self.stuck.is_empty()
    }
}

/// One incident as one viewer may see it at one moment.
#[derive(Debug, Clone, Copy)]
pub struct IncidentView<'a> {
    state: &'a IncidentState,
    org: &'a OrgState,
    viewer: &'a UserName,
    now: Timestamp,
    evidence_reader: bool,
    share_link_reader: bool,
}

impl<'a> IncidentView<'a> {
    /// The incident as `viewer` may see it, or `None` when it is not theirs to see at all
    /// (a restricted incident they take no part in).
    pub fn of(state: &'a IncidentState, org: &'a OrgState, viewer: &'a UserName, now: Timestamp) -> Option<Self> {
        can_see(state, viewer).then(|| IncidentView {
            state,
            org,
            viewer,
            now,
            evidence_reader: may_read_evidence(state, &org.policy, viewer),
            share_link_reader: may_see_share_links(state, &org.policy, viewer),
        })
    }

    pub fn state(&self) -> &'a IncidentState {
        self.state
    }

    pub fn org(&self) -> &'a OrgState {
        self.org
    }

    pub fn viewer(&self) -> &'a UserName {
        self.viewer
    }

    /// The moment the view is taken at (whether a share link still works depends on it).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether the viewer may read evidence names, sources and download purposes.
    pub fn evidence_reader(&self) -> bool {
        self.evidence_reader
    }

    /// Whether the viewer may see the URLs of share links.
    pub fn share_link_reader(&self) -> bool {
        self.share_link_reader
    }

    /// The evidence list, or only its length for those who may not read it.
    pub fn evidence(&self) -> EvidenceList<'a> {
        if self.evidence_reader {
            EvidenceList::Listed(&self.state.evidence)
        } else {
            EvidenceList::Hidden { count: self.state.evidence.len() }
        }
    }

    /// An entry of this incident's record as the viewer may read it: evidence entries name files,
    /// sources and purposes, so others get them with the body withheld and the hash intact (the
    /// chain still checks while the names stay private).
    pub fn entry<'e>(&self, entry: &'e Entry) -> EntryView<'e> {
        if self.evidence_reader || !is_evidence_entry(entry) {
            EntryView::Whole(entry)
        } else {
            EntryView::Redacted(entry)
        }
    }

    /// The engaged parties, each read with its registry record.
    pub fn parties(&self) -> Vec<PartyView<'a>> {
        self.state.parties.iter().map(|engaged| PartyView::of(engaged, self.org)).collect()
    }

    /// The share links and whether each works now, without their URLs.
    pub fn shares(&self) -> Vec<ShareView<'a>> {
        self.state
            .shares
            .iter()
            .map(|share| ShareView {
                share,
                // A closed incident's links no longer work, whatever their expiry says.
                live: self.state.share_is_live(share, self.now),
                url: None,
                party_name: self.org.parties.get(&share.party).map(|record| record.party.name.as_str()),
            })
            .collect()
    }

    /// The share links, with `link(share)` as the URL for those who may see it (the URL's MAC
    /// needs the server's key).
    pub fn shares_linked(&self, link: impl Fn(&Share) -> String) -> Vec<ShareView<'a>> {
        let mut shares = self.shares();
        if self.share_link_reader {
            for view in &mut shares {
                view.url = Some(link(view.share));
            }
        }
        shares
    }

    /// What waits on the viewer here, for the first thing they see: decisions their
    /// endorsement would move, their own open tasks (soonest due first, undated last) and their
    /// proposals still waiting on someone else. A closed incident waits on nobody.
    pub fn queue(&self) -> Queue<'a> {
        let state = self.state;
        if state.phase == Phase::Closed {
            return Queue::default();
        }
        let mut tasks: Vec<&'a Task> = state
            .tasks
            .iter()
            .filter(|t| {
                t.owner.as_ref() == Some(self.viewer) && matches!(t.state, TaskState::Open | TaskState::Blocked)
            })
            .collect();
        tasks.sort_by_key(|t| (t.due.is_none(), t.due, t.id));
        let stuck = state
            .decisions
            .iter()
            .filter(|d| d.state == DecisionState::Proposed && &d.proposer == self.viewer)
            .map(|d| self.decision(d))
            .filter(|d| d.waiting_on.is_some())
            .collect();
        Queue { decisions: state.awaiting(self.viewer), tasks, stuck }
    }

    /// A decision with where it stands.
    pub fn decision(&self, decision: &'a Decision) -> DecisionView<'a> {
        DecisionView::of(self.state, decision)
    }

    /// A statement with, for each version, the approved decision bound to it.
    pub fn statement(&self, statement: &'a Statement) -> StatementView<'a> {
        StatementView::of(self.state, statement)
    }

    /// The whole incident as the API answers it (`GET /api/v1/incidents/{id}`).
    pub fn answer(&self, link: impl Fn(&Share) -> String) -> IncidentAnswer<'a> {
        let state = self.state;
        IncidentAnswer {
            id: state.id,
            uuid: state.uuid,
            title: &state.title,
            severity: state.severity,
            phase: state.phase,
            scope: &state.scope,
            restricted: state.restricted,
            exercise: state.exercise,
            policy: &state.policy,
            declared_at: state.declared_at,
            declared_by: &state.declared_by,
            roles: &state.roles,
            unit_roles: &state.unit_roles,
            facts: &state.facts,
            decisions: state.decisions.iter().map(|d| self.decision(d)).collect(),
            tasks: &state.tasks,
            notes: &state.notes,
            occurrence: &state.occurrence,
            playbooks: &state.playbooks,
            playbook_roles: &state.playbook_roles,
            evidence: self.evidence(),
            parties: self.parties(),
            shares: self.shares_linked(link),
            statements: state.statements.iter().map(|s| self.statement(s)).collect(),
            review: &state.review,
            determinations: &state.determinations,
            clocks: &state.clocks,
            handovers: &state.handovers,
            next_update: state.alerts.update.as_ref(),
            seq: state.seq,
            head: state.head,
            updated_at: state.updated_at,
            blockers: state.vacant(&self.org.policy.roles.required, |user| self.org.is_active(user)),
            needs_your_decision: state.awaiting(self.viewer).iter().map(|d| d.id).collect(),
            your_roles: state.roles_of(self.viewer),
            commander: state.commander(),
        }
    }
}

/// Whether an entry's body describes evidence (names, sources, purposes of downloads).
pub fn is_evidence_entry(entry: &Entry) -> bool {
    entry.kind.starts_with("evidence.")
}

/// The incident as the API answers it: the folded state, with evidence, parties, shares,
/// statements and decisions as the viewer may see them, and what waits on the viewer.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentAnswer<'a> {
    pub id: IncidentNumber,
    pub uuid: Uuid,
    pub title: &'a str,
    pub severity: Severity,
    pub phase: Phase,
    pub scope: &'a [String],
    pub restricted: bool,
    pub exercise: bool,
    /// SHA-256 of the policy in force at declaration.
    pub policy: &'a str,
    pub declared_at: Timestamp,
    pub declared_by: &'a Actor,
    pub roles: &'a BTreeMap<Role, Vec<UserName>>,
    pub unit_roles: &'a BTreeMap<String, BTreeMap<Role, Vec<UserName>>>,
    pub facts: &'a [Fact],
    pub decisions: Vec<DecisionView<'a>>,
    pub tasks: &'a [Task],
    pub notes: &'a [LoggedNote],
    pub occurrence: &'a Occurrence,
    pub playbooks: &'a [StartedPlaybook],
    pub playbook_roles: &'a [Role],
    pub evidence: EvidenceList<'a>,
    pub parties: Vec<PartyView<'a>>,
    pub shares: Vec<ShareView<'a>>,
    pub statements: Vec<StatementView<'a>>,
    pub review: &'a Review,
    pub determinations: &'a [Determination],
    pub clocks: &'a [Clock],
    pub handovers: &'a [Handover],
    /// The commander's promise of the next update, and its cadence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update: Option<&'a crate::incident::UpdatePromise>,
    pub seq: u64,
    pub head: EntryHash,
    pub updated_at: Timestamp,
    /// Required roles nobody holds.
    pub blockers: Vec<&'a Role>,
    /// Decisions waiting on the viewer.
    pub needs_your_decision: Vec<DecisionId>,
    pub your_roles: Vec<Role>,
    pub commander: Option<&'a UserName>,
}

/// The evidence list, or for those who may not read it, only how many items there are.
#[derive(Debug, Clone, Copy)]
pub enum EvidenceList<'a> {
    Listed(&'a [EvidenceItem]),
    Hidden { count: usize },
}

impl EvidenceList<'_> {
    /// The items the viewer may read; none when hidden.
    pub fn items(&self) -> &[EvidenceItem] {
        match self {
            EvidenceList::Listed(items) => items,
            EvidenceList::Hidden { .. } => &[],
        }
    }
}

impl Serialize for EvidenceList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        struct Hidden {
            hidden: bool,
            count: usize,
        }
        match self {
            EvidenceList::Listed(items) => items.serialize(serializer),
            EvidenceList::Hidden { count } => Hidden { hidden: true, count: *count }.serialize(serializer),
        }
    }
}

/// An entry as one viewer may read it.
#[derive(Debug, Clone, Copy)]
pub enum EntryView<'e> {
    Whole(&'e Entry),
    /// An evidence entry for someone who may not read evidence: body `{}`, `redacted: true`.
    Redacted(&'e Entry),
}

impl EntryView<'_> {
    pub fn is_redacted(&self) -> bool {
        matches!(self, EntryView::Redacted(_))
    }
}

impl Serialize for EntryView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EntryView::Whole(entry) => entry.serialize(serializer),
            EntryView::Redacted(entry) => {
                #[derive(Serialize)]
                #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
                struct Empty {}
                #[derive(Serialize)]
                #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
                struct Redacted<'e> {
                    v: u64,
                    seq: u64,
                    at: Timestamp,
                    actor: &'e Actor,
                    kind: &'e str,
                    body: Empty,
                    prev: EntryHash,
                    hash: EntryHash,
                    redacted: bool,
                }
                Redacted {
                    v: crate::entry::ENTRY_FORMAT,
                    seq: entry.seq,
                    at: entry.at,
                    actor: &entry.actor,
                    kind: &entry.kind,
                    body: Empty {},
                    prev: entry.prev,
                    hash: entry.hash,
                    redacted: true,
                }
                .serialize(serializer)
            }
        }
    }
}

/// An engaged party read with its registry record (absent when the registry no longer holds it).
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyView<'a> {
    #[serde(flatten)]
    pub engaged: &'a EngagedParty,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<&'a Party>,
}

impl<'a> PartyView<'a> {
    pub fn of(engaged: &'a EngagedParty, org: &'a OrgState) -> Self {
        PartyView { engaged, registry: org.parties.get(&engaged.party).map(|record| &record.party) }
    }

    /// The registry's name, or the id when the registry does not know it.
    pub fn name(&self) -> &'a str {
        self.registry.map_or(&self.engaged.party, |party| &party.name)
    }

    /// The registry's kind, or `unregistered`.
    pub fn kind(&self) -> &'static str {
        self.registry.map_or("unregistered", |party| party.kind.as_str())
    }

    pub fn operates(&self) -> Option<&'a str> {
        self.registry.and_then(|party| party.operates.as_deref())
    }

    pub fn authority(&self) -> &'a [String] {
        self.registry.map_or(&[], |party| &party.authority)
    }

    pub fn contacts(&self) -> &'a [crate::events::Contact] {
        self.registry.map_or(&[], |party| &party.contacts)
    }

    pub fn sharing_rule(&self) -> Option<&'a str> {
        self.registry.and_then(|party| party.sharing_rule.as_deref())
    }
}

/// A share link with whether it works now, and its URL for those who may see it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareView<'a> {
    #[serde(flatten)]
    pub share: &'a Share,
    pub live: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The party's name from the registry (not part of the API answer).
    #[serde(skip)]
    pub party_name: Option<&'a str>,
}

/// A decision with where it stands: what the approver approves, what is missing, who can act.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionView<'a> {
    #[serde(flatten)]
    pub decision: &'a Decision,
    /// A bound statement's exact text and its changes from the audience's last approved text.
    pub statement_text: Option<BoundText>,
    /// While proposed: what is still missing, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_on: Option<String>,
    /// While proposed: for each role that can move it forward, who holds it and has not endorsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub must_act: Option<Vec<MustAct<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MustAct<'a> {
    pub role: Role,
    pub holders: Vec<&'a UserName>,
}

impl<'a> DecisionView<'a> {
    pub fn of(state: &'a IncidentState, decision: &'a Decision) -> Self {
        let (waiting_on, must_act) = if decision.state == DecisionState::Proposed {
            let progress = decision.progress();
            let must_act = progress
                .awaiting
                .into_iter()
                .map(|role| {
                    let holders = state
                        .roles
                        .get(&role)
                        .map(|users| users.iter().filter(|u| !decision.endorsed_by(u)).collect())
                        .unwrap_or_default();
                    MustAct { role, holders }
                })
                .collect();
            (Some(progress.waiting_on), Some(must_act))
        } else {
            (None, None)
        };
        DecisionView { decision, statement_text: bound_text(state, decision), waiting_on, must_act }
    }
}

/// A statement with the class that approves it, its latest version, and for each version the
/// approved decision bound to it (or `null`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementView<'a> {
    pub id: crate::ids::StatementId,
    pub audience: Audience,
    pub title: &'a str,
    pub versions: Vec<VersionView<'a>>,
    pub publications: &'a [Publication],
    pub needs_class: &'static str,
    pub latest_version: u32,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionView<'a> {
    #[serde(flatten)]
    pub version: &'a StatementVersion,
    pub approved_by: Option<DecisionId>,
}

impl<'a> StatementView<'a> {
    pub fn of(state: &'a IncidentState, statement: &'a Statement) -> Self {
        let versions = statement
            .versions
            .iter()
            .map(|version| {
                let bound = crate::events::StatementRef {
                    statement: statement.id,
                    version: version.version,
                    sha256: version.sha256.clone(),
                };
                VersionView { version, approved_by: state.approval_of(&bound).map(|d| d.id) }
            })
            .collect();
        StatementView {
            id: statement.id,
            audience: statement.audience,
            title: &statement.title,
            versions,
            publications: &statement.publications,
            needs_class: statement.audience.class(),
            latest_version: statement.latest().version,
        }
    }
}

/// The evidence list: the items, or for one who may not read them, only how many there are.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = EvidenceList)]
#[allow(dead_code)]
#[serde(untagged)]
enum EvidenceListSchema {
    Listed(Vec<EvidenceItem>),
    Hidden(HiddenEvidence),
}

/// The evidence list of one who may not read it.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct HiddenEvidence {
    /// Always `true`.
    hidden: bool,
    count: usize,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EvidenceList<'_> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <EvidenceListSchema as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EvidenceList<'_> {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <EvidenceListSchema as utoipa::ToSchema>::schemas(schemas);
    }
}

/// An entry of a record in its wire form; an evidence entry withheld from the viewer has the
/// body `{}` and `redacted: true` (its hash still checks).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = Entry)]
#[allow(dead_code)]
struct EntrySchema {
    /// The entry format.
    v: u64,
    seq: u64,
    at: Timestamp,
    actor: Actor,
    kind: String,
    /// The entry's body: a JSON object, as hashed.
    #[schema(value_type = Object)]
    body: serde_json::Value,
    prev: EntryHash,
    hash: EntryHash,
    /// Present (`true`) only when the body is withheld from the viewer.
    #[schema(required = false)]
    redacted: bool,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EntryView<'_> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <EntrySchema as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EntryView<'_> {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Entry")
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <EntrySchema as utoipa::ToSchema>::schemas(schemas);
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Entry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <EntrySchema as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Entry {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <EntrySchema as utoipa::ToSchema>::schemas(schemas);
    }
}
