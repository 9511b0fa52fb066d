//! The command view by keyboard: few Tab presses to the controls used most, shortcuts that
//! land in their form, and focus on what a submit changed.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::json;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools};

async fn press(browser: &Browser, key: impl Into<char>) {
    let key = key.into();
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    browser.client.perform_actions(keys).await.unwrap_or_else(|e| panic!("pressing {key:?}: {e}"));
}

/// What has focus: its tag, its text (a button's or link's) and its name (a field's).
async fn focused(browser: &Browser) -> (String, String, String) {
    let now = browser
        .js(
            "const e = document.activeElement;\
             return [e.tagName, (e.textContent || '').trim().slice(0, 60), e.name || e.getAttribute('href') || ''];",
            vec![],
        )
        .await;
    let part = |i: usize| now[i].as_str().unwrap_or_default().to_owned();
    (part(0), part(1), part(2))
}

/// Tab presses from the top of a freshly opened command view to the button `button`, taking
/// the skip link `skip` (Enter) on the way; each element passed is listed.
async fn tabs_to(browser: &Browser, skip: &str, button: &str) -> (usize, Vec<String>) {
    browser.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let mut tabs = 0;
    let mut path = Vec::new();
    let mut skipped = false;
    loop {
        assert!(tabs < 60, "Tab never reached {button}: {path:?}");
        press(browser, Key::Tab).await;
        tabs += 1;
        let (tag, text, name) = focused(browser).await;
        path.push(format!("{tag} {text} {name}"));
        if !skipped && tag == "A" && name == skip {
            press(browser, Key::Enter).await;
            skipped = true;
            path.push("(Enter)".into());
        }
        if tag == "BUTTON" && text == button {
            return (tabs, path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_role_and_set_severity_are_within_ten_tab_presses_of_the_page_top() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.set_viewport(1366, 900).await;
    for (skip, button) in [("#assign-role", "Assign role"), ("#set-severity", "Set severity")] {
        let (tabs, path) = tabs_to(&maria, skip, button).await;
        println!("{tabs} Tab presses to {button}: {path:?}");
        assert!(tabs <= 10, "{tabs} Tab presses to {button} (at most 10): {path:?}");
    }
    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_mark_lists_the_shortcuts_and_a_shortcut_lands_in_its_form() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;

    press(&maria, '?').await;
    let open = maria.js("return document.getElementById('shortcuts').open;", vec![]).await;
    assert_eq!(open, json!(true), "? opens the list of shortcuts");
    let listed = maria.text("#shortcuts").await;
    assert!(listed.contains("assign a role") && listed.contains("log a fact"), "the list names them: {listed}");
    press(&maria, Key::Escape).await;
    let open = maria.js("return document.getElementById('shortcuts').open;", vec![]).await;
    assert_eq!(open, json!(false), "Escape closes it");

    press(&maria, 'f').await;
    let (tag, _, name) = focused(&maria).await;
    assert_eq!((tag.as_str(), name.as_str()), ("TEXTAREA", "text"), "f lands in the fact's text");
    maria.client.active_element().await.expect("the fact field").send_keys("r").await.expect("typing");
    let (tag, _, _) = focused(&maria).await;
    assert_eq!(tag, "TEXTAREA", "a shortcut key typed into a field is text, not a jump");
    maria.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_submit_focus_is_on_the_section_that_changed_and_it_is_announced() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    maria.type_into("#add-task input[name=title]", "Call the registrar about the domain").await;
    maria.click("#add-task button[type=submit]").await;
    eventually("focus on the tasks section", PATIENCE, || async {
        let id = maria.js("return document.activeElement.id;", vec![]).await;
        if id == json!("tasks") { Ok(()) } else { Err(id.to_string()) }
    })
    .await;
    let said = maria.text("[data-live-status]").await;
    assert!(said.contains("Tasks"), "the change is announced: {said:?}");
    let listed = maria.text("#tasks").await;
    assert!(listed.contains("Call the registrar"), "and the section shows it: {listed}");
    maria.close().await;
}
