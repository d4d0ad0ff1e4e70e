//! COSE algorithms and credential public keys: decoding COSE_Key and checking signatures.

use crate::error::{Error, Result};
use aws_lc_rs::signature::{
    self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use ciborium::Value;
use serde::{Deserialize, Serialize};

/// A COSE algorithm passkeyd can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256 (-7).
    Es256,
    /// ECDSA with P-384 and SHA-384 (-35).
    Es384,
    /// ECDSA with P-521 and SHA-512 (-36).
    Es512,
    /// EdDSA (-8); passkeyd accepts it with Ed25519 keys.
    EdDsa,
    /// Ed25519, fully specified (-19).
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (-257).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (-258).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (-259).
    Rs512,
    /// RSASSA-PSS with SHA-256 (-37).
    Ps256,
    /// RSASSA-PSS with SHA-384 (-38).
    Ps384,
    /// RSASSA-PSS with SHA-512 (-39).
    Ps512,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (-65535): legacy TPMs only, never requested by default.
    Rs1,
    /// ML-DSA-44 (-48), post-quantum.
    MlDsa44,
    /// ML-DSA-65 (-49), post-quantum.
    MlDsa65,
    /// ML-DSA-87 (-50), post-quantum.
    MlDsa87,
}

impl Algorithm {
    /// Every algorithm passkeyd verifies.
    pub const ALL: [Algorithm; 15] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
        Algorithm::Ed25519,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Rs1,
        Algorithm::MlDsa44,
        Algorithm::MlDsa65,
        Algorithm::MlDsa87,
    ];

    /// What registration options request unless told otherwise, in order of preference.
    pub const DEFAULT_REQUESTED: [Algorithm; 5] = [
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Es384,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ];

    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Es384 => -35,
            Algorithm::Es512 => -36,
            Algorithm::EdDsa => -8,
            Algorithm::Ed25519 => -19,
            Algorithm::Rs256 => -257,
            Algorithm::Rs384 => -258,
            Algorithm::Rs512 => -259,
            Algorithm::Ps256 => -37,
            Algorithm::Ps384 => -38,
            Algorithm::Ps512 => -39,
            Algorithm::Rs1 => -65535,
            Algorithm::MlDsa44 => -48,
            Algorithm::MlDsa65 => -49,
            Algorithm::MlDsa87 => -50,
        }
    }

    /// The algorithm with this COSE identifier.
    pub fn from_cose_id(id: i64) -> Result<Self> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.cose_id() == id)
            .ok_or(Error::UnsupportedAlgorithm(id))
    }

    /// The IANA name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Rs1 => "RS1",
            Algorithm::MlDsa44 => "ML-DSA-44",
            Algorithm::MlDsa65 => "ML-DSA-65",
            Algorithm::MlDsa87 => "ML-DSA-87",
        }
    }

    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::Rs1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            _ => return None,
        })
    }
}

impl TryFrom<i64> for Algorithm {
    type Error = Error;
    fn try_from(id: i64) -> Result<Self> {
        Algorithm::from_cose_id(id)
    }
}

impl From<Algorithm> for i64 {
    fn from(alg: Algorithm) -> i64 {
        alg.cose_id()
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.cose_id())
    }
}

/// An elliptic curve of an EC2 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (COSE crv 1).
    P256,
    /// NIST P-384 (COSE crv 2).
    P384,
    /// NIST P-521 (COSE crv 3).
    P521,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// The key material of a credential public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// An EC2 key as an uncompressed point (`0x04 || x || y`).
    Ec2 { curve: Curve, point: Vec<u8> },
    /// An Ed25519 key.
    Ed25519 { key: Vec<u8> },
    /// An RSA key (modulus and exponent, big-endian, no leading zeros).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An ML-DSA (AKP) public key.
    MlDsa { key: Vec<u8> },
}

/// A credential public key decoded from COSE_Key and checked against its algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPublicKey {
    /// The algorithm the key is for (COSE label 3, required for WebAuthn credentials).
    pub alg: Algorithm,
    /// The key itself.
    pub material: KeyMaterial,
}

const KTY: i64 = 1;
const ALG: i64 = 3;

impl CredentialPublicKey {
    /// Decodes a COSE_Key from CBOR bytes, which must hold exactly one key.
    pub fn from_cose(bytes: &[u8]) -> Result<Self> {
        let mut reader = bytes;
        let value: Value = ciborium::de::from_reader(&mut reader)
            .map_err(|e| Error::MalformedPublicKey(format!("not CBOR: {e}")))?;
        if !reader.is_empty() {
            return Err(Error::MalformedPublicKey(format!(
                "{} bytes after the COSE key",
                reader.len()
            )));
        }
        Self::from_cbor(&value)
    }

