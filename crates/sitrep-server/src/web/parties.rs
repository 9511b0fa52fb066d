//! Third parties: the registry page, engaging a party, and share links.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sitrep_core::OrgRole;
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::ActionSpec;
use sitrep_store::Request as LedgerRequest;

use super::forms::FormError;
use super::view::Me;
use super::{Fields, FormBody, Path1, Path2, Viewer, act, csrf, render, said};
use crate::api::decisions::ProposeBody;
use crate::api::parties::{EngageBody, PartyBody, RevokeBody};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) async fn engage_party(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = fields.body(&["party"], &["reason"]).parse::<EngageBody>().map(EngageBody::into_command);
    act(&app, &viewer, &id, &fields, "parties", command).await
}

/// Proposes an evidence_sharing decision whose action shares the ticked items.
pub(super) async fn propose_share(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    fields: Fields,
) -> Response {
    let command = share_proposal(&fields);
    act(&app, &viewer, &id, &fields, "decisions", command).await
}

/// The share form as the API's `ProposeBody`. Adapter: the form names the party, the ticked
/// items and the lifetime of its one share action; the title has a default.
fn share_proposal(fields: &Fields) -> Result<IncidentCommand, FormError> {
    let items: Vec<String> =
        fields.get("items").split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let hours = fields
        .get("hours")
        .trim()
        .parse::<u32>()
        .map_err(|_| FormError::at("hours", "give the link's lifetime in whole hours"))?;
    let title = fields
        .optional("title")
        .unwrap_or_else(|| format!("Share {} evidence item(s) with {}", items.len(), fields.get("party")));
    let share = ActionSpec::Share { party: fields.get("party").to_owned(), items, expires_in_hours: hours };
    let action = serde_json::to_value(share).map_err(FormError::text)?;
    let body = FormBody::default().with("class", "evidence_sharing").with("title", title);
    body.with("actions", vec![action]).parse::<ProposeBody>().map(ProposeBody::into_command)
}

pub(super) async fn revoke_share(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments((id, sid)): Path2,
    fields: Fields,
) -> Response {
    let command = sid
        .parse::<sitrep_core::ids::ShareId>()
        .map_err(FormError::text)
        .and_then(|share| fields.body(&[], &["reason"]).parse::<RevokeBody>().map(|body| body.into_command(share)));
    act(&app, &viewer, &id, &fields, "parties", command).await
}

#[derive(Template)]
#[template(path = "parties.html")]
struct PartiesPage {
    me: Option<Me>,
    csrf: String,
    error: Option<String>,
    parties: Vec<sitrep_core::org::PartyRecord>,
    is_admin: bool,
    kinds: Vec<(String, String)>,
}

fn party_kinds() -> Vec<(String, String)> {
    use sitrep_core::events::PartyKind as K;
    [K::Msp, K::CloudOperator, K::Vendor, K::Regulator, K::LawEnforcement, K::Counsel]
        .iter()
        .map(|k| {
            let key = serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            (key, k.as_str().to_owned())
        })
        .collect()
}

pub(super) async fn parties_page(State(app): State<AppState>, viewer: Viewer) -> Response {
    render_parties(&app, &viewer, None, StatusCode::OK)
}

fn render_parties(app: &AppState, viewer: &Viewer, error: Option<String>, status: StatusCode) -> Response {
    let org = app.ledger.org();
    let page = PartiesPage {
        me: Some(viewer.me(app)),
        csrf: viewer.csrf.clone(),
        error,
        parties: org.parties.values().cloned().collect(),
        is_admin: org.user(&viewer.user).is_some_and(|u| u.has(OrgRole::Admin)),
        kinds: party_kinds(),
    };
    render(&page, status)
}

/// The registry page's form as the API's `PartyBody`. Adapters: contacts one per line as
/// `name | role | email | phone`, authority one per line.
fn party_body(fields: &Fields) -> FormBody {
    let lines = |name: &str| -> Vec<String> {
        fields.get(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    };
    let contacts: Vec<serde_json::Value> = lines("contacts")
        .iter()
        .map(|line| {
            let mut cells = line.split('|').map(str::trim).map(|c| Some(c.to_owned()).filter(|c| !c.is_empty()));
            let contact = sitrep_core::events::Contact {
                name: cells.next().flatten().unwrap_or_default(),
                role: cells.next().flatten(),
                email: cells.next().flatten(),
                phone: cells.next().flatten(),
            };
            serde_json::to_value(contact).unwrap_or_default()
        })
        .collect();
    fields
        .body(&["name", "kind"], &["operates", "sharing_rule"])
        .with("party", fields.get("party").trim())
        .with("contacts", contacts)
        .with("authority", lines("authority"))
}

/// Registers a party from the registry page's form.
pub(super) async fn register_party(State(app): State<AppState>, viewer: Viewer, fields: Fields) -> Response {
    if let Some(refused) = csrf(&app, &viewer, &fields) {
        return refused;
    }
    let registered = party_body(&fields).parse::<PartyBody>().and_then(|body| body.register().map_err(said));
    let command = match registered {
        Ok((_, command)) => command,
        Err(message) => {
            return render_parties(&app, &viewer, Some(message.to_string()), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    match app.ledger.execute(&viewer.user, LedgerRequest::Org(command)).await {
        Ok(_) => Redirect::to("/parties").into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            render_parties(&app, &viewer, Some(error.to_string()), error.status())
        }
    }
}

#[cfg(test)]
mod tests {
    use sitrep_core::DecisionClass;
    use sitrep_core::decide::IncidentCommand;
    use sitrep_core::events::ActionSpec;

    use super::super::Fields;

    #[test]
    fn the_share_form_proposes_one_share_action() {
        let pairs = [("party", "acme-msp"), ("items", "aa, bb"), ("hours", " 24 ")];
        let fields = Fields(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        let expected = DecisionClass::parse("evidence_sharing").map(|class| IncidentCommand::Propose {
            class,
            title: "Share 2 evidence item(s) with acme-msp".into(),
            rationale: None,
            actions: vec![ActionSpec::Share {
                party: "acme-msp".into(),
                items: vec!["aa".into(), "bb".into()],
                expires_in_hours: 24,
            }],
            statement: None,
            clocks: Vec::new(),
        });
        let Ok(expected) = expected else { panic!("evidence_sharing is a decision class") };
        assert_eq!(super::share_proposal(&fields), Ok(expected));
    }
}
