//! Signing in through a real OpenID provider's own page (`tools/oidc/provider.mjs`) in Chromium:
//! sitrep's button, the provider's form, and back, signed in, where the person was going.

use sitrep_core::authn::{AuthMethod, Authentication};
use sitrep_core::decide::{IncidentCommand, OrgCommand};
use sitrep_core::events::Audience;
use sitrep_core::policy::Policy;
use sitrep_core::{IncidentNumber, OrgRole, Role};
use sitrep_server::config::OidcConfig;
use sitrep_store::Request;
use sitrep_testing::oidc::{CLIENT_ID, CLIENT_SECRET, OTP, PASSWORD, Provider, available};

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools, user};

/// The demo server, signing in through a provider started for it whose `group` maps to `role`.
async fn start_with_provider(group: &str, role: &str) -> (Server, Provider) {
    let mut provider = None;
    let server = Server::start_configured(|config| {
        let base = format!("http://{}", config.listen);
        let started = Provider::start(&format!("{base}/auth/oidc/callback"));
        let table = format!(
            "name = \"Test IdP\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             just_in_time = true\n[roles]\n\"{group}\" = \"{role}\"\n",
            started.issuer
        );
        config.oidc = Some(toml::from_str::<OidcConfig>(&table).expect("an [oidc] table"));
        config.public_url = Some(base);
        provider = Some(started);
    })
    .await;
    (server, provider.expect("the provider started"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_on_the_providers_page_and_lands_where_they_were_going() {
    let Some(tools) = tools() else { return };
    if !available() {
        return;
    }
    let (server, _provider) = start_with_provider("sitrep-admins", "admin").await;
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;

    let going = format!("/incidents/{DEMO_INCIDENT}");
    browser.open(&format!("/login?next={going}")).await;
    browser.click("#sign-in-provider").await;
    // The provider's own page, on its own origin.
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#submit").await;
    eventually("alice back at sitrep, signed in", PATIENCE, || async {
        let path = browser.path().await;
        if path == going { Ok(()) } else { Err(path) }
    })
    .await;
    assert!(browser.text("header .who").await.contains("Alice Admin"), "the header names her");
    let org = server.ledger.org();
    let alice = org.user(&user("alice")).expect("alice was provisioned");
    assert!(alice.has(OrgRole::Admin));
    browser.close().await;
}

/// The whole story: a person the provider knows signs in, is provisioned with the role
/// their group maps to, and approves an external statement whose class asks for a recent
/// multi-factor sign-in: the first try sends them back to the provider, which asks again (with
/// the one-time code), and the approval's entry names how they authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_person_steps_up_through_the_provider_to_approve_an_external_statement() {
    let Some(tools) = tools() else { return };
    if !available() {
        return;
    }
    let (server, provider) = start_with_provider("sitrep-legal", "member").await;
    let ledger = &server.ledger;
    let incident: IncidentNumber = DEMO_INCIDENT.parse().expect("the demo incident's number");

    // External statements now need a sign-in within 15 minutes, with MFA.
    let source = format!("mfa_acr = [\"urn:sitrep:mfa\"]\n{}", Policy::default_policy().source).replacen(
        "[classes.external_statement]\n",
        "[classes.external_statement]\nstep_up = { within_minutes = 15, mfa = true }\n",
        1,
    );
    ledger.execute(&user("admin"), Request::Org(OrgCommand::ReplacePolicy { source })).await.expect("replaced");

    // Lee signs in through the provider with a password alone, and is provisioned.
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;
    let page = format!("/incidents/{DEMO_INCIDENT}");
    browser.open(&format!("/login?next={page}")).await;
    browser.click("#sign-in-provider").await;
    browser.type_into("#username", "lee").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#submit").await;
    let lee = user("lee");
    eventually("lee provisioned", PATIENCE, || async {
        let org = ledger.org();
        match org.user(&lee) {
            Some(found) if found.has(OrgRole::Member) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // The commander makes Lee legal; Chris drafts a statement and proposes it from a fresh
    // MFA sign-in (the comms endorsement), so it waits on legal.
    let act = |by: &'static str, command: IncidentCommand| async move {
        let mfa = Authentication {
            method: AuthMethod::Oidc,
            at: sitrep_store::time::now(),
            issuer: Some("https://idp.example".into()),
            acr: Some("urn:sitrep:mfa".into()),
            amr: vec!["pwd".into(), "otp".into()],
        };
        let request = Request::IncidentInSession { incident, command, authentication: mfa };
        ledger.execute(&user(by), request).await
    };
    let role = Role::parse("legal").expect("a role");
    act("maria", IncidentCommand::AssignRole { role, user: lee.clone(), unit: None }).await.expect("assigned");
    let draft = IncidentCommand::DraftStatement {
        audience: Audience::Press,
        title: "Holding statement".into(),
        text: "We are investigating unauthorised access to a build system.".into(),
    };
    let drafted = act("chris", draft).await.expect("drafted");
    let statement = field(&drafted.entries[0].body, "statement").parse().expect("a statement id");
    let propose = IncidentCommand::Propose {
        class: "external_statement".parse().expect("a class"),
        title: "Publish the holding statement".into(),
        rationale: None,
        actions: Vec::new(),
        statement: Some(statement),
        clocks: Vec::new(),
    };
    let proposed = act("chris", propose).await.expect("proposed");
    let decision = field(&proposed.entries[0].body, "decision");

    // Lee approves from the page: the password-only sign-in is not enough, so the provider
    // asks again, this time with the one-time code, and Lee lands back on the decision.
    let approve = format!("#needs-you form[action$='/decisions/{decision}/approve'] button[type=submit]");
    eventually("lee at the incident", PATIENCE, || async {
        let path = browser.path().await;
        if path == page { Ok(()) } else { Err(path) }
    })
    .await;
    browser.open(&page).await;
    browser.click(&approve).await;
    eventually("sitrep's page asking to sign in again", PATIENCE, || async {
        let path = browser.path().await;
        if path == "/login" { Ok(()) } else { Err(path) }
    })
    .await;
    assert!(browser.text("main").await.contains("asks for a recent sign-in"));
    browser.click("#sign-in-provider").await;
    eventually("the provider's sign-in page again", PATIENCE, || async {
        if browser.find_all("#otp").await.is_empty() { Err(browser.path().await) } else { Ok(()) }
    })
    .await;
    browser.type_into("#username", "lee").await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#otp", OTP).await;
    browser.click("#submit").await;
    eventually("lee back at the incident", PATIENCE, || async {
        let url = browser.js("return location.pathname + location.hash;", vec![]).await;
        if url.as_str() == Some(&format!("{page}#decision-{decision}")) { Ok(()) } else { Err(url.to_string()) }
    })
    .await;
    // Landed on the decision itself (scrolled under the sticky header): from the top again.
    browser.open(&page).await;
    browser.click(&approve).await;
    eventually("the statement approved", PATIENCE, || async {
        let state = browser.decision_state(&decision).await;
        if state == "approved" { Ok(()) } else { Err(state) }
    })
    .await;

    let approved = server.incident(DEMO_INCIDENT, |state| {
        let decision = state.decisions.iter().find(|d| d.id.to_string() == decision).expect("the decision");
        decision.approvals.iter().find(|a| a.user == lee).and_then(|a| a.authentication.clone())
    });
    let how = approved.expect("Lee's approval records how Lee signed in");
    assert_eq!(how.method, AuthMethod::Oidc);
    assert_eq!(how.acr.as_deref(), Some("urn:sitrep:mfa"));
    assert_eq!(how.amr, ["pwd", "otp"]);
    assert_eq!(how.issuer.as_deref(), Some(provider.issuer.as_str()));
    browser.close().await;
}

/// A field of an entry's body, as text.
fn field(body: &str, name: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("an entry body is JSON");
    value[name].as_str().unwrap_or_else(|| panic!("no {name} in {body}")).to_owned()
}
