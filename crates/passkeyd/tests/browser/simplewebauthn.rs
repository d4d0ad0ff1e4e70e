//! passkeyd's backend API options and results through `@simplewebauthn/browser` (from npm, the
//! most used browser library), in a page of the test's own, served next to passkeyd on the same
//! origin. The test's routes play the app's backend: they relay the page's calls to
//! `/v1/registrations/*` and `/v1/authentications/*` with the secret key.

use crate::chrome::{Chrome, Tab};
use crate::harness::{require, Backend, Passkeyd};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

/// The ES modules of `@simplewebauthn/browser`, as `npm ci` installs them.
const ESM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/browser/node_modules/@simplewebauthn/browser/esm"
);

/// The page: `window.swa.register(externalId)` and `window.swa.authenticate(externalId?)` run a
/// whole ceremony with the library and return what the backend API answered at the finish (or
/// the library's error).
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>@simplewebauthn/browser with passkeyd</title></head>
<body>
<p id="state">loading</p>
<script type="module">
import { startRegistration, startAuthentication, browserSupportsWebAuthn } from "/swa/lib/index.js";

async function backend(step, body) {
  const response = await fetch(`/swa/api/${step}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function ceremony(kind, start) {
  const started = await backend(`${kind}/start`, start);
  if (started.status !== 200) return { step: "start", ...started };
  let credential;
  try {
    credential = kind === "registrations"
      ? await startRegistration({ optionsJSON: started.body.options })
      : await startAuthentication({ optionsJSON: started.body.options });
  } catch (e) {
    return { step: "browser", error: e.name, code: e.code ?? null, message: e.message };
  }
  return { step: "finish", ...(await backend(`${kind}/finish`, { ceremony_id: started.body.ceremony_id, credential })) };
}

window.swa = {
  supported: browserSupportsWebAuthn(),
  register: (externalId) => ceremony("registrations", { external_id: externalId, username: `${externalId}@example.com` }),
  authenticate: (externalId) => ceremony("authentications", externalId ? { external_id: externalId } : {}),
};
document.getElementById("state").textContent = "ready";
</script>
</body>
</html>
"#;

/// The test's routes, merged next to passkeyd's.
fn routes(backend: Backend) -> Router {
    Router::new()
        .route("/swa/", get(|| async { Html(PAGE) }))
        .route("/swa/lib/{*path}", get(module))
        .route("/swa/api/{kind}/{step}", post(relay))
        .with_state(backend)
}

/// A file of the library's ES modules; nothing outside that directory.
async fn module(Path(path): Path<String>) -> Response {
    let safe = path.split('/').all(|part| {
        !part.is_empty()
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if !safe || !path.ends_with(".js") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match std::fs::read(format!("{ESM}/{path}")) {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The app's backend: relays a ceremony call to passkeyd's backend API with the secret key and
/// hands back its status and body.
async fn relay(
    State(backend): State<Backend>,
    Path((kind, step)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let allowed = ["registrations", "authentications"].contains(&kind.as_str())
        && ["start", "finish"].contains(&step.as_str());
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    let answer = backend
        .http
        .post(format!("{}/v1/{kind}/{step}", backend.base))
        .bearer_auth(&backend.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let bytes = answer.bytes().await.unwrap().to_vec();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Runs a ceremony through the page; returns what it evaluated to.
async fn run(tab: &Tab, call: &str) -> Value {
    tab.eval(&format!("window.swa.{call}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_api_options_work_with_simplewebauthn_browser() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    if !require(
        "@simplewebauthn/browser",
        std::path::Path::new(ESM).join("index.js").exists(),
        "run npm ci in crates/passkeyd/tests/browser",
    ) {
        chrome.close().await;
        return;
    }
    let server = Passkeyd::start_with(routes).await;
    let tab = chrome.tab().await;
    tab.goto(&server.url("/swa/")).await;
    tab.wait_for("the library to load", "window.swa?.supported === true")
        .await;

    // Registration: passkeyd's creation options in, the library's JSON back.
    let registered = run(&tab, "register('user-1')").await;
    assert_eq!(
        (registered["step"].as_str(), registered["status"].as_u64()),
        (Some("finish"), Some(201)),
        "{registered}"
    );
    let passkey = &registered["body"]["passkey"];
    assert_eq!(
        tab.credential_ids(&tab.authenticator).await,
        vec![passkey["credential_id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(passkey["user_verified"], true);

    // Discoverable sign-in (no allowCredentials), then username-first (allowCredentials).
    for call in ["authenticate()", "authenticate('user-1')"] {
        let signed_in = run(&tab, call).await;
        assert_eq!(
            (signed_in["step"].as_str(), signed_in["status"].as_u64()),
            (Some("finish"), Some(200)),
            "{call}: {signed_in}"
        );
        assert_eq!(signed_in["body"]["user"]["external_id"], "user-1");
        assert_eq!(signed_in["body"]["passkey"]["id"], passkey["id"]);
        assert_eq!(signed_in["body"]["user_verified"], true);
    }

    // excludeCredentials as the library reads it: the same authenticator is refused.
    let again = run(&tab, "register('user-1')").await;
    assert_eq!(again["step"], "browser", "{again}");
    assert_eq!(again["error"], "InvalidStateError", "{again}");
    assert_eq!(
        again["code"], "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED",
        "{again}"
    );
    chrome.close().await;
}
