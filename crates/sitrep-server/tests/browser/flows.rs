//! People working an incident together through the forms, each in their own browser.

use std::time::Duration;

use serde_json::{Value, json};
use sitrep_core::decide::IncidentCommand;
use sitrep_core::events::DecisionState;
use sitrep_core::{DecisionClass, DecisionId};
use sitrep_store::Request;

use crate::harness::{DEMO_INCIDENT, Driver, LIVE, PATIENCE, Server, eventually, tools, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commander_approves_containment_and_the_tech_leads_open_page_shows_it_live() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    let tom = driver.browser(&server).await;

    // Maria declares, staffing the core roles in the same form (she is commander herself).
    maria.sign_in(&server, "maria").await;
    maria.open("/incidents/new").await;
    let form = "form[action='/incidents']";
    maria.type_into(&format!("{form} input[name=title]"), "Suspicious OAuth grant to an unknown app").await;
    maria.select(&format!("{form} select[name=severity]"), "sev1").await;
    for (role, person) in [("tech_lead", "tom"), ("legal", "lena"), ("comms", "chris"), ("executive", "eve")] {
        maria.select(&format!("{form} select[name=role_{role}]"), person).await;
    }
    maria.click(&format!("{form} button[type=submit]")).await;
    let incident = eventually("the new incident's command view", PATIENCE, || async {
        let path = maria.path().await;
        match path.strip_prefix("/incidents/INC-") {
            Some(number) if number != "1" => Ok(format!("INC-{number}")),
            _ => Err(path),
        }
    })
    .await;
    let roles = maria.js("return [...document.querySelectorAll('#roles .roles li')].map(li => li.textContent.replace(/\\s+/g, ' ').trim());", vec![]).await;
    let roles: Vec<&str> = roles.as_array().expect("the roles listed").iter().filter_map(Value::as_str).collect();
    for (role, person) in
        [("commander", "maria"), ("tech lead", "tom"), ("legal", "lena"), ("comms", "chris"), ("executive", "eve")]
    {
        assert!(
            roles.iter().any(|r| r.starts_with(role) && r.contains(person)),
            "the roles section shows {person} as {role}: {roles:?}"
        );
    }
    assert!(roles.iter().all(|r| !r.contains("blocker")), "no core role is left unfilled: {roles:?}");

    // Tom follows a link to it, signs in, logs a fact and proposes containment.
    tom.open(&format!("/incidents/{incident}")).await;
    assert_eq!(tom.path().await, "/login", "a signed-out visitor is asked to sign in first");
    tom.sign_in(&server, "tom").await;
    assert_eq!(tom.path().await, format!("/incidents/{incident}"), "signing in returns to the incident");
    let fact = "Consent granted to 'Mail Sync Pro' by 14 users since 01:10 UTC";
    tom.type_into("#facts form[action$='/facts'] textarea[name=text]", fact).await;
    tom.type_into("#facts form[action$='/facts'] input[name=source]", "Entra ID audit log").await;
    tom.click("#facts form[action$='/facts'] button[type=submit]").await;
    tom.wait_for_text("#facts .facts.unverified", fact, PATIENCE).await;

    let title = "Revoke the grant and block the app tenant-wide";
    tom.select("#decisions form[action$='/decisions'] select[name=class]", "containment").await;
    tom.type_into("#decisions form[action$='/decisions'] input[name=title]", title).await;
    tom.type_into("#decisions form[action$='/decisions'] textarea[name=rationale]", "The app reads mail of 14 users.")
        .await;
    tom.click("#decisions form[action$='/decisions'] button[type=submit]").await;
    let decision = tom.decision_id(title).await;
    assert_eq!(tom.decision_state(&decision).await, "proposed", "containment waits on the commander");
    let tom_path = tom.path().await;
    tom.js("window.__marker = 1;", vec![]).await;

    // Maria sees it waiting on her and approves it.
    maria.open(&format!("/incidents/{incident}")).await;
    eventually(&format!("{decision} under \"Needs your decision\" for maria"), PATIENCE, || async {
        let card = maria.decision_card("#needs-you", &decision, "").await;
        if card.contains(title) { Ok(()) } else { Err(maria.text("#needs-you").await) }
    })
    .await;
    let approve = format!("#needs-you form[action$='/decisions/{decision}/approve']");
    maria.type_into(&format!("{approve} input[name=note]"), "Go ahead").await;
    maria.click(&format!("{approve} button[type=submit]")).await;
    eventually("maria's page to show the approval", PATIENCE, || async {
        let state = maria.decision_state(&decision).await;
        if state == "approved" { Ok(()) } else { Err(state) }
    })
    .await;

    // Tom's page, never reloaded, shows it through the live stream.
    eventually("tom's open page to show the approval live", LIVE, || async {
        let state = tom.decision_state(&decision).await;
        let live = tom.text("[data-live-status]").await;
        if state == "approved" { Ok(()) } else { Err(format!("{decision} {state}; the live line says {live:?}")) }
    })
    .await;
    let card = tom.decision_card("#decisions", &decision, "").await;
    assert!(card.contains("approved by maria as commander"), "the approver, role and note are shown: {card}");
    assert!(card.contains("Go ahead"), "the approval's note is shown: {card}");
    assert_eq!(tom.js("return window.__marker === 1;", vec![]).await, json!(true), "tom's page was not reloaded");
    assert_eq!(tom.path().await, tom_path, "tom did not navigate");

    maria.close().await;
    tom.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_rejects_an_external_statement_with_a_reason_and_the_proposer_sees_why() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let chris = driver.browser(&server).await;
    let lena = driver.browser(&server).await;
    let page = format!("/incidents/{DEMO_INCIDENT}");

    chris.sign_in(&server, "chris").await;
    chris.open(&page).await;
    let title = "Status page: we are investigating unusual access to a storage account";
    chris.select("#decisions form[action$='/decisions'] select[name=class]", "external_statement").await;
    chris.type_into("#decisions form[action$='/decisions'] input[name=title]", title).await;
    chris.click("#decisions form[action$='/decisions'] button[type=submit]").await;
    let decision = chris.decision_id(title).await;
    assert_eq!(chris.decision_state(&decision).await, "proposed");

    lena.sign_in(&server, "lena").await;
    lena.open(&page).await;
    let card = lena.decision_card("#needs-you", &decision, "").await;
    assert!(card.contains(title), "{decision} waits on lena: {card}");
    let reason = "Do not mention the storage account until the data inventory is confirmed";
    let reject = format!("#needs-you form[action$='/decisions/{decision}/reject']");
    lena.type_into(&format!("{reject} input[name=note]"), reason).await;
    lena.click(&format!("{reject} button[type=submit]")).await;
    eventually("lena's page to show the rejection", PATIENCE, || async {
        let state = lena.decision_state(&decision).await;
        if state == "rejected" { Ok(()) } else { Err(state) }
    })
    .await;

    chris.open(&page).await;
    assert_eq!(chris.decision_state(&decision).await, "rejected", "the proposer sees it rejected");
    let rejection = chris.decision_card("#decisions", &decision, ".endorsements li.rejected").await;
    assert!(rejection.contains("rejected by lena as legal"), "who rejected, as what: {rejection}");
    assert!(rejection.contains(reason), "the reason is shown to the proposer: {rejection}");
    let register = chris.decision_card("#decisions", &decision, "").await;
    assert!(!register.contains("Waiting:"), "a rejected decision waits on nobody: {register}");

    chris.close().await;
    lena.close().await;
}

