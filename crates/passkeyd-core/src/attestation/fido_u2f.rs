//! The `fido-u2f` attestation format (WebAuthn §8.6), for U2F security keys.

use super::{owned, parse_chain, AttestationType, Context};
use crate::cose::{Algorithm, CredentialPublicKey, Curve, KeyMaterial};
use crate::error::{Error, Result};

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    let x5c = ctx.stmt.x5c_required()?;
    if x5c.len() != 1 {
        return Err(Error::AttestationInvalid(format!(
            "fido-u2f x5c must hold exactly one certificate, it holds {}",
            x5c.len()
        )));
    }
    let sig = ctx.stmt.bytes("sig")?;
    let chain = parse_chain(&x5c)?;
    let cert_key = chain[0].public_key()?;
    if !matches!(
        cert_key,
        KeyMaterial::Ec2 {
            curve: Curve::P256,
            ..
        }
    ) {
        return Err(Error::AttestationInvalid(
            "the fido-u2f attestation certificate key must be on P-256".into(),
        ));
    }
    let KeyMaterial::Ec2 {
        curve: Curve::P256,
        point,
    } = &ctx.credential.public_key.material
    else {
        return Err(Error::AttestationInvalid(
            "a fido-u2f credential key must be an ES256 key on P-256".into(),
        ));
    };
    let mut data = Vec::with_capacity(1 + 32 + 32 + ctx.credential.credential_id.len() + 65);
    data.push(0);
    data.extend_from_slice(ctx.auth_data.rp_id_hash);
    data.extend_from_slice(ctx.client_data_hash);
    data.extend_from_slice(ctx.credential.credential_id);
    data.extend_from_slice(point);
    CredentialPublicKey {
        alg: Algorithm::Es256,
        material: cert_key,
    }
    .verify(&data, sig)
    .map_err(|_| {
        Error::AttestationInvalid(
            "fido-u2f signature does not verify with the attestation certificate".into(),
        )
    })?;
    Ok((AttestationType::Basic, owned(&x5c)))
}
