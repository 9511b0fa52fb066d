//! The shared checks of user input: text, dates, free-form JSON and names, each refusing with
//! the field it is about.

use super::*;

pub const TITLE_MAX: usize = 200;
pub const TEXT_MAX: usize = 10_000;
pub const SHORT_MAX: usize = 2_000;
pub const MAX_ACTIONS: usize = 20;
pub const MAX_SHARED_ITEMS: usize = 100;
/// Thirty days: a share link is for an investigation, not a standing feed.
pub const MAX_SHARE_HOURS: u32 = 720;
/// How far back a date a person gives may lie, in days: a year.
pub const DAYS_BACK: i64 = 365;
/// How far ahead a due date may lie, in days: ten years.
pub const DAYS_AHEAD: i64 = 3653;
/// The longest a task may be due after it is created, in minutes: ten years.
pub const DUE_MINUTES_MAX: u32 = 3653 * 24 * 60;

/// What a date a person gives says, which decides the window it must fall in.
#[derive(Debug, Clone, Copy)]
pub(super) enum When {
    /// When something is due: from a year back (a deadline already passed) to ten years ahead.
    Due,
    /// When something happened or became known: from a year back to now. Such a time starts
    /// regulatory clocks, so one long past would have them missed the moment it is recorded.
    Happened,
}

/// A date a person gave, refused outside its window around `now` (never before
/// [`Timestamp::EARLIEST`]), naming the field and the window.
pub(super) fn date(field: &str, at: Timestamp, now: Timestamp, when: When) -> Result<Timestamp, Refusal> {
    const DAY: i64 = 24 * 3600;
    let back = now.plus_seconds(-DAYS_BACK * DAY);
    let (earliest, from) = if back > Timestamp::EARLIEST {
        (back, format!("{back} ({DAYS_BACK} days ago)"))
    } else {
        (Timestamp::EARLIEST, format!("{} (the earliest date sitrep takes)", Timestamp::EARLIEST))
    };
    let (latest, to, what, beyond) = match when {
        When::Due => {
            let ahead = now.plus_seconds(DAYS_AHEAD * DAY);
            (ahead, format!("{ahead} (ten years ahead)"), "a due date", "is more than ten years ahead")
        }
        When::Happened => (now, format!("now, {now}"), "a time something happened or became known", "is in the future"),
    };
    let why = if at > latest {
        beyond.to_owned()
    } else if at < Timestamp::EARLIEST {
        format!("is before {}", Timestamp::EARLIEST)
    } else if at < earliest {
        format!("is more than {DAYS_BACK} days ago")
    } else {
        return Ok(at);
    };
    Err(invalid(field, format!("{at} {why}; {what} is between {from} and {to}")))
}

/// Why a task's due offset is refused, if it is.
pub fn due_minutes_refusal(minutes: u32) -> Option<String> {
    (minutes > DUE_MINUTES_MAX).then(|| {
        format!("is {minutes} minutes; a task is due at most {DUE_MINUTES_MAX} minutes (ten years) after it is created")
    })
}

/// How deeply free-form JSON (a webhook's `payload`, a command's `input`) may nest arrays and
/// objects, the value itself counting as one level. serde_json stops reading at 128 levels; an
/// answer carries the value a few levels down, so a bound far below that keeps every answer
/// readable by any client. The API holds whole request bodies to the same bound.
pub const JSON_DEPTH_MAX: usize = 32;

/// How many levels of arrays and objects a value nests: 0 for a scalar, 1 for `[]` or `{}`.
/// Walked with a list rather than by recursion, so no value can exhaust the stack.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            serde_json::Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            serde_json::Value::Object(map) => pending.extend(map.values().map(|v| (v, depth + 1))),
            _ => continue,
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// The largest integer every JSON reader keeps exactly: I-JSON (RFC 7493), which RFC 8785's
/// canonical form assumes, reads numbers as IEEE 754 doubles.
pub const I_JSON_INTEGER_MAX: u64 = (1 << 53) - 1;

