//! Commands from a real Matrix client: facts, approvals, and what is refused.

use serde_json::json;
use sitrep_core::IncidentNumber;
use sitrep_server::chat::{self, ChatCommand, Origin, Parsed};

use crate::harness::{ChatApp, MxUser, spawn_chat_app, until};

/// An incident with cmd as commander and lee as legal, both linked; the room joined by both.
async fn staffed(chat: &ChatApp) -> (MxUser, MxUser, String) {
    let hs = chat.hs;
    let (cmd, lee) = (hs.register("cmd"), hs.register("lee"));
    chat.link("cmd", &cmd).await;
    chat.link("lee", &lee).await;
    let declared = chat
        .app
        .post("cmd", "/api/v1/incidents", json!({"title": "Token in a public repo", "severity": "sev2", "roles": {"legal": "lee", "executive": "exec"}}))
        .await;
    assert_eq!(declared.status(), 201);
    let room = chat.room_of("INC-1").await;
    until("both are invited", || async { hs.members(&chat.bot, &room).await.1.len() == 2 }).await;
    hs.client(&cmd, &["join", &room]).await;
    hs.client(&lee, &["join", &room]).await;
    (cmd, lee, room)
}

#[tokio::test]
async fn a_fact_sent_from_matrix_lands_unverified_with_a_link_to_the_message() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (cmd, _lee, room) = staffed(&chat).await;
    let event = chat.hs.send(&cmd, &room, "!sitrep fact the key was pushed at 09:14 by a CI job").await;
    let link = format!("https://matrix.to/#/{room}/{event}");
    until("the fact is logged", || async {
        let incident = chat.app.get_json("cmd", "/api/v1/incidents/INC-1").await;
        incident["facts"].as_array().is_some_and(|facts| facts.iter().any(|f| f["source"] == link.as_str()))
    })
    .await;
    let incident = chat.app.get_json("cmd", "/api/v1/incidents/INC-1").await;
    let fact = &incident["facts"][0];
    assert_eq!(fact["text"], "the key was pushed at 09:14 by a CI job");
    assert_eq!(fact["status"], "unverified");
    let record = chat.app.get_json("cmd", "/api/v1/incidents/INC-1/record").await;
    let logged = record["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "fact.logged")
        .expect("fact.logged");
    assert_eq!(logged["actor"], "cmd", "the fact is the linked user's");
    chat.says(&cmd, &room, "fact.logged").await;

    // The same event delivered again (as after a restart's first /sync) changes nothing and
    // is not answered twice.
    let before = chat.seq("INC-1");
    let origin = Origin {
        system: "matrix",
        sender: cmd.id.clone(),
        room_incident: Some(IncidentNumber(1)),
        event: event.clone(),
        permalink: link.clone(),
        sent_at: None,
    };
    let again = Parsed { incident: None, command: ChatCommand::Fact("the key was pushed at 09:14 by a CI job".into()) };
    let answer = chat::run(&chat.app.ledger, &chat::LinkCodes::default(), chat.app.clock.now(), &origin, again).await;
    assert_eq!(answer, None);
    assert_eq!(chat.seq("INC-1"), before);

    // A 📌 on a message lands it as a fact by its author.
    let said = chat.hs.send(&cmd, &room, "egress to 203.0.113.7 seen from the build host").await;
    chat.hs.client(&cmd, &["react", &room, &said, "📌"]).await;
    let pinned = format!("https://matrix.to/#/{room}/{said}");
    until("the pinned message is a fact", || async {
        let incident = chat.app.get_json("cmd", "/api/v1/incidents/INC-1").await;
        incident["facts"]
            .as_array()
            .is_some_and(|facts| facts.iter().any(|f| f["source"] == pinned.as_str() && f["status"] == "unverified"))
    })
    .await;
}

