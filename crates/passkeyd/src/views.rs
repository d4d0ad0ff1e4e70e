//! What the API shows of stored things: users, passkeys, apps and keys as JSON, with times in
//! RFC 3339 and binary values in base64url. Secrets and key material never appear here.

use crate::authenticators;
use crate::settings::AppSettings;
use passkeyd_core::b64;
use passkeyd_store::{ApiKey, App, Millis, Passkey, User};
use serde::Serialize;
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// RFC 3339 in UTC with millisecond precision.
pub fn timestamp(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The app's identifier for the user.
    pub external_id: String,
    /// Account name shown by authenticators.
    pub username: Option<String>,
    /// Friendly name.
    pub display_name: Option<String>,
    /// When created (RFC 3339).
    pub created_at: String,
    /// When last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            external_id: u.external_id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            created_at: timestamp(u.created_at),
            updated_at: timestamp(u.updated_at),
        }
    }
}

/// Names of authenticator models: the built-in table, extended (or overridden) by configuration.
#[derive(Debug, Clone, Default)]
pub struct AuthenticatorNames {
    extra: HashMap<String, String>,
}

impl AuthenticatorNames {
    /// The table with `extra` entries (AAGUID, lower-case hyphenated, to name) on top.
    pub fn new(extra: HashMap<String, String>) -> Self {
        AuthenticatorNames {
            extra: extra
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }

    /// The model name for an AAGUID, if known.
    pub fn name(&self, aaguid: &str) -> Option<&str> {
        self.extra
            .get(aaguid)
            .map(String::as_str)
            .or_else(|| authenticators::builtin_name(aaguid))
    }
}

/// A passkey.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    /// Passkey id.
    pub id: String,
    /// The owner's external id.
    pub external_id: String,
    /// The name shown to the user: the chosen one, or the one made from the authenticator model.
    pub name: String,
    /// Whether `name` was chosen (rather than generated).
    pub name_is_custom: bool,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The authenticator model (AAGUID).
    pub aaguid: String,
    /// The model's name, when the AAGUID is known.
    pub authenticator_name: Option<String>,
    /// Transports the browser reported (`internal`, `hybrid`, `usb`, `nfc`, `ble`).
    pub transports: Vec<String>,
    /// Whether the passkey may be synced between devices (BE).
    pub backup_eligible: bool,
    /// Whether it is synced now (BS, as last seen).
    pub backup_state: bool,
    /// Whether the user was verified when it was registered.
    pub user_verified: bool,
    /// Whether the authenticator reported it as discoverable (`credProps.rk`), when it did.
    pub discoverable: Option<bool>,
    /// `platform` or `cross-platform`, when reported.
    pub authenticator_attachment: Option<String>,
    /// The attestation statement format (`none`, `packed`, ...).
    pub attestation_format: String,
    /// The attestation type (`none`, `self`, `basic`, `attca`, `anonca`).
    pub attestation_type: String,
    /// The COSE algorithm of the key.
    pub algorithm: i64,
    /// The signature counter as last seen (0 for most passkeys, which do not count).
    pub sign_count: i64,
    /// When registered (RFC 3339).
    pub created_at: String,
    /// When last changed (RFC 3339).
    pub updated_at: String,
    /// When last used to sign in (RFC 3339).
    pub last_used_at: Option<String>,
}

impl PasskeyView {
    /// The view of a stored passkey.
    pub fn new(p: &Passkey, names: &AuthenticatorNames) -> Self {
        PasskeyView {
            id: p.id.clone(),
            external_id: p.user_external_id.clone(),
            name: p.display_name().to_owned(),
            name_is_custom: p.name.is_some(),
            credential_id: b64::encode(&p.credential_id),
            aaguid: p.aaguid.clone(),
            authenticator_name: names.name(&p.aaguid).map(str::to_owned),
            transports: p.transports.clone(),
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            user_verified: p.user_verified,
            discoverable: p.discoverable,
            authenticator_attachment: p.attachment.clone(),
            attestation_format: p.attestation_format.clone(),
            attestation_type: p.attestation_type.clone(),
            algorithm: p.alg,
            sign_count: p.sign_count,
            created_at: timestamp(p.created_at),
            updated_at: timestamp(p.updated_at),
            last_used_at: p.last_used_at.map(timestamp),
        }
    }
}

/// An app, with its settings.
#[derive(Debug, Serialize)]
pub struct AppView {
    /// Public id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Settings.
    #[serde(flatten)]
    pub settings: AppSettings,
    /// When created (RFC 3339).
    pub created_at: String,
    /// When last changed (RFC 3339).
    pub updated_at: String,
}

impl AppView {
    /// The view of an app whose settings were parsed.
    pub fn new(app: &App, settings: AppSettings) -> Self {
        AppView {
            id: app.id.clone(),
            name: app.name.clone(),
            settings,
            created_at: timestamp(app.created_at),
            updated_at: timestamp(app.updated_at),
        }
    }
}

/// An API key, without its secret.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// Key id.
    pub id: String,
    /// The app.
    pub app_id: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Label.
    pub name: Option<String>,
    /// When created (RFC 3339).
    pub created_at: String,
    /// When last used (RFC 3339, updated at most once a minute).
    pub last_used_at: Option<String>,
    /// When revoked (RFC 3339).
    pub revoked_at: Option<String>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        KeyView {
            id: k.id.clone(),
            app_id: k.app_id.clone(),
            prefix: k.prefix.clone(),
            name: k.name.clone(),
            created_at: timestamp(k.created_at),
            last_used_at: k.last_used_at.map(timestamp),
            revoked_at: k.revoked_at.map(timestamp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
