//! The demo's session area ("Session (Clerk-style)") in Chromium, where passkeyd keeps the
//! session: sign-in sets an HttpOnly cookie and shows a JWT that an independent JWT library and
//! the backend both accept; a fresh token keeps the session; the signed-in user adds a passkey
//! from a second authenticator, renames and deletes; the SDK reverifies and retries a refused
//! call by itself; autofill starts a session too; sign-out ends it everywhere; and pages on other
//! origins cannot use the cookie (CSRF).
//!
//! Each test first signs up through the demo's nonce-style form, which leaves the virtual
//! authenticator holding a discoverable passkey for the session area to use.

use crate::chrome::{js_str, Chrome, Demo, Tab};
use crate::harness::{artifacts_dir, Passkeyd};
use axum::response::Html;
use axum::Router;
use chromiumoxide::cdp::browser_protocol::network::CookieSameSite;
use passkeyd::config::DEFAULT_APP_ID;
use passkeyd::secrets;
use passkeyd::service::now_ms;
use passkeyd::sessions::TOKEN_PREFIX;
use passkeyd::settings::SensitiveAction;
use passkeyd_store::Session;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The session cookie's name (`passkeyd::server::me::COOKIE`, which is private to the server).
const COOKIE: &str = "passkeyd_session";

/// The username (and external id) every test signs up with.
const USER: &str = "ada";

/// A server whose default app has sessions on, a browser, and a demo tab signed up as [`USER`]
/// in the nonce-style area; `hold` holds the demo's conditional requests (see
/// [`Tab::record_gets`]).
async fn setup(hold: bool) -> Option<(Passkeyd, Chrome, Tab)> {
    let chrome = Chrome::launch().await?;
    let server = Passkeyd::start(5).await;
    // The harness writes the app as a fresh `apps create` would, with sessions off; the
    // out-of-the-box localhost app has them on.
    server.configure(|s| s.sessions = true).await;
    let tab = chrome.tab().await;
    tab.record_gets(hold).await;
    let demo = Demo { tab: &tab };
    demo.open(&server.url("/")).await;
    demo.sign_up(USER).await;
    Some((server, chrome, tab))
}

/// The session area of the demo page, through a tab.
struct SessionArea<'a> {
    tab: &'a Tab,
}

impl SessionArea<'_> {
    /// Signs in with the area's button (a discoverable sign-in) and waits for the signed-in view.
    async fn sign_in(&self) {
        self.tab.click("#session-signin-button").await;
        self.wait_signed_in(USER).await;
    }

    /// Waits until the area shows `username` signed in, with a JWT, and the page is idle.
    async fn wait_signed_in(&self, username: &str) {
        self.tab
            .wait_for(
                &format!("the session area signed in as {username}"),
                &format!(
                    "!document.querySelector('#session-signed-in').hidden && \
                     document.querySelector('#session-signed-out').hidden && \
                     document.querySelector('#session-username').textContent === {} && \
                     !!document.querySelector('#session-claims [data-testid=session-jwt]') && \
                     !document.body.classList.contains('is-busy')",
                    js_str(username)
                ),
            )
            .await;
    }

    /// Waits until the area shows its sign-in button again and the page is idle.
    async fn wait_signed_out(&self) {
        self.tab
            .wait_for(
                "the session area signed out",
                "document.querySelector('#session-signed-in').hidden && \
                 !document.querySelector('#session-signed-out').hidden && \
                 !document.body.classList.contains('is-busy')",
            )
            .await;
    }

    /// The JWT the claims panel shows.
    async fn jwt(&self) -> String {
        self.tab
            .text("#session-claims [data-testid=session-jwt]")
            .await
    }

    /// The value the claims panel shows for a claim.
    async fn claim(&self, name: &str) -> String {
        self.tab
            .text(&format!("#session-claims [data-claim={name}] code"))
            .await
    }

    /// Waits until the area's passkey list has `n` entries.
    async fn wait_passkey_count(&self, n: usize) {
        self.tab
            .wait_for(
                &format!("{n} passkeys in the session area"),
                &format!(
                    "document.querySelectorAll('#session-passkey-list li[data-passkey-id]').length \
                     === {n} && !document.body.classList.contains('is-busy')"
                ),
            )
            .await;
    }

    /// The names the area's passkey list shows, in order.
    async fn passkey_names(&self) -> Vec<String> {
        let names = self
            .tab
            .eval(
                "Array.from(document.querySelectorAll(\
                 '#session-passkey-list [data-testid=session-passkey-name]'), e => e.textContent)",
            )
            .await;
        serde_json::from_value(names).unwrap()
    }

    /// Renames a passkey through the area's inline form and waits for the new name in the list.
    async fn rename(&self, id: &str, name: &str) {
        let item = item(id);
        self.tab
            .click(&format!("{item} [data-action=session-rename]"))
            .await;
        self.tab
            .fill(&format!("{item} [data-testid=session-rename-input]"), name)
            .await;
        self.tab
            .click(&format!("{item} [data-action=session-save]"))
            .await;
        self.tab
            .wait_for(
                &format!("the name {name:?} in the session area"),
                &format!(
                    "document.querySelector({})?.textContent === {} && \
                     !document.body.classList.contains('is-busy')",
                    js_str(&format!("{item} [data-testid=session-passkey-name]")),
                    js_str(name)
                ),
            )
            .await;
    }
}

