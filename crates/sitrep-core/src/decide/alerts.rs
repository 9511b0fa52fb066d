//! Alerts: a person opening the review link they were sent, and the commander promising the
//! next update.

use super::*;

/// The longest a promised update may lie ahead, and the cadence's bounds.
const UPDATE_HORIZON_DAYS: i64 = 7;
const CADENCE_MINUTES: std::ops::RangeInclusive<u32> = 5..=7 * 24 * 60;
const SUBSCRIBERS_MAX: usize = 50;

pub(super) fn decide(
    judge: &Judge<'_>,
    org: &OrgState,
    command: &IncidentCommand,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Refusal> {
    let state = judge.state;
    use IncidentCommand as C;
    let events = match command {
        C::OpenReviewLink { decision, link } => {
            judge.decision(*decision)?;
            if link.is_empty() || link.len() > 64 || !link.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid("link", "not a review link's nonce"));
            }
            if state.alerts.links_opened.contains(link) {
                return Err(conflict("this link was already used; open the decision from the incident instead"));
            }
            vec![IncidentEvent::ReviewLinkOpened(ReviewLinkOpened { decision: *decision, link: link.clone() })]
        }
        C::ScheduleUpdate { next_at, every_minutes, subscribers } => {
            if !state.holds(judge.by, "commander") {
                return Err(forbidden(
                    "commander",
                    format!("promising the next update needs the commander role on {}", state.id),
                ));
            }
            if *next_at <= now || *next_at > now.plus_seconds(UPDATE_HORIZON_DAYS * 24 * 3600) {
                return Err(invalid(
                    "next_at",
                    format!("the next update is after now and within {UPDATE_HORIZON_DAYS} days"),
                ));
            }
            if let Some(every) = every_minutes
                && !CADENCE_MINUTES.contains(every)
            {
                return Err(invalid(
                    "every_minutes",
                    format!("a cadence is {} to {} minutes", CADENCE_MINUTES.start(), CADENCE_MINUTES.end()),
                ));
            }
            if subscribers.len() > SUBSCRIBERS_MAX {
                return Err(invalid("subscribers", format!("at most {SUBSCRIBERS_MAX} subscribers")));
            }
            let mut named: Vec<UserName> = Vec::new();
            for user in subscribers {
                if org.user(user).is_none() {
                    return Err(invalid("subscribers", format!("there is no user '{user}'")));
                }
                if !can_see(state, user) {
                    return Err(invalid(
                        "subscribers",
                        format!("'{user}' may not see {}: it is restricted to those on it", state.id),
                    ));
                }
                if !named.contains(user) {
                    named.push(user.clone());
                }
            }
            vec![IncidentEvent::UpdateScheduled(UpdateScheduled {
                next_at: *next_at,
                every_minutes: *every_minutes,
                subscribers: named,
            })]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}
