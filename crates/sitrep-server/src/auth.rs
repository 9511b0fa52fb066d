//! Who is calling: API tokens, browser sessions with CSRF protection, passwords and the
//! throttling of failed sign-ins.
//!
//! - **Tokens** are 32 random bytes shown once; the organisation record holds their SHA-256, so
//!   checking one is a hash and a map lookup in the folded organisation state.
//! - **Sessions** live in the store under the SHA-256 of their id, written in the commit that
//!   records `session.started`, so they survive a restart and every node on one database shares
//!   them. A session ends at its absolute lifetime (`session_hours`), after `session_idle_minutes`
//!   unused, when it is signed out (`session.ended`), or when its user is disabled or given a new
//!   password (in that commit). Each node keeps what it read for a few seconds, so a session
//!   ended on another node stops working here within [`SESSION_RECHECK`]; ended here, at once.
//!   The cookie is `HttpOnly`, `SameSite=Strict`, and `Secure` when the public URL is
//!   `https://`. Every change made with a session cookie must carry the session's CSRF token in
//!   `X-CSRF-Token` (or the form field `csrf`), compared in constant time.
//! - **Passwords** are argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), hashed and
//!   checked on password threads of their own (two per core) so a sign-in never stalls other
//!   requests; a check computes in a buffer its thread keeps, so floods cost no lasting memory.
//! - **Throttling**: 5 failed sign-ins per account or 20 per client address within 15 minutes
//!   lock further attempts until the oldest failure ages out; an unknown account and a wrong
//!   password get the same answer and take the same time. An attempt counts as a failure from
//!   the moment it is let in (released only if the password is right), one check runs per
//!   account at a time and at most two per core at all; anything past that is refused at once
//!   with 429, so parallel guesses get no further than sequential ones and cost bounded memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use sitrep_core::authn::Authentication;
use sitrep_core::{Timestamp, UserName};
use sitrep_store::Request;
use sitrep_store::SessionRow;

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "sitrep_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
const FAILURES_PER_ACCOUNT: usize = 5;
const FAILURES_PER_ADDRESS: usize = 20;
/// How long a node trusts what it read of a session before reading the store again.
pub const SESSION_RECHECK: Duration = Duration::from_secs(5);
/// A session's last use is written at most this often (seconds), for the idle limit.
const SEEN_EVERY_SECS: i64 = 60;
/// Sessions a node keeps in memory before it forgets them all and reads afresh.
const SESSIONS_KEPT: usize = 10_000;

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserName,
    pub csrf: String,
    /// SHA-256 (hex) of the cookie's secret: the store's key.
    pub id: String,
    pub authentication: Authentication,
    seen_at: Timestamp,
    expires_at: Timestamp,
}

/// A session as last read from the store, and when.
#[derive(Debug, Clone)]
struct Known {
    session: Session,
    read: Instant,
}

/// Recent failed sign-ins, and the checks under way.
#[derive(Debug, Default)]
struct Attempts {
    by_account: HashMap<String, VecDeque<Instant>>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    /// Accounts whose password is being checked right now: one check at a time per account.
    checking: HashSet<String>,
    /// Password checks running now, across all accounts.
    in_flight: usize,
}

/// A sign-in attempt, counted as a failure from the moment it is let in until its password
/// proves right. Dropping it (when the check ends, even if the client has gone) frees the
/// account's check and the global slot; the failure stays unless [`Reservation::succeeded`].
#[derive(Debug)]
pub struct Reservation {
    attempts: Arc<Mutex<Attempts>>,
    account: String,
    address: Option<IpAddr>,
    at: Instant,
}

