//! `sitrep bench chat`: commit-to-chat-message latency for many incidents' Matrix rooms.
//!
//! Against a running server whose `[matrix]` bot is on a homeserver, with an admin token and a
//! Matrix account for the bench: it links that account through the verified flow, declares
//! `--incidents` exercise incidents with the bench person as commander, joins every room the
//! bot invites it to, then logs one fact on every incident at once and times, per incident,
//! from the server's answer (the entry is durable) to the moment the room's edited SITREP
//! headline reaches the bench's own `/sync`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::{BenchChatArgs, ClientArgs};
use crate::exit::Exit;

struct Http {
    http: reqwest::Client,
}

impl Http {
    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{url}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn enc(part: &str) -> String {
    form_urlencoded::byte_serialize(part.as_bytes()).collect()
}

pub(crate) fn run(args: &BenchChatArgs, client: &ClientArgs) -> anyhow::Result<Exit> {
    let base = client.url.clone().context("name the server with --url or SITREP_URL")?.trim_end_matches('/').to_owned();
    let admin = client.token.clone().context("pass an admin token with --token or SITREP_TOKEN")?;
    let hs = args.homeserver.trim_end_matches('/').to_owned();
    let mx = format!("{hs}/_matrix/client/v3");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let web = Http { http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build()? };
        let me = &args.matrix_token;
        let name = "bench-chat";
        let created = web
            .call(&admin, reqwest::Method::POST, &format!("{base}/api/v1/users"), Some(json!({"name": name, "org_role": "member"})))
            .await;
        if let Err(error) = created
            && !error.to_string().contains("409")
        {
            return Err(error);
        }
        let token = web
            .call(&admin, reqwest::Method::POST, &format!("{base}/api/v1/users/{name}/tokens"), Some(json!({"expires_in_days": 1})))
            .await?["token"]
            .as_str()
            .context("no token")?
            .to_owned();
        let whoami = web.call(me, reqwest::Method::GET, &format!("{mx}/account/whoami"), None).await?;
        let my_id = whoami["user_id"].as_str().context("whoami")?.to_owned();

        // Link the bench's Matrix account: a code asked for as the person, sent from the account.
        let code = web.call(&token, reqwest::Method::POST, &format!("{base}/api/v1/chat/link-codes"), Some(json!({}))).await?
            ["code"]
            .as_str()
            .context("no code")?
            .to_owned();
        let dm = web
            .call(me, reqwest::Method::POST, &format!("{mx}/createRoom"), Some(json!({"invite": [args.bot], "is_direct": true, "preset": "private_chat"})))
            .await?["room_id"]
            .as_str()
            .context("no room")?
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let members = web.call(me, reqwest::Method::GET, &format!("{mx}/rooms/{}/joined_members", enc(&dm)), None).await?;
            if members["joined"].get(&args.bot).is_some() {
                break;
            }
            if Instant::now() > deadline {
                bail!("the bot {} did not join a room it was invited to; is [matrix] configured?", args.bot);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let send = |room: String, text: String| {
            let (web, mx, me) = (&web, &mx, me);
            async move {
                let url = format!("{mx}/rooms/{}/send/m.room.message/{}", enc(&room), uuid::Uuid::new_v4());
                web.call(me, reqwest::Method::PUT, &url, Some(json!({"msgtype": "m.text", "body": text}))).await
            }
        };
        send(dm.clone(), format!("!sitrep link {code}")).await?;

        // Declare the incidents once linked (the first sync tells).
        let mut since = web.call(me, reqwest::Method::GET, &format!("{mx}/sync?timeout=0"), None).await?["next_batch"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut incidents = Vec::new();
        for n in 0..args.incidents {
            let body = json!({"title": format!("chat bench {n}"), "severity": "sev4", "exercise": true});
            let declared = web.call(&token, reqwest::Method::POST, &format!("{base}/api/v1/incidents"), Some(body)).await?;
            incidents.push(declared["id"].as_str().context("no id")?.to_owned());
        }
        println!("sitrep bench chat: {} incidents, bot {}, bench account {my_id}", incidents.len(), args.bot);

        // Join every room the bot invites us to.
        let mut rooms: HashMap<String, String> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        while rooms.len() < incidents.len() {
            if Instant::now() > deadline {
                bail!("only {} of {} incident rooms arrived", rooms.len(), incidents.len());
            }
            let answer = web.call(me, reqwest::Method::GET, &format!("{mx}/sync?timeout=5000&since={}", enc(&since)), None).await?;
            since = answer["next_batch"].as_str().unwrap_or_default().to_owned();
            for room in answer["rooms"]["invite"].as_object().into_iter().flat_map(|o| o.keys()) {
                web.call(me, reqwest::Method::POST, &format!("{mx}/join/{}", enc(room)), Some(json!({}))).await?;
                rooms.insert(room.clone(), String::new());
            }
        }
        for id in &incidents {
            let record = web.call(&token, reqwest::Method::GET, &format!("{base}/api/v1/incidents/{id}/record"), None).await?;
            let room = record["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["kind"] == "chat.room_opened")
                .and_then(|e| e["body"]["room"].as_str().map(str::to_owned))
                .context("an incident has no room")?;
            rooms.insert(room, id.clone());
        }
        // Settle: let the rooms' first headlines arrive before measuring.
        tokio::time::sleep(Duration::from_secs(3)).await;
        since = web.call(me, reqwest::Method::GET, &format!("{mx}/sync?timeout=0&since={}", enc(&since)), None).await?["next_batch"]
            .as_str()
            .unwrap_or_default()
            .to_owned();

        // One fact on every incident at once; each clock starts when its commit is answered.
        let started: Vec<(String, Instant)> = futures_util::future::try_join_all(incidents.iter().map(|id| {
            let (web, base, token) = (&web, &base, &token);
            async move {
                let body = json!({"text": "chat bench fact"});
                web.call(token, reqwest::Method::POST, &format!("{base}/api/v1/incidents/{id}/facts"), Some(body)).await?;
                anyhow::Ok((id.clone(), Instant::now()))
            }
        }))
        .await?;
        let started: HashMap<String, Instant> = started.into_iter().collect();
        let mut latencies: HashMap<String, Duration> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        while latencies.len() < incidents.len() && Instant::now() < deadline {
            let answer = web.call(me, reqwest::Method::GET, &format!("{mx}/sync?timeout=5000&since={}", enc(&since)), None).await?;
            let arrived = Instant::now();
            since = answer["next_batch"].as_str().unwrap_or_default().to_owned();
            for (room, data) in answer["rooms"]["join"].as_object().into_iter().flatten() {
                let Some(id) = rooms.get(room) else { continue };
                let seen = data["timeline"]["events"].as_array().into_iter().flatten().any(|event| {
                    event["content"]["m.new_content"]["body"].as_str().is_some_and(|b| b.contains("1 unverified"))
                });
                if seen && !latencies.contains_key(id) {
                    latencies.insert(id.clone(), arrived - started[id]);
                }
            }
        }
        let mut sorted: Vec<Duration> = latencies.into_values().collect();
        sorted.sort_unstable();
        let at = |q: f64| sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3);
        println!();
        println!("| measurement | rooms | p50 | p99 | max |");
        println!("|---|---|---|---|---|");
        println!(
            "| commit to edited headline in the room (one fact on every incident at once) | {}/{} | {:.0} ms | {:.0} ms | {:.0} ms |",
            sorted.len(),
            incidents.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
        Ok(if sorted.len() == incidents.len() { Exit::Ok } else { Exit::Unavailable })
    })
}
