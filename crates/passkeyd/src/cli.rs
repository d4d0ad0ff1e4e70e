//! The command line: clap definitions of every subcommand and the parsers that turn flag values
//! into core types, so that a bad value is a usage error (exit 2) before any input is read.

use clap::{Args, Parser, Subcommand};
use passkeyd_core::{b64, Algorithm, Challenge, CredentialPublicKey, Origin, RpId};
use std::path::PathBuf;

/// passkeyd: a self-hosted passkey (WebAuthn) server, and a debugger for WebAuthn responses.
#[derive(Debug, Parser)]
#[command(name = "passkeyd", version, about, long_about = None)]
pub struct Cli {
    /// Where options shared by every subcommand come from.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes (also as environment variables).
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Directory of the embedded SQLite database (default ./passkeyd-data).
    #[arg(long, global = true, env = "PASSKEYD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use PostgreSQL instead of SQLite: postgres://user@host:5432/database.
    #[arg(long, global = true, env = "PASSKEYD_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// A JSONC configuration file (apps, the default app's hostname and passkey limit).
    #[arg(long, global = true, env = "PASSKEYD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The top-level subcommands.
// The enum is made once per process from the command line; boxing its large variants would buy
// nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify a registration or authentication response read from stdin, as a relying party would.
    ///
    /// Prints one JSON object on stdout: {"verified": true, ...} and exit status 0, or
    /// {"verified": false, "error": {"code": "...", "message": "..."}} and exit status 1.
    /// Usage errors (bad flags, unreadable files) exit with status 2 and a message on stderr.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Decode any WebAuthn options or response JSON read from stdin.
    ///
    /// Recognises creation options (members rp and user), request options (challenge without
    /// rp), registration responses (response.attestationObject) and authentication responses
    /// (response.signature). A part that cannot be decoded is reported in its place and the rest
    /// is still decoded, and the exit status is 0. Input that is not JSON, or none of these,
    /// exits with status 1 and a message on stderr (with --json: {"error": {"code": "...",
    /// "message": "..."}} on stdout).
    Inspect(InspectArgs),
    /// Run the passkey server (default: 127.0.0.1:8080, SQLite under ./passkeyd-data, and a
    /// default app for http://localhost:8080).
    Serve(ServeArgs),
    /// Create, list, show, change and delete apps (relying parties with their policies).
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Create, list and revoke an app's secret API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Let people into the admin dashboard.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `passkeyd serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PASSKEYD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Log format: text or json (one JSON object per line, for log collectors).
    #[arg(long, env = "PASSKEYD_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Serve the admin dashboard and API on this address instead of under /admin on --listen.
    #[arg(long, env = "PASSKEYD_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<String>,

    /// The URL passkeyd is reached at (default http://localhost:<port>); admin passkeys are
    /// bound to it.
    #[arg(long, env = "PASSKEYD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

/// `passkeyd admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print a one-time link (valid one hour) where a new admin registers a passkey.
    Invite(AdminInviteArgs),
}

/// `passkeyd admin invite`
#[derive(Debug, Args)]
pub struct AdminInviteArgs {
    /// The new admin's name, shown in the dashboard and the audit log.
    #[arg(long)]
    pub name: Option<String>,
    /// The URL passkeyd is reached at, as given to `serve` (the link is printed on it).
    #[arg(long, env = "PASSKEYD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// `serve`'s --listen, when the public URL is the default.
    #[arg(long, env = "PASSKEYD_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// `serve`'s --admin-listen, when the public URL is the default.
    #[arg(long, env = "PASSKEYD_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd apps ...`
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an app and print it (with its id).
    Create(AppCreateArgs),
    /// List every app.
    List(JsonFlag),
    /// Show one app.
    Show(AppIdArgs),
    /// Change an app's settings; only the options given change.
    Update(AppUpdateArgs),
    /// Delete an app with all its users, passkeys and keys.
    Delete(AppIdArgs),
    /// Rotate the key that signs the app's session JWTs. Tokens signed with the old key stay
    /// verifiable (it stays in the JWKS) until they expire.
    RotateSigningKey(AppIdArgs),
}

/// `--json`
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON for a program instead of text for a human.
    #[arg(long)]
    pub json: bool,
}

