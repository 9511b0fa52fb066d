//! Signing in through a real OpenID provider's own page (`tools/oidc/provider.mjs`) in Chromium:
//! sitrep's button, the provider's form, and back, signed in, where the person was going.

use sitrep_core::OrgRole;
use sitrep_server::config::OidcConfig;
use sitrep_testing::oidc::{CLIENT_ID, CLIENT_SECRET, PASSWORD, Provider, available};

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_on_the_providers_page_and_lands_where_they_were_going() {
    let Some(tools) = tools() else { return };
    if !available() {
        return;
    }
    let mut provider = None;
    let server = Server::start_configured(|config| {
        let base = format!("http://{}", config.listen);
        let started = Provider::start(&format!("{base}/auth/oidc/callback"));
        let table = format!(
            "name = \"Test IdP\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             just_in_time = true\n[roles]\n\"sitrep-admins\" = \"admin\"\n",
            started.issuer
        );
        config.oidc = Some(toml::from_str::<OidcConfig>(&table).expect("an [oidc] table"));
        config.public_url = Some(base);
        provider = Some(started);
    })
    .await;
    let _provider = provider.expect("the provider started");
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
