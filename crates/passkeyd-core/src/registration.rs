//! Registration ceremony verification (WebAuthn Level 3 §7.1).

use crate::attestation::{self, AttestationObject, AttestationPolicy, AttestationType};
use crate::auth_data::{format_aaguid, AuthenticatorData, Flags};
use crate::cert::UnixTime;
use crate::client_data::{CeremonyType, ClientData};
use crate::cose::Algorithm;
use crate::error::{hex, Error, Result};
use crate::options::{RegistrationState, UserVerification};
use crate::rp::{sha256, RelyingParty};
use crate::wire::RegistrationResponse;
use serde::Serialize;

/// The longest credential id the spec allows.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// What a caller needs to store after a successful registration.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedRegistration {
    /// The credential id (from authenticator data, which is signed; not from the unsigned `rawId`).
    #[serde(with = "crate::b64::serde_bytes")]
    pub credential_id: Vec<u8>,
    /// The credential public key, COSE_Key bytes as the authenticator wrote them.
    #[serde(with = "crate::b64::serde_bytes")]
    pub public_key: Vec<u8>,
    /// The key's algorithm.
    pub alg: Algorithm,
    /// The initial signature counter.
    pub sign_count: u32,
    /// The authenticator model, as a UUID string.
    pub aaguid: String,
    /// The attestation statement format.
    pub fmt: String,
    /// The attestation type established.
    pub attestation_type: AttestationType,
    /// Whether the attestation chain ends at a configured trust anchor.
    pub attestation_trusted: bool,
    /// The attestation certificates, leaf first (DER).
    #[serde(skip)]
    pub trust_path: Vec<Vec<u8>>,
    /// Whether the user was verified.
    pub user_verified: bool,
    /// Whether the credential may be synced (BE).
    pub backup_eligible: bool,
    /// Whether the credential is synced now (BS).
    pub backup_state: bool,
    /// Transports the browser reported.
    pub transports: Vec<String>,
    /// `credProps.rk`, when the browser reported it.
    pub discoverable: Option<bool>,
    /// `platform` or `cross-platform`, when the browser reported it.
    pub authenticator_attachment: Option<String>,
}

/// Verifies a registration response against the state kept from [`crate::registration_options`].
///
/// `now` (Unix seconds) is used only for certificate validity.
pub fn verify_registration(
    rp: &RelyingParty,
    state: &RegistrationState,
    policy: &AttestationPolicy,
    response: &RegistrationResponse,
    now: UnixTime,
) -> Result<VerifiedRegistration> {
    let client_data_json = &response.response.client_data_json.0;
    let client_data = ClientData::parse(client_data_json)?;
    client_data.check(CeremonyType::Create, state.challenge.as_bytes(), rp)?;
    let client_data_hash = sha256(client_data_json);

    let object = AttestationObject::parse(&response.response.attestation_object.0)?;
    let auth_data = AuthenticatorData::parse(&object.auth_data)?;
    check_flags(rp, &auth_data, state.user_verification, true)?;
    let credential = auth_data.attested.as_ref().ok_or_else(|| {
        Error::MalformedAuthenticatorData(
            "registration without attested credential data (AT is not set)".into(),
        )
    })?;
    if credential.credential_id.len() > MAX_CREDENTIAL_ID_LEN {
        return Err(Error::CredentialIdTooLong {
            len: credential.credential_id.len(),
        });
    }
    let alg = credential.public_key.alg;
    if !state.algorithms.contains(&alg) {
        return Err(Error::AlgorithmNotRequested {
            alg: alg.cose_id(),
            requested: state
                .algorithms
                .iter()
                .map(|a| a.cose_id().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let statement = attestation::verify(
        &object,
        &auth_data,
        credential,
        &client_data_hash,
        policy,
        now,
    )?;
    Ok(VerifiedRegistration {
        credential_id: credential.credential_id.to_vec(),
        public_key: credential.public_key_cose.to_vec(),
        alg,
        sign_count: auth_data.sign_count,
        aaguid: format_aaguid(&credential.aaguid),
        fmt: object.fmt.clone(),
        attestation_type: statement.ty,
        attestation_trusted: statement.trusted,
        trust_path: statement.trust_path,
        user_verified: auth_data.flags.user_verified(),
        backup_eligible: auth_data.flags.backup_eligible(),
        backup_state: auth_data.flags.backup_state(),
        transports: response.response.transports.clone().unwrap_or_default(),
        discoverable: response
            .client_extension_results
            .cred_props
            .as_ref()
            .and_then(|p| p.rk),
        authenticator_attachment: response.authenticator_attachment.clone(),
    })
}

/// The rpIdHash, UP, UV and BE/BS checks shared by both ceremonies.
pub(crate) fn check_flags(
    rp: &RelyingParty,
    auth_data: &AuthenticatorData<'_>,
    user_verification: UserVerification,
    require_user_presence: bool,
) -> Result<()> {
    if auth_data.rp_id_hash != rp.rp_id_hash() {
        return Err(Error::RpIdMismatch {
            expected: rp.rp_id().to_string(),
            seen: hex(auth_data.rp_id_hash),
        });
    }
    let flags: Flags = auth_data.flags;
    if require_user_presence && !flags.user_present() {
        return Err(Error::UserPresenceMissing);
    }
    if user_verification == UserVerification::Required && !flags.user_verified() {
        return Err(Error::UserVerificationRequired);
    }
    if flags.backup_state() && !flags.backup_eligible() {
        return Err(Error::BackupStateInvalid);
    }
    Ok(())
}
