//! The browser integration over HTTP: transactions, the public endpoints (CORS, unknown apps,
//! foreign origins, rate limits) and nonces traded exactly once.

use crate::both;
use crate::harness::{add_app, TestApp, ORIGIN, RP_ID};
use axum::http::Method;
use passkeyd::settings::AppSettings;
use passkeyd_testauth::{
    b64url_decode, Alg, AuthenticationRequest, Authenticator, RegistrationRequest,
};
use serde_json::{json, Value};

impl TestApp {
    /// A public call from the app's page (with its Origin).
    pub async fn public(&self, path: &str, body: Value) -> crate::harness::Reply {
        self.public_from(ORIGIN, path, body).await
    }

    pub async fn public_from(
        &self,
        origin: &str,
        path: &str,
        body: Value,
    ) -> crate::harness::Reply {
        let path = format!("/v1/apps/{}{path}", self.app_id);
        self.raw(
            Method::POST,
            &path,
            serde_json::to_vec(&body).unwrap(),
            &[("content-type", "application/json"), ("origin", origin)],
        )
        .await
    }

    /// Registration through a transaction, as the SDK does it; returns the nonce.
    pub async fn browser_register(&self, auth: &mut Authenticator, external_id: &str) -> String {
        let txn = self
            .post(
                "/v1/transactions/register",
                json!({"external_id": external_id}),
            )
            .await;
        let txn = txn.expect(201)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = self
            .public("/registrations/start", json!({"transaction_id": txn}))
            .await;
        let body = started.expect(200).clone();
        let options = &body["options"];
        let reg = auth.register(&RegistrationRequest::new(
            RP_ID,
            ORIGIN,
            b64url_decode(options["challenge"].as_str().unwrap()).unwrap(),
            b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap(),
        ));
        let finished = self
            .public(
                "/registrations/finish",
                json!({"ceremony_id": body["ceremony_id"], "credential": reg.json}),
            )
            .await;
        finished.expect(200)["nonce"].as_str().unwrap().to_owned()
    }

    /// A sign-in through the public endpoints; returns the finish reply.
    pub async fn browser_sign_in(
        &self,
        auth: &mut Authenticator,
        start: Value,
    ) -> crate::harness::Reply {
        let started = self.public("/authentications/start", start).await;
        let body = started.expect(200).clone();
        let challenge = b64url_decode(body["options"]["challenge"].as_str().unwrap()).unwrap();
        let assertion = auth.authenticate(&AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
        self.public(
            "/authentications/finish",
            json!({"ceremony_id": body["ceremony_id"], "credential": assertion.json}),
        )
        .await
    }
}

both!(
    register_through_a_transaction_and_verify_the_nonce_once,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        let nonce = t.browser_register(&mut auth, "u-1").await;
        assert!(nonce.starts_with("nonce_"));
        let verified = t.post("/v1/nonces/verify", json!({"nonce": nonce})).await;
        let claims = verified.expect(200).clone();
        assert_eq!(claims["external_id"], "u-1");
        assert_eq!(claims["kind"], "registration");
        assert_eq!(claims["user_verified"], true);
        let passkey_id = claims["passkey_id"].as_str().unwrap();
        t.get(&format!("/v1/passkeys/{passkey_id}"))
            .await
            .expect(200);
        // Exactly once.
        t.post("/v1/nonces/verify", json!({"nonce": nonce}))
            .await
            .expect_error(422, "invalid_nonce");
        t.post("/v1/nonces/verify", json!({"nonce": "nonce_forged"}))
            .await
            .expect_error(422, "invalid_nonce");
    }
);

both!(
    sign_in_with_and_without_a_transaction,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;

        // Discoverable (and autofill: the same options, counted apart).
        let reply = t.browser_sign_in(&mut auth, json!({})).await;
        let nonce = reply.expect(200)["nonce"].as_str().unwrap().to_owned();
        let claims = t.post("/v1/nonces/verify", json!({"nonce": nonce})).await;
        assert_eq!(claims.expect(200)["kind"], "authentication");
        let reply = t
            .browser_sign_in(&mut auth, json!({"mediation": "conditional"}))
            .await;
        reply.expect(200);

        // Username-first through a transaction: allowCredentials lists the user's passkeys.
        let txn = t
            .post(
                "/v1/transactions/authenticate",
                json!({"external_id": "u-1"}),
            )
            .await;
        let txn = txn.expect(201)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = t
            .public("/authentications/start", json!({"transaction_id": txn}))
            .await;
        assert_eq!(
            started.expect(200)["options"]["allowCredentials"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // A transaction is single-use, and of one kind.
        t.public("/authentications/start", json!({"transaction_id": txn}))
            .await
            .expect_error(422, "invalid_transaction");
        let txn = t
            .post("/v1/transactions/register", json!({"external_id": "u-1"}))
            .await;
        let txn = txn.expect(201)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        t.public("/authentications/start", json!({"transaction_id": txn}))
            .await
            .expect_error(422, "invalid_transaction");

        t.post(
            "/v1/transactions/authenticate",
            json!({"external_id": "nobody"}),
        )
        .await
        .expect_error(404, "user_not_found");
        t.post("/v1/users", json!({"external_id": "empty"}))
            .await
            .expect(201);
        t.post(
            "/v1/transactions/authenticate",
            json!({"external_id": "empty"}),
        )
        .await
        .expect_error(422, "no_passkeys");
        t.public("/authentications/start", json!({"mediation": "sometimes"}))
            .await
            .expect_error(400, "invalid_request");
    }
);

both!(ceremonies_stay_on_their_channel, |t: TestApp| async move {
    // A backend ceremony cannot be finished publicly (and so cannot mint a nonce), nor the reverse.
    let mut auth = Authenticator::new(Alg::Es256);
    let (ceremony_id, credential) = t
        .registration_response(&mut auth, json!({"external_id": "u-1"}))
        .await;
    t.public(
        "/registrations/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(404, "ceremony_not_found");
    let started = t.public("/authentications/start", json!({})).await;
    let ceremony_id = started.expect(200)["ceremony_id"].clone();
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": {}}),
    )
    .await
    .expect_error(404, "ceremony_not_found");
});

both!(
    a_deleted_passkey_is_an_unknown_credential,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        let nonce = t.browser_register(&mut auth, "u-1").await;
        let claims = t.post("/v1/nonces/verify", json!({"nonce": nonce})).await;
        let id = claims.expect(200)["passkey_id"]
            .as_str()
            .unwrap()
            .to_owned();
        t.delete(&format!("/v1/passkeys/{id}")).await.expect(204);
        t.browser_sign_in(&mut auth, json!({}))
            .await
            .expect_error(422, "unknown_credential");
    }
);

