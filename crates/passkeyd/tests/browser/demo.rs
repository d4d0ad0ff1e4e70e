//! The demo page in Chromium: sign-up through a transaction and a nonce, the three ways to sign
//! in (button, autofill, username), excludeCredentials, the per-user limit, rename and delete,
//! and a deleted passkey refused with the browser told (`signalUnknownCredential`).

use crate::chrome::{js_str, Chrome, Demo, Tab};
use crate::harness::{Passkeyd, POLL, WAIT};
use reqwest::Method;
use serde_json::{json, Value};

/// A server, a browser and a demo tab; `hold` holds conditional requests (see
/// [`Tab::record_gets`]).
async fn setup(max_passkeys: u32, hold: bool) -> Option<(Passkeyd, Chrome, Tab)> {
    let chrome = Chrome::launch().await?;
    let server = Passkeyd::start(max_passkeys).await;
    let tab = chrome.tab().await;
    tab.record_gets(hold).await;
    Demo { tab: &tab }.open(&server.url("/")).await;
    Some((server, chrome, tab))
}

/// The title of the newest entry of the ceremony panel.
async fn newest_ceremony(tab: &Tab) -> String {
    tab.text("#ceremony-log article.ceremony h3").await
}

/// Verifies a nonce with the backend API: the reply's status and body.
async fn verify_nonce(server: &Passkeyd, nonce: &str) -> (u16, Value) {
    server
        .api(
            Method::POST,
            "/v1/nonces/verify",
            Some(json!({ "nonce": nonce })),
        )
        .await
}

