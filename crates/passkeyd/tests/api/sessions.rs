//! Sessions: a browser sign-in starts one (cookie or token), JWTs checked with an independent JWT
//! library against the JWKS, the signed-in user's passkeys (unverified until their ceremony
//! succeeds), reverification, sign-out, the backend's session endpoints, key rotation, and
//! refusals: expired, revoked, forged and other-app tokens, foreign origins (CSRF).

use crate::both;
use crate::harness::{add_app, add_key, Reply, TestApp, ORIGIN, RP_ID};
use axum::http::Method;
use passkeyd::settings::{AppSettings, SensitiveAction};
use passkeyd_store::Session;
use passkeyd_testauth::{
    b64url_decode, Alg, AuthenticationRequest, Authenticator, RegistrationRequest,
};
use serde_json::{json, Value};

/// A caller of /v1/me from the app's page: by cookie or by Bearer session token.
struct Browser<'a> {
    t: &'a TestApp,
    cookie: Option<String>,
    token: Option<String>,
    origin: Option<&'a str>,
}

impl<'a> Browser<'a> {
    fn new(t: &'a TestApp) -> Self {
        Browser {
            t,
            cookie: None,
            token: None,
            origin: Some(ORIGIN),
        }
    }

    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut headers: Vec<(&str, String)> = vec![("content-type", "application/json".into())];
        if let Some(o) = self.origin {
            headers.push(("origin", o.into()));
        }
        if let Some(c) = &self.cookie {
            headers.push(("cookie", c.clone()));
        }
        if let Some(t) = &self.token {
            headers.push(("authorization", format!("Bearer {t}")));
        }
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let reply = self.t.raw(method, path, bytes, &refs).await;
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            if set.starts_with("passkeyd_session=") {
                assert!(
                    set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                    "{set}"
                );
                let pair = set.split(';').next().unwrap().to_owned();
                self.cookie = (pair != "passkeyd_session=").then_some(pair);
            }
        }
        reply
    }

    /// Signs in through the public endpoints; returns the finish body.
    async fn sign_in(&mut self, auth: &mut Authenticator, transport: Option<&str>) -> Value {
        let path = |p: &str| format!("/v1/apps/{}{p}", self.t.app_id);
        let started = self
            .call(
                Method::POST,
                &path("/authentications/start"),
                Some(json!({})),
            )
            .await;
        let body = started.expect(200).clone();
        let challenge = b64url_decode(body["options"]["challenge"].as_str().unwrap()).unwrap();
        let assertion = auth.authenticate(&AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
        let mut finish = json!({"ceremony_id": body["ceremony_id"], "credential": assertion.json});
        if let Some(t) = transport {
            finish["session_transport"] = json!(t);
        }
        let finished = self
            .call(Method::POST, &path("/authentications/finish"), Some(finish))
            .await;
        finished.expect(200).clone()
    }

    /// Registers the unverified passkey whose options are in `passkey`.
    async fn verify_passkey(
        &mut self,
        auth: &mut Authenticator,
        passkey: &Value,
        origin: &str,
    ) -> Reply {
        let options = &passkey["verification"]["options"];
        let reg = auth.register(&RegistrationRequest::new(
            RP_ID,
            origin,
            b64url_decode(options["challenge"].as_str().unwrap()).unwrap(),
            b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap(),
        ));
        let id = passkey["id"].as_str().unwrap();
        self.call(
            Method::POST,
            &format!("/v1/me/passkeys/{id}/attempt_verification"),
            Some(json!({"credential": reg.json})),
        )
        .await
    }
}

async fn sessions_on(t: &TestApp) {
    t.configure(|s| s.sessions = true).await;
}

