//! Options builders: turn a relying party, a user and caller-supplied random bytes into the
//! options a browser needs and the state the caller must keep until the ceremony finishes.

use crate::b64::Base64UrlBytes;
use crate::cose::Algorithm;
use crate::error::{Error, Result};
use crate::rp::RelyingParty;
use crate::wire::{
    AuthenticatorSelection, CreationOptions, CredentialDescriptor, CredentialParameters,
    ExtensionInputs, RequestOptions, RpEntity, UserEntity, PUBLIC_KEY,
};
use serde::{Deserialize, Serialize};

/// A challenge: at least 16 random bytes, drawn by the caller (the core has no randomness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge(Base64UrlBytes);

impl Challenge {
    /// Wraps random bytes; fewer than 16 or more than 64 are refused.
    pub fn new(random: Vec<u8>) -> Result<Self> {
        if !(16..=64).contains(&random.len()) {
            return Err(Error::InvalidOption {
                name: "challenge",
                reason: format!("must be 16 to 64 random bytes, got {}", random.len()),
            });
        }
        Ok(Challenge(Base64UrlBytes(random)))
    }

    /// A challenge that someone else issued, to verify a response against (the debugger, tests).
    /// Only emptiness and absurd lengths are refused: the issuer's length rules are not ours.
    pub fn issued(bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > 1024 {
            return Err(Error::InvalidOption {
                name: "challenge",
                reason: format!("must be 1 to 1024 bytes, got {}", bytes.len()),
            });
        }
        Ok(Challenge(Base64UrlBytes(bytes)))
    }

    /// The challenge bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0 .0
    }
}

/// A user handle: opaque random bytes (1 to 64) that identify the user to authenticators.
/// Never an email or an external id, which authenticators may show or leak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserHandle(Base64UrlBytes);

impl UserHandle {
    /// Wraps random bytes; at least 16 (so it is unguessable) and at most 64 (the spec's limit).
    pub fn new(random: Vec<u8>) -> Result<Self> {
        if !(16..=64).contains(&random.len()) {
            return Err(Error::InvalidOption {
                name: "user_handle",
                reason: format!("must be 16 to 64 random bytes, got {}", random.len()),
            });
        }
        Ok(UserHandle(Base64UrlBytes(random)))
    }

    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0 .0
    }
}

/// `UserVerificationRequirement`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    /// The ceremony fails without UV.
    Required,
    /// UV if the authenticator can (the spec's default).
    #[default]
    Preferred,
    /// Do not ask for UV.
    Discouraged,
}

impl UserVerification {
    fn as_str(self) -> &'static str {
        match self {
            UserVerification::Required => "required",
            UserVerification::Preferred => "preferred",
            UserVerification::Discouraged => "discouraged",
        }
    }
}

/// `ResidentKeyRequirement`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidentKey {
    /// A discoverable credential is required (a passkey).
    #[default]
    Required,
    /// Discoverable if possible.
    Preferred,
    /// Server-side credential preferred.
    Discouraged,
}

/// `AuthenticatorAttachment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attachment {
    /// Built into the device (Touch ID, Windows Hello, Android).
    Platform,
    /// Roaming (security keys, phones over hybrid).
    CrossPlatform,
}

/// `AttestationConveyancePreference`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationPreference {
    /// No attestation (the default: passkeys rarely attest).
    #[default]
    None,
    /// Attestation, possibly anonymised.
    Indirect,
    /// The authenticator's own attestation.
    Direct,
    /// Enterprise attestation that identifies the device.
    Enterprise,
}

/// `PublicKeyCredentialHint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hint {
    /// A security key.
    SecurityKey,
    /// The device itself.
    ClientDevice,
    /// A phone over hybrid transport.
    Hybrid,
}

fn to_json_str<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Everything a registration's options may say beyond the RP, user and challenge.
#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    /// Requested algorithms, most preferred first.
    pub algorithms: Vec<Algorithm>,
    /// Milliseconds the browser may wait.
    pub timeout_ms: Option<u32>,
    /// The user's existing credentials.
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Platform or roaming, if it matters.
    pub attachment: Option<Attachment>,
    /// Discoverable credential requirement.
    pub resident_key: ResidentKey,
    /// User verification requirement.
    pub user_verification: UserVerification,
    /// Attestation conveyance.
    pub attestation: AttestationPreference,
    /// UI hints.
    pub hints: Vec<Hint>,
    /// Ask for the `credProps` extension.
    pub cred_props: bool,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        RegistrationSettings {
            algorithms: Algorithm::DEFAULT_REQUESTED.to_vec(),
            timeout_ms: Some(300_000),
            exclude_credentials: Vec::new(),
            attachment: None,
            resident_key: ResidentKey::Required,
            user_verification: UserVerification::Preferred,
            attestation: AttestationPreference::None,
            hints: Vec::new(),
            cred_props: true,
        }
    }
}

