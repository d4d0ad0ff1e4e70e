//! Session JWTs: ES256 (ECDSA P-256, SHA-256, the 64-byte `r||s` signature JWS wants) with
//! aws-lc-rs, the keys as JWKs, and compact serialisation. Key generation and signing draw random
//! numbers, so this file, like `secrets.rs`, is one of the binary's sources of randomness.

use crate::error::{ApiError, ApiResult};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use passkeyd_core::b64;
use serde::{Deserialize, Serialize};

/// The JWS algorithm of every session key.
pub const ALG: &str = "ES256";

/// What a session JWT says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claims {
    /// Issuer: always `passkeyd`.
    pub iss: String,
    /// Audience: the app id.
    pub aud: String,
    /// Subject: the user's external id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// The app id (also in `aud`, for readers that look for it by name).
    pub app: String,
    /// The passkey that signed the session in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkid: Option<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// A new key pair: the PKCS#8 private key to store and its public JWK.
pub fn generate(kid: &str) -> ApiResult<(Vec<u8>, String)> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| ApiError::internal("could not generate a signing key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|_| ApiError::internal("a generated signing key does not parse"))?;
    let jwk = public_jwk(kid, pair.public_key().as_ref())?;
    Ok((pkcs8.as_ref().to_vec(), jwk))
}

/// The JWK of an uncompressed P-256 point (`04 || x || y`).
fn public_jwk(kid: &str, point: &[u8]) -> ApiResult<String> {
    if point.len() != 65 || point[0] != 4 {
        return Err(ApiError::internal("unexpected public key encoding"));
    }
    let jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64::encode(&point[1..33]),
        "y": b64::encode(&point[33..65]),
        "kid": kid,
        "alg": ALG,
        "use": "sig",
    });
    Ok(jwk.to_string())
}

/// Signs claims with a stored private key.
pub fn sign(kid: &str, pkcs8: &[u8], claims: &Claims) -> ApiResult<String> {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
        .map_err(|_| ApiError::internal(format!("signing key {kid} does not parse")))?;
    let header = serde_json::json!({"alg": ALG, "typ": "JWT", "kid": kid});
    let payload = serde_json::to_vec(claims).map_err(ApiError::internal)?;
    let signing_input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(&payload)
    );
    let signature = pair
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .map_err(|_| ApiError::internal("signing failed"))?;
    Ok(format!(
        "{signing_input}.{}",
        b64::encode(signature.as_ref())
    ))
}

/// A token taken apart, before its signature is checked.
pub struct Parsed<'a> {
    /// The `kid` of the header.
    pub kid: String,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

/// Splits a compact JWS and reads its header; `None` for anything malformed or not ES256.
pub fn parse(token: &str) -> Option<Parsed<'_>> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    let header: serde_json::Value = serde_json::from_slice(&b64::decode(header).ok()?).ok()?;
    if header["alg"] != ALG {
        return None;
    }
    Some(Parsed {
        kid: header["kid"].as_str()?.to_owned(),
        signing_input,
        signature: b64::decode(signature).ok()?,
        payload: b64::decode(payload).ok()?,
    })
}

/// Checks the signature against a JWK and returns the claims; `None` if it does not verify.
pub fn verify(parsed: &Parsed<'_>, public_jwk: &str) -> Option<Claims> {
    let jwk: serde_json::Value = serde_json::from_str(public_jwk).ok()?;
    let x = b64::decode(jwk["x"].as_str()?).ok()?;
    let y = b64::decode(jwk["y"].as_str()?).ok()?;
    let mut point = Vec::with_capacity(65);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(parsed.signing_input.as_bytes(), &parsed.signature)
        .ok()?;
    serde_json::from_slice(&parsed.payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            iss: "passkeyd".into(),
            aud: "app".into(),
            sub: "user-1".into(),
            sid: "ses_1".into(),
            app: "app".into(),
            pkid: Some("pk_1".into()),
            iat: 1,
            exp: 2,
        }
    }

    #[test]
    fn signs_and_verifies() {
        let (pkcs8, jwk) = generate("k1").unwrap();
        let token = sign("k1", &pkcs8, &claims()).unwrap();
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.kid, "k1");
        assert_eq!(verify(&parsed, &jwk), Some(claims()));
        // Another key, a changed payload or a changed signature do not verify.
        let (_, other) = generate("k2").unwrap();
        assert_eq!(verify(&parsed, &other), None);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64::encode(br#"{"iss":"passkeyd","aud":"app","sub":"admin","sid":"s","app":"app","iat":1,"exp":9}"#);
        parts[1] = &forged;
        let forged_token = parts.join(".");
        assert_eq!(verify(&parse(&forged_token).unwrap(), &jwk), None);
        assert!(parse("a.b").is_none());
        assert!(parse("not a token").is_none());
        let none_alg = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"none","kid":"k1"}"#),
            b64::encode(b"{}")
        );
        assert!(parse(&none_alg).is_none());
    }
}
