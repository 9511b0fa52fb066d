//! Every kind of entry, with its body.
//!
//! An entry's `kind` names one variant here and its `body` is that variant's canonical JSON. Two
//! enums, because an incident record and the organisation record never share kinds. Optional
//! fields are left out when empty, so bodies stay small and a field added later does not change
//! the hash of entries written before it existed.
//!
//! The bodies live in files named by the family of commands that writes them, as in `decide/`.

mod alerts;
mod chat;
mod clocks;
mod decisions;
mod declare;
mod evidence;
mod facts;
mod org;
mod parties;
mod playbooks;
mod review;
mod roles;
mod statements;
mod tasks;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authn::{Authentication, ExternalIdentity};
use crate::entry::{Entry, EntryHash, canonical_json};
use crate::ids::{
    Actor, ControlChangeId, DecisionClass, DecisionId, FactId, IncidentNumber, LessonId, OrgRole, Phase, Role,
    Severity, ShareId, StatementId, TaskId, UserName,
};
use crate::playbook::Citation;
use crate::policy::Rule;
use crate::time::Timestamp;

pub use alerts::*;
pub use chat::*;
pub use clocks::*;
pub use decisions::*;
pub use declare::*;
pub use evidence::*;
pub use facts::*;
pub use org::*;
pub use parties::*;
pub use playbooks::*;
pub use review::*;
pub use roles::*;
pub use statements::*;
pub use tasks::*;

/// An entry's kind or body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("unknown entry kind '{0}'")]
    UnknownKind(String),
    #[error("body of '{kind}' is not valid: {detail}")]
    Body { kind: String, detail: String },
}

/// What the sealing code needs of an event, for either record.
pub trait RecordEvent {
    fn kind(&self) -> &'static str;
    fn canonical_body(&self) -> String;
}

/// Seals events into the entries that follow `after` (the record's last seq and hash).
pub fn seal<E: RecordEvent>(after: (u64, EntryHash), at: Timestamp, actor: &Actor, events: &[E]) -> Vec<Entry> {
    let (mut seq, mut prev) = after;
    events
        .iter()
        .map(|event| {
            seq += 1;
            let entry = Entry::seal(seq, at, actor.clone(), event.kind(), event.canonical_body(), prev);
            prev = entry.hash;
            entry
        })
        .collect()
}

macro_rules! events {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident($body:ty) = $kind:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        // An event lives only between parsing or deciding and folding, a few at a time; boxing
        // the large proposal would cost every match and construction for no memory saved.
        #[allow(clippy::large_enum_variant)]
        pub enum $name { $($(#[$vdoc])* $variant($body),)+ }

        impl $name {
            /// Every kind this enum can hold, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            pub fn parse(kind: &str, body: &str) -> Result<Self, EventError> {
                match kind {
                    $($kind => serde_json::from_str(body).map($name::$variant).map_err(|error| EventError::Body {
                        kind: kind.to_owned(),
                        detail: error.to_string(),
                    }),)+
                    _ => Err(EventError::UnknownKind(kind.to_owned())),
                }
            }
        }

        impl RecordEvent for $name {
            fn kind(&self) -> &'static str {
                match self { $($name::$variant(_) => $kind,)+ }
            }

            /// The body as canonical JSON, ready to be sealed into an entry.
            fn canonical_body(&self) -> String {
                let result = match self { $($name::$variant(body) => canonical_json(body),)+ };
                // Bodies hold only strings, integers, booleans and JSON values parsed by
                // serde_json, none of which can fail to serialise.
                result.unwrap_or_else(|error| panic!("{} body does not serialise: {error}", self.kind()))
            }
        }
    };
}

