//! Accessibility smoke checks: labelled controls, one heading per page, visible focus, and a
//! Content-Security-Policy that allows no inline script.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{Value, json};

use crate::harness::{Browser, DEMO_INCIDENT, Driver, PATIENCE, Server, tools};
use crate::screenshots::{become_, pages};

/// Form controls (hidden inputs aside) that have no accessible label: none wrapping them or
/// pointing at them (as the browser resolves `for`), and no `aria-label(ledby)`.
const UNLABELLED: &str = "return [...document.querySelectorAll('input, select, textarea')]\
    .filter(c => c.type !== 'hidden')\
    .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby'))\
    .map(c => c.outerHTML.slice(0, 160));";

/// Ids used by more than one element; a duplicated id points a `<label for>` (and a link's
/// `#fragment`) at the first one only.
const DUPLICATE_IDS: &str = "const seen = new Map();\
    document.querySelectorAll('[id]').forEach(e => seen.set(e.id, (seen.get(e.id) || 0) + 1));\
    return [...seen].filter(([, n]) => n > 1).map(([id, n]) => id + ' x' + n);";

async fn strings(browser: &Browser, script: &str) -> Vec<String> {
    match browser.js(script, vec![]).await {
        Value::Array(items) => items.into_iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
        other => panic!("{script} returned {other}"),
    }
}

async fn press_tab(browser: &Browser) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: Key::Tab.into() })
        .then(KeyAction::Up { value: Key::Tab.into() });
    browser.client.perform_actions(keys).await.expect("pressing Tab");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_have_one_heading_labelled_controls_visible_focus_and_no_inline_script() {
    let Some(tools) = tools() else { return };
    let server = Server::start_with_auditor().await;
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;

    // Every page: exactly one h1, every control labelled, no inline script.
    let mut signed_in = None;
    let mut problems = Vec::new();
    for (name, path, who) in pages() {
        become_(&browser, &server, who, &mut signed_in).await;
        browser.open(&path).await;
        let headings = browser.js("return document.querySelectorAll('h1').length;", vec![]).await;
        if headings != json!(1) {
            problems.push(format!("{name} has {headings} h1 elements"));
        }
        for control in strings(&browser, UNLABELLED).await {
            problems.push(format!("{name}: unlabelled control {control}"));
        }
        let inline = browser.js("return document.querySelectorAll('script:not([src])').length;", vec![]).await;
        if inline != json!(0) {
            problems.push(format!("{name} has {inline} inline scripts"));
        }
    }

    // The command view, with a decision waiting on the viewer (lena: the demo statement), so
    // both the "needs your decision" card and the register show their controls.
    let page = format!("/incidents/{DEMO_INCIDENT}");
    become_(&browser, &server, Some("lena"), &mut signed_in).await;
    browser.open(&page).await;
    browser.wait_for_text("#needs-you", "Holding statement", PATIENCE).await;
    for control in strings(&browser, UNLABELLED).await {
        problems.push(format!("lena's command view: unlabelled control {control}"));
    }
    for id in strings(&browser, DUPLICATE_IDS).await {
        problems.push(format!("lena's command view: duplicate id {id}"));
    }

    // Keyboard focus is visible on everything Tab reaches, up to the first button in the page.
    let focused = "const e = document.activeElement; const s = getComputedStyle(e);\
                   return { tag: e.tagName, text: (e.textContent || e.name || '').trim().slice(0, 40),\
                            inMain: !!e.closest('main'), style: s.outlineStyle, width: s.outlineWidth };";
    let mut reached = Vec::new();
    loop {
        assert!(reached.len() < 80, "Tab never reached a button in the page: {reached:?}");
        press_tab(&browser).await;
        let now = browser.js(focused, vec![]).await;
        let visible = now["style"] != json!("none") && now["width"] != json!("0px");
        if !visible {
            problems.push(format!("no visible focus on {now}"));
        }
        reached.push(format!("{} {}", now["tag"], now["text"]));
        if now["tag"] == json!("BUTTON") && now["inMain"] == json!(true) {
            break;
        }
    }

    // The policy forbids inline script: asked for with a plain HTTP request, signed out and in.
    let http = reqwest::Client::new();
    let session = browser
        .client
        .get_all_cookies()
        .await
        .expect("the browser's cookies")
        .into_iter()
        .find(|c| c.name() == "sitrep_session")
        .map(|c| c.value().to_owned())
        .expect("a session cookie");
    for (path, cookie) in [("/login".to_owned(), None), (page.clone(), Some(session))] {
        let mut request = http.get(server.url(&path));
        if let Some(session) = &cookie {
            request = request.header("cookie", format!("sitrep_session={session}"));
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {path}");
        let csp = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
        let script_src = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src"));
        if script_src != Some("script-src 'self'") || csp.contains("unsafe-") {
            problems
                .push(format!("{path}: the Content-Security-Policy allows more than the site's own scripts: {csp:?}"));
        }
    }

    assert!(problems.is_empty(), "accessibility problems: {problems:#?}");
    browser.close().await;
}

/// axe-core, installed by `.ci/run` (`npm ci --prefix tools/axe`), or `None` after saying how to
/// install it; with `SITREP_BROWSER_TESTS=required` a missing copy fails the test.
fn axe_source() -> Option<String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(error) => {
            let said = format!("axe-core is missing at {} ({error}): run npm ci --prefix tools/axe", path.display());
            assert!(std::env::var("SITREP_BROWSER_TESTS").as_deref() != Ok("required"), "{said}");
            eprintln!("SKIPPED the axe-core check: {said}");
            None
        }
    }
}

/// Runs axe-core on the page shown, for WCAG 2.0, 2.1 and 2.2 at levels A and AA, and returns
/// each violation as "rule (impact): first element".
async fn axe_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.js(&format!("{axe}\nreturn true;"), vec![]).await;
    let run = "const done = arguments[arguments.length - 1];\
               axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })\
                  .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.length + ' element(s), first ' + JSON.stringify(v.nodes[0].target))))\
                  .catch(e => done(['axe failed: ' + e]));";
    let found = browser.client.execute_async(run, vec![]).await.unwrap_or_else(|e| panic!("running axe-core: {e}"));
    found.as_array().map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_finds_no_wcag_2_2_a_or_aa_violation_on_any_page() {
    let Some(tools) = tools() else { return };
    let Some(axe) = axe_source() else { return };
    let server = Server::start_with_auditor().await;
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;
    let mut signed_in = None;
    let mut found = Vec::new();
    let mut pages = pages();
    // Lena's command view has a decision waiting on her, so the queue and its card show too.
    pages.push(("command-view-approver", format!("/incidents/{DEMO_INCIDENT}"), Some("lena")));
    for (name, path, who) in pages {
        become_(&browser, &server, who, &mut signed_in).await;
        for (device, width) in [("desktop", 1366), ("phone", 390)] {
            browser.set_viewport(width, 900).await;
            browser.open(&path).await;
            for violation in axe_violations(&browser, &axe).await {
                found.push(format!("{name} ({device}): {violation}"));
            }
        }
    }
    assert!(found.is_empty(), "axe-core found WCAG A/AA violations: {found:#?}");
    browser.close().await;
}
