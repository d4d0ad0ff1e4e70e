//! Configuration: defaults, then a JSONC file, then environment variables, then flags (clap
//! reads the flags and their `PASSKEYD_*` variables). Invalid configuration is refused at start
//! with a message naming the field. The file can declare apps, and the seed's `hostname` and
//! `max_passkeys_per_user` keys configure the default app.

use crate::ratelimit::RateLimitConfig;
use crate::settings::{hostname_to_rp, AppSettings};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The id of the app every passkeyd has unless configured otherwise.
pub const DEFAULT_APP_ID: &str = "default";
/// Where data lives when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./passkeyd-data";
/// Where `serve` listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The configuration file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    #[serde(default)]
    pub listen: Option<String>,
    /// Directory of the embedded SQLite database.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL instead of SQLite.
    #[serde(default)]
    pub database_url: Option<String>,
    /// `text` or `json`.
    #[serde(default)]
    pub log_format: Option<String>,
    /// The default app's host: `example.com` (RP ID `example.com`, origin
    /// `https://example.com`) or `localhost:3000` (origin `http://localhost:3000`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The default app's passkey limit per user (default 5, at most 10).
    #[serde(default)]
    pub max_passkeys_per_user: Option<u32>,
    /// Extra AAGUID to model name entries (they win over the built-in table).
    #[serde(default)]
    pub authenticator_names: HashMap<String, String>,
    /// Apps declared here, by id. The file owns them: each start writes them again.
    #[serde(default)]
    pub apps: BTreeMap<String, AppSettings>,
    /// Limits of the public browser endpoints (per client IP and per app, per minute; 0 = off).
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// Take the client IP from `X-Forwarded-For`: only behind a proxy that sets it.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// The URL people reach passkeyd at (an origin): admin passkeys are bound to it, and admin
    /// invite links are printed on it.
    #[serde(default)]
    pub public_url: Option<String>,
    /// A separate address for the admin dashboard and API (default: the main listener).
    #[serde(default)]
    pub admin_listen: Option<String>,
    /// Days the audit log (and finished webhook deliveries) are kept (default 90, 1 to 3650).
    #[serde(default)]
    pub audit_retention_days: Option<u32>,
    /// Minutes an admin session lasts without use (default 30, 5 to 720).
    #[serde(default)]
    pub admin_idle_minutes: Option<u32>,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store to open: a `postgres://` URL, or `sqlite:` and a path.
    pub database_url: String,
    /// Address to listen on.
    pub listen: String,
    /// `text` or `json`.
    pub log_format: String,
    /// Apps the configuration declares, with the default app first.
    pub apps: Vec<(String, AppSettings)>,
    /// Extra authenticator names.
    pub authenticator_names: HashMap<String, String>,
    /// Limits of the public endpoints.
    pub rate_limits: RateLimitConfig,
    /// Take the client IP from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// The public URL (an origin, without a trailing slash).
    pub public_url: String,
    /// Where the admin dashboard listens, when not on the main listener.
    pub admin_listen: Option<String>,
    /// Days the audit log is kept.
    pub audit_retention_days: u32,
    /// Minutes an idle admin session lasts.
    pub admin_idle_minutes: u32,
}

/// Values that come from flags or their environment variables (which win over the file).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config` / `PASSKEYD_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--data-dir` / `PASSKEYD_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url` / `PASSKEYD_DATABASE_URL`.
    pub database_url: Option<String>,
    /// `--listen` / `PASSKEYD_LISTEN`.
    pub listen: Option<String>,
    /// `--log-format` / `PASSKEYD_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--public-url` / `PASSKEYD_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `--admin-listen` / `PASSKEYD_ADMIN_LISTEN`.
    pub admin_listen: Option<String>,
}

