//! The admin API: an invited admin registers a passkey and gets a session; no call passes
//! without a session, no state change without the CSRF token and the dashboard's origin; apps,
//! keys, users and passkeys are managed; every change lands in the audit log with its actor;
//! the last admin stays.

use crate::both;
use crate::harness::{Reply, TestApp, ORIGIN, RP_ID};
use axum::http::Method;
use passkeyd::admin::ADMIN_APP_ID;
use passkeyd::audit::Caller;
use passkeyd_testauth::{
    b64url_decode, Alg, AuthenticationRequest, Authenticator, RegistrationRequest,
};
use serde_json::{json, Value};

/// A signed-in admin: the session cookie and the CSRF token.
pub struct AdminClient<'a> {
    pub t: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
    pub id: String,
}

/// A request to the admin side with the dashboard's origin and optional extra headers.
pub async fn admin_call(
    t: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("origin", ORIGIN), ("content-type", "application/json")];
    all.extend_from_slice(headers);
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    t.raw(method, path, bytes, &all).await
}

fn session_cookie(reply: &Reply) -> String {
    let set = reply.headers["set-cookie"].to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// Makes an invite as the CLI would and returns its token.
pub async fn invite(t: &TestApp, name: &str) -> String {
    let settings = t.state.admin.clone().unwrap();
    settings.write_app(&t.store).await.unwrap();
    let made = t
        .state
        .service
        .invite_admin(&settings, &Caller::named("cli"), Some(name))
        .await
        .unwrap();
    let (base, token) = made.link.split_once("/admin/#invite=").unwrap();
    assert_eq!(base, ORIGIN);
    token.to_owned()
}

/// Completes an invite with a new passkey on `auth`; returns the signed-in admin.
pub async fn accept_invite<'a>(
    t: &'a TestApp,
    auth: &mut Authenticator,
    token: &str,
) -> AdminClient<'a> {
    let started = admin_call(
        t,
        Method::POST,
        "/admin/api/invites/registration/start",
        Some(json!({"token": token})),
        &[],
    )
    .await;
    let options = started.expect(200)["options"].clone();
    assert_eq!(options["rp"]["id"], RP_ID);
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let reg = auth.register(&RegistrationRequest::new(
        RP_ID,
        ORIGIN,
        b64url_decode(options["challenge"].as_str().unwrap()).unwrap(),
        b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap(),
    ));
    let finished = admin_call(
        t,
        Method::POST,
        "/admin/api/invites/registration/finish",
        Some(json!({
            "token": token,
            "ceremony_id": started.body["ceremony_id"],
            "credential": reg.json,
        })),
        &[],
    )
    .await;
    let body = finished.expect(200).clone();
    AdminClient {
        t,
        cookie: session_cookie(&finished),
        csrf: body["admin"]["csrf_token"].as_str().unwrap().to_owned(),
        id: body["admin"]["id"].as_str().unwrap().to_owned(),
    }
}

/// The first admin of a test, with a fresh authenticator.
pub async fn first_admin(t: &TestApp) -> (AdminClient<'_>, Authenticator) {
    let mut auth = Authenticator::new(Alg::Es256);
    let token = invite(t, "Ada").await;
    let admin = accept_invite(t, &mut auth, &token).await;
    (admin, auth)
}

impl AdminClient<'_> {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let headers = [
            ("cookie", self.cookie.as_str()),
            ("x-csrf-token", self.csrf.as_str()),
        ];
        admin_call(self.t, method, path, body, &headers).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// The newest audit entries matching a query string.
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/admin/api/audit?{query}")).await;
        reply.expect(200)["data"].as_array().unwrap().clone()
    }
}

