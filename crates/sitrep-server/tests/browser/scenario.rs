//! The leaked-key scenario from declaration to close and export, done only through the pages,
//! as a team of five in two browsers would: every click and typed character is counted and
//! printed, to compare with the reviewer's run before issue 14 (130 clicks, 2,052 characters).
//!
//! The counts are reported, not asserted: the test asserts only that the incident closes and
//! that the downloaded bundle verifies. Signing in and out (to change seats) is not counted;
//! choosing an option counts as one click, a date-time as the digits a person types into it.

use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};
use sitrep_core::Phase;
use sitrep_core::bundle::{Options, verify_bytes};
use sitrep_core::checkpoint::parse_public_key;

use crate::harness::{Browser, Driver, LIVE, PATIENCE, Server, eventually, tools};

/// The five demo people, in the order the totals are printed.
const PEOPLE: [&str; 5] = ["maria", "tom", "lena", "chris", "eve"];

/// Clicks and typed characters per person.
#[derive(Debug, Default)]
struct Tally(Mutex<Vec<(&'static str, usize, usize)>>);

impl Tally {
    fn add(&self, who: &'static str, clicks: usize, typed: usize) {
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match counts.iter_mut().find(|(name, ..)| *name == who) {
            Some((_, c, t)) => {
                *c += clicks;
                *t += typed;
            }
            None => counts.push((who, clicks, typed)),
        }
    }

    /// `scenario: 41 clicks, 612 typed characters (maria 20/300, tom …)`.
    fn line(&self) -> String {
        let counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let of = |who: &str| counts.iter().find(|(name, ..)| *name == who).map_or((0, 0), |(_, c, t)| (*c, *t));
        let (clicks, typed) = PEOPLE.iter().map(|p| of(p)).fold((0, 0), |(c, t), (pc, pt)| (c + pc, t + pt));
        let each: Vec<String> = PEOPLE
            .iter()
            .map(|p| {
                let (c, t) = of(p);
                format!("{p} {c}/{t}")
            })
            .collect();
        format!("scenario: {clicks} clicks, {typed} typed characters ({})", each.join(", "))
    }
}

/// Someone at a browser: what they do through it is counted to them.
struct Person<'a> {
    name: &'static str,
    browser: &'a Browser,
    tally: &'a Tally,
}

impl Person<'_> {
    /// Scrolls the element to the middle of the window first, as a person would scroll to
    /// what they are about to press (a scroll is not counted): the sticky header can otherwise
    /// cover an element the driver thinks is in view.
    async fn click(&self, css: &str) {
        self.unfold(css).await;
        let centre = "const e = document.querySelector(arguments[0]); if (e) { e.scrollIntoView({block: 'center'}); }";
        self.browser.js(centre, vec![json!(css)]).await;
        self.browser.click(css).await;
        self.tally.add(self.name, 1, 0);
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.unfold(css).await;
        self.browser.type_into(css, text).await;
        self.tally.add(self.name, 0, text.chars().count());
    }

    async fn select(&self, css: &str, value: &str) {
        self.unfold(css).await;
        self.browser.select(css, value).await;
        self.tally.add(self.name, 1, 0);
    }

    /// A form behind "+ …" is clicked open first: one more click.
    async fn unfold(&self, css: &str) {
        let element = self.browser.find(css).await;
        if self.browser.unfold(&element).await {
            self.tally.add(self.name, 1, 0);
        }
    }

    /// Sets a date-time field (typing into one depends on the browser's locale), counted as
    /// the digits a person types into the picker.
    async fn set_when(&self, css: &str, value: &str) {
        let set = "const f = document.querySelector(arguments[0]); f.value = arguments[1]; \
                   f.dispatchEvent(new Event('input', {bubbles: true}));";
        self.browser.js(set, vec![json!(css), json!(value)]).await;
        self.tally.add(self.name, 0, value.chars().filter(char::is_ascii_digit).count());
    }

    /// Opens the incident from the incident list, as a click on its row.
    async fn open_from_list(&self, incident: &str) {
        self.browser.open("/incidents").await;
        self.click(&format!("a.incident-link[href='/incidents/{incident}']")).await;
        self.wait_for_path(&format!("/incidents/{incident}")).await;
    }

    async fn wait_for_path(&self, path: &str) {
        eventually(&format!("{} to be on {path}", self.name), PATIENCE, || async {
            let now = self.browser.path().await;
            if now == path { Ok(()) } else { Err(now) }
        })
        .await;
    }

    /// Marks done, one by one from the queue, every task the queue lists as this person's.
    async fn finish_my_tasks(&self) -> usize {
        let actions = "return [...document.querySelectorAll('#needs-you .queue form[action$=\"/done\"]')]\
                       .map(f => f.getAttribute('action'));";
        let mut done = 0;
        loop {
            let listed = self.browser.js(actions, vec![]).await;
            let Some(action) = listed.as_array().and_then(|a| a.first()).and_then(Value::as_str).map(str::to_owned)
            else {
                return done;
            };
            self.click(&format!("#needs-you .queue form[action='{action}'] button[type=submit]")).await;
            eventually(&format!("{action} to leave {}'s queue", self.name), PATIENCE, || async {
                let left = self.browser.find_all(&format!("#needs-you .queue form[action='{action}']")).await;
                if left.is_empty() { Ok(()) } else { Err(self.browser.text("#needs-you").await) }
            })
            .await;
            done += 1;
        }
    }

    /// Approves decision `id` from the card waiting in this person's queue.
    async fn approve_from_queue(&self, id: &str) {
        let button = format!("#needs-you form[action$='/decisions/{id}/approve'] button[type=submit]");
        self.click(&button).await;
        eventually(&format!("{id} to leave {}'s queue", self.name), PATIENCE, || async {
            if self.browser.find_all(&button).await.is_empty() {
                Ok(())
            } else {
                Err(self.browser.text("#needs-you").await)
            }
        })
        .await;
    }
}

