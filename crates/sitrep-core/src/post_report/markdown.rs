//! The report as Markdown, user text shown as written.

use super::*;
use crate::incident::{ControlChangeState, NoticeStatus};
use crate::sitrep::{md, names, status_word};

pub(super) fn or_none(out: &mut String, empty: bool) {
    if empty {
        out.push_str("- none\n");
    }
}

/// `1, 3–5, 9`: seqs with runs folded.
pub fn seq_ranges(seqs: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = seqs.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if end == start { start.to_string() } else { format!("{start}–{end}") });
    }
    parts.join(", ")
}

pub(super) fn milestone_line(out: &mut String, label: &str, milestone: Option<&Milestone>, missing: &str) {
    match milestone {
        Some(m) => {
            let _ = writeln!(
                out,
                "| {label} | {} | seq {} at {}{} |",
                duration(m.after_seconds),
                m.seq,
                when(m.at),
                m.detail.as_ref().map(|d| format!(" ({})", md(d))).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "| {label} | — | {missing} |");
        }
    }
}

impl PostIncidentReport {
    /// The report as Markdown, for print, mail and archives. User text is escaped so that it
    /// reads as written and cannot add links, headings or formatting.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.title_md(&mut out);
        self.summary_md(&mut out);
        self.metrics_md(&mut out);
        self.deadlines_md(&mut out);
        self.decisions_md(&mut out);
        self.statements_md(&mut out);
        self.evidence_md(&mut out);
        self.parties_md(&mut out);
        self.review_md(&mut out);
        self.csf_md(&mut out);
        self.timeline_md(&mut out);
        out
    }

    /// The title, the exercise banner and what the report was generated from.
    fn title_md(&self, out: &mut String) {
        let s = &self.summary;
        let _ = writeln!(out, "# Post-incident report {}: {}\n", s.incident, md(&s.title));
        if s.exercise {
            out.push_str("**EXERCISE — this incident was a drill.**\n\n");
        }
        let _ = writeln!(
            out,
            "Generated {} from the record as of seq {} (hash {}){}.\n",
            when(s.generated_at),
            s.as_of_seq,
            s.as_of_hash.to_hex(),
            if s.chain_verified {
                "; every entry's hash recomputed and chained"
            } else {
                "; **the chain did not verify**"
            }
        );
    }

    /// `## Summary`: severity, phase, times, command, scope and roles.
    fn summary_md(&self, out: &mut String) {
        let s = &self.summary;
        out.push_str("## Summary\n\n");
        let _ = writeln!(out, "- Severity: {}", s.severity);
        let _ = writeln!(out, "- Phase: {}", words(s.phase.as_str()));
        for (what, at) in [
            ("Started", s.occurrence.started_at),
            ("First seen", s.occurrence.first_seen_at),
            ("Detected", s.occurrence.detected_at),
        ] {
            if let Some(at) = at {
                let _ = writeln!(out, "- {what}: {}", when(at));
            }
        }
        let _ = writeln!(out, "- Declared: {} by {}", when(s.declared_at), s.declared_by);
        match &s.closed {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "- Closed: {} by {}{} (seq {})",
                    when(c.at),
                    c.by,
                    c.decision.map(|d| format!(" under {d}")).unwrap_or_default(),
                    c.seq
                );
            }
            None => out.push_str("- Closed: not yet\n"),
        }
        let _ = writeln!(out, "- Commander: {}", names(&s.commander));
        let _ = writeln!(
            out,
            "- Scope: {}",
            if s.scope.is_empty() { "not stated".to_owned() } else { md(&s.scope.join(", ")) }
        );
        let _ = writeln!(out, "- Exercise: {}", if s.exercise { "yes" } else { "no" });
        if s.restricted {
            out.push_str("- Restricted (need-to-know)\n");
        }
        let _ = writeln!(out, "- Policy at declaration: SHA-256 {}", s.policy);
        if !s.playbooks.is_empty() {
            let _ = writeln!(out, "- Playbooks: {}", md(&s.playbooks.join(", ")));
        }
        let roles: Vec<String> =
            s.roles.iter().map(|(role, holders)| format!("{} {}", words(role.as_str()), names(holders))).collect();
        let _ = writeln!(out, "- Roles: {}", if roles.is_empty() { "none held".to_owned() } else { roles.join("; ") });
    }

    /// `## Metrics`: the milestones and approval latency per class.
    fn metrics_md(&self, out: &mut String) {
        let m = &self.metrics;
        out.push_str("\n## Metrics\n\nMeasured on entry times from the declaration; see docs/reports.md for the definitions.\n\n");
        out.push_str("| measure | after declaration | reached |\n|---|---|---|\n");
        milestone_line(out, "All required roles staffed", m.staffed.as_ref(), "never fully staffed");
        milestone_line(
            out,
            "First approved containment decision",
            m.first_containment_decision.as_ref(),
            "no containment decision approved",
        );
        milestone_line(out, "Contained (phase past containment)", m.contained.as_ref(), "not yet");
        milestone_line(out, "Closed", m.closed.as_ref(), "not yet");
        let classes: Vec<String> = m.containment_classes.iter().map(|c| words(c.as_str())).collect();
        let _ = writeln!(out, "\nContainment classes: {}.", classes.join(", "));
        out.push_str("\nApproval latency (proposal to approval), per decision class:\n\n");
        if m.approval_latency.is_empty() {
            out.push_str("- no approved decisions\n");
        } else {
            out.push_str("| class | approved | at once | median | max |\n|---|---|---|---|---|\n");
            for l in &m.approval_latency {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    words(l.class.as_str()),
                    l.count,
                    l.immediate,
                    duration(l.median_seconds),
                    duration(l.max_seconds)
                );
            }
        }
    }

    /// `## Deadline compliance`: each regulatory clock and how it ended.
    fn deadlines_md(&self, out: &mut String) {
        out.push_str("\n## Deadline compliance\n\n");
        let _ = writeln!(out, "{}", self.deadlines.note);
        for c in &self.deadlines.clocks {
            let _ = writeln!(
                out,
                "- {} ({}): {}: **{}**{}",
                md(&c.title),
                words(&c.determination),
                match &c.waiting_for {
                    Some(first) => format!("starts when {first} is submitted"),
                    None => format!("started {}, due {}", when(c.started_at), when(c.deadline)),
                },
                c.outcome,
                match (&c.submission, &c.released) {
                    (Some(sent), _) => format!(
                        ", sent {} to {} via {} (reference {}; {} v{}, approved by {}), recorded by {}",
                        when(sent.sent_at),
                        md(&sent.authority),
                        md(&sent.channel),
                        md(&sent.reference),
                        sent.statement.statement,
                        sent.statement.version,
                        sent.decision,
                        sent.recorded_by
                    ),
                    (None, Some(released)) =>
                        format!(", stopped by {} at {}: {}", released.by, when(released.at), md(&released.basis)),
                    _ => String::new(),
                }
            );
        }
    }

    /// `## Decision register`: every decision with its endorsements, actions and notices.
    fn decisions_md(&self, out: &mut String) {
        out.push_str("\n## Decision register\n\n");
        or_none(out, self.decisions.is_empty());
        for d in &self.decisions {
            let _ =
                writeln!(out, "### {} {} \"{}\" — {}\n", d.id, words(d.class.as_str()), md(&d.title), d.state.as_str());
            let _ = writeln!(out, "- Proposed by {} at {}; rule: {}", d.proposer, when(d.proposed_at), md(&d.rule));
            if let Some(rationale) = &d.rationale {
                let _ = writeln!(out, "- Rationale: {}", md(rationale));
            }
            if let Some(playbook) = &d.playbook {
                let _ = writeln!(out, "- {}", md(playbook));
            }
            if let Some(statement) = &d.statement {
                let _ = writeln!(out, "- Approves statement {statement}");
            }
            for e in &d.endorsements {
                let _ = writeln!(
                    out,
                    "- {}: {}{} at {}{}{}",
                    e.what,
                    e.user,
                    e.role.as_ref().map(|r| format!(" as {}", words(r.as_str()))).unwrap_or_default(),
                    when(e.at),
                    e.note.as_ref().map(|n| format!(": {}", md(n))).unwrap_or_default(),
                    e.authenticated.as_ref().map(|a| format!(" (signed in by {})", md(a))).unwrap_or_default()
                );
            }
            if let Some(at) = d.decided_at {
                let _ = writeln!(
                    out,
                    "- Decided at {}{}",
                    when(at),
                    d.latency_seconds.map(|l| format!(", {} after its proposal", duration(l))).unwrap_or_default()
                );
            }
            for a in &d.actions {
                let _ = writeln!(
                    out,
                    "- Action {}: {} {} — {} after {} attempt(s){}",
                    a.number,
                    a.connector,
                    md(&a.target),
                    status_word(a.status),
                    a.attempts,
                    a.last_error.as_ref().map(|e| format!(" ({})", md(e))).unwrap_or_default()
                );
            }
            for n in &d.notices {
                let _ = writeln!(
                    out,
                    "- Told {} of its {}: {}",
                    md(&n.channel),
                    n.moment,
                    match n.status {
                        NoticeStatus::Pending => "pending",
                        NoticeStatus::Delivered => "delivered",
                        NoticeStatus::Failed => "FAILED",
                    }
                );
            }
            out.push('\n');
        }
    }

    /// `## Statements`: every version with its approvals, and the publications.
    fn statements_md(&self, out: &mut String) {
        out.push_str("## Statements\n\n");
        or_none(out, self.statements.is_empty());
        for st in &self.statements {
            let _ = writeln!(
                out,
                "### {} to {}: \"{}\" (approved through {})\n",
                st.id,
                st.audience.as_str(),
                md(&st.title),
                words(st.class)
            );
            for v in &st.versions {
                let approvals: Vec<String> = v
                    .approvals
                    .iter()
                    .map(|a| format!("{} {} by {}", a.decision, a.state.as_str(), names(&a.approved_by)))
                    .collect();
                let _ = writeln!(
                    out,
                    "- v{} by {} at {}, text SHA-256 {}; {}",
                    v.version,
                    v.by,
                    when(v.at),
                    v.sha256,
                    if approvals.is_empty() { "no decision bound to it".to_owned() } else { approvals.join("; ") }
                );
                for line in v.text.lines() {
                    let _ = writeln!(out, "  > {}", md(line));
                }
            }
            for p in &st.publications {
                let _ = writeln!(
                    out,
                    "- Published v{} on {} by {} at {} under {}",
                    p.version,
                    md(&p.channel),
                    p.by,
                    when(p.at),
                    p.decision
                );
                if let Some(delivery) = &p.delivery {
                    if delivery.attempts.is_empty() {
                        let _ = writeln!(out, "  - delivery to {} owed, not yet attempted", md(&p.channel));
                    }
                    for a in &delivery.attempts {
                        let _ = writeln!(
                            out,
                            "  - attempt {} at {}: {}, sent SHA-256 {}{}",
                            a.attempt,
                            when(a.at),
                            match (a.delivered, a.retryable) {
                                (true, _) => "delivered",
                                (false, true) => "failed, tried again",
                                (false, false) => "failed for good",
                            },
                            a.sha256,
                            a.detail.as_deref().map(|d| format!(": {}", md(d))).unwrap_or_default()
                        );
                    }
                }
            }
            out.push('\n');
        }
    }

    /// `## Evidence manifest`: counts, then one table row per item.
    fn evidence_md(&self, out: &mut String) {
        let ev = &self.evidence;
        out.push_str("## Evidence manifest\n\n");
        let _ = writeln!(
            out,
            "{} item(s), {} bytes; {} download(s), {} share-link fetch(es), {} integrity failure(s).{}\n",
            ev.items.len(),
            ev.total_bytes,
            ev.downloads,
            ev.share_fetches,
            ev.integrity_failures,
            if ev.names_shown {
                ""
            } else {
                " Names, sources and download purposes are shown to evidence readers only."
            }
        );
        if !ev.items.is_empty() {
            out.push_str("| SHA-256 | bytes | name | registered | downloads | share fetches | integrity failures |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
        }
        for item in &ev.items {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} by {} | {} | {} | {} |",
                item.sha256,
                item.size,
                item.name.as_deref().map_or_else(|| "(withheld)".to_owned(), md),
                when(item.received_at),
                item.registered_by,
                item.downloads,
                item.share_fetches,
                item.integrity_failures
            );
        }
    }

    /// `## Third parties and share links`.
    fn parties_md(&self, out: &mut String) {
        out.push_str("\n## Third parties and share links\n\n");
        or_none(out, self.third_parties.is_empty());
        for p in &self.third_parties {
            let _ = writeln!(
                out,
                "- {} ({}){}, engaged by {} at {}{}",
                md(&p.name),
                p.kind,
                p.operates.as_ref().map(|o| format!(", operates {}", md(o))).unwrap_or_default(),
                p.engaged_by,
                when(p.engaged_at),
                p.reason.as_ref().map(|r| format!(": {}", md(r))).unwrap_or_default()
            );
        }
        for sh in &self.shares {
            let _ = writeln!(
                out,
                "- Share link {} to {} under {}: {} item(s), created {}, expires {}, used {} time(s){}",
                sh.id,
                md(&sh.party),
                sh.decision,
                sh.items.len(),
                when(sh.created_at),
                when(sh.expires_at),
                sh.uses,
                match (&sh.revoked, sh.live) {
                    (Some(r), _) => format!("; revoked {}", md(r)),
                    (None, true) => "; live".to_owned(),
                    (None, false) => "; no longer works".to_owned(),
                }
            );
        }
    }

    /// `## Lessons and control changes`, each change under its lesson.
    fn review_md(&self, out: &mut String) {
        let r = &self.review;
        out.push_str("\n## Lessons and control changes\n\n");
        match &r.completed {
            Some(done) => {
                let _ = writeln!(out, "Review completed by {} at {}: {}\n", done.by, when(done.at), md(&done.summary));
            }
            None => out.push_str("The review is not complete.\n\n"),
        }
        or_none(out, r.lessons.is_empty());
        for l in &r.lessons {
            let _ = writeln!(out, "- {} (by {} at {}): {}", l.id, l.by, when(l.at), md(&l.what_happened));
            let _ = writeln!(out, "  - why: {}", md(&l.why));
            let _ = writeln!(out, "  - what we change: {}", md(&l.change));
            for c in r.control_changes.iter().filter(|c| c.lesson == l.id) {
                let _ = writeln!(
                    out,
                    "  - {} {} — owner {}, due {}, CSF {}, {}{}{}",
                    c.id,
                    md(&c.title),
                    c.owner,
                    when(c.due),
                    md(&c.csf),
                    match c.state {
                        ControlChangeState::Open => "open",
                        ControlChangeState::Done => "done",
                        ControlChangeState::Cancelled => "cancelled",
                    },
                    if c.overdue { " **OVERDUE**" } else { "" },
                    c.closed.as_ref().map(|n| format!(" ({})", md(n))).unwrap_or_default()
                );
            }
        }
    }

    /// `## NIST CSF 2.0`: the subcategories evidenced, with their seqs.
    fn csf_md(&self, out: &mut String) {
        out.push_str(
            "\n## NIST CSF 2.0\n\nSubcategories the record's entries evidence, with the seqs of those entries.\n",
        );
        for category in &self.csf.categories {
            let _ = writeln!(out, "\n### {} {}\n", category.id, category.title);
            out.push_str("| subcategory | evidenced by seqs |\n|---|---|\n");
            for sub in &category.subcategories {
                let _ = writeln!(
                    out,
                    "| {} {} | {} |",
                    sub.id,
                    md(&sub.title),
                    if sub.seqs.is_empty() { "—".to_owned() } else { seq_ranges(&sub.seqs) }
                );
            }
        }
    }

    /// `## Timeline`: one line per entry in the order things happened.
    fn timeline_md(&self, out: &mut String) {
        out.push_str(
            "\n## Timeline\n\nIn the order things happened; a time given apart from its recording shows both.\n\n",
        );
        for line in &self.timeline {
            let time = if line.occurred_at == line.at {
                when(line.at)
            } else {
                format!("happened {}, recorded {}", when(line.occurred_at), when(line.at))
            };
            let _ = writeln!(
                out,
                "- {} · {} · {} · `{}` — {}{}",
                line.seq,
                time,
                line.actor,
                line.kind,
                md(&line.what),
                line.backfill_reason.as_ref().map(|r| format!(" (backfilled: {})", md(r))).unwrap_or_default()
            );
        }
    }
}
