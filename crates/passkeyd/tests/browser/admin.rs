//! The admin dashboard in real Chromium: an invited admin registers a passkey on the virtual
//! authenticator, signs out and in again, creates an app and a key, finds a user (seeded through
//! the backend API with that key and a software authenticator), revokes the user's sessions,
//! deletes one of their passkeys and reads the audit entry of that deletion. A state-changing
//! call from the page without the CSRF header is refused. Every page is photographed at desktop
//! and phone sizes into `target/e2e-artifacts/admin-*.png`.
//!
//! The dashboard's passkeys are bound to the public URL, so this test runs its own passkeyd
//! whose admin side is configured for `http://localhost:<port>` once the port is known.

use crate::chrome::{js_str, Chrome, Tab};
use crate::harness::{artifacts_dir, random_name};
use passkeyd::admin::AdminSettings;
use passkeyd::audit::Caller;
use passkeyd::server::{router::router, AppState};
use passkeyd::service::Service;
use passkeyd::settings::AppContext;
use passkeyd::views::AuthenticatorNames;
use passkeyd_store::SharedStore;
use passkeyd_testauth::{b64url_decode, Alg, Authenticator, RegistrationRequest};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Desktop and phone viewports.
const SIZES: [(i64, i64); 2] = [(1280, 900), (375, 812)];

/// passkeyd with its admin side on `http://localhost:<port>` (no app but the admin one).
struct AdminServer {
    state: AppState,
    store: SharedStore,
    settings: Arc<AdminSettings>,
    origin: String,
    port: u16,
    task: JoinHandle<()>,
    dir: PathBuf,
}

