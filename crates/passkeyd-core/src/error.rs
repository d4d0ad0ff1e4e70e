//! The one error type of the verification core, with a stable machine code for every variant.

use std::fmt;

/// Why a ceremony, an option or a configuration value was refused.
///
/// Every variant has a stable snake_case [`Error::code`] that clients may match on, and a
/// message (its `Display`) for humans that says what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The response JSON does not have the shape of a `PublicKeyCredential`.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// The credential's `type` member is missing or not `public-key`.
    #[error("credential type is {seen}, expected \"public-key\"")]
    CredentialTypeInvalid { seen: String },
    /// `clientDataJSON` is not valid JSON with the required members.
    #[error("malformed client data: {0}")]
    MalformedClientData(String),
    /// `clientDataJSON.type` is not the one the ceremony needs.
    #[error("client data type is {seen:?}, expected {expected:?}")]
    ClientDataTypeMismatch {
        expected: &'static str,
        seen: String,
    },
    /// The challenge in `clientDataJSON` is not the one this ceremony issued.
    #[error("challenge in client data is {seen:?}, expected {expected:?}")]
    ChallengeMismatch { expected: String, seen: String },
    /// The origin in `clientDataJSON` is not one of the relying party's origins.
    #[error("origin {seen:?} is not allowed (allowed: {expected})")]
    OriginMismatch { expected: String, seen: String },
    /// The ceremony ran in a cross-origin iframe and the policy does not allow that top origin.
    #[error("cross-origin ceremony not allowed (top origin: {top_origin})")]
    CrossOriginNotAllowed { top_origin: String },
    /// The authenticator data is scoped to a different RP ID.
    #[error("rpIdHash is {seen}, expected SHA-256 of {expected:?}")]
    RpIdMismatch { expected: String, seen: String },
    /// The UP flag is not set.
    #[error("user presence flag (UP) is not set")]
    UserPresenceMissing,
    /// The UV flag is not set and the policy requires user verification.
    #[error("user verification is required but the UV flag is not set")]
    UserVerificationRequired,
    /// BS is set without BE, which no authenticator may do.
    #[error("backup state flag (BS) is set but backup eligibility (BE) is not")]
    BackupStateInvalid,
    /// The authenticator data cannot be decoded.
    #[error("malformed authenticator data: {0}")]
    MalformedAuthenticatorData(String),
    /// The attestation object cannot be decoded.
    #[error("malformed attestation object: {0}")]
    MalformedAttestationObject(String),
    /// The credential public key is not a valid COSE key.
    #[error("malformed public key: {0}")]
    MalformedPublicKey(String),
    /// The credential id is longer than the 1023 bytes the spec allows.
    #[error("credential id is {len} bytes long, at most 1023 are allowed")]
    CredentialIdTooLong { len: usize },
    /// The algorithm is one passkeyd cannot verify.
    #[error("algorithm {0} is not supported")]
    UnsupportedAlgorithm(i64),
    /// The credential's algorithm was not in the options' `pubKeyCredParams`.
    #[error("algorithm {alg} was not requested (requested: {requested})")]
    AlgorithmNotRequested { alg: i64, requested: String },
    /// The attestation statement format is not one passkeyd knows.
    #[error("attestation format {0:?} is not supported")]
    UnsupportedAttestationFormat(String),
    /// The attestation statement does not verify.
    #[error("attestation statement is invalid: {0}")]
    AttestationInvalid(String),
    /// The attestation is valid but does not chain to a configured trust anchor.
    #[error("attestation is not trusted: {0}")]
    AttestationUntrusted(String),
    /// The AAGUID in the attestation certificate differs from the one in authenticator data.
    #[error("AAGUID in the attestation certificate is {certificate}, authenticator data says {authenticator_data}")]
    AaguidMismatch {
        certificate: String,
        authenticator_data: String,
    },
    /// A certificate of the chain expired before `now`.
    #[error("certificate {subject:?} expired at {not_after} (unix), verification time is {now}")]
    CertificateExpired {
        subject: String,
        not_after: i64,
        now: i64,
    },
    /// A certificate of the chain is not valid yet at `now`.
    #[error("certificate {subject:?} is not valid before {not_before} (unix), verification time is {now}")]
    CertificateNotYetValid {
        subject: String,
        not_before: i64,
        now: i64,
    },
    /// A certificate cannot be parsed, or breaks a rule of its format or of the chain.
    #[error("certificate invalid: {0}")]
    CertificateInvalid(String),
    /// An android-safetynet statement failed one of the format's own checks.
    #[error("SafetyNet attestation refused: {0}")]
    SafetyNetInvalid(String),
    /// The signature does not verify with the credential's public key.
    #[error("signature does not verify with the credential's public key")]
    SignatureInvalid,
    /// The sign counter did not increase: the authenticator may have been cloned.
    #[error("sign counter is {seen}, stored counter is {stored}: it must increase")]
    CounterRollback { stored: u32, seen: u32 },
    /// The credential used is not one the options allowed.
    #[error("credential {0} is not in allowCredentials")]
    CredentialNotAllowed(String),
    /// The response's credential id is not the stored credential's id.
    #[error("credential id {seen} does not match the stored credential {expected}")]
    CredentialIdMismatch { expected: String, seen: String },
    /// The user handle is missing from, or differs in, the response.
    #[error("user handle mismatch: {0}")]
    UserHandleMismatch(String),
    /// An RP ID in configuration or options is not acceptable.
    #[error("invalid RP ID {value:?}: {reason}")]
    InvalidRpId { value: String, reason: &'static str },
    /// An origin in configuration is not acceptable.
    #[error("invalid origin {value:?}: {reason}")]
    InvalidOrigin { value: String, reason: &'static str },
    /// An option given to an options builder is out of range.
    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
}

impl Error {
    /// The stable machine code of this error (snake_case, never changes meaning).
    pub fn code(&self) -> &'static str {
        match self {
            Error::MalformedResponse(_) => "malformed_response",
            Error::CredentialTypeInvalid { .. } => "credential_type_invalid",
            Error::MalformedClientData(_) => "malformed_client_data",
            Error::ClientDataTypeMismatch { .. } => "client_data_type_mismatch",
            Error::ChallengeMismatch { .. } => "challenge_mismatch",
            Error::OriginMismatch { .. } => "origin_mismatch",
            Error::CrossOriginNotAllowed { .. } => "cross_origin_not_allowed",
            Error::RpIdMismatch { .. } => "rp_id_mismatch",
            Error::UserPresenceMissing => "user_presence_missing",
            Error::UserVerificationRequired => "user_verification_required",
            Error::BackupStateInvalid => "backup_state_invalid",
            Error::MalformedAuthenticatorData(_) => "malformed_authenticator_data",
            Error::MalformedAttestationObject(_) => "malformed_attestation_object",
            Error::MalformedPublicKey(_) => "malformed_public_key",
            Error::CredentialIdTooLong { .. } => "credential_id_too_long",
            Error::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Error::AlgorithmNotRequested { .. } => "algorithm_not_requested",
            Error::UnsupportedAttestationFormat(_) => "unsupported_attestation_format",
            Error::AttestationInvalid(_) => "attestation_invalid",
            Error::AttestationUntrusted(_) => "attestation_untrusted",
            Error::AaguidMismatch { .. } => "aaguid_mismatch",
            Error::CertificateExpired { .. } => "certificate_expired",
            Error::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Error::CertificateInvalid(_) => "certificate_invalid",
            Error::SafetyNetInvalid(_) => "safetynet_invalid",
            Error::SignatureInvalid => "signature_invalid",
            Error::CounterRollback { .. } => "counter_rollback",
            Error::CredentialNotAllowed(_) => "credential_not_allowed",
            Error::CredentialIdMismatch { .. } => "credential_id_mismatch",
            Error::UserHandleMismatch(_) => "user_handle_mismatch",
            Error::InvalidRpId { .. } => "invalid_rp_id",
            Error::InvalidOrigin { .. } => "invalid_origin",
            Error::InvalidOption { .. } => "invalid_option",
        }
    }

    /// Every code this type can produce, for documentation and for tests that keep the list honest.
    pub const CODES: &'static [&'static str] = &[
        "malformed_response",
        "credential_type_invalid",
        "malformed_client_data",
        "client_data_type_mismatch",
        "challenge_mismatch",
        "origin_mismatch",
        "cross_origin_not_allowed",
        "rp_id_mismatch",
        "user_presence_missing",
        "user_verification_required",
        "backup_state_invalid",
        "malformed_authenticator_data",
        "malformed_attestation_object",
        "malformed_public_key",
        "credential_id_too_long",
        "unsupported_algorithm",
        "algorithm_not_requested",
        "unsupported_attestation_format",
        "attestation_invalid",
        "attestation_untrusted",
        "aaguid_mismatch",
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_invalid",
        "safetynet_invalid",
        "signature_invalid",
        "counter_rollback",
        "credential_not_allowed",
        "credential_id_mismatch",
        "user_handle_mismatch",
        "invalid_rp_id",
        "invalid_origin",
        "invalid_option",
    ];
}

/// Shorthand for results of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Lower-case hex, used in messages about hashes and ids and by `passkeyd inspect`.
pub fn hex(bytes: &[u8]) -> String {
    struct Hex<'a>(&'a [u8]);
    impl fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for b in self.0 {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }
    Hex(bytes).to_string()
}
