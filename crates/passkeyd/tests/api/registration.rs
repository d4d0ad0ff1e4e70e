//! Registration: options, the created passkey, names, excludeCredentials, the per-user limit,
//! single use and expiry of ceremonies, and refusals with the core's codes.

use crate::both;
use crate::harness::{TestApp, ORIGIN};
use passkeyd::settings::BackupPolicy;
use passkeyd_testauth::{b64url, b64url_decode, Alg, Authenticator, Faults, RegistrationRequest};
use serde_json::json;

/// iCloud Keychain's AAGUID, which the built-in table names.
const ICLOUD: [u8; 16] = [
    0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7, 0xbd,
];

both!(options_are_level3_json, |t: TestApp| async move {
    let started = t
        .post(
            "/v1/registrations/start",
            json!({"external_id": "u-1", "username": "ada@example.com", "display_name": "Ada",
                   "authenticator_attachment": "platform", "user_verification": "required"}),
        )
        .await;
    let body = started.expect(200);
    assert!(body["ceremony_id"].as_str().unwrap().starts_with("cer_"));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let o = &body["options"];
    assert_eq!(o["rp"], json!({"id": "localhost", "name": "Test"}));
    assert_eq!(o["user"]["name"], "ada@example.com");
    assert_eq!(o["user"]["displayName"], "Ada");
    let handle = b64url_decode(o["user"]["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        handle.len(),
        32,
        "a random 32-byte handle, never the external id"
    );
    assert_eq!(
        b64url_decode(o["challenge"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        o["pubKeyCredParams"][0],
        json!({"type": "public-key", "alg": -7})
    );
    assert_eq!(
        o["authenticatorSelection"]["authenticatorAttachment"],
        "platform"
    );
    assert_eq!(o["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(o["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(o["attestation"], "none");
    assert_eq!(o["timeout"], 300000);
    assert!(o
        .get("excludeCredentials")
        .is_none_or(|e| e.as_array().unwrap().is_empty()));
    // A new user is stored with its first passkey, when the registration finishes.
    t.get("/v1/users/u-1")
        .await
        .expect_error(404, "user_not_found");
});

both!(
    a_new_user_is_stored_with_its_first_passkey,
    |t: TestApp| async move {
        // Abandoned after its start: no user is left behind.
        let mut lost = Authenticator::new(Alg::Es256);
        t.registration_response(&mut lost, json!({"external_id": "u-7", "username": "eve"}))
            .await;
        t.get("/v1/users/u-7")
            .await
            .expect_error(404, "user_not_found");

        // Two registrations of one new user at once: the first to finish creates the user,
        // with the names and the handle its start gave the authenticator.
        let mut first = Authenticator::new(Alg::Es256);
        let mut second = Authenticator::new(Alg::Es256);
        let (one, one_credential) = t
            .registration_response(
                &mut first,
                json!({"external_id": "u-8", "username": "ada", "display_name": "Ada"}),
            )
            .await;
        let (two, two_credential) = t
            .registration_response(&mut second, json!({"external_id": "u-8"}))
            .await;
        t.post(
            "/v1/registrations/finish",
            json!({"ceremony_id": one, "credential": one_credential}),
        )
        .await
        .expect(201);
        let user = t.get("/v1/users/u-8").await.expect(200).clone();
        assert_eq!(user["username"], "ada");
        assert_eq!(user["display_name"], "Ada");
        // The second passkey was made for another user handle: refused, nothing stored.
        t.post(
            "/v1/registrations/finish",
            json!({"ceremony_id": two, "credential": two_credential}),
        )
        .await
        .expect_error(409, "registration_conflict");
        let passkeys = t.get("/v1/users/u-8/passkeys").await.expect(200).clone();
        assert_eq!(passkeys["data"].as_array().unwrap().len(), 1);
        // The stored handle is the one the first authenticator holds: a discoverable
        // sign-in, which the server matches by user handle, goes through.
        let signed_in = t.sign_in(&mut first, None).await;
        assert_eq!(signed_in.expect(200)["user"]["external_id"], "u-8");
        t.sign_in(&mut second, None)
            .await
            .expect_error(422, "unknown_credential");
    }
);

both!(
    a_registration_stores_a_named_passkey,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256).with_aaguid(ICLOUD).synced();
        let finished = {
            let (ceremony_id, credential) = t
                .registration_response(&mut auth, json!({"external_id": "u-1"}))
                .await;
            t.post(
                "/v1/registrations/finish",
                json!({"ceremony_id": ceremony_id, "credential": credential}),
            )
            .await
        };
        let passkey = finished.expect(201)["passkey"].clone();
        let id = passkey["id"].as_str().unwrap();
        assert_eq!(
            finished.headers.get("location").unwrap().to_str().unwrap(),
            format!("/v1/passkeys/{id}")
        );
        assert_eq!(passkey["external_id"], "u-1");
        assert_eq!(passkey["name"], "iCloud Keychain");
        assert_eq!(passkey["authenticator_name"], "iCloud Keychain");
        assert_eq!(passkey["aaguid"], "fbfc3007-154e-4ecc-8c0b-6e020557d7bd");
        assert_eq!(passkey["credential_id"], b64url(&auth.credentials()[0].id));
        assert_eq!(passkey["backup_eligible"], true);
        assert_eq!(passkey["backup_state"], true);
        assert_eq!(passkey["user_verified"], true);
        assert_eq!(passkey["attestation_format"], "none");
        assert_eq!(passkey["attestation_type"], "none");
        assert_eq!(passkey["algorithm"], -7);
        assert_eq!(passkey["transports"], json!(["internal"]));
        assert_eq!(passkey["last_used_at"], serde_json::Value::Null);
        for field in [
            "created_at",
            "updated_at",
            "sign_count",
            "name_is_custom",
            "discoverable",
            "authenticator_attachment",
        ] {
            assert!(passkey.get(field).is_some(), "{field}");
        }

        // A second iCloud passkey gets a name of its own.
        let mut second = Authenticator::new(Alg::Es256).with_aaguid(ICLOUD).synced();
        let passkey = t.register(&mut second, "u-1").await;
        assert_eq!(passkey["name"], "iCloud Keychain (2)");

        // An unknown model falls back to a plain name; the name given at start wins.
        let passkey = t
            .register(&mut Authenticator::new(Alg::Ed25519), "u-1")
            .await;
        assert_eq!(
            (
                passkey["name"].as_str(),
                passkey["authenticator_name"].as_str()
            ),
            (Some("Passkey"), None)
        );
        assert_eq!(passkey["algorithm"], -8);
        let (ceremony_id, credential) = t
            .registration_response(
                &mut Authenticator::new(Alg::Rs256),
                json!({"external_id": "u-1", "passkey_name": "Work laptop"}),
            )
            .await;
        let passkey = t
            .post(
                "/v1/registrations/finish",
                json!({"ceremony_id": ceremony_id, "credential": credential}),
            )
            .await;
        assert_eq!(passkey.expect(201)["passkey"]["name"], "Work laptop");
    }
);

both!(exclude_credentials_and_the_limit, |t: TestApp| async move {
    t.configure(|s| s.max_passkeys_per_user = 2).await;
    let mut auth = Authenticator::new(Alg::Es256).with_transports(&["usb", "nfc"]);
    let first = t.register(&mut auth, "u-1").await;
    assert_eq!(first["name"], "Security key");

    let started = t
        .post("/v1/registrations/start", json!({"external_id": "u-1"}))
        .await;
    let exclude = started.expect(200)["options"]["excludeCredentials"].clone();
    assert_eq!(
        exclude,
        json!([{"type": "public-key", "id": first["credential_id"], "transports": ["usb", "nfc"]}])
    );
    // Two ceremonies started at once may both be answered, but the limit still holds at finish.
    let mut a = Authenticator::new(Alg::Es256);
    let mut b = Authenticator::new(Alg::Es256);
    let (c1, r1) = t
        .registration_response(&mut a, json!({"external_id": "u-1"}))
        .await;
    let (c2, r2) = t
        .registration_response(&mut b, json!({"external_id": "u-1"}))
        .await;
    t.post(
        "/v1/registrations/finish",
        json!({"ceremony_id": c1, "credential": r1}),
    )
    .await
    .expect(201);
    t.post(
        "/v1/registrations/finish",
        json!({"ceremony_id": c2, "credential": r2}),
    )
    .await
    .expect_error(409, "too_many_passkeys");
    t.post("/v1/registrations/start", json!({"external_id": "u-1"}))
        .await
        .expect_error(409, "too_many_passkeys");
});

both!(
    ceremonies_are_single_use_and_expire,
    |t: TestApp| async move {
        let mut auth = Authenticator::new(Alg::Es256);
        let (ceremony_id, credential) = t
            .registration_response(&mut auth, json!({"external_id": "u-1"}))
            .await;
        let finish = json!({"ceremony_id": ceremony_id, "credential": credential});
        t.post("/v1/registrations/finish", finish.clone())
            .await
            .expect(201);
        t.post("/v1/registrations/finish", finish)
            .await
            .expect_error(404, "ceremony_not_found");

        // An expired ceremony: put back with a past expiry.
        let (ceremony_id, credential) = t
            .registration_response(&mut auth, json!({"external_id": "u-2"}))
            .await;
        let mut ceremony = t
            .store
            .take_ceremony(&t.app_id, &ceremony_id)
            .await
            .unwrap()
            .unwrap();
        ceremony.expires_at = passkeyd::service::now_ms() - 1;
        t.store.put_ceremony(&ceremony).await.unwrap();
        t.post(
            "/v1/registrations/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect_error(422, "ceremony_expired");

        // A registration ceremony cannot be finished as a sign-in, nor an unknown id.
        let (ceremony_id, credential) = t
            .registration_response(&mut auth, json!({"external_id": "u-3"}))
            .await;
        t.post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect_error(404, "ceremony_not_found");
        t.post(
            "/v1/registrations/finish",
            json!({"ceremony_id": "cer_nope", "credential": {}}),
        )
        .await
        .expect_error(404, "ceremony_not_found");
    }
);

both!(refusals_carry_the_core_codes, |t: TestApp| async move {
    let mut auth = Authenticator::new(Alg::Es256);
    let started = t
        .post("/v1/registrations/start", json!({"external_id": "u-1"}))
        .await;
    let body = started.expect(200).clone();
    let challenge = b64url_decode(body["options"]["challenge"].as_str().unwrap()).unwrap();
    let handle = b64url_decode(body["options"]["user"]["id"].as_str().unwrap()).unwrap();
    let reg = auth.register(
        &RegistrationRequest::new("localhost", "https://evil.example", challenge, handle)
            .with_faults(Faults::default()),
    );
    t.post(
        "/v1/registrations/finish",
        json!({"ceremony_id": body["ceremony_id"], "credential": reg.json}),
    )
    .await
    .expect_error(422, "origin_mismatch");

    let (ceremony_id, _) = t
        .registration_response(&mut auth, json!({"external_id": "u-1"}))
        .await;
    t.post(
        "/v1/registrations/finish",
        json!({"ceremony_id": ceremony_id, "credential": {"id": 5}}),
    )
    .await
    .expect_error(422, "malformed_response");

    // UV required by the app, not given by the authenticator.
    t.configure(|s| s.user_verification = passkeyd_core::UserVerification::Required)
        .await;
    let mut no_uv = Authenticator::new(Alg::Es256).with_user_verification(false);
    let (ceremony_id, credential) = t
        .registration_response(&mut no_uv, json!({"external_id": "u-1"}))
        .await;
    t.post(
        "/v1/registrations/finish",
        json!({"ceremony_id": ceremony_id, "credential": credential}),
    )
    .await
    .expect_error(422, "user_verification_required");
    // And it cannot be lowered per ceremony.
    t.post(
        "/v1/registrations/start",
        json!({"external_id": "u-1", "user_verification": "discouraged"}),
    )
    .await
    .expect_error(400, "invalid_request");
    let _ = ORIGIN;
});

both!(
    the_backup_policy_refuses_synced_passkeys,
    |t: TestApp| async move {
        t.configure(|s| s.backup_policy = BackupPolicy::DeviceBound)
            .await;
        let mut synced = Authenticator::new(Alg::Es256).synced();
        let (ceremony_id, credential) = t
            .registration_response(&mut synced, json!({"external_id": "u-1"}))
            .await;
        t.post(
            "/v1/registrations/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect_error(422, "backup_policy_violation");
        t.register(&mut Authenticator::new(Alg::Es256), "u-1").await;
    }
);