impl AdminServer {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(random_name("passkeyd-e2e-admin-"));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("passkeyd.sqlite3").display());
        let store = passkeyd_store::open(&url).await.unwrap();
        let service = Service::new(store.clone(), AuthenticatorNames::new(HashMap::new()))
            .with_audit_writer();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://localhost:{port}");
        let settings = Arc::new(AdminSettings::new(&origin, 30, 90).unwrap());
        settings.write_app(&store).await.unwrap();
        let mut state = AppState::new(service);
        state.admin = Some(settings.clone());
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        AdminServer {
            state,
            store,
            settings,
            origin,
            port,
            task,
            dir,
        }
    }

    /// A one-time link, made as `passkeyd admin invite --name NAME` makes it.
    async fn invite(&self, name: &str) -> String {
        let made = self
            .state
            .service
            .invite_admin(&self.settings, &Caller::named("cli"), Some(name))
            .await
            .unwrap();
        assert!(made
            .link
            .starts_with(&format!("{}/admin/#invite=", self.origin)));
        made.link
    }

    /// Calls the backend API with a secret key.
    async fn api(&self, key: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let http = reqwest::Client::new();
        let request = match body {
            Some(b) => http.post(url).json(&b),
            None => http.get(url),
        };
        let response = request.bearer_auth(key).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Registers a passkey for `external_id` in `app` through the backend API.
    async fn register(&self, key: &str, auth: &mut Authenticator, external_id: &str) -> String {
        let started = self
            .api(
                key,
                "/v1/registrations/start",
                Some(json!({"external_id": external_id, "username": "Grace Hopper"})),
            )
            .await;
        let options = &started["options"];
        let reg = auth.register(&RegistrationRequest::new(
            "localhost",
            &self.origin,
            b64url_decode(options["challenge"].as_str().unwrap()).unwrap(),
            b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap(),
        ));
        let finished = self
            .api(
                key,
                "/v1/registrations/finish",
                Some(json!({"ceremony_id": started["ceremony_id"], "credential": reg.json})),
            )
            .await;
        finished["passkey"]["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Opens a dashboard route (without reloading) and waits for an element of that page.
async fn open(tab: &Tab, hash: &str, ready: &str) {
    tab.eval(&format!("location.hash = {}", js_str(hash))).await;
    tab.wait_visible(ready).await;
}

/// Photographs the whole page at both sizes; horizontal overflow is reported, not failed on.
async fn shoot(tab: &Tab, name: &str) {
    let dir = artifacts_dir();
    for (width, height) in SIZES {
        tab.set_viewport(width, height).await;
        let overflow = tab
            .eval("document.documentElement.scrollWidth - window.innerWidth")
            .await;
        if overflow.as_f64().is_some_and(|o| o > 0.0) {
            eprintln!(
                "LAYOUT: admin {name} at {width}x{height} is {overflow} px wider than the viewport"
            );
        }
        let path = dir.join(format!("admin-{name}-{width}x{height}.png"));
        tab.screenshot(&path, true).await;
        eprintln!("screenshot: {}", path.display());
    }
    tab.set_viewport(SIZES[0].0, SIZES[0].1).await;
}

async fn count(tab: &Tab, selector: &str) -> u64 {
    tab.eval(&format!(
        "document.querySelectorAll({}).length",
        js_str(selector)
    ))
    .await
    .as_u64()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_admin_manages_apps_users_and_reads_the_audit_log() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let server = AdminServer::start().await;
    let tab = chrome.tab().await;
    tab.set_viewport(SIZES[0].0, SIZES[0].1).await;

    // The invite: the page moves the token out of the address bar, then registers a passkey.
    let link = server.invite("Ada Lovelace").await;
    tab.goto(&link).await;
    tab.wait_visible("#invite-page").await;
    let address = tab.eval("location.href").await;
    assert!(!address.as_str().unwrap().contains("pkd_inv_"), "{address}");
    tab.click("#invite-register").await;
    tab.wait_for(
        "the new admin to be signed in",
        "document.querySelector('[data-testid=admin-name]')?.textContent === 'Ada Lovelace'",
    )
    .await;
    assert_eq!(tab.credentials(&tab.authenticator).await.len(), 1);
    let admin_id = tab
        .eval("fetch('/admin/api/session').then(r => r.json()).then(s => s.admin.id)")
        .await
        .as_str()
        .unwrap()
        .to_owned();

    // Out and in again with that passkey.
    tab.click("#signout").await;
    tab.wait_visible("#signin-page").await;
    shoot(&tab, "signin").await;
    tab.click("#signin-button").await;
    tab.wait_visible("[data-testid=admin-name]").await;
    tab.wait_visible("#overview-chart").await;

    // An app, then a key for it, shown once.
    open(&tab, "#/apps", "#app-form").await;
    tab.fill("#app-id", "shop").await;
    tab.fill("#app-name", "Shop").await;
    tab.fill("#app-rp-id", "localhost").await;
    tab.fill("#app-rp-name", "Shop").await;
    tab.fill("#app-origins", &server.origin).await;
    tab.click("#app-save").await;
    tab.wait_for(
        "the new app's page",
        "location.hash === '#/apps/shop' && !!document.querySelector('#key-create')",
    )
    .await;
    tab.fill("#key-name", "backend").await;
    tab.click("#key-create").await;
    tab.wait_visible("#key-secret").await;
    let key = tab.text("#key-secret").await;
    assert!(key.starts_with("pkd_sk_"), "{key}");
    assert_eq!(count(&tab, "#keys-table tr[data-key-id]").await, 1);
    shoot(&tab, "app-detail").await;

    // A user with two passkeys and a session, through the backend API with that key.
    let mut laptop = Authenticator::new(Alg::Es256);
    let mut phone = Authenticator::new(Alg::Es256);
    let first = server.register(&key, &mut laptop, "u-grace").await;
    let second = server.register(&key, &mut phone, "u-grace").await;
    let mut app = server.store.get_app("shop").await.unwrap().unwrap();
    let mut settings = passkeyd::settings::AppSettings::from_stored(&app.settings).unwrap();
    settings.sessions = true;
    app.settings = settings.to_stored().unwrap();
    assert!(server.store.update_app(&app).await.unwrap());
    let context = AppContext::from_app(&app).unwrap();
    server
        .state
        .service
        .create_session(&context, "u-grace", &first, Some("test"), None)
        .await
        .unwrap();

    // A state-changing call from the page without the CSRF header: refused, nothing created.
    let refused = tab
        .eval(
            "fetch('/admin/api/apps/shop/keys', {method: 'POST', credentials: 'include', \
             headers: {'content-type': 'application/json'}, body: '{}'}) \
             .then(async r => [r.status, (await r.json()).error.code])",
        )
        .await;
    assert_eq!(refused, json!([403, "csrf_failed"]));
    let keys = tab
        .eval("fetch('/admin/api/apps/shop/keys').then(r => r.json()).then(b => b.data.length)")
        .await;
    assert_eq!(keys, json!(1));

    // Find the user.
    open(&tab, "#/users?app=shop", "#user-search").await;
    tab.fill("#user-search", "grace").await;
    tab.click("#user-search-button").await;
    tab.wait_visible("#users-table tr[data-external-id='u-grace']")
        .await;
    shoot(&tab, "users").await;
    tab.click("#users-table tr[data-external-id='u-grace'] a")
        .await;
    tab.wait_visible("#user-detail").await;
    assert_eq!(tab.text("[data-testid=user-external-id]").await, "u-grace");
    assert_eq!(count(&tab, "#passkeys article[data-passkey-id]").await, 2);
    shoot(&tab, "user-detail").await;

    // Revoke the user's sessions: the first click only arms the button.
    tab.click("#revoke-sessions").await;
    tab.wait_for(
        "the button to be armed",
        "document.querySelector('#revoke-sessions').dataset.armed === 'yes'",
    )
    .await;
    assert_eq!(
        server
            .state
            .service
            .user_sessions(&context, "u-grace")
            .await
            .unwrap()
            .len(),
        1
    );
    tab.click("#revoke-sessions").await;
    tab.wait_for(
        "the revocation's message",
        "document.querySelector('#toast')?.textContent.includes('1 sessions revoked')",
    )
    .await;
    assert!(server
        .state
        .service
        .user_sessions(&context, "u-grace")
        .await
        .unwrap()
        .is_empty());

    // Delete the second passkey: armed by the first click, deleted by the second.
    tab.wait_visible("#user-detail").await;
    let delete =
        format!("#passkeys article[data-passkey-id='{second}'] [data-action=delete-passkey]");
    tab.click(&delete).await;
    tab.wait_for(
        "the delete button to be armed",
        &format!(
            "document.querySelector({}).dataset.armed === 'yes'",
            js_str(&delete)
        ),
    )
    .await;
    assert_eq!(count(&tab, "#passkeys article[data-passkey-id]").await, 2);
    tab.click(&delete).await;
    tab.wait_for(
        "one passkey left",
        &format!(
            "document.querySelectorAll('#passkeys article[data-passkey-id]').length === 1 && \
             !!document.querySelector(\"#passkeys article[data-passkey-id='{first}']\")"
        ),
    )
    .await;
    let left = server.api(&key, "/v1/users/u-grace/passkeys", None).await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    assert_eq!(left["data"][0]["id"], first);

    // The audit entry of that deletion, with the admin as its actor.
    open(
        &tab,
        "#/audit?app=shop&event=passkey.deleted&user=u-grace",
        "#audit-table tr[data-audit-id]",
    )
    .await;
    assert_eq!(count(&tab, "#audit-table tr[data-audit-id]").await, 1);
    tab.click("#audit-table tr[data-audit-id]").await;
    tab.wait_visible("[data-testid=audit-detail-json]").await;
    // The entry's fields are listed as terms; its `detail` object is the JSON block.
    let facts = tab
        .eval(
            "Object.fromEntries([...document.querySelectorAll('#audit-detail dt')] \
             .map(dt => [dt.textContent, dt.nextElementSibling.textContent]))",
        )
        .await;
    assert_eq!(facts["Event"], "passkey.deleted", "{facts}");
    assert_eq!(facts["Actor"], format!("admin:{admin_id}"));
    assert_eq!(facts["User"], "u-grace");
    assert_eq!(facts["Passkey"], second.as_str());
    assert_eq!(facts["App"], "shop");
    let detail: Value =
        serde_json::from_str(&tab.text("[data-testid=audit-detail-json]").await).unwrap();
    assert!(detail.is_object(), "{detail}");
    let entry_id = tab
        .eval("document.querySelector('#audit-table tr[data-audit-id]').dataset.auditId")
        .await;
    let entry = tab
        .eval(&format!(
            "fetch('/admin/api/audit/' + {entry_id}).then(r => r.json())"
        ))
        .await;
    assert_eq!(entry["event"], "passkey.deleted");
    assert_eq!(entry["actor"], format!("admin:{admin_id}"));
    shoot(&tab, "audit").await;
    // The sessions' revocation is there too.
    open(
        &tab,
        "#/audit?app=shop&event=session.revoked",
        "#audit-table tr[data-audit-id]",
    )
    .await;

    // The remaining pages.
    open(&tab, "#/overview?app=shop", "#overview-chart").await;
    shoot(&tab, "overview").await;
    open(&tab, "#/apps", "#apps-table tr[data-app-id='shop']").await;
    shoot(&tab, "apps").await;
    open(&tab, "#/webhooks?app=shop", "#webhook-create").await;
    shoot(&tab, "webhooks").await;
    open(&tab, "#/admins", "#admins-table tr[data-admin-id]").await;
    shoot(&tab, "admins").await;

    drop(tab);
    chrome.close().await;
}