/// An app id and `--json`.
#[derive(Debug, Args)]
pub struct AppIdArgs {
    /// The app's id.
    pub id: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// Settings an app is created or updated with.
#[derive(Debug, Args)]
pub struct AppSettingArgs {
    /// The RP ID: the domain passkeys are bound to (example.com).
    #[arg(long, value_name = "DOMAIN")]
    pub rp_id: Option<String>,
    /// The name authenticators show (default: the app's name).
    #[arg(long, value_name = "NAME")]
    pub rp_name: Option<String>,
    /// An origin ceremonies may run on (https://example.com); repeat for several. On update,
    /// the list given replaces the old one.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// required, preferred or discouraged.
    #[arg(long, value_name = "REQ")]
    pub user_verification: Option<String>,
    /// none, indirect, direct or enterprise.
    #[arg(long, value_name = "PREF")]
    pub attestation: Option<String>,
    /// required, preferred or discouraged.
    #[arg(long, value_name = "REQ")]
    pub resident_key: Option<String>,
    /// COSE algorithms to request, most preferred first (e.g. -7,-8,-257).
    #[arg(
        long,
        value_name = "ALGS",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub algorithms: Option<Vec<i64>>,
    /// reject (a counter that did not increase refuses the sign-in) or warn.
    #[arg(long, value_name = "POLICY")]
    pub counter_policy: Option<String>,
    /// any, or device_bound (refuse passkeys that can be synced).
    #[arg(long, value_name = "POLICY")]
    pub backup_policy: Option<String>,
    /// Passkeys a user may have, 1 to 10 (default 5).
    #[arg(long, value_name = "N")]
    pub max_passkeys_per_user: Option<u32>,
    /// Seconds a started ceremony stays usable, 30 to 3600 (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub challenge_ttl_seconds: Option<u32>,
    /// Browser sign-ins create sessions (a JWT and a refreshing session token): on or off.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub sessions: Option<String>,
    /// Seconds a session JWT is valid, 30 to 3600 (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub session_jwt_ttl_seconds: Option<u32>,
    /// Seconds a session lasts, 300 to 31536000 (default 7 days).
    #[arg(long, value_name = "SECONDS")]
    pub session_ttl_seconds: Option<u32>,
    /// How recent a passkey verification must be for a sensitive action, 30 to 86400 (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub reverification_seconds: Option<u32>,
    /// The sensitive actions, comma-separated: delete_passkey, create_passkey, rename_passkey
    /// (default delete_passkey; an empty value for none).
    #[arg(long, value_name = "ACTIONS", value_delimiter = ',')]
    pub reverification_required_for: Option<Vec<String>>,
}

/// `passkeyd apps create`
#[derive(Debug, Args)]
pub struct AppCreateArgs {
    /// The app's name.
    #[arg(long)]
    pub name: String,
    /// The app's id (a-z, 0-9, _ and -); default: a random one.
    #[arg(long)]
    pub id: Option<String>,
    #[command(flatten)]
    pub settings: AppSettingArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd apps update`
#[derive(Debug, Args)]
pub struct AppUpdateArgs {
    /// The app's id.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: AppSettingArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a secret key for an app and print it. It is shown this once: only its hash is kept.
    Create(KeyCreateArgs),
    /// List an app's keys (by prefix; the keys themselves are not kept).
    List(KeyListArgs),
    /// Revoke a key: it stops working at once.
    Revoke(KeyRevokeArgs),
}

/// `passkeyd keys create`
#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// The app the key acts for.
    #[arg(long)]
    pub app: String,
    /// A label, to remember where the key is used.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd keys list`
#[derive(Debug, Args)]
pub struct KeyListArgs {
    /// The app.
    #[arg(long)]
    pub app: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd keys revoke`
#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// The app.
    #[arg(long)]
    pub app: String,
    /// The key's id (from `keys list`).
    pub key_id: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `passkeyd verify ...`
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Verify a registration response (RegistrationResponseJSON, as
    /// PublicKeyCredential.toJSON() makes it) read from stdin.
    ///
    /// On success prints credential_id, public_key (COSE, base64url), alg, sign_count, aaguid,
    /// fmt, attestation_type, attestation_trusted, user_verified, backup_eligible, backup_state
    /// and transports.
    Registration(RegistrationArgs),
    /// Verify an authentication response (AuthenticationResponseJSON) read from stdin against
    /// a stored credential public key.
    ///
    /// The stored credential is taken to be the one the response names (its rawId). When the
    /// response carries a userHandle the sign-in is checked as a discoverable one for that
    /// user; otherwise as a username-first one. A sign counter that did not increase is not a
    /// refusal here: it is reported as "counter_rollback": true (the server can be set to
    /// refuse it instead). On success prints sign_count, user_verified, backup_eligible,
    /// backup_state and counter_rollback.
    Authentication(AuthenticationArgs),
}

/// What both ceremonies are verified against: the relying party and the issued challenge.
#[derive(Debug, Args)]
pub struct CeremonyArgs {
    /// The RP ID the credential is scoped to, e.g. example.com.
    #[arg(long, value_name = "RP_ID", value_parser = parse_rp_id)]
    pub rp_id: RpId,

    /// An origin the ceremony may come from, e.g. https://example.com or
    /// android:apk-key-hash:... (repeat for several).
    #[arg(long = "origin", value_name = "ORIGIN", required = true, value_parser = parse_origin)]
    pub origins: Vec<Origin>,

    /// The challenge the options carried, base64url (it may start with "-").
    #[arg(
        long,
        value_name = "B64URL",
        allow_hyphen_values = true,
        value_parser = parse_challenge
    )]
    pub challenge: Challenge,

    /// Refuse the response unless the authenticator verified the user (UV flag).
    #[arg(long)]
    pub require_uv: bool,

    /// The verification time, RFC 3339 (e.g. 2025-01-01T00:00:00Z); default: now.
    /// Registration checks attestation certificates' validity at this time; authentication
    /// involves no certificate, so there it is only checked for syntax.
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<i64>,
}

/// `passkeyd verify registration`
#[derive(Debug, Args)]
pub struct RegistrationArgs {
    #[command(flatten)]
    pub ceremony: CeremonyArgs,

    /// The COSE algorithms the options requested, comma-separated (e.g. -7,-8,-257);
    /// default: every algorithm passkeyd can verify.
    #[arg(
        long,
        value_name = "ALGS",
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_parser = parse_alg
    )]
    pub algs: Vec<Algorithm>,

    /// A PEM file of root certificates: the attestation chain must end at one of them
    /// (attestation_untrusted otherwise; none and self attestation, which have no chain, are
    /// refused too). Without it a valid chain to an unknown root is accepted and reported as
    /// "attestation_trusted": false.
    #[arg(long, value_name = "FILE.pem")]
    pub trust_roots: Option<PathBuf>,
}

/// `passkeyd verify authentication`
#[derive(Debug, Args)]
pub struct AuthenticationArgs {
    #[command(flatten)]
    pub ceremony: CeremonyArgs,

    /// The stored credential public key: the COSE_Key that registration returned, base64url.
    #[arg(
        long,
        value_name = "COSE_B64URL",
        allow_hyphen_values = true,
        value_parser = parse_public_key
    )]
    pub public_key: CredentialPublicKey,

    /// The stored sign counter (the last one seen). A response whose counter is not greater
    /// (a possible cloned authenticator) is reported as "counter_rollback": true, not refused.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sign_count: u32,
}

/// `passkeyd inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Print one JSON object for a program instead of indented text for a human.
    #[arg(long)]
    pub json: bool,
}

fn parse_rp_id(value: &str) -> Result<RpId, String> {
    RpId::parse(value).map_err(|e| e.to_string())
}

fn parse_origin(value: &str) -> Result<Origin, String> {
    Origin::parse(value).map_err(|e| e.to_string())
}

fn parse_challenge(value: &str) -> Result<Challenge, String> {
    let bytes = b64::decode(value).map_err(|e| format!("not base64url: {e}"))?;
    Challenge::issued(bytes).map_err(|e| e.to_string())
}

fn parse_now(value: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("not an RFC 3339 time such as 2025-01-01T00:00:00Z: {e}"))
}

fn parse_alg(value: &str) -> Result<Algorithm, String> {
    let id: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a COSE algorithm number such as -7"))?;
    Algorithm::from_cose_id(id).map_err(|e| e.to_string())
}

fn parse_public_key(value: &str) -> Result<CredentialPublicKey, String> {
    let bytes = b64::decode(value).map_err(|e| format!("not base64url: {e}"))?;
    CredentialPublicKey::from_cose(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "passkeyd",
            "verify",
            "registration",
            "--rp-id",
            "example.com",
            "--origin",
            "https://example.com",
            "--challenge",
            "-8AA",
            "--algs",
            "-7,-8",
        ])
        .unwrap();
        let Command::Verify(VerifyCommand::Registration(args)) = cli.command else {
            panic!("wrong subcommand");
        };
        assert_eq!(args.algs, vec![Algorithm::Es256, Algorithm::EdDsa]);
        assert_eq!(args.ceremony.challenge.as_bytes(), [0xfb, 0xc0, 0x00]);
    }

    #[test]
    fn refuses_bad_values() {
        assert!(parse_rp_id("com").is_err());
        assert!(parse_origin("http://example.com").is_err());
        assert!(parse_challenge("!!").is_err());
        assert!(parse_now("yesterday").is_err());
        assert_eq!(parse_now("1970-01-01T00:01:00Z").unwrap(), 60);
        assert!(parse_alg("-1234").is_err());
        assert!(parse_alg("x").is_err());
    }
}
