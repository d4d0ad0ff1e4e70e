//! The load: complete ceremonies over HTTP (start, sign in the load generator, finish), driven
//! as a closed loop (a fixed number of workers, each starting its next ceremony when the last one
//! ends) or an open loop (ceremonies started on a fixed schedule whatever the server's pace, with
//! latency counted from the scheduled start so that queueing shows instead of hiding).

use crate::authenticator::{b64, unb64, KeyPool, RelyingParty};
use crate::measure::Sampler;
use crate::seed::Population;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A ceremony the load is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Username-first sign-in: start with the user's external id, finish.
    AuthUsername,
    /// Discoverable sign-in: start with `{}`, finish with the user handle.
    AuthDiscoverable,
    /// Registration of a new user's first passkey (`none` attestation).
    Register,
    /// The browser flow of a username-first sign-in, as an app runs it: the backend asks for a
    /// transaction, the page starts and finishes the ceremony on the public endpoints (no
    /// session), and the backend trades the nonce.
    Nonce,
    /// `POST /v1/me/session/refresh` with a session token opened before the load: a fresh JWT.
    SessionRefresh,
    /// Not a ceremony: two `GET /health` requests, the HTTP exchanges a ceremony makes with
    /// nothing behind them (no body, key, store or signature). Its server CPU is the floor the
    /// HTTP stack and the kernel set under every ceremony.
    HttpFloor,
}

/// The origin the bench's pages run on (the bench's app allows exactly this one).
pub const ORIGIN: &str = "http://localhost:8080";

/// A small, fast random generator (xorshift64*) for choosing users; quality beyond "spread
/// evenly" does not matter here, and it keeps the generator's CPU low.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (mixed, so that consecutive seeds give unrelated sequences).
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The server under load, and what the generator needs to sign for its users.
pub struct Target {
    client: reqwest::Client,
    base_url: String,
    authorization: String,
    /// The app's public id, for the public endpoints' paths.
    app_id: String,
    /// Session tokens opened before a session load, one per virtual user.
    sessions: OnceLock<Vec<String>>,
    /// The users to sign in as.
    pub population: Population,
    pool: KeyPool,
    rp: RelyingParty,
    /// Registrations made so far (the register scenario's new users are numbered).
    registrations: AtomicU64,
    /// What this run's registered external ids start with: unique per run, so a reused data
    /// directory or a shared server never sees one twice.
    registration_prefix: String,
}

/// The HTTP client every request goes through: HTTP/1.1 keep-alive, one connection per
/// concurrent ceremony, no Nagle delay.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The stable code of a failed request: the server's error code, or what went wrong on the way.
fn failure(status: reqwest::StatusCode, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http_{}", status.as_u16()))
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "transport_timeout".to_owned()
    } else if error.is_connect() {
        "transport_connect".to_owned()
    } else {
        "transport_error".to_owned()
    }
}

