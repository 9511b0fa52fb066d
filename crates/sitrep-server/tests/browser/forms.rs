//! Forms that forgive, in a real browser: a refused submit keeps every typed value and puts
//! the reason beside the field at fault; a section updating live keeps the draft typed in it.

use serde_json::{Value, json};
use sitrep_core::decide::IncidentCommand;
use sitrep_store::Request;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, LIVE, PATIENCE, Server, eventually, tools, user};

/// One thing a person does to a form field.
enum Typed<'a> {
    /// Types into the field with this name.
    Text(&'a str, &'a str),
    /// Chooses the option with this value in the select with this name.
    Choose(&'a str, &'a str),
    /// Ticks the checkbox or radio with this name and value.
    Tick(&'a str, &'a str),
    /// Sets a date-time field (typing into one depends on the browser's locale).
    When(&'a str, &'a str),
    /// Chooses this file in the file field with this name.
    File(&'a str, &'a str),
}

/// Every named field of the form, as `name` (or `name=value` for a checkbox or radio) to its
/// value (`true`/`false` when ticked or not; a file field's chosen file name), and the state
/// of the refusal shown in it, tied to the field named in `arguments[1]`.
const FORM_STATE: &str = "const form = document.querySelector(arguments[0]);\
    const error = form && form.querySelector('[data-form-error]');\
    if (!error) { return null; }\
    const field = arguments[1] ? [...form.elements].find(e => e.name === arguments[1] && e.type !== 'hidden') : null;\
    const values = {};\
    for (const e of form.elements) {\
      if (!e.name || e.type === 'hidden' || e.type === 'submit') { continue; }\
      if (e.type === 'checkbox' || e.type === 'radio') { values[e.name + '=' + e.value] = String(e.checked); }\
      else if (e.type === 'file') { values[e.name] = e.files.length ? e.files[0].name : ''; }\
      else { values[e.name] = e.value; }\
    }\
    return { values, message: error.textContent, role: error.getAttribute('role'), marker: window.__marker === 1,\
      tied: field ? (field.getAttribute('aria-describedby') || '').split(' ').includes(error.id) : null,\
      invalid: field ? field.getAttribute('aria-invalid') : null,\
      focused: field ? document.activeElement === field : null };";

