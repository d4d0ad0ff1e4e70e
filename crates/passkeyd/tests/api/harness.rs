//! The test harness: a passkeyd app in-process over a fresh SQLite file or a fresh PostgreSQL
//! database (created for the test and dropped after it), a secret key for it, request helpers,
//! and whole ceremonies played by the software authenticator.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use passkeyd::secrets;
use passkeyd::server::{router::router, AppState};
use passkeyd::service::{now_ms, Service};
use passkeyd::settings::AppSettings;
use passkeyd::views::AuthenticatorNames;
use passkeyd_store::{ApiKey, App, SharedStore};
use passkeyd_testauth::{b64url_decode, AuthenticationRequest, Authenticator, RegistrationRequest};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use tower::ServiceExt;

/// The origin and RP ID every test app uses.
pub const ORIGIN: &str = "http://localhost:8080";
pub const RP_ID: &str = "localhost";

/// Where a test's data lives; removed when dropped.
pub enum Database {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// A new empty SQLite directory.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "passkeyd-test-{}",
            passkeyd_core::error::hex(&secrets::random_bytes(8).unwrap())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Database::Sqlite(dir)
    }

    /// A new empty PostgreSQL database, or `None` (with a note) when PostgreSQL is not
    /// reachable outside CI. In CI (`CI=true`) an unreachable PostgreSQL fails the test.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("PASSKEYD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let client = match admin(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("PostgreSQL is required in CI but not reachable at {admin_url}: {e}");
                }
                eprintln!("SKIPPED: PostgreSQL not reachable at {admin_url}: {e}");
                return None;
            }
        };
        let name = format!(
            "passkeyd_api_{}",
            passkeyd_core::error::hex(&secrets::random_bytes(8).unwrap())
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Some(Database::Postgres { admin_url, name })
    }

    /// The URL passkeyd opens.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => format!("sqlite:{}", dir.join("passkeyd.sqlite3").display()),
            Database::Postgres { admin_url, name } => {
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        }
    }

    /// A directory for files of the test (the data dir itself for SQLite).
    pub fn dir(&self) -> PathBuf {
        match self {
            Database::Sqlite(dir) => dir.clone(),
            Database::Postgres { name, .. } => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir).unwrap();
                dir
            }
        }
    }
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, String> {
    let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(std::time::Duration::from_secs(5), connect)
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for Database {
    fn drop(&mut self) {
        match self {
            Database::Sqlite(dir) => {
                std::fs::remove_dir_all(dir).ok();
            }
            Database::Postgres { admin_url, name } => {
                std::fs::remove_dir_all(std::env::temp_dir().join(&*name)).ok();
                let (url, name) = (admin_url.clone(), name.clone());
                // Drop cannot await; a thread with its own runtime drops the database.
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        if let Ok(client) = admin(&url).await {
                            client
                                .batch_execute(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await
                                .ok();
                        }
                    });
                })
                .join()
                .ok();
            }
        }
    }
}

/// One passkeyd instance in-process, with an app and a key.
pub struct TestApp {
    pub store: SharedStore,
    pub state: AppState,
    pub app_id: String,
    pub key: String,
    pub db: std::sync::Arc<Database>,
}

/// A response: status, headers and JSON body (`Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error reply, after checking the error shape.
    pub fn code(&self) -> &str {
        let error = &self.body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        let id = error["request_id"].as_str().expect("request_id");
        assert_eq!(
            self.headers
                .get("x-request-id")
                .and_then(|h| h.to_str().ok()),
            Some(id)
        );
        error["code"].as_str().expect("error code")
    }

    /// Asserts the status and the error code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "{}",
            self.body
        );
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }
}

impl TestApp {
    /// A fresh instance over SQLite.
    pub async fn sqlite() -> Self {
        Self::on(std::sync::Arc::new(Database::sqlite())).await
    }

    /// A fresh instance over PostgreSQL, or `None` when it is skipped.
    pub async fn postgres() -> Option<Self> {
        Some(Self::on(std::sync::Arc::new(Database::postgres().await?)).await)
    }

    /// A fresh instance (with a new app and key) over an existing database.
    pub async fn on(db: std::sync::Arc<Database>) -> Self {
        let store = passkeyd_store::open(&db.url()).await.unwrap();
        let app_id = format!(
            "app_{}",
            passkeyd_core::error::hex(&secrets::random_bytes(6).unwrap())
        );
        let settings = AppSettings::new(RP_ID, "Test", vec![ORIGIN.to_owned()]);
        add_app(&store, &app_id, &settings).await;
        let key = add_key(&store, &app_id).await;
        Self::instance(db, store, app_id, key)
    }

    /// Another instance (its own store connections and state) over the same database, app and key.
    pub async fn second_instance(&self) -> Self {
        let store = passkeyd_store::open(&self.db.url()).await.unwrap();
        Self::instance(
            self.db.clone(),
            store,
            self.app_id.clone(),
            self.key.clone(),
        )
    }

