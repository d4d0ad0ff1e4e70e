//! The `tpm` attestation format (WebAuthn §8.3): TPM 2.0 structures and AIK certificates.

use super::{check_aaguid_extension, leaf_verifier, owned, parse_chain, AttestationType, Context};
use crate::cert::Certificate;
use crate::cose::{Algorithm, Curve, KeyMaterial};
use crate::error::{Error, Result};
use aws_lc_rs::digest;
use x509_parser::extensions::GeneralName;

const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_ECC: u16 = 0x0023;
const AIK_CERTIFICATE_EKU: &str = "2.23.133.8.3";

fn invalid(message: impl Into<String>) -> Error {
    Error::AttestationInvalid(message.into())
}

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    if ctx.stmt.text("ver")? != "2.0" {
        return Err(invalid("TPM attestation version must be \"2.0\""));
    }
    let alg = Algorithm::from_cose_id(ctx.stmt.int("alg")?)?;
    let sig = ctx.stmt.bytes("sig")?;
    let cert_info = ctx.stmt.bytes("certInfo")?;
    let pub_area_bytes = ctx.stmt.bytes("pubArea")?;
    let x5c = ctx.stmt.x5c_required()?;

    let pub_area = PubArea::parse(pub_area_bytes).ok_or_else(|| invalid("pubArea is malformed"))?;
    if !pub_area.matches(&ctx.credential.public_key.material) {
        return Err(invalid(
            "the key in pubArea is not the credential public key",
        ));
    }

    let info = CertInfo::parse(cert_info).ok_or_else(|| invalid("certInfo is malformed"))?;
    if info.magic != TPM_GENERATED_VALUE {
        return Err(invalid("certInfo.magic is not TPM_GENERATED_VALUE"));
    }
    if info.ty != TPM_ST_ATTEST_CERTIFY {
        return Err(invalid("certInfo.type is not TPM_ST_ATTEST_CERTIFY"));
    }
    let expected_extra = hash_for(alg)
        .map(|h| digest::digest(h, &ctx.signed_data()))
        .ok_or_else(|| invalid(format!("no hash for TPM signature algorithm {alg}")))?;
    if info.extra_data != expected_extra.as_ref() {
        return Err(invalid(
            "certInfo.extraData is not the hash of authData || clientDataHash",
        ));
    }
    let name_hash = name_alg_digest(pub_area.name_alg)
        .ok_or_else(|| invalid("pubArea.nameAlg is not a supported hash"))?;
    let mut expected_name = pub_area.name_alg.to_be_bytes().to_vec();
    expected_name.extend_from_slice(digest::digest(name_hash, pub_area_bytes).as_ref());
    if info.attested_name != expected_name.as_slice() {
        return Err(invalid("certInfo.attested.name is not the name of pubArea"));
    }

    let chain = parse_chain(&x5c)?;
    let aik = &chain[0];
    leaf_verifier(aik, alg)?
        .verify(cert_info, sig)
        .map_err(|_| {
            invalid("TPM signature over certInfo does not verify with the AIK certificate")
        })?;
    check_aik_certificate(aik)?;
    check_aaguid_extension(aik, &ctx.credential.aaguid)?;
    Ok((AttestationType::AttCa, owned(&x5c)))
}

fn hash_for(alg: Algorithm) -> Option<&'static digest::Algorithm> {
    Some(match alg {
        Algorithm::Rs1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => &digest::SHA256,
        Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => &digest::SHA384,
        Algorithm::Rs512 | Algorithm::Ps512 | Algorithm::Es512 => &digest::SHA512,
        _ => return None,
    })
}

fn name_alg_digest(name_alg: u16) -> Option<&'static digest::Algorithm> {
    Some(match name_alg {
        0x0004 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        0x000b => &digest::SHA256,
        0x000c => &digest::SHA384,
        0x000d => &digest::SHA512,
        _ => return None,
    })
}