both!(nothing_passes_without_a_session, |t: TestApp| async move {
    let (_admin, _) = first_admin(&t).await;
    for (method, path) in [
        (Method::GET, "/admin/api/session"),
        (Method::GET, "/admin/api/apps"),
        (Method::GET, "/admin/api/audit"),
        (Method::GET, "/admin/api/audit/export"),
        (Method::GET, "/admin/api/overview"),
        (Method::POST, "/admin/api/apps"),
        (Method::DELETE, "/admin/api/admins/adm_x"),
    ] {
        let no_cookie = admin_call(&t, method.clone(), path, Some(json!({})), &[]).await;
        no_cookie.expect_error(401, "admin_session_required");
        let forged = admin_call(
            &t,
            method,
            path,
            Some(json!({})),
            &[("cookie", "passkeyd_admin=forged"), ("x-csrf-token", "x")],
        )
        .await;
        forged.expect_error(401, "admin_session_required");
    }
    // An app's secret key is no admin credential.
    let with_key = t.get("/admin/api/apps").await;
    with_key.expect_error(401, "admin_session_required");
});

both!(
    state_changes_need_the_csrf_token_and_origin,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        let body = json!({"name": "Shop", "settings": {"rp_id": "localhost", "rp_name": "Shop", "origins": ["http://localhost:3000"]}});
        let bytes = serde_json::to_vec(&body).unwrap();
        let cookie = admin.cookie.as_str();
        // No token, a wrong token: refused, and nothing was created.
        for headers in [
            vec![("origin", ORIGIN), ("cookie", cookie)],
            vec![
                ("origin", ORIGIN),
                ("cookie", cookie),
                ("x-csrf-token", "wrong"),
            ],
        ] {
            let mut h = headers.clone();
            h.push(("content-type", "application/json"));
            t.raw(Method::POST, "/admin/api/apps", bytes.clone(), &h)
                .await
                .expect_error(403, "csrf_failed");
        }
        // The right token from a foreign page, or with no Origin at all: refused.
        let csrf = admin.csrf.as_str();
        for origin in [Some("https://evil.example"), None] {
            let mut h = vec![
                ("cookie", cookie),
                ("x-csrf-token", csrf),
                ("content-type", "application/json"),
            ];
            if let Some(o) = origin {
                h.push(("origin", o));
            }
            t.raw(Method::POST, "/admin/api/apps", bytes.clone(), &h)
                .await
                .expect_error(403, "origin_not_allowed");
        }
        // A cross-site fetch is refused even with a matching Origin (a rewriting proxy).
        let h = [
            ("cookie", cookie),
            ("x-csrf-token", csrf),
            ("origin", ORIGIN),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/json"),
        ];
        t.raw(Method::POST, "/admin/api/apps", bytes.clone(), &h)
            .await
            .expect_error(403, "origin_not_allowed");
        assert_eq!(
            admin.get("/admin/api/apps").await.expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Sign-in endpoints, which have no session, still need the origin.
        t.raw(
            Method::POST,
            "/admin/api/signin/start",
            b"{}".to_vec(),
            &[
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
        )
        .await
        .expect_error(403, "origin_not_allowed");
        // With both, it works.
        admin.post("/admin/api/apps", body).await.expect(201);
    }
);

both!(invites_sign_in_and_sign_out, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    let token = invite(&t, "Ada").await;
    let admin = accept_invite(&t, &mut auth, &token).await;
    let session = admin.get("/admin/api/session").await;
    assert_eq!(session.expect(200)["admin"]["name"], "Ada");
    // Security headers on the API and the page.
    for path in ["/admin/api/session", "/admin/"] {
        let reply = admin.get(path).await;
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
    }
    // The link works once.
    admin_call(
        &t,
        Method::POST,
        "/admin/api/invites/registration/start",
        Some(json!({"token": token})),
        &[],
    )
    .await
    .expect_error(422, "invalid_invite");
    admin_call(
        &t,
        Method::POST,
        "/admin/api/invites/registration/start",
        Some(json!({"token": "pkd_inv_made-up"})),
        &[],
    )
    .await
    .expect_error(422, "invalid_invite");

    // Signing out ends the session.
    let out = admin.post("/admin/api/signout", json!({})).await;
    out.expect(204);
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    admin
        .get("/admin/api/session")
        .await
        .expect_error(401, "admin_session_required");

    // Signing in with the passkey opens a new one.
    let started = admin_call(
        &t,
        Method::POST,
        "/admin/api/signin/start",
        Some(json!({})),
        &[],
    )
    .await;
    let challenge = b64url_decode(
        started.expect(200)["options"]["challenge"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let assertion = auth.authenticate(&AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
    let finished = admin_call(
        &t,
        Method::POST,
        "/admin/api/signin/finish",
        Some(json!({"ceremony_id": started.body["ceremony_id"], "credential": assertion.json})),
        &[],
    )
    .await;
    let body = finished.expect(200).clone();
    let again = AdminClient {
        t: &t,
        cookie: session_cookie(&finished),
        csrf: body["admin"]["csrf_token"].as_str().unwrap().to_owned(),
        id: body["admin"]["id"].as_str().unwrap().to_owned(),
    };
    again.get("/admin/api/session").await.expect(200);
    // The admin's ceremonies are admin events, with no app.
    let events: Vec<String> = again
        .audit("")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "admin.invited",
        "admin.passkey.created",
        "admin.signed_out",
        "admin.signin.succeeded",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} not in {events:?}"
        );
    }
    let signin = &again.audit("event=admin.signin.succeeded").await[0];
    assert_eq!(signin["app_id"], Value::Null);
    assert_eq!(signin["external_id"], again.id.as_str());

    // A failed admin sign-in is recorded with its code.
    let started = admin_call(
        &t,
        Method::POST,
        "/admin/api/signin/start",
        Some(json!({})),
        &[],
    )
    .await;
    let challenge = b64url_decode(
        started.expect(200)["options"]["challenge"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let assertion = auth.authenticate(&AuthenticationRequest::new(
        RP_ID,
        "http://localhost:9999",
        challenge,
    ));
    admin_call(
        &t,
        Method::POST,
        "/admin/api/signin/finish",
        Some(json!({"ceremony_id": started.body["ceremony_id"], "credential": assertion.json})),
        &[],
    )
    .await
    .expect_error(422, "origin_mismatch");
    let failed = &again.audit("event=admin.signin.failed").await[0];
    assert_eq!(failed["error_code"], "origin_mismatch");
    assert_eq!(failed["outcome"], "failure");
});

both!(
    the_admin_app_is_unreachable_elsewhere,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        // Not listed, not shown, no keys, no public endpoints.
        let apps = admin.get("/admin/api/apps").await;
        assert!(!apps.body.to_string().contains(ADMIN_APP_ID));
        admin
            .get(&format!("/admin/api/apps/{ADMIN_APP_ID}"))
            .await
            .expect_error(404, "app_not_found");
        admin
            .post(&format!("/admin/api/apps/{ADMIN_APP_ID}/keys"), json!({}))
            .await
            .expect_error(404, "app_not_found");
        t.raw(
            Method::POST,
            &format!("/v1/apps/{ADMIN_APP_ID}/authentications/start"),
            b"{}".to_vec(),
            &[("origin", ORIGIN), ("content-type", "application/json")],
        )
        .await
        .expect_error(404, "app_not_found");
        admin
        .post(
            "/admin/api/apps",
            json!({"id": "__mine", "name": "X", "settings": {"rp_id": "localhost", "rp_name": "X", "origins": [ORIGIN]}}),
        )
        .await
        .expect_error(400, "invalid_request");
    }
);

both!(the_last_admin_stays, |t: TestApp| async move {
    let (ada, _) = first_admin(&t).await;
    ada.delete(&format!("/admin/api/admins/{}", ada.id))
        .await
        .expect_error(409, "last_admin");
    // A second admin, invited from the dashboard.
    let made = ada
        .post("/admin/api/invites", json!({"name": "Grace"}))
        .await;
    let link = made.expect(201)["link"].as_str().unwrap().to_owned();
    let token = link.split_once("#invite=").unwrap().1.to_owned();
    let mut auth = Authenticator::new(Alg::Es256);
    let grace = accept_invite(&t, &mut auth, &token).await;
    let admins = ada.get("/admin/api/admins").await;
    assert_eq!(admins.expect(200)["data"].as_array().unwrap().len(), 2);
    // Grace removes Ada, whose session ends at once; Grace cannot remove herself now.
    grace
        .delete(&format!("/admin/api/admins/{}", ada.id))
        .await
        .expect(204);
    ada.get("/admin/api/session")
        .await
        .expect_error(401, "admin_session_required");
    grace
        .delete(&format!("/admin/api/admins/{}", grace.id))
        .await
        .expect_error(409, "last_admin");
    let removed = &grace.audit("event=admin.removed").await[0];
    assert_eq!(removed["external_id"], ada.id.as_str());
    assert_eq!(removed["actor"], format!("admin:{}", grace.id));
});

both!(
    admins_manage_apps_keys_users_and_passkeys,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        // Validation names the field.
        let bad = admin
        .post(
            "/admin/api/apps",
            json!({"name": "Shop", "settings": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["https://shop.example"], "max_passkeys_per_user": 11}}),
        )
        .await;
        bad.expect_error(400, "invalid_request");
        assert!(bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("max_passkeys_per_user"));
        let created = admin
        .post(
            "/admin/api/apps",
            json!({"id": "shop", "name": "Shop", "settings": {"rp_id": "localhost", "rp_name": "Shop", "origins": [ORIGIN]}}),
        )
        .await;
        assert_eq!(created.expect(201)["id"], "shop");
        let updated = admin
        .call(
            Method::PATCH,
            "/admin/api/apps/shop",
            Some(json!({"name": "Shop 2", "settings": {"rp_id": "localhost", "rp_name": "Shop", "origins": [ORIGIN], "user_verification": "required"}})),
        )
        .await;
        assert_eq!(updated.expect(200)["user_verification"], "required");
        // Settings the form leaves out keep their values (a save must not turn sessions off).
        let on = admin
            .call(
                Method::PATCH,
                "/admin/api/apps/shop",
                Some(json!({"settings": {"sessions": true}})),
            )
            .await;
        assert_eq!(on.expect(200)["sessions"], true);
        let kept = admin
            .call(
                Method::PATCH,
                "/admin/api/apps/shop",
                Some(json!({"settings": {"max_passkeys_per_user": 4}})),
            )
            .await;
        let kept = kept.expect(200);
        assert_eq!(
            (
                kept["sessions"].as_bool(),
                kept["max_passkeys_per_user"].as_u64()
            ),
            (Some(true), Some(4))
        );
        assert_eq!(kept["user_verification"], "required");
        admin
            .call(
                Method::PATCH,
                "/admin/api/apps/shop",
                Some(json!({"settings": {"sesions": true}})),
            )
            .await
            .expect_error(400, "invalid_request");

        // A key is shown once, listed by prefix, works, and stops working when revoked.
        let key = admin
            .post("/admin/api/apps/shop/keys", json!({"name": "ci"}))
            .await;
        let key = key.expect(201).clone();
        let secret = key["key"].as_str().unwrap().to_owned();
        let listed = admin.get("/admin/api/apps/shop/keys").await;
        let listed = listed.expect(200)["data"][0].clone();
        assert_eq!(listed["prefix"], key["prefix"]);
        assert!(listed.get("key").is_none(), "the secret is never listed");
        t.call_with(&secret, Method::GET, "/v1/users", None)
            .await
            .expect(200);
        let listed = admin.get("/admin/api/apps/shop/keys").await;
        assert!(listed.body["data"][0]["last_used_at"].is_string());

        // A user registered through the backend API is found, shown, and their passkey deleted.
        let shop = TestApp {
            store: t.store.clone(),
            state: t.state.clone(),
            app_id: "shop".into(),
            key: secret.clone(),
            db: t.db.clone(),
        };
        let mut auth = Authenticator::new(Alg::Es256);
        let passkey = shop.register(&mut auth, "user-42").await;
        let mut other = Authenticator::new(Alg::Ed25519);
        shop.register(&mut other, "user-42").await;
        let found = admin.get("/admin/api/apps/shop/users?q=USER-4").await;
        assert_eq!(found.expect(200)["data"][0]["external_id"], "user-42");
        let detail = admin.get("/admin/api/apps/shop/users/user-42").await;
        let detail = detail.expect(200).clone();
        assert_eq!(detail["passkeys"].as_array().unwrap().len(), 2);
        assert_eq!(detail["passkeys"][0]["aaguid"], passkey["aaguid"]);
        let id = passkey["id"].as_str().unwrap();
        admin
            .call(
                Method::PATCH,
                &format!("/admin/api/apps/shop/passkeys/{id}"),
                Some(json!({"name": "Work laptop"})),
            )
            .await
            .expect(200);
        admin
            .delete(&format!("/admin/api/apps/shop/passkeys/{id}"))
            .await
            .expect(204);
        let deleted = &admin.audit("event=passkey.deleted&app=shop").await[0];
        assert_eq!(deleted["passkey_id"], id);
        assert_eq!(deleted["external_id"], "user-42");
        assert_eq!(deleted["actor"], format!("admin:{}", admin.id));
        let entry = admin
            .get(&format!(
                "/admin/api/audit/{}",
                deleted["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(entry.expect(200)["event"], "passkey.deleted");
        // The backend's own registrations were recorded with the key's prefix as actor.
        let created = admin.audit("event=passkey.created&user=user-42").await;
        assert_eq!(created.len(), 2);
        assert_eq!(
            created[0]["actor"],
            format!("key:{}", key["prefix"].as_str().unwrap())
        );

        admin
            .delete("/admin/api/apps/shop/users/user-42/passkeys")
            .await
            .expect(200);
        admin
            .delete("/admin/api/apps/shop/users/user-42")
            .await
            .expect(204);
        admin
            .get("/admin/api/apps/shop/users/user-42")
            .await
            .expect_error(404, "user_not_found");
        admin
            .delete(&format!(
                "/admin/api/apps/shop/keys/{}",
                key["id"].as_str().unwrap()
            ))
            .await
            .expect(204);
        t.call_with(&secret, Method::GET, "/v1/users", None)
            .await
            .expect_error(401, "invalid_api_key");

        // The log has all of it; the export has the same entries as JSON lines.
        assert_eq!(
            admin.audit("event=app.updated").await.len(),
            3,
            "three updates"
        );
        for event in [
            "app.created",
            "key.created",
            "key.revoked",
            "passkey.renamed",
            "user.deleted",
        ] {
            assert_eq!(
                admin.audit(&format!("event={event}")).await.len(),
                1,
                "{event}"
            );
        }
        let page = admin.get("/admin/api/audit?app=shop&limit=2").await;
        let page = page.expect(200).clone();
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        let next = page["next_cursor"].as_str().unwrap();
        let older = admin
            .get(&format!("/admin/api/audit?app=shop&limit=2&cursor={next}"))
            .await;
        assert_ne!(older.expect(200)["data"][0]["id"], page["data"][0]["id"]);
        let export = admin.get("/admin/api/audit/export?app=shop").await;
        assert_eq!(
            export.headers["content-type"],
            "application/x-ndjson; charset=utf-8"
        );
        let lines: Vec<Value> = export
            .body
            .as_str()
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), admin.audit("app=shop&limit=200").await.len());
        admin
            .get("/admin/api/audit?outcome=perhaps")
            .await
            .expect_error(400, "invalid_request");

        // The overview counts the registrations and the failures.
        let overview = admin.get("/admin/api/overview?app=shop&days=7").await;
        let overview = overview.expect(200).clone();
        let days = overview["days"].as_array().unwrap();
        assert_eq!(days.len(), 7);
        assert_eq!(days[6]["registrations"], 2);
        admin.delete("/admin/api/apps/shop").await.expect(204);
    }
);

