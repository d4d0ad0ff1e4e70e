//! An app's settings (relying party, policies, limits): their JSON form as stored and as given to
//! the CLI, the config file and later the admin API; their validation, which names the field at
//! fault; and the parsed form ([`AppContext`]) that ceremonies run with.

use crate::audit::Caller;
use crate::error::{ApiError, ApiResult};
use passkeyd_core::options::{AttestationPreference, ResidentKey};
use passkeyd_core::{Algorithm, CounterPolicy, Origin, RelyingParty, RpId, UserVerification};
use passkeyd_store::App;
use serde::{Deserialize, Serialize};

/// The most passkeys an app may allow a user (the seed's documented maximum).
pub const MAX_PASSKEYS_LIMIT: u32 = 10;
/// The default number of passkeys per user.
pub const DEFAULT_MAX_PASSKEYS: u32 = 5;
/// The default ceremony lifetime, in seconds.
pub const DEFAULT_CHALLENGE_TTL: u32 = 300;

/// What a sign-in does when the signature counter did not increase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterPolicySetting {
    /// Refuse the sign-in (`counter_rollback`): the credential may have been cloned.
    #[default]
    Reject,
    /// Let it through and log a warning.
    Warn,
}

/// Which passkeys an app accepts, by their backup flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupPolicy {
    /// Synced and device-bound passkeys alike.
    #[default]
    Any,
    /// Only passkeys that cannot leave their device (BE not set), as some regulated apps need.
    DeviceBound,
}

/// An app's settings, as stored (JSON) and as given on creation or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    /// The WebAuthn RP ID: the domain passkeys are bound to.
    pub rp_id: String,
    /// The name authenticators show.
    pub rp_name: String,
    /// Origins ceremonies may run on (`https://app.example.com`, `http://localhost:8080`).
    pub origins: Vec<String>,
    /// User verification requirement of every ceremony.
    #[serde(default)]
    pub user_verification: UserVerification,
    /// Attestation conveyance preference.
    #[serde(default)]
    pub attestation: AttestationPreference,
    /// Discoverable credential requirement (passkeys are discoverable: `required`).
    #[serde(default)]
    pub resident_key: ResidentKey,
    /// COSE algorithm ids to request, most preferred first.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<i64>,
    /// Counter rollback policy.
    #[serde(default)]
    pub counter_policy: CounterPolicySetting,
    /// Backup flag policy.
    #[serde(default)]
    pub backup_policy: BackupPolicy,
    /// Passkeys a user may have (1 to 10).
    #[serde(default = "default_max_passkeys")]
    pub max_passkeys_per_user: u32,
    /// Seconds a started ceremony stays usable (30 to 3600).
    #[serde(default = "default_ttl")]
    pub challenge_ttl_seconds: u32,
    /// Set for apps declared in the configuration file, which the file owns: the CLI refuses to
    /// change them, and every start writes them again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed_by_config: bool,
    /// Serve the demo page and its demo backend for this app (the default localhost app only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// A sign-in from the browser creates a session (JWT + refreshing session token).
    #[serde(default)]
    pub sessions: bool,
    /// Seconds a session JWT is valid (30 to 3600).
    #[serde(default = "default_jwt_ttl")]
    pub session_jwt_ttl_seconds: u32,
    /// Seconds a session lasts without signing in again (300 to 31,536,000).
    #[serde(default = "default_session_ttl")]
    pub session_ttl_seconds: u32,
    /// How recent a passkey verification must be for a sensitive action (30 to 86,400 seconds).
    #[serde(default = "default_reverification")]
    pub reverification_seconds: u32,
    /// The signed-in user's actions that need a recent verification.
    #[serde(default = "default_sensitive")]
    pub reverification_required_for: Vec<SensitiveAction>,
}

/// An action of the signed-in user that may require a recent passkey verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveAction {
    /// Deleting a passkey (required by default: it can lock the user out).
    DeletePasskey,
    /// Adding a passkey.
    CreatePasskey,
    /// Renaming a passkey.
    RenamePasskey,
}

fn default_jwt_ttl() -> u32 {
    300
}

fn default_session_ttl() -> u32 {
    7 * 24 * 3600
}

fn default_reverification() -> u32 {
    300
}

fn default_sensitive() -> Vec<SensitiveAction> {
    vec![SensitiveAction::DeletePasskey]
}

