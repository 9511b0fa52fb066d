//! The first screen of the command view: the state line and everything waiting on the person
//! who opens it, without scrolling, on a desktop and on a phone.

use serde_json::{Value, json};
use sitrep_core::IncidentView;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, target_dir, tools, user};
use crate::screenshots::become_;

const PEOPLE: [&str; 5] = ["maria", "tom", "lena", "chris", "eve"];
const SCREENS: [(&str, u32, u32); 2] = [("desktop", 1366, 900), ("phone", 390, 844)];

/// Every box the first screen must show whole, named, with whether it lies inside the viewport
/// (above the sections bar where a phone shows it at the bottom).
const FIRST_SCREEN: &str = "\
    const boxes = [['the title', '#summary h1'], ['the phase', '#summary .stepper'],\
                   ['the heading', '#needs-you h2']];\
    document.querySelectorAll('#needs-you .queue > li').forEach(el => boxes.push([el.className + ' ' + el.querySelector('.id').textContent, el]));\
    document.querySelectorAll('#needs-you .empty').forEach(el => boxes.push(['nothing waiting', el]));\
    const bar = document.querySelector('#summary .sections');\
    const fixed = bar && getComputedStyle(bar).position === 'fixed';\
    const bottom = fixed ? bar.getBoundingClientRect().top : window.innerHeight;\
    return boxes.map(([name, target]) => {\
        const el = typeof target === 'string' ? document.querySelector(target) : target;\
        if (!el) { return [name, false, 'missing']; }\
        const r = el.getBoundingClientRect();\
        const inside = r.top >= 0 && r.left >= 0 && r.bottom <= bottom && r.right <= window.innerWidth;\
        return [name, inside, `${Math.round(r.top)}..${Math.round(r.bottom)} of ${Math.round(bottom)}`];\
    });";

/// How many things wait on `name` in the demo incident, by the read model.
fn waiting_on(server: &Server, name: &str) -> usize {
    let viewer = user(name);
    let org = server.ledger.org();
    server.incident(DEMO_INCIDENT, |state| {
        let view = IncidentView::of(state, &org, &viewer, state.updated_at).expect("a participant sees the incident");
        let queue = view.queue();
        queue.decisions.len() + queue.tasks.len() + queue.stuck.len()
    })
}

async fn first_screen(browser: &Browser) -> Vec<(String, bool, String)> {
    let boxes = browser.js(FIRST_SCREEN, vec![]).await;
    boxes
        .as_array()
        .expect("a list of boxes")
        .iter()
        .map(|b| {
            let text = |i: usize| b[i].as_str().unwrap_or_default().to_owned();
            (text(0), b[1] == Value::Bool(true), text(2))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_demo_person_sees_the_state_line_and_all_that_waits_on_them_without_scrolling() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let browser = driver.browser(&server).await;
    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).expect("the screenshots directory");
    let mut signed_in = None;
    let mut outside = Vec::new();
    let mut someone_waited_on = false;
    for name in PEOPLE {
        become_(&browser, &server, Some(name), &mut signed_in).await;
        let expected = waiting_on(&server, name);
        someone_waited_on |= expected > 0;
        for (screen, width, height) in SCREENS {
            browser.set_viewport(width, height).await;
            browser.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
            let boxes = first_screen(&browser).await;
            // What each person sees first, for the docs (docs/screenshots/ takes lena's).
            let png = browser.client.screenshot().await.expect("a screenshot");
            let file = shots.join(format!("first-screen-{name}-{screen}.png"));
            std::fs::write(&file, png).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
            let items = boxes.iter().filter(|(what, ..)| !what.starts_with("the ")).count();
            let shown = if expected == 0 { 1 } else { expected };
            assert_eq!(
                items, shown,
                "{name} on a {screen}: every item waiting on them is listed ({expected} by the record): {boxes:?}"
            );
            outside.extend(
                boxes
                    .into_iter()
                    .filter(|(_, inside, _)| !inside)
                    .map(|(what, _, at)| format!("{name}/{screen}: {what} at {at}")),
            );
        }
    }
    assert!(someone_waited_on, "the demo has something waiting on someone, or this test shows nothing");
    assert!(outside.is_empty(), "outside the first screen: {outside:#?}");
    browser.close().await;
}

/// Whether every part `css` names of the card lies whole below the sticky header and above the
/// bottom of the window.
const CARD_IN_SIGHT: &str = "\
    const card = document.querySelector(arguments[0]);\
    const head = document.getElementById('summary').getBoundingClientRect();\
    const top = getComputedStyle(document.getElementById('summary')).position === 'sticky' ? head.bottom : 0;\
    return arguments[1].map(part => {\
        const el = card.querySelector(part);\
        if (!el) { return part + ' missing'; }\
        const r = el.getBoundingClientRect();\
        return (r.top >= top && r.bottom <= window.innerHeight) ? '' : `${part} at ${Math.round(r.top)}..${Math.round(r.bottom)}, sight ${Math.round(top)}..${window.innerHeight}`;\
    }).filter(x => x);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_reads_the_whole_text_and_approves_from_the_card_without_scrolling() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let lena = driver.browser(&server).await;
    lena.sign_in(&server, "lena").await;
    lena.set_viewport(1366, 900).await;
    lena.open(&format!("/incidents/{DEMO_INCIDENT}")).await;

    // The demo's holding statement waits on legal; its entry in the queue leads to its card.
    let link = lena.find("#needs-you .queue-decision a").await;
    let target = link.attr("href").await.expect("the link's target").expect("a link to the card");
    let id = target.trim_start_matches("#needs-decision-").to_owned();
    let (text, version) = server.incident(DEMO_INCIDENT, |state| {
        let decision = state.decisions.iter().find(|d| d.id.to_string() == id).expect("the decision waiting on lena");
        let bound = decision.statement.as_ref().expect("a statement decision");
        let statement = state.statements.iter().find(|s| s.id == bound.statement).expect("its statement");
        let version = statement.versions.iter().find(|v| v.version == bound.version).expect("the bound version");
        (version.text.clone(), version.version)
    });
    link.click().await.expect("following the queue's link");

    let card = format!("#needs-decision-{id}");
    let shown = lena.text(&format!("{card} .bound-text")).await;
    assert_eq!(shown.trim(), text.trim(), "the card shows the whole bound text of v{version}");
    let outside = lena.js(CARD_IN_SIGHT, vec![json!(card), json!([".bound-text", "button.approve"])]).await;
    assert_eq!(outside, json!([]), "the text and the Approve button are both in sight");
    let scrolled = lena.js("return window.scrollY;", vec![]).await;
    lena.js("document.querySelector(arguments[0] + ' button.approve').click();", vec![json!(card)]).await;
    eventually("lena's approval in the record", PATIENCE, || async {
        let approved = server.incident(DEMO_INCIDENT, |state| {
            state
                .decisions
                .iter()
                .any(|d| d.id.to_string() == id && d.approvals.iter().any(|a| a.user.as_str() == "lena"))
        });
        if approved { Ok(()) } else { Err(format!("not yet approved (page was at scrollY {scrolled})")) }
    })
    .await;
    lena.close().await;
}