both!(
    ceremony_failures_are_audited_with_their_code,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.register(&mut auth, "u-1").await;
        let (ceremony_id, credential) = t
            .authentication_response(&mut auth, json!({"external_id": "u-1"}), |r| {
                AuthenticationRequest::new(RP_ID, "http://localhost:1234", r.challenge.clone())
            })
            .await;
        t.post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect_error(422, "origin_mismatch");
        let failed = &admin
            .audit(&format!("event=signin.failed&app={}", t.app_id))
            .await[0];
        assert_eq!(failed["error_code"], "origin_mismatch");
        assert_eq!(failed["external_id"], "u-1");
        assert!(failed["actor"].as_str().unwrap().starts_with("key:pkd_sk_"));
        assert_eq!(t.sign_in(&mut auth, Some("u-1")).await.status.as_u16(), 200);
        let ok = &admin.audit("event=signin.succeeded&outcome=success").await[0];
        assert_eq!(ok["external_id"], "u-1");
        let overview = admin.get("/admin/api/overview").await;
        let overview = overview.expect(200).clone();
        assert_eq!(overview["failures_by_code"][0]["name"], "origin_mismatch");
        assert_eq!(overview["device_bound"], 1);
    }
);

both!(an_admin_revokes_a_users_sessions, |t: TestApp| async move {
    let (admin, _) = first_admin(&t).await;
    t.configure(|s| s.sessions = true).await;
    let mut auth = Authenticator::new(Alg::Es256);
    let passkey = t.register(&mut auth, "u-1").await;
    let passkey_id = passkey["id"].as_str().unwrap();
    // Two sessions, as two sign-ins would make them.
    let app = passkeyd::settings::AppContext::from_app(
        &t.store.get_app(&t.app_id).await.unwrap().unwrap(),
    )
    .unwrap();
    let mut jwts = Vec::new();
    for _ in 0..2 {
        let made = t
            .state
            .service
            .create_session(&app, "u-1", passkey_id, Some("test"), None)
            .await
            .unwrap();
        jwts.push(made.issued.jwt);
    }
    let live = |r: &Reply| r.body["data"].as_array().unwrap().len();
    assert_eq!(live(&t.get("/v1/users/u-1/sessions").await), 2);

    let path = format!("/admin/api/apps/{}/users/u-1/sessions", t.app_id);
    // No session, then no CSRF token: refused, and nothing is revoked.
    admin_call(&t, Method::DELETE, &path, None, &[])
        .await
        .expect_error(401, "admin_session_required");
    admin_call(
        &t,
        Method::DELETE,
        &path,
        None,
        &[("cookie", admin.cookie.as_str())],
    )
    .await
    .expect_error(403, "csrf_failed");
    assert_eq!(live(&t.get("/v1/users/u-1/sessions").await), 2);

    let revoked = admin.delete(&path).await;
    assert_eq!(revoked.expect(200)["revoked"], 2);
    assert_eq!(live(&t.get("/v1/users/u-1/sessions").await), 0);
    for jwt in &jwts {
        t.post("/v1/sessions/verify", json!({"token": jwt}))
            .await
            .expect_error(422, "invalid_token");
    }
    // Again: nothing left to revoke. An unknown user: 404.
    assert_eq!(admin.delete(&path).await.expect(200)["revoked"], 0);
    admin
        .delete(&format!(
            "/admin/api/apps/{}/users/nobody/sessions",
            t.app_id
        ))
        .await
        .expect_error(404, "user_not_found");

    let entries = admin
        .audit(&format!("event=session.revoked&app={}&user=u-1", t.app_id))
        .await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let first = &entries[1];
    assert_eq!(first["actor"], format!("admin:{}", admin.id));
    assert_eq!(first["external_id"], "u-1");
    assert_eq!(first["outcome"], "success");
    assert_eq!(first["detail"]["revoked"], 2);
});
