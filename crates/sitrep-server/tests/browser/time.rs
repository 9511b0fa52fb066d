//! Times in the viewer's zone: shown with UTC beside them, deadlines counted down, date-time
//! fields read in the person's zone and recorded at the right UTC instant. Also the CSF
//! type-ahead and the confirm-with-a-reason steps before releasing a role or withdrawing.

use serde_json::json;
use sitrep_core::RecordId;
use sitrep_core::events::DecisionState;

use crate::harness::{Browser, DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools};

const BERLIN: &str = "Europe/Berlin";

/// A browser signed in as `name`, its clock in Berlin, on the demo incident.
async fn in_berlin(driver: &Driver, server: &Server, name: &str) -> Browser {
    let browser = driver.browser(server).await;
    browser.cdp("Emulation.setTimezoneOverride", json!({ "timezoneId": BERLIN })).await;
    browser.sign_in(server, name).await;
    browser.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    browser
}

fn berlin() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(BERLIN).expect("the Berlin zone")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_shows_in_the_viewers_zone_with_utc_beside_and_how_long_is_left() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = in_berlin(&driver, &server, "maria").await;

    // The demo's GDPR clock: its deadline as the server wrote it, and as the script shows it.
    let read = "const t = document.querySelector('#clocks time[data-deadline]');\
                const r = t && t.nextElementSibling;\
                return t && t.hasAttribute('data-utc') ? [t.getAttribute('datetime'), t.getAttribute('data-utc'),\
                t.textContent, r && r.hasAttribute('data-relative') ? r.textContent : ''] : null;";
    let shown = eventually("the clock's deadline in the viewer's zone", PATIENCE, || async {
        match maria.js(read, vec![]).await {
            serde_json::Value::Array(parts) => Ok(parts),
            other => Err(other.to_string()),
        }
    })
    .await;
    let part = |i: usize| shown[i].as_str().unwrap_or_default().to_owned();
    let (instant, utc_text, local_text, relative) = (part(0), part(1), part(2), part(3));
    let at: jiff::Timestamp = instant.parse().unwrap_or_else(|e| panic!("datetime {instant:?}: {e}"));
    let in_utc = at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let here = at.to_zoned_datetime(berlin());
    assert_eq!(utc_text, in_utc.strftime("%Y-%m-%d %H:%M UTC").to_string(), "the server's one format, no seconds");
    let expected = format!("{} {} ({} UTC", here.strftime("%H:%M"), here.strftime("%Z"), in_utc.strftime("%H:%M"));
    assert!(local_text.contains(&expected), "Berlin time with UTC beside: {local_text:?}, wanted {expected:?}");
    assert!(
        relative.starts_with(" · in ") && relative.contains(" h"),
        "a running deadline says how long is left: {relative:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_logged_with_a_local_time_is_recorded_at_that_utc_instant() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let tom = in_berlin(&driver, &server, "tom").await;

    // Two hours ago on the wall clock in Berlin, typed as the datetime-local field takes it.
    let happened =
        (sitrep_testing::system_now().as_jiff() - jiff::SignedDuration::from_hours(2)).to_zoned_datetime(berlin());
    let typed = happened.strftime("%Y-%m-%dT%H:%M").to_string();
    let civil: jiff::civil::DateTime = typed.parse().expect("the typed minute");
    let expected_utc = civil.to_zoned_datetime(berlin()).expect("a Berlin time").timestamp();

    let form = format!("#facts form[action='/incidents/{DEMO_INCIDENT}/facts']");
    tom.click("#facts details.add > summary").await;
    tom.js(
        "const f = document.querySelector(arguments[0] + ' input[name=occurred_at]');\
         f.value = arguments[1]; f.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(form), json!(typed.clone())],
    )
    .await;
    let preview = tom.text(&format!("{form} [data-utc-preview]")).await;
    let utc_clock = expected_utc.to_zoned_datetime(jiff::tz::TimeZone::UTC).strftime("%H:%M UTC").to_string();
    assert!(
        preview.starts_with("= ") && preview.ends_with(&utc_clock),
        "live UTC preview: {preview:?}, wanted {utc_clock}"
    );
    let label = tom.text(&format!("{form} [data-zone-note]")).await;
    assert!(label.contains(BERLIN), "the label names the zone the field is read in: {label:?}");

    let text = "Deploy key used from an unknown address";
    tom.type_into(&format!("{form} textarea[name=text]"), text).await;
    tom.type_into(&format!("{form} input[name=backfill_reason]"), "seen in the audit log only now").await;
    tom.click(&format!("{form} button[type=submit]")).await;
    let recorded = eventually("the fact in the record", PATIENCE, || async {
        let at = server.incident(DEMO_INCIDENT, |s| s.facts.iter().find(|f| f.text == text).map(|f| f.occurred_at));
        at.ok_or_else(|| "not yet".to_owned())
    })
    .await;
    assert_eq!(recorded.as_jiff(), expected_utc, "{typed} in Berlin is recorded as its UTC instant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csf_field_offers_every_subcategory_with_its_words() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = in_berlin(&driver, &server, "maria").await;
    let script = "const options = [...document.querySelectorAll('#csf-subcategories option')];\
                  const push = options.find(o => o.value === 'PR.PS-06');\
                  const contained = options.find(o => o.value === 'RS.MI-01');\
                  return [options.length, push ? push.textContent : '', contained ? contained.textContent : ''];";
    let found = maria.js(script, vec![]).await;
    assert_eq!(found[0], json!(106), "the 106 CSF 2.0 subcategories: {found}");
    assert!(found[1].as_str().is_some_and(|t| t.contains("Platform Security")), "words to type: {found}");
    assert!(found[2].as_str().is_some_and(|t| t.contains("Incidents are contained")), "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_role_and_withdrawing_ask_for_a_reason_the_record_keeps() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = in_berlin(&driver, &server, "maria").await;

    // One click on "Release…" only opens the question; the release needs a reason.
    let pick = "const d = [...document.querySelectorAll('#roles details.release')]\
                .find(d => d.querySelector('input[name=user]').value !== 'maria');\
                d.setAttribute('data-picked', ''); return !!d;";
    assert_eq!(maria.js(pick, vec![]).await, json!(true), "someone besides the commander holds a role");
    let release = "#roles details.release[data-picked]";
    let holder =
        maria.js(&format!("return document.querySelector(\"{release} input[name=user]\").value;"), vec![]).await;
    let role = maria.js(&format!("return document.querySelector(\"{release} input[name=role]\").value;"), vec![]).await;
    let (holder, role) = (holder.as_str().unwrap_or_default().to_owned(), role.as_str().unwrap_or_default().to_owned());
    maria.click(&format!("{release} summary")).await;
    maria.click(&format!("{release} button[type=submit]")).await;
    let holds = |server: &Server| {
        server.incident(DEMO_INCIDENT, |s| {
            s.roles.iter().any(|(r, people)| r.as_str() == role && people.iter().any(|p| p.as_str() == holder))
        })
    };
    assert!(holds(&server), "no reason, no release");
    let reason = "Off shift; handed to the next on call";
    maria.type_into(&format!("{release} input[name=reason]"), reason).await;
    maria.click(&format!("{release} button[type=submit]")).await;
    eventually("the role to be released with its reason in the one entry", PATIENCE, || async {
        if holds(&server) {
            return Err("not yet released".to_owned());
        }
        let store = server.ledger.store().clone();
        let entries =
            store.read(RecordId::Incident(DEMO_INCIDENT.parse().expect("an id")), 1, usize::MAX).expect("the record");
        let released = entries
            .iter()
            .rev()
            .find(|e| e.kind == "role.released")
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.body).ok());
        match released {
            Some(body) if body["reason"] == json!(reason) && body["user"] == json!(holder) => Ok(()),
            other => Err(format!("the last release: {other:?}")),
        }
    })
    .await;

    // Withdrawing a decision: the same question, and the reason is the withdrawal's note.
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let withdraw = "#decisions details.withdraw";
    let id = maria
        .js(&format!("return document.querySelector(\"{withdraw}\").closest('article.decision').querySelector('h3 .id').textContent.trim();"), vec![])
        .await;
    let id = id.as_str().unwrap_or_default().to_owned();
    let shown = maria
        .js(&format!("return document.querySelector(\"{withdraw} button[type=submit]\").checkVisibility();"), vec![])
        .await;
    assert_eq!(shown, json!(false), "the withdraw button is behind the question");
    maria.click(&format!("{withdraw} summary")).await;
    let why = "Superseded by the key rotation";
    maria.type_into(&format!("{withdraw} input[name=note]"), why).await;
    maria.click(&format!("{withdraw} button[type=submit]")).await;
    eventually("the decision to be withdrawn with its reason", PATIENCE, || async {
        let note = server.incident(DEMO_INCIDENT, |s| {
            s.decisions
                .iter()
                .find(|d| d.id.to_string() == id && d.state == DecisionState::Withdrawn)
                .and_then(|d| d.withdrawn.as_ref().and_then(|w| w.note.clone()))
        });
        if note.as_deref() == Some(why) { Ok(()) } else { Err(format!("{note:?}")) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_times_stay_in_utc_and_a_time_field_is_read_as_utc() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let tom = driver.browser(&server).await;
    tom.cdp("Emulation.setTimezoneOverride", json!({ "timezoneId": BERLIN })).await;
    tom.sign_in(&server, "tom").await;

    // Scripts off: the server's UTC text is what shows, and the labels say the fields are UTC.
    tom.cdp("Emulation.setScriptExecutionDisabled", json!({ "value": true })).await;
    tom.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let deadline = tom.text("#clocks time[data-deadline]").await;
    let utc = in_server_format(&deadline);
    assert!(utc, "the deadline in the server's UTC format: {deadline:?}");
    let form = format!("#facts form[action='/incidents/{DEMO_INCIDENT}/facts']");
    tom.click("#facts details.add > summary").await;
    let label = tom.text(&format!("{form} [data-zone-note]")).await;
    assert_eq!(label, "(UTC, if earlier)", "without the script the field is UTC, and says so");

    // A form posted as without the script (no `_utc` beside the field): read as UTC.
    tom.cdp("Emulation.setScriptExecutionDisabled", json!({ "value": false })).await;
    tom.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    let typed = (sitrep_testing::system_now().as_jiff() - jiff::SignedDuration::from_hours(3))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let text = "Key used again from the same address";
    tom.js(
        "const f = document.querySelector(arguments[0]);\
         f.querySelector('[name=occurred_at_utc]').remove();\
         f.occurred_at.value = arguments[1]; f.text.value = arguments[2];\
         f.backfill_reason.value = 'found in the logs later'; f.submit();",
        vec![json!(form), json!(typed.clone()), json!(text)],
    )
    .await;
    let recorded = eventually("the fact in the record", PATIENCE, || async {
        let at = server.incident(DEMO_INCIDENT, |s| s.facts.iter().find(|f| f.text == text).map(|f| f.occurred_at));
        at.ok_or_else(|| "not yet".to_owned())
    })
    .await;
    let civil: jiff::civil::DateTime = typed.parse().expect("the typed minute");
    let expected = civil.to_zoned_datetime(jiff::tz::TimeZone::UTC).expect("a UTC time").timestamp();
    assert_eq!(recorded.as_jiff(), expected, "{typed} with no zone beside it is UTC");
}

/// "2026-12-03 19:25 UTC": the server's one format.
fn in_server_format(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 20
        && text.ends_with(" UTC")
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 | 16 => *b == b' ',
            13 => *b == b':',
            17..=19 => b.is_ascii_uppercase(),
            _ => b.is_ascii_digit(),
        })
}