impl Reservation {
    /// The password was right: the attempt is no failure, and the account's earlier failures
    /// are forgiven. Failures counted against the address stay: one valid account must not
    /// reset the count for guessing others.
    fn succeeded(&self) {
        let mut attempts = self.attempts.lock();
        attempts.by_account.remove(&self.account);
        if let Some(list) = self.address.and_then(|ip| attempts.by_address.get_mut(&ip))
            && let Some(position) = list.iter().rposition(|t| *t == self.at)
        {
            list.remove(position);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut attempts = self.attempts.lock();
        attempts.checking.remove(&self.account);
        attempts.in_flight = attempts.in_flight.saturating_sub(1);
    }
}

/// Sessions and sign-in throttling, shared by every request.
#[derive(Debug)]
pub struct Auth {
    /// Sessions read from the store lately, by id; see [`SESSION_RECHECK`].
    sessions: Mutex<HashMap<String, Known>>,
    attempts: Arc<Mutex<Attempts>>,
    /// The most password checks that run at once (each holds 19 MiB while it runs).
    max_checks: usize,
    /// Password checks evaluated since start, for `/metrics`.
    checks: AtomicU64,
    /// The threads that hash and check passwords.
    hashers: Hashers,
    session_lifetime_secs: i64,
    session_idle_secs: i64,
    /// Ticks whenever sessions end, so live streams opened with one can stop at once.
    sessions_ended: tokio::sync::watch::Sender<u64>,
    /// A hash of nothing, checked against when the account is unknown, so both cases cost the same.
    decoy: String,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_token(prefix: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let bytes = sitrep_store::datadir::random_bytes::<32>().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (slow by design; call from a blocking task).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| ApiError::Internal(format!("hashing a password: {error}")))
}

/// Checks a password against a stored hash (slow by design; call from a blocking task).
pub fn password_matches(password: &str, phc: &str) -> bool {
    password_matches_in(password, phc, &mut Vec::new())
}

/// As [`password_matches`], computing in `memory`, which grows to the hash's memory cost once
/// and is reused by later checks. argon2's own verification allocates 19 MiB per check, and
/// glibc, having raised its mmap threshold after the first free, keeps each such block: every
/// sign-in left the server 19 MiB larger. Each password thread owns one `memory`.
fn password_matches_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm.as_str()), Params::try_from(&hash)) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut computed = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut computed,
        &mut memory[..blocks],
    );
    hashed.is_ok() && same_bytes(&computed, expected.as_bytes())
}

/// Equal length and contents, compared without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The rules a new password must meet (OWASP ASVS 2.1: length, not content rules).
pub fn check_new_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < 12 {
        return Err(ApiError::invalid("password", "must be at least 12 characters"));
    }
    if length > 128 {
        return Err(ApiError::invalid("password", "must be at most 128 characters"));
    }
    Ok(())
}

impl Auth {
    pub fn new(session_hours: u64, session_idle_minutes: u64) -> Result<Auth, ApiError> {
        let seconds = |n: u64, unit: u64| i64::try_from(n.max(1).saturating_mul(unit)).unwrap_or(i64::MAX);
        Ok(Auth {
            sessions: Mutex::new(HashMap::new()),
            attempts: Arc::default(),
            max_checks: max_checks(),
            checks: AtomicU64::new(0),
            hashers: Hashers::start(max_checks())?,
            session_lifetime_secs: seconds(session_hours, 3600),
            session_idle_secs: seconds(session_idle_minutes, 60),
            sessions_ended: tokio::sync::watch::channel(0).0,
            decoy: hash_password("sitrep decoy password")?,
        })
    }

    pub fn decoy_hash(&self) -> &str {
        &self.decoy
    }

    /// The session a cookie names, if it has not ended, expired or sat idle too long at `now`.
    /// Its use is written back (at most once a minute) for the idle limit.
    pub fn session(&self, store: &dyn sitrep_store::Store, cookie: &str, now: Timestamp) -> Option<Session> {
        self.still_open(store, &sha256_hex(cookie), now)
    }