/// The nonce in the newest recorded answer of a public finish endpoint.
async fn last_nonce(demo: &Demo<'_>, suffix: &str) -> String {
    let finishes = demo.fetches(suffix).await;
    let last = finishes
        .last()
        .unwrap_or_else(|| panic!("no {suffix} seen"));
    assert_eq!(last["status"], 200, "{last}");
    last["body"]["nonce"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_through_a_transaction_with_the_nonce_verified() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.record_fetches().await;

    // Sign-up on the demo: its backend asks for a transaction, the SDK registers and gets a
    // nonce, the demo backend trades the nonce for the user and sets its session.
    demo.sign_up("ada").await;
    let stored = tab.credential_ids(&tab.authenticator).await;
    assert_eq!(stored.len(), 1, "the authenticator holds the new passkey");
    let user = Passkeyd::expect(server.api(Method::GET, "/v1/users/ada", None).await, 200);
    assert_eq!(user["username"], "ada");
    let passkeys = server.passkeys("ada").await;
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["credential_id"], stored[0].as_str());
    assert_eq!(passkeys[0]["user_verified"], true);
    assert_eq!(passkeys[0]["discoverable"], true);
    assert_eq!(demo.passkey_names().await, vec!["Passkey".to_owned()]);
    // The nonce the SDK got was traded by the demo backend already: it is single-use.
    let nonce = last_nonce(&demo, "/v1/apps/default/registrations/finish").await;
    let (status, body) = verify_nonce(&server, &nonce).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_nonce")),
        "{body}"
    );
    assert_eq!(
        newest_ceremony(&tab).await,
        "Sign-up: a registration ceremony"
    );

    // The same flow without the demo backend: this test is the app's backend.
    let transaction = Passkeyd::expect(
        server
            .api(
                Method::POST,
                "/v1/transactions/register",
                Some(json!({"external_id": "user-grace", "passkey_display_name": "grace@example.com"})),
            )
            .await,
        201,
    );
    let transaction_id = transaction["transaction_id"].as_str().unwrap();
    let result = tab
        .eval(&format!(
            r#"(async () => {{
                const {{ Passkeyd }} = await import("/sdk/passkeyd.js");
                try {{
                    return {{ nonce: await new Passkeyd({{ appId: "default" }}).register({}) }};
                }} catch (e) {{
                    return {{ code: e.code, message: e.message }};
                }}
            }})()"#,
            js_str(transaction_id)
        ))
        .await;
    let nonce = result["nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("register() failed: {result}"));
    let claims = Passkeyd::expect(verify_nonce(&server, nonce).await, 200);
    let graces = server.passkeys("user-grace").await;
    assert_eq!(graces.len(), 1);
    assert_eq!(claims["external_id"], "user-grace");
    assert_eq!(claims["kind"], "registration");
    assert_eq!(claims["user_verified"], true);
    assert_eq!(claims["passkey_id"], graces[0]["id"]);
    assert_eq!(tab.credential_ids(&tab.authenticator).await.len(), 2);
    // Exactly once.
    let (status, body) = verify_nonce(&server, nonce).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_nonce"))
    );
    // The transaction was used up when the browser started its ceremony.
    let again = tab
        .eval(&format!(
            r#"(async () => {{
                const {{ Passkeyd }} = await import("/sdk/passkeyd.js");
                try {{ await new Passkeyd({{ appId: "default" }}).register({}); return {{}}; }}
                catch (e) {{ return {{ code: e.code }}; }}
            }})()"#,
            js_str(transaction_id)
        ))
        .await;
    assert_eq!(again["code"], "invalid_transaction", "{again}");
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discoverable_sign_in_with_the_button() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.record_fetches().await;
    demo.sign_up("ada").await;
    demo.sign_out().await;
    assert!(server.passkeys("ada").await[0]["last_used_at"].is_null());

    demo.tab.click("#signin-button").await;
    demo.wait_signed_in("ada").await;
    assert_eq!(
        newest_ceremony(&tab).await,
        "Sign-in with a button: a discoverable authentication"
    );
    // No username was given, so the options name no passkeys: the authenticator offered its
    // discoverable one for the RP ID.
    let starts = demo.fetches("/v1/apps/default/authentications/start").await;
    let options = &starts.last().unwrap()["body"]["options"];
    assert!(
        options["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{options}"
    );
    assert_eq!(options["rpId"], "localhost");
    // The demo backend traded the nonce; passkeyd wrote the sign-in back.
    let nonce = last_nonce(&demo, "/v1/apps/default/authentications/finish").await;
    let (status, _) = verify_nonce(&server, &nonce).await;
    assert_eq!(status, 422, "the demo backend already used the nonce");
    assert!(server.passkeys("ada").await[0]["last_used_at"].is_string());
    // The conditional request the signed-out page had started was aborted for the button.
    let gets = tab.gets().await;
    assert!(
        gets.iter()
            .any(|g| g["mediation"] == "conditional" && g["outcome"] == "AbortError"),
        "{gets:?}"
    );
    assert!(
        gets.iter()
            .any(|g| g["mediation"].is_null() && g["outcome"] == "credential"),
        "{gets:?}"
    );
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autofill_sign_in() {
    // Conditional requests are not held here: this test is about them.
    let Some((server, chrome, tab)) = setup(5, false).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    // The signed-out page asks for autofill as it loads, on the field made for it.
    tab.wait_for(
        "the page's conditional request",
        "(window.__gets ?? []).some(g => g.mediation === 'conditional')",
    )
    .await;
    assert!(server.ceremony_count("browser_autofill_start", "ok") >= 1);
    assert_eq!(
        tab.eval("document.querySelector('#signin-username').autocomplete")
            .await,
        "username webauthn"
    );
    assert_eq!(
        tab.eval("document.querySelector('#autofill-hint').hidden")
            .await,
        false,
        "the page says autofill is available"
    );
    demo.sign_up("ada").await;

    // With the authenticator untouched (no simulated presence), the conditional request a
    // signed-out page starts waits, as it does while a user has not picked a suggestion. The
    // page is loaded afresh: the demo gives up on autofill after three failed requests, and
    // in Chromium's virtual environment the ones before sign-up (no passkey yet) failed.
    tab.set_presence(&tab.authenticator, false).await;
    demo.sign_out().await;
    let started = server.ceremony_count("browser_autofill_start", "ok");
    demo.open(&server.url("/")).await;
    tab.wait_for(
        "a pending conditional request",
        "(window.__gets ?? []).some(g => g.mediation === 'conditional' && g.outcome === 'pending')",
    )
    .await;
    // The page that signed out may have started one too before it was replaced.
    assert!(server.ceremony_count("browser_autofill_start", "ok") > started);
    tab.click("#signin-username").await;

    // Using another way to sign in aborts it first: here "Continue" with an unknown username
    // (refused before the browser is asked, so nothing needs the untouched authenticator).
    tab.fill("#signin-username", "nobody").await;
    tab.click("#signin-username-button").await;
    assert_eq!(demo.error_code().await, "user_not_found");
    let gets = tab.gets().await;
    let aborted: Vec<&Value> = gets
        .iter()
        .filter(|g| g["mediation"] == "conditional" && g["aborted"] == true)
        .collect();
    assert_eq!(aborted.len(), 1, "{gets:?}");
    assert_ne!(aborted[0]["outcome"], "pending", "{gets:?}");
    assert_ne!(aborted[0]["outcome"], "credential", "{gets:?}");

    // With the authenticator answering, a fresh signed-out page's conditional request signs
    // the user in through autofill. Chromium's virtual environment does not wait for the field
    // to be focused (it picks the first passkey itself); the field is focused anyway.
    tab.set_presence(&tab.authenticator, true).await;
    demo.open(&server.url("/")).await;
    tab.eval("document.querySelector('#signin-username')?.focus()")
        .await;
    demo.wait_signed_in("ada").await;
    assert_eq!(
        newest_ceremony(&tab).await,
        "Sign-in through autofill: a conditional request"
    );
    assert_eq!(
        server.ceremony_count("browser_authentication_start", "ok"),
        0,
        "no modal sign-in was started"
    );
    // At least one autofill finish signed in. Setting presence answers every pending conditional
    // request at once, and the previous page's request may still be pending while the new page
    // loads, so it can complete too (seen in CI under load): both are sign-ins of the same user.
    assert!(server.ceremony_count("browser_authentication_finish", "ok") >= 1);
    let gets = tab.gets().await;
    let last = gets.last().unwrap();
    assert_eq!(
        (last["mediation"].as_str(), last["outcome"].as_str()),
        (Some("conditional"), Some("credential")),
        "{gets:?}"
    );
    assert!(server.passkeys("ada").await[0]["last_used_at"].is_string());
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_first_sign_in() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.record_fetches().await;
    demo.sign_up("ada").await;
    let credential_id = server.passkeys("ada").await[0]["credential_id"].clone();
    demo.sign_out().await;

    // An unknown username is refused before the browser is asked.
    tab.fill("#signin-username", "nobody").await;
    tab.click("#signin-username-button").await;
    assert_eq!(demo.error_code().await, "user_not_found");

    tab.fill("#signin-username", "ada").await;
    tab.click("#signin-username-button").await;
    demo.wait_signed_in("ada").await;
    assert_eq!(newest_ceremony(&tab).await, "Username-first sign-in");
    // The options named exactly the user's passkey.
    let starts = demo.fetches("/v1/apps/default/authentications/start").await;
    let allowed: Vec<&Value> = starts.last().unwrap()["body"]["options"]["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(allowed, vec![&credential_id]);
    assert!(server.passkeys("ada").await[0]["last_used_at"].is_string());
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclude_credentials_prevents_a_second_passkey_on_one_authenticator() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.sign_up("ada").await;
    tab.click("#add-passkey").await;
    assert_eq!(demo.error_code().await, "already_registered");
    assert_eq!(server.passkeys("ada").await.len(), 1);
    assert_eq!(tab.credential_ids(&tab.authenticator).await.len(), 1);
    // Still signed in, with the one passkey listed.
    demo.wait_passkey_count(1).await;
    demo.wait_signed_in("ada").await;
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_limit_refuses_one_passkey_too_many() {
    let Some((server, chrome, tab)) = setup(2, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.sign_up("ada").await;

    // A second device (another virtual authenticator: the first is removed so that Chromium
    // uses the new one) may add a passkey: 2 of 2.
    tab.remove_authenticator(&tab.authenticator).await;
    let second = tab.add_authenticator().await;
    tab.fill("#add-passkey-name", "Work laptop").await;
    tab.click("#add-passkey").await;
    demo.wait_passkey_count(2).await;
    assert_eq!(
        demo.passkey_names().await,
        vec!["Passkey".to_owned(), "Work laptop".to_owned()]
    );
    assert_eq!(tab.credential_ids(&second).await.len(), 1);

    // A third device may not.
    tab.remove_authenticator(&second).await;
    let third = tab.add_authenticator().await;
    tab.click("#add-passkey").await;
    assert_eq!(demo.error_code().await, "too_many_passkeys");
    assert_eq!(server.passkeys("ada").await.len(), 2);
    assert!(
        tab.credential_ids(&third).await.is_empty(),
        "the limit holds before the authenticator is asked"
    );
    demo.wait_passkey_count(2).await;

    // Lowering the limit below what a user has refuses more without touching what they have.
    server.set_max_passkeys(1).await;
    tab.click("#add-passkey").await;
    tab.wait_for(
        "a second refusal",
        "!document.body.classList.contains('is-busy')",
    )
    .await;
    assert_eq!(demo.error_code().await, "too_many_passkeys");
    assert_eq!(server.passkeys("ada").await.len(), 2);
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_and_delete_from_the_demo() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.sign_up("ada").await;
    let id = server.passkeys("ada").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = format!("#passkey-list li[data-passkey-id=\"{id}\"]");

    // Rename.
    tab.click(&format!("{item} [data-action=rename]")).await;
    tab.fill(&format!("{item} [data-testid=rename-input]"), "My laptop")
        .await;
    tab.click(&format!("{item} [data-action=save]")).await;
    tab.wait_for(
        "the new name in the list",
        &format!(
            "document.querySelector({})?.textContent === 'My laptop'",
            js_str(&format!("{item} [data-testid=passkey-name]"))
        ),
    )
    .await;
    let passkey = Passkeyd::expect(
        server
            .api(Method::GET, &format!("/v1/passkeys/{id}"), None)
            .await,
        200,
    );
    assert_eq!(passkey["name"], "My laptop");
    assert_eq!(passkey["name_is_custom"], true);

    // An empty name is refused by the page before anything is sent.
    tab.click(&format!("{item} [data-action=rename]")).await;
    tab.fill(&format!("{item} [data-testid=rename-input]"), "")
        .await;
    tab.click(&format!("{item} [data-action=save]")).await;
    tab.wait_for(
        "the empty name to be refused",
        &format!(
            "document.querySelector('#status').dataset.kind === 'error' && \
             document.querySelector({})?.getAttribute('aria-invalid') === 'true'",
            js_str(&format!("{item} [data-testid=rename-input]"))
        ),
    )
    .await;
    tab.click(&format!("{item} .passkey-rename [data-action^=cancel]"))
        .await;
    let passkey = Passkeyd::expect(
        server
            .api(Method::GET, &format!("/v1/passkeys/{id}"), None)
            .await,
        200,
    );
    assert_eq!(passkey["name"], "My laptop");

    // Delete (the demo asks to confirm first).
    tab.click(&format!("{item} [data-action=delete]")).await;
    tab.click(&format!("{item} [data-action=confirm-delete]"))
        .await;
    demo.wait_passkey_count(0).await;
    tab.wait_visible("#passkey-empty").await;
    assert!(server.passkeys("ada").await.is_empty());
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_passkey_is_refused_and_the_browser_told() {
    let Some((server, chrome, tab)) = setup(5, true).await else {
        return;
    };
    let demo = Demo { tab: &tab };
    demo.sign_up("ada").await;
    let passkey = server.passkeys("ada").await[0].clone();
    demo.sign_out().await;
    // The app deletes the passkey; the device still has it.
    Passkeyd::expect(
        server
            .api(
                Method::DELETE,
                &format!("/v1/passkeys/{}", passkey["id"].as_str().unwrap()),
                None,
            )
            .await,
        204,
    );
    assert_eq!(tab.credential_ids(&tab.authenticator).await.len(), 1);

    // Record the calls of signalUnknownCredential (and still make them).
    let native = tab
        .eval(
            r#"(() => {
                const native = PublicKeyCredential.signalUnknownCredential;
                window.__signals = [];
                PublicKeyCredential.signalUnknownCredential = function (options) {
                    window.__signals.push(options);
                    return typeof native === "function" ? native.call(this, options) : Promise.resolve();
                };
                return typeof native === "function";
            })()"#,
        )
        .await;
    assert_eq!(native, true, "Chromium has signalUnknownCredential");

    tab.click("#signin-button").await;
    assert_eq!(demo.error_code().await, "unknown_credential");
    let signals = tab.eval("window.__signals").await;
    assert_eq!(
        signals,
        json!([{"rpId": "localhost", "credentialId": passkey["credential_id"]}])
    );
    assert_eq!(
        server.ceremony_count("browser_authentication_finish", "unknown_credential"),
        1
    );
    // Chromium passes the signal on: the device forgets the passkey and stops offering it.
    let started = std::time::Instant::now();
    while !tab.credential_ids(&tab.authenticator).await.is_empty() {
        assert!(
            started.elapsed() < WAIT,
            "the virtual authenticator still holds the deleted passkey"
        );
        tokio::time::sleep(POLL).await;
    }
    chrome.close().await;
}