    /// Decodes a COSE_Key from a decoded CBOR value.
    pub fn from_cbor(value: &Value) -> Result<Self> {
        let malformed = |m: &str| Error::MalformedPublicKey(m.to_owned());
        let map = value
            .as_map()
            .ok_or_else(|| malformed("a COSE key must be a CBOR map"))?;
        let mut entries: Vec<(i64, &Value)> = Vec::with_capacity(map.len());
        for (k, v) in map {
            // Text labels are allowed by COSE but no WebAuthn key parameter uses one.
            if let Some(label) = k.as_integer().and_then(|i| i64::try_from(i).ok()) {
                if entries.iter().any(|(l, _)| *l == label) {
                    return Err(malformed("duplicate label in COSE key"));
                }
                entries.push((label, v));
            }
        }
        let get = |label: i64| entries.iter().find(|(l, _)| *l == label).map(|(_, v)| *v);
        let int = |label: i64, what: &str| -> Result<i64> {
            get(label)
                .and_then(|v| v.as_integer())
                .and_then(|i| i64::try_from(i).ok())
                .ok_or_else(|| malformed(&format!("missing or non-integer {what}")))
        };
        let bytes = |label: i64, what: &str| -> Result<Vec<u8>> {
            get(label)
                .and_then(|v| v.as_bytes())
                .cloned()
                .ok_or_else(|| malformed(&format!("missing or non-bytes {what}")))
        };
        let kty = int(KTY, "kty (1)")?;
        let alg = Algorithm::from_cose_id(int(ALG, "alg (3)")?)?;
        let material = match kty {
            2 => {
                let curve = match int(-1, "crv (-1)")? {
                    1 => Curve::P256,
                    2 => Curve::P384,
                    3 => Curve::P521,
                    other => {
                        return Err(Error::MalformedPublicKey(format!(
                            "unsupported EC2 curve {other}"
                        )))
                    }
                };
                let expected = match alg {
                    Algorithm::Es256 => Curve::P256,
                    Algorithm::Es384 => Curve::P384,
                    Algorithm::Es512 => Curve::P521,
                    other => {
                        return Err(Error::MalformedPublicKey(format!(
                            "EC2 key with algorithm {other}"
                        )))
                    }
                };
                if curve != expected {
                    return Err(Error::MalformedPublicKey(format!(
                        "{alg} needs curve {expected:?}, key is on {curve:?}"
                    )));
                }
                let x = bytes(-2, "x (-2)")?;
                let y = bytes(-3, "y (-3)")?;
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err(Error::MalformedPublicKey(format!(
                        "EC2 coordinates must be {len} bytes, got {} and {}",
                        x.len(),
                        y.len()
                    )));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                KeyMaterial::Ec2 { curve, point }
            }
            1 => {
                if !matches!(alg, Algorithm::EdDsa | Algorithm::Ed25519) {
                    return Err(Error::MalformedPublicKey(format!(
                        "OKP key with algorithm {alg}"
                    )));
                }
                let crv = int(-1, "crv (-1)")?;
                if crv != 6 {
                    return Err(Error::MalformedPublicKey(format!(
                        "OKP curve {crv} is not Ed25519 (6)"
                    )));
                }
                let key = bytes(-2, "x (-2)")?;
                if key.len() != 32 {
                    return Err(Error::MalformedPublicKey(format!(
                        "Ed25519 key must be 32 bytes, got {}",
                        key.len()
                    )));
                }
                KeyMaterial::Ed25519 { key }
            }
            3 => {
                if alg.rsa_params().is_none() {
                    return Err(Error::MalformedPublicKey(format!(
                        "RSA key with algorithm {alg}"
                    )));
                }
                let n = strip_leading_zeros(bytes(-1, "n (-1)")?);
                let e = strip_leading_zeros(bytes(-2, "e (-2)")?);
                if n.len() < 256 || n.len() > 1024 {
                    return Err(Error::MalformedPublicKey(format!(
                        "RSA modulus must be 2048 to 8192 bits, got {} bits",
                        n.len() * 8
                    )));
                }
                if e.is_empty() || e.len() > 4 {
                    return Err(malformed("RSA exponent out of range"));
                }
                KeyMaterial::Rsa { n, e }
            }
            7 => {
                let expected_len = match alg {
                    Algorithm::MlDsa44 => 1312,
                    Algorithm::MlDsa65 => 1952,
                    Algorithm::MlDsa87 => 2592,
                    other => {
                        return Err(Error::MalformedPublicKey(format!(
                            "AKP key with algorithm {other}"
                        )))
                    }
                };
                let key = bytes(-1, "pub (-1)")?;
                if key.len() != expected_len {
                    return Err(Error::MalformedPublicKey(format!(
                        "{alg} public key must be {expected_len} bytes, got {}",
                        key.len()
                    )));
                }
                KeyMaterial::MlDsa { key }
            }
            other => {
                return Err(Error::MalformedPublicKey(format!(
                    "unsupported key type {other}"
                )))
            }
        };
        let key = CredentialPublicKey { alg, material };
        key.check_usable()?;
        Ok(key)
    }