    /// As [`Auth::session`], by the SHA-256 the store keys a session by.
    pub fn still_open(&self, store: &dyn sitrep_store::Store, id: &str, now: Timestamp) -> Option<Session> {
        let cached = self.sessions.lock().get(id).filter(|k| k.read.elapsed() < SESSION_RECHECK).cloned();
        let session = match cached {
            Some(known) => known.session,
            None => {
                let row = store
                    .session(id)
                    .inspect_err(|error| tracing::error!(%error, "reading a session from the store"))
                    .ok()
                    .flatten();
                let mut sessions = self.sessions.lock();
                let Some(row) = row else {
                    sessions.remove(id);
                    return None;
                };
                let session = Session {
                    user: UserName::parse(&row.user).ok()?,
                    csrf: row.csrf,
                    id: row.id,
                    authentication: row.authentication,
                    seen_at: row.seen_at,
                    expires_at: row.expires_at,
                };
                if sessions.len() >= SESSIONS_KEPT {
                    sessions.clear();
                }
                sessions.insert(id.to_owned(), Known { session: session.clone(), read: Instant::now() });
                session
            }
        };
        if !self.is_open(session.seen_at, session.expires_at, now) {
            return None;
        }
        if now >= session.seen_at.plus_seconds(SEEN_EVERY_SECS) {
            match store.touch_session(id, now) {
                Ok(()) => {
                    if let Some(known) = self.sessions.lock().get_mut(id) {
                        known.session.seen_at = now;
                    }
                }
                Err(error) => tracing::error!(%error, "noting a session's use"),
            }
        }
        Some(session)
    }

    /// Whether a session last used at `seen_at` and ending at `expires_at` is still open at
    /// `now`: neither past its absolute lifetime nor idle too long. Asking does not use it.
    pub fn is_open(&self, seen_at: Timestamp, expires_at: Timestamp, now: Timestamp) -> bool {
        now < expires_at && now < seen_at.plus_seconds(self.session_idle_secs)
    }

    /// Forgets what this node read of a session, so the next request reads the store.
    fn forget(&self, id: &str) {
        self.sessions.lock().remove(id);
        self.sessions_ended.send_modify(|n| *n += 1);
    }

    /// Tells this node that a user's sessions ended (the store ended them in the commit that
    /// disabled the user or set their password), so open streams stop at once.
    pub fn end_sessions_of(&self, user: &UserName) {
        self.sessions.lock().retain(|_, known| &known.session.user != user);
        self.sessions_ended.send_modify(|n| *n += 1);
    }

    /// Changes whenever sessions end.
    pub fn sessions_ended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sessions_ended.subscribe()
    }

    /// Lets a sign-in attempt in, counted as a failure until it succeeds, or refuses it at once
    /// (429): while the account or the address has too many recent failures, while the
    /// account's password is already being checked, or while the server is checking as many
    /// passwords as it will at once. So parallel guesses are evaluated no more often than
    /// sequential ones, and a flood costs at most `max_checks` hashes' memory.
    pub fn reserve(&self, account: &str, address: Option<IpAddr>) -> Result<Reservation, ApiError> {
        let mut attempts = self.attempts.lock();
        let now = Instant::now();
        let wait = |list: Option<&mut VecDeque<Instant>>, limit: usize| -> Option<Duration> {
            let list = list?;
            while list.front().is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW) {
                list.pop_front();
            }
            (list.len() >= limit)
                .then(|| list.front().map_or(FAILURE_WINDOW, |t| FAILURE_WINDOW - now.duration_since(*t)))
        };
        let account_wait = wait(attempts.by_account.get_mut(account), FAILURES_PER_ACCOUNT);
        let address_wait = address.and_then(|ip| wait(attempts.by_address.get_mut(&ip), FAILURES_PER_ADDRESS));
        if let Some(wait) = account_wait.max(address_wait) {
            let seconds = wait.as_secs().max(1);
            return Err(throttled(format!("too many failed sign-ins; try again in {seconds} seconds"), seconds));
        }
        if attempts.checking.contains(account) {
            return Err(throttled("a sign-in to this account is being checked; try again in a second".into(), 1));
        }
        if attempts.in_flight >= self.max_checks {
            return Err(throttled("the server is checking many sign-ins; try again in a second".into(), 1));
        }
        attempts.by_account.entry(account.to_owned()).or_default().push_back(now);
        if let Some(ip) = address {
            attempts.by_address.entry(ip).or_default().push_back(now);
        }
        attempts.checking.insert(account.to_owned());
        attempts.in_flight += 1;
        if attempts.by_account.len() > 100_000 {
            attempts.by_account.retain(|_, list| list.back().is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW));
        }
        if attempts.by_address.len() > 100_000 {
            attempts.by_address.retain(|_, list| list.back().is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW));
        }
        Ok(Reservation { attempts: self.attempts.clone(), account: account.to_owned(), address, at: now })
    }

    /// Password checks evaluated since the server started.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

