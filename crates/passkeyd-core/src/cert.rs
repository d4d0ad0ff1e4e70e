//! X.509 for attestation: parsing certificates, checking a chain's signatures and validity at a
//! given time, and trust anchors.

use crate::cose::{Curve, KeyMaterial};
use crate::error::{Error, Result};
use aws_lc_rs::signature::{
    self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Seconds since the Unix epoch: the core's only notion of time, always a parameter.
pub type UnixTime = i64;

/// A parsed certificate borrowing its DER bytes.
pub struct Certificate<'a> {
    der: &'a [u8],
    x509: X509Certificate<'a>,
}

impl<'a> Certificate<'a> {
    /// Parses one DER certificate; trailing bytes are refused.
    pub fn parse(der: &'a [u8]) -> Result<Self> {
        match X509Certificate::from_der(der) {
            Ok(([], x509)) => Ok(Certificate { der, x509 }),
            Ok((rest, _)) => Err(Error::CertificateInvalid(format!(
                "{} bytes after the certificate",
                rest.len()
            ))),
            Err(e) => Err(Error::CertificateInvalid(format!(
                "not an X.509 certificate: {e}"
            ))),
        }
    }

    /// The DER bytes.
    pub fn der(&self) -> &'a [u8] {
        self.der
    }

    /// The parsed certificate, for format-specific checks.
    pub fn x509(&self) -> &X509Certificate<'a> {
        &self.x509
    }

    /// The subject as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.x509.subject().to_string()
    }

    /// Whether basic constraints say this is a CA.
    pub fn is_ca(&self) -> bool {
        matches!(self.x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
    }

    /// The value (the extnValue contents) and criticality of the extension with this OID.
    pub fn extension(&self, oid: &str) -> Option<(&'a [u8], bool)> {
        self.x509
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .map(|e| (e.value, e.critical))
    }

    /// The subject public key, in the form credential keys use, for comparing the two.
    pub fn public_key(&self) -> Result<KeyMaterial> {
        let spki = self.x509.public_key();
        match spki.parsed() {
            Ok(PublicKey::EC(point)) => {
                let curve = match spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .as_deref()
                {
                    Some("1.2.840.10045.3.1.7") => Curve::P256,
                    Some("1.3.132.0.34") => Curve::P384,
                    Some("1.3.132.0.35") => Curve::P521,
                    _ => {
                        return Err(Error::CertificateInvalid(
                            "unsupported EC curve in certificate".into(),
                        ))
                    }
                };
                Ok(KeyMaterial::Ec2 {
                    curve,
                    point: point.data().to_vec(),
                })
            }
            Ok(PublicKey::RSA(rsa)) => Ok(KeyMaterial::Rsa {
                n: strip_zeros(rsa.modulus),
                e: strip_zeros(rsa.exponent),
            }),
            _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
                Ok(KeyMaterial::Ed25519 {
                    key: spki.subject_public_key.data.to_vec(),
                })
            }
            _ => Err(Error::CertificateInvalid(
                "unsupported public key type in certificate".into(),
            )),
        }
    }

    /// Checks this certificate's signature with `issuer`'s key.
    pub fn verify_signed_by(&self, issuer: &Certificate<'_>) -> Result<()> {
        let key = issuer.public_key()?;
        let sig_oid = self.x509.signature_algorithm.algorithm.to_id_string();
        let message = self.x509.tbs_certificate.as_ref();
        let sig = self.x509.signature_value.data.as_ref();
        let bad = || {
            Error::CertificateInvalid(format!(
                "signature of {:?} does not verify with the key of {:?}",
                self.subject(),
                issuer.subject()
            ))
        };
        let unsupported = || {
            Error::CertificateInvalid(format!(
                "certificate signature algorithm {sig_oid} is not supported"
            ))
        };
        let ok = match &key {
            KeyMaterial::Rsa { n, e } => {
                let params: &signature::RsaParameters = match sig_oid.as_str() {
                    "1.2.840.113549.1.1.5" => {
                        &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
                    }
                    "1.2.840.113549.1.1.11" => {
                        &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                    }
                    "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "1.2.840.113549.1.1.13" => {
                        &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
                    }
                    _ => return Err(unsupported()),
                };
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, message, sig)
                .is_ok()
            }
            KeyMaterial::Ec2 { curve, point } => {
                let alg: &'static dyn VerificationAlgorithm = match (curve, sig_oid.as_str()) {
                    (Curve::P256, "1.2.840.10045.4.1") => &signature::ECDSA_P256_SHA1_ASN1,
                    (Curve::P256, "1.2.840.10045.4.3.2") => &signature::ECDSA_P256_SHA256_ASN1,
                    (Curve::P256, "1.2.840.10045.4.3.3") => &signature::ECDSA_P256_SHA384_ASN1,
                    (Curve::P256, "1.2.840.10045.4.3.4") => &signature::ECDSA_P256_SHA512_ASN1,
                    (Curve::P384, "1.2.840.10045.4.3.2") => &signature::ECDSA_P384_SHA256_ASN1,
                    (Curve::P384, "1.2.840.10045.4.3.3") => &signature::ECDSA_P384_SHA384_ASN1,
                    (Curve::P384, "1.2.840.10045.4.3.4") => &signature::ECDSA_P384_SHA512_ASN1,
                    (Curve::P521, "1.2.840.10045.4.3.2") => &signature::ECDSA_P521_SHA256_ASN1,
                    (Curve::P521, "1.2.840.10045.4.3.3") => &signature::ECDSA_P521_SHA384_ASN1,
                    (Curve::P521, "1.2.840.10045.4.3.4") => &signature::ECDSA_P521_SHA512_ASN1,
                    _ => return Err(unsupported()),
                };
                UnparsedPublicKey::new(alg, point)
                    .verify(message, sig)
                    .is_ok()
            }
            KeyMaterial::Ed25519 { key } if sig_oid == "1.3.101.112" => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(message, sig)
                    .is_ok()
            }
            _ => return Err(unsupported()),
        };
        if ok {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// Refuses the certificate unless `now` is inside its validity period.
    pub fn check_validity(&self, now: UnixTime) -> Result<()> {
        let validity = self.x509.validity();
        let not_before = validity.not_before.timestamp();
        let not_after = validity.not_after.timestamp();
        if now < not_before {
            return Err(Error::CertificateNotYetValid {
                subject: self.subject(),
                not_before,
                now,
            });
        }
        if now > not_after {
            return Err(Error::CertificateExpired {
                subject: self.subject(),
                not_after,
                now,
            });
        }
        Ok(())
    }

    /// A summary for people (`passkeyd inspect`).
    pub fn summary(&self) -> CertificateSummary {
        let validity = self.x509.validity();
        CertificateSummary {
            subject: self.subject(),
            issuer: self.x509.issuer().to_string(),
            serial: crate::error::hex(self.x509.raw_serial()),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            is_ca: self.is_ca(),
            signature_algorithm: self.x509.signature_algorithm.algorithm.to_id_string(),
        }
    }
}