both!(cors_origins_and_unknown_apps, |t: TestApp| async move {
    // Preflight from the app's origin.
    let path = format!("/v1/apps/{}/authentications/start", t.app_id);
    let pre = t
        .raw(
            Method::OPTIONS,
            &path,
            vec![],
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert_eq!(pre.status, 204);
    let h = |name: &str| {
        pre.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(h("access-control-allow-origin").as_deref(), Some(ORIGIN));
    assert!(h("access-control-allow-methods").unwrap().contains("POST"));
    assert!(h("access-control-allow-headers")
        .unwrap()
        .contains("content-type"));
    // An answer (and an error answer) carries the CORS header so the page can read it.
    let ok = t.public("/authentications/start", json!({})).await;
    assert_eq!(
        ok.headers.get("access-control-allow-origin").unwrap(),
        ORIGIN
    );
    let err = t
        .public(
            "/authentications/start",
            json!({"transaction_id": "txn_nope"}),
        )
        .await;
    err.expect_error(422, "invalid_transaction");
    assert_eq!(
        err.headers.get("access-control-allow-origin").unwrap(),
        ORIGIN
    );
    // A foreign origin is refused, preflight or not, and gets no CORS header.
    let foreign = t
        .public_from("https://evil.example", "/authentications/start", json!({}))
        .await;
    foreign.expect_error(403, "origin_not_allowed");
    assert!(foreign.headers.get("access-control-allow-origin").is_none());
    let pre = t
        .raw(
            Method::OPTIONS,
            &path,
            vec![],
            &[("origin", "https://evil.example")],
        )
        .await;
    pre.expect_error(403, "origin_not_allowed");
    // Another app's origin is foreign too.
    add_app(
        &t.store,
        "shop",
        &AppSettings::new(
            "shop.localhost",
            "Shop",
            vec!["http://shop.localhost:8080".into()],
        ),
    )
    .await;
    t.public_from(
        "http://shop.localhost:8080",
        "/authentications/start",
        json!({}),
    )
    .await
    .expect_error(403, "origin_not_allowed");
    // Unknown app.
    t.raw(
        Method::POST,
        "/v1/apps/nope/authentications/start",
        b"{}".to_vec(),
        &[("content-type", "application/json")],
    )
    .await
    .expect_error(404, "app_not_found");
});

both!(nonces_belong_to_their_app, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    let nonce = t.browser_register(&mut auth, "u-1").await;
    add_app(
        &t.store,
        "other",
        &AppSettings::new(RP_ID, "Other", vec![ORIGIN.to_owned()]),
    )
    .await;
    let other = crate::harness::add_key(&t.store, "other").await;
    t.call_with(
        &other,
        Method::POST,
        "/v1/nonces/verify",
        Some(json!({"nonce": nonce})),
    )
    .await
    .expect_error(422, "invalid_nonce");
    // The failed attempt did not burn it for its own app.
    t.post("/v1/nonces/verify", json!({"nonce": nonce}))
        .await
        .expect(200);
});

#[tokio::test]
async fn public_endpoints_are_rate_limited() {
    let mut t = TestApp::sqlite().await;
    t.state = passkeyd::server::AppState::with_limits(
        t.state.service.clone(),
        passkeyd::ratelimit::RateLimitConfig {
            per_ip_per_minute: 3,
            per_app_per_minute: 100,
        },
    );
    for _ in 0..3 {
        t.public("/authentications/start", json!({}))
            .await
            .expect(200);
    }
    let limited = t.public("/authentications/start", json!({})).await;
    limited.expect_error(429, "rate_limited");
    let retry: u64 = limited
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry));
    assert_eq!(
        limited.headers.get("access-control-allow-origin").unwrap(),
        ORIGIN
    );
    // The backend API is not limited.
    t.get("/v1/users").await.expect(200);
}
