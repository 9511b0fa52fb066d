//! The SITREP as Markdown, one function per section.

use std::fmt::Write as _;

use super::*;

impl Sitrep {
    /// The report as Markdown, for terminals, chat and print. User text is escaped so that it
    /// reads as written and cannot add links, headings or formatting.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.heading_md(&mut out);
        self.roles_md(&mut out);
        self.facts_md(&mut out);
        self.pending_decisions_md(&mut out);
        self.approved_decisions_md(&mut out);
        self.clocks_md(&mut out);
        self.statements_md(&mut out);
        self.parties_md(&mut out);
        self.tasks_md(&mut out);
        out
    }

    /// The title, severity and phase, the occurrence times and what the report was generated from.
    fn heading_md(&self, out: &mut String) {
        let _ = writeln!(out, "# SITREP {}: {}", self.incident, md(&self.title));
        out.push('\n');
        if self.exercise {
            out.push_str("**EXERCISE — this incident is a drill.**\n\n");
        }
        let _ = writeln!(
            out,
            "Severity **{}** · phase **{}** · declared {} by {} ({} ago){}",
            self.severity,
            self.phase,
            self.declared_at,
            self.declared_by,
            age(self.declared_at, self.generated_at),
            if self.restricted { " · restricted (need-to-know)" } else { "" }
        );
        let o = &self.occurrence;
        let times: Vec<String> =
            [("Started", o.started_at), ("first seen", o.first_seen_at), ("detected", o.detected_at)]
                .into_iter()
                .filter_map(|(what, at)| at.map(|at| format!("{what} {at}")))
                .collect();
        if !times.is_empty() {
            let _ = writeln!(
                out,
                "\n{}; declared {}{}",
                times.join(" · "),
                self.declared_at,
                o.backfill_reason.as_ref().map(|r| format!(" (backfilled: {})", md(r))).unwrap_or_default()
            );
        }
        let _ = writeln!(
            out,
            "\nGenerated {} from the record as of seq {} (hash {}).",
            self.generated_at,
            self.as_of_seq,
            self.as_of_hash.short()
        );
    }

    /// `## Roles`, with the blockers, and `## Command hand-overs` when there were any.
    fn roles_md(&self, out: &mut String) {
        out.push_str("\n## Roles\n\n");
        match &self.commander {
            Some(commander) => {
                let _ = writeln!(out, "Commander: **{commander}**\n");
            }
            None => out.push_str("Commander: **none**\n\n"),
        }
        for (role, holders) in &self.roles {
            let _ = writeln!(out, "- {role}: {}", names(holders));
        }
        for role in &self.blockers {
            let _ = writeln!(out, "- **{role}: unfilled (blocker)**");
        }
        if !self.handovers.is_empty() {
            out.push_str("\n## Command hand-overs\n\n");
            for handover in &self.handovers {
                let _ = writeln!(
                    out,
                    "- {}: {} handed command to {} (recorded by {}): {}",
                    handover.at,
                    handover.from,
                    handover.to,
                    handover.by,
                    md(&handover.reason)
                );
            }
        }
    }

    /// The known, unverified and disproved facts, a section each.
    fn facts_md(&self, out: &mut String) {
        fact_section_md(out, "Known (verified facts)", &self.verified_facts);
        fact_section_md(out, "Unverified", &self.unverified_facts);
        fact_section_md(out, "Disproved", &self.disproved_facts);
    }

    /// `## Decisions waiting` (or left open at close), with who must act.
    fn pending_decisions_md(&self, out: &mut String) {
        out.push_str(if self.phase == Phase::Closed {
            "\n## Decisions left open at close\n\n"
        } else {
            "\n## Decisions waiting\n\n"
        });
        if self.pending_decisions.is_empty() {
            out.push_str("- none\n");
        }
        for decision in &self.pending_decisions {
            let who: Vec<String> =
                decision.must_act.iter().map(|r| format!("{}: {}", r.role, names(&r.holders))).collect();
            let _ = writeln!(
                out,
                "- {} {} \"{}\", proposed by {} — {} (must act: {})",
                decision.id,
                decision.class,
                md(&decision.title),
                decision.proposer,
                decision.waiting_on,
                who.join("; ")
            );
            if let Some(bound) = &decision.statement {
                statement_markdown(out, bound);
            }
        }
    }

    /// `## Approved decisions`, with their actions.
    fn approved_decisions_md(&self, out: &mut String) {
        out.push_str("\n## Approved decisions\n\n");
        if self.approved_decisions.is_empty() {
            out.push_str("- none\n");
        }
        for decision in &self.approved_decisions {
            let by = match &decision.preapproved {
                Some(citation) => format!(
                    "pre-approved by {} in playbook {} v{} (SHA-256 {})",
                    md(&citation.approved_by),
                    md(&citation.playbook),
                    md(&citation.version),
                    &citation.sha256[..12.min(citation.sha256.len())]
                ),
                None => format!("approved by {}", names(&decision.approved_by)),
            };
            let _ = writeln!(
                out,
                "- {} {} \"{}\", {by}{}",
                decision.id,
                decision.class,
                md(&decision.title),
                decision.decided_at.map(|at| format!(" at {at}")).unwrap_or_default()
            );
            if let Some(bound) = &decision.statement {
                statement_markdown(out, bound);
            }
            for action in &decision.actions {
                let _ = writeln!(
                    out,
                    "  - {} {}: {}{}",
                    action.connector,
                    md(&action.target),
                    status_word(action.status),
                    action.last_error.as_ref().map(|e| format!(" ({})", md(e))).unwrap_or_default()
                );
            }
        }
    }

    /// `## Regulatory clocks`, when any runs or ran.
    fn clocks_md(&self, out: &mut String) {
        if !self.clocks.is_empty() {
            out.push_str("\n## Regulatory clocks\n\n");
            for clock in &self.clocks {
                let status = clock_status(clock);
                let due = match (&clock.waiting_for, clock.deadline) {
                    (Some(first), _) => format!("starts when {first} is submitted"),
                    (None, Some(deadline)) => format!("due {deadline}"),
                    (None, None) => "no deadline".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "- {} — {due}: {status} (met by submitting a text approved through {})",
                    md(&clock.title),
                    clock.stopping_class
                );
            }
        }
    }

    /// `## Statements`: the latest approved text per audience.
    fn statements_md(&self, out: &mut String) {
        out.push_str("\n## Statements (latest approved, per audience)\n\n");
        if self.statements.is_empty() {
            out.push_str("- none approved\n");
        }
        for line in &self.statements {
            let _ = writeln!(
                out,
                "- {}: {} v{} \"{}\", approved by {} (text SHA-256 {}); {}{}",
                line.audience.as_str(),
                line.statement,
                line.version,
                md(&line.title),
                line.approved_by,
                &line.sha256[..12.min(line.sha256.len())],
                if line.published.is_empty() {
                    "not published yet".to_owned()
                } else {
                    format!("published on {}", md(&line.published.join(", ")))
                },
                if line.newer_draft { "; a newer version awaits approval" } else { "" }
            );
            for text_line in line.text.lines() {
                let _ = writeln!(out, "  > {}", md(text_line));
            }
        }
    }

    /// `## Third parties engaged`, then the count of evidence items.
    fn parties_md(&self, out: &mut String) {
        out.push_str("\n## Third parties engaged\n\n");
        if self.third_parties.is_empty() {
            out.push_str("- none\n");
        }
        for party in &self.third_parties {
            let _ = writeln!(
                out,
                "- {} ({}){}, engaged by {} at {}",
                md(&party.name),
                party.kind,
                party.operates.as_ref().map(|o| format!(", operates {}", md(o))).unwrap_or_default(),
                party.engaged_by,
                party.engaged_at
            );
            for contact in &party.contacts {
                let reach: Vec<String> = [&contact.role, &contact.email, &contact.phone]
                    .iter()
                    .filter_map(|v| v.as_deref().map(md))
                    .collect();
                let _ = writeln!(out, "  - contact: {} ({})", md(&contact.name), reach.join(", "));
            }
            for authority in &party.authority {
                let _ = writeln!(out, "  - our authority: {}", md(authority));
            }
            if !party.live_shares.is_empty() {
                let ids: Vec<String> = party.live_shares.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "  - live share links: {}", ids.join(", "));
            }
        }
        let _ = writeln!(out, "\nEvidence items in the record: {}.", self.evidence_items);
    }

    /// `## Open tasks`.
    fn tasks_md(&self, out: &mut String) {
        out.push_str("\n## Open tasks\n\n");
        if self.open_tasks.is_empty() {
            out.push_str("- none\n");
        }
        for task in &self.open_tasks {
            let _ = writeln!(
                out,
                "- {} {} — {}{}{}{}",
                task.id,
                md(&task.title),
                task.owner.as_ref().map_or("unassigned".to_owned(), |o| format!("owner {o}")),
                task.due.map(|due| format!(", due {due}")).unwrap_or_default(),
                if task.overdue { " **OVERDUE**" } else { "" },
                if task.blocked {
                    format!(" **BLOCKED**: {}", task.note.as_deref().map(md).unwrap_or_default())
                } else {
                    String::new()
                }
            );
        }
    }
}

/// One facts section: its heading, then each fact with its source, judgement and times.
fn fact_section_md(out: &mut String, heading: &str, facts: &[FactLine]) {
    let _ = writeln!(out, "\n## {heading}\n");
    if facts.is_empty() {
        out.push_str("- none\n");
    }
    for fact in facts {
        let _ = write!(out, "- {} {}", fact.id, md(&fact.text));
        if let Some(source) = &fact.source {
            let _ = write!(out, " (source: {})", md(source));
        }
        match (&fact.judged_by, &fact.basis) {
            (Some(by), Some(basis)) => {
                let _ = write!(out, " — {by}: {}", md(basis));
            }
            _ => {
                let _ = write!(out, " — logged by {}", fact.logged_by);
            }
        }
        let _ = writeln!(
            out,
            " · happened {}, logged {}{}",
            fact.occurred_at,
            fact.logged_at,
            fact.backfill_reason.as_ref().map(|r| format!(" (backfilled: {})", md(r))).unwrap_or_default()
        );
    }
}