/// The AIK certificate requirements of §8.3.1.
fn check_aik_certificate(aik: &Certificate<'_>) -> Result<()> {
    let x = aik.x509();
    if x.version().0 != 2 {
        return Err(invalid("the AIK certificate must be X.509 version 3"));
    }
    if !x.subject().as_raw().is_empty() && x.subject().iter_attributes().next().is_some() {
        return Err(invalid("the AIK certificate subject must be empty"));
    }
    let san = x
        .subject_alternative_name()
        .map_err(|e| {
            invalid(format!(
                "the AIK certificate subject alternative name is malformed: {e}"
            ))
        })?
        .ok_or_else(|| invalid("the AIK certificate has no subject alternative name"))?;
    let mut tcg = Vec::new();
    for name in &san.value.general_names {
        if let GeneralName::DirectoryName(dn) = name {
            tcg.extend(dn.iter_attributes().map(|a| a.attr_type().to_id_string()));
        }
    }
    for (oid, what) in [
        ("2.23.133.2.1", "TPM manufacturer"),
        ("2.23.133.2.2", "TPM model"),
        ("2.23.133.2.3", "TPM version"),
    ] {
        if !tcg.iter().any(|o| o == oid) {
            return Err(invalid(format!(
                "the AIK certificate subject alternative name has no {what}"
            )));
        }
    }
    let eku = x
        .extended_key_usage()
        .map_err(|e| {
            invalid(format!(
                "the AIK certificate extended key usage is malformed: {e}"
            ))
        })?
        .ok_or_else(|| invalid("the AIK certificate has no extended key usage"))?;
    if !eku
        .value
        .other
        .iter()
        .any(|o| o.to_id_string() == AIK_CERTIFICATE_EKU)
    {
        return Err(invalid(
            "the AIK certificate extended key usage lacks tcg-kp-AIKCertificate",
        ));
    }
    if aik.is_ca() {
        return Err(invalid("the AIK certificate must not be a CA"));
    }
    Ok(())
}

/// A big-endian reader over TPM structures.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A TPM2B: a u16 size then that many bytes.
    fn sized(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

/// TPMT_PUBLIC, the parts that identify the key.
struct PubArea<'a> {
    name_alg: u16,
    key: TpmKey<'a>,
}

enum TpmKey<'a> {
    Rsa {
        n: &'a [u8],
        exponent: u32,
    },
    Ecc {
        curve: u16,
        x: &'a [u8],
        y: &'a [u8],
    },
}

impl<'a> PubArea<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        let ty = r.u16()?;
        let name_alg = r.u16()?;
        let _object_attributes = r.u32()?;
        let _auth_policy = r.sized()?;
        let key = match ty {
            TPM_ALG_RSA => {
                let _symmetric = r.u16()?;
                let _scheme = r.u16()?;
                let _key_bits = r.u16()?;
                let exponent = r.u32()?;
                let n = r.sized()?;
                TpmKey::Rsa { n, exponent }
            }
            TPM_ALG_ECC => {
                let _symmetric = r.u16()?;
                let _scheme = r.u16()?;
                let curve = r.u16()?;
                let _kdf = r.u16()?;
                let x = r.sized()?;
                let y = r.sized()?;
                TpmKey::Ecc { curve, x, y }
            }
            _ => return None,
        };
        r.0.is_empty().then_some(PubArea { name_alg, key })
    }

    fn matches(&self, credential: &KeyMaterial) -> bool {
        match (&self.key, credential) {
            (TpmKey::Rsa { n, exponent }, KeyMaterial::Rsa { n: cn, e: ce }) => {
                // An exponent of zero in a TPM structure means the default, 65537.
                let exponent = if *exponent == 0 { 65537 } else { *exponent };
                let e = exponent.to_be_bytes();
                let e = strip(&e);
                strip(n) == cn.as_slice() && e == ce.as_slice()
            }
            (TpmKey::Ecc { curve, x, y }, KeyMaterial::Ec2 { curve: cc, point }) => {
                let expected_curve = match cc {
                    Curve::P256 => 0x0003,
                    Curve::P384 => 0x0004,
                    Curve::P521 => 0x0005,
                };
                let mut tpm_point = vec![4u8];
                tpm_point.extend_from_slice(x);
                tpm_point.extend_from_slice(y);
                *curve == expected_curve && tpm_point == *point
            }
            _ => false,
        }
    }
}

fn strip(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

/// TPMS_ATTEST for TPM_ST_ATTEST_CERTIFY, the parts verification reads.
struct CertInfo<'a> {
    magic: u32,
    ty: u16,
    extra_data: &'a [u8],
    attested_name: &'a [u8],
}

impl<'a> CertInfo<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        let magic = r.u32()?;
        let ty = r.u16()?;
        let _qualified_signer = r.sized()?;
        let extra_data = r.sized()?;
        let _clock_info = r.take(17)?;
        let _firmware_version = r.take(8)?;
        let attested_name = r.sized()?;
        let _qualified_name = r.sized()?;
        r.0.is_empty().then_some(CertInfo {
            magic,
            ty,
            extra_data,
            attested_name,
        })
    }
}