/// Reads a JSONC file (comments allowed) into the file configuration; the error names the field.
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse_file(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

fn parse_file(text: &[u8]) -> Result<FileConfig, String> {
    let stripped = json_comments::StripComments::new(text);
    let mut de = serde_json::Deserializer::from_reader(stripped);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}

/// Builds the configuration in force from the file (if any), the environment and the flags.
/// `env` is how environment variables are read (a parameter, so tests need not change theirs).
pub fn load(overrides: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let file = match &overrides.config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    let data_dir = overrides
        .data_dir
        .clone()
        .or(file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let database_url = overrides
        .database_url
        .clone()
        .or(file.database_url.clone())
        .unwrap_or_else(|| format!("sqlite:{}", data_dir.join("passkeyd.sqlite3").display()));
    let listen = overrides
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let port = listen
        .parse::<std::net::SocketAddr>()
        .map_err(|e| format!("listen: {listen:?} is not an address such as 127.0.0.1:8080 ({e})"))?
        .port();
    let admin_listen = overrides.admin_listen.clone().or(file.admin_listen.clone());
    // Admin passkeys belong to where the dashboard is served: the admin listener when there is
    // one, else the main one.
    let admin_port = match &admin_listen {
        Some(a) => a
            .parse::<std::net::SocketAddr>()
            .map_err(|e| {
                format!("admin_listen: {a:?} is not an address such as 127.0.0.1:8081 ({e})")
            })?
            .port(),
        None => port,
    };
    let public_url = overrides
        .public_url
        .clone()
        .or(file.public_url.clone())
        .unwrap_or_else(|| {
            format!(
                "http://localhost:{}",
                if admin_port == 0 { 8080 } else { admin_port }
            )
        });
    let public_url =
        crate::admin::check_public_url(&public_url).map_err(|e| format!("public_url: {e}"))?;
    let audit_retention_days = file.audit_retention_days.unwrap_or(90);
    if !(1..=3650).contains(&audit_retention_days) {
        return Err(format!(
            "audit_retention_days: must be 1 to 3650, got {audit_retention_days}"
        ));
    }
    let admin_idle_minutes = file.admin_idle_minutes.unwrap_or(30);
    if !(5..=720).contains(&admin_idle_minutes) {
        return Err(format!(
            "admin_idle_minutes: must be 5 to 720, got {admin_idle_minutes}"
        ));
    }
    let log_format = overrides
        .log_format
        .clone()
        .or(file.log_format.clone())
        .unwrap_or_else(|| "text".to_owned());
    if log_format != "text" && log_format != "json" {
        return Err(format!(
            "log_format: must be \"text\" or \"json\", got {log_format:?}"
        ));
    }

    let hostname = env("PASSKEYD_HOSTNAME").or(file.hostname.clone());
    let max_passkeys = match env("PASSKEYD_MAX_PASSKEYS_PER_USER") {
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("PASSKEYD_MAX_PASSKEYS_PER_USER: {v:?} is not a number"))?,
        ),
        None => file.max_passkeys_per_user,
    };
    let (rp_id, origin) = match &hostname {
        Some(h) => hostname_to_rp(h).map_err(|e| format!("hostname: {e}"))?,
        // With port 0 (tests) the port is not known yet; 8080 keeps the default app valid.
        None => (
            "localhost".to_owned(),
            format!("http://localhost:{}", if port == 0 { 8080 } else { port }),
        ),
    };
    let mut default_app = AppSettings::new(&rp_id, "passkeyd", vec![origin]);
    // The demo page runs for the out-of-the-box localhost app only: an app configured for a real
    // host belongs to its operator, who did not ask for a demo on their domain.
    default_app.demo = hostname.is_none();
    default_app.sessions = hostname.is_none();
    if let Some(max) = max_passkeys {
        default_app.max_passkeys_per_user = max;
    }
    let mut apps = Vec::new();
    if !file.apps.contains_key(DEFAULT_APP_ID) {
        apps.push((DEFAULT_APP_ID.to_owned(), default_app));
    }
    apps.extend(file.apps);
    for (id, settings) in &mut apps {
        check_app_id(id).map_err(|e| format!("apps.{id}: {e}"))?;
        settings.managed_by_config = true;
        settings
            .validate()
            .map_err(|e| format!("apps.{id}.{}", e.message))?;
    }
    Ok(Config {
        database_url,
        listen,
        log_format,
        apps,
        authenticator_names: file.authenticator_names,
        rate_limits: file.rate_limits,
        trust_forwarded_for: file.trust_forwarded_for,
        public_url,
        admin_listen,
        audit_retention_days,
        admin_idle_minutes,
    })
}

