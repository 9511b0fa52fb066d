//! What an approver approves: the exact text of the statement version a decision is bound to,
//! and how it differs, line by line, from the last version approved for the same audience.
//! The approval card, the API's decision view, the SITREP and the notifications all show this.

use std::fmt::Write as _;

use serde::Serialize;

use crate::events::{Audience, DecisionState};
use crate::ids::{DecisionId, StatementId};
use crate::incident::{Decision, IncidentState};
use crate::time::Timestamp;

/// The text a decision approves, with what changed since the audience's last approved text.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoundText {
    pub statement: StatementId,
    pub version: u32,
    pub title: String,
    pub audience: Audience,
    /// SHA-256 of `text`: what the decision is bound to.
    pub sha256: String,
    pub text: String,
    /// The version last approved for this audience by another decision, before this one.
    pub previous: Option<PreviousText>,
    /// From `previous` to `text`, line by line; empty when there is no previous text.
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviousText {
    pub statement: StatementId,
    pub version: u32,
    pub decision: DecisionId,
    pub approved_at: Option<Timestamp>,
    pub text: String,
}

/// One line of a line-by-line difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "op", content = "line", rename_all = "snake_case")]
pub enum Change {
    Same(String),
    Added(String),
    Removed(String),
}

/// The text `decision` is bound to, if it is bound to one that exists.
pub fn bound_text(state: &IncidentState, decision: &Decision) -> Option<BoundText> {
    let bound = decision.statement.as_ref()?;
    let statement = state.statement(bound.statement)?;
    let version = statement.version(bound.version)?;
    let before = decision.decided_at.filter(|_| decision.state == DecisionState::Approved);
    let previous = state
        .decisions
        .iter()
        .filter(|d| d.id != decision.id && d.state == DecisionState::Approved)
        .filter(|d| before.is_none_or(|limit| d.decided_at.is_some_and(|at| at <= limit) && d.id < decision.id))
        .filter_map(|d| {
            let earlier = d.statement.as_ref()?;
            let found = state.statement(earlier.statement)?;
            (found.audience == statement.audience).then_some((d, earlier, found.version(earlier.version)?))
        })
        .max_by_key(|(d, _, _)| (d.decided_at, d.id))
        .map(|(d, earlier, text)| PreviousText {
            statement: earlier.statement,
            version: earlier.version,
            decision: d.id,
            approved_at: d.decided_at,
            text: text.text.clone(),
        });
    let changes = previous.as_ref().map(|p| diff_lines(&p.text, &version.text)).unwrap_or_default();
    Some(BoundText {
        statement: bound.statement,
        version: bound.version,
        title: statement.title.clone(),
        audience: statement.audience,
        sha256: version.sha256.clone(),
        text: version.text.clone(),
        previous,
        changes,
    })
}

/// Beyond this many line pairs the difference is shown as every old line removed and every
/// new one added, so a pathological text cannot make a page slow.
const DIFF_CELLS_MAX: usize = 4_000_000;

/// The difference between two texts, line by line (Myers' algorithm, through `similar`).
pub fn diff_lines(old: &str, new: &str) -> Vec<Change> {
    let (old_lines, new_lines) = (old.lines().count(), new.lines().count());
    if old_lines.saturating_mul(new_lines) > DIFF_CELLS_MAX {
        return old
            .lines()
            .map(|l| Change::Removed(l.to_owned()))
            .chain(new.lines().map(|l| Change::Added(l.to_owned())))
            .collect();
    }
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| {
            // Lines as `str::lines` gives them: without their line ending.
            let value = change.value();
            let line = value.strip_suffix('\n').map_or(value, |l| l.strip_suffix('\r').unwrap_or(l)).to_owned();
            match change.tag() {
                similar::ChangeTag::Equal => Change::Same(line),
                similar::ChangeTag::Delete => Change::Removed(line),
                similar::ChangeTag::Insert => Change::Added(line),
            }
        })
        .collect()
}

impl Change {
    /// `+ `, `- ` or two spaces, as a unified diff marks lines.
    pub fn marker(&self) -> &'static str {
        match self {
            Change::Same(_) => "  ",
            Change::Added(_) => "+ ",
            Change::Removed(_) => "- ",
        }
    }

    pub fn line(&self) -> &str {
        match self {
            Change::Same(line) | Change::Added(line) | Change::Removed(line) => line,
        }
    }
}

impl BoundText {
    /// The text and its changes as plain text, for notifications: every line as written.
    pub fn to_plain(&self) -> String {
        let mut out = format!(
            "{} v{} \"{}\" to {} (text SHA-256 {}):\n",
            self.statement,
            self.version,
            self.title,
            self.audience.as_str(),
            &self.sha256[..12.min(self.sha256.len())]
        );
        for line in self.text.lines() {
            let _ = writeln!(out, "> {line}");
        }
        match &self.previous {
            Some(previous) => {
                let _ = writeln!(
                    out,
                    "Changes from {} v{} (approved by {}):",
                    previous.statement, previous.version, previous.decision
                );
                for change in &self.changes {
                    let _ = writeln!(out, "{}{}", change.marker(), change.line());
                }
            }
            None => {
                let _ = writeln!(out, "No earlier text to {} was approved.", self.audience.as_str());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_added_removed_and_kept_read_in_order() {
        let changes = diff_lines(
            "We are investigating.\nNo data was taken.",
            "We are investigating.\nCustomer emails were read.",
        );
        assert_eq!(
            changes,
            [
                Change::Same("We are investigating.".into()),
                Change::Removed("No data was taken.".into()),
                Change::Added("Customer emails were read.".into()),
            ]
        );
        assert!(diff_lines("same", "same").iter().all(|c| matches!(c, Change::Same(_))));
    }
}