fn default_algorithms() -> Vec<i64> {
    Algorithm::DEFAULT_REQUESTED
        .iter()
        .map(|a| a.cose_id())
        .collect()
}

fn default_max_passkeys() -> u32 {
    DEFAULT_MAX_PASSKEYS
}

fn default_ttl() -> u32 {
    DEFAULT_CHALLENGE_TTL
}

impl AppSettings {
    /// Settings with every default, for an RP ID and its origins.
    pub fn new(rp_id: &str, rp_name: &str, origins: Vec<String>) -> Self {
        AppSettings {
            rp_id: rp_id.to_owned(),
            rp_name: rp_name.to_owned(),
            origins,
            user_verification: UserVerification::default(),
            attestation: AttestationPreference::default(),
            resident_key: ResidentKey::default(),
            algorithms: default_algorithms(),
            counter_policy: CounterPolicySetting::default(),
            backup_policy: BackupPolicy::default(),
            max_passkeys_per_user: DEFAULT_MAX_PASSKEYS,
            challenge_ttl_seconds: DEFAULT_CHALLENGE_TTL,
            managed_by_config: false,
            demo: false,
            sessions: false,
            session_jwt_ttl_seconds: default_jwt_ttl(),
            session_ttl_seconds: default_session_ttl(),
            reverification_seconds: default_reverification(),
            reverification_required_for: default_sensitive(),
        }
    }

    /// Checks every field; the error names the first field at fault.
    pub fn validate(&self) -> ApiResult<()> {
        self.relying_party().map(|_| ())?;
        if self.rp_name.trim().is_empty() || self.rp_name.len() > 128 {
            return Err(ApiError::invalid("rp_name", "must be 1 to 128 characters"));
        }
        if self.algorithms.is_empty() {
            return Err(ApiError::invalid(
                "algorithms",
                "at least one algorithm is required",
            ));
        }
        for (i, id) in self.algorithms.iter().enumerate() {
            Algorithm::from_cose_id(*id).map_err(|_| {
                ApiError::invalid(
                    &format!("algorithms[{i}]"),
                    format!("{id} is not a COSE algorithm passkeyd supports"),
                )
            })?;
        }
        if !(1..=MAX_PASSKEYS_LIMIT).contains(&self.max_passkeys_per_user) {
            return Err(ApiError::invalid(
                "max_passkeys_per_user",
                format!(
                    "must be 1 to {MAX_PASSKEYS_LIMIT}, got {}",
                    self.max_passkeys_per_user
                ),
            ));
        }
        if !(30..=3600).contains(&self.challenge_ttl_seconds) {
            return Err(ApiError::invalid(
                "challenge_ttl_seconds",
                format!(
                    "must be 30 to 3600 seconds, got {}",
                    self.challenge_ttl_seconds
                ),
            ));
        }
        let range = |field: &str, value: u32, min: u32, max: u32| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    field,
                    format!("must be {min} to {max} seconds, got {value}"),
                ))
            }
        };
        range(
            "session_jwt_ttl_seconds",
            self.session_jwt_ttl_seconds,
            30,
            3600,
        )?;
        range(
            "session_ttl_seconds",
            self.session_ttl_seconds,
            300,
            31_536_000,
        )?;
        range(
            "reverification_seconds",
            self.reverification_seconds,
            30,
            86_400,
        )?;
        Ok(())
    }

    /// Whether `action` needs a recent verification.
    pub fn needs_reverification(&self, action: SensitiveAction) -> bool {
        self.reverification_required_for.contains(&action)
    }

    /// The relying party these settings describe; the error names the field at fault.
    fn relying_party(&self) -> ApiResult<RelyingParty> {
        let rp_id = RpId::parse(&self.rp_id).map_err(|e| ApiError::invalid("rp_id", e))?;
        if self.origins.is_empty() {
            return Err(ApiError::invalid(
                "origins",
                "at least one origin is required",
            ));
        }
        let origins = self
            .origins
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Origin::parse(o).map_err(|e| ApiError::invalid(&format!("origins[{i}]"), e))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let rp = RelyingParty::new(rp_id, origins).map_err(|e| ApiError::invalid("origins", e))?;
        // A web origin outside the RP ID can never work in a browser: refuse it now rather than
        // let every ceremony fail later.
        rp.check_origins_cover()
            .map_err(|e| ApiError::invalid("origins", e))?;
        Ok(rp)
    }

    /// Reads stored settings. Stored settings were validated when written, so a failure here
    /// means the database was edited by hand or by a newer passkeyd: an internal error.
    pub fn from_stored(json: &str) -> ApiResult<Self> {
        serde_json::from_str(json)
            .map_err(|e| ApiError::internal(format!("stored app settings are unreadable: {e}")))
    }

    /// The JSON to store.
    pub fn to_stored(&self) -> ApiResult<String> {
        serde_json::to_string(self).map_err(ApiError::internal)
    }
}