    fn instance(
        db: std::sync::Arc<Database>,
        store: SharedStore,
        app_id: String,
        key: String,
    ) -> Self {
        let service = Service::new(store.clone(), AuthenticatorNames::new(HashMap::new()))
            .with_audit_writer();
        TestApp {
            store,
            state: AppState::new(service),
            app_id,
            key,
            db,
        }
    }

    /// Changes the app's settings.
    pub async fn configure(&self, f: impl FnOnce(&mut AppSettings)) {
        let mut app = self.store.get_app(&self.app_id).await.unwrap().unwrap();
        let mut settings = AppSettings::from_stored(&app.settings).unwrap();
        f(&mut settings);
        settings.validate().unwrap();
        app.settings = settings.to_stored().unwrap();
        assert!(self.store.update_app(&app).await.unwrap());
    }

    /// A request with raw body bytes and optional headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router(self.state.clone())
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else if headers
            .get("content-type")
            .is_some_and(|c| c.to_str().unwrap_or("").starts_with("application/json"))
        {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request authenticated with the app's key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_with(&self.key.clone(), method, path, body).await
    }

    /// A request authenticated with `key`.
    pub async fn call_with(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let auth = format!("Bearer {key}");
        let mut headers = vec![("authorization", auth.as_str())];
        let bytes = match body {
            Some(b) => {
                headers.push(("content-type", "application/json"));
                serde_json::to_vec(&b).unwrap()
            }
            None => Vec::new(),
        };
        self.raw(method, path, bytes, &headers).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Starts a registration and has the authenticator answer it; returns the ceremony id and
    /// the credential JSON, not yet finished.
    pub async fn registration_response(
        &self,
        auth: &mut Authenticator,
        start: Value,
    ) -> (String, Value) {
        let started = self.post("/v1/registrations/start", start).await;
        let body = started.expect(200);
        let options = &body["options"];
        let challenge = b64url_decode(options["challenge"].as_str().unwrap()).unwrap();
        let handle = b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let reg = auth.register(&RegistrationRequest::new(
            options["rp"]["id"].as_str().unwrap(),
            ORIGIN,
            challenge,
            handle,
        ));
        (body["ceremony_id"].as_str().unwrap().to_owned(), reg.json)
    }

    /// A whole registration; returns the passkey.
    pub async fn register(&self, auth: &mut Authenticator, external_id: &str) -> Value {
        let (ceremony_id, credential) = self
            .registration_response(auth, json!({"external_id": external_id}))
            .await;
        let finished = self
            .post(
                "/v1/registrations/finish",
                json!({"ceremony_id": ceremony_id, "credential": credential}),
            )
            .await;
        finished.expect(201)["passkey"].clone()
    }

    /// Starts a sign-in and has the authenticator answer with `request` adjusted by `adjust`;
    /// returns the ceremony id and the assertion JSON.
    pub async fn authentication_response(
        &self,
        auth: &mut Authenticator,
        start: Value,
        adjust: impl FnOnce(AuthenticationRequest) -> AuthenticationRequest,
    ) -> (String, Value) {
        let started = self.post("/v1/authentications/start", start).await;
        let body = started.expect(200);
        let challenge = b64url_decode(body["options"]["challenge"].as_str().unwrap()).unwrap();
        let request = adjust(AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
        let assertion = auth.authenticate(&request);
        (
            body["ceremony_id"].as_str().unwrap().to_owned(),
            assertion.json,
        )
    }

    /// A whole sign-in; returns the finish reply.
    pub async fn sign_in(&self, auth: &mut Authenticator, external_id: Option<&str>) -> Reply {
        let start = match external_id {
            Some(id) => json!({"external_id": id}),
            None => json!({}),
        };
        let (ceremony_id, credential) = self.authentication_response(auth, start, |r| r).await;
        self.post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
    }
}

/// Stores an app.
pub async fn add_app(store: &SharedStore, id: &str, settings: &AppSettings) {
    let now = now_ms();
    store
        .create_app(&App {
            id: id.to_owned(),
            name: settings.rp_name.clone(),
            settings: settings.to_stored().unwrap(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
}

/// Stores a new key for an app and returns it.
pub async fn add_key(store: &SharedStore, app_id: &str) -> String {
    let made = secrets::new_api_key().unwrap();
    store
        .create_api_key(&ApiKey {
            id: secrets::new_id("key").unwrap(),
            app_id: app_id.to_owned(),
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

/// Runs a test body against SQLite and against PostgreSQL: `both!(name, |t| async move {...})`
/// makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::harness::TestApp::sqlite().await;
                ($body)(t).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = $crate::harness::TestApp::postgres().await {
                    ($body)(t).await;
                }
            }
        }
    };
}
