//! Passkey management: list, get, rename (and restore the generated name), delete one or all;
//! and that another app's passkeys and ceremonies are out of reach.

use crate::both;
use crate::harness::{add_app, add_key, TestApp, ORIGIN, RP_ID};
use axum::http::Method;
use passkeyd::settings::AppSettings;
use passkeyd_testauth::{Alg, Authenticator};
use serde_json::json;

both!(list_get_rename_delete, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    let first = t.register(&mut auth, "u-1").await;
    let second = t.register(&mut auth, "u-1").await;
    let id = first["id"].as_str().unwrap();

    let list = t.get("/v1/users/u-1/passkeys").await;
    let ids: Vec<_> = list.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, vec![first["id"].clone(), second["id"].clone()]);
    t.get("/v1/users/nobody/passkeys")
        .await
        .expect_error(404, "user_not_found");

    let got = t.get(&format!("/v1/passkeys/{id}")).await;
    assert_eq!(got.expect(200)["credential_id"], first["credential_id"]);

    let renamed = t
        .call(
            Method::PATCH,
            &format!("/v1/passkeys/{id}"),
            Some(json!({"name": "  My phone "})),
        )
        .await;
    let body = renamed.expect(200);
    assert_eq!(
        (body["name"].as_str(), body["name_is_custom"].as_bool()),
        (Some("My phone"), Some(true))
    );
    let restored = t
        .call(
            Method::PATCH,
            &format!("/v1/passkeys/{id}"),
            Some(json!({"name": null})),
        )
        .await;
    let body = restored.expect(200);
    assert_eq!(
        (body["name"].as_str(), body["name_is_custom"].as_bool()),
        (Some("Passkey"), Some(false))
    );
    t.call(
        Method::PATCH,
        &format!("/v1/passkeys/{id}"),
        Some(json!({"name": ""})),
    )
    .await
    .expect_error(400, "invalid_request");
    t.call(
        Method::PATCH,
        &format!("/v1/passkeys/{id}"),
        Some(json!({"name": "x".repeat(65)})),
    )
    .await
    .expect_error(400, "invalid_request");
    t.call(
        Method::PATCH,
        &format!("/v1/passkeys/{id}"),
        Some(json!({})),
    )
    .await
    .expect_error(400, "invalid_request");
    t.call(
        Method::PATCH,
        "/v1/passkeys/pk_nope",
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(404, "passkey_not_found");

    t.delete(&format!("/v1/passkeys/{id}")).await.expect(204);
    t.get(&format!("/v1/passkeys/{id}"))
        .await
        .expect_error(404, "passkey_not_found");
    t.delete(&format!("/v1/passkeys/{id}"))
        .await
        .expect_error(404, "passkey_not_found");

    t.register(&mut auth, "u-1").await;
    let deleted = t.delete("/v1/users/u-1/passkeys").await;
    assert_eq!(deleted.expect(200)["deleted"], 2);
    assert_eq!(
        t.get("/v1/users/u-1/passkeys").await.expect(200)["data"],
        json!([])
    );
    t.delete("/v1/users/nobody/passkeys")
        .await
        .expect_error(404, "user_not_found");
});

both!(another_apps_data_is_out_of_reach, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    let passkey = t.register(&mut auth, "u-1").await;
    let id = passkey["id"].as_str().unwrap();
    let (ceremony_id, _) = t
        .registration_response(&mut auth, json!({"external_id": "u-1"}))
        .await;

    add_app(
        &t.store,
        "other",
        &AppSettings::new(RP_ID, "Other", vec![ORIGIN.to_owned()]),
    )
    .await;
    let other = add_key(&t.store, "other").await;
    let call = |method: Method, path: String, body: Option<serde_json::Value>| {
        let other = other.clone();
        let t = &t;
        async move { t.call_with(&other, method, &path, body).await }
    };
    call(Method::GET, format!("/v1/passkeys/{id}"), None)
        .await
        .expect_error(404, "passkey_not_found");
    call(
        Method::PATCH,
        format!("/v1/passkeys/{id}"),
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(404, "passkey_not_found");
    call(Method::DELETE, format!("/v1/passkeys/{id}"), None)
        .await
        .expect_error(404, "passkey_not_found");
    call(Method::GET, "/v1/users/u-1".into(), None)
        .await
        .expect_error(404, "user_not_found");
    call(Method::GET, "/v1/users/u-1/passkeys".into(), None)
        .await
        .expect_error(404, "user_not_found");
    call(
        Method::POST,
        "/v1/registrations/finish".into(),
        Some(json!({"ceremony_id": ceremony_id, "credential": {}})),
    )
    .await
    .expect_error(404, "ceremony_not_found");
    assert_eq!(
        call(Method::GET, "/v1/users".into(), None)
            .await
            .expect(200)["data"],
        json!([])
    );
    // A sign-in with app 1's passkey through app 2 finds no such credential.
    let started = call(
        Method::POST,
        "/v1/authentications/start".into(),
        Some(json!({})),
    )
    .await;
    assert_eq!(started.status, 200);
    // And app 1 still has everything.
    t.get(&format!("/v1/passkeys/{id}")).await.expect(200);
});
