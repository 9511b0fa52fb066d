//! `sitrep bench server`: a load generator for capacity planning, like pgbench.
//!
//! Against a running server, with an admin token, it sets up two bench users and an incident,
//! then measures in turn: clients logging facts, clients reading the SITREP, clients proposing
//! and approving decisions, and live-event watchers. It prints throughput and latency
//! percentiles per action and the commit-to-watcher delay: from each entry's server timestamp
//! (taken just before its commit) to the moment a watcher has read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::cli::{BenchServerArgs, ClientArgs};
use crate::exit::Exit;

struct Bench {
    http: reqwest::Client,
    base: String,
}

struct Actor {
    name: String,
    token: String,
}

impl Bench {
    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// As [`Bench::call`], without parsing the answer: what a client that only needs the
    /// status (or streams the body elsewhere) pays.
    async fn hit(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<()> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }

    /// A member with a fresh token, created by the admin.
    async fn person(&self, admin: &str, name: &str) -> anyhow::Result<Actor> {
        let created = self
            .call(admin, reqwest::Method::POST, "/api/v1/users", Some(json!({"name": name, "org_role": "member"})))
            .await;
        if let Err(error) = created
            && !error.to_string().contains("409")
        {
            return Err(error);
        }
        let token = self
            .call(
                admin,
                reqwest::Method::POST,
                &format!("/api/v1/users/{name}/tokens"),
                Some(json!({"expires_in_days": 1, "label": "bench"})),
            )
            .await?;
        Ok(Actor { name: name.to_owned(), token: token["token"].as_str().context("no token")?.to_owned() })
    }
}

/// Latencies of one kind of action.
#[derive(Default)]
struct Figures {
    latencies: Vec<Duration>,
    errors: usize,
}

impl Figures {
    fn line(mut self, what: &str, elapsed: Duration) -> String {
        self.latencies.sort_unstable();
        let at = |q: f64| {
            self.latencies
                .get(((self.latencies.len() as f64 * q) as usize).min(self.latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        format!(
            "| {what} | {:.0}/s | {:.2} ms | {:.2} ms | {:.1} ms | {} |",
            self.latencies.len() as f64 / elapsed.as_secs_f64(),
            at(0.5),
            at(0.99),
            at(1.0),
            self.errors
        )
    }
}

pub(crate) fn run(args: &BenchServerArgs, client: &ClientArgs) -> anyhow::Result<Exit> {
    let base = client.url.clone().context("name the server with --url or SITREP_URL")?.trim_end_matches('/').to_owned();
    let admin = client.token.clone().context("pass an admin token with --token or SITREP_TOKEN")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(args.clients.max(args.watchers) + 16).build()?;
        let bench = Arc::new(Bench { http, base });
        let cmd = bench.person(&admin, "bench-commander").await?;
        let tech = bench.person(&admin, "bench-tech").await?;
        // One incident per measurement, so that each starts from the same small state.
        let declare = |title: &'static str| {
            let (bench, cmd, tech) = (bench.clone(), cmd.token.clone(), tech.name.clone());
            async move {
                let body = json!({"title": title, "severity": "sev4", "exercise": true, "roles": {"tech_lead": tech}});
                let declared = bench.call(&cmd, reqwest::Method::POST, "/api/v1/incidents", Some(body)).await?;
                anyhow::Ok(declared["id"].as_str().context("no incident id")?.to_owned())
            }
        };
        let (writes, reading, deciding, watched) =
            (declare("Load test: facts").await?, declare("Load test: reads").await?, declare("Load test: decisions").await?, declare("Load test: watchers").await?);
        // A SITREP of the size a real incident has: a dozen facts, a few decisions and tasks.
        for n in 0..12 {
            let body = json!({"text": format!("Observation {n}: token used from 203.0.113.{n}"), "source": "siem"});
            bench.call(&tech.token, reqwest::Method::POST, &format!("/api/v1/incidents/{reading}/facts"), Some(body)).await?;
        }
        for n in 0..4 {
            let body = json!({"class": "containment", "title": format!("Block egress range {n}")});
            bench.call(&tech.token, reqwest::Method::POST, &format!("/api/v1/incidents/{reading}/decisions"), Some(body)).await?;
            let body = json!({"title": format!("Check host group {n}"), "owner": tech.name});
            bench.call(&cmd.token, reqwest::Method::POST, &format!("/api/v1/incidents/{reading}/tasks"), Some(body)).await?;
        }
        let rss_before = resident_memory(&bench, &admin).await;
        println!("sitrep bench server: {} clients against {}, {} s per measurement", args.clients, bench.base, args.seconds);
        println!();
        println!("| action | throughput | p50 | p99 | max | errors |");
        println!("|---|---|---|---|---|---|");
        let duration = Duration::from_secs(args.seconds);

        let facts = drive(&bench, args.clients, duration, {
            let (token, incident) = (tech.token.clone(), writes.clone());
            move |bench: Arc<Bench>, n: usize| {
                let (token, incident) = (token.clone(), incident.clone());
                async move {
                    let body = json!({"text": format!("Finding {n}: beacon to 198.51.100.23 from build-runner-7"), "source": "bench"});
                    bench.hit(&token, reqwest::Method::POST, &format!("/api/v1/incidents/{incident}/facts"), Some(body)).await
                }
            }
        })
        .await;
        println!("{}", facts.0.line("log a fact (durable)", facts.1));

        let reads = drive(&bench, args.clients, duration, {
            let (token, incident) = (cmd.token.clone(), reading.clone());
            move |bench: Arc<Bench>, _| {
                let (token, incident) = (token.clone(), incident.clone());
                async move { bench.hit(&token, reqwest::Method::GET, &format!("/api/v1/incidents/{incident}/sitrep"), None).await }
            }
        })
        .await;
        println!("{}", reads.0.line("read the SITREP (JSON, 12 facts, 4 decisions, 4 tasks)", reads.1));

        let decisions = drive(&bench, args.clients, duration, {
            let (tech, cmd, incident) = (tech.token.clone(), cmd.token.clone(), deciding.clone());
            move |bench: Arc<Bench>, n: usize| {
                let (tech, cmd, incident) = (tech.clone(), cmd.clone(), incident.clone());
                async move {
                    let body = json!({"class": "recovery", "title": format!("Restore service {n}")});
                    let proposed = bench.call(&tech, reqwest::Method::POST, &format!("/api/v1/incidents/{incident}/decisions"), Some(body)).await?;
                    let id = proposed["id"].as_str().context("no decision id")?.to_owned();
                    bench.hit(&cmd, reqwest::Method::POST, &format!("/api/v1/incidents/{incident}/decisions/{id}/approve"), Some(json!({}))).await
                }
            }
        })
        .await;
        println!("{}", decisions.0.line("propose and approve (two-person rule, 2 requests)", decisions.1));

        let delays = watch(&bench, &cmd.token, &tech.token, &watched, args).await?;
        println!("{delays}");
        let rss_after = resident_memory(&bench, &admin).await;
        println!();
        println!(
            "Server resident memory: {} before the load, {} after.",
            rss_before.map_or("unknown".into(), |b| format!("{:.1} MB", b as f64 / 1e6)),
            rss_after.map_or("unknown".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
        );
        anyhow::Ok(())
    })?;
    Ok(Exit::Ok)
}

/// Runs `action` from `clients` tasks for `duration`, timing each call.
async fn drive<F, Fut>(bench: &Arc<Bench>, clients: usize, duration: Duration, action: F) -> (Figures, Duration)
where
    F: Fn(Arc<Bench>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (bench, action) = (bench.clone(), action.clone());
            tokio::spawn(async move {
                let mut figures = Figures::default();
                let mut n = client * 1_000_000;
                while Instant::now() < deadline {
                    n += 1;
                    let begun = Instant::now();
                    match action(bench.clone(), n).await {
                        Ok(()) => figures.latencies.push(begun.elapsed()),
                        Err(_) => figures.errors += 1,
                    }
                }
                figures
            })
        })
        .collect();
    let mut all = Figures::default();
    for task in tasks {
        if let Ok(figures) = task.await {
            all.latencies.extend(figures.latencies);
            all.errors += figures.errors;
        }
    }
    (all, started.elapsed())
}