/// The session area's list item of a passkey.
fn item(id: &str) -> String {
    format!("#session-passkey-list li[data-passkey-id=\"{id}\"]")
}

/// The session cookie the browser holds for passkeyd's origin, if any.
async fn session_cookie(
    tab: &Tab,
    server: &Passkeyd,
) -> Option<chromiumoxide::cdp::browser_protocol::network::Cookie> {
    tab.cookies_for(&server.origin)
        .await
        .into_iter()
        .find(|c| c.name == COOKIE)
}

/// A JWT's claims as `jsonwebtoken` (a JWT library independent of passkeyd's) verifies them
/// against the app's JWKS, fetched as a customer backend would.
async fn independent_claims(server: &Passkeyd, jwt: &str) -> Result<Value, String> {
    let url = format!(
        "http://127.0.0.1:{}/v1/apps/{DEFAULT_APP_ID}/.well-known/jwks.json",
        server.port
    );
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(url).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[DEFAULT_APP_ID]);
    validation.set_issuer(&["passkeyd"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

/// The backend's online check of a JWT (`POST /v1/sessions/verify`): status and body.
async fn verify_online(server: &Passkeyd, jwt: &str) -> (u16, Value) {
    server
        .api(
            Method::POST,
            "/v1/sessions/verify",
            Some(json!({ "token": jwt })),
        )
        .await
}

/// The user's live sessions, from the backend API.
async fn sessions(server: &Passkeyd) -> Vec<Value> {
    let body = Passkeyd::expect(
        server
            .api(Method::GET, &format!("/v1/users/{USER}/sessions"), None)
            .await,
        200,
    );
    body["data"].as_array().cloned().unwrap()
}

/// The status of a credentialed `GET` the page makes (the cookie goes along).
async fn page_get_status(tab: &Tab, path: &str) -> u16 {
    let status = tab
        .eval(&format!(
            "fetch({}, {{ credentials: 'include' }}).then(r => r.status)",
            js_str(path)
        ))
        .await;
    u16::try_from(status.as_u64().unwrap()).unwrap()
}

/// Screenshots of the session area at a desktop and a phone width, for a person to look at.
async fn shoot_session_area(tab: &Tab, name: &str) {
    for (width, height) in [(1280, 900), (375, 812)] {
        tab.set_viewport(width, height).await;
        let overflow = tab
            .eval("document.documentElement.scrollWidth - window.innerWidth")
            .await;
        // The look is for a person to judge; horizontal overflow is reported, not failed on,
        // as in `screenshots.rs`.
        if overflow.as_f64().is_some_and(|o| o > 0.0) {
            eprintln!(
                "LAYOUT: {name} at {width}x{height} is {overflow} px wider than the viewport"
            );
        }
        let path = artifacts_dir().join(format!("{name}-{width}x{height}.png"));
        tab.screenshot_of(&path, "#session-area").await;
        eprintln!("screenshot: {}", path.display());
    }
    tab.set_viewport(1280, 900).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_sign_in_fresh_token_and_sign_out() {
    let Some((server, chrome, tab)) = setup(true).await else {
        return;
    };
    let area = SessionArea { tab: &tab };
    let passkey_id = server.passkeys(USER).await[0]["id"].clone();
    assert!(
        session_cookie(&tab, &server).await.is_none(),
        "the nonce-style sign-up starts no passkeyd session"
    );
    assert!(sessions(&server).await.is_empty());

    area.sign_in().await;
    // The cookie is in the browser, for passkeyd's origin, and out of the page's reach.
    let cookie = session_cookie(&tab, &server)
        .await
        .expect("the sign-in set the session cookie");
    assert!(cookie.http_only, "{cookie:?}");
    assert_eq!(cookie.same_site, Some(CookieSameSite::Lax), "{cookie:?}");
    assert_eq!(cookie.path, "/");
    assert!(cookie.value.starts_with(TOKEN_PREFIX), "{cookie:?}");
    assert_eq!(
        tab.eval(&format!("document.cookie.includes({})", js_str(COOKIE)))
            .await,
        false,
        "a script of the page cannot read an HttpOnly cookie"
    );

    // The claims panel shows the user; the JWT it shows verifies offline with the app's JWKS
    // (an independent library) and online with the backend.
    assert_eq!(area.claim("sub").await, USER);
    let listed = sessions(&server).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let sid = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(area.claim("sid").await, sid);
    let jwt = area.jwt().await;
    let claims = independent_claims(&server, &jwt).await.unwrap();
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["app"], DEFAULT_APP_ID);
    assert_eq!(claims["pkid"], passkey_id);
    let online = Passkeyd::expect(verify_online(&server, &jwt).await, 200);
    assert_eq!(online["sub"], USER);
    assert_eq!(online["sid"], sid.as_str());
    assert_eq!(
        tab.text("#ceremony-log article.ceremony h3").await,
        "Session sign-in: a discoverable authentication"
    );

    // A fresh token: another JWT for the same session.
    tab.click("#session-token-button").await;
    tab.wait_for(
        "a new JWT in the claims panel",
        &format!(
            "document.querySelector('#session-claims [data-testid=session-jwt]')?.textContent \
             !== {} && !document.body.classList.contains('is-busy')",
            js_str(&jwt)
        ),
    )
    .await;
    let fresh = area.jwt().await;
    let fresh_claims = independent_claims(&server, &fresh).await.unwrap();
    assert_eq!(fresh_claims["sid"], sid.as_str());
    assert_eq!(fresh_claims["sub"], USER);
    assert!(fresh_claims["iat"].as_i64() >= claims["iat"].as_i64());
    Passkeyd::expect(verify_online(&server, &fresh).await, 200);
    assert_eq!(server.request_count("/v1/me/session/refresh", 200), 1);
    assert_eq!(sessions(&server).await.len(), 1, "still one session");

    // Sign-out: the cookie is gone, passkeyd no longer knows the browser, and the backend
    // refuses both JWTs.
    tab.click("#session-signout").await;
    area.wait_signed_out().await;
    assert!(
        !tab.all_cookies().await.iter().any(|c| c.name == COOKIE),
        "sign-out cleared the cookie"
    );
    assert_eq!(page_get_status(&tab, "/v1/me").await, 401);
    for token in [&jwt, &fresh] {
        let (status, body) = verify_online(&server, token).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_token")),
            "{body}"
        );
    }
    // Offline verification cannot know about the revocation: the JWT stays valid there until it
    // expires, which is why it is short-lived (docs/api.md).
    assert!(independent_claims(&server, &fresh).await.is_ok());
    assert!(sessions(&server).await.is_empty());
    // The nonce-style area keeps its own session.
    Demo { tab: &tab }.wait_signed_in(USER).await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_passkeys_add_rename_and_delete() {
    let Some((server, chrome, tab)) = setup(true).await else {
        return;
    };
    let area = SessionArea { tab: &tab };
    let demo = Demo { tab: &tab };
    area.sign_in().await;
    area.wait_passkey_count(1).await;
    let first = server.passkeys(USER).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A second device: the authenticator that holds the first passkey is removed, or
    // excludeCredentials would make Chromium refuse (`already_registered`).
    tab.remove_authenticator(&tab.authenticator).await;
    let second = tab.add_authenticator().await;
    tab.fill("#session-add-passkey-name", "Work laptop").await;
    tab.click("#session-add-passkey").await;
    area.wait_passkey_count(2).await;
    assert_eq!(
        area.passkey_names().await,
        vec!["Passkey".to_owned(), "Work laptop".to_owned()]
    );
    let passkeys = server.passkeys(USER).await;
    assert_eq!(passkeys.len(), 2, "{passkeys:?}");
    let added = passkeys[1]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        tab.credential_ids(&second).await,
        vec![passkeys[1]["credential_id"].as_str().unwrap().to_owned()]
    );
    // Through the unverified passkey and its attempt_verification, once each.
    assert_eq!(
        server.method_request_count("POST", "/v1/me/passkeys", 200),
        1
    );
    assert_eq!(
        server.request_count("/v1/me/passkeys/{passkey_id}/attempt_verification", 200),
        1
    );
    // The nonce-style area shows the same user's list, reloaded after the change.
    demo.wait_passkey_count(2).await;
    tab.wait_for(
        "the success message",
        "document.querySelector('#status').dataset.kind === 'success'",
    )
    .await;
    shoot_session_area(&tab, "session-signed-in").await;

    area.rename(&first, "My laptop").await;
    let renamed = Passkeyd::expect(
        server
            .api(Method::GET, &format!("/v1/passkeys/{first}"), None)
            .await,
        200,
    );
    assert_eq!(renamed["name"], "My laptop");
    assert_eq!(renamed["name_is_custom"], true);

    // Delete, confirmed inline. Deleting needs a passkey check within the last 300 s, and the
    // sign-in was one: no reverification.
    let item = item(&added);
    tab.click(&format!("{item} [data-action=session-delete]"))
        .await;
    tab.click(&format!("{item} [data-action=session-confirm-delete]"))
        .await;
    area.wait_passkey_count(1).await;
    let left = server.passkeys(USER).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], first.as_str());
    for method in ["PATCH", "DELETE"] {
        assert_eq!(
            server.method_request_count(method, "/v1/me/passkeys/{passkey_id}", 200),
            1,
            "{method}"
        );
    }
    assert_eq!(server.request_count("/v1/me/reverify/start", 200), 0);
    demo.wait_passkey_count(1).await;
    chrome.close().await;
}

