//! The passkeyd binary's entry point: parses the command line, reads stdin, runs the command and
//! turns its outcome into output and an exit status (0 verified or decoded, 1 refused or bad
//! input, 2 usage error).

use clap::Parser;
use passkeyd::admin::AdminSettings;
use passkeyd::cli::{AdminCommand, Cli, Command, GlobalArgs, ServeArgs, VerifyCommand};
use passkeyd::config::Overrides;
use passkeyd::service::Service;
use passkeyd::views::AuthenticatorNames;
use passkeyd::{inspect, manage, server, verify, Outcome, EXIT_OK, EXIT_USAGE};
use passkeyd_store::SharedStore;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdin = std::io::stdin().lock();
    let outcome = match &cli.command {
        Command::Verify(VerifyCommand::Registration(args)) => {
            verify::registration(args, &mut stdin)
        }
        Command::Verify(VerifyCommand::Authentication(args)) => {
            verify::authentication(args, &mut stdin)
        }
        Command::Inspect(args) => inspect::run(args, &mut stdin),
        Command::Serve(args) => serve(&cli.global, args),
        Command::Apps(command) => with_store(&cli.global, |store| async move {
            manage::apps(&store, command).await
        }),
        Command::Keys(command) => with_store(&cli.global, |store| async move {
            manage::keys(&store, command).await
        }),
        Command::Admin(AdminCommand::Invite(args)) => admin_invite(&cli.global, args),
    };
    // The log lines still buffered go out before the outcome's own message.
    passkeyd::logs::flush();
    ExitCode::from(emit(&outcome))
}

fn runtime() -> Result<tokio::runtime::Runtime, Outcome> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Outcome::usage(format!("cannot start the async runtime: {e}")))
}

/// Runs a management command on the store the configuration names.
fn with_store<F, Fut>(global: &GlobalArgs, f: F) -> Outcome
where
    F: FnOnce(SharedStore) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let config = match manage::load_config(global, Overrides::default()) {
        Ok(c) => c,
        Err(e) => return Outcome::usage(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    rt.block_on(async {
        match manage::open_store(&config, manage::ConfigApps::CreateMissing).await {
            Ok(store) => f(store).await,
            Err(e) => Outcome::refused(e),
        }
    })
}

/// `passkeyd admin invite`: writes the admin app for the public URL and prints an invite link.
fn admin_invite(global: &GlobalArgs, args: &passkeyd::cli::AdminInviteArgs) -> Outcome {
    let overrides = Overrides {
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        admin_listen: args.admin_listen.clone(),
        ..Overrides::default()
    };
    let config = match manage::load_config(global, overrides) {
        Ok(c) => c,
        Err(e) => return Outcome::usage(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    rt.block_on(async {
        match manage::open_store(&config, manage::ConfigApps::CreateMissing).await {
            Ok(store) => manage::admin_invite(&store, &config, args).await,
            Err(e) => Outcome::refused(e),
        }
    })
}

/// `passkeyd serve`: runs until SIGINT or SIGTERM, then lets requests in flight finish.
fn serve(global: &GlobalArgs, args: &ServeArgs) -> Outcome {
    let overrides = Overrides {
        listen: args.listen.clone(),
        log_format: args.log_format.clone(),
        public_url: args.public_url.clone(),
        admin_listen: args.admin_listen.clone(),
        ..Overrides::default()
    };
    let config = match manage::load_config(global, overrides) {
        Ok(c) => c,
        Err(e) => return Outcome::usage(e),
    };
    init_logging(&config.log_format);
    let addr: SocketAddr = match config.listen.parse() {
        Ok(a) => a,
        Err(e) => return Outcome::usage(format!("listen: {e}")),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(o) => return o,
    };
    rt.block_on(async {
        let store = match manage::open_store(&config, manage::ConfigApps::Write).await {
            Ok(s) => s,
            Err(e) => return Outcome::refused(e),
        };
        if let Err(e) = store.claim_for_server().await {
            return Outcome::refused(e.to_string());
        }
        let service = Service::new(
            store,
            AuthenticatorNames::new(config.authenticator_names.clone()),
        )
        .with_audit_writer();
        let audit = service.audit.clone();
        let admin = match AdminSettings::new(
            &config.public_url,
            config.admin_idle_minutes,
            config.audit_retention_days,
        ) {
            Ok(a) => a,
            Err(e) => return Outcome::usage(e.message),
        };
        if let Err(e) = admin.write_app(&service.store).await {
            return Outcome::refused(format!("cannot write the admin app: {e}"));
        }
        let mut state = server::AppState::with_limits(service, config.rate_limits);
        state.trust_forwarded_for = config.trust_forwarded_for;
        state.admin = Some(std::sync::Arc::new(admin));
        let mut server = match server::Server::bind(addr, state).await {
            Ok(s) => s,
            Err(e) => return Outcome::refused(format!("cannot listen on {addr}: {e}")),
        };
        if let Some(admin_addr) = &config.admin_listen {
            let admin_addr: SocketAddr = match admin_addr.parse() {
                Ok(a) => a,
                Err(e) => return Outcome::usage(format!("admin_listen: {e}")),
            };
            server = match server.bind_admin(admin_addr).await {
                Ok(s) => s,
                Err(e) => return Outcome::refused(format!("cannot listen on {admin_addr}: {e}")),
            };
        }
        if let Some(Ok(admin_bound)) = server.admin_addr() {
            tracing::info!(address = %admin_bound, "the admin dashboard is listening");
        }
        let shutdown = server::shutdown_signal();
        let bound = server.local_addr().map_or(addr, |a| a);
        let backend = if config.database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
        tracing::info!(address = %bound, store = backend, apps = config.apps.len(), "passkeyd is listening");
        // Whoever waits for this line (a supervisor, a test, the bench) gets it now, not a
        // batch later.
        passkeyd::logs::flush();
        let stopped = server.run(shutdown).await;
        // Store what the audit writer still holds before the process ends.
        audit.flush().await;
        match stopped {
            Ok(()) => Outcome {
                stdout: String::new(),
                stderr: String::new(),
                code: EXIT_OK,
            },
            Err(e) => Outcome::refused(format!("the server stopped: {e}")),
        }
    })
}

/// Logs to stderr as text or one JSON object per line; `RUST_LOG` filters (default `info`).
/// Lines go out in batches (`logs.rs`), or one write each if its thread cannot start.
fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal who did not ask for none (NO_COLOR): escape
    // codes in a log file or a collector's pipe are noise.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let json = format == "json";
    match passkeyd::logs::install() {
        Some(batched) => init_subscriber(filter, colour, json, batched),
        None => init_subscriber(filter, colour, json, std::io::stderr),
    }
}

fn init_subscriber<W>(filter: tracing_subscriber::EnvFilter, colour: bool, json: bool, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

/// Writes the outcome; a failure to write stdout (a closed pipe) becomes a usage error status
/// rather than a panic.
fn emit(outcome: &Outcome) -> u8 {
    let mut code = outcome.code;
    if !outcome.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(outcome.stdout.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            code = EXIT_USAGE;
        }
    }
    if !outcome.stderr.is_empty() {
        // Nothing better can be done when stderr itself is gone.
        let _ = std::io::stderr()
            .lock()
            .write_all(outcome.stderr.as_bytes());
    }
    code
}