/// Opens the watchers, writes facts at a steady rate, and measures each entry's delay from its
/// server timestamp to each watcher having read it.
async fn watch(
    bench: &Arc<Bench>,
    reader: &str,
    writer: &str,
    incident: &str,
    args: &BenchServerArgs,
) -> anyhow::Result<String> {
    let delays = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    for _ in 0..args.watchers {
        let response = bench
            .http
            .get(format!("{}/api/v1/incidents/{incident}/events", bench.base))
            .bearer_auth(reader)
            .send()
            .await
            .context("opening a watcher")?;
        if !response.status().is_success() {
            bail!("opening a watcher: {}", response.status());
        }
        let (delays, stop) = (delays.clone(), stop.clone());
        watchers.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = Vec::new();
            let mut mine = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let now = sitrep_store::time::now().as_jiff();
                buffer.extend_from_slice(&chunk);
                while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    if let Some(data) = line.strip_prefix(b"data:")
                        && let Ok(entry) = serde_json::from_slice::<Value>(data)
                        && let Some(at) = entry["at"].as_str().and_then(|a| a.parse::<jiff::Timestamp>().ok())
                    {
                        let delay = now.duration_since(at);
                        mine.push(Duration::from_micros(delay.as_micros().max(0) as u64));
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            delays.lock().await.extend(mine);
        }));
    }
    let interval = Duration::from_secs_f64(1.0 / args.watch_rate.max(1) as f64);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut ticker = tokio::time::interval(interval);
    let mut written = 0u64;
    while Instant::now() < deadline {
        ticker.tick().await;
        let body = json!({"text": format!("Watched finding {written}"), "source": "bench"});
        bench.call(writer, reqwest::Method::POST, &format!("/api/v1/incidents/{incident}/facts"), Some(body)).await?;
        written += 1;
    }
    // Let the last events arrive, then close the streams with one more entry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    bench
        .call(
            writer,
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{incident}/notes"),
            Some(json!({"text": "bench done"})),
        )
        .await?;
    for watcher in watchers {
        let _ = tokio::time::timeout(Duration::from_secs(10), watcher).await;
    }
    let mut delays = std::mem::take(&mut *delays.lock().await);
    delays.sort_unstable();
    let at = |q: f64| {
        delays
            .get(((delays.len() as f64 * q) as usize).min(delays.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Ok(format!(
        "| commit-to-watcher delay, {} watchers, {} entries/s ({} deliveries of {} entries) | — | {:.2} ms | {:.2} ms | {:.1} ms | — |",
        args.watchers,
        args.watch_rate,
        delays.len(),
        written,
        at(0.5),
        at(0.99),
        at(1.0)
    ))
}

/// The server's resident memory, from its `/metrics`.
async fn resident_memory(bench: &Bench, token: &str) -> Option<u64> {
    let text =
        bench.http.get(format!("{}/metrics", bench.base)).bearer_auth(token).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse().ok())
}
