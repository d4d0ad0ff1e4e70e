//! The `android-safetynet` attestation format (WebAuthn §8.5). Google retired the SafetyNet
//! Attestation API in 2025, but registrations made before then carry it, so passkeyd still
//! verifies it in full: the JWS signature, the `attest.android.com` certificate, the nonce,
//! the CTS profile and the timestamp (policy). Revocation is not checked: that needs a CRL
//! fetch and the core does no I/O.

use super::{parse_chain, AttestationType, Context, Statement};
use crate::b64;
use crate::cert::Certificate;
use crate::cose::{Algorithm, CredentialPublicKey};
use crate::error::{Error, Result};
use crate::rp::sha256;
use serde::Deserialize;

#[derive(Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    nonce: String,
    timestamp_ms: i64,
    #[serde(default)]
    cts_profile_match: bool,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::SafetyNetInvalid(message.into())
}

struct Jws<'a> {
    signing_input: &'a [u8],
    header: Header,
    payload: Payload,
    signature: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn parse_jws(response: &[u8]) -> Result<Jws<'_>> {
    let text = std::str::from_utf8(response).map_err(|_| invalid("response is not a JWS"))?;
    let mut parts = text.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("response is not a compact JWS"));
    };
    let decode = |part: &str, what: &str| {
        b64::decode(part).map_err(|_| invalid(format!("JWS {what} is not base64url")))
    };
    let header: Header = serde_json::from_slice(&decode(h, "header")?)
        .map_err(|e| invalid(format!("JWS header: {e}")))?;
    let payload: Payload = serde_json::from_slice(&decode(p, "payload")?)
        .map_err(|e| invalid(format!("JWS payload: {e}")))?;
    let signature = decode(s, "signature")?;
    let chain = header
        .x5c
        .iter()
        .map(|c| b64::decode(c).map_err(|_| invalid("JWS x5c entry is not base64")))
        .collect::<Result<Vec<_>>>()?;
    if chain.is_empty() {
        return Err(invalid("JWS header has no x5c"));
    }
    Ok(Jws {
        signing_input: &response[..h.len() + 1 + p.len()],
        header,
        payload,
        signature,
        chain,
    })
}

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    ctx.stmt.text("ver")?;
    let jws = parse_jws(ctx.stmt.bytes("response")?)?;
    let expected_nonce = b64::encode(&sha256(&ctx.signed_data()));
    // The nonce is standard base64 with padding; compare bytes, not spellings.
    if b64::decode(&jws.payload.nonce)
        .ok()
        .map(|n| b64::encode(&n))
        != Some(expected_nonce)
    {
        return Err(invalid("nonce is not SHA-256(authData || clientDataHash)"));
    }
    let refs: Vec<&[u8]> = jws.chain.iter().map(Vec::as_slice).collect();
    let chain = parse_chain(&refs)?;
    let leaf = &chain[0];
    check_hostname(leaf)?;
    let alg = match jws.header.alg.as_str() {
        "RS256" => Algorithm::Rs256,
        "ES256" => Algorithm::Es256,
        other => return Err(invalid(format!("JWS algorithm {other} is not supported"))),
    };
    CredentialPublicKey {
        alg,
        material: leaf.public_key()?,
    }
    .verify(jws.signing_input, &jws.signature)
    .map_err(|_| {
        invalid("JWS signature does not verify with the attest.android.com certificate")
    })?;
    if ctx.policy.safetynet_require_cts_profile_match && !jws.payload.cts_profile_match {
        return Err(invalid(
            "ctsProfileMatch is false: the device failed Android compatibility checks",
        ));
    }
    if let Some(max_age) = ctx.policy.safetynet_max_age_seconds {
        let now_ms = ctx.now.saturating_mul(1000);
        let ts = jws.payload.timestamp_ms;
        if ts > now_ms.saturating_add(60_000)
            || ts < now_ms.saturating_sub(max_age.saturating_mul(1000))
        {
            return Err(invalid(format!(
                "timestampMs {ts} is outside the {max_age} s window before the verification time {now_ms}"
            )));
        }
    }
    Ok((AttestationType::Basic, jws.chain))
}

fn check_hostname(leaf: &Certificate<'_>) -> Result<()> {
    let cn_ok = leaf
        .x509()
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str().ok() == Some("attest.android.com"));
    if cn_ok {
        Ok(())
    } else {
        Err(invalid(
            "the JWS certificate is not issued to attest.android.com",
        ))
    }
}

/// The JWS certificate chain, for `passkeyd inspect`.
pub(super) fn chain_for_display(stmt: &Statement<'_>) -> Vec<Vec<u8>> {
    stmt.bytes("response")
        .ok()
        .and_then(|r| parse_jws(r).ok())
        .map(|j| j.chain)
        .unwrap_or_default()
}
