//! Users: create or update by external id, get, list with cursor pagination, delete.

use crate::both;
use crate::harness::TestApp;
use passkeyd_testauth::{Alg, Authenticator};
use serde_json::json;

both!(create_update_get_delete, |t: TestApp| async move {
    let created = t
        .post(
            "/v1/users",
            json!({"external_id": "u-1", "username": "ada@example.com"}),
        )
        .await;
    let body = created.expect(201);
    assert_eq!(body["external_id"], "u-1");
    assert_eq!(body["username"], "ada@example.com");
    assert_eq!(body["display_name"], serde_json::Value::Null);

    // Updating keeps what is not given and changes what is.
    let updated = t
        .post(
            "/v1/users",
            json!({"external_id": "u-1", "display_name": "Ada"}),
        )
        .await;
    let body = updated.expect(200);
    assert_eq!(body["username"], "ada@example.com");
    assert_eq!(body["display_name"], "Ada");

    let got = t.get("/v1/users/u-1").await;
    assert_eq!(got.expect(200)["display_name"], "Ada");

    // External ids may hold characters that need escaping in a path.
    t.post("/v1/users", json!({"external_id": "a b/c"}))
        .await
        .expect(201);
    t.get("/v1/users/a%20b%2Fc").await.expect(200);

    t.delete("/v1/users/u-1").await.expect(204);
    t.get("/v1/users/u-1")
        .await
        .expect_error(404, "user_not_found");
    t.delete("/v1/users/u-1")
        .await
        .expect_error(404, "user_not_found");
});

both!(
    deleting_a_user_deletes_their_passkeys,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        let passkey = t.register(&mut auth, "u-2").await;
        let id = passkey["id"].as_str().unwrap();
        t.delete("/v1/users/u-2").await.expect(204);
        t.get(&format!("/v1/passkeys/{id}"))
            .await
            .expect_error(404, "passkey_not_found");
        // The deleted passkey no longer signs anyone in.
        let (ceremony_id, credential) =
            t.authentication_response(&mut auth, json!({}), |r| r).await;
        t.post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect_error(422, "unknown_credential");
    }
);

both!(list_pages_with_a_cursor, |t: TestApp| async move {
    for i in 0..7 {
        t.post("/v1/users", json!({"external_id": format!("user-{i}")}))
            .await
            .expect(201);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = t.get(&path).await;
        let body = page.expect(200).clone();
        pages += 1;
        for u in body["data"].as_array().unwrap() {
            seen.push(u["external_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/users?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("user-{i}")).collect();
    assert_eq!(seen, expected);

    t.get("/v1/users?limit=0")
        .await
        .expect_error(400, "invalid_request");
    t.get("/v1/users?limit=101")
        .await
        .expect_error(400, "invalid_request");
    t.get("/v1/users?limit=x")
        .await
        .expect_error(400, "invalid_request");
    t.get("/v1/users?cursor=%%%")
        .await
        .expect_error(400, "invalid_request");
});

both!(users_are_checked, |t: TestApp| async move {
    t.post("/v1/users", json!({"external_id": ""}))
        .await
        .expect_error(400, "invalid_request");
    t.post("/v1/users", json!({"external_id": "x".repeat(257)}))
        .await
        .expect_error(400, "invalid_request");
    t.post("/v1/users", json!({"external_id": "a\u{0}b"}))
        .await
        .expect_error(400, "invalid_request");
    t.post("/v1/users", json!({"external_id": "ok", "username": ""}))
        .await
        .expect_error(400, "invalid_request");
});
