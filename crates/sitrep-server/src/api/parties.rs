//! Third parties: the organisation's registry, engaging a party on an incident, and the share
//! links that approved `evidence_sharing` decisions create.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sitrep_core::OrgState;
use sitrep_core::decide::{IncidentCommand, OrgCommand};
use sitrep_core::events::{Contact, Party, PartyKind};
use sitrep_core::ids::ShareId;
use sitrep_core::org::PartyRecord;
use sitrep_core::view::{PartyView, ShareView};
use sitrep_store::Request;
use utoipa::ToSchema;

use super::{incident_number, read_view, written};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Segments};
use crate::state::AppState;
use crate::views;

/// A registry entry. `party` (the id) is required when registering; when replacing, the id is
/// in the path and `party`, if sent, must match it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyBody {
    /// The party's id: a-z, 0-9, '-' and '_'.
    #[schema(example = "acme-msp")]
    party: Option<String>,
    #[schema(schema_with = super::contract::title)]
    name: String,
    /// `msp`, `cloud_operator`, `vendor`, `regulator`, `law_enforcement` or `counsel`.
    #[schema(schema_with = super::contract::party_kind)]
    kind: PartyKind,
    /// `[{name, role?, email?, phone?}]`
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    contacts: Vec<Contact>,
    /// What they operate for us.
    #[schema(schema_with = super::contract::optional_short)]
    operates: Option<String>,
    /// The contractual authority we hold over them, one line each.
    #[serde(default)]
    #[schema(example = json!(["may suspend their integration", "may revoke their access"]))]
    authority: Vec<String>,
    /// Their evidence-sharing rule, in words.
    #[schema(schema_with = super::contract::optional_short)]
    sharing_rule: Option<String>,
}

impl PartyBody {
    fn into_party(self, party: String) -> Party {
        Party {
            party,
            name: self.name,
            kind: self.kind,
            contacts: self.contacts,
            operates: self.operates,
            authority: self.authority,
            sharing_rule: self.sharing_rule,
        }
    }
}

fn party_view(org: &OrgState, id: &str) -> Value {
    org.parties.get(id).map(|p| serde_json::to_value(p).unwrap_or_default()).unwrap_or_default()
}

/// Register a third party (admin).
#[utoipa::path(post, path = "/api/v1/parties", tag = "third parties", request_body = PartyBody,
    responses((status = 201, description = "The party", body = PartyRecord), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn register(
    State(app): State<AppState>,
    caller: Caller,
    body: Body<PartyBody>,
) -> Result<Response, ApiError> {
    let (id, command) = body.value.register()?;
    let receipt = app.ledger.execute_once(&caller.user, Request::Org(command), body.idempotency).await?;
    Ok(written(StatusCode::CREATED, &receipt, party_view(&app.ledger.org(), &id)))
}

/// The third-party registry.
#[utoipa::path(get, path = "/api/v1/parties", tag = "third parties",
    responses((status = 200, description = "`{parties: [...]}`", body = PartyList)), security(("token" = []), ("session" = [])))]
pub async fn list(State(app): State<AppState>, _caller: Caller) -> Json<Value> {
    let org = app.ledger.org();
    Json(views::json(PartyList { parties: org.parties.values().collect() }))
}

/// The third-party registry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PartyList<'a> {
    parties: Vec<&'a PartyRecord>,
}

/// The parties engaged on the incident, each with its registry entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EngagedParties<'a> {
    parties: Vec<PartyView<'a>>,
}

/// The incident's share links.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareList<'a> {
    shares: Vec<ShareView<'a>>,
}

/// Replace a registered party's entry (admin).
#[utoipa::path(put, path = "/api/v1/parties/{party}", tag = "third parties", request_body = PartyBody,
    params(("party" = String, Path)),
    responses((status = 200, description = "The party", body = PartyRecord), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Segments(party): Segments<String>,
    body: Body<PartyBody>,
) -> Result<Response, ApiError> {
    if body.value.party.as_ref().is_some_and(|named| *named != party) {
        return Err(ApiError::invalid("party", format!("the body names another party than the path ('{party}')")));
    }
    let command = OrgCommand::UpdateParty(body.value.into_party(party.clone()));
    let receipt = app.ledger.execute_once(&caller.user, Request::Org(command), body.idempotency).await?;
    Ok(written(StatusCode::OK, &receipt, party_view(&app.ledger.org(), &party)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngageBody {
    #[schema(example = "acme-msp")]
    party: String,
    #[schema(schema_with = super::contract::optional_short)]
    reason: Option<String>,
}

/// Engage a registered party on the incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/parties", tag = "third parties", request_body = EngageBody,
    params(("id" = String, Path, description = "INC-<n>")),
    responses((status = 201, description = "The engaged parties with their registry entries", body = EngagedParties), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn engage(
    State(app): State<AppState>,
    caller: Caller,
    Segments(id): Segments<String>,
    body: Body<EngageBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let command = body.value.into_command();
    let receipt =
        app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body.idempotency).await?;
    let view = read_view(&app, &caller, incident, |view| views::json(EngagedParties { parties: view.parties() }))?;
    Ok(written(StatusCode::CREATED, &receipt, view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[schema(schema_with = super::contract::optional_short)]
    reason: Option<String>,
}

/// Revoke a share link: it stops working at once.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/shares/{sid}/revoke", tag = "third parties", request_body = RevokeBody,
    params(("id" = String, Path, description = "INC-<n>"), ("sid" = String, Path, description = "SH-<n>")),
    responses((status = 200, description = "`{shares: [...]}`", body = ShareList), (status = "4XX", body = Problem)),
    security(("token" = []), ("session" = [])))]
pub async fn revoke_share(
    State(app): State<AppState>,
    caller: Caller,
    Segments((id, sid)): Segments<(String, String)>,
    body: Body<RevokeBody>,
) -> Result<Response, ApiError> {
    let incident = incident_number(&app, &caller, &id)?;
    let share: ShareId =
        sid.parse().map_err(|_| ApiError::NotFound(format!("there is no share {sid}; share ids look like SH-1")))?;
    let command = body.value.into_command(share);
    let receipt =
        app.ledger.execute_once(&caller.user, Request::Incident { incident, command }, body.idempotency).await?;
    let view = read_view(&app, &caller, incident, |view| {
        views::json(ShareList { shares: view.shares_linked(|share| views::share_url(&app, view.state(), share)) })
    })?;
    Ok(written(StatusCode::OK, &receipt, view).into_response())
}

// Each body's command, shared by this route and the web form for the same command
// (`web/`), so a command is parsed and converted in one place.

impl PartyBody {
    /// The party's id and the command registering it; the id is required here.
    pub(crate) fn register(self) -> Result<(String, OrgCommand), ApiError> {
        let Some(id) = self.party.clone() else {
            return Err(ApiError::invalid("party", "name the party's id (a-z, 0-9, '-' and '_')"));
        };
        Ok((id.clone(), OrgCommand::RegisterParty(self.into_party(id))))
    }
}

impl EngageBody {
    pub(crate) fn into_command(self) -> IncidentCommand {
        let EngageBody { party, reason } = self;
        IncidentCommand::EngageParty { party, reason }
    }
}

impl RevokeBody {
    pub(crate) fn into_command(self, share: ShareId) -> IncidentCommand {
        IncidentCommand::RevokeShare { share, reason: self.reason }
    }
}
