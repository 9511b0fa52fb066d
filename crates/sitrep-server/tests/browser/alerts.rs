//! An alert e-mail leads to the decision: its review link, opened in a real browser, asks for
//! the person's own sign-in, shows the decision's review sheet, and works once.

use sitrep_core::DecisionClass;
use sitrep_core::decide::IncidentCommand;
use sitrep_server::config::Smtp;
use sitrep_testing::smtp::{SmtpServer, parse_mail};

use crate::harness::{DEMO_INCIDENT, Driver, PATIENCE, Server, eventually, tools, user};
use crate::review::act;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_link_in_an_alert_email_opens_the_decision_after_sign_in_and_only_once() {
    let Some(tools) = tools() else { return };
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let Some(smtp) = SmtpServer::start(mail_dir.path()) else { return };
    let port = smtp.port;
    let server = Server::start_with_connectors_configured(move |config| {
        config.smtp = Some(Smtp {
            host: "127.0.0.1".into(),
            port,
            starttls: false,
            username: None,
            password_env: None,
            from: "sitrep@example.test".into(),
            timeout_secs: 10,
        });
    })
    .await;
    // The commander asks to share evidence: it waits on legal (lena).
    let propose = IncidentCommand::Propose {
        class: DecisionClass::parse("evidence_sharing").expect("a class"),
        title: "Share the firewall logs with Northwind".into(),
        rationale: None,
        actions: vec![],
        statement: None,
        clocks: vec![],
    };
    act(&server, "maria", propose).await;
    let did = server.incident(DEMO_INCIDENT, |s| s.decisions.last().map(|d| d.id.to_string())).expect("a decision");
    // Lena gives her e-mail on her account page (and mutes digests); the page says how she is
    // told.
    let driver = Driver::start(&tools).await;
    let desk = driver.browser(&server).await;
    desk.sign_in(&server, "lena").await;
    desk.open("/account/contact").await;
    desk.type_into("form[action='/account/contact'] input[name=email]", "lena@example.test").await;
    desk.click("form[action='/account/contact'] input[name=mute_digest]").await;
    desk.click("form[action='/account/contact'] button[type=submit]").await;
    desk.wait_for_text("main", "This server tells you by: email", PATIENCE).await;
    let contact = server.ledger.org().users[&user("lena")].contact.clone();
    assert_eq!(contact.email.as_deref(), Some("lena@example.test"));
    assert_eq!(contact.mute, [sitrep_core::incident::AlertKind::Digest]);

    let body = eventually("the alert e-mail to lena", PATIENCE, || async {
        let found = smtp.messages().iter().map(|raw| parse_mail(raw).1).find(|body| body.contains(&did));
        found.ok_or_else(|| "no mail yet".to_owned())
    })
    .await;
    // The link on the line after the decision's.
    let lines: Vec<&str> = body.lines().collect();
    let at = lines.iter().position(|l| l.contains(&format!("{did} ("))).expect("the decision's line");
    let link = lines[at..]
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.contains("/r/")))
        .expect("a review link after the decision's line")
        .to_owned();
    let path = link.strip_prefix(&server.address).expect("a link to this server").to_owned();
    assert!(path.starts_with("/r/"), "{link}");

    // On another device, not signed in.
    let lena = driver.browser(&server).await;
    lena.open(&path).await;
    assert_eq!(lena.path().await, "/login", "the link asks for sign-in first");
    lena.sign_in(&server, "lena").await;
    assert_eq!(lena.path().await, format!("/incidents/{DEMO_INCIDENT}/decisions/{did}"));
    let sheet = lena.text("main").await;
    assert!(sheet.contains(&format!("Review {did}")) && sheet.contains("Share the firewall logs"), "{sheet}");
    lena.find(&format!("form[action$='/decisions/{did}/approve'] button")).await;
    let opened = server.incident(DEMO_INCIDENT, |s| s.alerts.links_opened.len());
    assert_eq!(opened, 1, "opening it is recorded");
    assert_eq!(
        server.incident(DEMO_INCIDENT, |s| s.decisions.last().map(|d| d.approvals.len())),
        Some(1),
        "opening the link approves nothing: only the commander's proposal counts"
    );

    // Used once; a second opening is refused and records nothing.
    lena.open(&path).await;
    lena.wait_for_text("main", "already used", PATIENCE).await;
    // Someone else's link is refused to them.
    let maria = driver.browser(&server).await;
    maria.open(&path).await;
    maria.sign_in(&server, "maria").await;
    maria.wait_for_text("main", "sent to lena", PATIENCE).await;
    assert_eq!(server.incident(DEMO_INCIDENT, |s| s.alerts.links_opened.len()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commander_promises_the_next_update_from_the_command_view_and_others_cannot() {
    let Some(tools) = tools() else { return };
    let server = Server::start().await;
    let driver = Driver::start(&tools).await;
    let maria = driver.browser(&server).await;
    maria.sign_in(&server, "maria").await;
    maria.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    maria.click(".next-update summary").await;
    let form = format!("form[action='/incidents/{DEMO_INCIDENT}/next-update']");
    maria.type_into(&format!("{form} input[name=every_minutes]"), "60").await;
    maria.type_into(&format!("{form} input[name=subscribers]"), "nobody-here").await;
    maria.click(&format!("{form} button[type=submit]")).await;
    maria.wait_for_text(".next-update", "nobody-here", PATIENCE).await;
    assert!(server.incident(DEMO_INCIDENT, |s| s.alerts.update.is_none()), "a refused promise changes nothing");

    maria.js("document.querySelector('.next-update details').open = true;", vec![]).await;
    maria.js(&format!("document.querySelector(\"{form} input[name=subscribers]\").value = '';"), vec![]).await;
    maria.click(&format!("{form} button[type=submit]")).await;
    maria.wait_for_text(".next-update", "Next update promised for", PATIENCE).await;
    let promise = server.incident(DEMO_INCIDENT, |s| s.alerts.update.clone()).expect("the promise is recorded");
    assert_eq!((promise.every_minutes, promise.set_by.to_string().as_str()), (Some(60), "maria"));

    // Someone who is not the commander is not offered the form.
    let lena = driver.browser(&server).await;
    lena.sign_in(&server, "lena").await;
    lena.open(&format!("/incidents/{DEMO_INCIDENT}")).await;
    lena.wait_for_text(".next-update", "Next update promised for", PATIENCE).await;
    let offered = lena.js(&format!("return !!document.querySelector(\"{form}\");"), vec![]).await;
    assert_eq!(offered, serde_json::json!(false));
}