/// The id of the incident's decision of `class`, read from the record.
fn decision_of(server: &Server, incident: &str, class: &str) -> String {
    server
        .incident(incident, |s| s.decisions.iter().rev().find(|d| d.class.as_str() == class).map(|d| d.id.to_string()))
        .unwrap_or_else(|| panic!("{incident} has a {class} decision"))
}

/// Changes the person at `browser`: signs out (if someone is signed in) and in as `name`.
async fn change_seat(server: &Server, browser: &Browser, name: &str) {
    if !browser.find_all("form[action='/logout'] button[type=submit]").await.is_empty() {
        browser.sign_out().await;
    }
    browser.sign_in(server, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaked_key_scenario_runs_from_declaration_to_export_through_the_pages() {
    let Some(tools) = tools() else { return };
    let server = Server::start_with_connectors().await;
    let driver = Driver::start(&tools).await;
    let tally = Tally::default();
    // Two browsers: the commander's, and one the rest of the team take turns at.
    let first = driver.browser(&server).await;
    let second = driver.browser(&server).await;
    let maria = Person { name: "maria", browser: &first, tally: &tally };

    // 1. The commander declares with the playbook and its inputs, staffing the roles at once.
    first.sign_in(&server, "maria").await;
    first.open("/incidents").await;
    maria.click("a[href='/incidents/new']").await;
    maria.wait_for_path("/incidents/new").await;
    let form = "form[action='/incidents']";
    maria.type_into(&format!("{form} input[name=title]"), "Leaked AWS access key in a public GitHub repository").await;
    maria.select(&format!("{form} select[name=severity]"), "sev2").await;
    maria.click(&format!("{form} input[name=playbook][value='leaked-secret']")).await;
    maria.type_into(&format!("{form} [name='input.leaked-secret.key_id']"), "AKIAEXAMPLE7QXZ").await;
    maria.type_into(&format!("{form} [name='input.leaked-secret.provider']"), "AWS").await;
    maria.type_into(&format!("{form} [name='input.leaked-secret.repository']"), "github.com/acme/infra-scripts").await;
    for (role, person) in [("tech_lead", "tom"), ("legal", "lena"), ("comms", "chris"), ("executive", "eve")] {
        maria.select(&format!("{form} select[name=role_{role}]"), person).await;
    }
    maria.click(&format!("{form} button[type=submit]")).await;
    let incident = eventually("the new incident's command view", PATIENCE, || async {
        let path = first.path().await;
        match path.strip_prefix("/incidents/INC-") {
            Some(number) if number != "1" && !number.is_empty() => Ok(format!("INC-{number}")),
            _ => Err(path),
        }
    })
    .await;
    let page = format!("/incidents/{incident}");

    // 2. The revocation was pre-approved by the playbook and runs at once; the tech lead logs
    //    what the provider's logs show and confirms the deactivation.
    let revocation = decision_of(&server, &incident, "credential_revocation");
    change_seat(&server, &second, "tom").await;
    let tom = Person { name: "tom", browser: &second, tally: &tally };
    tom.open_from_list(&incident).await;
    let fact = "AKIAEXAMPLE7QXZ was used once, from 203.0.113.50 at 02:51 UTC (sts:GetCallerIdentity)";
    tom.type_into("#facts form[action$='/facts'] textarea[name=text]", fact).await;
    tom.type_into("#facts form[action$='/facts'] input[name=source]", "CloudTrail").await;
    tom.click("#facts form[action$='/facts'] button[type=submit]").await;
    second.wait_for_text("#facts .facts.unverified", fact, PATIENCE).await;
    eventually(&format!("{revocation} to be carried out"), PATIENCE, || async {
        let card = second.decision_card("#decisions", &revocation, ".actions").await;
        if card.contains("succeeded") && !card.contains("pending") { Ok(card) } else { Err(card) }
    })
    .await;

    // 3. The commander marks it contained from the header's offer.
    first.wait_for_text("#summary", "Mark contained", PATIENCE).await;
    maria.click("#summary form.phase-offer button[type=submit]").await;
    eventually("the phase to move on from containment", PATIENCE, || async {
        let phase = server.incident(&incident, |s| s.phase);
        if phase == Phase::Eradication { Ok(()) } else { Err(format!("{phase:?}")) }
    })
    .await;

    // 4. The tech lead works through his tasks from his queue.
    second.wait_for_text("#needs-you", "Confirm AKIAEXAMPLE7QXZ is deactivated", LIVE).await;
    let toms = tom.finish_my_tasks().await;
    assert!(toms >= 7, "the playbook gave the tech lead his steps: {toms}");

    // 5. Legal and comms approve the playbook's holding statement (the policy wants both) and
    //    settle their own steps.
    let statement = decision_of(&server, &incident, "external_statement");
    for name in ["lena", "chris"] {
        change_seat(&server, &second, name).await;
        let person = Person { name, browser: &second, tally: &tally };
        person.open_from_list(&incident).await;
        let card = second.decision_card("#needs-you", &statement, "").await;
        assert!(card.contains("We revoked it as soon as we learned of it"), "{name} sees the text approved: {card}");
        person.approve_from_queue(&statement).await;
        person.finish_my_tasks().await;
    }

    // 6. The commander settles her own steps and runs the post-incident review.
    first.open(&page).await;
    maria.finish_my_tasks().await;
    let lesson = "#review form[action$='/review/lessons']";
    maria
        .type_into(&format!("{lesson} textarea[name=what_happened]"), "An AWS key was pushed to a public repository")
        .await;
    maria.type_into(&format!("{lesson} textarea[name=why]"), "Long-lived keys; no secret scanning before push").await;
    maria.type_into(&format!("{lesson} textarea[name=change]"), "Short-lived credentials; push protection").await;
    maria.click(&format!("{lesson} button[type=submit]")).await;
    first.wait_for_text("#review", "L-1", PATIENCE).await;
    let change = "#review form[action$='/review/changes']";
    maria.type_into(&format!("{change} input[name=title]"), "Push protection on every repository").await;
    maria.select(&format!("{change} select[name=owner]"), "tom").await;
    let due = sitrep_testing::system_now().as_jiff() + jiff::SignedDuration::from_hours(60 * 24);
    maria.set_when(&format!("{change} input[name=due]"), &due.strftime("%Y-%m-%dT17:00").to_string()).await;
    maria.type_into(&format!("{change} input[name=csf]"), "PR.PS-06").await;
    maria.click(&format!("{change} button[type=submit]")).await;
    first.wait_for_text("#review", "CC-1", PATIENCE).await;
    let complete = "#review form[action$='/review/complete']";
    maria.type_into(&format!("{complete} textarea[name=summary]"), "Key revoked within minutes; no data read.").await;
    maria.click(&format!("{complete} button[type=submit]")).await;
    first.wait_for_text("#review", "Completed by maria", PATIENCE).await;

    // 7. The checklist is clear: the commander proposes closing and the executive approves.
    first.wait_for_text("#close", "Nothing is left open", PATIENCE).await;
    let close = "#close form[action$='/close']";
    maria.type_into(&format!("{close} textarea[name=rationale]"), "Revoked, reviewed, nothing owed.").await;
    maria.click(&format!("{close} button[type=submit]")).await;
    first.wait_for_text("#close", "Closing is proposed", PATIENCE).await;
    let closing = decision_of(&server, &incident, "close");
    change_seat(&server, &second, "eve").await;
    let eve = Person { name: "eve", browser: &second, tally: &tally };
    eve.open_from_list(&incident).await;
    eve.approve_from_queue(&closing).await;
    eventually("the incident to close", PATIENCE, || async {
        let phase = server.incident(&incident, |s| s.phase);
        if phase == Phase::Closed { Ok(()) } else { Err(format!("{phase:?}")) }
    })
    .await;

    // 8. The commander's open page shows it closed; she downloads the signed bundle.
    first.wait_for_text("#close", "is closed", LIVE).await;
    let downloads = tempfile::tempdir().expect("a download directory");
    let params = json!({ "behavior": "allow", "downloadPath": downloads.path().display().to_string() });
    first.cdp("Browser.setDownloadBehavior", params).await;
    maria.click("#close form[action$='/bundle'] button[type=submit]").await;
    let file = downloads.path().join(format!("{incident}.sitrep-bundle.tar"));
    let bytes = eventually("the bundle to be downloaded", PATIENCE, || async { downloaded(&file) }).await;
    let key = server.ledger.org().public_key.clone();
    let verified = verify_bytes(&bytes, &Options { key: Some(parse_public_key(&key).expect("a key")), earlier: None })
        .unwrap_or_else(|failure| panic!("the downloaded bundle does not verify: {failure}"));
    let head = server.incident(&incident, |s| s.seq);
    assert_eq!((verified.incident.to_string(), verified.entries), (incident.clone(), head), "the whole record");

    println!("{}", tally.line());
    first.close().await;
    second.close().await;
}

/// The finished file's bytes (Chromium writes to a `.crdownload` file first, then renames it).
fn downloaded(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}
