//! `passkeyd apps ...` and `passkeyd keys ...`: app and key management straight on the store the
//! configuration names, plus what every store-opening command shares (loading the configuration
//! and writing the apps it declares).

use crate::audit::Caller;
use crate::cli::{
    AppCreateArgs, AppSettingArgs, AppUpdateArgs, AppsCommand, GlobalArgs, KeysCommand,
};
use crate::config::{self, Config, Overrides};
use crate::error::{ApiError, ApiResult};
use crate::service::{check_text, now_ms, Service};
use crate::settings::AppSettings;
use crate::views::AuthenticatorNames;
use crate::{Outcome, EXIT_OK, EXIT_REFUSED};
use passkeyd_store::{App, SharedStore};
use serde::de::DeserializeOwned;

/// Loads the configuration in force for a command.
pub fn load_config(global: &GlobalArgs, serve: Overrides) -> Result<Config, String> {
    config::load(
        &Overrides {
            config: global.config.clone(),
            data_dir: global.data_dir.clone(),
            database_url: global.database_url.clone(),
            ..serve
        },
        &|name| std::env::var(name).ok(),
    )
}

/// How a command treats the apps the configuration declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigApps {
    /// `serve`: the file owns them, so they are written as declared (keeping their creation
    /// time), and apps the file no longer declares are handed back to the CLI.
    Write,
    /// Management commands: only create the ones missing, so that `keys create --app default`
    /// works before the first `serve`, without overwriting what a running server uses (the
    /// default app's origin follows `serve --listen`, which these commands do not know).
    CreateMissing,
}

/// Opens the store and brings the apps the configuration declares into it.
pub async fn open_store(config: &Config, mode: ConfigApps) -> Result<SharedStore, String> {
    let store = passkeyd_store::open(&config.database_url)
        .await
        .map_err(|e| format!("cannot open the store: {e}"))?;
    let now = now_ms();
    for (id, settings) in &config.apps {
        // `put_app_if_changed` reads the app itself; only a command that leaves existing apps
        // alone needs to know first.
        if mode == ConfigApps::CreateMissing
            && store
                .get_app(id)
                .await
                .map_err(|e| format!("cannot read app {id}: {e}"))?
                .is_some()
        {
            continue;
        }
        let app = App {
            id: id.clone(),
            name: settings.rp_name.clone(),
            settings: settings.to_stored().map_err(|e| e.to_string())?,
            created_at: now,
            updated_at: now,
        };
        store
            .put_app_if_changed(&app)
            .await
            .map_err(|e| format!("cannot write app {id}: {e}"))?;
    }
    if mode == ConfigApps::Write {
        release_undeclared(&store, config).await?;
    }
    Ok(store)
}

/// An app the file declared once but no longer does is the CLI's again: it keeps its data and
/// keys, and `apps update` / `apps delete` work on it.
async fn release_undeclared(store: &SharedStore, config: &Config) -> Result<(), String> {
    let apps = store
        .list_apps()
        .await
        .map_err(|e| format!("cannot list apps: {e}"))?;
    for mut app in apps {
        if config.apps.iter().any(|(id, _)| *id == app.id) {
            continue;
        }
        let Ok(mut settings) = AppSettings::from_stored(&app.settings) else {
            continue;
        };
        if !settings.managed_by_config {
            continue;
        }
        settings.managed_by_config = false;
        app.settings = settings.to_stored().map_err(|e| e.to_string())?;
        app.updated_at = now_ms();
        store
            .update_app(&app)
            .await
            .map_err(|e| format!("cannot update app {}: {e}", app.id))?;
        tracing::info!(app = %app.id, "app no longer in the configuration file: now managed with the CLI");
    }
    Ok(())
}

/// Runs an `apps` subcommand.
pub async fn apps(store: &SharedStore, command: &AppsCommand) -> Outcome {
    let (result, json) = match command {
        AppsCommand::Create(args) => (create_app(store, args).await, args.json.json),
        AppsCommand::List(flag) => (list_apps(store).await, flag.json),
        AppsCommand::Show(args) => (show_app(store, &args.id).await, args.json.json),
        AppsCommand::Update(args) => (update_app(store, args).await, args.json.json),
        AppsCommand::Delete(args) => (delete_app(store, &args.id).await, args.json.json),
        AppsCommand::RotateSigningKey(args) => {
            (rotate_signing_key(store, &args.id).await, args.json.json)
        }
    };
    outcome(result, json)
}