/// Fills the form `form` selects as `typed` says, submits it, and checks that it was refused
/// without leaving the page, that every typed value is still there, and that the reason is
/// beside `at_fault` (announced, described by, focused). Returns the reason.
async fn refused_keeps_what_was_typed(browser: &Browser, form: &str, typed: &[Typed<'_>], at_fault: &str) -> String {
    browser.js("window.__marker = 1;", vec![]).await;
    let mut expected: Vec<(String, String)> = Vec::new();
    for step in typed {
        match step {
            Typed::Text(name, value) => {
                browser.type_into(&format!("{form} [name='{name}']"), value).await;
                expected.push(((*name).to_owned(), (*value).to_owned()));
            }
            Typed::Choose(name, value) => {
                // By the option's value, also where it is only its text (`<option>tom</option>`).
                let choose = "const s = document.querySelector(arguments[0]); \
                              const o = [...s.options].find(o => o.value === arguments[1]); \
                              if (!o) { return false; } o.selected = true; \
                              s.dispatchEvent(new Event('change', {bubbles: true})); return true;";
                let chosen =
                    browser.js(choose, vec![json!(format!("{form} select[name='{name}']")), json!(value)]).await;
                assert_eq!(chosen, json!(true), "{form}: {name} offers {value}");
                expected.push(((*name).to_owned(), (*value).to_owned()));
            }
            Typed::Tick(name, value) => {
                browser.click(&format!("{form} input[name='{name}'][value='{value}']")).await;
                expected.push((format!("{name}={value}"), "true".to_owned()));
            }
            Typed::When(name, value) => {
                let set = "const f = document.querySelector(arguments[0]); f.value = arguments[1]; \
                           f.dispatchEvent(new Event('input', {bubbles: true}));";
                browser.js(set, vec![json!(format!("{form} [name='{name}']")), json!(value)]).await;
                expected.push(((*name).to_owned(), (*value).to_owned()));
            }
            Typed::File(name, path) => {
                browser.find(&format!("{form} input[name='{name}']")).await.send_keys(path).await.expect("a file");
                let file = std::path::Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or_default();
                expected.push(((*name).to_owned(), file.to_owned()));
            }
        }
    }
    browser.click(&format!("{form} button[type=submit]")).await;
    let state = eventually(&format!("the refusal inside {form}"), PATIENCE, || async {
        let state = browser.js(FORM_STATE, vec![json!(form), json!(at_fault)]).await;
        if state.is_null() { Err(browser.text("#refusal").await) } else { Ok(state) }
    })
    .await;
    let message = state["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(state["marker"], json!(true), "{form}: the page was not replaced ({message})");
    for (name, value) in &expected {
        assert_eq!(state["values"][name], json!(value), "{form}: {name} keeps what was typed ({message})");
    }
    assert_eq!(state["role"], json!("alert"), "{form}: the reason is announced");
    assert_eq!(state["tied"], json!(true), "{form}: {at_fault} is described by the reason {message:?}");
    assert_eq!(state["invalid"], json!("true"), "{form}: {at_fault} is marked invalid");
    assert_eq!(state["focused"], json!(true), "{form}: focus is on {at_fault}");
    assert!(!message.contains('_') || message.contains('“'), "{form}: no API field names in {message:?}");
    message
}

/// Records a lesson as the commander, so that the review offers a control-change form.
async fn record_lesson(server: &Server) {
    let incident = DEMO_INCIDENT.parse().expect("the demo incident");
    let lesson = IncidentCommand::RecordLesson {
        what_happened: "The key sat in a public repository for a day".into(),
        why: "No secret scanning on push".into(),
        change: "Scan every push for secrets".into(),
    };
    server.ledger.execute(&user("maria"), Request::Incident { incident, command: lesson }).await.expect("a lesson");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refused_form_of_the_command_view_keeps_what_was_typed_with_the_reason_at_its_field() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    record_lesson(&server).await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let page = format!("/incidents/{DEMO_INCIDENT}");

    let fact = format!("#facts form[action='{page}/facts']");
    let said = refused_keeps_what_was_typed(
        &maria,
        &fact,
        &[
            Typed::Text("text", "The key was seen in a public gist"),
            Typed::Text("source", "GitHub secret scanning"),
            Typed::Text("backfill_reason", "The alert went to an old mailbox"),
        ],
        "backfill_reason",
    )
    .await;
    assert!(said.starts_with("Why only now:") && said.contains("“When it happened”"), "in the form's words: {said}");

    let propose = format!("#decisions form[action='{page}/decisions']");
    refused_keeps_what_was_typed(
        &maria,
        &propose,
        &[Typed::Choose("class", "containment"), Typed::Text("title", "   "), Typed::Text("rationale", "It is live")],
        "title",
    )
    .await;

    let task = format!("#tasks form[action='{page}/tasks']");
    refused_keeps_what_was_typed(
        &maria,
        &task,
        &[Typed::Text("title", "  "), Typed::Choose("owner", "tom"), Typed::When("due", "2030-01-02T09:30")],
        "title",
    )
    .await;

    let dir = tempfile::tempdir().expect("a directory for the upload");
    let file = dir.path().join("cloudtrail-extra.json");
    std::fs::write(&file, "{\"Records\": []}").expect("the file");
    let evidence = "#evidence form[enctype='multipart/form-data']";
    let said = refused_keeps_what_was_typed(
        &maria,
        evidence,
        &[
            Typed::File("file", &file.display().to_string()),
            Typed::Text("source", "CloudTrail export"),
            Typed::Text("collected_by", "maria"),
            // A date-time picker now: the refusal is a collection time in the future.
            Typed::When("collected_at", "2030-01-02T09:30"),
        ],
        "collected_at",
    )
    .await;
    assert!(said.starts_with("Collected at:") && said.contains("is in the future"), "{said}");

    let change = format!("#review form[action='{page}/review/changes']");
    let said = refused_keeps_what_was_typed(
        &maria,
        &change,
        &[
            Typed::Text("title", "Secret scanning on every push"),
            Typed::Choose("owner", "tom"),
            Typed::When("due", "2030-03-01T12:00"),
            Typed::Text("csf", "PR.AA-99"),
        ],
        "csf",
    )
    .await;
    assert!(said.starts_with("NIST CSF 2.0 subcategory:"), "{said}");

    let statement = format!("#statements form[action='{page}/statements']");
    refused_keeps_what_was_typed(
        &maria,
        &statement,
        &[Typed::Choose("audience", "customers"), Typed::Text("title", "   "), Typed::Text("text", "We are on it.")],
        "title",
    )
    .await;

    let share = format!("#parties form[action='{page}/shares']");
    let hours = format!("{share} input[name=hours]");
    let lifetime = maria.find(&hours).await;
    maria.unfold(&lifetime).await;
    lifetime.clear().await.expect("clearing the lifetime");
    refused_keeps_what_was_typed(&maria, &share, &[Typed::Text("hours", "12")], "items").await;

    let playbook = format!("#playbooks form[action='{page}/playbooks']");
    let said = refused_keeps_what_was_typed(
        &maria,
        &playbook,
        &[
            Typed::Tick("playbook", "compromised-service-account"),
            Typed::Text("input.compromised-service-account.system", "prod AWS account 4411"),
        ],
        "input.compromised-service-account.account",
    )
    .await;
    assert!(said.starts_with("The playbook input “account”"), "{said}");

    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_declaration_keeps_everything_typed_with_and_without_javascript() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open("/incidents/new").await;
    let form = "form[action='/incidents']";
    let typed = [
        Typed::Text("title", "Deploy key pushed to a public repository"),
        Typed::Choose("severity", "sev1"),
        Typed::Tick("playbook", "leaked-secret"),
        Typed::Text("input.leaked-secret.provider", "AWS"),
        Typed::Text("input.leaked-secret.repository", "github.com/acme/infra-scripts"),
        Typed::Choose("role_tech_lead", "tom"),
        Typed::Tick("restricted", "on"),
    ];
    let said = refused_keeps_what_was_typed(&maria, form, &typed, "input.leaked-secret.key_id").await;
    assert!(said.starts_with("The playbook input “key id”"), "{said}");
    let shown =
        "return [arguments[0], arguments[1]].map(id => document.getElementById(id).getClientRects().length > 0);";
    let shown = maria.js(shown, vec![json!("pb-leaked-secret-key_id"), json!("pb-oauth-grant-abuse-app_name")]).await;
    assert_eq!(shown, json!([true, false]), "only the chosen playbook's inputs show");

    // Without the script, the form posts and the server's page has it all filled in again.
    maria.js("document.querySelector(arguments[0]).submit();", vec![json!(form)]).await;
    eventually("the server's refusal page", PATIENCE, || async {
        let text = maria.text("#refusal").await;
        if text.contains("key id") { Ok(()) } else { Err(text) }
    })
    .await;
    let refilled = maria
        .js(
            "const f = document.querySelector(arguments[0]);\
             return [f.title.value, f.severity.value, f.querySelector('[value=\"leaked-secret\"]').checked,\
                     f.elements['input.leaked-secret.provider'].value, f.elements['input.leaked-secret.repository'].value,\
                     f.role_tech_lead.value, f.restricted.checked, document.getElementById('refusal').dataset.field];",
            vec![json!(form)],
        )
        .await;
    assert_eq!(
        refilled,
        json!([
            "Deploy key pushed to a public repository",
            "sev1",
            true,
            "AWS",
            "github.com/acme/infra-scripts",
            "tom",
            true,
            "input.leaked-secret.key_id"
        ]),
        "the server fills the declaration back in and names the field"
    );

    // Given the missing input, it is declared with the inputs read from their own fields.
    maria.type_into(&format!("{form} [name='input.leaked-secret.key_id']"), "AKIAEXAMPLE7QXZ").await;
    maria.click(&format!("{form} button[type=submit]")).await;
    let declared = eventually("the new incident's page", PATIENCE, || async {
        let path = maria.path().await;
        if path.starts_with("/incidents/INC-") { Ok(path) } else { Err(path) }
    })
    .await;
    let id = declared.trim_start_matches("/incidents/").to_owned();
    let inputs = server.incident(&id, |state| state.playbooks.first().map(|p| (p.id.clone(), p.inputs.clone())));
    let (playbook, inputs) = inputs.expect("the playbook started at declaration");
    assert_eq!(playbook, "leaked-secret");
    assert_eq!(inputs.get("key_id").map(String::as_str), Some("AKIAEXAMPLE7QXZ"));
    assert_eq!(inputs.get("provider").map(String::as_str), Some("AWS"));
    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_section_updates_live_while_someone_types_in_it_and_the_draft_survives() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let tom = driver.browser(&server).await;
    tom.sign_in(&server, "tom").await;
    tom.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    tom.js("window.__marker = 1;", vec![]).await;
    let form = format!("#facts form[action='/incidents/{DEMO_INCIDENT}/facts']");
    tom.type_into(&format!("{form} textarea[name=text]"), "Half-written: the runner cache still").await;
    tom.type_into(&format!("{form} input[name=source]"), "runner logs").await;
    tom.click(&format!("{form} textarea[name=text]")).await;

    // Maria logs a fact through the API-side ledger while tom types in the same section.
    let incident = DEMO_INCIDENT.parse().expect("the demo incident");
    let fact = IncidentCommand::LogFact {
        text: "The key was used from 203.0.113.50".into(),
        source: None,
        status: sitrep_core::events::FactStatus::Unverified,
        basis: None,
        occurred: None,
    };
    server.ledger.execute(&user("maria"), Request::Incident { incident, command: fact }).await.expect("a fact");
    tom.wait_for_text("#facts .facts.unverified", "203.0.113.50", LIVE).await;

    let state = tom
        .js(
            "const f = document.querySelector(arguments[0]);\
             return [f.text.value, f.source.value, document.activeElement === f.text, window.__marker === 1,\
                     document.querySelector('[data-live-status]').textContent];",
            vec![json!(form)],
        )
        .await;
    let Value::Array(state) = state else { panic!("no form state: {state}") };
    assert_eq!(state[0], json!("Half-written: the runner cache still"), "the draft survives the update");
    assert_eq!(state[1], json!("runner logs"));
    assert_eq!(state[2], json!(true), "the caret stays in the draft");
    assert_eq!(state[3], json!(true), "the page was not reloaded");
    let line = state[4].as_str().unwrap_or_default();
    assert!(line.contains("updated") && line.contains("draft") && !line.contains("reload"), "{line}");

    // And the kept form still works: finished and sent, it is logged.
    tom.type_into(&format!("{form} textarea[name=text]"), " holds the key").await;
    tom.click(&format!("{form} button[type=submit]")).await;
    tom.wait_for_text("#facts .facts.unverified", "the runner cache still holds the key", PATIENCE).await;
    tom.close().await;
}
