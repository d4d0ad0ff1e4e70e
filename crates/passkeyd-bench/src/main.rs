//! `passkeyd-bench`: starts passkeyd (or targets one), seeds users with passkeys, drives complete
//! ceremonies over HTTP in a closed or an open loop, and prints what issue 6 measures: throughput,
//! latency, errors, the server's CPU per ceremony and memory, the time to ready, and the overhead
//! ratio against one raw ES256 verification measured in the same run.
//!
//! A load generator and measurer only: it is never linked into passkeyd.

mod authenticator;
mod load;
mod measure;
mod procfs;
mod report;
mod seed;
mod server;

use authenticator::KeyPool;
use clap::{Parser, ValueEnum};
use load::{Scenario, Target, Window};
use measure::Sampler;
use report::{Latency, Report};
use seed::Population;
use serde_json::json;
use server::{Spawned, Storage, Tenant};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The scenarios, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioArg {
    /// Username-first sign-in.
    AuthUsername,
    /// Discoverable sign-in.
    AuthDiscoverable,
    /// Registration of a new user (none attestation).
    Register,
    /// Browser flow sign-in: transaction, public start and finish, nonce verified.
    Nonce,
    /// Session refresh of sessions opened by browser sign-ins (counted as refreshes).
    Session,
    /// The HTTP floor: two GET /health per unit, the requests of a ceremony with nothing behind
    /// them.
    HttpFloor,
}

