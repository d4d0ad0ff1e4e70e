//! The server side of a browser test: passkeyd in-process on `127.0.0.1:<port>` over a fresh
//! SQLite file, with the default app (demo on, RP ID `localhost`, origin
//! `http://localhost:<port>`) and a secret key, plus a client for the backend API.

use axum::Router;
use passkeyd::config::DEFAULT_APP_ID;
use passkeyd::secrets;
use passkeyd::server::{router::router, AppState, Server};
use passkeyd::service::{now_ms, Service};
use passkeyd::settings::AppSettings;
use passkeyd::views::AuthenticatorNames;
use passkeyd_store::{ApiKey, App, SharedStore};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for any one condition before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often a condition is polled.
pub const POLL: Duration = Duration::from_millis(50);

/// A random hex name, for temporary directories.
pub fn random_name(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        passkeyd_core::error::hex(&secrets::random_bytes(6).unwrap())
    )
}

/// Whether a prerequisite of a test is present. A missing one fails the test in CI (`CI=true`);
/// elsewhere it prints `SKIPPED: <hint>` and the test returns early.
pub fn require(what: &str, present: bool, hint: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required in CI: {hint}");
    }
    eprintln!("SKIPPED: {hint}");
    false
}

/// One passkeyd serving over TCP, with the default app and a key for it.
pub struct Passkeyd {
    pub state: AppState,
    pub store: SharedStore,
    pub port: u16,
    /// The origin pages must be on: `http://localhost:<port>`.
    pub origin: String,
    /// A secret key of the default app.
    pub key: String,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    dir: PathBuf,
}