/// Password checks that may run at once: two per core.
fn max_checks() -> usize {
    2 * std::thread::available_parallelism().map_or(1, usize::from)
}

/// Work for a password thread, given the thread's reusable argon2 memory.
type HashJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// A few threads of their own for argon2. Each hash allocates 19 MiB; on the blocking pool,
/// whichever of its many threads ran one kept that memory in its own allocator arena (120
/// parallel sign-ins left the server 1.3 GiB larger). The same few threads reuse it.
#[derive(Debug)]
struct Hashers {
    /// Several threads take from one queue, which the standard library's channel cannot do.
    jobs: crossbeam_channel::Sender<HashJob>,
}

impl Hashers {
    fn start(threads: usize) -> Result<Hashers, ApiError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<HashJob>();
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("sitrep-password-{n}"))
                // Ends when the `Auth` that owns the sender is dropped.
                .spawn(move || {
                    let mut memory = Vec::new();
                    queue.iter().for_each(|job| job(&mut memory));
                })
                .map_err(|e| ApiError::Internal(format!("cannot start a password thread: {e}")))?;
        }
        Ok(Hashers { jobs })
    }
}

impl Auth {
    /// Runs slow password work (argon2) on the password threads.
    pub async fn hashing<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        self.on_hasher(move |_| work()).await
    }

    async fn on_hasher<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move |memory| {
            let _ = answer.send(work(memory));
        });
        self.hashers.jobs.send(job).map_err(|_| ApiError::Internal("the password threads have stopped".into()))?;
        answered.await.map_err(|_| ApiError::Internal("a password thread stopped".into()))
    }
}

fn throttled(message: String, retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests { message, retry_after_secs }
}