/// What `passkeyd inspect` shows of a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity (unix seconds).
    pub not_before: i64,
    /// End of validity (unix seconds).
    pub not_after: i64,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// Signature algorithm OID.
    pub signature_algorithm: String,
}

/// Root certificates an attestation chain may end at.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    roots: Vec<Vec<u8>>,
}

impl TrustAnchors {
    /// Reads every `CERTIFICATE` block of a PEM text; each must parse.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let mut roots = Vec::new();
        let mut rest = pem;
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        while let Some(start) = rest.find(BEGIN) {
            let body_start = start + BEGIN.len();
            let end = rest[body_start..]
                .find(END)
                .ok_or_else(|| Error::CertificateInvalid("PEM block without END line".into()))?;
            let body: String = rest[body_start..body_start + end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = crate::b64::decode(&body)
                .map_err(|e| Error::CertificateInvalid(format!("PEM body is not base64: {e}")))?;
            Certificate::parse(&der)?;
            roots.push(der);
            rest = &rest[body_start + end + END.len()..];
        }
        if roots.is_empty() {
            return Err(Error::CertificateInvalid(
                "no CERTIFICATE block in PEM".into(),
            ));
        }
        Ok(TrustAnchors { roots })
    }

    /// Trust anchors from DER certificates; each must parse.
    pub fn from_der(roots: Vec<Vec<u8>>) -> Result<Self> {
        for der in &roots {
            Certificate::parse(der)?;
        }
        Ok(TrustAnchors { roots })
    }

    /// How many roots there are.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// Checks a chain (leaf first, root excluded or included) at `now`: every certificate valid,
/// each signed by the next, the next a CA. Returns whether it ends at one of `anchors`.
pub fn verify_chain(
    chain: &[Certificate<'_>],
    anchors: Option<&TrustAnchors>,
    now: UnixTime,
) -> Result<bool> {
    if chain.is_empty() {
        return Err(Error::AttestationInvalid("empty certificate chain".into()));
    }
    for cert in chain {
        cert.check_validity(now)?;
    }
    for pair in chain.windows(2) {
        let (child, parent) = (&pair[0], &pair[1]);
        if child.x509.issuer().as_raw() != parent.x509.subject().as_raw() {
            return Err(Error::CertificateInvalid(format!(
                "{:?} was not issued by the next certificate {:?}",
                child.subject(),
                parent.subject()
            )));
        }
        if !parent.is_ca() {
            return Err(Error::CertificateInvalid(format!(
                "{:?} issues certificates but is not a CA",
                parent.subject()
            )));
        }
        child.verify_signed_by(parent)?;
    }
    let last = &chain[chain.len() - 1];
    let Some(anchors) = anchors else {
        // With no anchors there is nothing to trust, but a self-signed root in x5c must still be
        // internally consistent.
        if last.x509.issuer().as_raw() == last.x509.subject().as_raw() && chain.len() > 1 {
            last.verify_signed_by(last)?;
        }
        return Ok(false);
    };
    for root_der in &anchors.roots {
        if root_der.as_slice() == last.der {
            return Ok(true);
        }
        let root = Certificate::parse(root_der)?;
        if root.x509.subject().as_raw() == last.x509.issuer().as_raw()
            && last.verify_signed_by(&root).is_ok()
        {
            root.check_validity(now)?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes[zeros..].to_vec()
}
