//! End-to-end tests of the `passkeyd` binary's management side: `apps` and `keys` commands, keys
//! against a running server (and their revocation), the configuration file and environment,
//! graceful shutdown on SIGTERM, and data surviving a restart.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Every setting an app shows, besides its id, name and times.
const SETTINGS: &[&str] = &[
    "rp_id",
    "rp_name",
    "origins",
    "user_verification",
    "attestation",
    "resident_key",
    "algorithms",
    "counter_policy",
    "backup_policy",
    "max_passkeys_per_user",
    "challenge_ttl_seconds",
];

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "passkeyd-manage-{what}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file in the directory and returns its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with a clean environment and its data in `data`.
fn passkeyd(data: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passkeyd"));
    cmd.env_clear()
        .env("PASSKEYD_DATA_DIR", data.path())
        .stdin(Stdio::null());
    cmd
}

/// What a finished command said.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts success and returns stdout as JSON.
    fn ok_json(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "expected success; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.json()
    }

    /// Asserts a refusal (exit 1) with `{"error": {"code": code, ...}}` on stdout and the code on
    /// stderr; returns the error message.
    fn refused(&self, code: &str) -> String {
        assert_eq!(
            self.code, 1,
            "expected exit 1 ({code}); stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v:#}");
        assert!(self.stderr.contains(code), "stderr: {}", self.stderr);
        v["error"]["message"].as_str().unwrap().to_owned()
    }
}