events!(
    /// What can happen to an incident.
    IncidentEvent {
        Declared(Declared) = "incident.declared",
        PhaseChanged(PhaseChanged) = "incident.phase_changed",
        SeverityChanged(SeverityChanged) = "incident.severity_changed",
        RoleAssigned(RoleChange) = "role.assigned",
        RoleReleased(RoleRelease) = "role.released",
        FactLogged(FactLogged) = "fact.logged",
        FactVerified(FactJudged) = "fact.verified",
        FactDisproved(FactJudged) = "fact.disproved",
        TaskCreated(TaskCreated) = "task.created",
        TaskAssigned(TaskAssigned) = "task.assigned",
        TaskDone(TaskClosed) = "task.done",
        TaskBlocked(TaskBlocked) = "task.blocked",
        TaskCancelled(TaskClosed) = "task.cancelled",
        DecisionProposed(DecisionProposed) = "decision.proposed",
        /// One approval; `state` says whether it completed the rule.
        DecisionApproved(DecisionApproved) = "decision.approved",
        DecisionRejected(DecisionRejected) = "decision.rejected",
        DecisionWithdrawn(DecisionWithdrawn) = "decision.withdrawn",
        ActionStarted(ActionStarted) = "action.started",
        ActionSucceeded(ActionSucceeded) = "action.succeeded",
        ActionFailed(ActionFailed) = "action.failed",
        /// A person asked for a failed action to run again.
        ActionRetryRequested(ActionRef) = "action.retry_requested",
        PlaybookStarted(PlaybookStarted) = "playbook.started",
        /// A decision's proposal or outcome was told to one channel of its communications path.
        NotificationDelivered(NotificationDelivered) = "notification.delivered",
                NotificationFailed(NotificationFailed) = "notification.failed",
        NoteAdded(NoteAdded) = "note.added",
        EvidenceRegistered(EvidenceRegistered) = "evidence.registered",
        /// A download, export or share-link use: the chain of custody.
        EvidenceAccessed(EvidenceAccessed) = "evidence.accessed",
        /// A stored blob no longer matches its hash; it was not served.
        EvidenceIntegrityFailed(EvidenceIntegrityFailed) = "evidence.integrity_failed",
        PartyEngaged(PartyEngaged) = "party.engaged",
        ShareCreated(ShareCreated) = "share.created",
        ShareRevoked(ShareRevoked) = "share.revoked",
        StatementDrafted(StatementDrafted) = "statement.drafted",
        StatementRevised(StatementRevised) = "statement.revised",
        StatementPublished(StatementPublished) = "statement.published",
        /// A publication's exact bytes reached its outlet (`system:publisher`).
        StatementDelivered(StatementDelivered) = "statement.delivered",
        /// A publication's delivery to its outlet failed, and whether it is tried again.
        StatementDeliveryFailed(StatementDeliveryFailed) = "statement.delivery_failed",
        /// A person asked for a finally failed delivery to be tried again.
        StatementDeliveryRetryRequested(DeliveryRef) = "statement.delivery_retry_requested",
        /// Post-incident review: what happened, why, and what we change.
        LessonRecorded(LessonRecorded) = "lesson.recorded",
        /// A control change a lesson turned into; tracked after the incident closes.
        ControlChangePlanned(ControlChangePlanned) = "control_change.planned",
        ControlChangeDone(ControlChangeClosed) = "control_change.done",
        ControlChangeCancelled(ControlChangeClosed) = "control_change.cancelled",
        /// The review is complete; only now may the incident close.
        ReviewCompleted(ReviewCompleted) = "review.completed",
        /// A determination (personal data affected, material, …) that starts regulatory clocks.
        DeterminationRecorded(DeterminationRecorded) = "determination.recorded",
        /// A clock's stopping class's path was told its deadline is near.
        ClockWarned(ClockWarned) = "clock.warned",
        /// A clock's deadline passed before a decision stopped it.
        ClockMissed(ClockRef) = "clock.missed",
        /// A notification was sent to an authority: the one fact that meets a regulatory clock.
        ClockSubmitted(ClockSubmitted) = "clock.submitted",
        /// A determination was withdrawn, with the basis: its open clocks stop, not met.
        DeterminationWithdrawn(DeterminationWithdrawn) = "determination.withdrawn",
        /// A clock's notification is not required, with the basis: it stops, not met.
        ClockNotRequired(ClockNotRequired) = "clock.not_required",
        /// The commander role moved from one person to another in one step: one commander at
        /// a time. The entry's time is the hand-over's.
        CommanderHandedOver(CommanderHandedOver) = "commander.handed_over",
        /// When the incident started, was first seen and was detected.
        OccurrenceRecorded(OccurrenceRecorded) = "incident.occurrence_recorded",
        /// A person was told it is their turn (a role, a decision waiting, a task, a clock, the
        /// promised update), on one route.
        AlertSent(AlertSent) = "alert.sent",
        AlertFailed(AlertFailed) = "alert.failed",
        /// A review link from an alert was opened by the person it was sent to.
        ReviewLinkOpened(ReviewLinkOpened) = "review_link.opened",
        /// The commander promised the next update, and the cadence after it.
        UpdateScheduled(UpdateScheduled) = "update.scheduled",
        // Chat rooms (issue 16, chat two-way).
        /// The chat connector opened the incident's room in a chat system.
        ChatRoomOpened(ChatRoomOpened) = "chat.room_opened",
    }
);

