//! The one error shape: malformed bodies, missing and bad keys, unknown routes and methods.

use crate::both;
use crate::harness::TestApp;
use axum::http::Method;
use serde_json::json;

both!(bodies_are_checked, |t: TestApp| async move {
    let key = format!("Bearer {}", t.key);
    let auth = ("authorization", key.as_str());
    let json_type = ("content-type", "application/json");
    let post = |body: &'static [u8]| {
        let t = &t;
        async move {
            t.raw(Method::POST, "/v1/users", body.to_vec(), &[auth, json_type])
                .await
        }
    };
    post(b"{not json").await.expect_error(400, "invalid_json");
    post(b"").await.expect_error(400, "invalid_json");
    post(b"{\"external_id\": 5}")
        .await
        .expect_error(400, "invalid_request");
    post(b"{}").await.expect_error(400, "invalid_request");
    let r = post(b"{\"external_id\": \"a\", \"nickname\": \"b\"}").await;
    r.expect_error(400, "invalid_request");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nickname"));
    t.raw(
        Method::POST,
        "/v1/users",
        b"{\"external_id\": \"a\"}".to_vec(),
        &[auth],
    )
    .await
    .expect_error(400, "invalid_request");
    let big = format!("{{\"external_id\": \"{}\"}}", "x".repeat(70 * 1024));
    t.raw(
        Method::POST,
        "/v1/users",
        big.into_bytes(),
        &[auth, json_type],
    )
    .await
    .expect_error(400, "body_too_large");
    t.post("/v1/registrations/finish", json!({"ceremony_id": "x"}))
        .await
        .expect_error(400, "invalid_request");
});

both!(keys_are_required_and_checked, |t: TestApp| async move {
    t.raw(Method::GET, "/v1/users", vec![], &[])
        .await
        .expect_error(401, "missing_api_key");
    t.raw(
        Method::GET,
        "/v1/users",
        vec![],
        &[("authorization", "Basic abc")],
    )
    .await
    .expect_error(401, "invalid_api_key");
    t.call_with("pkd_sk_notakey", Method::GET, "/v1/users", None)
        .await
        .expect_error(401, "invalid_api_key");
    t.get("/v1/users").await.expect(200);
    // A revoked key stops working at once.
    let keys = t.store.list_api_keys(&t.app_id).await.unwrap();
    assert!(t
        .store
        .revoke_api_key(&t.app_id, &keys[0].id, 1)
        .await
        .unwrap());
    t.get("/v1/users")
        .await
        .expect_error(401, "invalid_api_key");
});

both!(unknown_routes_and_methods, |t: TestApp| async move {
    t.get("/v1/nothing")
        .await
        .expect_error(404, "route_not_found");
    t.call(Method::PUT, "/v1/users", None)
        .await
        .expect_error(405, "method_not_allowed");
    t.raw(Method::GET, "/", vec![], &[])
        .await
        .expect_error(404, "route_not_found");
});
