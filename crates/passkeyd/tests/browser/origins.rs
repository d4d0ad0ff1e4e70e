//! Pages on origins the app does not list: the SDK on another site is refused by CORS
//! (`origin_not_allowed` on the server, a network error in the page) without using anything up;
//! a ceremony run on another site is refused by verification (`origin_mismatch`); and a page
//! whose origin cannot use the RP ID at all is refused by the browser (`invalid_domain`).

use crate::chrome::{js_str, Chrome};
use crate::harness::Passkeyd;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Another site's page: nothing but a document to run scripts in.
const FOREIGN_PAGE: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Another site</title>\
     </head><body><p>Another site.</p></body></html>";

/// Serves [`FOREIGN_PAGE`] on `127.0.0.1:<port>`, reachable as `localhost` too.
async fn foreign_site() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/", get(|| async { Html(FOREIGN_PAGE) }));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (port, task)
}

/// JavaScript that registers with the SDK loaded from passkeyd at `base`; evaluates to
/// `{nonce}` or `{code, message}`.
fn sdk_register(base: &str, transaction_id: &str) -> String {
    format!(
        r#"(async () => {{
            const {{ Passkeyd }} = await import({module});
            const pk = new Passkeyd({{ appId: "default", baseUrl: {base} }});
            try {{
                return {{ nonce: await pk.register({txn}) }};
            }} catch (e) {{
                return {{ code: e.code, message: e.message }};
            }}
        }})()"#,
        module = js_str(&format!("{base}/sdk/passkeyd.js")),
        base = js_str(base),
        txn = js_str(transaction_id),
    )
}

/// JavaScript that runs `navigator.credentials.create()` with options JSON; evaluates to the
/// credential's JSON, or `{error: name, code}` with the SDK's code for the error.
fn raw_create(base: &str, options: &Value) -> String {
    format!(
        r#"(async () => {{
            const {{ mapWebAuthnError }} = await import({module});
            try {{
                const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON({options});
                return (await navigator.credentials.create({{ publicKey }})).toJSON();
            }} catch (e) {{
                return {{ error: e.name, message: e.message, code: mapWebAuthnError(e, {{ ceremony: "registration" }}).code }};
            }}
        }})()"#,
        module = js_str(&format!("{base}/sdk/passkeyd.js")),
        options = serde_json::to_string(options).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_wrong_origin_is_refused() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let server = Passkeyd::start(5).await;
    let (foreign_port, site) = foreign_site().await;
    let foreign = format!("http://localhost:{foreign_port}");
    let tab = chrome.tab().await;

    // The SDK on another site (same host name, another port: the browser would allow the RP
    // ID there) cannot even start: passkeyd refuses the CORS preflight.
    let transaction = Passkeyd::expect(
        server
            .api(
                Method::POST,
                "/v1/transactions/register",
                Some(json!({"external_id": "ada"})),
            )
            .await,
        201,
    );
    let transaction_id = transaction["transaction_id"].as_str().unwrap();
    tab.goto(&format!("{foreign}/")).await;
    let result = tab
        .eval(&sdk_register(&server.origin, transaction_id))
        .await;
    // A refused preflight is an opaque network failure to the page, by design of CORS.
    assert_eq!(result["code"], "network", "{result}");
    assert_eq!(
        server.request_count("/v1/apps/{app_id}/registrations/start", 403),
        1,
        "the preflight was refused"
    );
    assert_eq!(server.ceremony_count("browser_registration_start", "ok"), 0);
    // What passkeyd answers that origin, as a client that shows it can see.
    let refused = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/apps/default/registrations/start",
            server.port
        ))
        .header("origin", &foreign)
        .json(&json!({"transaction_id": transaction_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed", "{body}");
    // Nothing was used up: on the app's own origin the same transaction works.
    tab.goto(&server.url("/health")).await;
    let result = tab
        .eval(&sdk_register(&server.origin, transaction_id))
        .await;
    let nonce = result["nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("register() on the app's origin failed: {result}"));
    let claims = Passkeyd::expect(
        server
            .api(
                Method::POST,
                "/v1/nonces/verify",
                Some(json!({ "nonce": nonce })),
            )
            .await,
        200,
    );
    assert_eq!(claims["external_id"], "ada");

    // A ceremony run on another site (its backend relaying passkeyd's options) makes a
    // credential whose client data names that site: verification refuses it.
    tab.goto(&format!("{foreign}/")).await;
    let started = Passkeyd::expect(
        server
            .api(
                Method::POST,
                "/v1/registrations/start",
                Some(json!({"external_id": "mallory"})),
            )
            .await,
        200,
    );
    let credential = tab
        .eval(&raw_create(&server.origin, &started["options"]))
        .await;
    assert!(credential["error"].is_null(), "{credential}");
    let (status, body) = server
        .api(
            Method::POST,
            "/v1/registrations/finish",
            Some(json!({"ceremony_id": started["ceremony_id"], "credential": credential})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("origin_mismatch")),
        "{body}"
    );

    // A page whose origin cannot use the RP ID at all (an IP address is not under
    // `localhost`): the browser refuses, and the SDK calls that `invalid_domain`.
    tab.goto(&format!("http://127.0.0.1:{foreign_port}/")).await;
    let started = Passkeyd::expect(
        server
            .api(
                Method::POST,
                "/v1/registrations/start",
                Some(json!({"external_id": "eve"})),
            )
            .await,
        200,
    );
    let refused = tab
        .eval(&raw_create(&server.origin, &started["options"]))
        .await;
    assert_eq!(refused["error"], "SecurityError", "{refused}");
    assert_eq!(refused["code"], "invalid_domain", "{refused}");
    assert_eq!(server.passkeys("ada").await.len(), 1);
    assert_eq!(
        server
            .api(Method::GET, "/v1/users/mallory/passkeys", None)
            .await
            .1["data"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );

    site.abort();
    chrome.close().await;
}