events!(
    /// What can happen to the organisation: people, credentials, policy, playbooks.
    OrgEvent {
        DeploymentCreated(DeploymentCreated) = "deployment.created",
        UserAdded(UserAdded) = "user.added",
        UserDisabled(UserDisabled) = "user.disabled",
        UserEnabled(UserEnabled) = "user.enabled",
        UserUpdated(UserUpdated) = "user.updated",
        SignedIn(SignedIn) = "session.started",
        SignedOut(SignedOut) = "session.ended",
        UserPasswordSet(UserPasswordSet) = "user.password_set",
        OrgRoleGranted(OrgRoleChange) = "org_role.granted",
        OrgRoleRevoked(OrgRoleChange) = "org_role.revoked",
        TokenIssued(TokenIssued) = "token.issued",
        TokenRevoked(TokenRevoked) = "token.revoked",
        PolicyReplaced(PolicyReplaced) = "policy.replaced",
        PlaybookAdded(PlaybookAdded) = "playbook.added",
        PartyRegistered(Party) = "party.registered",
        PartyUpdated(Party) = "party.updated",
        /// How a user is told it is their turn: their contact routes and what they mute.
        ContactSet(ContactSet) = "user.contact_set",
        // Chat identities (issue 16, chat two-way).
        /// A chat identity now acts as this user.
        ChatLinked(ChatLinked) = "chat.linked",
        /// A chat identity no longer acts as this user.
        ChatUnlinked(ChatLinked) = "chat.unlinked",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_their_kind() {
        let event = IncidentEvent::FactLogged(FactLogged {
            fact: FactId(3),
            text: "<script>alert(1)</script>".into(),
            source: None,
            status: FactStatus::Unverified,
            basis: None,
            occurred_at: None,
            backfill_reason: None,
        });
        let body = event.canonical_body();
        assert_eq!(body, r#"{"fact":"F-3","status":"unverified","text":"<script>alert(1)</script>"}"#);
        assert_eq!(IncidentEvent::parse(event.kind(), &body), Ok(event));
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_named() {
        assert_eq!(IncidentEvent::parse("fact.invented", "{}"), Err(EventError::UnknownKind("fact.invented".into())));
        let error = IncidentEvent::parse("fact.verified", r#"{"fact":"D-1","basis":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("fact.verified"), "{error}");
    }

    #[test]
    fn kinds_are_unique_across_both_records() {
        let mut all: Vec<&str> = IncidentEvent::KINDS.iter().chain(OrgEvent::KINDS).copied().collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    #[test]
    fn actions_name_connectors_and_refuse_unknown_fields() {
        let action: ActionSpec =
            serde_json::from_str(r#"{"connector":"webhook","destination":"cloud-iam","payload":{"key_id":"AKIA1"}}"#)
                .expect("valid");
        assert_eq!(action.connector(), "webhook");
        assert!(serde_json::from_str::<ActionSpec>(r#"{"connector":"webhook","url":"http://evil"}"#).is_err());
    }
}