/// Whether a number lies where a double keeps integers exactly, within ±(2^53 − 1). Beyond it
/// 9007199254740993 would be stored, hashed and read back as 9007199254740992; and a number
/// read as a float cannot tell `18446744073709551616` (changed) from `1.8e19` (not), so every
/// number beyond it is refused, integer or not.
pub fn i_json_number(number: &serde_json::Number) -> bool {
    if let Some(n) = number.as_u64() {
        n <= I_JSON_INTEGER_MAX
    } else if let Some(n) = number.as_i64() {
        n.unsigned_abs() <= I_JSON_INTEGER_MAX
    } else {
        number.as_f64().is_some_and(|n| n.abs() <= I_JSON_INTEGER_MAX as f64)
    }
}

/// The message for a number outside I-JSON's safe range.
pub fn i_json_refusal(number: impl std::fmt::Display) -> String {
    format!(
        "holds {number}, which JSON readers do not keep exactly: numbers must lie within ±{I_JSON_INTEGER_MAX} (I-JSON, RFC 7493); send a larger one as a string"
    )
}

/// Why a free-form value (a webhook's `payload`, a command's `input`) cannot be kept as sent, if
/// it cannot: it nests too deeply, or holds a number outside I-JSON's range.
pub fn free_form_refusal(value: &serde_json::Value) -> Option<String> {
    let depth = json_depth(value);
    if depth > JSON_DEPTH_MAX {
        return Some(format!("nests {depth} levels of arrays and objects; the limit is {JSON_DEPTH_MAX}"));
    }
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Array(items) => pending.extend(items),
            serde_json::Value::Object(map) => pending.extend(map.values()),
            serde_json::Value::Number(number) if !i_json_number(number) => return Some(i_json_refusal(number)),
            _ => {}
        }
    }
    None
}

/// User-written text, the one rule for every field a person writes: kept verbatim, but never
/// empty, never over `max` characters, and free of the characters that change how text
/// displays without being seen ([`crate::text`]: controls other than line breaks and tabs,
/// bidirectional formatting, invisible characters).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Refusal> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let length = value.chars().count();
    if length > max {
        return Err(invalid(field, format!("is {length} characters; the limit is {max}")));
    }
    if let Some(refusal) = crate::text::refusal(value) {
        return Err(invalid(field, refusal));
    }
    Ok(value.to_owned())
}

/// The basis for stopping a clock unmet: it goes in the record, so it may not be empty.
pub(super) fn required_basis(basis: &str) -> Result<String, Refusal> {
    text("basis", basis, SHORT_MAX).map_err(|refusal| {
        if basis.trim().is_empty() {
            invalid("basis", "say why; the record keeps the basis for stopping a clock")
        } else {
            refusal
        }
    })
}

/// Whether a decision of this class approves a statement's text (its audience's class).
pub fn is_statement_class(class: &DecisionClass) -> bool {
    Audience::ALL.iter().any(|audience| audience.class() == class.as_str())
}

pub(super) fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<Option<String>, Refusal> {
    value.as_deref().map(|v| text(field, v, max)).transpose()
}

/// How long before its recording a time may lie without being a backfill: fifteen minutes, the
/// time it takes to notice, confirm and type. Earlier than that, a reason is required.
pub const BACKFILL_MARGIN_MINUTES: i64 = 15;

/// Whether a time something happened, recorded at `recorded`, is a backfill.
pub fn is_backfill(occurred: Timestamp, recorded: Timestamp) -> bool {
    occurred.plus_seconds(BACKFILL_MARGIN_MINUTES * 60) < recorded
}

/// An occurrence time checked: within the window of times that happened (a year back to now),
/// and with a reason when it is a backfill.
pub(super) fn occurrence(
    field: &str,
    occurred: &Option<Occurred>,
    now: Timestamp,
) -> Result<(Option<Timestamp>, Option<String>), Refusal> {
    let Some(occurred) = occurred else { return Ok((None, None)) };
    let at = date(field, occurred.at, now, When::Happened)?;
    let reason = optional_text("backfill_reason", &occurred.backfill_reason, SHORT_MAX)?;
    if reason.is_none() && is_backfill(at, now) {
        return Err(backfill_needs_reason(field, at, now));
    }
    Ok((Some(at), reason))
}

pub(super) fn backfill_needs_reason(field: &str, at: Timestamp, now: Timestamp) -> Refusal {
    invalid(
        "backfill_reason",
        format!(
            "{field} {at} is more than {BACKFILL_MARGIN_MINUTES} minutes before now ({now}); a backfilled time needs \
             a reason: who saw it when, from which source"
        ),
    )
}