/// App ids appear in URLs and web pages: 1 to 64 of `a-z`, `0-9`, `_` and `-`, not starting
/// with `__` (reserved for passkeyd's own apps, such as the admins').
pub fn check_app_id(id: &str) -> Result<(), String> {
    if crate::admin::is_reserved(id) {
        return Err(format!(
            "app id {id:?} starts with \"__\", which is reserved for passkeyd's own apps"
        ));
    }
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "app id {id:?} must be 1 to 64 of a-z, 0-9, _ and -"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load_text(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let dir = std::env::temp_dir().join(format!(
            "passkeyd-config-{}",
            crate::secrets::new_id("t").unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passkeyd.jsonc");
        std::fs::write(&path, text).unwrap();
        let result = load(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env,
        );
        std::fs::remove_dir_all(&dir).ok();
        result
    }

    #[test]
    fn defaults_give_a_localhost_app_on_the_listen_port() {
        let c = load(&Overrides::default(), &no_env).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert!(c.database_url.ends_with("passkeyd-data/passkeyd.sqlite3"));
        let (id, app) = &c.apps[0];
        assert!(c.apps.len() == 1);
        assert!(app.demo, "the out-of-the-box app has the demo");
        assert_eq!(c.rate_limits, RateLimitConfig::default());
        assert_eq!(id, "default");
        assert_eq!(app.rp_id, "localhost");
        assert_eq!(app.origins, vec!["http://localhost:8080"]);
        let c = load(
            &Overrides {
                listen: Some("127.0.0.1:9000".into()),
                ..Overrides::default()
            },
            &no_env,
        )
        .unwrap();
        assert_eq!(c.apps[0].1.origins, vec!["http://localhost:9000"]);
    }

    #[test]
    fn the_seed_file_configures_the_default_app() {
        let seed = r#"{
            // Hostname for the WebAuthn relying party
            "hostname": "example.com",
            // Maximum number of passkeys allowed per user (default: 5, max: 10)
            "max_passkeys_per_user": 7
        }"#;
        let c = load_text(seed, &no_env).unwrap();
        let app = &c.apps[0].1;
        assert_eq!(
            (app.rp_id.as_str(), app.max_passkeys_per_user),
            ("example.com", 7)
        );
        assert_eq!(app.origins, vec!["https://example.com"]);
        assert!(app.managed_by_config);
        assert!(!app.demo, "no demo on an operator's own host");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = |k: &str| match k {
            "PASSKEYD_HOSTNAME" => Some("localhost:3000".to_owned()),
            "PASSKEYD_MAX_PASSKEYS_PER_USER" => Some("2".to_owned()),
            _ => None,
        };
        let c = load_text(
            r#"{"hostname": "example.com", "max_passkeys_per_user": 7}"#,
            &env,
        )
        .unwrap();
        let app = &c.apps[0].1;
        assert_eq!(app.rp_id, "localhost");
        assert_eq!(app.origins, vec!["http://localhost:3000"]);
        assert_eq!(app.max_passkeys_per_user, 2);
    }

    #[test]
    fn invalid_files_are_refused_naming_the_field() {
        let err = |text: &str| load_text(text, &no_env).unwrap_err();
        assert!(err(r#"{"max_passkeys_per_user": 11}"#).contains("max_passkeys_per_user"));
        assert!(err(r#"{"max_passkeys_per_user": "five"}"#).contains("max_passkeys_per_user"));
        assert!(err(r#"{"hostname": "https://example.com"}"#).contains("hostname"));
        assert!(err(r#"{"hostnme": "example.com"}"#).contains("hostnme"));
        assert!(err(r#"{"log_format": "xml"}"#).contains("log_format"));
        let e = err(
            r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["http://shop.example"]}}}"#,
        );
        assert!(e.contains("apps.shop.origins[0]"), "{e}");
        let e = err(
            r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["https://shop.example"], "max_passkeys_per_user": true}}}"#,
        );
        assert!(e.contains("apps.shop.max_passkeys_per_user"), "{e}");
        assert!(err(r#"{"apps": {"Shop!": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["https://shop.example"]}}}"#).contains("Shop!"));
        assert!(err("{ not json").contains("line 1"));
    }

    #[test]
    fn declared_apps_are_loaded_beside_the_default() {
        let c = load_text(
            r#"{"apps": {"shop": {"rp_id": "shop.example", "rp_name": "Shop", "origins": ["https://shop.example"], "user_verification": "required"}}}"#,
            &no_env,
        )
        .unwrap();
        assert_eq!(c.apps.len(), 2);
        assert_eq!(c.apps[1].0, "shop");
        assert_eq!(
            c.apps[1].1.user_verification,
            passkeyd_core::UserVerification::Required
        );
    }
}