impl Target {
    /// A target at `base_url` (`http://host:port`) acting with `key`.
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        key: &str,
        app_id: &str,
        population: Population,
        pool: KeyPool,
    ) -> Result<Self, String> {
        let mut nonce = [0u8; 6];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "the system random generator failed")?;
        Ok(Target {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {key}"),
            app_id: app_id.to_owned(),
            sessions: OnceLock::new(),
            population,
            pool,
            rp: RelyingParty::new("localhost", "http://localhost:8080"),
            registrations: AtomicU64::new(0),
            registration_prefix: format!("reg-{}-", b64(&nonce)),
        })
    }

    /// The key pool's size.
    pub fn pool_size(&self) -> usize {
        self.pool.len()
    }

    /// POSTs `body` to `path` with the app's key; the answer's JSON, or the failure's code.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.send(path, Some(body), Some(&self.authorization), false)
            .await
    }

    /// POSTs `body` to the app's public endpoint `/v1/apps/{app_id}/<path>` as a page on
    /// [`ORIGIN`] does.
    async fn public(&self, path: &str, body: &Value) -> Result<Value, String> {
        let path = format!("/v1/apps/{}/{path}", self.app_id);
        self.send(&path, Some(body), None, true).await
    }

    /// `GET /health`, which answers a constant.
    async fn health(&self) -> Result<(), String> {
        let response = self
            .client
            .get(format!("{}/health", self.base_url))
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport(&e))?;
        if !status.is_success() {
            return Err(failure(status, &body));
        }
        Ok(())
    }

    /// POSTs to `path`, with `authorization` and the `Origin` header when asked.
    async fn send(
        &self,
        path: &str,
        body: Option<&Value>,
        authorization: Option<&str>,
        origin: bool,
    ) -> Result<Value, String> {
        let mut request = self.client.post(format!("{}{path}", self.base_url));
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if origin {
            request = request.header(reqwest::header::ORIGIN, ORIGIN);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport(&e))?;
        if !status.is_success() {
            return Err(failure(status, &body));
        }
        serde_json::from_slice(&body).map_err(|_| "response_not_json".to_owned())
    }

    /// Whether the server has an endpoint: anything but 404 `route_not_found` means it has.
    pub async fn has_route(&self, path: &str) -> Result<bool, String> {
        match self.post(path, &json!({})).await {
            Err(code) if code == "route_not_found" => Ok(false),
            Err(code) if code.starts_with("transport") => Err(code),
            _ => Ok(true),
        }
    }

    /// One complete ceremony of `scenario`, by virtual user `slot` (the closed loop's worker, the
    /// open loop's ceremony number); only the session scenario uses it, to pick its token.
    pub async fn ceremony(
        &self,
        scenario: Scenario,
        rng: &mut Rng,
        slot: u64,
    ) -> Result<(), String> {
        match scenario {
            Scenario::HttpFloor => {
                self.health().await?;
                self.health().await
            }
            Scenario::Nonce => {
                let user = rng.below(self.population.count);
                self.nonce(user).await
            }
            Scenario::SessionRefresh => {
                let sessions = self.sessions.get().map_or(&[][..], Vec::as_slice);
                let index = usize::try_from(slot).unwrap_or(0) % sessions.len().max(1);
                let token = sessions.get(index).ok_or("no_session_opened")?;
                self.refresh(token).await
            }
            Scenario::AuthUsername => {
                let user = rng.below(self.population.count);
                let external_id = self.population.external_id(user);
                self.sign_in(user, json!({ "external_id": external_id }))
                    .await
            }
            Scenario::AuthDiscoverable => {
                let user = rng.below(self.population.count);
                self.sign_in(user, json!({})).await
            }
            Scenario::Register => {
                let n = self.registrations.fetch_add(1, Ordering::Relaxed);
                let external_id = format!("{}{n}", self.registration_prefix);
                let mut credential_id = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut credential_id)
                    .map_err(|_| "the system random generator failed".to_owned())?;
                self.register(&external_id, &credential_id, n)
                    .await
                    .map(drop)
            }
        }
    }

    /// A browser sign-in of `user` through a transaction, finished with `session_transport`;
    /// the finish's answer.
    async fn browser_sign_in(&self, user: u64, session_transport: &str) -> Result<Value, String> {
        let external_id = self.population.external_id(user);
        let transaction = self
            .post(
                "/v1/transactions/authenticate",
                &json!({ "external_id": external_id }),
            )
            .await?;
        let transaction_id = transaction["transaction_id"]
            .as_str()
            .ok_or("transaction_without_id")?;
        let started = self
            .public(
                "authentications/start",
                &json!({ "transaction_id": transaction_id }),
            )
            .await?;
        let (ceremony_id, challenge) = ids(&started)?;
        let credential = self.rp.assertion(
            self.pool.for_user(user),
            &self.population.credential_id(user),
            &self.population.handle(user),
            challenge,
        )?;
        self.public(
            "authentications/finish",
            &json!({
                "ceremony_id": ceremony_id,
                "credential": credential,
                "session_transport": session_transport,
            }),
        )
        .await
    }

    /// The nonce scenario's ceremony: transaction, public start and finish, nonce verified.
    async fn nonce(&self, user: u64) -> Result<(), String> {
        let finished = self.browser_sign_in(user, "none").await?;
        let nonce = finished["nonce"].as_str().ok_or("finish_without_nonce")?;
        let verified = self
            .post("/v1/nonces/verify", &json!({ "nonce": nonce }))
            .await?;
        if verified["external_id"] != self.population.external_id(user).as_str() {
            return Err("nonce_of_someone_else".to_owned());
        }
        if verified["kind"] != "authentication" {
            return Err("nonce_of_another_kind".to_owned());
        }
        Ok(())
    }

    /// One session refresh with `token`: a fresh JWT.
    async fn refresh(&self, token: &str) -> Result<(), String> {
        let refreshed = self
            .send(
                "/v1/me/session/refresh",
                None,
                Some(&format!("Bearer {token}")),
                true,
            )
            .await?;
        match refreshed["jwt"].as_str() {
            Some(jwt) if jwt.split('.').count() == 3 => Ok(()),
            _ => Err("refresh_without_jwt".to_owned()),
        }
    }

    /// Opens `count` sessions, one per virtual user (user `i % population` for session `i`),
    /// with browser sign-ins that ask `"session_transport": "token"`, `concurrency` at a time;
    /// the session scenario's load refreshes them. Their cost is not measured.
    pub async fn open_sessions(
        self: &Arc<Self>,
        count: usize,
        concurrency: usize,
    ) -> Result<(), String> {
        let population = self.population.count.max(1);
        let mut tokens: Vec<Option<String>> = vec![None; count];
        let mut running = tokio::task::JoinSet::new();
        let mut next = 0usize;
        loop {
            while next < count && running.len() < concurrency.max(1) {
                let target = Arc::clone(self);
                let i = next;
                running.spawn(async move {
                    let user = i as u64 % population;
                    let finished = target.browser_sign_in(user, "token").await?;
                    finished["session"]["token"]
                        .as_str()
                        .map(|t| (i, t.to_owned()))
                        .ok_or_else(|| "finish_without_session_token (sessions off?)".to_owned())
                });
                next += 1;
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (i, token) = joined
                .map_err(|e| format!("session task: {e}"))?
                .map_err(|code| format!("opening a session: {code}"))?;
            if let Some(slot) = tokens.get_mut(i) {
                *slot = Some(token);
            }
        }
        let tokens = tokens
            .into_iter()
            .map(|t| t.ok_or_else(|| "a session never opened".to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        self.sessions
            .set(tokens)
            .map_err(|_| "the sessions were opened twice".to_owned())
    }

    async fn sign_in(&self, user: u64, start: Value) -> Result<(), String> {
        let started = self.post("/v1/authentications/start", &start).await?;
        let (ceremony_id, challenge) = ids(&started)?;
        let credential = self.rp.assertion(
            self.pool.for_user(user),
            &self.population.credential_id(user),
            &self.population.handle(user),
            challenge,
        )?;
        let finished = self
            .post(
                "/v1/authentications/finish",
                &json!({ "ceremony_id": ceremony_id, "credential": credential }),
            )
            .await?;
        if finished["user"]["external_id"] != self.population.external_id(user).as_str() {
            return Err("signed_in_as_someone_else".to_owned());
        }
        Ok(())
    }

    /// Registers a new user `external_id` with a passkey whose credential id is `credential_id`
    /// and whose key is the pool's key `key_index`; returns the user handle the server drew.
    async fn register(
        &self,
        external_id: &str,
        credential_id: &[u8],
        key_index: u64,
    ) -> Result<Vec<u8>, String> {
        let started = self
            .post(
                "/v1/registrations/start",
                &json!({ "external_id": external_id }),
            )
            .await?;
        let (ceremony_id, challenge) = ids(&started)?;
        let handle = started["options"]["user"]["id"]
            .as_str()
            .and_then(unb64)
            .ok_or("start_without_user_handle")?;
        let credential =
            self.rp
                .registration(self.pool.for_user(key_index), credential_id, challenge)?;
        self.post(
            "/v1/registrations/finish",
            &json!({ "ceremony_id": ceremony_id, "credential": credential }),
        )
        .await?;
        Ok(handle)
    }

    /// Registers the population's user `i` over HTTP (for a server the bench cannot seed
    /// directly); returns the handle the server drew for it.
    pub async fn register_user(&self, i: u64) -> Result<Vec<u8>, String> {
        let external_id = self.population.external_id(i);
        let credential_id = self.population.credential_id(i);
        self.register(&external_id, &credential_id, i).await
    }
}

/// The ceremony id and challenge of a start's answer.
fn ids(started: &Value) -> Result<(&str, &str), String> {
    let ceremony_id = started["ceremony_id"]
        .as_str()
        .ok_or("start_without_ceremony_id")?;
    let challenge = started["options"]["challenge"]
        .as_str()
        .ok_or("start_without_challenge")?;
    Ok((ceremony_id, challenge))
}

/// What happened to one ceremony, in microseconds since the load began.
#[derive(Debug, Clone)]
pub struct Record {
    /// When it started (closed loop) or was scheduled to start (open loop).
    pub start: u64,
    /// When it ended.
    pub end: u64,
    /// How late the generator started it after its scheduled time (open loop; 0 otherwise).
    pub lag: u64,
    /// The error code, if it failed.
    pub error: Option<String>,
}

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// This long.
    Time(Duration),
    /// Until this many ceremonies started after the warm-up have ended (closed loop only).
    Ceremonies(u64),
}

/// The records of a load and the measured window's edges (microseconds since the load began).
pub struct Run {
    /// Every ceremony, warm-up included.
    pub records: Vec<Record>,
    /// The window's start.
    pub t0: u64,
    /// The window's end.
    pub t1: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn push(records: &Mutex<Vec<Record>>, record: Record) {
    if let Ok(mut records) = records.lock() {
        records.push(record);
    }
}

/// The closed loop: `concurrency` workers, each running ceremonies back to back.
pub async fn closed(
    target: Arc<Target>,
    scenario: Scenario,
    concurrency: usize,
    warmup: Duration,
    window: Window,
    probe: &mut Sampler,
) -> Run {
    let origin = Instant::now();
    let records = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let measured_starts = Arc::new(AtomicU64::new(0));
    let quota = match window {
        Window::Ceremonies(n) => Some(n),
        Window::Time(_) => None,
    };
    let mut seed = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut seed);
    let seed = u64::from_le_bytes(seed);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let (target, records, stop, measuring, measured_starts) = (
            Arc::clone(&target),
            Arc::clone(&records),
            Arc::clone(&stop),
            Arc::clone(&measuring),
            Arc::clone(&measured_starts),
        );
        workers.spawn(async move {
            let mut rng = Rng::new(seed ^ worker as u64);
            while !stop.load(Ordering::Relaxed) {
                if let (Some(n), true) = (quota, measuring.load(Ordering::Relaxed)) {
                    if measured_starts.fetch_add(1, Ordering::Relaxed) >= n {
                        break;
                    }
                }
                let start = micros(origin.elapsed());
                let outcome = target.ceremony(scenario, &mut rng, worker as u64).await;
                let end = micros(origin.elapsed());
                push(
                    &records,
                    Record {
                        start,
                        end,
                        lag: 0,
                        error: outcome.err(),
                    },
                );
            }
        });
    }
    tokio::time::sleep_until((origin + warmup).into()).await;
    probe.sample().await;
    let t0 = micros(origin.elapsed());
    measuring.store(true, Ordering::Relaxed);
    let t1 = match window {
        Window::Time(duration) => {
            tokio::time::sleep_until((origin + warmup + duration).into()).await;
            probe.sample().await;
            let t1 = micros(origin.elapsed());
            stop.store(true, Ordering::Relaxed);
            while workers.join_next().await.is_some() {}
            t1
        }
        Window::Ceremonies(_) => {
            while workers.join_next().await.is_some() {}
            probe.sample().await;
            micros(origin.elapsed())
        }
    };
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
    Run { records, t0, t1 }
}

