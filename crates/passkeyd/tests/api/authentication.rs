//! Sign-in: username-first and discoverable, what is written back, and refusals.

use crate::both;
use crate::harness::TestApp;
use passkeyd_testauth::{Alg, Authenticator, Faults};
use serde_json::json;

both!(username_first_sign_in, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256).with_transports(&["internal", "hybrid"]);
    let passkey = t.register(&mut auth, "u-1").await;
    let started = t
        .post("/v1/authentications/start", json!({"external_id": "u-1"}))
        .await;
    let options = started.expect(200)["options"].clone();
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(
        options["allowCredentials"],
        json!([{"type": "public-key", "id": passkey["credential_id"], "transports": ["internal", "hybrid"]}])
    );
    assert_eq!(options["userVerification"], "preferred");

    let signed_in = t.sign_in(&mut auth, Some("u-1")).await;
    let body = signed_in.expect(200);
    assert_eq!(body["user"]["external_id"], "u-1");
    assert_eq!(body["passkey"]["id"], passkey["id"]);
    assert_eq!(body["user_verified"], true);
    assert!(body["passkey"]["last_used_at"].is_string());
    let stored = t
        .get(&format!("/v1/passkeys/{}", passkey["id"].as_str().unwrap()))
        .await;
    let stored = stored.expect(200);
    assert_eq!(stored["sign_count"], body["passkey"]["sign_count"]);
    assert!(stored["sign_count"].as_i64().unwrap() > passkey["sign_count"].as_i64().unwrap());
    assert_eq!(stored["last_used_at"], body["passkey"]["last_used_at"]);
});

both!(discoverable_sign_in, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    t.register(&mut auth, "u-1").await;
    let started = t.post("/v1/authentications/start", json!({})).await;
    let options = started.expect(200)["options"].clone();
    assert!(options
        .get("allowCredentials")
        .is_none_or(|a| a.as_array().unwrap().is_empty()));
    let body = t.sign_in(&mut auth, None).await;
    assert_eq!(body.expect(200)["user"]["external_id"], "u-1");

    // A discoverable response must name its user.
    let (ceremony_id, credential) = t
        .authentication_response(&mut auth, json!({}), |r| {
            r.with_faults(Faults {
                user_handle: Some(None),
                ..Faults::default()
            })
        })
        .await;
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(422, "user_handle_mismatch");
});

both!(sign_in_refusals, |t: TestApp| async move {
    t.post(
        "/v1/authentications/start",
        json!({"external_id": "nobody"}),
    )
    .await
    .expect_error(404, "user_not_found");
    t.post("/v1/users", json!({"external_id": "empty"}))
        .await
        .expect(201);
    t.post("/v1/authentications/start", json!({"external_id": "empty"}))
        .await
        .expect_error(422, "no_passkeys");

    let mut auth = Authenticator::new(Alg::Es256);
    t.register(&mut auth, "u-1").await;
    // A signature that does not verify.
    let (ceremony_id, credential) = t
        .authentication_response(&mut auth, json!({"external_id": "u-1"}), |r| {
            r.with_faults(Faults {
                corrupt_signature: true,
                ..Faults::default()
            })
        })
        .await;
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(422, "signature_invalid");
    // A foreign origin.
    let (ceremony_id, credential) = t
        .authentication_response(&mut auth, json!({}), |r| {
            r.with_faults(Faults {
                origin: Some("https://evil.example".into()),
                ..Faults::default()
            })
        })
        .await;
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(422, "origin_mismatch");
    // A counter that went backwards (a cloned authenticator).
    let mut clone = auth.clone();
    t.sign_in(&mut auth, None).await.expect(200);
    t.sign_in(&mut auth, None).await.expect(200);
    t.sign_in(&mut clone, None)
        .await
        .expect_error(422, "counter_rollback");
    // With the warn policy the clone gets through.
    t.configure(|s| s.counter_policy = passkeyd::settings::CounterPolicySetting::Warn)
        .await;
    t.sign_in(&mut clone, None).await.expect(200);
    // Another user's passkey cannot answer a username-first sign-in for u-2.
    let mut other = Authenticator::new(Alg::Es256);
    t.register(&mut other, "u-2").await;
    let (ceremony_id, credential) = t
        .authentication_response(&mut auth, json!({"external_id": "u-2"}), |r| r)
        .await;
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(422, "credential_not_allowed");
});
