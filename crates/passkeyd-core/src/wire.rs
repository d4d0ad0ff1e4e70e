//! WebAuthn Level 3 JSON wire types: what browsers send (`PublicKeyCredential.toJSON()`) and
//! what `parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` accept.

use crate::b64::Base64UrlBytes;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// `PublicKeyCredentialType`; WebAuthn knows only `public-key`.
pub const PUBLIC_KEY: &str = "public-key";

/// Client extension outputs passkeyd reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientExtensionResults {
    /// `credProps` output: whether the credential is discoverable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<CredProps>,
}

/// The `credProps` extension output.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CredProps {
    /// Whether the credential is a discoverable credential (resident key).
    #[serde(default)]
    pub rk: Option<bool>,
}

/// `RegistrationResponseJSON`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponse {
    /// The credential id, base64url.
    pub id: String,
    /// The credential id, raw.
    pub raw_id: Base64UrlBytes,
    /// The attestation response.
    pub response: AttestationResponse,
    /// `platform` or `cross-platform`, when the browser says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Extension outputs.
    #[serde(default)]
    pub client_extension_results: ClientExtensionResults,
    /// Always `public-key` (checked by [`RegistrationResponse::from_json`]).
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
}

/// `AuthenticatorAttestationResponseJSON`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponse {
    /// The client data, as signed.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The CBOR attestation object.
    pub attestation_object: Base64UrlBytes,
    /// Transports the authenticator says it can use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    /// A copy of the authenticator data (convenience member; the attestation object is authoritative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<Base64UrlBytes>,
    /// The credential public key as SubjectPublicKeyInfo (convenience member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<Base64UrlBytes>,
    /// The credential's COSE algorithm (convenience member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
}

/// `AuthenticationResponseJSON`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponse {
    /// The credential id, base64url.
    pub id: String,
    /// The credential id, raw.
    pub raw_id: Base64UrlBytes,
    /// The assertion.
    pub response: AssertionResponse,
    /// `platform` or `cross-platform`, when the browser says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Extension outputs.
    #[serde(default)]
    pub client_extension_results: ClientExtensionResults,
    /// Always `public-key` (checked by [`AuthenticationResponse::from_json`]).
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponse {
    /// The client data, as signed.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The authenticator data, as signed.
    pub authenticator_data: Base64UrlBytes,
    /// The signature over authenticatorData || SHA-256(clientDataJSON).
    pub signature: Base64UrlBytes,
    /// The user handle stored with a discoverable credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<Base64UrlBytes>,
}

impl RegistrationResponse {
    /// Parses registration response JSON; any shape error becomes `malformed_response`.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let r: Self =
            serde_json::from_slice(json).map_err(|e| Error::MalformedResponse(e.to_string()))?;
        check_credential_type(r.ty.as_deref())?;
        Ok(r)
    }
}

impl AuthenticationResponse {
    /// Parses authentication response JSON; any shape error becomes `malformed_response`.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let r: Self =
            serde_json::from_slice(json).map_err(|e| Error::MalformedResponse(e.to_string()))?;
        check_credential_type(r.ty.as_deref())?;
        Ok(r)
    }

    /// The credential id the response claims, for looking up the stored credential.
    pub fn credential_id(&self) -> &[u8] {
        &self.raw_id.0
    }

    /// The user handle, if the response carries one; an empty one (how some clients say
    /// "none") counts as absent.
    pub fn user_handle(&self) -> Option<&[u8]> {
        self.response
            .user_handle
            .as_ref()
            .map(|h| h.0.as_slice())
            .filter(|h| !h.is_empty())
    }
}

fn check_credential_type(ty: Option<&str>) -> Result<()> {
    match ty {
        Some(PUBLIC_KEY) => Ok(()),
        other => Err(Error::CredentialTypeInvalid {
            seen: other.map_or_else(|| "(missing)".to_owned(), |t| format!("{t:?}")),
        }),
    }
}

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RpEntity {
    /// The RP ID.
    pub id: String,
    /// A name for people.
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// The user handle: opaque random bytes, never an email or external id.
    pub id: Base64UrlBytes,
    /// The account name (username or email) shown by the authenticator.
    pub name: String,
    /// A friendly name.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialParameters {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub ty: String,
    /// A COSE algorithm identifier.
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialDescriptor {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The credential id.
    pub id: Base64UrlBytes,
    /// Transport hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

impl CredentialDescriptor {
    /// A descriptor for a credential id and its transports.
    pub fn new(id: Vec<u8>, transports: Vec<String>) -> Self {
        CredentialDescriptor {
            ty: PUBLIC_KEY.to_owned(),
            id: Base64UrlBytes(id),
            transports,
        }
    }
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `platform` or `cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// `discouraged`, `preferred` or `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    /// Level 1 spelling of `residentKey: required`, kept for older browsers.
    #[serde(default)]
    pub require_resident_key: bool,
    /// `discouraged`, `preferred` or `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// Extension inputs passkeyd sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionInputs {
    /// Ask whether the credential is discoverable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_props: Option<bool>,
}

/// `PublicKeyCredentialCreationOptionsJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    /// The relying party.
    pub rp: RpEntity,
    /// The user.
    pub user: UserEntity,
    /// The challenge.
    pub challenge: Base64UrlBytes,
    /// Acceptable algorithms, most preferred first.
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// Milliseconds the browser may wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Credentials the user already has, so the authenticator does not make a second one.
    #[serde(default)]
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// Which authenticators may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    /// `security-key`, `client-device` or `hybrid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// `none`, `indirect`, `direct` or `enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<ExtensionInputs>,
}

/// `PublicKeyCredentialRequestOptionsJSON`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    /// The challenge.
    pub challenge: Base64UrlBytes,
    /// Milliseconds the browser may wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// The RP ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// Credentials that may answer; empty for a discoverable sign-in.
    #[serde(default)]
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// `discouraged`, `preferred` or `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// `security-key`, `client-device` or `hybrid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// Extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<ExtensionInputs>,
}
