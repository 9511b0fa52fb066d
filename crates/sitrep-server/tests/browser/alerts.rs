//! An alert e-mail leads to the decision: its review link, opened in a real browser, asks for
//! the person's own sign-in, shows the decision's review sheet, and works once.

use sitrep_core::DecisionClass;
use sitrep_core::decide::{IncidentCommand, OrgCommand};
use sitrep_server::config::Smtp;
use sitrep_store::Request;
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
    let contact = OrgCommand::SetContact {
        user: user("lena"),
        email: Some("lena@example.test".into()),
        webhook: None,
        mute: vec![],
    };
    server.ledger.execute(&user("lena"), Request::Org(contact)).await.expect("lena sets her e-mail");

    let body = eventually("the alert e-mail to lena", PATIENCE, || async {
        let found = smtp.messages().iter().map(|raw| parse_mail(raw).1).find(|body| body.contains(&did));
        found.ok_or_else(|| "no mail yet".to_owned())
    })
    .await;
    // The link on the line after the decision's.
    let lines: Vec<&str> = body.lines().collect();
    let at = lines.iter().position(|l| l.contains(&format!("{did} ("))).expect("the decision's line");
    let link = lines[at + 1].split_whitespace().last().expect("a link").to_owned();
    let path = link.strip_prefix(&server.address).expect("a link to this server").to_owned();
    assert!(path.starts_with("/r/"), "{link}");

    let driver = Driver::start(&tools).await;
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
