//! The demo's backend: sign-up and sign-in through transactions and nonces, a cookie session,
//! the signed-in user's passkeys, and refusals (foreign origin, no session, demo disabled).

use crate::both;
use crate::harness::{add_app, Reply, TestApp, ORIGIN, RP_ID};
use axum::http::Method;
use passkeyd::settings::AppSettings;
use passkeyd_testauth::{
    b64url_decode, Alg, AuthenticationRequest, Authenticator, RegistrationRequest,
};
use serde_json::{json, Value};

struct Demo<'a> {
    t: &'a TestApp,
    cookie: Option<String>,
}

impl Demo<'_> {
    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut headers = vec![("origin", ORIGIN), ("content-type", "application/json")];
        let cookie = self.cookie.clone();
        if let Some(c) = &cookie {
            headers.push(("cookie", c.as_str()));
        }
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let reply = self.t.raw(method, path, bytes, &headers).await;
        if let Some(set) = reply.headers.get("set-cookie") {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        reply
    }

    /// Registers with the transaction the demo backend gave; returns the nonce.
    async fn register(&mut self, auth: &mut Authenticator, transaction: &str) -> String {
        let started = self
            .call(
                Method::POST,
                "/v1/apps/default/registrations/start",
                Some(json!({"transaction_id": transaction})),
            )
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
            .call(
                Method::POST,
                "/v1/apps/default/registrations/finish",
                Some(json!({"ceremony_id": body["ceremony_id"], "credential": reg.json})),
            )
            .await;
        finished.expect(200)["nonce"].as_str().unwrap().to_owned()
    }
}

async fn with_demo(t: &TestApp) {
    let mut settings = AppSettings::new(RP_ID, "passkeyd", vec![ORIGIN.to_owned()]);
    settings.demo = true;
    add_app(&t.store, "default", &settings).await;
}

both!(
    sign_up_sign_in_and_manage_passkeys,
    |t: TestApp| async move {
        with_demo(&t).await;
        let page = t.raw(Method::GET, "/", vec![], &[]).await;
        assert_eq!(page.status, 200);
        let csp = page
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(page.body.as_str().unwrap().contains("passkeyd-app-id"));
        assert_eq!(
            t.raw(Method::GET, "/sdk/passkeyd.js", vec![], &[])
                .await
                .status,
            200
        );

        let mut d = Demo {
            t: &t,
            cookie: None,
        };
        d.call(Method::GET, "/demo/api/me", None)
            .await
            .expect_error(401, "not_signed_in");
        let txn = d
            .call(
                Method::POST,
                "/demo/api/signup",
                Some(json!({"username": "ada"})),
            )
            .await;
        let txn = txn.expect(200)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut auth = Authenticator::new(Alg::Es256);
        let nonce = d.register(&mut auth, &txn).await;
        let session = d
            .call(
                Method::POST,
                "/demo/api/session",
                Some(json!({"nonce": nonce})),
            )
            .await;
        assert_eq!(session.expect(200)["user"]["external_id"], "ada");
        assert!(d.cookie.is_some());
        let me = d.call(Method::GET, "/demo/api/me", None).await;
        let me = me.expect(200).clone();
        assert_eq!(me["user"]["username"], "ada");
        assert_eq!(me["passkeys"].as_array().unwrap().len(), 1);
        let id = me["passkeys"][0]["id"].as_str().unwrap().to_owned();

        // The name is taken now.
        d.call(
            Method::POST,
            "/demo/api/signup",
            Some(json!({"username": "ada"})),
        )
        .await
        .expect_error(409, "username_taken");

        // Add a second passkey, rename and delete the first.
        let txn = d.call(Method::POST, "/demo/api/passkeys", None).await;
        let txn = txn.expect(200)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let nonce = d.register(&mut Authenticator::new(Alg::Es256), &txn).await;
        d.call(
            Method::POST,
            "/demo/api/passkeys/confirm",
            Some(json!({"nonce": nonce})),
        )
        .await
        .expect(200);
        let renamed = d
            .call(
                Method::PATCH,
                &format!("/demo/api/passkeys/{id}"),
                Some(json!({"name": "Laptop"})),
            )
            .await;
        assert_eq!(renamed.expect(200)["name"], "Laptop");
        d.call(Method::DELETE, &format!("/demo/api/passkeys/{id}"), None)
            .await
            .expect(204);
        let me = d.call(Method::GET, "/demo/api/me", None).await;
        assert_eq!(me.expect(200)["passkeys"].as_array().unwrap().len(), 1);

        // Sign out, then try a username-first sign-in with the first authenticator, whose passkey
        // was deleted: the server no longer knows it.
        d.call(Method::POST, "/demo/api/signout", None)
            .await
            .expect(204);
        d.call(Method::GET, "/demo/api/me", None)
            .await
            .expect_error(401, "not_signed_in");
        let txn = d
            .call(
                Method::POST,
                "/demo/api/signin",
                Some(json!({"username": "ada"})),
            )
            .await;
        let txn = txn.expect(200)["transaction_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = d
            .call(
                Method::POST,
                "/v1/apps/default/authentications/start",
                Some(json!({"transaction_id": txn})),
            )
            .await;
        let body = started.expect(200).clone();
        let challenge = b64url_decode(body["options"]["challenge"].as_str().unwrap()).unwrap();
        let assertion = auth.authenticate(&AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
        d.call(
            Method::POST,
            "/v1/apps/default/authentications/finish",
            Some(json!({"ceremony_id": body["ceremony_id"], "credential": assertion.json})),
        )
        .await
        .expect_error(422, "unknown_credential");
    }
);

both!(demo_refusals, |t: TestApp| async move {
    // Not enabled: no page, no demo API.
    t.raw(Method::GET, "/", vec![], &[])
        .await
        .expect_error(404, "route_not_found");
    with_demo(&t).await;
    // A cross-site call is refused.
    let r = t
        .raw(
            Method::POST,
            "/demo/api/signup",
            br#"{"username":"eve"}"#.to_vec(),
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    r.expect_error(403, "origin_not_allowed");
    let r = t
        .raw(
            Method::POST,
            "/demo/api/signup",
            br#"{"username":"eve"}"#.to_vec(),
            &[("content-type", "application/json")],
        )
        .await;
    r.expect_error(403, "origin_not_allowed");
    // A forged cookie is no session; another user's passkey is out of reach.
    let mut d = Demo {
        t: &t,
        cookie: Some("passkeyd_demo=forged".into()),
    };
    d.call(Method::GET, "/demo/api/me", None)
        .await
        .expect_error(401, "not_signed_in");
    d.call(
        Method::POST,
        "/demo/api/signin",
        Some(json!({"username": "nobody"})),
    )
    .await
    .expect_error(404, "user_not_found");
});
