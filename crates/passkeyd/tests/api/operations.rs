//! Operations endpoints: health, readiness, metrics and the OpenAPI document.

use crate::both;
use crate::harness::TestApp;
use axum::http::Method;
use passkeyd_testauth::{Alg, Authenticator};

both!(health_ready_metrics_openapi, |t: TestApp| async move {
    let health = t.raw(Method::GET, "/health", vec![], &[]).await;
    assert_eq!(health.expect(200)["status"], "ok");
    let ready = t.raw(Method::GET, "/ready", vec![], &[]).await;
    assert_eq!(ready.expect(200)["store"], t.store.backend());

    let mut auth = Authenticator::new(Alg::Es256);
    t.register(&mut auth, "u-1").await;
    t.sign_in(&mut auth, None).await.expect(200);
    t.get("/v1/users/nobody")
        .await
        .expect_error(404, "user_not_found");
    let metrics = t.raw(Method::GET, "/metrics", vec![], &[]).await;
    let text = metrics.body.as_str().unwrap().to_owned();
    assert!(
        text.contains(
            r#"passkeyd_ceremonies_total{ceremony="registration_finish",outcome="ok"} 1"#
        ),
        "{text}"
    );
    assert!(text
        .contains(r#"passkeyd_ceremonies_total{ceremony="authentication_finish",outcome="ok"} 1"#));
    assert!(
        text.contains(r#"route="/v1/users/{external_id}",status="404""#),
        "{text}"
    );
    assert!(text.contains("passkeyd_http_request_duration_seconds_bucket"));

    let doc = t.raw(Method::GET, "/openapi.json", vec![], &[]).await;
    let doc = doc.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/registrations/finish"]["post"].is_object());
});