/// The open loop: ceremony `i` is due at `i / rate` seconds; at most `max_in_flight` run at
/// once (a due ceremony beyond that waits, and its wait counts in its latency).
pub async fn open(
    target: Arc<Target>,
    scenario: Scenario,
    rate: f64,
    max_in_flight: usize,
    warmup: Duration,
    duration: Duration,
    probe: &mut Sampler,
) -> Run {
    let origin = Instant::now();
    let end = warmup + duration;
    let records = Arc::new(Mutex::new(Vec::new()));
    let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Duration)>();
    // The schedule is kept by an OS thread sleeping to each due time: tokio's timer has a
    // millisecond granularity, which would add up to a millisecond of the generator's own
    // lateness to latencies whose target is two.
    std::thread::spawn(move || {
        let interval = 1.0 / rate.max(f64::MIN_POSITIVE);
        for i in 0u64.. {
            let due = Duration::from_secs_f64(i as f64 * interval);
            if due >= end {
                break;
            }
            if let Some(wait) = (origin + due).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if due_tx.send((i, due)).is_err() {
                break;
            }
        }
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let mut seed = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut seed);
    let seed = u64::from_le_bytes(seed);
    let dispatcher = {
        let (target, records, slots) = (
            Arc::clone(&target),
            Arc::clone(&records),
            Arc::clone(&slots),
        );
        tokio::spawn(async move {
            while let Some((i, due)) = due_rx.recv().await {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let (target, records) = (Arc::clone(&target), Arc::clone(&records));
                tokio::spawn(async move {
                    let began = micros(origin.elapsed());
                    let mut rng = Rng::new(seed ^ i);
                    let outcome = target.ceremony(scenario, &mut rng, i).await;
                    let end = micros(origin.elapsed());
                    let due = micros(due);
                    push(
                        &records,
                        Record {
                            start: due,
                            end,
                            lag: began.saturating_sub(due),
                            error: outcome.err(),
                        },
                    );
                    drop(slot);
                });
            }
        })
    };
    tokio::time::sleep_until((origin + warmup).into()).await;
    probe.sample().await;
    let t0 = micros(origin.elapsed());
    tokio::time::sleep_until((origin + end).into()).await;
    probe.sample().await;
    let t1 = micros(origin.elapsed());
    let _ = dispatcher.await;
    // Every slot free again means every ceremony has ended.
    let all = u32::try_from(max_in_flight.max(1)).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
    Run { records, t0, t1 }
}

