//! Webhooks end to end: a receiver on 127.0.0.1 that fails its first attempts, the worker's
//! retries, the order of events per endpoint, signatures checked with an HMAC computed here
//! (not with passkeyd's own signing code), and the attempts shown by the admin API.

use crate::admin::first_admin;
use crate::both;
use crate::harness::TestApp;
use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use passkeyd::webhooks::{run_worker, WebhookConfig};
use passkeyd_testauth::{Alg, Authenticator};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw: each request's signature header, event header and body.
#[derive(Default)]
struct Received {
    requests: Vec<(String, String, String)>,
    /// Requests still to answer with 500.
    failures_left: usize,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut seen = seen.lock().unwrap();
    seen.requests.push((
        header("passkeyd-signature"),
        header("passkeyd-event"),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    if seen.failures_left > 0 {
        seen.failures_left -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

/// Starts a receiver on a free loopback port that fails its first `failures` requests.
async fn receiver(failures: usize) -> (String, Shared) {
    let seen: Shared = Arc::new(Mutex::new(Received {
        requests: Vec::new(),
        failures_left: failures,
    }));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

/// Checks a `t=<unix>,v1=<hex>` signature the way a receiver following docs/webhooks.md would.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let sent_at: i64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - sent_at).abs() > 300 {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let expected: String = hmac::sign(&key, format!("{t}.{body}").as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

fn fast() -> WebhookConfig {
    WebhookConfig {
        poll: Duration::from_millis(50),
        base_delay_ms: 100,
        max_delay_ms: 400,
        max_attempts: 5,
        timeout: Duration::from_secs(5),
    }
}

both!(
    deliveries_are_signed_retried_and_in_order,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        let (url, seen) = receiver(2).await;
        let created = admin
        .post(
            &format!("/admin/api/apps/{}/webhooks", t.app_id),
            json!({"url": url, "events": ["passkey.created", "passkey.deleted", "user.deleted"], "description": "test receiver"}),
        )
        .await;
        let created = created.expect(201).clone();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let id = created["id"].as_str().unwrap().to_owned();
        let listed = admin
            .get(&format!("/admin/api/apps/{}/webhooks", t.app_id))
            .await;
        assert!(
            listed.expect(200)["data"][0].get("secret").is_none(),
            "shown once"
        );

        // Three events, queued before the worker runs: they must arrive in this order.
        let mut auth = Authenticator::new(Alg::Es256);
        let passkey = t.register(&mut auth, "u-1").await;
        t.delete(&format!("/v1/passkeys/{}", passkey["id"].as_str().unwrap()))
            .await
            .expect(204);
        t.delete("/v1/users/u-1").await.expect(204);
        // A sign-in failure is not subscribed to, so it is not sent.
        t.post(
            "/v1/authentications/start",
            json!({"external_id": "nobody"}),
        )
        .await
        .expect_error(404, "user_not_found");

        let worker = tokio::spawn(run_worker(
            t.store.clone(),
            t.state.service.audit.wake(),
            fast(),
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if seen.lock().unwrap().requests.len() >= 5 || tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let requests = seen.lock().unwrap().requests.clone();
        let events: Vec<&str> = requests.iter().map(|(_, e, _)| e.as_str()).collect();
        // The first event was refused twice and retried; the others waited behind it.
        assert_eq!(
            events,
            [
                "passkey.created",
                "passkey.created",
                "passkey.created",
                "passkey.deleted",
                "user.deleted"
            ]
        );
        for (signature, event, body) in &requests {
            assert!(
                verify(&secret, signature, body),
                "bad signature {signature}"
            );
            assert!(!verify("whsec_other", signature, body));
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["type"], event.as_str());
            assert_eq!(body["app_id"], t.app_id.as_str());
            assert_eq!(body["data"]["external_id"], "u-1");
            assert!(body.get("ip").is_none() && body["data"].get("ip").is_none());
        }
        // The dashboard sees each delivery with its attempts (recorded once each answer is in).
        let path = format!("/admin/api/apps/{}/webhooks/{id}/deliveries", t.app_id);
        let mut deliveries = Vec::new();
        while tokio::time::Instant::now() < deadline {
            deliveries = admin.get(&path).await.expect(200)["data"]
                .as_array()
                .unwrap()
                .clone();
            if deliveries.iter().all(|d| d["status"] == "succeeded") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worker.abort();
        assert_eq!(deliveries.len(), 3);
        let first = &deliveries[2];
        assert_eq!(first["event"], "passkey.created");
        assert_eq!(first["status"], "succeeded");
        assert_eq!(first["attempts"], 3);
        let log = first["attempt_log"].as_array().unwrap();
        assert_eq!(log[0]["status_code"], 500);
        assert_eq!(log[2]["status_code"], 204);
        assert!(deliveries.iter().all(|d| d["status"] == "succeeded"));
    }
);

both!(
    a_receiver_that_never_answers_is_given_up,
    |t: TestApp| async move {
        let (admin, _) = first_admin(&t).await;
        let (url, seen) = receiver(usize::MAX).await;
        let created = admin
            .post(
                &format!("/admin/api/apps/{}/webhooks", t.app_id),
                json!({"url": url, "events": ["user.deleted"]}),
            )
            .await;
        let id = created.expect(201)["id"].as_str().unwrap().to_owned();
        t.post("/v1/users", json!({"external_id": "a"}))
            .await
            .expect(201);
        t.post("/v1/users", json!({"external_id": "b"}))
            .await
            .expect(201);
        t.delete("/v1/users/a").await.expect(204);
        t.delete("/v1/users/b").await.expect(204);
        let config = WebhookConfig {
            max_attempts: 2,
            ..fast()
        };
        let worker = tokio::spawn(run_worker(
            t.store.clone(),
            t.state.service.audit.wake(),
            config,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while seen.lock().unwrap().requests.len() < 4 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The worker records an attempt after the receiver answers: wait for the records too.
        let path = format!("/admin/api/apps/{}/webhooks/{id}/deliveries", t.app_id);
        let mut deliveries = Vec::new();
        while tokio::time::Instant::now() < deadline {
            deliveries = admin.get(&path).await.expect(200)["data"]
                .as_array()
                .unwrap()
                .clone();
            if deliveries.iter().all(|d| d["status"] == "failed") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worker.abort();
        assert!(deliveries
            .iter()
            .all(|d| d["status"] == "failed" && d["attempts"] == 2));
        // Two attempts each, the first delivery given up before the second was tried.
        let bodies: Vec<String> = seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .map(|(_, _, b)| {
                serde_json::from_str::<Value>(b).unwrap()["data"]["external_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(bodies, ["a", "a", "b", "b"]);
        // Bad endpoints are refused with the field named.
        let bad = admin
            .post(
                &format!("/admin/api/apps/{}/webhooks", t.app_id),
                json!({"url": "https://example.com/hook", "events": ["user.deleted"]}),
            )
            .await;
        bad.expect_error(400, "invalid_request");
        assert!(bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("url"));
    }
);