/// Reverification, driven through the demo. A session's `verified_at` only ever moves forward,
/// and the shortest window the settings allow is 30 s, so rather than wait the test gives the
/// browser a session that verified ten minutes ago: it stores one with `Store::create_session`
/// (what a sign-in ten minutes earlier would have left) and puts its token in the browser's
/// HttpOnly cookie through CDP, where a sign-in's `Set-Cookie` would have put it. The demo picks
/// the session up as it loads; a rename from its session area is then refused with
/// `reverification_required`, and the SDK runs `pk.reverify()` (a real passkey prompt, which the
/// virtual authenticator answers) and retries the rename, which succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reverifies_and_retries_a_refused_rename() {
    let Some((server, chrome, tab)) = setup(true).await else {
        return;
    };
    let area = SessionArea { tab: &tab };
    let demo = Demo { tab: &tab };
    server
        .configure(|s| {
            s.reverification_seconds = 30;
            s.reverification_required_for = vec![SensitiveAction::RenamePasskey];
        })
        .await;
    let passkey = server.passkeys(USER).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = server
        .store
        .get_user(DEFAULT_APP_ID, USER)
        .await
        .unwrap()
        .unwrap();
    let token = format!(
        "{TOKEN_PREFIX}{}",
        passkeyd_core::b64::encode(&secrets::random_bytes(32).unwrap())
    );
    let ten_minutes_ago = now_ms() - 10 * 60 * 1000;
    let session = Session {
        id: secrets::new_id("ses").unwrap(),
        app_id: DEFAULT_APP_ID.to_owned(),
        user_id: user.id.clone(),
        token_hash: secrets::hash_key(&token),
        passkey_id: Some(passkey.clone()),
        created_at: ten_minutes_ago,
        refreshed_at: ten_minutes_ago,
        verified_at: ten_minutes_ago,
        expires_at: now_ms() + 3600 * 1000,
        revoked_at: None,
        user_agent: None,
        client_ip: None,
    };
    server.store.create_session(&session).await.unwrap();
    tab.set_http_only_cookie(&server.origin, COOKIE, &token)
        .await;
    demo.open(&server.url("/")).await;
    area.wait_signed_in(USER).await;
    assert_eq!(area.claim("sid").await, session.id);
    demo.record_fetches().await;

    area.rename(&passkey, "Reverified laptop").await;
    let renames = demo.fetches(&format!("/v1/me/passkeys/{passkey}")).await;
    let statuses: Vec<&Value> = renames.iter().map(|f| &f["status"]).collect();
    assert_eq!(statuses, [403, 200], "{renames:?}");
    assert_eq!(
        renames[0]["body"]["error"]["code"], "reverification_required",
        "{renames:?}"
    );
    for step in ["/v1/me/reverify/start", "/v1/me/reverify/finish"] {
        let calls = demo.fetches(step).await;
        assert_eq!(calls.len(), 1, "{step}: {calls:?}");
        assert_eq!(calls[0]["status"], 200, "{step}: {calls:?}");
    }
    // The check was a real prompt (a modal request the authenticator answered), and it moved
    // the session's verification to now.
    let gets = tab.gets().await;
    assert!(
        gets.iter()
            .any(|g| g["mediation"].is_null() && g["outcome"] == "credential"),
        "{gets:?}"
    );
    let stored = server
        .store
        .get_session(DEFAULT_APP_ID, &session.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.verified_at > ten_minutes_ago + 9 * 60 * 1000,
        "verified_at did not move: {stored:?}"
    );
    let renamed = Passkeyd::expect(
        server
            .api(Method::GET, &format!("/v1/passkeys/{passkey}"), None)
            .await,
        200,
    );
    assert_eq!(renamed["name"], "Reverified laptop");
    assert_eq!(
        tab.text("#ceremony-log article.ceremony h3").await,
        "Reverification: a passkey check before a sensitive action"
    );
    assert_eq!(
        tab.eval("document.querySelector('#status').dataset.kind")
            .await,
        "success",
        "{}",
        tab.status_text().await
    );

    // Within the window, the next rename goes through at once.
    area.rename(&passkey, "Laptop").await;
    let renames = demo.fetches(&format!("/v1/me/passkeys/{passkey}")).await;
    let statuses: Vec<&Value> = renames.iter().map(|f| &f["status"]).collect();
    assert_eq!(statuses, [403, 200, 200], "{renames:?}");
    assert_eq!(demo.fetches("/v1/me/reverify/start").await.len(), 1);
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autofill_session_sign_in() {
    // Conditional requests are not held here: this test is about one. The demo's own autofill
    // request stops once the nonce-style area is signed in (at the end of setup), so the only
    // conditional request after it is the test's.
    let Some((server, chrome, tab)) = setup(false).await else {
        return;
    };
    let area = SessionArea { tab: &tab };
    let passkey_id = server.passkeys(USER).await[0]["id"].clone();
    let autofill_starts = server.ceremony_count("browser_autofill_start", "ok");
    // Chromium's virtual authenticator environment completes a conditional request at once with
    // the first passkey it has, as a user picking the suggestion would (see Tab::record_gets).
    let result = tab
        .eval(
            r#"(async () => {
                const { Passkeyd } = await import("/sdk/passkeyd.js");
                const pk = new Passkeyd({ appId: "default" });
                try {
                    const session = await pk.signIn.passkey({ flow: "autofill" });
                    return { id: session.id, passkeyId: session.passkeyId, jwt: await pk.getToken() };
                } catch (e) {
                    return { code: e.code, message: e.message };
                }
            })()"#,
        )
        .await;
    let sid = result["id"]
        .as_str()
        .unwrap_or_else(|| panic!("signIn.passkey({{flow: \"autofill\"}}) failed: {result}"));
    assert_eq!(result["passkeyId"], passkey_id);
    assert_eq!(
        server.ceremony_count("browser_autofill_start", "ok"),
        autofill_starts + 1
    );
    let gets = tab.gets().await;
    let last = gets.last().unwrap();
    assert_eq!(
        (last["mediation"].as_str(), last["outcome"].as_str()),
        (Some("conditional"), Some("credential")),
        "{gets:?}"
    );
    let claims = independent_claims(&server, result["jwt"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["sid"], sid);
    assert!(session_cookie(&tab, &server)
        .await
        .is_some_and(|c| c.http_only));
    let listed = sessions(&server).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], sid);

    // The demo, loaded again, finds the session through the cookie.
    Demo { tab: &tab }.open(&server.url("/")).await;
    area.wait_signed_in(USER).await;
    assert_eq!(area.claim("sid").await, sid);
    chrome.close().await;
}