/// What the caller keeps between starting and finishing a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationState {
    /// The challenge sent.
    pub challenge: Challenge,
    /// The user handle sent.
    pub user_handle: UserHandle,
    /// The algorithms requested.
    pub algorithms: Vec<Algorithm>,
    /// The user verification requirement.
    pub user_verification: UserVerification,
}

/// The user a registration is for.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// The random handle (stored with the user, reused for every credential of theirs).
    pub handle: UserHandle,
    /// Account name shown by the authenticator.
    pub name: &'a str,
    /// Friendly name.
    pub display_name: &'a str,
}

/// Builds creation options and the state to keep.
pub fn registration_options(
    rp: &RelyingParty,
    rp_name: &str,
    user: NewUser<'_>,
    challenge: Challenge,
    settings: &RegistrationSettings,
) -> Result<(CreationOptions, RegistrationState)> {
    if settings.algorithms.is_empty() {
        return Err(Error::InvalidOption {
            name: "algorithms",
            reason: "at least one algorithm is required".into(),
        });
    }
    if user.name.is_empty() {
        return Err(Error::InvalidOption {
            name: "user.name",
            reason: "must not be empty".into(),
        });
    }
    let options = CreationOptions {
        rp: RpEntity {
            id: rp.rp_id().as_str().to_owned(),
            name: rp_name.to_owned(),
        },
        user: UserEntity {
            id: user.handle.0.clone(),
            name: user.name.to_owned(),
            display_name: if user.display_name.is_empty() {
                user.name
            } else {
                user.display_name
            }
            .to_owned(),
        },
        challenge: challenge.0.clone(),
        pub_key_cred_params: settings
            .algorithms
            .iter()
            .map(|a| CredentialParameters {
                ty: PUBLIC_KEY.to_owned(),
                alg: a.cose_id(),
            })
            .collect(),
        timeout: settings.timeout_ms,
        exclude_credentials: settings.exclude_credentials.clone(),
        authenticator_selection: Some(AuthenticatorSelection {
            authenticator_attachment: settings.attachment.map(to_json_str),
            resident_key: Some(to_json_str(settings.resident_key)),
            require_resident_key: settings.resident_key == ResidentKey::Required,
            user_verification: Some(settings.user_verification.as_str().to_owned()),
        }),
        hints: settings.hints.iter().map(|h| to_json_str(*h)).collect(),
        attestation: Some(to_json_str(settings.attestation)),
        extensions: settings.cred_props.then_some(ExtensionInputs {
            cred_props: Some(true),
        }),
    };
    let state = RegistrationState {
        challenge,
        user_handle: user.handle,
        algorithms: settings.algorithms.clone(),
        user_verification: settings.user_verification,
    };
    Ok((options, state))
}

/// Everything an authentication's options may say beyond the challenge.
#[derive(Debug, Clone)]
pub struct AuthenticationSettings {
    /// Milliseconds the browser may wait.
    pub timeout_ms: Option<u32>,
    /// User verification requirement.
    pub user_verification: UserVerification,
    /// UI hints.
    pub hints: Vec<Hint>,
}

impl Default for AuthenticationSettings {
    fn default() -> Self {
        AuthenticationSettings {
            timeout_ms: Some(300_000),
            user_verification: UserVerification::Preferred,
            hints: Vec::new(),
        }
    }
}

/// Who is signing in.
#[derive(Debug, Clone)]
pub enum SignInUser {
    /// Username-first: this user's handle and credentials (allowCredentials lists them).
    Known {
        /// The user's handle.
        handle: UserHandle,
        /// The user's credentials.
        credentials: Vec<CredentialDescriptor>,
    },
    /// Discoverable (or autofill): the authenticator picks the account.
    Discoverable,
}

/// What the caller keeps between starting and finishing an authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationState {
    /// The challenge sent.
    pub challenge: Challenge,
    /// The user handle when the user was identified before the ceremony.
    pub user_handle: Option<UserHandle>,
    /// The credential ids allowed (empty for discoverable).
    pub allow_credentials: Vec<Base64UrlBytes>,
    /// The user verification requirement.
    pub user_verification: UserVerification,
}