/// Registers the population's users over HTTP, `concurrency` at a time, keeping each user's
/// handle in order.
pub async fn register_population(
    target: &Arc<Target>,
    count: u64,
    concurrency: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let mut handles: Vec<Option<Vec<u8>>> = vec![None; usize::try_from(count).unwrap_or(0)];
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0u64;
    loop {
        while next < count && running.len() < concurrency.max(1) {
            let target = Arc::clone(target);
            let i = next;
            running.spawn(async move { (i, target.register_user(i).await) });
            next += 1;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, handle) = joined.map_err(|e| format!("registration task: {e}"))?;
        let handle = handle.map_err(|code| format!("registering user {i}: {code}"))?;
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| handles.get_mut(i)) {
            *slot = Some(handle);
        }
    }
    handles
        .into_iter()
        .map(|h| h.ok_or_else(|| "a registration never finished".to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_spreads_below_its_bound() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = rng.below(10);
            seen[usize::try_from(v).unwrap_or(0)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn failures_carry_the_servers_code() {
        let body = br#"{"error":{"code":"signature_invalid","message":"x","request_id":"1"}}"#;
        assert_eq!(
            failure(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body),
            "signature_invalid"
        );
        assert_eq!(
            failure(reqwest::StatusCode::BAD_GATEWAY, b"<html>"),
            "http_502"
        );
    }
}