/// Runs a `keys` subcommand.
pub async fn keys(store: &SharedStore, command: &KeysCommand) -> Outcome {
    let (result, json) = match command {
        KeysCommand::Create(args) => (
            create_key(store, &args.app, args.name.as_deref()).await,
            args.json.json,
        ),
        KeysCommand::List(args) => (list_keys(store, &args.app).await, args.json.json),
        KeysCommand::Revoke(args) => (
            revoke_key(store, &args.app, &args.key_id).await,
            args.json.json,
        ),
    };
    outcome(result, json)
}

/// Prints a result as JSON, or as `key: value` lines for a human; errors go to stderr with
/// their code, exit status 1.
fn outcome(result: ApiResult<serde_json::Value>, json: bool) -> Outcome {
    match result {
        Ok(value) => Outcome {
            stdout: if json {
                format!("{value:#}\n")
            } else {
                human(&value, 0)
            },
            stderr: String::new(),
            code: EXIT_OK,
        },
        Err(e) => Outcome {
            stdout: if json {
                format!(
                    "{:#}\n",
                    serde_json::json!({"error": {"code": e.code, "message": e.message}})
                )
            } else {
                String::new()
            },
            stderr: format!("passkeyd: {}: {}\n", e.code, e.message),
            code: EXIT_REFUSED,
        },
    }
}

fn human(value: &serde_json::Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                    format!("{pad}{k}:\n{}", human(v, indent + 1))
                }
                _ => format!("{pad}{k}: {}\n", scalar(v)),
            })
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                serde_json::Value::Object(_) => format!("{}\n", human(v, indent)),
                _ => format!("{pad}- {}\n", scalar(v)),
            })
            .collect(),
        other => format!("{pad}{}\n", scalar(other)),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// Parses a setting's word (`required`, `device_bound`, ...) as its serde form.
fn word<T: DeserializeOwned>(field: &str, value: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::invalid(
            field,
            format!("{value:?} is not one of the accepted values"),
        )
    })
}

/// Applies the options given on the command line to settings.
fn apply(settings: &mut AppSettings, args: &AppSettingArgs) -> ApiResult<()> {
    if let Some(v) = &args.rp_id {
        settings.rp_id = v.clone();
    }
    if let Some(v) = &args.rp_name {
        settings.rp_name = v.clone();
    }
    if !args.origins.is_empty() {
        settings.origins = args.origins.clone();
    }
    if let Some(v) = &args.user_verification {
        settings.user_verification = word("user_verification", v)?;
    }
    if let Some(v) = &args.attestation {
        settings.attestation = word("attestation", v)?;
    }
    if let Some(v) = &args.resident_key {
        settings.resident_key = word("resident_key", v)?;
    }
    if let Some(v) = &args.algorithms {
        settings.algorithms = v.clone();
    }
    if let Some(v) = &args.counter_policy {
        settings.counter_policy = word("counter_policy", v)?;
    }
    if let Some(v) = &args.backup_policy {
        settings.backup_policy = word("backup_policy", v)?;
    }
    if let Some(v) = args.max_passkeys_per_user {
        settings.max_passkeys_per_user = v;
    }
    if let Some(v) = args.challenge_ttl_seconds {
        settings.challenge_ttl_seconds = v;
    }
    if let Some(v) = &args.sessions {
        settings.sessions = v == "on";
    }
    if let Some(v) = args.session_jwt_ttl_seconds {
        settings.session_jwt_ttl_seconds = v;
    }
    if let Some(v) = args.session_ttl_seconds {
        settings.session_ttl_seconds = v;
    }
    if let Some(v) = args.reverification_seconds {
        settings.reverification_seconds = v;
    }
    if let Some(actions) = &args.reverification_required_for {
        settings.reverification_required_for = actions
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| word("reverification_required_for", a.trim()))
            .collect::<ApiResult<_>>()?;
    }
    settings.validate()
}