    /// Whether `other` (an attestation certificate's key) is this credential's key.
    pub(crate) fn same_key_as(&self, other: &KeyMaterial) -> bool {
        self.material == *other
    }

    /// Rejects points off the curve and similar keys that could never verify anything.
    fn check_usable(&self) -> Result<()> {
        if let KeyMaterial::Ec2 { point, .. }
        | KeyMaterial::Ed25519 { key: point }
        | KeyMaterial::MlDsa { key: point } = &self.material
        {
            signature::ParsedPublicKey::new(self.ec_like_algorithm(), point)
                .map_err(|e| Error::MalformedPublicKey(format!("key rejected: {e}")))?;
        }
        Ok(())
    }

    fn ec_like_algorithm(&self) -> &'static dyn VerificationAlgorithm {
        match self.alg {
            Algorithm::Es384 => &signature::ECDSA_P384_SHA384_ASN1,
            Algorithm::Es512 => &signature::ECDSA_P521_SHA512_ASN1,
            Algorithm::EdDsa | Algorithm::Ed25519 => &signature::ED25519,
            Algorithm::MlDsa44 => &signature::ML_DSA_44,
            Algorithm::MlDsa65 => &signature::ML_DSA_65,
            Algorithm::MlDsa87 => &signature::ML_DSA_87,
            _ => &signature::ECDSA_P256_SHA256_ASN1,
        }
    }

    /// Checks `signature` over `message` with this key and its algorithm.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        self.verify_with(self.alg, message, signature)
    }

    /// Checks a signature made with `alg`, which may differ from the key's own algorithm only
    /// in the hash (TPM and packed statements name their own `alg`).
    pub(crate) fn verify_with(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<()> {
        let ok = match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let params = alg.rsa_params().ok_or(Error::SignatureInvalid)?;
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, message, sig)
                .is_ok()
            }
            KeyMaterial::Ec2 { point: key, .. }
            | KeyMaterial::Ed25519 { key }
            | KeyMaterial::MlDsa { key } => {
                let algorithm: &'static dyn VerificationAlgorithm = match (alg, &self.material) {
                    (
                        Algorithm::Es256,
                        KeyMaterial::Ec2 {
                            curve: Curve::P256, ..
                        },
                    ) => &signature::ECDSA_P256_SHA256_ASN1,
                    (
                        Algorithm::Es384,
                        KeyMaterial::Ec2 {
                            curve: Curve::P384, ..
                        },
                    ) => &signature::ECDSA_P384_SHA384_ASN1,
                    (
                        Algorithm::Es512,
                        KeyMaterial::Ec2 {
                            curve: Curve::P521, ..
                        },
                    ) => &signature::ECDSA_P521_SHA512_ASN1,
                    (Algorithm::EdDsa | Algorithm::Ed25519, KeyMaterial::Ed25519 { .. }) => {
                        &signature::ED25519
                    }
                    (
                        Algorithm::MlDsa44 | Algorithm::MlDsa65 | Algorithm::MlDsa87,
                        KeyMaterial::MlDsa { .. },
                    ) if alg == self.alg => self.ec_like_algorithm(),
                    _ => return Err(Error::SignatureInvalid),
                };
                UnparsedPublicKey::new(algorithm, key)
                    .verify(message, sig)
                    .is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Reads a CBOR value from the front of `input` and returns it with the number of bytes it used.
pub(crate) fn read_cbor_prefix(input: &[u8]) -> std::result::Result<(Value, usize), String> {
    let mut reader = input;
    let value: Value = ciborium::de::from_reader(&mut reader).map_err(|e| e.to_string())?;
    Ok((value, input.len() - reader.len()))
}