impl ScenarioArg {
    fn name(self) -> &'static str {
        match self {
            ScenarioArg::AuthUsername => "auth-username",
            ScenarioArg::AuthDiscoverable => "auth-discoverable",
            ScenarioArg::Register => "register",
            ScenarioArg::Nonce => "nonce",
            ScenarioArg::Session => "session",
            ScenarioArg::HttpFloor => "http-floor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    Sqlite,
    Postgres,
}

/// Measure passkeyd: complete WebAuthn ceremonies over HTTP, with the server's CPU and memory.
#[derive(Debug, Parser)]
#[command(name = "passkeyd-bench", version)]
struct Args {
    /// What each ceremony is.
    #[arg(long, value_enum, default_value = "auth-username")]
    scenario: ScenarioArg,
    /// The store of the server the bench starts.
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreArg,
    /// Users to seed, each with one passkey.
    #[arg(long, default_value_t = 1000)]
    passkeys: u64,
    /// Closed loop: ceremonies in flight (the default load, with 8).
    #[arg(long, conflicts_with = "rate")]
    concurrency: Option<usize>,
    /// Open loop: ceremonies started per second, on schedule.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds measured after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Measure this many ceremonies instead of a duration (open loop: duration = N / rate).
    #[arg(long)]
    ceremonies: Option<u64>,
    /// Seconds of load before measuring, excluded from every figure.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The passkeyd binary [default: passkeyd beside this program, else target/release/passkeyd].
    #[arg(long)]
    passkeyd: Option<PathBuf>,
    /// Target a running server instead of starting one (users are then registered over HTTP).
    #[arg(long, requires = "key")]
    url: Option<String>,
    /// The secret key for --url (its app must have RP ID localhost and origin http://localhost:8080).
    #[arg(long, requires = "url")]
    key: Option<String>,
    /// The public id of the --url key's app (the nonce and session scenarios call its public
    /// endpoints; the session scenario needs its sessions on).
    #[arg(long, requires = "url")]
    app_id: Option<String>,
    /// The process id of the --url server, to measure its CPU and memory.
    #[arg(long, requires = "url")]
    pid: Option<u32>,
    /// Keep the SQLite data here, and reuse it when it was seeded by an earlier run with the
    /// same --passkeys (seeding a million users once, measuring many times).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The PostgreSQL server in which --store postgres creates (and then drops) a database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Key pairs shared round-robin by the seeded users.
    #[arg(long, default_value_t = 1000)]
    key_pool: usize,
    /// Users written per seeding transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: u64,
    /// The load generator's runtime threads.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Open loop: the most ceremonies in flight; later ones wait, and the wait is counted.
    #[arg(long, default_value_t = 1000)]
    max_in_flight: usize,
    /// Raw ES256 verifications timed for the overhead ratio.
    #[arg(long, default_value_t = 20_000)]
    verify_iterations: u32,
    /// RUST_LOG for the server the bench starts.
    #[arg(long, default_value = server::DEFAULT_LOG_FILTER)]
    server_log: String,
    /// Print only the JSON object.
    #[arg(long)]
    json: bool,
}

/// How a run ended, short of a failure.
enum Outcome {
    /// The load ran.
    Measured(Box<Report>),
    /// The scenario needs endpoints the server does not have yet.
    NotAvailable(String),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("passkeyd-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(Outcome::Measured(report)) => {
            if !args.json {
                print!("{}", report.text());
            }
            println!("{}", report.json());
            if report.errors > 0 {
                eprintln!(
                    "passkeyd-bench: {} {} failed",
                    report.errors,
                    report.units()
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(Outcome::NotAvailable(message)) => {
            if args.json {
                println!(
                    "{}",
                    json!({"scenario": args.scenario.name(), "available": false, "message": message})
                );
            } else {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("passkeyd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a run must clean up however it ends.
#[derive(Default)]
struct Leftovers {
    /// A temporary data directory to remove.
    temp_dir: Option<PathBuf>,
    /// A PostgreSQL database to drop.
    database: Option<String>,
}

async fn run(args: &Args) -> Result<Outcome, String> {
    let mut leftovers = Leftovers::default();
    let outcome = run_in(args, &mut leftovers).await;
    if let Some(name) = &leftovers.database {
        if let Err(e) = server::drop_database(&args.postgres, name).await {
            eprintln!("passkeyd-bench: {e}");
        }
    }
    if let Some(dir) = &leftovers.temp_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome
}

/// The passkeyd binary to start.
fn passkeyd_binary(args: &Args) -> Result<PathBuf, String> {
    if let Some(path) = &args.passkeyd {
        return Ok(path.clone());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("passkeyd")));
    beside
        .into_iter()
        .chain([PathBuf::from("target/release/passkeyd")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no passkeyd binary: build it first (cargo build --release -p passkeyd) or pass --passkeyd"
                .to_owned()
        })
}

fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "the system random generator failed")?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a kept data directory remembers of its seeding, so a later run can sign for its users.
const SEED_FILE: &str = "bench-seed.json";

struct Seeded {
    tenant: Tenant,
    population: Population,
    pool_size: usize,
    seed_seconds: Option<f64>,
}

/// Reads a kept data directory's seeding, if it has one.
fn read_seed_file(dir: &Path, passkeys: u64) -> Result<Option<Seeded>, String> {
    let path = dir.join(SEED_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let stored = v["passkeys"].as_u64().unwrap_or(0);
    if stored != passkeys {
        return Err(format!(
            "{} was seeded with {stored} passkeys, not {passkeys}; use another --data-dir",
            dir.display()
        ));
    }
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} lacks {name}", path.display()))
    };
    let seed = unhex(&field("seed")?).ok_or("the stored seed is not hex")?;
    Ok(Some(Seeded {
        tenant: Tenant {
            app_id: field("app_id")?,
            key: field("key")?,
        },
        population: Population::seeded(seed, passkeys),
        pool_size: v["key_pool"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1000),
        seed_seconds: None,
    }))
}

/// Creates the app and key, and seeds the users straight into the store.
async fn seed_store(args: &Args, passkeyd: &Path, storage: &Storage) -> Result<Seeded, String> {
    let tenant = server::create_tenant(passkeyd, storage)?;
    let population = Population::seeded(random_bytes(16)?, args.passkeys);
    let pool = KeyPool::derive(&population.seed, args.key_pool)?;
    if !args.json {
        eprintln!("seeding {} users with one passkey each...", args.passkeys);
    }
    let seconds = seed::import(
        &storage.store_url(),
        &tenant.app_id,
        &population,
        &pool,
        args.batch,
    )
    .await?;
    let seconds = match &storage.database_url {
        Some(url) => {
            let started = std::time::Instant::now();
            server::analyze(url).await?;
            seconds + started.elapsed().as_secs_f64()
        }
        None => seconds,
    };
    if let (Some(dir), StoreArg::Sqlite) = (&args.data_dir, args.store) {
        let record = json!({
            "seed": hex(&population.seed),
            "passkeys": args.passkeys,
            "key_pool": args.key_pool,
            "app_id": tenant.app_id,
            "key": tenant.key,
        });
        std::fs::write(dir.join(SEED_FILE), record.to_string())
            .map_err(|e| format!("cannot write {}: {e}", dir.join(SEED_FILE).display()))?;
    }
    Ok(Seeded {
        tenant,
        population,
        pool_size: args.key_pool,
        seed_seconds: Some(seconds),
    })
}

/// The server a run measures, and what is known about it.
struct Server {
    base_url: String,
    key: String,
    pid: Option<u32>,
    spawned: Option<Spawned>,
    store: String,
}

async fn run_in(args: &Args, leftovers: &mut Leftovers) -> Result<Outcome, String> {
    let ticks = procfs::clock_ticks();
    let client = load::client()?;
    let public_endpoints = matches!(args.scenario, ScenarioArg::Nonce | ScenarioArg::Session);
    if public_endpoints && args.url.is_some() && args.app_id.is_none() {
        return Err(format!(
            "--scenario {} with --url needs --app-id",
            args.scenario.name()
        ));
    }

    // Where the data lives, for a server the bench starts.
    let storage = if args.url.is_some() {
        None
    } else {
        let data_dir = match &args.data_dir {
            Some(dir) => {
                if args.store == StoreArg::Postgres {
                    return Err(
                        "--data-dir keeps SQLite data; it cannot be used with --store postgres"
                            .into(),
                    );
                }
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                dir.clone()
            }
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let dir = std::env::temp_dir()
                    .join(format!("passkeyd-bench-{}-{nanos}", std::process::id()));
                leftovers.temp_dir = Some(dir.clone());
                dir
            }
        };
        let database_url = match args.store {
            StoreArg::Sqlite => None,
            StoreArg::Postgres => {
                let name = format!("passkeyd_bench_{}", hex(&random_bytes(6)?));
                let url = server::create_database(&args.postgres, &name).await?;
                leftovers.database = Some(name);
                Some(url)
            }
        };
        // The public endpoints are rate limited per client IP; the whole load comes from one.
        let config = if public_endpoints {
            Some(server::write_config(&data_dir)?)
        } else {
            None
        };
        Some(Storage {
            data_dir,
            database_url,
            config,
        })
    };

    // Seed (unless a kept data directory is seeded already), then start the server.
    let (seeded, server) = match (&storage, &args.url, &args.key) {
        (Some(storage), _, _) => {
            let passkeyd = passkeyd_binary(args)?;
            let seeded = if let Some(kept) = match &args.data_dir {
                Some(dir) => read_seed_file(dir, args.passkeys)?,
                None => None,
            } {
                kept
            } else {
                seed_store(args, &passkeyd, storage).await?
            };
            if args.scenario == ScenarioArg::Session {
                // Idempotent, so a kept data directory's app gets it too.
                server::enable_sessions(&passkeyd, storage, &seeded.tenant.app_id)?;
            }
            // The first start after seeding pays for the writes still settling on disk; a
            // restart is what "ready on an existing data directory" means, so the second start
            // is the one measured (and shows the seeded data survived a stop).
            Spawned::start(&passkeyd, storage, &args.server_log, &client)
                .await?
                .stop();
            let spawned = Spawned::start(&passkeyd, storage, &args.server_log, &client).await?;
            let server = Server {
                base_url: spawned.base_url.clone(),
                key: seeded.tenant.key.clone(),
                pid: Some(spawned.pid),
                spawned: Some(spawned),
                store: match args.store {
                    StoreArg::Sqlite => "sqlite".into(),
                    StoreArg::Postgres => "postgres".into(),
                },
            };
            (seeded, server)
        }
        (None, Some(url), Some(key)) => {
            let seeded = Seeded {
                tenant: Tenant {
                    app_id: args.app_id.clone().unwrap_or_default(),
                    key: key.clone(),
                },
                population: Population::registered(random_bytes(16)?),
                pool_size: args.key_pool,
                seed_seconds: None,
            };
            let server = Server {
                base_url: url.clone(),
                key: key.clone(),
                pid: args.pid,
                spawned: None,
                store: "unknown".into(),
            };
            (seeded, server)
        }
        _ => return Err("--url needs --key".into()),
    };

    let started_by_bench = server.spawned.is_some();
    let app_id = seeded.tenant.app_id.clone();
    let pool = KeyPool::derive(&seeded.population.seed, seeded.pool_size)?;
    let mut target = Target::new(
        client.clone(),
        &server.base_url,
        &server.key,
        &app_id,
        seeded.population,
        pool,
    )?;

    if public_endpoints {
        // An older server (--url) may not have the browser flow.
        let path = "/v1/transactions/authenticate";
        if !target.has_route(path).await? {
            if let Some(spawned) = server.spawned {
                spawned.stop();
            }
            return Ok(Outcome::NotAvailable(format!(
                "scenario {}: not available (the server has no {path})",
                args.scenario.name()
            )));
        }
    }

    let mut seed_seconds = seeded.seed_seconds;
    if server.spawned.is_none() {
        // A server the bench did not start: its users are registered over HTTP.
        if !args.json {
            eprintln!("registering {} users over HTTP...", args.passkeys);
        }
        let started = std::time::Instant::now();
        let seed = target.population.seed.clone();
        let shared = Arc::new(target);
        let handles = load::register_population(&shared, args.passkeys, 8).await?;
        seed_seconds = Some(started.elapsed().as_secs_f64());
        let mut population = Population::registered(seed);
        for handle in handles {
            population.add_registered(handle);
        }
        let pool = KeyPool::derive(&population.seed, seeded.pool_size)?;
        target = Target::new(
            client.clone(),
            &server.base_url,
            &server.key,
            &app_id,
            population,
            pool,
        )?;
    }
    let scenario = match args.scenario {
        ScenarioArg::AuthUsername => Scenario::AuthUsername,
        ScenarioArg::AuthDiscoverable => Scenario::AuthDiscoverable,
        ScenarioArg::Register => Scenario::Register,
        ScenarioArg::Nonce => Scenario::Nonce,
        ScenarioArg::Session => Scenario::SessionRefresh,
        ScenarioArg::HttpFloor => Scenario::HttpFloor,
    };
    if scenario != Scenario::Register && target.population.count == 0 {
        return Err("sign-in scenarios need --passkeys of at least 1".into());
    }
    let key_note = format!(
        "{} ES256 key pair(s) derived from the run's seed, shared round-robin by the users; each user has its own credential id and user handle{}",
        target.pool_size(),
        if server.spawned.is_some() { "; seeded straight into the store" } else { "; registered over HTTP" }
    );
    let passkeys_stored = target.population.count;
    let target = Arc::new(target);

    // The session scenario's virtual users each sign in once, through the browser flow, for a
    // session token; only the refreshes are measured.
    if scenario == Scenario::SessionRefresh {
        let virtual_users = match args.rate {
            Some(_) => args.max_in_flight.max(1),
            None => args.concurrency.unwrap_or(8).max(1),
        };
        if !args.json {
            eprintln!("opening {virtual_users} session(s) with browser sign-ins...");
        }
        target.open_sessions(virtual_users, 8).await?;
    }

    // The floor: one raw verification, measured before the load so neither disturbs the other.
    let verify = measure::raw_verify(args.verify_iterations, ticks)?;
    let idle_rss = server.pid.and_then(procfs::memory).map(|(rss, _)| rss);

    let database = match (&leftovers.database, args.store) {
        (Some(name), StoreArg::Postgres) => {
            Some((server::admin(&args.postgres).await?, name.clone()))
        }
        _ => None,
    };
    let mut sampler = Sampler::new(server.pid, database);
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let (run, concurrency) = match args.rate {
        Some(rate) => {
            let duration = match args.ceremonies {
                Some(n) => n as f64 / rate.max(f64::MIN_POSITIVE),
                None => args.duration,
            };
            let run = load::open(
                Arc::clone(&target),
                scenario,
                rate,
                args.max_in_flight,
                warmup,
                Duration::from_secs_f64(duration.max(0.0)),
                &mut sampler,
            )
            .await;
            (run, None)
        }
        None => {
            let concurrency = args.concurrency.unwrap_or(8).max(1);
            let window = match args.ceremonies {
                Some(n) => Window::Ceremonies(n),
                None => Window::Time(Duration::from_secs_f64(args.duration.max(0.0))),
            };
            let run = load::closed(
                Arc::clone(&target),
                scenario,
                concurrency,
                warmup,
                window,
                &mut sampler,
            )
            .await;
            (run, Some(concurrency))
        }
    };
    let peak_rss = server.pid.and_then(procfs::memory).map(|(_, peak)| peak);
    let warnings = server
        .spawned
        .as_ref()
        .map(Spawned::warnings)
        .unwrap_or_default();
    let ready_ms = server.spawned.as_ref().map(|s| s.ready_ms);
    let server_log = server.spawned.as_ref().map(|s| s.log_filter.clone());
    if let Some(spawned) = server.spawned {
        spawned.stop();
    }

    // The figures.
    let (t0, t1) = (run.t0, run.t1);
    let latencies: Vec<u64> = run
        .records
        .iter()
        .filter(|r| r.start >= t0 && r.start < t1 && r.error.is_none())
        .map(|r| r.end.saturating_sub(r.start))
        .collect();
    let lags: Vec<u64> = run
        .records
        .iter()
        .filter(|r| r.start >= t0 && r.start < t1)
        .map(|r| r.lag)
        .collect();
    let completed = run
        .records
        .iter()
        .filter(|r| r.end >= t0 && r.end <= t1 && r.error.is_none())
        .count() as u64;
    let window_seconds = t1.saturating_sub(t0) as f64 / 1e6;
    let failures: Vec<&String> = run
        .records
        .iter()
        .filter_map(|r| r.error.as_ref())
        .collect();
    let (server_cpu, database_cpu, generator_cpu) = sampler.window(ticks);
    let per_ceremony = |seconds: Option<f64>| {
        seconds
            .filter(|_| completed > 0)
            .map(|s| s * 1e6 / completed as f64)
    };
    let report = Report {
        scenario: args.scenario.name().to_owned(),
        unit: match scenario {
            Scenario::SessionRefresh => "refresh",
            Scenario::HttpFloor => "request pair",
            _ => "ceremony",
        },
        server_config: match (public_endpoints, started_by_bench) {
            (true, true) => Some(server::CONFIG_NOTE.to_owned()),
            (true, false) => Some("the target server's own rate limits (a --url run)".to_owned()),
            _ => None,
        },
        store: server.store,
        passkeys_stored,
        key_note,
        seed_seconds,
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        concurrency,
        rate: args.rate,
        warmup_seconds: warmup.as_secs_f64(),
        window_seconds,
        ceremonies: completed,
        per_second: if window_seconds > 0.0 {
            completed as f64 / window_seconds
        } else {
            0.0
        },
        latency: Latency::of(latencies),
        latency_from: match (args.rate.is_some(), scenario == Scenario::SessionRefresh) {
            (true, _) => "scheduled start",
            (false, true) => "refresh start",
            (false, false) => "ceremony start",
        },
        generator_lag_p99: args.rate.map(|_| Latency::of(lags).p99),
        errors: failures.len() as u64,
        first_errors: failures.iter().take(5).map(|s| (*s).clone()).collect(),
        server_cpu_us: per_ceremony(server_cpu),
        database_cpu_us: per_ceremony(database_cpu),
        generator_cpu_us: per_ceremony(generator_cpu),
        generator_threads: args.client_threads.max(1),
        verify_us: verify.cpu_us,
        verify_wall_us: verify.wall_us,
        verify_iterations: verify.iterations,
        idle_rss,
        peak_rss,
        ready_ms,
        server_log,
        server_warnings: warnings,
        clock_ticks: ticks,
        cpus: procfs::cpus(),
        cpu_model: procfs::cpu_model(),
    };
    Ok(Outcome::Measured(Box::new(report)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = vec![0x00, 0x7f, 0xff, 0x10];
        assert_eq!(hex(&bytes), "007fff10");
        assert_eq!(unhex("007fff10").unwrap(), bytes);
        assert!(unhex("0g").is_none());
    }

    #[test]
    fn the_command_line_parses() {
        let args = Args::try_parse_from([
            "passkeyd-bench",
            "--scenario",
            "auth-discoverable",
            "--rate",
            "400",
            "--store",
            "postgres",
        ])
        .unwrap();
        assert_eq!(args.scenario, ScenarioArg::AuthDiscoverable);
        assert_eq!(args.rate, Some(400.0));
        assert!(
            Args::try_parse_from(["passkeyd-bench", "--rate", "1", "--concurrency", "2"]).is_err()
        );
        assert!(Args::try_parse_from(["passkeyd-bench", "--url", "http://x"]).is_err());
        assert!(Args::try_parse_from(["passkeyd-bench", "--app-id", "app_x"]).is_err());
        let args = Args::try_parse_from([
            "passkeyd-bench",
            "--scenario",
            "session",
            "--url",
            "http://x",
            "--key",
            "k",
            "--app-id",
            "app_x",
        ])
        .unwrap();
        assert_eq!(args.scenario, ScenarioArg::Session);
        assert_eq!(args.app_id.as_deref(), Some("app_x"));
    }
}
