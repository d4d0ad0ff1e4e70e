//! Attestation objects and statements: decoding, dispatch to each format, and the trust decision.

mod android_key;
mod apple;
mod fido_u2f;
mod packed;
mod safetynet;
mod tpm;

use crate::auth_data::{AttestedCredential, AuthenticatorData};
use crate::cert::{verify_chain, Certificate, TrustAnchors, UnixTime};
use crate::error::{Error, Result};
use ciborium::Value;
use serde::{Deserialize, Serialize};

/// The attestation type a verified statement establishes (WebAuthn §6.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationType {
    /// No attestation statement.
    None,
    /// Signed by the credential key itself.
    #[serde(rename = "self")]
    SelfAttestation,
    /// Signed by an attestation key whose certificate names the authenticator model.
    Basic,
    /// Signed by a key certified by an attestation CA (TPM).
    AttCa,
    /// Signed by an anonymisation CA (Apple).
    AnonCa,
}

/// What the relying party requires of attestation.
#[derive(Debug, Clone)]
pub struct AttestationPolicy {
    /// Roots attestation chains may end at.
    pub trust_anchors: Option<TrustAnchors>,
    /// Refuse registrations whose attestation does not chain to a trust anchor
    /// (including `none` and self attestation).
    pub require_trusted: bool,
    /// SafetyNet: refuse statements whose `ctsProfileMatch` is false.
    pub safetynet_require_cts_profile_match: bool,
    /// SafetyNet: how old (in seconds) the statement's timestamp may be at `now`; `None` skips the check.
    pub safetynet_max_age_seconds: Option<i64>,
    /// android-key: accept keys whose origin and purpose are only software-enforced.
    pub android_key_allow_software: bool,
}

impl Default for AttestationPolicy {
    fn default() -> Self {
        AttestationPolicy {
            trust_anchors: None,
            require_trusted: false,
            safetynet_require_cts_profile_match: true,
            safetynet_max_age_seconds: Some(60),
            android_key_allow_software: true,
        }
    }
}

/// A decoded attestation object.
#[derive(Debug, Clone)]
pub struct AttestationObject {
    /// The statement format identifier.
    pub fmt: String,
    /// The statement, as a CBOR map.
    pub att_stmt: Vec<(Value, Value)>,
    /// The authenticator data bytes.
    pub auth_data: Vec<u8>,
}

impl AttestationObject {
    /// Decodes the CBOR attestation object.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let malformed = |m: String| Error::MalformedAttestationObject(m);
        let mut reader = bytes;
        let value: Value = ciborium::de::from_reader(&mut reader)
            .map_err(|e| malformed(format!("not CBOR: {e}")))?;
        if !reader.is_empty() {
            return Err(malformed(format!(
                "{} bytes after the attestation object",
                reader.len()
            )));
        }
        let Value::Map(entries) = value else {
            return Err(malformed("not a CBOR map".into()));
        };
        let (mut fmt, mut att_stmt, mut auth_data) = (None, None, None);
        for (k, v) in entries {
            match (k.as_text(), v) {
                (Some("fmt"), Value::Text(t)) => fmt = Some(t),
                (Some("attStmt"), Value::Map(m)) => att_stmt = Some(m),
                (Some("authData"), Value::Bytes(b)) => auth_data = Some(b),
                (Some(key @ ("fmt" | "attStmt" | "authData")), _) => {
                    return Err(malformed(format!("{key} has the wrong type")))
                }
                _ => {}
            }
        }
        Ok(AttestationObject {
            fmt: fmt.ok_or_else(|| malformed("fmt is missing".into()))?,
            att_stmt: att_stmt.ok_or_else(|| malformed("attStmt is missing".into()))?,
            auth_data: auth_data.ok_or_else(|| malformed("authData is missing".into()))?,
        })
    }

    /// The certificates of the statement, for display: `x5c`, or SafetyNet's JWS header chain.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        let stmt = Statement(&self.att_stmt);
        if let Ok(Some(x5c)) = stmt.x5c() {
            return x5c.into_iter().map(<[u8]>::to_vec).collect();
        }
        safetynet::chain_for_display(&stmt)
    }
}

/// A verified statement.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedStatement {
    pub ty: AttestationType,
    pub trust_path: Vec<Vec<u8>>,
    pub trusted: bool,
}

/// Inputs shared by every format.
pub(crate) struct Context<'a, 'b> {
    pub stmt: Statement<'b>,
    pub auth_data: &'b AuthenticatorData<'a>,
    pub credential: &'b AttestedCredential<'a>,
    pub client_data_hash: &'b [u8; 32],
    pub policy: &'b AttestationPolicy,
    pub now: UnixTime,
}

impl Context<'_, '_> {
    /// authenticatorData || clientDataHash, what most formats sign.
    pub fn signed_data(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(self.auth_data.raw.len() + 32);
        data.extend_from_slice(self.auth_data.raw);
        data.extend_from_slice(self.client_data_hash);
        data
    }
}