/// An app with its settings parsed, ready to run ceremonies.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// The app's id.
    pub id: String,
    /// The app's name.
    pub name: String,
    /// The settings.
    pub settings: AppSettings,
    /// The relying party the settings describe.
    pub rp: RelyingParty,
    /// The requested algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Who is acting on the app in this request, for the audit log. The HTTP layer sets it
    /// (from the API key, the browser, the admin session); [`AppContext::from_app`] starts with
    /// the server itself.
    pub caller: Caller,
}

impl AppContext {
    /// Parses a stored app.
    pub fn from_app(app: &App) -> ApiResult<Self> {
        let settings = AppSettings::from_stored(&app.settings)?;
        let rp = settings
            .relying_party()
            .map_err(|e| ApiError::internal(format!("stored app {} is invalid: {e}", app.id)))?;
        let algorithms = settings
            .algorithms
            .iter()
            .filter_map(|id| Algorithm::from_cose_id(*id).ok())
            .collect();
        Ok(AppContext {
            id: app.id.clone(),
            name: app.name.clone(),
            settings,
            rp,
            algorithms,
            caller: Caller::default(),
        })
    }

    /// The core's counter policy.
    pub fn counter_policy(&self) -> CounterPolicy {
        match self.settings.counter_policy {
            CounterPolicySetting::Reject => CounterPolicy::Reject,
            CounterPolicySetting::Warn => CounterPolicy::Warn,
        }
    }

    /// The same app acting for `caller`.
    pub fn acting_as(mut self, caller: Caller) -> Self {
        self.caller = caller;
        self
    }

    /// The ceremony lifetime in milliseconds.
    pub fn ttl_millis(&self) -> i64 {
        i64::from(self.settings.challenge_ttl_seconds) * 1000
    }
}

/// Parsed apps by id, each with the row it was parsed from. Every request parsed its app's
/// settings JSON and relying party again (4% of a sign-in's CPU in the benchmark's profile);
/// this hands out a copy while the stored row is unchanged, and parses again when it differs
/// (so a change made by another instance or the CLI is seen at the next request).
#[derive(Debug, Default)]
pub struct AppContexts {
    parsed: std::sync::Mutex<std::collections::HashMap<String, (App, AppContext)>>,
}

/// Apps kept parsed, at most; past it the cache starts again empty (apps are few; deleted
/// apps' entries must not pile up).
const PARSED_APPS: usize = 1024;

impl AppContexts {
    /// The context of a stored app: the cached one if `app` is the row it was parsed from.
    pub fn get(&self, app: &App) -> ApiResult<AppContext> {
        if let Some(context) = self.cached(app) {
            return Ok(context);
        }
        let context = AppContext::from_app(app)?;
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if parsed.len() >= PARSED_APPS {
            parsed.clear();
        }
        parsed.insert(app.id.clone(), (app.clone(), context.clone()));
        Ok(context)
    }

    /// The same context, cached or parsed, without adding to the cache: for callers anyone can
    /// make run over every app (the `/v1/me` preflights), so that with more apps than the cache
    /// holds they cannot keep emptying it for the API's requests.
    pub fn peek(&self, app: &App) -> ApiResult<AppContext> {
        match self.cached(app) {
            Some(context) => Ok(context),
            None => AppContext::from_app(app),
        }
    }

    /// The cached context of `app`, if it was parsed from this very row.
    fn cached(&self, app: &App) -> Option<AppContext> {
        self.parsed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&app.id)
            .and_then(|(row, context)| (row == app).then(|| context.clone()))
    }
}