fn run(mut cmd: Command, args: &[&str]) -> Run {
    let out = cmd.args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs the binary on `data` with `args`.
fn cli(data: &TempDir, args: &[&str]) -> Run {
    run(passkeyd(data), args)
}

fn create_app(data: &TempDir, name: &str) -> Value {
    cli(
        data,
        &[
            "apps",
            "create",
            "--name",
            name,
            "--rp-id",
            "localhost",
            "--origin",
            "http://localhost:8080",
            "--json",
        ],
    )
    .ok_json()
}

/// Creates a key for `app`; returns (key, key id).
fn create_key(data: &TempDir, app: &str) -> (String, String) {
    let v = cli(data, &["keys", "create", "--app", app, "--json"]).ok_json();
    (
        v["key"].as_str().unwrap().to_owned(),
        v["id"].as_str().unwrap().to_owned(),
    )
}

/// A running `passkeyd serve`, killed when dropped unless it was stopped.
struct Server {
    child: Option<Child>,
    address: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the server on a free port with JSON logs and waits for it to listen.
    fn start(cmd: Command) -> Self {
        Self::start_on(cmd, "127.0.0.1:0")
    }

    /// Starts the server on `listen` with JSON logs and waits for it to listen.
    fn start_on(mut cmd: Command, listen: &str) -> Self {
        let mut child = cmd
            .args(["serve", "--listen", listen, "--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let keep = lines.clone();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["message"] == "passkeyd is listening" {
                        let _ = tx.send(v["address"].as_str().unwrap_or_default().to_owned());
                    }
                }
                keep.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            address: String::new(),
            lines,
            reader: Some(reader),
        };
        server.address = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "passkeyd did not start listening: {:?}",
                    server.lines.lock().unwrap()
                )
            });
        server
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits (at most `limit`) for the exit; returns the status and the log.
    fn terminate(mut self, limit: Duration) -> (ExitStatus, Duration, Vec<String>) {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -TERM failed");
        let mut child = self.child.take().unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if sent.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "passkeyd still running {limit:?} after SIGTERM; log: {:?}",
                    self.lines.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = sent.elapsed();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let lines = self.lines.lock().unwrap().clone();
        (status, took, lines)
    }

    /// Stops the server gracefully and checks it exited 0.
    fn stop(self) {
        let (status, _, lines) = self.terminate(Duration::from_secs(10));
        assert!(status.success(), "{status}; log: {lines:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// A tiny HTTP/1.1 client: one request, `Connection: close`, read to the end.
fn http(address: &str, method: &str, path: &str, key: &str, body: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, rest) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {raw:?}"));
    let status_line = head.lines().next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Answer { status, body }
}

/// Decodes a chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// The settings part of an app (everything but its times).
fn without_times(app: &Value) -> Value {
    let mut app = app.clone();
    let map = app.as_object_mut().unwrap();
    map.remove("created_at");
    map.remove("updated_at");
    app
}

#[test]
fn apps_are_created_listed_shown_updated_and_deleted() {
    let data = TempDir::new("apps");
    let app = cli(
        &data,
        &[
            "apps",
            "create",
            "--name",
            "Shop",
            "--rp-id",
            "localhost",
            "--origin",
            "http://localhost:3000",
            "--origin",
            "http://localhost:4000",
            "--json",
        ],
    )
    .ok_json();
    let id = app["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    assert_eq!(app["name"], "Shop");
    for setting in SETTINGS {
        assert!(app.get(setting).is_some(), "{setting} missing from {app:#}");
    }
    assert_eq!(app["rp_id"], "localhost");
    assert_eq!(app["rp_name"], "Shop");
    assert_eq!(
        app["origins"],
        serde_json::json!(["http://localhost:3000", "http://localhost:4000"])
    );
    assert_eq!(app["max_passkeys_per_user"], 5);
    assert_eq!(app["user_verification"], "preferred");
    assert!(app.get("created_at").is_some() && app.get("updated_at").is_some());

    let list = cli(&data, &["apps", "list", "--json"]).ok_json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"default"), "{list:#}");
    assert!(ids.contains(&id.as_str()), "{list:#}");
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed, &app);

    let shown = cli(&data, &["apps", "show", &id, "--json"]).ok_json();
    assert_eq!(shown, app);

    // The human form names the id too.
    let human = cli(&data, &["apps", "show", &id]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.contains(&id), "{}", human.stdout);
    assert!(human.stdout.contains("localhost:3000"), "{}", human.stdout);

    let updated = cli(
        &data,
        &[
            "apps",
            "update",
            &id,
            "--max-passkeys-per-user",
            "3",
            "--user-verification",
            "required",
            "--json",
        ],
    )
    .ok_json();
    assert_eq!(updated["max_passkeys_per_user"], 3);
    assert_eq!(updated["user_verification"], "required");
    let mut expected = without_times(&app);
    expected["max_passkeys_per_user"] = 3.into();
    expected["user_verification"] = "required".into();
    assert_eq!(without_times(&updated), expected);
    assert_eq!(updated["created_at"], app["created_at"]);
    // And it was stored so.
    let shown = cli(&data, &["apps", "show", &id, "--json"]).ok_json();
    assert_eq!(shown, updated);

    let deleted = cli(&data, &["apps", "delete", &id]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let message = cli(&data, &["apps", "show", &id, "--json"]).refused("app_not_found");
    assert!(message.contains(&id), "{message}");
    let human = cli(&data, &["apps", "show", &id]);
    assert_eq!(human.code, 1);
    assert!(human.stderr.contains("app_not_found"), "{}", human.stderr);
    cli(&data, &["apps", "delete", &id, "--json"]).refused("app_not_found");
    let list = cli(&data, &["apps", "list", "--json"]).ok_json();
    assert!(!list.to_string().contains(&id), "{list:#}");
}

#[test]
fn bad_app_settings_are_refused_naming_the_field() {
    let data = TempDir::new("bad");
    let create = |extra: &[&str]| {
        let mut args = vec!["apps", "create", "--name", "Bad", "--json"];
        args.extend_from_slice(extra);
        cli(&data, &args)
    };
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--rp-id",
                "localhost",
                "--origin",
                "http://localhost:8080",
                "--max-passkeys-per-user",
                "11",
            ],
            "max_passkeys_per_user",
        ),
        (
            &[
                "--rp-id",
                "localhost",
                "--origin",
                "http://localhost:8080",
                "--max-passkeys-per-user",
                "0",
            ],
            "max_passkeys_per_user",
        ),
        (
            &["--rp-id", "localhost", "--origin", "http://evil.example"],
            "origins",
        ),
        (&["--rp-id", "com", "--origin", "https://com"], "rp_id"),
        (
            &[
                "--rp-id",
                "localhost",
                "--origin",
                "http://localhost:8080",
                "--user-verification",
                "sometimes",
            ],
            "user_verification",
        ),
        (&["--origin", "http://localhost:8080"], "rp_id"),
    ];
    for (args, field) in cases {
        let message = create(args).refused("invalid_request");
        assert!(
            message.contains(field),
            "{args:?}: {message:?} does not name {field}"
        );
    }
    // Nothing was created.
    let list = cli(&data, &["apps", "list", "--json"]).ok_json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list:#}");

    // Updates are checked the same way, and a refused update changes nothing.
    let app = create_app(&data, "Good");
    let id = app["id"].as_str().unwrap();
    for (flag, value, field) in [
        ("--max-passkeys-per-user", "11", "max_passkeys_per_user"),
        ("--origin", "http://evil.example", "origins"),
        ("--rp-id", "com", "rp_id"),
        ("--user-verification", "sometimes", "user_verification"),
    ] {
        let message =
            cli(&data, &["apps", "update", id, flag, value, "--json"]).refused("invalid_request");
        assert!(message.contains(field), "{flag}: {message:?}");
    }
    let shown = cli(&data, &["apps", "show", id, "--json"]).ok_json();
    assert_eq!(shown, app);
}