/// Verifies the statement for its format, then the chain and the trust decision.
pub(crate) fn verify(
    object: &AttestationObject,
    auth_data: &AuthenticatorData<'_>,
    credential: &AttestedCredential<'_>,
    client_data_hash: &[u8; 32],
    policy: &AttestationPolicy,
    now: UnixTime,
) -> Result<VerifiedStatement> {
    let ctx = Context {
        stmt: Statement(&object.att_stmt),
        auth_data,
        credential,
        client_data_hash,
        policy,
        now,
    };
    let (ty, chain) = match object.fmt.as_str() {
        "none" => {
            if !object.att_stmt.is_empty() {
                return Err(Error::AttestationInvalid(
                    "a none statement must be an empty map".into(),
                ));
            }
            (AttestationType::None, Vec::new())
        }
        "packed" => packed::verify(&ctx)?,
        "fido-u2f" => fido_u2f::verify(&ctx)?,
        "tpm" => tpm::verify(&ctx)?,
        "android-key" => android_key::verify(&ctx)?,
        "apple" => apple::verify(&ctx)?,
        "android-safetynet" => safetynet::verify(&ctx)?,
        other => return Err(Error::UnsupportedAttestationFormat(other.to_owned())),
    };
    let trusted = if chain.is_empty() {
        false
    } else {
        let certs = chain
            .iter()
            .map(|der| Certificate::parse(der))
            .collect::<Result<Vec<_>>>()?;
        verify_chain(&certs, policy.trust_anchors.as_ref(), now)?
    };
    if policy.require_trusted && !trusted {
        return Err(Error::AttestationUntrusted(if chain.is_empty() {
            format!("{} attestation proves nothing about the authenticator, and trusted attestation is required", object.fmt)
        } else {
            "the certificate chain does not end at a configured trust anchor".into()
        }));
    }
    Ok(VerifiedStatement {
        ty,
        trust_path: chain,
        trusted,
    })
}

/// Typed access to an attestation statement map.
#[derive(Clone, Copy)]
pub(crate) struct Statement<'a>(pub &'a [(Value, Value)]);

impl<'a> Statement<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    pub fn int(&self, key: &str) -> Result<i64> {
        self.get(key)
            .and_then(Value::as_integer)
            .and_then(|i| i64::try_from(i).ok())
            .ok_or_else(|| {
                Error::AttestationInvalid(format!("attStmt.{key} is missing or not an integer"))
            })
    }

    pub fn bytes(&self, key: &str) -> Result<&'a [u8]> {
        self.get(key)
            .and_then(Value::as_bytes)
            .map(Vec::as_slice)
            .ok_or_else(|| {
                Error::AttestationInvalid(format!("attStmt.{key} is missing or not bytes"))
            })
    }

    pub fn text(&self, key: &str) -> Result<&'a str> {
        self.get(key).and_then(Value::as_text).ok_or_else(|| {
            Error::AttestationInvalid(format!("attStmt.{key} is missing or not text"))
        })
    }

    /// The `x5c` array: `None` when absent, an error when present but not a non-empty array of bytes.
    pub fn x5c(&self) -> Result<Option<Vec<&'a [u8]>>> {
        let Some(value) = self.get("x5c") else {
            return Ok(None);
        };
        let array = value
            .as_array()
            .ok_or_else(|| Error::AttestationInvalid("attStmt.x5c is not an array".into()))?;
        if array.is_empty() {
            return Err(Error::AttestationInvalid("attStmt.x5c is empty".into()));
        }
        array
            .iter()
            .map(|v| {
                v.as_bytes().map(Vec::as_slice).ok_or_else(|| {
                    Error::AttestationInvalid("attStmt.x5c holds a non-bytes item".into())
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The `x5c` array, required.
    pub fn x5c_required(&self) -> Result<Vec<&'a [u8]>> {
        self.x5c()?
            .ok_or_else(|| Error::AttestationInvalid("attStmt.x5c is missing".into()))
    }
}

/// The FIDO AAGUID extension (id-fido-gen-ce-aaguid): when present it must not be critical and
/// must hold the AAGUID of authenticator data.
pub(crate) fn check_aaguid_extension(cert: &Certificate<'_>, aaguid: &[u8; 16]) -> Result<()> {
    let Some((value, critical)) = cert.extension("1.3.6.1.4.1.45724.1.1.4") else {
        return Ok(());
    };
    if critical {
        return Err(Error::AttestationInvalid(
            "the AAGUID extension must not be critical".into(),
        ));
    }
    // The extension value is an OCTET STRING holding the 16 bytes.
    let inner = match value {
        [0x04, 0x10, rest @ ..] if rest.len() == 16 => rest,
        _ => {
            return Err(Error::AttestationInvalid(
                "the AAGUID extension is not a 16-byte OCTET STRING".into(),
            ))
        }
    };
    if inner != aaguid {
        return Err(Error::AaguidMismatch {
            certificate: crate::auth_data::format_aaguid(&to16(inner)),
            authenticator_data: crate::auth_data::format_aaguid(aaguid),
        });
    }
    Ok(())
}

fn to16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

/// Parses every certificate of x5c, leaf first.
pub(crate) fn parse_chain<'a>(x5c: &[&'a [u8]]) -> Result<Vec<Certificate<'a>>> {
    x5c.iter().map(|der| Certificate::parse(der)).collect()
}

/// Owned copies of x5c, for the trust path.
pub(crate) fn owned(x5c: &[&[u8]]) -> Vec<Vec<u8>> {
    x5c.iter().map(|d| d.to_vec()).collect()
}

/// The leaf certificate's key as a verifier for `alg`.
pub(crate) fn leaf_verifier(
    leaf: &Certificate<'_>,
    alg: crate::cose::Algorithm,
) -> Result<crate::cose::CredentialPublicKey> {
    Ok(crate::cose::CredentialPublicKey {
        alg,
        material: leaf.public_key()?,
    })
}