/// The service the CLI acts through, recording its changes as `cli` in the audit log.
fn cli_service(store: &SharedStore) -> (Service, Caller) {
    (
        Service::new(store.clone(), AuthenticatorNames::default()),
        Caller::named("cli"),
    )
}

async fn create_app(store: &SharedStore, args: &AppCreateArgs) -> ApiResult<serde_json::Value> {
    check_text("name", &args.name, 128)?;
    let rp_id = args
        .settings
        .rp_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("rp_id", "is required (--rp-id)"))?;
    let mut settings = AppSettings::new(rp_id, &args.name, Vec::new());
    apply(&mut settings, &args.settings)?;
    let (service, cli) = cli_service(store);
    let view = service
        .create_app(&cli, args.id.as_deref(), &args.name, settings)
        .await?;
    to_json(&view)
}

async fn list_apps(store: &SharedStore) -> ApiResult<serde_json::Value> {
    let apps = cli_service(store).0.list_apps().await?;
    to_json(&serde_json::json!({ "data": apps }))
}

async fn show_app(store: &SharedStore, id: &str) -> ApiResult<serde_json::Value> {
    to_json(&cli_service(store).0.app_view(id).await?)
}

async fn update_app(store: &SharedStore, args: &AppUpdateArgs) -> ApiResult<serde_json::Value> {
    let (service, cli) = cli_service(store);
    let view = service
        .update_app(&cli, &args.id, args.name.as_deref(), |settings| {
            apply(settings, &args.settings)
        })
        .await?;
    to_json(&view)
}

async fn delete_app(store: &SharedStore, id: &str) -> ApiResult<serde_json::Value> {
    let (service, cli) = cli_service(store);
    service.delete_app(&cli, id).await?;
    to_json(&serde_json::json!({ "deleted": id }))
}

async fn rotate_signing_key(store: &SharedStore, id: &str) -> ApiResult<serde_json::Value> {
    let (service, _) = cli_service(store);
    let (app, _) = service.load_app(id).await?;
    let kid = service
        .rotate_signing_key(&crate::settings::AppContext::from_app(&app)?)
        .await?;
    to_json(&serde_json::json!({ "app": id, "kid": kid }))
}

async fn create_key(
    store: &SharedStore,
    app_id: &str,
    name: Option<&str>,
) -> ApiResult<serde_json::Value> {
    let (service, cli) = cli_service(store);
    let created = service.create_key(&cli, app_id, name).await?;
    let mut value = to_json(&created)?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(
            "note".into(),
            "the key is shown this once; only its hash is kept".into(),
        );
    }
    Ok(value)
}

async fn list_keys(store: &SharedStore, app_id: &str) -> ApiResult<serde_json::Value> {
    let keys = cli_service(store).0.list_keys(app_id).await?;
    to_json(&serde_json::json!({ "data": keys }))
}

async fn revoke_key(
    store: &SharedStore,
    app_id: &str,
    key_id: &str,
) -> ApiResult<serde_json::Value> {
    let (service, cli) = cli_service(store);
    service.revoke_key(&cli, app_id, key_id).await?;
    to_json(&serde_json::json!({ "revoked": key_id }))
}

/// `passkeyd admin invite`: writes the admin app for the public URL (so the link works before
/// the next `serve`) and prints a one-time link.
pub async fn admin_invite(
    store: &SharedStore,
    config: &Config,
    args: &crate::cli::AdminInviteArgs,
) -> Outcome {
    let result = async {
        let admin = crate::admin::AdminSettings::new(
            &config.public_url,
            config.admin_idle_minutes,
            config.audit_retention_days,
        )?;
        admin.write_app(store).await?;
        let (service, cli) = cli_service(store);
        let invite = service
            .invite_admin(&admin, &cli, args.name.as_deref())
            .await?;
        let mut value = to_json(&invite)?;
        if let serde_json::Value::Object(map) = &mut value {
            map.insert(
                "note".into(),
                "open the link within an hour to register a passkey; it works once".into(),
            );
        }
        Ok(value)
    }
    .await;
    outcome(result, args.json.json)
}