/// The app's JWKS, checked by `jsonwebtoken` (a JWT library independent of passkeyd's).
async fn independent_claims(t: &TestApp, jwt: &str) -> Result<Value, String> {
    let jwks = t
        .raw(
            Method::GET,
            &format!("/v1/apps/{}/.well-known/jwks.json", t.app_id),
            vec![],
            &[],
        )
        .await;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.expect(200).clone()).unwrap();
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[t.app_id.as_str()]);
    validation.set_issuer(&["passkeyd"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

both!(
    a_browser_sign_in_starts_a_session,
    |t: TestApp| async move {
        sessions_on(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        let nonce = t.browser_register(&mut auth, "u-1").await;
        let passkey_id = t
            .post("/v1/nonces/verify", json!({"nonce": nonce}))
            .await
            .expect(200)["passkey_id"]
            .clone();

        let mut b = Browser::new(&t);
        let body = b.sign_in(&mut auth, None).await;
        assert!(body["nonce"].is_string());
        assert!(
            body["session"].get("token").is_none(),
            "a cookie session never shows its token"
        );
        assert!(b.cookie.is_some(), "the sign-in set the session cookie");
        let jwt = body["session"]["jwt"].as_str().unwrap();
        let claims = independent_claims(&t, jwt).await.unwrap();
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(claims["app"], t.app_id.as_str());
        assert_eq!(claims["pkid"], passkey_id);
        assert_eq!(claims["sid"], body["session"]["session"]["id"]);
        assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);

        let me = b.call(Method::GET, "/v1/me", None).await;
        assert_eq!(me.expect(200)["user"]["external_id"], "u-1");
        assert_eq!(
            me.headers.get("access-control-allow-origin").unwrap(),
            ORIGIN
        );
        assert_eq!(
            me.headers.get("access-control-allow-credentials").unwrap(),
            "true"
        );
        let refreshed = b.call(Method::POST, "/v1/me/session/refresh", None).await;
        let fresh = refreshed.expect(200)["jwt"].as_str().unwrap().to_owned();
        assert_eq!(
            independent_claims(&t, &fresh).await.unwrap()["sid"],
            claims["sid"]
        );

        // The backend verifies tokens online too.
        let verified = t.post("/v1/sessions/verify", json!({"token": fresh})).await;
        assert_eq!(verified.expect(200)["sub"], "u-1");
        let listed = t.get("/v1/users/u-1/sessions").await;
        assert_eq!(
            listed.expect(200)["data"].as_array().unwrap().len(),
            2,
            "the sign-up and the sign-in each started one"
        );

        // Signing out revokes the session: the cookie, the token and its JWTs stop working.
        b.call(Method::POST, "/v1/me/session/signout", None)
            .await
            .expect(204);
        assert!(b.cookie.is_none(), "sign-out cleared the cookie");
        let mut stale = Browser::new(&t);
        stale.cookie = Some(format!("passkeyd_session={}", "pkd_st_stale"));
        stale
            .call(Method::GET, "/v1/me", None)
            .await
            .expect_error(401, "invalid_session");
        t.post("/v1/sessions/verify", json!({"token": fresh}))
            .await
            .expect_error(422, "invalid_token");
        b.call(Method::GET, "/v1/me", None)
            .await
            .expect_error(401, "invalid_session");
    }
);

both!(
    tokens_are_refused_when_forged_expired_revoked_or_foreign,
    |t: TestApp| async move {
        sessions_on(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        let mut b = Browser::new(&t);
        let body = b.sign_in(&mut auth, Some("token")).await;
        let token = body["session"]["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("pkd_st_"));
        assert!(b.cookie.is_none(), "a token session sets no cookie");
        let jwt = body["session"]["jwt"].as_str().unwrap().to_owned();
        let sid = body["session"]["session"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Forged: the payload changed under the signature.
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        let mut claims: Value = serde_json::from_slice(&b64url_decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = json!("admin");
        parts[1] = passkeyd_testauth::b64url(claims.to_string().as_bytes());
        let forged = parts.join(".");
        assert!(independent_claims(&t, &forged).await.is_err());
        t.post("/v1/sessions/verify", json!({"token": forged}))
            .await
            .expect_error(422, "invalid_token");
        t.post("/v1/sessions/verify", json!({"token": "not.a.jwt"}))
            .await
            .expect_error(422, "invalid_token");

        // Expired: signed with the app's own key, but past its exp.
        let key = t
            .store
            .list_signing_keys(&t.app_id)
            .await
            .unwrap()
            .remove(0);
        let now = passkeyd::service::now_ms() / 1000;
        let old = passkeyd::jwt::Claims {
            iss: "passkeyd".into(),
            aud: t.app_id.clone(),
            sub: "u-1".into(),
            sid: sid.clone(),
            app: t.app_id.clone(),
            pkid: None,
            iat: now - 600,
            exp: now - 300,
        };
        let expired = passkeyd::jwt::sign(&key.id, &key.private_key, &old).unwrap();
        assert!(independent_claims(&t, &expired)
            .await
            .unwrap_err()
            .contains("Expired"));
        t.post("/v1/sessions/verify", json!({"token": expired}))
            .await
            .expect_error(422, "invalid_token");

        // Another app's key cannot verify this app's token, nor can this app's key verify another's.
        let mut other = AppSettings::new(RP_ID, "Other", vec![ORIGIN.to_owned()]);
        other.sessions = true;
        add_app(&t.store, "other", &other).await;
        let other_key = add_key(&t.store, "other").await;
        t.call_with(
            &other_key,
            Method::POST,
            "/v1/sessions/verify",
            Some(json!({"token": jwt})),
        )
        .await
        .expect_error(422, "invalid_token");

        // The token works as a Bearer session, from the app's origin only.
        b.token = Some(token.clone());
        b.call(Method::GET, "/v1/me", None).await.expect(200);
        b.origin = Some("https://evil.example");
        b.call(Method::GET, "/v1/me", None)
            .await
            .expect_error(403, "origin_not_allowed");
        b.origin = Some(ORIGIN);

        // Revoked by the backend: the session and its JWTs stop at once.
        t.delete(&format!("/v1/sessions/{sid}")).await.expect(204);
        t.delete(&format!("/v1/sessions/{sid}"))
            .await
            .expect_error(404, "session_not_found");
        t.post("/v1/sessions/verify", json!({"token": jwt}))
            .await
            .expect_error(422, "invalid_token");
        b.call(Method::GET, "/v1/me", None)
            .await
            .expect_error(401, "invalid_session");
        // Revoke-all.
        b.sign_in(&mut auth, Some("token")).await;
        b.sign_in(&mut auth, Some("token")).await;
        let revoked = t.delete("/v1/users/u-1/sessions").await;
        assert_eq!(
            revoked.expect(200)["revoked"],
            3,
            "the sign-up's session and these two"
        );
    }
);

both!(
    rotated_keys_keep_old_tokens_verifiable,
    |t: TestApp| async move {
        sessions_on(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        let mut b = Browser::new(&t);
        let before = b.sign_in(&mut auth, None).await["session"]["jwt"]
            .as_str()
            .unwrap()
            .to_owned();
        let app = passkeyd::settings::AppContext::from_app(
            &t.store.get_app(&t.app_id).await.unwrap().unwrap(),
        )
        .unwrap();
        let new_kid = t.state.service.rotate_signing_key(&app).await.unwrap();
        let after = b
            .call(Method::POST, "/v1/me/session/refresh", None)
            .await
            .expect(200)["jwt"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            jsonwebtoken::decode_header(&after).unwrap().kid.unwrap(),
            new_kid
        );
        assert_ne!(
            jsonwebtoken::decode_header(&before).unwrap().kid.unwrap(),
            new_kid
        );
        // Both verify: the old key stays published until its tokens have expired.
        independent_claims(&t, &before).await.unwrap();
        independent_claims(&t, &after).await.unwrap();
        t.post("/v1/sessions/verify", json!({"token": before}))
            .await
            .expect(200);
    }
);

both!(
    my_passkeys_unverified_until_their_ceremony_succeeds,
    |t: TestApp| async move {
        sessions_on(&t).await;
        t.configure(|s| s.max_passkeys_per_user = 3).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        let mut b = Browser::new(&t);
        b.sign_in(&mut auth, None).await;
        let list = b.call(Method::GET, "/v1/me/passkeys", None).await;
        assert_eq!(list.expect(200)["data"][0]["state"], "verified");

        let created = b
            .call(
                Method::POST,
                "/v1/me/passkeys",
                Some(json!({"name": "Laptop"})),
            )
            .await;
        let pending = created.expect(200).clone();
        assert_eq!(pending["state"], "unverified");
        assert_eq!(pending["verification"]["status"], "unverified");
        assert_eq!(pending["verification"]["attempts"], 0);
        let id = pending["id"].as_str().unwrap().to_owned();
        // An unverified passkey is not in the list and signs no one in.
        assert_eq!(
            b.call(Method::GET, "/v1/me/passkeys", None)
                .await
                .expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            b.call(Method::GET, &format!("/v1/me/passkeys/{id}"), None)
                .await
                .expect(200)["state"],
            "unverified"
        );

        // A failed attempt (wrong origin) is a 422 and leaves fresh options for the next one.
        let mut second = Authenticator::new(Alg::Es256);
        b.verify_passkey(&mut second, &pending, "https://evil.example")
            .await
            .expect_error(422, "origin_mismatch");
        let retry = b
            .call(Method::GET, &format!("/v1/me/passkeys/{id}"), None)
            .await
            .expect(200)
            .clone();
        assert_eq!(retry["verification"]["attempts"], 1);
        assert_ne!(
            retry["verification"]["options"]["challenge"],
            pending["verification"]["options"]["challenge"]
        );
        let done = b.verify_passkey(&mut second, &retry, ORIGIN).await;
        let done = done.expect(200).clone();
        assert_eq!(
            (
                done["state"].as_str(),
                done["id"].as_str(),
                done["name"].as_str()
            ),
            (Some("verified"), Some(id.as_str()), Some("Laptop"))
        );
        assert_eq!(
            b.call(Method::GET, "/v1/me/passkeys", None)
                .await
                .expect(200)["data"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Rename; a malformed rename is 422 here (Clerk's statuses).
        let renamed = b
            .call(
                Method::PATCH,
                &format!("/v1/me/passkeys/{id}"),
                Some(json!({"name": "Work"})),
            )
            .await;
        assert_eq!(renamed.expect(200)["name"], "Work");
        b.call(
            Method::PATCH,
            &format!("/v1/me/passkeys/{id}"),
            Some(json!({"name": ""})),
        )
        .await
        .expect_error(422, "invalid_request");
        b.call(Method::GET, "/v1/me/passkeys/pk_nope", None)
            .await
            .expect_error(404, "passkey_not_found");

        // The limit is 403 here.
        let third = b
            .call(Method::POST, "/v1/me/passkeys", None)
            .await
            .expect(200)
            .clone();
        b.verify_passkey(&mut Authenticator::new(Alg::Es256), &third, ORIGIN)
            .await
            .expect(200);
        b.call(Method::POST, "/v1/me/passkeys", None)
            .await
            .expect_error(403, "too_many_passkeys");

        // Delete right after signing in (a fresh verification).
        let deleted = b
            .call(Method::DELETE, &format!("/v1/me/passkeys/{id}"), None)
            .await;
        assert_eq!(deleted.expect(200)["deleted"], true);
        b.call(Method::DELETE, &format!("/v1/me/passkeys/{id}"), None)
            .await
            .expect_error(404, "passkey_not_found");
    }
);

both!(
    sensitive_actions_need_a_recent_verification,
    |t: TestApp| async move {
        sessions_on(&t).await;
        t.configure(|s| {
            s.reverification_seconds = 60;
            s.reverification_required_for = vec![
                SensitiveAction::DeletePasskey,
                SensitiveAction::RenamePasskey,
            ];
        })
        .await;
        let mut auth = Authenticator::new(Alg::Es256);
        let passkey = t.register(&mut auth, "u-1").await;
        let id = passkey["id"].as_str().unwrap();
        // A session whose last verification was ten minutes ago.
        let user = t.store.get_user(&t.app_id, "u-1").await.unwrap().unwrap();
        let now = passkeyd::service::now_ms();
        let token = "pkd_st_an-old-session-token-for-this-test";
        t.store
            .create_session(&Session {
                id: "ses_old".into(),
                app_id: t.app_id.clone(),
                user_id: user.id.clone(),
                token_hash: passkeyd::secrets::hash_key(token),
                passkey_id: None,
                created_at: now - 600_000,
                refreshed_at: now - 600_000,
                verified_at: now - 600_000,
                expires_at: now + 600_000,
                revoked_at: None,
                user_agent: None,
                client_ip: None,
            })
            .await
            .unwrap();
        let mut b = Browser::new(&t);
        b.token = Some(token.into());
        b.call(Method::DELETE, &format!("/v1/me/passkeys/{id}"), None)
            .await
            .expect_error(403, "reverification_required");
        b.call(
            Method::PATCH,
            &format!("/v1/me/passkeys/{id}"),
            Some(json!({"name": "x"})),
        )
        .await
        .expect_error(403, "reverification_required");
        // Verify again with the passkey, then the action goes through.
        let started = b
            .call(Method::POST, "/v1/me/reverify/start", None)
            .await
            .expect(200)
            .clone();
        let challenge = b64url_decode(started["options"]["challenge"].as_str().unwrap()).unwrap();
        let assertion = auth.authenticate(&AuthenticationRequest::new(RP_ID, ORIGIN, challenge));
        let verified = b
            .call(
                Method::POST,
                "/v1/me/reverify/finish",
                Some(json!({"ceremony_id": started["ceremony_id"], "credential": assertion.json})),
            )
            .await;
        verified.expect(200);
        b.call(Method::DELETE, &format!("/v1/me/passkeys/{id}"), None)
            .await
            .expect(200);
    }
);

both!(
    cookie_calls_are_protected_from_other_sites,
    |t: TestApp| async move {
        sessions_on(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        let mut b = Browser::new(&t);
        b.sign_in(&mut auth, None).await;
        let created = b
            .call(Method::POST, "/v1/me/passkeys", None)
            .await
            .expect(200)
            .clone();
        let id = created["id"].as_str().unwrap().to_owned();
        // A foreign site cannot use the cookie, for reading or changing.
        b.origin = Some("https://evil.example");
        b.call(Method::GET, "/v1/me", None)
            .await
            .expect_error(403, "origin_not_allowed");
        b.call(Method::DELETE, &format!("/v1/me/passkeys/{id}"), None)
            .await
            .expect_error(403, "origin_not_allowed");
        // A change with the cookie but no Origin at all is refused too; a read is fine.
        b.origin = None;
        b.call(Method::POST, "/v1/me/passkeys", None)
            .await
            .expect_error(403, "origin_not_allowed");
        b.call(Method::GET, "/v1/me", None).await.expect(200);
        // Preflights answer for origins of apps with sessions only.
        let pre = t
            .raw(
                Method::OPTIONS,
                "/v1/me/passkeys",
                vec![],
                &[("origin", ORIGIN)],
            )
            .await;
        assert_eq!(pre.status, 204);
        assert_eq!(
            pre.headers.get("access-control-allow-credentials").unwrap(),
            "true"
        );
        t.raw(
            Method::OPTIONS,
            "/v1/me/passkeys",
            vec![],
            &[("origin", "https://evil.example")],
        )
        .await
        .expect_error(403, "origin_not_allowed");
    }
);

both!(
    without_sessions_no_session_is_made,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        let mut b = Browser::new(&t);
        let body = b.sign_in(&mut auth, None).await;
        assert!(body.get("session").is_none());
        assert!(b.cookie.is_none());
        b.call(Method::GET, "/v1/me", None)
            .await
            .expect_error(401, "invalid_session");
    }
);

both!(
    gate_refusals_are_readable_and_nonce_sign_ins_can_skip_the_session,
    |t: TestApp| async move {
        sessions_on(&t).await;
        let mut auth = Authenticator::new(Alg::Es256);
        t.browser_register(&mut auth, "u-1").await;
        // A dead session answered to the app's page carries CORS headers, so the SDK reads the code.
        let mut stale = Browser::new(&t);
        stale.cookie = Some("passkeyd_session=pkd_st_gone".into());
        let reply = stale.call(Method::GET, "/v1/me", None).await;
        reply.expect_error(401, "invalid_session");
        assert_eq!(
            reply.headers.get("access-control-allow-origin").unwrap(),
            ORIGIN
        );
        // A sign-in that asks for no session gets only the nonce.
        let before = t.get("/v1/users/u-1/sessions").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len();
        let mut b = Browser::new(&t);
        let body = b.sign_in(&mut auth, Some("none")).await;
        assert!(body["nonce"].is_string() && body.get("session").is_none());
        assert!(b.cookie.is_none());
        let after = t.get("/v1/users/u-1/sessions").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(before, after);
    }
);