/// Checks a name and password, with throttling and the same answer for every failure.
pub async fn sign_in(
    app: &AppState,
    name: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<UserName, ApiError> {
    let reservation = app.auth.reserve(name, address)?;
    let user = UserName::parse(name).ok().filter(|u| app.ledger.org().user(u).is_some_and(|u| u.active));
    let stored = match &user {
        Some(user) => app.ledger.store().password_hash(user.as_str())?,
        None => None,
    };
    let phc = stored.clone().unwrap_or_else(|| app.auth.decoy_hash().to_owned());
    let password = password.to_owned();
    app.auth.checks.fetch_add(1, Ordering::Relaxed);
    // The reservation travels with the check, so its slot is held until the hash is done even
    // if the client goes away first.
    let (matches, reservation) =
        app.auth.on_hasher(move |memory| (password_matches_in(&password, &phc, memory), reservation)).await?;
    match user {
        Some(user) if matches && stored.is_some() => {
            reservation.succeeded();
            Ok(user)
        }
        _ => Err(ApiError::Unauthorized("the name or password is wrong".into())),
    }
}

/// Starts a browser session for `user`, recorded as `session.started` with how they
/// authenticated; returns the cookie value and the CSRF token.
pub async fn begin_session(
    app: &AppState,
    user: &UserName,
    authentication: Authentication,
) -> Result<(String, String), ApiError> {
    let cookie = random_token("")?;
    let csrf = random_token("")?;
    let now = app.now();
    let store = app.ledger.store();
    if let Err(error) = store.purge_sessions(now, now.plus_seconds(-app.auth.session_idle_secs)) {
        tracing::warn!(%error, "removing ended sessions");
    }
    let session = SessionRow {
        id: sha256_hex(&cookie),
        user: user.to_string(),
        csrf: csrf.clone(),
        started_at: now,
        seen_at: now,
        expires_at: now.plus_seconds(app.auth.session_lifetime_secs),
        authentication,
    };
    app.ledger.execute(user, Request::SignIn { session }).await?;
    Ok((cookie, csrf))
}

/// Ends a session (`id`: the SHA-256 the store keys it by), recorded as `session.ended` by
/// `by`, its owner or an admin.
pub async fn end_session(
    app: &AppState,
    by: &UserName,
    owner: &UserName,
    id: &str,
    reason: Option<String>,
) -> Result<sitrep_store::Receipt, ApiError> {
    let request = Request::SignOut { user: owner.clone(), session: id.to_owned(), reason };
    let result = app.ledger.execute(by, request).await;
    app.auth.forget(id);
    Ok(result?)
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// An API token, by the SHA-256 the organisation record holds.
    Token { sha256: String },
    /// A browser session, by the SHA-256 the store keys it by.
    Session { id: String, csrf: String, authentication: Box<Authentication> },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserName,
    pub via: Via,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether a browser says this request comes from another site: a form on another origin
/// posting to sign-in would otherwise sign the victim's browser into the attacker's account
/// (login CSRF). `Sec-Fetch-Site` decides when the browser sends it; otherwise `Origin` is
/// compared with the server's own origin (the public URL when configured, else the `Host`
/// header). A request with neither header (a script, an old browser) is not judged cross-site.
pub fn cross_site(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text("origin") else { return false };
    let authority = |url: &str| url.split_once("://").map(|(_, rest)| rest.trim_end_matches('/').to_ascii_lowercase());
    let Some(from) = authority(origin) else { return true };
    let ours = match public_url {
        Some(url) => authority(url).map(|a| a.split('/').next().unwrap_or_default().to_owned()),
        None => text("host").map(str::to_ascii_lowercase),
    };
    ours.is_none_or(|ours| ours != from)
}

/// Compares secrets without leaking, through timing, how much of them matched.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Caller {
    /// Authenticates from `Authorization: Bearer` or the session cookie, and checks CSRF for
    /// cookie-authenticated changes (the header; forms check their own field).
    pub fn from_headers(
        app: &AppState,
        method: &Method,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<Caller, ApiError> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
            let org = app.ledger.org();
            let sha256 = sha256_hex(token);
            let user = org
                .authenticate(&sha256, now)
                .ok_or_else(|| ApiError::Unauthorized("the API token is unknown, expired or revoked".into()))?;
            return Ok(Caller { user: user.name.clone(), via: Via::Token { sha256 } });
        }
        let id = cookie(headers, SESSION_COOKIE)
            .ok_or_else(|| ApiError::Unauthorized("sign in, or send `Authorization: Bearer <token>`".into()))?;
        let session = app
            .auth
            .session(app.ledger.store().as_ref(), id, now)
            .filter(|s| app.ledger.org().user(&s.user).is_some_and(|u| u.active))
            .ok_or_else(|| ApiError::Unauthorized("the session has ended; sign in again".into()))?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|sent| same_secret(sent, &session.csrf)) {
                return Err(ApiError::Csrf(format!(
                    "a change made with a session cookie must carry the session's CSRF token in the {CSRF_HEADER} header"
                )));
            }
        }
        let via = Via::Session { id: session.id, csrf: session.csrf, authentication: Box::new(session.authentication) };
        Ok(Caller { user: session.user, via })
    }
}

impl Caller {
    /// The ledger request for an incident command by this caller: from a browser session, it
    /// carries how the person signed in, so a class's step-up can be judged and recorded.
    pub fn incident_request(
        &self,
        incident: sitrep_core::IncidentNumber,
        command: sitrep_core::IncidentCommand,
    ) -> Request {
        match &self.via {
            Via::Session { authentication, .. } => {
                Request::IncidentInSession { incident, command, authentication: authentication.as_ref().clone() }
            }
            Via::Token { .. } => Request::Incident { incident, command },
        }
    }