pub(super) fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() { "none yet".to_owned() } else { items.join(", ") }
}

/// The longest evidence name kept, in characters.
pub const EVIDENCE_NAME_MAX: usize = 255;

/// An uploaded file's name as the record keeps it: metadata only, never a path. The characters
/// user text may not hold ([`crate::text`]), and line breaks and tabs, are written out as
/// `<U+XXXX>` rather than refused (the name comes from a file system, not from a person typing),
/// so nothing is silently dropped and nothing displays as something else; an empty name becomes
/// "unnamed"; a very long one is cut.
pub fn evidence_name(raw: &str) -> String {
    written_out(raw, |c| c.is_control() || crate::text::hidden(c).is_some())
}

/// Whether a stored evidence name is one sitrep could have written. Versions before the rule of
/// [`crate::text`] wrote out only controls, the zero-width and bidirectional marks and U+FEFF,
/// so the fold holds names to that narrower set: records they wrote still fold.
pub fn is_kept_name(name: &str) -> bool {
    let first_written_out = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
            )
    };
    written_out(name, first_written_out) == name
}

pub(super) fn written_out(raw: &str, hidden: impl Fn(char) -> bool) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        if hidden(c) {
            name.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            name.push(c);
        }
    }
    if name.trim().is_empty() {
        return "unnamed".to_owned();
    }
    if name.chars().count() > EVIDENCE_NAME_MAX {
        name = name.chars().take(EVIDENCE_NAME_MAX - 1).collect();
        name.push('…');
    }
    name
}

pub(super) fn join_or(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

pub(super) fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(super) fn check_actions(policy: &Policy, actions: &[ActionSpec]) -> Result<(), Refusal> {
    if actions.len() > MAX_ACTIONS {
        return Err(invalid("actions", format!("a decision may carry at most {MAX_ACTIONS} actions")));
    }
    for (index, action) in actions.iter().enumerate() {
        let field = format!("actions[{index}]");
        match action {
            ActionSpec::Task { title, owner_role, due_in_minutes } => {
                text(&format!("{field}.title"), title, TITLE_MAX)?;
                if let Some(message) = due_in_minutes.and_then(due_minutes_refusal) {
                    return Err(invalid(&format!("{field}.due_in_minutes"), message));
                }
                if let Some(role) = owner_role.as_ref().filter(|r| !policy.knows_role(r)) {
                    return Err(invalid(&format!("{field}.owner_role"), format!("unknown role '{role}'")));
                }
            }
            ActionSpec::Webhook { destination: name, .. } | ActionSpec::Command { command: name, .. } => {
                if !is_name(name) {
                    return Err(invalid(
                        &field,
                        format!("'{name}' is not the name of a configured {} (a-z, 0-9, '-', '_')", action.connector()),
                    ));
                }
                if let Some((name, value)) = action.free_form()
                    && let Some(message) = free_form_refusal(value)
                {
                    return Err(invalid(&format!("{field}.{name}"), message));
                }
            }
            ActionSpec::Notify { message } => {
                optional_text(&format!("{field}.message"), message, SHORT_MAX)?;
            }
            ActionSpec::Share { party, items, expires_in_hours } => {
                if !is_name(party) {
                    return Err(invalid(&format!("{field}.party"), format!("'{party}' is not a party id")));
                }
                if items.is_empty() || items.len() > MAX_SHARED_ITEMS {
                    return Err(invalid(
                        &format!("{field}.items"),
                        format!("name between 1 and {MAX_SHARED_ITEMS} evidence items by SHA-256"),
                    ));
                }
                if let Some(bad) = items.iter().find(|item| !is_sha256(item)) {
                    return Err(invalid(&format!("{field}.items"), format!("'{bad}' is not a SHA-256")));
                }
                if items.iter().enumerate().any(|(i, item)| items[..i].contains(item)) {
                    return Err(invalid(&format!("{field}.items"), "names an item twice"));
                }
                if !(1..=MAX_SHARE_HOURS).contains(expires_in_hours) {
                    return Err(invalid(
                        &format!("{field}.expires_in_hours"),
                        format!("a share link lives between 1 and {MAX_SHARE_HOURS} hours"),
                    ));
                }
            }
        }
    }
    Ok(())
}
