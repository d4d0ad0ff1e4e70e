//! The `packed` attestation format (WebAuthn §8.2): self attestation and x5c attestation.

use super::{check_aaguid_extension, leaf_verifier, owned, parse_chain, AttestationType, Context};
use crate::cose::Algorithm;
use crate::error::{Error, Result};

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    let alg = Algorithm::from_cose_id(ctx.stmt.int("alg")?)?;
    let sig = ctx.stmt.bytes("sig")?;
    let signed = ctx.signed_data();
    match ctx.stmt.x5c()? {
        Some(x5c) => {
            let chain = parse_chain(&x5c)?;
            let leaf = &chain[0];
            leaf_verifier(leaf, alg)?
                .verify(&signed, sig)
                .map_err(|_| {
                    Error::AttestationInvalid(
                        "packed signature does not verify with the attestation certificate".into(),
                    )
                })?;
            check_leaf(leaf)?;
            check_aaguid_extension(leaf, &ctx.credential.aaguid)?;
            Ok((AttestationType::Basic, owned(&x5c)))
        }
        None => {
            let key = &ctx.credential.public_key;
            if alg != key.alg {
                return Err(Error::AttestationInvalid(format!(
                    "self attestation alg is {alg} but the credential key is {}",
                    key.alg
                )));
            }
            key.verify(&signed, sig).map_err(|_| {
                Error::AttestationInvalid(
                    "packed self-attestation signature does not verify with the credential key"
                        .into(),
                )
            })?;
            Ok((AttestationType::SelfAttestation, Vec::new()))
        }
    }
}

/// The packed attestation certificate requirements of §8.2.1.
fn check_leaf(leaf: &crate::cert::Certificate<'_>) -> Result<()> {
    let x = leaf.x509();
    if x.version().0 != 2 {
        return Err(Error::AttestationInvalid(
            "the attestation certificate must be X.509 version 3".into(),
        ));
    }
    let subject = x.subject();
    let has = |iter_len: usize, what: &str| -> Result<()> {
        if iter_len == 0 {
            Err(Error::AttestationInvalid(format!(
                "the attestation certificate subject has no {what}"
            )))
        } else {
            Ok(())
        }
    };
    has(subject.iter_country().count(), "C (country)")?;
    has(subject.iter_organization().count(), "O (organization)")?;
    has(subject.iter_common_name().count(), "CN (common name)")?;
    let ou_ok = subject
        .iter_organizational_unit()
        .any(|ou| ou.as_str().ok() == Some("Authenticator Attestation"));
    if !ou_ok {
        return Err(Error::AttestationInvalid(
            "the attestation certificate subject OU must be \"Authenticator Attestation\"".into(),
        ));
    }
    if leaf.is_ca() {
        return Err(Error::AttestationInvalid(
            "the attestation certificate must not be a CA".into(),
        ));
    }
    Ok(())
}
