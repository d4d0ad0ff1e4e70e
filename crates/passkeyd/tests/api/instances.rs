//! Several instances on one database: a ceremony started on one finishes on another, and of
//! racing finishes of one ceremony exactly one succeeds.

use crate::both;
use crate::harness::TestApp;
use passkeyd_testauth::{Alg, Authenticator};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    let Some(a) = TestApp::postgres().await else {
        return;
    };
    let b = a.second_instance().await;
    let mut auth = Authenticator::new(Alg::Es256);
    let (ceremony_id, credential) = a
        .registration_response(&mut auth, json!({"external_id": "u-1"}))
        .await;
    let passkey = b
        .post(
            "/v1/registrations/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await
        .expect(201)["passkey"]
        .clone();
    let (ceremony_id, credential) = b.authentication_response(&mut auth, json!({}), |r| r).await;
    let signed_in = a
        .post(
            "/v1/authentications/finish",
            json!({"ceremony_id": ceremony_id, "credential": credential}),
        )
        .await;
    assert_eq!(signed_in.expect(200)["passkey"]["id"], passkey["id"]);
    // The ceremony is gone for both.
    b.post(
        "/v1/authentications/finish",
        json!({"ceremony_id": ceremony_id, "credential": {}}),
    )
    .await
    .expect_error(404, "ceremony_not_found");
}

both!(
    racing_finishes_give_exactly_one_success,
    |t: TestApp| async move {
        let t = std::sync::Arc::new(t);
        let mut auth = Authenticator::new(Alg::Es256);
        let (ceremony_id, credential) = t
            .registration_response(&mut auth, json!({"external_id": "u-1"}))
            .await;
        let finish = json!({"ceremony_id": ceremony_id, "credential": credential});
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (t, finish) = (t.clone(), finish.clone());
                tokio::spawn(async move {
                    t.post("/v1/registrations/finish", finish)
                        .await
                        .status
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, vec![201, 404, 404, 404, 404, 404, 404, 404]);

        t.sign_in(&mut auth, None).await.expect(200);
        let (ceremony_id, credential) =
            t.authentication_response(&mut auth, json!({}), |r| r).await;
        let finish = json!({"ceremony_id": ceremony_id, "credential": credential});
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (t, finish) = (t.clone(), finish.clone());
                tokio::spawn(async move {
                    t.post("/v1/authentications/finish", finish)
                        .await
                        .status
                        .as_u16()
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += u32::from(task.await.unwrap() == 200);
        }
        assert_eq!(ok, 1);
    }
);