/// Whether a dialog is open: `Err` when the browser answered something other than "no such alert".
async fn dialog_text(browser: &crate::harness::Browser) -> Result<Option<String>, String> {
    match browser.client.get_alert_text().await {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_no_such_alert() => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_written_as_html_shows_as_text_and_runs_nothing() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let tom = driver.browser(&server).await;
    let maria = driver.browser(&server).await;
    let page = format!("/incidents/{DEMO_INCIDENT}");
    let payload = "<img src=x onerror=alert(1)>";

    // Maria keeps the incident open; the fact reaches her through the live update.
    maria.sign_in(&server, "maria").await;
    maria.open(&page).await;
    tom.sign_in(&server, "tom").await;
    tom.open(&page).await;
    tom.type_into("#facts form[action$='/facts'] textarea[name=text]", payload).await;
    tom.click("#facts form[action$='/facts'] button[type=submit]").await;

    for (who, browser, wait) in [("tom", &tom, PATIENCE), ("maria", &maria, LIVE)] {
        browser.wait_for_text("#facts .facts.unverified", payload, wait).await;
        // Give an injected image's error handler the time it would need, watching for a dialog.
        for _ in 0..10 {
            assert_eq!(dialog_text(browser).await, Ok(None), "no dialog opens on {who}'s page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let texts = browser
            .js("return [...document.querySelectorAll('#facts .fact p:first-child')].map(p => p.textContent);", vec![])
            .await;
        let shown = texts
            .as_array()
            .expect("a list of fact texts")
            .iter()
            .filter_map(Value::as_str)
            .any(|t| t.contains(payload));
        assert!(shown, "{who} sees the literal text {payload:?} among the facts: {texts}");
        assert!(
            browser.find_all("#facts img[src='x']").await.is_empty(),
            "no image element was created from the fact on {who}'s page"
        );
        assert_eq!(
            browser.js("return document.querySelectorAll('img').length;", vec![]).await,
            json!(0),
            "the command view has no images at all on {who}'s page"
        );
        let timeline = browser.text("#timeline").await;
        assert!(timeline.contains(payload), "the record shows the literal text to {who} too");
    }

    tom.close().await;
    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authority_there_is_no_approve_control_and_a_forged_approval_is_refused() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let incident = DEMO_INCIDENT.parse().expect("an incident id");
    let propose = IncidentCommand::Propose {
        class: DecisionClass::parse("containment").expect("a class"),
        title: "Block 203.0.113.50 at the edge firewall".into(),
        rationale: None,
        actions: Vec::new(),
        statement: None,
        clocks: Vec::new(),
    };
    server
        .ledger
        .execute(&user("tom"), Request::Incident { incident, command: propose })
        .await
        .expect("tom proposes containment");
    let decision = server.incident(DEMO_INCIDENT, |state| state.decisions.last().map(|d| d.id)).expect("a decision");
    let did = decision.to_string();
    let state_of =
        |id: DecisionId| server.incident(DEMO_INCIDENT, |s| s.decisions.iter().find(|d| d.id == id).map(|d| d.state));
    assert_eq!(state_of(decision), Some(DecisionState::Proposed));

    let driver = Driver::start(&tools).await;
    let eve = driver.browser(&server).await;
    eve.sign_in(&server, "eve").await;
    let page = format!("/incidents/{DEMO_INCIDENT}");
    eve.open(&page).await;
    let card = eve.decision_card("#decisions", &did, "").await;
    assert!(card.contains("Block 203.0.113.50"), "eve sees {did} in the register: {card}");
    let approve_buttons = eve
        .js(
            "return [...document.querySelectorAll('button')].filter(b => b.textContent.includes('Approve ' + arguments[0])).length;",
            vec![json!(did)],
        )
        .await;
    assert_eq!(approve_buttons, json!(0), "eve sees no Approve {did} control anywhere");
    assert!(
        eve.find_all(&format!("form[action$='/decisions/{did}/approve']")).await.is_empty(),
        "no form anywhere on eve's page approves {did}"
    );
    let card = eve.decision_card("#needs-you", &did, "").await;
    assert!(card.is_empty(), "{did} is not listed as waiting on eve's decision: {card}");

    // A form she was never offered, with her real security token, posted from her page.
    let forge = "const csrf = document.querySelector('input[name=csrf]').value;\
                 const form = document.createElement('form');\
                 form.method = 'post'; form.action = arguments[0];\
                 const token = document.createElement('input');\
                 token.type = 'hidden'; token.name = 'csrf'; token.value = csrf;\
                 form.appendChild(token); document.body.appendChild(form); form.submit();";
    let action = format!("/incidents/{DEMO_INCIDENT}/decisions/{did}/approve");
    eve.js(forge, vec![json!(action)]).await;
    let refusal = eventually("the refusal page", PATIENCE, || async {
        let text = eve.text("#refusal").await;
        if text.is_empty() { Err(eve.text("main").await) } else { Ok(text) }
    })
    .await;
    assert!(refusal.contains("containment"), "the reason names the class: {refusal}");
    assert!(refusal.contains("commander"), "the reason names who must approve: {refusal}");
    assert_eq!(eve.decision_state(&did).await, "proposed", "the page shows it still proposed");
    assert_eq!(state_of(decision), Some(DecisionState::Proposed), "the record has no approval");

    eve.close().await;
}