#[tokio::test]
async fn an_approval_from_chat_by_the_linked_legal_holder_counts() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (_cmd, lee, room) = staffed(&chat).await;
    let proposed = chat
        .app
        .post(
            "cmd",
            "/api/v1/incidents/INC-1/decisions",
            json!({"class": "law_enforcement", "title": "Report to the police"}),
        )
        .await;
    assert_eq!(proposed.status(), 201);
    // The approval card names the decision and how to answer it.
    chat.says(&lee, &room, "!sitrep approve D-1").await;
    chat.hs.send(&lee, &room, "!sitrep approve D-1 the wording is fine").await;
    chat.says(&lee, &room, "decision.approved").await;
    until("lee's approval is recorded", || async {
        let incident = chat.app.get_json("cmd", "/api/v1/incidents/INC-1").await;
        incident["decisions"][0]["approvals"].as_array().is_some_and(|a| a.iter().any(|x| x["user"] == "lee"))
    })
    .await;
    let incident = chat.app.get_json("cmd", "/api/v1/incidents/INC-1").await;
    assert_eq!(incident["decisions"][0]["state"], "proposed", "executive must still approve");
    // The headline was edited in place as the decision came and was approved.
    let messages = chat.hs.client(&lee, &["messages", &room]).await;
    let edits =
        messages["messages"].as_array().expect("messages").iter().filter(|m| m.get("replaces").is_some()).count();
    assert!(edits >= 1, "the headline is edited with m.replace: {messages}");
    chat.says(&lee, &room, "1 decisions pending").await;
}

#[tokio::test]
async fn an_unlinked_matrix_user_is_refused_and_nothing_changes() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (_cmd, _lee, _room) = staffed(&chat).await;
    let proposed = chat
        .app
        .post(
            "cmd",
            "/api/v1/incidents/INC-1/decisions",
            json!({"class": "law_enforcement", "title": "Report to the police"}),
        )
        .await;
    assert_eq!(proposed.status(), 201);
    let stranger = chat.hs.register("stranger");
    let dm = chat.dm(&stranger).await;
    let before = chat.seq("INC-1");
    chat.hs.send(&stranger, &dm, "!sitrep INC-1 approve D-1").await;
    chat.says(&stranger, &dm, "is not linked to a sitrep user, so nothing was done").await;
    // A wrong link code is refused too, and links nothing.
    chat.hs.send(&stranger, &dm, "!sitrep link AAAAA-BBBBB").await;
    chat.says(&stranger, &dm, "that code is unknown, used or expired").await;
    assert_eq!(chat.seq("INC-1"), before);
    assert!(chat.app.ledger.org().linked("matrix", &stranger.id).is_none());
}

#[tokio::test]
async fn a_step_up_class_is_refused_from_chat_with_where_to_approve_instead() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (_cmd, lee, room) = staffed(&chat).await;
    let app = &chat.app;
    let source = sitrep_core::policy::Policy::default_policy().source.replacen(
        "[classes.law_enforcement]\n",
        "[classes.law_enforcement]\nstep_up = { within_minutes = 15 }\n",
        1,
    );
    let replaced = app
        .request(reqwest::Method::PUT, Some(crate::helpers::ADMIN), "/api/v1/policy")
        .json(&json!({ "source": source }))
        .send()
        .await
        .expect("answers");
    assert_eq!(replaced.status(), 200);
    // The commander proposes from a fresh browser session, which meets the step-up.
    app.give_password("cmd").await;
    let session = app.sign_in("cmd", crate::helpers::PASSWORD).await;
    let proposed = app
        .client
        .post(app.url("/api/v1/incidents/INC-1/decisions"))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&json!({"class": "law_enforcement", "title": "Report to the police"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(proposed.status(), 201);
    // A chat message proves no sign-in: refused, naming the rule and where to go instead.
    chat.says(&lee, &room, "!sitrep approve D-1").await;
    let before = chat.seq("INC-1");
    chat.hs.send(&lee, &room, "!sitrep approve D-1").await;
    chat.says(&lee, &room, "refused (classes.law_enforcement.step_up)").await;
    let texts = chat.says(&lee, &room, "approve in the web, signed in with MFA").await;
    assert!(texts.iter().any(|t| t.contains("refused")));
    assert_eq!(chat.seq("INC-1"), before, "nothing was written");
}
