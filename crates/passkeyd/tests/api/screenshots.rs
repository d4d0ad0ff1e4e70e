//! A seeded passkeyd for looking at the dashboard (not run by default): apps, users with
//! passkeys of several models, failures, a webhook with retried deliveries, and an admin session
//! made through the real invite flow. Run with
//! `PASSKEYD_SCREENSHOT_DIR=/tmp/shots cargo test -p passkeyd --test api -- --ignored --nocapture serve_seeded_dashboard`;
//! it serves http://localhost:18123/admin/ for `PASSKEYD_SCREENSHOT_SECONDS` (default 120) and
//! writes the session cookie to `$PASSKEYD_SCREENSHOT_DIR/cookie`. `scripts/admin-screenshots`
//! takes the pictures with headless Chromium.

use crate::admin::{accept_invite, invite};
use crate::harness::TestApp;
use passkeyd::admin::AdminSettings;
use passkeyd::server::Server;
use passkeyd::webhooks::{run_worker, WebhookConfig};
use passkeyd_testauth::{Alg, AuthenticationRequest, Authenticator};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PORT: u16 = 18123;

fn aaguid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "serves a seeded dashboard for screenshots; run by hand"]
async fn serve_seeded_dashboard() {
    let dir = std::path::PathBuf::from(std::env::var("PASSKEYD_SCREENSHOT_DIR").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let mut t = TestApp::sqlite().await;
    t.configure(|s| s.rp_name = "Acme".into()).await;
    let url = format!("http://localhost:{PORT}");
    t.state.admin = Some(Arc::new(AdminSettings::new(&url, 30, 90).unwrap()));

    // The admin, through the real invite flow. The in-process requests carry the test origin,
    // so the admin app accepts it while seeding; the served public URL is put back afterwards.
    let mut admin_auth = Authenticator::new(Alg::Es256);
    let served = t.state.admin.replace(Arc::new(
        AdminSettings::new("http://localhost:8080", 30, 90).unwrap(),
    ));
    let token = invite(&t, "Ada Lovelace").await;
    let admin = accept_invite(&t, &mut admin_auth, &token).await;
    std::fs::write(dir.join("cookie"), &admin.cookie).unwrap();
    admin
        .post("/admin/api/invites", json!({"name": "Grace Hopper"}))
        .await
        .expect(201);
    admin
        .post(
            "/admin/api/apps",
            json!({"id": "shop", "name": "Shop", "settings": {"rp_id": "localhost", "rp_name": "Shop", "origins": ["http://localhost:3000"], "user_verification": "required"}}),
        )
        .await
        .expect(201);
    admin
        .post(
            &format!("/admin/api/apps/{}/keys", t.app_id),
            json!({"name": "backend"}),
        )
        .await
        .expect(201);
    admin
        .post(
            &format!("/admin/api/apps/{}/webhooks", t.app_id),
            json!({"url": "http://127.0.0.1:9/passkeyd-events", "events": ["passkey.created", "passkey.deleted", "signin.failed"], "description": "CRM sync"}),
        )
        .await
        .expect(201);

    // Users and passkeys of several models, synced and device-bound.
    let icloud = aaguid("fbfc3007-154e-4ecc-8c0b-6e020557d7bd");
    let google = aaguid("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4");
    let yubikey = aaguid("cb69481e-8ff7-4039-93ec-0a2729a154a8");
    let mut authenticators = Vec::new();
    for (i, (who, model, synced)) in [
        ("ada@example.com", icloud, true),
        ("grace@example.com", google, true),
        ("alan@example.com", yubikey, false),
        ("edsger@example.com", icloud, true),
        ("barbara@example.com", google, true),
        ("ken@example.com", yubikey, false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut auth = Authenticator::new(Alg::Es256)
            .with_aaguid(model)
            .with_backup(synced, synced);
        t.post(
            "/v1/users",
            json!({"external_id": format!("user-{}", 100 + i), "username": who, "display_name": who.split('@').next().unwrap()}),
        )
        .await;
        t.register(&mut auth, &format!("user-{}", 100 + i)).await;
        authenticators.push(auth);
    }
    let mut second = Authenticator::new(Alg::Ed25519).with_aaguid(yubikey);
    t.register(&mut second, "user-100").await;
    for (i, auth) in authenticators.iter_mut().enumerate() {
        for _ in 0..(i % 3 + 1) {
            t.sign_in(auth, Some(&format!("user-{}", 100 + i))).await;
        }
    }
    // Failures with a few codes.
    for origin in ["https://evil.example", "http://localhost:9999"] {
        let (ceremony_id, credential) = t
            .authentication_response(
                &mut authenticators[0],
                json!({"external_id": "user-100"}),
                |r| AuthenticationRequest::new("localhost", origin, r.challenge.clone()),
            )
            .await;
        t.post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await;
    }
    t.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": "cer_gone", "credential": {}}),
    )
    .await;

    // Back to the served URL; the webhook above points nowhere, so its deliveries fail.
    t.state.admin = served;
    t.state
        .admin
        .clone()
        .unwrap()
        .write_app(&t.store)
        .await
        .unwrap();
    let server = Server::bind(([127, 0, 0, 1], PORT).into(), t.state.clone())
        .await
        .unwrap();
    let worker = tokio::spawn(run_worker(
        t.store.clone(),
        t.state.service.audit.wake(),
        WebhookConfig {
            poll: Duration::from_millis(200),
            base_delay_ms: 500,
            max_delay_ms: 2000,
            max_attempts: 3,
            timeout: Duration::from_secs(2),
        },
    ));
    let seconds: u64 = std::env::var("PASSKEYD_SCREENSHOT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    println!("serving http://localhost:{PORT}/admin/ for {seconds} s");
    server
        .run(async move { tokio::time::sleep(Duration::from_secs(seconds)).await })
        .await
        .unwrap();
    worker.abort();
}