/// Builds request options and the state to keep.
pub fn authentication_options(
    rp: &RelyingParty,
    user: SignInUser,
    challenge: Challenge,
    settings: &AuthenticationSettings,
) -> Result<(RequestOptions, AuthenticationState)> {
    let (handle, allow) = match user {
        SignInUser::Known {
            handle,
            credentials,
        } => {
            if credentials.is_empty() {
                return Err(Error::InvalidOption {
                    name: "allow_credentials",
                    reason: "a known user needs at least one credential".into(),
                });
            }
            (Some(handle), credentials)
        }
        SignInUser::Discoverable => (None, Vec::new()),
    };
    let options = RequestOptions {
        challenge: challenge.0.clone(),
        timeout: settings.timeout_ms,
        rp_id: Some(rp.rp_id().as_str().to_owned()),
        allow_credentials: allow.clone(),
        user_verification: Some(settings.user_verification.as_str().to_owned()),
        hints: settings.hints.iter().map(|h| to_json_str(*h)).collect(),
        extensions: None,
    };
    let state = AuthenticationState {
        challenge,
        user_handle: handle,
        allow_credentials: allow.into_iter().map(|d| d.id).collect(),
        user_verification: settings.user_verification,
    };
    Ok((options, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rp::{Origin, RpId};

    fn rp() -> RelyingParty {
        RelyingParty::new(
            RpId::parse("example.com").unwrap(),
            vec![Origin::parse("https://example.com").unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn creation_options_json_shape() {
        let settings = RegistrationSettings {
            exclude_credentials: vec![CredentialDescriptor::new(vec![1, 2, 3], vec!["usb".into()])],
            hints: vec![Hint::SecurityKey],
            attachment: Some(Attachment::CrossPlatform),
            ..Default::default()
        };
        let user = NewUser {
            handle: UserHandle::new(vec![9; 32]).unwrap(),
            name: "ada",
            display_name: "",
        };
        let (options, state) = registration_options(
            &rp(),
            "Example",
            user,
            Challenge::new(vec![1; 32]).unwrap(),
            &settings,
        )
        .unwrap();
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(
            json["rp"],
            serde_json::json!({"id": "example.com", "name": "Example"})
        );
        assert_eq!(json["user"]["id"], crate::b64::encode(&[9; 32]));
        assert_eq!(json["user"]["displayName"], "ada");
        assert_eq!(json["challenge"], crate::b64::encode(&[1; 32]));
        let algs: Vec<i64> = json["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["alg"].as_i64().unwrap())
            .collect();
        assert_eq!(algs, vec![-7, -8, -35, -257, -37]);
        assert!(json["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] == "public-key"));
        assert_eq!(
            json["excludeCredentials"][0],
            serde_json::json!({"type": "public-key", "id": "AQID", "transports": ["usb"]})
        );
        assert_eq!(
            json["authenticatorSelection"],
            serde_json::json!({"authenticatorAttachment": "cross-platform", "residentKey": "required", "requireResidentKey": true, "userVerification": "preferred"})
        );
        assert_eq!(json["hints"], serde_json::json!(["security-key"]));
        assert_eq!(json["attestation"], "none");
        assert_eq!(json["extensions"], serde_json::json!({"credProps": true}));
        assert_eq!(json["timeout"], 300000);
        assert_eq!(state.algorithms.len(), 5);
        let back: CreationOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, options);
    }

    #[test]
    fn request_options_json_shape() {
        let user = SignInUser::Known {
            handle: UserHandle::new(vec![9; 16]).unwrap(),
            credentials: vec![CredentialDescriptor::new(
                vec![7; 4],
                vec!["internal".into(), "hybrid".into()],
            )],
        };
        let (options, state) = authentication_options(
            &rp(),
            user,
            Challenge::new(vec![2; 16]).unwrap(),
            &AuthenticationSettings::default(),
        )
        .unwrap();
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(json["rpId"], "example.com");
        assert_eq!(
            json["allowCredentials"][0]["transports"],
            serde_json::json!(["internal", "hybrid"])
        );
        assert_eq!(json["userVerification"], "preferred");
        assert_eq!(state.allow_credentials.len(), 1);
        let (options, state) = authentication_options(
            &rp(),
            SignInUser::Discoverable,
            Challenge::new(vec![2; 16]).unwrap(),
            &AuthenticationSettings::default(),
        )
        .unwrap();
        assert!(options.allow_credentials.is_empty() && state.user_handle.is_none());
    }

    #[test]
    fn refuses_weak_randomness() {
        assert_eq!(
            Challenge::new(vec![0; 8]).unwrap_err().code(),
            "invalid_option"
        );
        assert_eq!(
            UserHandle::new(vec![0; 65]).unwrap_err().code(),
            "invalid_option"
        );
    }
}
