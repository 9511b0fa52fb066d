//! The command view's evidence, third-party and statement sections. As everywhere in the web
//! UI, a control is offered only when the real decision, run dry, would accept it.

use sitrep_core::decide::{IncidentCommand, decide_incident};
use sitrep_core::events::{Audience, DecisionState, StatementRef};
use sitrep_core::ids::StatementId;
use sitrep_core::incident::{EvidenceItem, IncidentState, Share, Statement};
use sitrep_core::view::{IncidentView, PartyView, ShareView};
use sitrep_core::{DecisionClass, OrgState, Timestamp, UserName};

use super::view::when;

#[derive(Debug, Clone)]
pub struct EvidenceRow {
    pub sha256: String,
    pub short: String,
    pub name: String,
    pub size: u64,
    pub media: String,
    pub source: String,
    pub collected: String,
    pub received: String,
    /// The chain of custody, oldest first: registration, then each download or share use.
    pub custody: Vec<String>,
    pub integrity: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PartyRow {
    pub name: String,
    pub kind: String,
    pub operates: String,
    pub contacts: Vec<String>,
    pub authority: Vec<String>,
    pub sharing_rule: String,
    pub engaged: String,
}

#[derive(Debug, Clone)]
pub struct ShareRow {
    pub id: String,
    pub party: String,
    pub items: Vec<String>,
    pub decision: String,
    pub expires: String,
    pub status: String,
    pub live: bool,
    pub uses: u32,
    pub url: String,
    pub can_revoke: bool,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: u32,
    pub text: String,
    pub short: String,
    pub by: String,
    pub at: String,
    pub approved_by: String,
}

#[derive(Debug, Clone)]
pub struct StatementRow {
    pub id: String,
    pub audience: String,
    pub title: String,
    pub needs_class: String,
    pub versions: Vec<VersionRow>,
    pub latest_text: String,
    pub latest_sha256: String,
    pub latest_version: u32,
    /// "approved by D-4", "awaiting approval (D-5)" or "not yet proposed for approval".
    pub latest_status: String,
    pub publications: Vec<PublicationRow>,
    pub can_revise: bool,
    pub can_propose: bool,
    pub can_publish: bool,
}

/// A publication, and for an outlet what sitrep delivered there, attempt by attempt.
#[derive(Debug, Clone)]
pub struct PublicationRow {
    pub line: String,
    pub version: u32,
    pub channel: String,
    /// "delivery owed", "delivered", "failed, retrying", "failed" — empty when not an outlet.
    pub delivery: String,
    pub attempts: Vec<String>,
    /// A final failure this viewer may ask to retry.
    pub can_retry: bool,
}

#[derive(Debug, Clone)]
pub struct LessonRow {
    pub id: String,
    pub what_happened: String,
    pub why: String,
    pub change: String,
    pub by: String,
    pub changes: Vec<ChangeRow>,
}

#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub id: String,
    pub incident: String,
    pub title: String,
    pub owner: String,
    pub due: String,
    pub overdue: bool,
    pub csf: String,
    pub state: String,
    pub closed: String,
    pub can_finish: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewSection {
    pub lessons: Vec<LessonRow>,
    /// The control-change field's type-ahead: every CSF 2.0 subcategory and its words.
    pub csf_options: &'static [(String, String)],
    pub completed: String,
    pub can_record: bool,
    pub can_complete: bool,
    /// Lessons that still need a control change.
    pub unconverted: Vec<String>,
    pub users: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ClockRow {
    pub clock: String,
    pub title: String,
    pub deadline: String,
    /// "2 d 4 h left", "MISSED 3 h ago", "met: sent … to … (reference …)", "not required: …".
    pub status: String,
    pub running: bool,
    /// Running and within its warning window, or missed.
    pub urgent: bool,
    pub stopped_by: String,
    /// Approved texts of the clock's class that a submission may name: (`ST-n:version`, label).
    pub sendable: Vec<(String, String)>,
    /// The viewer may record the submission now (legal, commander; the clock running).
    pub can_submit: bool,
    /// The viewer may record that the notification is not required (legal).
    pub can_release: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Sections {
    /// Org units in scope (name, title), and who holds which role locally in each.
    pub units: Vec<(String, String)>,
    pub unit_roles: Vec<(String, String, Vec<String>)>,
    pub clocks: Vec<ClockRow>,
    pub determinations: Vec<String>,
    /// Determinations the viewer may withdraw now: (name, words).
    pub withdrawable: Vec<(String, String)>,
    /// Determinations the viewer may record now: (name, meaning).
    pub determinable: Vec<(String, String)>,
    pub review: ReviewSection,
    /// Whether the viewer may see evidence at all; if not, only the count is shown.
    pub evidence_reader: bool,
    pub evidence_count: usize,
    pub evidence: Vec<EvidenceRow>,
    pub can_add_evidence: bool,
    pub parties: Vec<PartyRow>,
    /// Registered parties not yet engaged, when the viewer may engage them: (id, name).
    pub engageable: Vec<(String, String)>,
    pub shares: Vec<ShareRow>,
    /// Engaged parties evidence may be shared with, when the viewer may propose sharing.
    pub share_parties: Vec<String>,
    pub statements: Vec<StatementRow>,
    pub can_draft: bool,
    pub audiences: Vec<String>,
}

impl Sections {
    /// The running clock whose deadline comes first (a missed one first of all), for the header.
    pub fn most_urgent_clock(&self) -> Option<&ClockRow> {
        self.clocks.iter().filter(|c| c.running).min_by(|a, b| (!a.urgent, &a.deadline).cmp(&(!b.urgent, &b.deadline)))
    }
}

/// Builds the sections for the view's viewer; `share_url` gives a share's full link.
pub fn build(view: &IncidentView<'_>, share_url: &dyn Fn(&Share) -> String) -> Sections {
    let (state, org, user, now) = (view.state(), view.org(), view.viewer(), view.now());
    let allowed = |command: IncidentCommand| decide_incident(state, org, user, &command, state.updated_at).is_ok();
    let evidence_reader = view.evidence_reader();
    let report = sitrep_core::sitrep::Sitrep::of(state, org, now);
    Sections {
        units: state
            .scope
            .iter()
            .filter_map(|u| org.policy.unit(u).map(|title| (u.clone(), title.to_owned())))
            .collect(),
        unit_roles: unit_roles(state, org),
        clocks: report.clocks.iter().map(|c| clock_row(state, org, user, c, now)).collect(),
        determinations: state.determinations.iter().map(determination_line).collect(),
        withdrawable: state
            .determinations
            .iter()
            .filter(|d| {
                allowed(IncidentCommand::WithdrawDetermination {
                    determination: d.determination.clone(),
                    basis: "probe".into(),
                })
            })
            .map(|d| (d.determination.clone(), d.determination.replace('_', " ")))
            .collect(),
        determinable: org
            .policy
            .determinations
            .iter()
            .filter(|(name, _)| {
                allowed(IncidentCommand::RecordDetermination {
                    determination: name.clone(),
                    basis: "probe".into(),
                    aware_at: None,
                })
            })
            .cloned()
            .collect(),
        review: review_section(state, org, user, now),
        evidence_reader,
        evidence_count: state.evidence.len(),
        evidence: view.evidence().items().iter().map(evidence_row).collect(),
        can_add_evidence: allowed(crate::api::evidence::probe_registration()),
        parties: view.parties().iter().map(party_row).collect(),
        engageable: engageable(state, org, user),
        shares: share_rows(view, share_url),
        share_parties: if may_share(view) {
            state.parties.iter().map(|p| p.party.clone()).collect()
        } else {
            Vec::new()
        },
        statements: state.statements.iter().rev().map(|s| statement_row(state, org, user, s)).collect(),
        can_draft: allowed(IncidentCommand::DraftStatement {
            audience: Audience::Internal,
            title: "probe".into(),
            text: "probe".into(),
        }),
        audiences: Audience::ALL.iter().map(|a| a.as_str().to_owned()).collect(),
    }
}

/// Who holds which role locally in each org unit: (unit title, role, holders).
fn unit_roles(state: &IncidentState, org: &OrgState) -> Vec<(String, String, Vec<String>)> {
    state
        .unit_roles
        .iter()
        .flat_map(|(unit, roles)| {
            let title = org.policy.unit(unit).unwrap_or(unit).to_owned();
            roles.iter().filter(|(_, holders)| !holders.is_empty()).map(move |(role, holders)| {
                (title.clone(), role.as_str().replace('_', " "), holders.iter().map(ToString::to_string).collect())
            })
        })
        .collect()
}

/// A regulatory clock, with the approved texts that could be recorded as sent for it.
fn clock_row(
    state: &IncidentState,
    org: &OrgState,
    user: &UserName,
    c: &sitrep_core::sitrep::ClockLine,
    now: Timestamp,
) -> ClockRow {
    let allowed = |command: IncidentCommand| decide_incident(state, org, user, &command, state.updated_at).is_ok();
    let status = clock_words(c);
    let warn_at = state.clocks.iter().find(|k| k.clock == c.clock).map(|k| k.warn_at);
    let sendable: Vec<(String, String, sitrep_core::ids::StatementId, u32)> = state
        .decisions
        .iter()
        .filter(|d| {
            d.state == sitrep_core::events::DecisionState::Approved
                && d.class == c.stopping_class
                && (d.clocks.is_empty() || d.clocks.contains(&c.clock))
        })
        .filter_map(|d| {
            let bound = d.statement.as_ref()?;
            let title = state.statement(bound.statement).map(|s| s.title.clone()).unwrap_or_default();
            Some((
                format!("{}:{}", bound.statement, bound.version),
                format!("{} v{} “{}”, approved by {}", bound.statement, bound.version, title, d.id),
                bound.statement,
                bound.version,
            ))
        })
        .collect();
    let can_submit = c.running
        && sendable.first().is_some_and(|(_, _, statement, version)| {
            allowed(IncidentCommand::SubmitNotification {
                clock: c.clock.clone(),
                sent_at: state.updated_at,
                authority: "probe".into(),
                channel: "probe".into(),
                reference: "probe".into(),
                statement: *statement,
                version: *version,
            })
        });
    let can_release = c.submission.is_none()
        && c.released.is_none()
        && allowed(IncidentCommand::NotificationNotRequired { clock: c.clock.clone(), basis: "probe".into() });
    ClockRow {
        clock: c.clock.clone(),
        title: c.title.clone(),
        deadline: match (&c.waiting_for, c.deadline) {
            (Some(first), _) => format!("when {} is submitted", first.replace('_', " ")),
            (None, Some(deadline)) => when(deadline),
            (None, None) => String::new(),
        },
        status,
        running: c.running,
        urgent: c.running && (c.missed || warn_at.is_some_and(|w| now >= w)),
        stopped_by: c.stopping_class.as_str().replace('_', " "),
        sendable: sendable.into_iter().map(|(value, label, _, _)| (value, label)).collect(),
        can_submit,
        can_release,
    }
}

/// A determination in words, with its withdrawal if it was withdrawn.
fn determination_line(d: &sitrep_core::incident::Determination) -> String {
    let mut line = format!("{} by {} at {}: {}", d.determination.replace('_', " "), d.by, when(d.at), d.basis);
    if let Some(withdrawn) = &d.withdrawn {
        line.push_str(&format!(" — WITHDRAWN by {} at {}: {}", withdrawn.by, when(withdrawn.at), withdrawn.text));
    }
    line
}

/// An engaged party with what the registry says of it.
fn party_row(party: &PartyView<'_>) -> PartyRow {
    let engaged = party.engaged;
    PartyRow {
        name: party.name().to_owned(),
        kind: party.kind().to_owned(),
        operates: party.operates().unwrap_or_default().to_owned(),
        contacts: party
            .contacts()
            .iter()
            .map(|c| {
                [Some(&c.name), c.role.as_ref(), c.email.as_ref(), c.phone.as_ref()]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .collect(),
        authority: party.authority().to_vec(),
        sharing_rule: party.sharing_rule().unwrap_or_default().to_owned(),
        engaged: format!(
            "engaged by {} at {}{}",
            engaged.engaged_by,
            when(engaged.engaged_at),
            engaged.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        ),
    }
}

/// Registered parties not yet engaged, when `user` may engage one: an empty party id is
/// refused as invalid, not as forbidden, to someone who may.
fn engageable(state: &IncidentState, org: &OrgState, user: &UserName) -> Vec<(String, String)> {
    let probe = IncidentCommand::EngageParty { party: String::new(), reason: None };
    let can_engage = matches!(
        decide_incident(state, org, user, &probe, state.updated_at),
        Ok(_) | Err(sitrep_core::Refusal::Invalid { .. })
    );
    if !can_engage {
        return Vec::new();
    }
    org.parties
        .values()
        .filter(|p| !state.is_engaged(&p.party.party))
        .map(|p| (p.party.party.clone(), p.party.name.clone()))
        .collect()
}

/// Whether the viewer may read evidence and propose sharing it.
fn may_share(view: &IncidentView<'_>) -> bool {
    let (state, org, user) = (view.state(), view.org(), view.viewer());
    let sharing_class = DecisionClass::parse("evidence_sharing").ok();
    view.evidence_reader()
        && sharing_class.as_ref().is_some_and(|class| {
            let probe = IncidentCommand::Propose {
                class: class.clone(),
                title: "probe".into(),
                rationale: None,
                actions: Vec::new(),
                statement: None,
                clocks: Vec::new(),
            };
            decide_incident(state, org, user, &probe, state.updated_at).is_ok()
        })
}

/// The incident's share links; the links themselves only for those who may see them.
fn share_rows(view: &IncidentView<'_>, share_url: &dyn Fn(&Share) -> String) -> Vec<ShareRow> {
    let (state, org, user) = (view.state(), view.org(), view.viewer());
    let item_name = |sha: &str| match view.evidence().items().iter().find(|item| item.sha256 == sha) {
        Some(item) => item.name.clone(),
        None => sha.chars().take(12).collect(),
    };
    view.shares_linked(share_url)
        .into_iter()
        .map(|ShareView { share, live, url, party_name }| ShareRow {
            id: share.id.to_string(),
            party: party_name.map_or_else(|| share.party.clone(), str::to_owned),
            items: share.items.iter().map(|sha| item_name(sha)).collect(),
            decision: share.decision.to_string(),
            expires: when(share.expires_at),
            status: match &share.revoked {
                Some(revoked) => format!("revoked by {} at {}", revoked.by, when(revoked.at)),
                None if live => "live".to_owned(),
                None if state.phase == sitrep_core::Phase::Closed => "ended when the incident closed".to_owned(),
                None => "expired".to_owned(),
            },
            live,
            uses: share.uses,
            url: url.filter(|_| live).unwrap_or_default(),
            can_revoke: share.revoked.is_none()
                && decide_incident(
                    state,
                    org,
                    user,
                    &IncidentCommand::RevokeShare { share: share.id, reason: None },
                    state.updated_at,
                )
                .is_ok(),
        })
        .collect()
}

fn evidence_row(item: &EvidenceItem) -> EvidenceRow {
    let mut custody = vec![format!("{} registered it by {}", when(item.received_at), item.registered_by)];
    custody.extend(item.custody.iter().map(|c| match c.share {
        Some(share) => format!("{} fetched through share link {share}", when(c.at)),
        None => format!("{} downloaded by {}: {}", when(c.at), c.by, c.purpose),
    }));
    EvidenceRow {
        sha256: item.sha256.clone(),
        short: item.sha256.chars().take(12).collect(),
        name: item.name.clone(),
        size: item.size,
        media: match (&item.sniffed_type, &item.declared_type) {
            (Some(sniffed), Some(declared)) if sniffed != declared => format!("{sniffed} (declared {declared})"),
            (Some(sniffed), _) => sniffed.clone(),
            (None, Some(declared)) => format!("declared {declared}"),
            (None, None) => "unknown".to_owned(),
        },
        source: item.source.clone().unwrap_or_default(),
        collected: match (&item.collected_by, item.collected_at) {
            (Some(by), Some(at)) => format!("{by} at {}", when(at)),
            (Some(by), None) => by.clone(),
            (None, Some(at)) => when(at),
            (None, None) => String::new(),
        },
        received: when(item.received_at),
        custody,
        integrity: item.integrity_failures.iter().map(|f| format!("{}: {}", when(f.at), f.text)).collect(),
    }
}

fn statement_row(state: &IncidentState, org: &OrgState, user: &UserName, statement: &Statement) -> StatementRow {
    let allowed = |command: IncidentCommand| decide_incident(state, org, user, &command, state.updated_at).is_ok();
    let bound =
        |version: u32, sha256: &str| StatementRef { statement: statement.id, version, sha256: sha256.to_owned() };
    let latest = statement.latest();
    let latest_ref = bound(latest.version, &latest.sha256);
    let pending = state
        .decisions
        .iter()
        .find(|d| d.state == DecisionState::Proposed && d.statement.as_ref() == Some(&latest_ref));
    let latest_status = match (state.approval_of(&latest_ref), pending) {
        (Some(decision), _) => format!("v{} approved by {}", latest.version, decision.id),
        (None, Some(decision)) => {
            format!("v{} awaiting approval: {} {}", latest.version, decision.id, decision.progress().waiting_on)
        }
        (None, None) => {
            format!("v{} is not approved; propose it for {} approval", latest.version, statement.audience.class())
        }
    };
    let id: StatementId = statement.id;
    let propose = DecisionClass::parse(statement.audience.class()).ok().map(|class| IncidentCommand::Propose {
        class,
        title: "probe".into(),
        rationale: None,
        actions: Vec::new(),
        statement: Some(id),
        clocks: Vec::new(),
    });
    StatementRow {
        id: id.to_string(),
        audience: statement.audience.as_str().to_owned(),
        title: statement.title.clone(),
        needs_class: statement.audience.class().replace('_', " "),
        versions: statement
            .versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                text: v.text.clone(),
                short: v.sha256.chars().take(12).collect(),
                by: v.by.to_string(),
                at: when(v.at),
                approved_by: state
                    .approval_of(&bound(v.version, &v.sha256))
                    .map(|d| d.id.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        latest_text: latest.text.clone(),
        latest_sha256: latest.sha256.clone(),
        latest_version: latest.version,
        latest_status,
        publications: statement.publications.iter().map(|p| publication_row(statement, p, &allowed)).collect(),
        can_revise: allowed(IncidentCommand::ReviseStatement {
            statement: id,
            text: format!("{}\nprobe", latest.text),
        }),
        can_propose: pending.is_none() && state.approval_of(&latest_ref).is_none() && propose.is_some_and(allowed),
        can_publish: allowed(IncidentCommand::PublishStatement {
            statement: id,
            channel: "probe".into(),
            sha256: Some(latest.sha256.clone()),
            outlet_for: Vec::new(),
        }),
    }
}

fn publication_row(
    statement: &Statement,
    p: &sitrep_core::incident::Publication,
    allowed: &dyn Fn(IncidentCommand) -> bool,
) -> PublicationRow {
    use sitrep_core::incident::DeliveryStatus;
    let line = format!("v{} on {} by {} at {} (under {})", p.version, p.channel, p.by, when(p.at), p.decision);
    let Some(delivery) = &p.delivery else {
        return PublicationRow {
            line,
            version: p.version,
            channel: p.channel.clone(),
            delivery: String::new(),
            attempts: Vec::new(),
            can_retry: false,
        };
    };
    let status = match (delivery.status, delivery.attempts.is_empty()) {
        (DeliveryStatus::Delivered, _) => "delivered",
        (DeliveryStatus::Failed, _) => "failed; not tried again unless someone asks",
        (DeliveryStatus::Pending, true) => "delivery owed",
        (DeliveryStatus::Pending, false) => "failed, tried again shortly",
    };
    let attempts = delivery
        .attempts
        .iter()
        .map(|a| {
            format!(
                "attempt {} at {}: {}, sent SHA-256 {}{}",
                a.attempt,
                when(a.at),
                if a.delivered { "delivered" } else { "failed" },
                a.sha256.chars().take(12).collect::<String>(),
                a.detail.as_deref().map(|d| format!(" · {d}")).unwrap_or_default()
            )
        })
        .collect();
    let retry =
        IncidentCommand::RetryDelivery { statement: statement.id, version: p.version, channel: p.channel.clone() };
    PublicationRow {
        line,
        version: p.version,
        channel: p.channel.clone(),
        delivery: status.to_owned(),
        attempts,
        can_retry: delivery.status == DeliveryStatus::Failed && allowed(retry),
    }
}

/// One control change as a row, for the command view and the organisation-wide page.
pub fn change_row(
    state: &IncidentState,
    org: &OrgState,
    user: &UserName,
    change: &sitrep_core::incident::ControlChange,
    now: Timestamp,
) -> ChangeRow {
    use sitrep_core::incident::ControlChangeState as S;
    let open = change.state == S::Open;
    ChangeRow {
        id: change.id.to_string(),
        incident: state.id.to_string(),
        title: change.title.clone(),
        owner: change.owner.to_string(),
        due: when(change.due),
        overdue: open && change.due < now,
        csf: change.csf.clone(),
        state: match change.state {
            S::Open => "open",
            S::Done => "done",
            S::Cancelled => "cancelled",
        }
        .to_owned(),
        closed: change
            .closed
            .as_ref()
            .map(|c| {
                format!(
                    "by {} at {}{}",
                    c.by,
                    when(c.at),
                    if c.text.is_empty() { String::new() } else { format!(": {}", c.text) }
                )
            })
            .unwrap_or_default(),
        can_finish: open
            && decide_incident(
                state,
                org,
                user,
                &IncidentCommand::CompleteControlChange { change: change.id, note: None },
                state.updated_at,
            )
            .is_ok(),
    }
}

/// Every CSF 2.0 subcategory with its words ("Platform Security: …" where the core words the
/// outcome), offered as the control-change field's type-ahead.
pub static CSF_OPTIONS: std::sync::LazyLock<Vec<(String, String)>> = std::sync::LazyLock::new(|| {
    sitrep_core::csf::subcategories()
        .map(|(id, category)| {
            let outcome = sitrep_core::post_report::CSF_SUBCATEGORIES.iter().find(|(known, _)| *known == id);
            let words = match outcome {
                Some((_, outcome)) => format!("{category}: {outcome}"),
                None => category.to_owned(),
            };
            (id, words)
        })
        .collect()
});

fn review_section(state: &IncidentState, org: &OrgState, user: &UserName, now: Timestamp) -> ReviewSection {
    let allowed = |command: IncidentCommand| decide_incident(state, org, user, &command, state.updated_at).is_ok();
    let review = &state.review;
    ReviewSection {
        csf_options: CSF_OPTIONS.as_slice(),
        lessons: review
            .lessons
            .iter()
            .map(|lesson| LessonRow {
                id: lesson.id.to_string(),
                what_happened: lesson.what_happened.clone(),
                why: lesson.why.clone(),
                change: lesson.change.clone(),
                by: format!("{} at {}", lesson.by, when(lesson.at)),
                changes: review
                    .control_changes
                    .iter()
                    .filter(|c| c.lesson == lesson.id)
                    .map(|c| change_row(state, org, user, c, now))
                    .collect(),
            })
            .collect(),
        completed: review
            .completed
            .as_ref()
            .map(|c| format!("Completed by {} at {}: {}", c.by, when(c.at), c.summary))
            .unwrap_or_default(),
        can_record: allowed(IncidentCommand::RecordLesson {
            what_happened: "probe".into(),
            why: "probe".into(),
            change: "probe".into(),
        }),
        can_complete: review.completed.is_none()
            && allowed(IncidentCommand::CompleteReview { summary: "probe".into() }),
        unconverted: review.unconverted().iter().map(ToString::to_string).collect(),
        users: org.users.values().filter(|u| u.active).map(|u| u.name.to_string()).collect(),
    }
}

/// A clock's status as plain words for the command view: time left, missed, the submission
/// that met it (when, to whom, their reference), or why it stopped without one.
pub fn clock_words(c: &sitrep_core::sitrep::ClockLine) -> String {
    let words = sitrep_core::sitrep::duration_words;
    if let Some(sent) = &c.submission {
        return format!(
            "{}: sent {} to {} via {}, reference {} ({} v{}, approved by {})",
            if sent.met { "met" } else { "LATE" },
            when(sent.sent_at),
            sent.authority,
            sent.channel,
            sent.reference,
            sent.statement.statement,
            sent.statement.version,
            sent.decision
        );
    }
    if let Some(released) = &c.released {
        return format!("{} by {} at {}: {}", c.outcome, released.by, when(released.at), released.basis);
    }
    match c.seconds_left {
        _ if c.waiting_for.is_some() => "waiting".to_owned(),
        Some(left) if left < 0 => format!("MISSED {} ago, nothing submitted", words(-left)),
        Some(left) => format!("{} left", words(left)),
        None => c.outcome.to_owned(),
    }
}