/// Turns a seed-style `hostname` ("example.com", "localhost:3000", "app.example.com") into an
/// RP ID and its origin: `https://` for real hosts, `http://` for localhost.
pub fn hostname_to_rp(hostname: &str) -> Result<(String, String), String> {
    let hostname = hostname.trim().trim_end_matches('/');
    if hostname.contains("://") {
        return Err(format!(
            "{hostname:?} has a scheme; give the host only, such as \"example.com\" or \"localhost:3000\""
        ));
    }
    let host = hostname.split(':').next().unwrap_or(hostname);
    let local = host == "localhost" || host.ends_with(".localhost");
    let origin = if local {
        format!("http://{hostname}")
    } else {
        format!("https://{hostname}")
    };
    RpId::parse(host).map_err(|e| e.to_string())?;
    Origin::parse(&origin).map_err(|e| e.to_string())?;
    Ok((host.to_ascii_lowercase(), origin))
}

#[cfg(test)]
mod tests {

    fn example_settings() -> AppSettings {
        AppSettings::new("example.com", "Example", vec!["https://example.com".into()])
    }

    /// A stored app row holding `settings`.
    fn app_row(settings: &AppSettings) -> App {
        App {
            id: "a".into(),
            name: "A".into(),
            settings: settings.to_stored().unwrap(),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn parsed_apps_are_reused_until_their_row_changes() {
        let settings = example_settings();
        let mut row = app_row(&settings);
        let apps = AppContexts::default();
        assert_eq!(apps.get(&row).unwrap().settings.rp_name, "Example");
        assert_eq!(apps.get(&row).unwrap().settings.rp_name, "Example");
        // Changed by another instance or the CLI: the next request sees the new row.
        let renamed = AppSettings {
            rp_name: "Renamed".into(),
            ..settings
        };
        row.settings = renamed.to_stored().unwrap();
        row.updated_at = 2;
        assert_eq!(apps.get(&row).unwrap().settings.rp_name, "Renamed");
        // A row that no longer parses is refused, not served from the cache.
        row.settings = "{not json".into();
        assert!(apps.get(&row).is_err());
    }

    #[test]
    fn peeking_parses_what_is_not_cached_without_caching_it() {
        let row = app_row(&example_settings());
        let apps = AppContexts::default();
        assert_eq!(apps.peek(&row).unwrap().settings.rp_name, "Example");
        assert!(apps.parsed.lock().unwrap().is_empty(), "peek adds nothing");
        apps.get(&row).unwrap();
        assert_eq!(apps.peek(&row).unwrap().settings.rp_name, "Example");
        let stale = App {
            settings: "{not json".into(),
            updated_at: 2,
            ..row
        };
        assert!(apps.peek(&stale).is_err(), "a changed row is parsed again");
    }

    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let s = AppSettings::new("localhost", "Demo", vec!["http://localhost:8080".into()]);
        s.validate().unwrap();
        let back = AppSettings::from_stored(&s.to_stored().unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.algorithms, vec![-7, -8, -35, -257, -37]);
    }

    #[test]
    fn validation_names_the_field() {
        let check = |f: fn(&mut AppSettings), field: &str| {
            let mut s = AppSettings::new("example.com", "Ex", vec!["https://example.com".into()]);
            f(&mut s);
            let e = s.validate().unwrap_err();
            assert_eq!(e.code, "invalid_request");
            assert!(e.message.starts_with(field), "{field}: {}", e.message);
        };
        check(|s| s.rp_id = "com".into(), "rp_id");
        check(|s| s.origins = vec![], "origins");
        check(
            |s| s.origins.push("http://example.com".into()),
            "origins[1]",
        );
        check(|s| s.origins = vec!["https://other.org".into()], "origins");
        check(|s| s.max_passkeys_per_user = 11, "max_passkeys_per_user");
        check(|s| s.max_passkeys_per_user = 0, "max_passkeys_per_user");
        check(|s| s.algorithms = vec![-7, 12345], "algorithms[1]");
        check(|s| s.challenge_ttl_seconds = 5, "challenge_ttl_seconds");
        check(|s| s.rp_name = " ".into(), "rp_name");
    }

    #[test]
    fn hostnames_become_rp_ids_and_origins() {
        assert_eq!(
            hostname_to_rp("example.com").unwrap(),
            ("example.com".into(), "https://example.com".into())
        );
        assert_eq!(
            hostname_to_rp("localhost:3000").unwrap(),
            ("localhost".into(), "http://localhost:3000".into())
        );
        assert!(hostname_to_rp("https://example.com").is_err());
        assert!(hostname_to_rp("com").is_err());
    }
}
