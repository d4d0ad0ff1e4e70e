//! The passkeyd the bench runs: its command line (apps and keys), `passkeyd serve` as a child
//! process on a free port, readiness, a graceful stop, and a throw-away PostgreSQL database.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The log filter the bench gives the server unless told otherwise. It keeps warnings and errors
/// and the one start-up line the bench reads (`passkeyd is listening`, logged by the binary at
/// info), and turns off the access log (`passkeyd::server`, one info line per request), which at
/// thousands of requests a second would measure the terminal rather than the server. Whether to
/// keep an access log is a deployment's choice; `--server-log info` measures with it.
pub const DEFAULT_LOG_FILTER: &str = "warn,passkeyd=info,passkeyd::server=warn";

/// How long the server may take to say it listens, and then to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many server warnings the report keeps.
const KEPT_WARNINGS: usize = 5;

/// Where the server keeps its data: the arguments that say so to every passkeyd command.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The data directory (SQLite lives in it; with PostgreSQL it stays empty).
    pub data_dir: PathBuf,
    /// `--database-url` for PostgreSQL.
    pub database_url: Option<String>,
    /// `--config`: a JSONC configuration file the bench wrote (see [`write_config`]).
    pub config: Option<PathBuf>,
}

impl Storage {
    fn args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_owned(), self.data_dir.display().to_string()];
        if let Some(url) = &self.database_url {
            args.push("--database-url".to_owned());
            args.push(url.clone());
        }
        if let Some(config) = &self.config {
            args.push("--config".to_owned());
            args.push(config.display().to_string());
        }
        args
    }

    /// What `passkeyd_store::open` takes for this storage.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite:{}",
                self.data_dir.join("passkeyd.sqlite3").display()
            ),
        }
    }
}