/// What test routes merged next to passkeyd's need to call its backend API.
#[derive(Clone)]
pub struct Backend {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Passkeyd {
    /// passkeyd with the default app allowing `max_passkeys` per user.
    pub async fn start(max_passkeys: u32) -> Self {
        let (state, store, dir) = Self::state().await;
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), state.clone())
            .await
            .unwrap();
        let port = server.local_addr().unwrap().port();
        let key = write_app(&store, port, max_passkeys).await;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    rx.await.ok();
                })
                .await
                .unwrap();
        });
        Self::assemble(state, store, dir, port, key, tx, task)
    }

    /// passkeyd with extra routes of the test merged next to its own on the same listener (so
    /// on the same origin), which `routes` builds knowing how to reach the backend API.
    pub async fn start_with(routes: impl FnOnce(Backend) -> Router) -> Self {
        let (state, store, dir) = Self::state().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let key = write_app(&store, port, 5).await;
        let backend = Backend {
            base: format!("http://127.0.0.1:{port}"),
            key: key.clone(),
            http: reqwest::Client::new(),
        };
        let app = router(state.clone()).merge(routes(backend));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                rx.await.ok();
            })
            .await
            .unwrap();
        });
        Self::assemble(state, store, dir, port, key, tx, task)
    }

    async fn state() -> (AppState, SharedStore, PathBuf) {
        let dir = std::env::temp_dir().join(random_name("passkeyd-e2e-"));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("passkeyd.sqlite3").display());
        let store = passkeyd_store::open(&url).await.unwrap();
        let service = Service::new(store.clone(), AuthenticatorNames::new(HashMap::new()))
            .with_audit_writer();
        (AppState::new(service), store, dir)
    }

    fn assemble(
        state: AppState,
        store: SharedStore,
        dir: PathBuf,
        port: u16,
        key: String,
        shutdown: oneshot::Sender<()>,
        task: JoinHandle<()>,
    ) -> Self {
        Passkeyd {
            state,
            store,
            port,
            origin: format!("http://localhost:{port}"),
            key,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task,
            dir,
        }
    }

    /// The demo page's address.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Calls the backend API with the secret key; returns the status and the JSON body (`Null`
    /// when empty).
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    /// Asserts the status of a backend API reply; returns its body.
    #[track_caller]
    pub fn expect(reply: (u16, Value), status: u16) -> Value {
        assert_eq!(reply.0, status, "{}", reply.1);
        reply.1
    }

    /// The user's passkeys, from the backend API.
    pub async fn passkeys(&self, external_id: &str) -> Vec<Value> {
        let reply = self
            .api(
                Method::GET,
                &format!("/v1/users/{external_id}/passkeys"),
                None,
            )
            .await;
        let body = Self::expect(reply, 200);
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Sets the default app's per-user passkey limit.
    pub async fn set_max_passkeys(&self, max: u32) {
        self.configure(|s| s.max_passkeys_per_user = max).await;
    }

    /// Changes the default app's settings in the store, as `passkeyd apps update` does; the
    /// server reads apps per request, so the change holds from the next request on.
    pub async fn configure(&self, change: impl FnOnce(&mut AppSettings)) {
        let mut app = self.store.get_app(DEFAULT_APP_ID).await.unwrap().unwrap();
        let mut settings = AppSettings::from_stored(&app.settings).unwrap();
        change(&mut settings);
        settings.validate().unwrap();
        app.settings = settings.to_stored().unwrap();
        assert!(self.store.update_app(&app).await.unwrap());
    }

    /// The count of a ceremony step's outcome in the server's metrics (0 when never seen).
    pub fn ceremony_count(&self, ceremony: &str, outcome: &str) -> u64 {
        self.metric_sum(&format!(
            "passkeyd_ceremonies_total{{ceremony=\"{ceremony}\",outcome=\"{outcome}\"}}"
        ))
    }

    /// The count of requests to a route template with a status.
    pub fn request_count(&self, route: &str, status: u16) -> u64 {
        self.count_requests(None, route, status)
    }

    /// The count of requests with a method (`GET`, `OPTIONS`, ...) to a route template with a
    /// status; one route template serves several methods.
    pub fn method_request_count(&self, method: &str, route: &str, status: u16) -> u64 {
        self.count_requests(Some(method), route, status)
    }

    fn count_requests(&self, method: Option<&str>, route: &str, status: u16) -> u64 {
        let text = self.state.metrics.render();
        text.lines()
            .filter(|l| {
                l.starts_with("passkeyd_http_requests_total{")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains(&format!("status=\"{status}\""))
                    && method.is_none_or(|m| l.contains(&format!("method=\"{m}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    fn metric_sum(&self, series: &str) -> u64 {
        self.state
            .metrics
            .render()
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

impl Drop for Passkeyd {
    fn drop(&mut self) {
        // Chromium may hold keep-alive connections, which a graceful shutdown would wait for:
        // the test is over, so the server task is ended outright after the signal.
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        self.task.abort();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Writes the default app for a server on `port` and returns a new secret key for it. The app is
/// written after binding because its origin names the port; the server reads apps per request,
/// so it is in place before any page loads.
async fn write_app(store: &SharedStore, port: u16, max_passkeys: u32) -> String {
    let origin = format!("http://localhost:{port}");
    let mut settings = AppSettings::new("localhost", "passkeyd e2e", vec![origin]);
    settings.demo = true;
    settings.max_passkeys_per_user = max_passkeys;
    settings.validate().unwrap();
    let now = now_ms();
    store
        .create_app(&App {
            id: DEFAULT_APP_ID.to_owned(),
            name: settings.rp_name.clone(),
            settings: settings.to_stored().unwrap(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    add_key(store).await
}

async fn add_key(store: &SharedStore) -> String {
    let made = secrets::new_api_key().unwrap();
    store
        .create_api_key(&ApiKey {
            id: secrets::new_id("key").unwrap(),
            app_id: DEFAULT_APP_ID.to_owned(),
            prefix: made.prefix,
            hash: made.hash,
            name: None,
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    made.key
}

/// Where screenshots and other artifacts of these tests go (created on first use).
pub fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/e2e-artifacts"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