/// Another site's page: nothing but a document to run scripts in.
const FOREIGN_PAGE: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Another site</title>\
     </head><body><p>Another site.</p></body></html>";

/// Serves [`FOREIGN_PAGE`] at every path of `127.0.0.1:<port>`, reachable as `localhost` too.
async fn another_site() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(|| async { Html(FOREIGN_PAGE) });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (port, task)
}

/// JavaScript that sends a credentialed request to passkeyd and evaluates to `{status, type}`
/// or `{error}` (the error's name: CORS refusals are `TypeError`s, by design of the Fetch
/// standard, which tells a page nothing more).
fn credentialed_fetch(url: &str, method: &str, mode: &str) -> String {
    format!(
        r#"fetch({url}, {{ method: {method}, mode: {mode}, credentials: "include" }})
            .then(r => ({{ status: r.status, type: r.type }}), e => ({{ error: e.name }}))"#,
        url = js_str(url),
        method = js_str(method),
        mode = js_str(mode),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_on_other_origins_cannot_use_the_session_cookie() {
    let Some((server, chrome, tab)) = setup(true).await else {
        return;
    };
    let area = SessionArea { tab: &tab };
    area.sign_in().await;
    let passkey = server.passkeys(USER).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delete_url = format!("{}/v1/me/passkeys/{passkey}", server.origin);
    let signout_url = format!("{}/v1/me/session/signout", server.origin);
    let (port, site) = another_site().await;
    // The same host on another port is another origin but the same site, so the browser sends
    // the SameSite=Lax cookie along: only passkeyd's Origin check stands in the way. An IP
    // address is another site altogether, where the browser keeps the cookie back as well.
    let same_site = format!("http://localhost:{port}/");
    let cross_site = format!("http://127.0.0.1:{}/health", server.port);

    for page in [&same_site, &cross_site] {
        tab.goto(page).await;
        // A DELETE needs a CORS preflight, which passkeyd refuses to origins no app lists: the
        // request itself is never sent.
        let result = tab
            .eval(&credentialed_fetch(&delete_url, "DELETE", "cors"))
            .await;
        assert_eq!(result, json!({"error": "TypeError"}), "from {page}");
    }
    assert_eq!(
        server.method_request_count("OPTIONS", "/v1/me/passkeys/{passkey_id}", 403),
        2,
        "both preflights were refused"
    );
    assert_eq!(
        server.method_request_count("DELETE", "/v1/me/passkeys/{passkey_id}", 200)
            + server.method_request_count("DELETE", "/v1/me/passkeys/{passkey_id}", 403),
        0,
        "no DELETE was sent"
    );

    // A POST without a preflight (mode no-cors, as a form could send): the request reaches
    // passkeyd, and the page learns nothing from its opaque answer.
    tab.goto(&same_site).await;
    let result = tab
        .eval(&credentialed_fetch(&signout_url, "POST", "no-cors"))
        .await;
    assert_eq!(result, json!({"status": 0, "type": "opaque"}));
    // 403, not 401: the cookie came along and the session was found, and the foreign Origin
    // was refused.
    assert_eq!(server.request_count("/v1/me/session/signout", 403), 1);
    assert_eq!(server.request_count("/v1/me/session/signout", 401), 0);
    tab.goto(&cross_site).await;
    tab.eval(&credentialed_fetch(&signout_url, "POST", "no-cors"))
        .await;
    // From another site the browser did not send the cookie at all.
    assert_eq!(server.request_count("/v1/me/session/signout", 401), 1);

    // Nothing changed: the passkey and the session are there, and the demo still uses them.
    assert_eq!(server.passkeys(USER).await.len(), 1);
    assert_eq!(sessions(&server).await.len(), 1);
    Demo { tab: &tab }.open(&server.url("/")).await;
    area.wait_signed_in(USER).await;
    assert_eq!(page_get_status(&tab, "/v1/me").await, 200);
    site.abort();
    chrome.close().await;
}