/// Runs a passkeyd management command with `--json` and returns what it printed.
pub fn cli(passkeyd: &Path, storage: &Storage, args: &[&str]) -> Result<Value, String> {
    let output = Command::new(passkeyd)
        .args(storage.args())
        .args(args)
        .arg("--json")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", passkeyd.display()))?;
    if !output.status.success() {
        return Err(format!(
            "passkeyd {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("passkeyd {} printed no JSON: {e}", args.join(" ")))
}

/// The app and key a run uses.
pub struct Tenant {
    /// The app id.
    pub app_id: String,
    /// The secret key.
    pub key: String,
}

/// Creates the bench's app (RP ID `localhost`, origin `http://localhost:8080`) and a key for it.
pub fn create_tenant(passkeyd: &Path, storage: &Storage) -> Result<Tenant, String> {
    let app = cli(
        passkeyd,
        storage,
        &[
            "apps",
            "create",
            "--name",
            "bench",
            "--rp-id",
            "localhost",
            "--origin",
            "http://localhost:8080",
        ],
    )?;
    let app_id = app["id"]
        .as_str()
        .ok_or("apps create printed no id")?
        .to_owned();
    let key = cli(passkeyd, storage, &["keys", "create", "--app", &app_id])?;
    let key = key["key"]
        .as_str()
        .ok_or("keys create printed no key")?
        .to_owned();
    Ok(Tenant { app_id, key })
}

/// What the configuration file the bench writes says, for the report.
pub const CONFIG_NOTE: &str = "rate_limits per_ip_per_minute 0, per_app_per_minute 0 (off: a deployment choice for a load test from one IP)";

/// Writes the configuration file of a server driven through the public endpoints: their rate
/// limits (120 requests per client IP per minute by default) would otherwise measure the
/// limiter, since the whole load comes from one IP.
pub fn write_config(dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("bench-config.jsonc");
    let text =
        "// Written by passkeyd-bench: the load comes from one IP, so the public endpoints'\n\
                // rate limits are off.\n\
                {\"rate_limits\": {\"per_ip_per_minute\": 0, \"per_app_per_minute\": 0}}\n";
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Turns sessions on for `app_id` (`passkeyd apps update ID --sessions on`).
pub fn enable_sessions(passkeyd: &Path, storage: &Storage, app_id: &str) -> Result<(), String> {
    cli(
        passkeyd,
        storage,
        &["apps", "update", app_id, "--sessions", "on"],
    )
    .map(drop)
}

/// A running `passkeyd serve`.
pub struct Spawned {
    child: Child,
    /// Its process id, for `/proc`.
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// From spawn to the first `/ready` 200, milliseconds.
    pub ready_ms: f64,
    /// The filter it logs with.
    pub log_filter: String,
    notes: Arc<Mutex<Notes>>,
}

/// What the server wrote to stderr that the report may show.
#[derive(Default)]
struct Notes {
    /// Warnings and errors, the first few.
    warnings: Vec<String>,
    /// The last lines, to explain a failed start.
    tail: Vec<String>,
}

impl Notes {
    fn line(&mut self, line: &str) {
        if self.tail.len() == 20 {
            self.tail.remove(0);
        }
        self.tail.push(line.to_owned());
        let parsed: Option<Value> = serde_json::from_str(line).ok();
        let shown = match &parsed {
            Some(v) => match v["level"].as_str() {
                Some(level @ ("WARN" | "ERROR")) => Some(format!(
                    "{level} {}",
                    v["message"].as_str().unwrap_or_default()
                )),
                _ => None,
            },
            // Not JSON: a panic message or the like, always worth showing.
            None => Some(line.to_owned()),
        };
        if let Some(shown) = shown {
            if self.warnings.len() < KEPT_WARNINGS {
                self.warnings.push(shown);
            }
        }
    }
}

impl Spawned {
    /// Starts `passkeyd serve` on a free port of 127.0.0.1 with JSON logs, reads its address
    /// from the `passkeyd is listening` line, and waits until `/ready` answers 200.
    pub async fn start(
        passkeyd: &Path,
        storage: &Storage,
        log_filter: &str,
        client: &reqwest::Client,
    ) -> Result<Spawned, String> {
        let started = Instant::now();
        let mut child = Command::new(passkeyd)
            .args(storage.args())
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", passkeyd.display()))?;
        let pid = child.id();
        let stderr = child
            .stderr
            .take()
            .ok_or("the server's stderr is not piped")?;
        let notes = Arc::new(Mutex::new(Notes::default()));
        let (address_tx, address_rx) = mpsc::channel();
        let reader_notes = Arc::clone(&notes);
        // The reader runs until the server exits: a pipe nobody drains would block the server
        // once it filled.
        std::thread::spawn(move || {
            let mut address_tx = Some(address_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if address_tx.is_some() {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if v["message"] == "passkeyd is listening" {
                            if let (Some(tx), Some(address)) =
                                (address_tx.take(), v["address"].as_str())
                            {
                                let _ = tx.send(address.to_owned());
                            }
                            continue;
                        }
                    }
                }
                if let Ok(mut notes) = reader_notes.lock() {
                    notes.line(&line);
                }
            }
        });
        let mut spawned = Spawned {
            child,
            pid,
            base_url: String::new(),
            ready_ms: 0.0,
            log_filter: log_filter.to_owned(),
            notes,
        };
        let address = tokio::task::spawn_blocking(move || address_rx.recv_timeout(START_TIMEOUT))
            .await
            .map_err(|e| format!("waiting for the server: {e}"))?
            .map_err(|_| {
                format!(
                    "passkeyd serve did not say it listens: {}",
                    spawned.tail().join("\n")
                )
            })?;
        spawned.base_url = format!("http://{address}");
        let ready = format!("{}/ready", spawned.base_url);
        loop {
            if let Ok(response) = client.get(&ready).send().await {
                if response.status() == reqwest::StatusCode::OK {
                    break;
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("{ready} did not answer 200 in time"));
            }
            if let Ok(Some(status)) = spawned.child.try_wait() {
                return Err(format!(
                    "passkeyd serve exited ({status}) before it was ready"
                ));
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        spawned.ready_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(spawned)
    }

    /// Warnings and errors the server logged so far (the first few).
    pub fn warnings(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.warnings.clone())
            .unwrap_or_default()
    }

    fn tail(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.tail.clone())
            .unwrap_or_default()
    }

    /// Stops the server as an operator would (SIGTERM, through `kill`, since sending a signal
    /// ourselves would need unsafe code), waits for it, and kills it if it lingers.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    /// A server left running by an early return or a panic is killed, never orphaned.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A URL with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(url, tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| "connecting to PostgreSQL timed out".to_owned())?
    .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// A fresh database on the PostgreSQL server of `admin_url`, and its URL.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String, String> {
    connect(admin_url)
        .await?
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    Ok(with_database(admin_url, name))
}

/// Drops the database `name`, even if something is still connected.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    connect(admin_url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .map_err(|e| format!("DROP DATABASE {name}: {e}"))
}

/// Gathers the planner's statistics on the database at `url`, as an operator does after a bulk
/// load and autovacuum does a minute or so later. Without them PostgreSQL plans `list_passkeys`
/// over a million rows as a scan of the whole `(app_id, credential_id)` index, and the run would
/// measure that minute rather than the server.
pub async fn analyze(url: &str) -> Result<(), String> {
    connect(url)
        .await?
        .batch_execute("ANALYZE")
        .await
        .map_err(|e| format!("ANALYZE: {e}"))
}

/// The process ids of the PostgreSQL backends connected to database `name`, so their CPU can be
/// counted with the server's. Background processes (WAL writer, checkpointer) are not included.
pub async fn backend_pids(client: &tokio_postgres::Client, name: &str) -> Result<Vec<u32>, String> {
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&name],
        )
        .await
        .map_err(|e| format!("listing PostgreSQL backends: {e}"))?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<_, i32>(0).ok())
        .filter_map(|pid| u32::try_from(pid).ok())
        .collect())
}

/// A connection for [`backend_pids`].
pub async fn admin(admin_url: &str) -> Result<tokio_postgres::Client, String> {
    connect(admin_url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "b2"),
            "postgres://u:p@h/b2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "b3"), "postgres://h/b3");
    }

    #[test]
    fn warnings_are_kept_and_info_is_not() {
        let mut notes = Notes::default();
        notes.line(r#"{"level":"INFO","message":"request"}"#);
        notes.line(r#"{"level":"WARN","message":"signature counter did not increase"}"#);
        notes.line("thread 'main' panicked");
        assert_eq!(
            notes.warnings,
            vec![
                "WARN signature counter did not increase".to_owned(),
                "thread 'main' panicked".to_owned()
            ]
        );
        assert_eq!(notes.tail.len(), 3);
    }
}