#[test]
fn the_default_app_belongs_to_the_configuration() {
    let data = TempDir::new("default");
    let default = cli(&data, &["apps", "show", "default", "--json"]).ok_json();
    assert_eq!(default["rp_id"], "localhost");
    assert_eq!(
        default["origins"],
        serde_json::json!(["http://localhost:8080"])
    );
    cli(
        &data,
        &[
            "apps",
            "update",
            "default",
            "--max-passkeys-per-user",
            "3",
            "--json",
        ],
    )
    .refused("app_managed_by_config");
    cli(&data, &["apps", "delete", "default", "--json"]).refused("app_managed_by_config");
    let human = cli(&data, &["apps", "delete", "default"]);
    assert_eq!(human.code, 1);
    assert!(
        human.stderr.contains("app_managed_by_config"),
        "{}",
        human.stderr
    );
    let after = cli(&data, &["apps", "show", "default", "--json"]).ok_json();
    assert_eq!(without_times(&after), without_times(&default));
}

#[test]
fn keys_are_created_listed_by_prefix_and_revoked() {
    let data = TempDir::new("keys");
    let app = create_app(&data, "Keys");
    let app_id = app["id"].as_str().unwrap();

    let made = cli(&data, &["keys", "create", "--app", app_id, "--json"]).ok_json();
    let key = made["key"].as_str().unwrap();
    let key_id = made["id"].as_str().unwrap();
    let prefix = made["prefix"].as_str().unwrap();
    assert!(key.starts_with("pkd_sk_"), "{key}");
    assert_eq!(key.len(), 50, "{key}");
    assert!(!key_id.is_empty());
    assert!(!prefix.is_empty() && prefix.len() < key.len());
    assert!(
        key.starts_with(prefix),
        "{key} does not start with {prefix}"
    );
    assert_eq!(made["app_id"], app_id);

    let list = cli(&data, &["keys", "list", "--app", app_id, "--json"]);
    let listed = list.ok_json();
    assert!(!list.stdout.contains(key), "the key itself was listed");
    let keys = listed["data"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed:#}");
    assert_eq!(keys[0]["id"], key_id);
    assert_eq!(keys[0]["prefix"], prefix);
    assert!(keys[0].get("key").is_none(), "{listed:#}");
    assert!(keys[0]["revoked_at"].is_null(), "{listed:#}");
    let human = cli(&data, &["keys", "list", "--app", app_id]);
    assert_eq!(human.code, 0);
    assert!(human.stdout.contains(prefix) && !human.stdout.contains(key));

    let revoked = cli(&data, &["keys", "revoke", "--app", app_id, key_id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let listed = cli(&data, &["keys", "list", "--app", app_id, "--json"]).ok_json();
    assert!(
        listed["data"][0]["revoked_at"].is_string(),
        "revocation not shown: {listed:#}"
    );
    cli(
        &data,
        &["keys", "revoke", "--app", app_id, key_id, "--json"],
    )
    .refused("key_not_found");
    cli(
        &data,
        &["keys", "revoke", "--app", app_id, "key_nope", "--json"],
    )
    .refused("key_not_found");

    cli(&data, &["keys", "create", "--app", "nope", "--json"]).refused("app_not_found");
    cli(&data, &["keys", "list", "--app", "nope", "--json"]).refused("app_not_found");

    // A key of one app cannot be revoked through another.
    let (_, other_key_id) = create_key(&data, app_id);
    cli(
        &data,
        &[
            "keys",
            "revoke",
            "--app",
            "default",
            &other_key_id,
            "--json",
        ],
    )
    .refused("key_not_found");
}

#[test]
fn a_key_works_against_the_server_until_revoked() {
    let data = TempDir::new("serve-key");
    let app = create_app(&data, "Live");
    let app_id = app["id"].as_str().unwrap();
    let (key, key_id) = create_key(&data, app_id);
    let (other_key, _) = create_key(&data, app_id);

    let server = Server::start(passkeyd(&data));
    let answer = http(&server.address, "GET", "/v1/users", &key, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.json()["data"].is_array(), "{}", answer.body);

    let wrong = http(&server.address, "GET", "/v1/users", "pkd_sk_nope", None);
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains(r#""code":"invalid_api_key""#));

    let revoked = cli(&data, &["keys", "revoke", "--app", app_id, &key_id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);

    let answer = http(&server.address, "GET", "/v1/users", &key, None);
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(
        answer.body.contains(r#""code":"invalid_api_key""#),
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["error"]["code"], "invalid_api_key");
    // The app's other key still works.
    let answer = http(&server.address, "GET", "/v1/users", &other_key, None);
    assert_eq!(answer.status, 200, "{}", answer.body);

    let (_, _, log) = server.terminate(Duration::from_secs(10));
    let log = log.join("\n");
    assert!(!log.contains(&key), "the key was logged");
    assert!(!log.contains(&other_key), "the key was logged");
}

#[test]
fn the_configuration_file_and_environment_configure_apps() {
    let data = TempDir::new("config");
    let config = data.file(
        "passkeyd.jsonc",
        r#"{
            // The default app's host.
            "hostname": "example.com",
            /* Passkeys per user. */
            "max_passkeys_per_user": 7,
            "apps": {
                // A declared app.
                "shop": {"rp_id": "shop.example", "rp_name": "Shop",
                         "origins": ["https://shop.example"], "user_verification": "required"}
            }
        }"#,
    );
    let config = config.to_str().unwrap();
    let default_of = |list: &Value| -> Value {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == "default")
            .unwrap_or_else(|| panic!("no default app: {list:#}"))
            .clone()
    };

    let list = cli(&data, &["--config", config, "apps", "list", "--json"]).ok_json();
    let default = default_of(&list);
    assert_eq!(default["rp_id"], "example.com");
    assert_eq!(
        default["origins"],
        serde_json::json!(["https://example.com"])
    );
    assert_eq!(default["max_passkeys_per_user"], 7);
    let shop = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "shop")
        .unwrap_or_else(|| panic!("no shop app: {list:#}"));
    assert_eq!(shop["rp_id"], "shop.example");
    assert_eq!(shop["rp_name"], "Shop");
    assert_eq!(shop["origins"], serde_json::json!(["https://shop.example"]));
    assert_eq!(shop["user_verification"], "required");
    cli(
        &data,
        &["--config", config, "apps", "delete", "shop", "--json"],
    )
    .refused("app_managed_by_config");

    // The environment wins over the file, and PASSKEYD_CONFIG names the file too. `serve` is
    // what writes the file's apps over stored ones (management commands only create missing
    // ones, so they never undo what a running server uses).
    let mut cmd = passkeyd(&data);
    cmd.env("PASSKEYD_MAX_PASSKEYS_PER_USER", "2")
        .env("PASSKEYD_CONFIG", config);
    Server::start(cmd).stop();
    let list = cli(&data, &["--config", config, "apps", "list", "--json"]).ok_json();
    let default = default_of(&list);
    assert_eq!(default["max_passkeys_per_user"], 2);
    assert_eq!(default["rp_id"], "example.com");

    // The data dir may come from the flag as well as the variable.
    let other = TempDir::new("config-flag");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passkeyd"));
    cmd.env_clear().stdin(Stdio::null());
    let data_dir = other.path().to_str().unwrap().to_owned();
    let list = run(
        cmd,
        &[
            "--data-dir",
            &data_dir,
            "--config",
            config,
            "apps",
            "list",
            "--json",
        ],
    )
    .ok_json();
    assert_eq!(default_of(&list)["max_passkeys_per_user"], 7);
    assert!(other.path().join("passkeyd.sqlite3").exists());
}

#[test]
fn an_invalid_configuration_stops_serve_with_status_2() {
    let data = TempDir::new("bad-config");
    let cases = [
        (r#"{"max_passkeys_per_user": 11}"#, "max_passkeys_per_user"),
        (
            "{\n  // a typo\n  \"hostnme\": \"example.com\"\n}",
            "hostnme",
        ),
        (
            r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": "https://shop.example"}}}"#,
            "apps.shop.origins",
        ),
        (
            r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": [42]}}}"#,
            "apps.shop.origins",
        ),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = data.file(&format!("bad-{i}.jsonc"), text);
        let started = Instant::now();
        let mut child = passkeyd(&data)
            .args([
                "--config",
                path.to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("passkeyd served with an invalid configuration: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(field),
            "{text}: {stderr:?} does not name {field}"
        );
    }
    // The management commands refuse it the same way.
    let path = data.file("bad.jsonc", r#"{"max_passkeys_per_user": 11}"#);
    let listed = cli(
        &data,
        &["--config", path.to_str().unwrap(), "apps", "list", "--json"],
    );
    assert_eq!(listed.code, 2, "{}", listed.stderr);
    assert!(listed.stderr.contains("max_passkeys_per_user"));
    // So does a bad environment value.
    let mut cmd = passkeyd(&data);
    cmd.env("PASSKEYD_MAX_PASSKEYS_PER_USER", "11");
    let listed = run(cmd, &["apps", "list", "--json"]);
    assert_eq!(listed.code, 2, "{}", listed.stderr);
    assert!(listed.stderr.contains("max_passkeys_per_user"));
}

#[test]
fn sigterm_shuts_the_server_down_gracefully() {
    let data = TempDir::new("sigterm");
    let server = Server::start(passkeyd(&data));
    let health = http(&server.address, "GET", "/health", "", None);
    assert_eq!(health.status, 200, "{}", health.body);
    let (status, took, log) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}; log: {log:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        log.iter().any(|line| {
            serde_json::from_str::<Value>(line)
                .map(|v| {
                    v["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("shutting down"))
                })
                .unwrap_or(false)
        }),
        "no shutting down line: {log:?}"
    );
}

#[test]
fn data_persists_across_restarts() {
    let data = TempDir::new("restart");
    let app = create_app(&data, "Persist");
    let app_id = app["id"].as_str().unwrap();
    let (key, _) = create_key(&data, app_id);

    let server = Server::start(passkeyd(&data));
    let created = http(
        &server.address,
        "POST",
        "/v1/users",
        &key,
        Some(r#"{"external_id": "u1"}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["external_id"], "u1");
    let got = http(&server.address, "GET", "/v1/users/u1", &key, None);
    assert_eq!(got.status, 200, "{}", got.body);
    server.stop();

    let server = Server::start(passkeyd(&data));
    let got = http(&server.address, "GET", "/v1/users/u1", &key, None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.json()["external_id"], "u1");
    let missing = http(&server.address, "GET", "/v1/users/u2", &key, None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    server.stop();

    // The app and key survive too, as the CLI sees them.
    let shown = cli(&data, &["apps", "show", app_id, "--json"]).ok_json();
    assert_eq!(shown["id"], app_id);
}

/// Registers a passkey for `user` on the default-style localhost app through the running server,
/// as a browser on `origin` would; returns the finish answer.
fn register(address: &str, key: &str, user: &str, origin: &str) -> Answer {
    use passkeyd_testauth::{b64url_decode, Alg, Authenticator, RegistrationRequest};
    let started = http(
        address,
        "POST",
        "/v1/registrations/start",
        key,
        Some(&serde_json::json!({ "external_id": user }).to_string()),
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let started = started.json();
    let options = &started["options"];
    let challenge = b64url_decode(options["challenge"].as_str().unwrap()).unwrap();
    let handle = b64url_decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let reg = Authenticator::new(Alg::Es256).register(&RegistrationRequest::new(
        "localhost",
        origin,
        challenge,
        handle,
    ));
    let body = serde_json::json!({"ceremony_id": started["ceremony_id"], "credential": reg.json});
    http(
        address,
        "POST",
        "/v1/registrations/finish",
        key,
        Some(&body.to_string()),
    )
}

/// Product bug, kept as a regression test: every store-opening command (`apps ...`, `keys ...`)
/// rewrites the config-declared default app with the origin of the default listen address
/// (`http://localhost:8080`), because those commands load the configuration without the serve
/// address. A server listening elsewhere then refuses every registration on its own origin.
#[test]
fn management_commands_keep_the_running_servers_default_app() {
    let data = TempDir::new("default-origin");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let origin = format!("http://localhost:{port}");
    let (key, _) = create_key(&data, "default");
    let server = Server::start_on(passkeyd(&data), &listen);
    assert_eq!(server.address, listen);
    let first = register(&listen, &key, "before", &origin);
    // The same environment as the server, as an operator's shell would have.
    let mut cmd = passkeyd(&data);
    cmd.env("PASSKEYD_LISTEN", &listen);
    let shown = run(cmd, &["apps", "show", "default", "--json"]);
    let second = register(&listen, &key, "after", &origin);
    server.stop();
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(
        shown.ok_json()["origins"],
        serde_json::json!([origin]),
        "apps show"
    );
}

/// An app the configuration file no longer declares is handed back to the CLI at the next start
/// of `serve`, with its data; until then the file owns it.
#[test]
fn an_app_dropped_from_the_file_returns_to_the_cli() {
    let data = TempDir::new("dropped-app");
    let with_shop = data.file(
        "with.jsonc",
        r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["https://shop.example"]}}}"#,
    );
    let without = data.file("without.jsonc", "{}");
    let with_shop = with_shop.to_str().unwrap();
    let without = without.to_str().unwrap();
    let mut cmd = passkeyd(&data);
    cmd.args(["--config", with_shop]);
    Server::start(cmd).stop();
    cli(
        &data,
        &["--config", with_shop, "apps", "delete", "shop", "--json"],
    )
    .refused("app_managed_by_config");
    let mut cmd = passkeyd(&data);
    cmd.args(["--config", without]);
    Server::start(cmd).stop();
    let shown = cli(
        &data,
        &["--config", without, "apps", "show", "shop", "--json"],
    )
    .ok_json();
    assert!(shown.get("managed_by_config").is_none(), "{shown:#}");
    cli(
        &data,
        &["--config", without, "apps", "delete", "shop", "--json"],
    )
    .ok_json();
}

/// `apps rotate-signing-key` makes a new session signing key; both stay in the JWKS.
#[test]
fn the_session_signing_key_rotates() {
    let data = TempDir::new("rotate");
    let first = cli(&data, &["apps", "rotate-signing-key", "default", "--json"]).ok_json();
    let second = cli(&data, &["apps", "rotate-signing-key", "default", "--json"]).ok_json();
    assert!(first["kid"].as_str().unwrap().starts_with("kid_"));
    assert_ne!(first["kid"], second["kid"]);
    cli(&data, &["apps", "rotate-signing-key", "nope", "--json"]).refused("app_not_found");
    let server = Server::start(passkeyd(&data));
    let jwks = http(
        &server.address,
        "GET",
        "/v1/apps/default/.well-known/jwks.json",
        "",
        None,
    );
    let kids: Vec<String> = jwks.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kids.contains(&second["kid"].as_str().unwrap().to_owned()),
        "{kids:?}"
    );
    assert!(
        kids.contains(&first["kid"].as_str().unwrap().to_owned()),
        "retired keys stay published for a JWT lifetime: {kids:?}"
    );
    server.stop();
}

/// The reverification settings can be changed from the command line.
#[test]
fn reverification_settings_from_the_cli() {
    let data = TempDir::new("reverify");
    let app = create_app(&data, "Reverify");
    let id = app["id"].as_str().unwrap();
    let updated = cli(
        &data,
        &[
            "apps",
            "update",
            id,
            "--sessions",
            "on",
            "--reverification-seconds",
            "60",
            "--reverification-required-for",
            "delete_passkey,rename_passkey",
            "--json",
        ],
    )
    .ok_json();
    assert_eq!(updated["sessions"], true);
    assert_eq!(updated["reverification_seconds"], 60);
    assert_eq!(
        updated["reverification_required_for"],
        serde_json::json!(["delete_passkey", "rename_passkey"])
    );
    cli(
        &data,
        &[
            "apps",
            "update",
            id,
            "--reverification-required-for",
            "sometimes",
            "--json",
        ],
    )
    .refused("invalid_request");
    cli(
        &data,
        &[
            "apps",
            "update",
            id,
            "--reverification-seconds",
            "5",
            "--json",
        ],
    )
    .refused("invalid_request");
}
