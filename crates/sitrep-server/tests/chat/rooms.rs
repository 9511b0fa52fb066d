//! The incident room: opened once, holding exactly the linked role holders.

use serde_json::json;

use crate::harness::{spawn_chat_app, until};

#[tokio::test]
async fn the_bot_opens_the_incident_room_for_exactly_its_linked_role_holders() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (hs, app) = (chat.hs, &chat.app);
    let (cmd, lee, otto) = (hs.register("cmd"), hs.register("lee"), hs.register("otto"));
    chat.link("cmd", &cmd).await;
    chat.link("lee", &lee).await;
    // otto is linked but holds no role: he is not invited.
    chat.link("otto", &otto).await;
    let declared = app
        .post(
            "cmd",
            "/api/v1/incidents",
            json!({"title": "Leaked deploy key", "severity": "sev2", "roles": {"legal": "lee"}}),
        )
        .await;
    assert_eq!(declared.status(), 201);
    let room = chat.room_of("INC-1").await;
    let want = {
        let mut v = vec![chat.bot.id.clone(), cmd.id.clone(), lee.id.clone()];
        v.sort();
        v
    };
    until("the room holds the bot and the role holders", || async {
        let (joined, invited) = hs.members(&chat.bot, &room).await;
        let mut all: Vec<String> = joined.into_iter().chain(invited).collect();
        all.sort();
        all == want
    })
    .await;
    // The headline is posted in the room.
    hs.client(&cmd, &["join", &room]).await;
    chat.says(&cmd, &room, "INC-1 Leaked deploy key").await;

    // A restart of the loop (any commit) does not open a second room: the room is in the record.
    let record = app.get_json("cmd", "/api/v1/incidents/INC-1/record").await;
    let opened =
        record["entries"].as_array().expect("entries").iter().filter(|e| e["kind"] == "chat.room_opened").count();
    assert_eq!(opened, 1);

    // Released from legal, lee is removed from the room.
    let released = app.delete("cmd", "/api/v1/incidents/INC-1/roles/legal/lee").await;
    assert!(released.status().is_success(), "{}", released.text().await.unwrap_or_default());
    until("lee is removed from the room", || async {
        let (joined, invited) = hs.members(&chat.bot, &room).await;
        !joined.contains(&lee.id) && !invited.contains(&lee.id)
    })
    .await;
}

#[tokio::test]
async fn a_restricted_incident_room_holds_only_people_who_may_see_it() {
    let Some(chat) = spawn_chat_app().await else { return };
    let (hs, app) = (chat.hs, &chat.app);
    let (cmd, otto) = (hs.register("cmd"), hs.register("otto"));
    let cmd_dm = chat.link("cmd", &cmd).await;
    let otto_dm = chat.link("otto", &otto).await;
    let declared = app
        .post("cmd", "/api/v1/incidents", json!({"title": "Insider case", "severity": "sev1", "restricted": true}))
        .await;
    assert_eq!(declared.status(), 201);
    let room = chat.room_of("INC-1").await;
    until("only the commander is invited", || async {
        let (joined, invited) = hs.members(&chat.bot, &room).await;
        invited == vec![cmd.id.clone()] && joined == vec![chat.bot.id.clone()]
    })
    .await;

    // otto, outside it, names the incident from his direct room with the bot: refused, and
    // nothing is written.
    let before = chat.seq("INC-1");
    hs.send(&otto, &otto_dm, "!sitrep INC-1 fact I know things").await;
    chat.says(&otto, &otto_dm, "there is no incident INC-1 you may see").await;
    assert_eq!(chat.seq("INC-1"), before);

    // Even its commander speaks of it only in its own room, where only those who may see it are.
    hs.send(&cmd, &cmd_dm, "!sitrep INC-1 fact said in the wrong room").await;
    chat.says(&cmd, &cmd_dm, "INC-1 is restricted: send commands in its own room").await;
    assert_eq!(chat.seq("INC-1"), before);
}
