//! The durability promise, tested on the real binary: `kill -9` the server while registrations
//! run, restart it, and every registration that was answered 201 is there. Also checks that the
//! server's log never contains the secret key.

use crate::harness::{Database, ORIGIN};
use passkeyd_testauth::{b64url_decode, Alg, Authenticator, RegistrationRequest};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn passkeyd(db: &Database) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passkeyd"));
    cmd.env_clear()
        .env("PASSKEYD_DATABASE_URL", db.url())
        .env("PASSKEYD_DATA_DIR", db.dir());
    cmd
}

fn cli_json(db: &Database, args: &[&str]) -> Value {
    let out = passkeyd(db).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts `passkeyd serve` on a free port; returns the child, its base URL and its log lines.
fn start(db: &Database) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut child = passkeyd(db)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["message"] == "passkeyd is listening" {
                    tx.send(v["address"].as_str().unwrap_or_default().to_owned())
                        .ok();
                }
            }
            keep.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("passkeyd did not start: {:?}", lines.lock().unwrap()));
    (child, format!("http://{addr}"), lines)
}

/// One registration over HTTP; the passkey id when it was answered 201.
async fn register(client: &reqwest::Client, base: &str, key: &str, user: &str) -> Option<String> {
    let started: Value = client
        .post(format!("{base}/v1/registrations/start"))
        .bearer_auth(key)
        .json(&json!({"external_id": user}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let options = &started["options"];
    let challenge = b64url_decode(options["challenge"].as_str()?)?;
    let handle = b64url_decode(options["user"]["id"].as_str()?)?;
    let reg = Authenticator::new(Alg::Es256).register(&RegistrationRequest::new(
        "localhost",
        ORIGIN,
        challenge,
        handle,
    ));
    let response = client
        .post(format!("{base}/v1/registrations/finish"))
        .bearer_auth(key)
        .json(&json!({"ceremony_id": started["ceremony_id"], "credential": reg.json}))
        .send()
        .await
        .ok()?;
    if response.status() != 201 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["passkey"]["id"].as_str().map(str::to_owned)
}

async fn crash_and_recover(db: Database) {
    let app = cli_json(
        &db,
        &[
            "apps",
            "create",
            "--name",
            "Crash",
            "--rp-id",
            "localhost",
            "--origin",
            ORIGIN,
            "--json",
        ],
    );
    let app_id = app["id"].as_str().unwrap().to_owned();
    let key = cli_json(&db, &["keys", "create", "--app", &app_id, "--json"])["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let (mut child, base, log) = start(&db);
    let client = reqwest::Client::new();
    let answered = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (client, base, key, answered) =
                (client.clone(), base.clone(), key.clone(), answered.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    match register(&client, &base, &key, &format!("user-{w}-{i}")).await {
                        Some(id) => answered.lock().unwrap().push(id),
                        None => break,
                    }
                    if Instant::now() > deadline {
                        break;
                    }
                }
            })
        })
        .collect();
    // Kill the server in the middle of the run: once some registrations have been answered.
    while answered.lock().unwrap().len() < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 40,
        "only {} registrations before the kill",
        answered.len()
    );

    let (mut child, base, log2) = start(&db);
    for id in &answered {
        let status = client
            .get(format!("{base}/v1/passkeys/{id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status, 200,
            "passkey {id} was answered 201 but is gone after the crash"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for line in log
        .lock()
        .unwrap()
        .iter()
        .chain(log2.lock().unwrap().iter())
    {
        assert!(
            !line.contains(&key),
            "the secret key appears in the log: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_registrations_survive_kill_9_on_sqlite() {
    crash_and_recover(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_registrations_survive_kill_9_on_postgres() {
    if let Some(db) = Database::postgres().await {
        crash_and_recover(db).await;
    }
}