    /// Whether the credential this caller proved themself with still holds: the token is
    /// unexpired and unrevoked, or the session has not ended, and the user is still active.
    /// Long-lived answers (live streams) ask before every event they send.
    pub fn still_valid(&self, app: &AppState, now: Timestamp) -> bool {
        let org = app.ledger.org();
        match &self.via {
            Via::Token { sha256 } => org.authenticate(sha256, now).is_some_and(|user| user.name == self.user),
            Via::Session { id, .. } => {
                app.auth.still_open(app.ledger.store().as_ref(), id, now).is_some_and(|s| s.user == self.user)
                    && org.user(&self.user).is_some_and(|u| u.active)
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Caller::from_headers(app, &parts.method, &parts.headers, app.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_with_owasp_parameters() {
        let phc = hash_password("correct horse battery staple").expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(password_matches("correct horse battery staple", &phc));
        assert!(!password_matches("correct horse battery stapl", &phc));
        assert!(!password_matches("anything", "not a hash"));
    }

    #[test]
    fn a_check_in_reused_memory_reads_the_parameters_from_the_stored_hash() {
        let mut memory = Vec::new();
        let phc = hash_password("correct horse battery staple").expect("hashes");
        for _ in 0..2 {
            assert!(password_matches_in("correct horse battery staple", &phc, &mut memory));
            assert!(!password_matches_in("correct horse battery stapler", &phc, &mut memory));
        }
        assert_eq!(memory.len(), 19 * 1024, "19 MiB of 1 KiB blocks, allocated once");
        // A hash made with other parameters (a cheaper one, as an older deployment might hold).
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).expect("params"))
            .hash_password(b"an older password")
            .expect("hashes")
            .to_string();
        assert!(password_matches_in("an older password", &cheap, &mut memory));
        assert!(!password_matches_in("an older passwore", &cheap, &mut memory));
        assert!(!password_matches_in("anything", "$argon2id$v=19$m=8,t=1,p=1$bm90IGEgc2FsdA", &mut memory));
    }

    #[test]
    fn throttling_locks_an_account_after_five_failures() {
        let auth = Auth::new(1, 60).expect("auth");
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..5 {
            drop(auth.reserve("lee", Some(ip)).expect("let in"));
        }
        let refused = auth.reserve("lee", Some(ip)).expect_err("locked");
        assert!(matches!(refused, ApiError::TooManyRequests { retry_after_secs, .. } if retry_after_secs > 800));
        assert!(auth.reserve("cora", Some(ip)).is_ok(), "another account from the same address is not locked yet");
    }

    #[test]
    fn one_check_per_account_at_a_time_and_a_few_at_most() {
        let auth = Auth::new(1, 60).expect("auth");
        let first = auth.reserve("lee", None).expect("let in");
        let refused = auth.reserve("lee", None).expect_err("one check at a time");
        assert!(matches!(refused, ApiError::TooManyRequests { retry_after_secs: 1, .. }));
        let others: Vec<_> =
            (1..auth.max_checks).map(|i| auth.reserve(&format!("u{i}"), None).expect("let in")).collect();
        assert!(auth.reserve("one-too-many", None).is_err(), "the global bound holds");
        drop(first);
        assert!(auth.reserve("one-too-many", None).is_ok(), "a finished check frees its slot");
        drop(others);
    }

    #[test]
    fn a_right_password_forgives_the_account_but_not_the_address() {
        let auth = Auth::new(1, 60).expect("auth");
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..4 {
            drop(auth.reserve("lee", Some(ip)).expect("let in"));
        }
        let right = auth.reserve("lee", Some(ip)).expect("let in");
        right.succeeded();
        drop(right);
        for _ in 0..5 {
            drop(auth.reserve("lee", Some(ip)).expect("the account starts afresh"));
        }
        assert!(auth.reserve("lee", Some(ip)).is_err());
        let address = auth.attempts.lock().by_address.get(&ip).map_or(0, VecDeque::len);
        assert_eq!(address, 9, "the four earlier failures and five later ones, not the success");
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().expect("a header value"));
            }
            map
        };
        let host = ("host", "sitrep.example:8080");
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")]), None));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")]), None), "a sibling site is another site");
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")]), None));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")]), None), "typed or bookmarked");
        assert!(cross_site(&headers(&[host, ("origin", "https://evil.example")]), None));
        assert!(cross_site(&headers(&[host, ("origin", "null")]), None), "an opaque origin");
        assert!(!cross_site(&headers(&[host, ("origin", "http://sitrep.example:8080")]), None));
        let public = Some("https://sitrep.example/");
        assert!(!cross_site(&headers(&[("host", "10.0.0.5"), ("origin", "https://sitrep.example")]), public));
        assert!(cross_site(&headers(&[("host", "sitrep.example"), ("origin", "https://evil.example")]), public));
        assert!(!cross_site(&headers(&[host]), None), "a script sends neither");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
