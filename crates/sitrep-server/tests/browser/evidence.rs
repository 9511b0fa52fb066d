//! Evidence and statements through the command view, in a real browser.

use serde_json::{Value, json};
use sitrep_core::events::DecisionState;

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools};

/// The demo's press holding statement, waiting on legal.
const PRESS: &str = "ST-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_file_uploaded_as_evidence_is_listed_as_text_downloaded_as_an_attachment_and_its_custody_shows() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let tom = driver.browser(&server).await;
    tom.sign_in(&server, "tom").await;
    tom.open(&format!("/incidents/{DEMO_INCIDENT}")).await;

    // A hostile name and hostile content: the name is shown as text and the file never renders.
    let dir = tempfile::tempdir().expect("a directory for the upload");
    let name = "<img src=x onerror=window.__pwned=1>.html";
    let path = dir.path().join(name);
    std::fs::write(&path, "<!doctype html><script>window.__pwned = 1</script><h1>phish</h1>").expect("the file");
    let form = "#evidence form[enctype='multipart/form-data']";
    tom.find(&format!("{form} input[type=file]"))
        .await
        .send_keys(&path.display().to_string())
        .await
        .expect("choosing the file");
    tom.type_into(&format!("{form} input[name=source]"), "phishing mailbox export").await;
    tom.click(&format!("{form} button[type=submit]")).await;
    tom.wait_for_text("#evidence", name, PATIENCE).await;
    let shown = tom
        .js(
            "const h = [...document.querySelectorAll('#evidence .evidence-name')].find(e => e.textContent.includes(arguments[0])); \
             return h ? [h.textContent, h.children.length, !!window.__pwned, document.querySelectorAll('#evidence img').length] : null;",
            vec![json!(name)],
        )
        .await;
    assert_eq!(shown, json!([name, 0, false, 0]), "the name shows as plain text and nothing in it ran");
    let (sha256, sniffed) = server.incident(DEMO_INCIDENT, |state| {
        let item = state.evidence.iter().find(|i| i.name == name).expect("the upload is registered");
        (item.sha256.clone(), item.sniffed_type.clone())
    });
    assert_eq!(sniffed.as_deref(), Some("text/html"), "the first bytes say HTML, whatever the name says");

    // Downloading it (as the form does, with a purpose) gives an attachment nobody's browser
    // renders, and the download is in the chain of custody.
    let url = format!("/api/v1/incidents/{DEMO_INCIDENT}/evidence/{sha256}?purpose=triage%20of%20the%20phish");
    let headers = tom
        .js(
            "return fetch(arguments[0]).then(r => r.text().then(body => [r.status, r.headers.get('content-type'), \
             r.headers.get('content-disposition').startsWith('attachment'), r.headers.get('x-content-type-options'), \
             r.headers.get('content-security-policy'), body.length]));",
            vec![json!(url)],
        )
        .await;
    assert_eq!(
        headers,
        json!([200, "application/octet-stream", true, "nosniff", "default-src 'none'; sandbox", 64]),
        "served as an opaque, sandboxed attachment"
    );
    tom.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let custody = tom
        .js(
            "const a = [...document.querySelectorAll('#evidence article.evidence')].find(e => e.querySelector('.evidence-name').textContent === arguments[0]); \
             return [...a.querySelectorAll('.custody li')].map(li => li.textContent);",
            vec![json!(name)],
        )
        .await;
    let custody: Vec<&str> = custody.as_array().expect("a custody list").iter().filter_map(Value::as_str).collect();
    assert_eq!(custody.len(), 2, "registration, then the download: {custody:?}");
    assert!(custody[0].contains("registered it by tom"), "{custody:?}");
    assert!(custody[1].contains("downloaded by tom: triage of the phish"), "{custody:?}");

    // The executive is not among those the policy lets read evidence: no names, no forms.
    let eve = driver.browser(&server).await;
    eve.sign_in(&server, "eve").await;
    eve.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let page = eve.text("main").await;
    assert!(page.contains("Evidence is shown to those the policy lets read it"), "{page}");
    assert!(!page.contains(name) && !page.contains("cloudtrail-prod-deployer"), "no evidence name reaches eve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_approves_the_press_statement_and_comms_publishes_exactly_that_text() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let chris = driver.browser(&server).await;
    chris.sign_in(&server, "chris").await;
    chris.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let publish = format!("#statements form[action$='/statements/{PRESS}/publish']");
    assert!(chris.find_all(&publish).await.is_empty(), "no publish control before approval");

    let lena = driver.browser(&server).await;
    lena.sign_in(&server, "lena").await;
    lena.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let decision = server.incident(DEMO_INCIDENT, |state| {
        state
            .decisions
            .iter()
            .find(|d| d.statement.as_ref().is_some_and(|s| s.statement.to_string() == PRESS))
            .map(|d| d.id)
    });
    let decision = decision.expect("the demo's press statement is proposed").to_string();
    lena.click(&format!("#needs-you form[action$='/decisions/{decision}/approve'] button[type=submit]")).await;
    eventually("the statement's approval", PATIENCE, || async {
        let state = server
            .incident(DEMO_INCIDENT, |s| s.decisions.iter().find(|d| d.id.to_string() == decision).map(|d| d.state));
        if state == Some(DecisionState::Approved) { Ok(()) } else { Err(format!("{state:?}")) }
    })
    .await;

    chris.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    chris.type_into(&format!("{publish} input[name=channel]"), "press office").await;
    chris.click(&format!("{publish} button[type=submit]")).await;
    chris.wait_for_text(&format!("#statement-{PRESS} .publications"), "on press office by chris", PATIENCE).await;
    let published = server.incident(DEMO_INCIDENT, |state| {
        let statement = state.statements.iter().find(|s| s.id.to_string() == PRESS).expect("the statement");
        (statement.publications.len(), statement.publications[0].sha256 == statement.latest().sha256)
    });
    assert_eq!(published, (1, true), "exactly the approved text went out");

    // A revision needs a new approval before it can go out again.
    let revise = format!("#statements form[action$='/statements/{PRESS}/revise']");
    chris.type_into(&format!("{revise} textarea[name=text]"), " We have now contained it.").await;
    chris.click(&format!("{revise} button[type=submit]")).await;
    chris.wait_for_text(&format!("#statement-{PRESS}"), "v2 is not approved", PATIENCE).await;
    assert!(chris.find_all(&publish).await.is_empty(), "no publish control for an unapproved revision");
}
