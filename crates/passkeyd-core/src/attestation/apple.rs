//! The `apple` anonymous attestation format (WebAuthn §8.8).

use super::{owned, parse_chain, AttestationType, Context};
use crate::error::{Error, Result};
use crate::rp::sha256;
use x509_parser::der_parser::asn1_rs::{Any, FromDer};

const NONCE_EXTENSION: &str = "1.2.840.113635.100.8.2";

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    let x5c = ctx.stmt.x5c_required()?;
    let chain = parse_chain(&x5c)?;
    let leaf = &chain[0];
    let expected = sha256(&ctx.signed_data());
    let (value, _) = leaf
        .extension(NONCE_EXTENSION)
        .ok_or_else(|| Error::AttestationInvalid("the Apple nonce extension is missing".into()))?;
    let nonce = parse_nonce(value).ok_or_else(|| {
        Error::AttestationInvalid("the Apple nonce extension is malformed".into())
    })?;
    if nonce != expected {
        return Err(Error::AttestationInvalid(
            "the Apple nonce does not match SHA-256(authData || clientDataHash)".into(),
        ));
    }
    if !ctx.credential.public_key.same_key_as(&leaf.public_key()?) {
        return Err(Error::AttestationInvalid(
            "the credential key differs from the Apple certificate's key".into(),
        ));
    }
    Ok((AttestationType::AnonCa, owned(&x5c)))
}

/// `SEQUENCE { [1] EXPLICIT OCTET STRING nonce }`.
fn parse_nonce(value: &[u8]) -> Option<&[u8]> {
    let (_, seq) = Any::from_der(value).ok()?;
    let (_, tagged) = Any::from_der(seq.data).ok()?;
    if tagged.tag().0 != 1 {
        return None;
    }
    let (_, octets) = Any::from_der(tagged.data).ok()?;
    (octets.tag().0 == 4).then_some(octets.data)
}
