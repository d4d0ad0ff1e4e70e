//! The bench's own software authenticator: a pool of ES256 key pairs derived from a seed, and the
//! registration and assertion responses a browser would send, in `PublicKeyCredential.toJSON()`
//! form. It is deliberately small and fast (no faults, one algorithm, `none` attestation): its
//! CPU is spent in the load generator, and every microsecond here is one the server cannot use.

use aws_lc_rs::agreement;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

/// The flags of every response: user present, user verified, backup eligible and backed up, as
/// a synced passkey (iCloud Keychain, Google Password Manager) reports them.
const FLAGS: u8 = 0x01 | 0x04 | 0x08 | 0x10;
/// The attested-credential-data flag, set in registration authenticator data only.
const FLAG_AT: u8 = 0x40;
/// Google Password Manager's AAGUID: a model the server's name table knows, as most do.
pub const AAGUID: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";
/// The DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Base64url without padding, the encoding of every binary value in WebAuthn JSON.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

/// SHA-256 over a seed, a label and a number: how every per-user value (ids, handles,
/// credential ids, private keys) is derived, so that none needs to be kept in memory and a
/// seeded database can be used again by a later run that knows the seed.
pub fn derive(seed: &[u8], label: &str, n: u64) -> [u8; 32] {
    let mut input = Vec::with_capacity(seed.len() + label.len() + 9);
    input.extend_from_slice(seed);
    input.extend_from_slice(label.as_bytes());
    input.push(0);
    input.extend_from_slice(&n.to_be_bytes());
    sha256(&input)
}

/// One ES256 credential key.
pub struct Key {
    pair: EcdsaKeyPair,
    cose: Vec<u8>,
    spki: Vec<u8>,
}

impl Key {
    /// The key whose private scalar is derived from `seed` and `index`. A derived value that is
    /// not a valid scalar (zero or not below the group order, odds about 2^-32) is derived again
    /// with the next attempt number.
    fn derived(seed: &[u8], index: u64) -> Result<Self, String> {
        for attempt in 0..16u64 {
            let scalar = derive(seed, &format!("key/{attempt}"), index);
            let Ok(private) =
                agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &scalar)
            else {
                continue;
            };
            let point = private
                .compute_public_key()
                .map_err(|_| "cannot compute a P-256 public key".to_owned())?;
            let pair = EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &scalar,
                point.as_ref(),
            )
            .map_err(|e| format!("cannot make an ECDSA key pair: {e}"))?;
            return Key::new(pair);
        }
        Err(format!("no valid P-256 scalar for key {index}"))
    }

    fn new(pair: EcdsaKeyPair) -> Result<Self, String> {
        let point = pair.public_key().as_ref();
        let cose = cose_p256(point).ok_or("the public key is not an uncompressed P-256 point")?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(point);
        Ok(Key { pair, cose, spki })
    }

    /// The public key as a COSE_Key (EC2, P-256, ES256).
    pub fn cose(&self) -> &[u8] {
        &self.cose
    }

    /// The uncompressed public point (`0x04 || x || y`).
    #[cfg(test)]
    pub fn point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// An ASN.1 DER ECDSA signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| "ECDSA signing failed".to_owned())
    }
}

/// The COSE_Key of an EC2 P-256 public key, canonically ordered:
/// `{1: 2, 3: -7, -1: 1, -2: x, -3: y}`. `None` unless `point` is `0x04 || x || y`.
pub fn cose_p256(point: &[u8]) -> Option<Vec<u8>> {
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    let mut out = Vec::with_capacity(77);
    // A map of five pairs; kty 2 (EC2); alg -7 (ES256); crv 1 (P-256).
    out.extend_from_slice(&[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01]);
    // x and y: byte strings of 32 bytes each.
    out.extend_from_slice(&[0x21, 0x58, 0x20]);
    out.extend_from_slice(&point[1..33]);
    out.extend_from_slice(&[0x22, 0x58, 0x20]);
    out.extend_from_slice(&point[33..65]);
    Some(out)
}

/// A pool of derived key pairs, shared round-robin by the seeded users: one key pair per user
/// would make seeding a million users cost a million key derivations, and the server neither
/// knows nor cares that two credentials share a public key.
pub struct KeyPool {
    keys: Vec<Key>,
}

impl KeyPool {
    /// Derives `size` key pairs from `seed`.
    pub fn derive(seed: &[u8], size: usize) -> Result<Self, String> {
        let keys = (0..size.max(1) as u64)
            .map(|i| Key::derived(seed, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyPool { keys })
    }

    /// How many key pairs the pool holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key of user `user`.
    pub fn for_user(&self, user: u64) -> &Key {
        let len = self.keys.len() as u64;
        // The index is below the pool's length, which is a usize.
        &self.keys[usize::try_from(user % len).unwrap_or(0)]
    }
}

/// What the relying party is: the RP ID hashed into authenticator data and the origin written
/// into client data.
pub struct RelyingParty {
    rp_id_hash: [u8; 32],
    origin: String,
}

impl RelyingParty {
    /// The relying party `rp_id` with pages on `origin`.
    pub fn new(rp_id: &str, origin: &str) -> Self {
        RelyingParty {
            rp_id_hash: sha256(rp_id.as_bytes()),
            origin: origin.to_owned(),
        }
    }

    /// clientDataJSON as browsers write it (type, challenge, origin, crossOrigin). The challenge
    /// is the base64url text of the options, used as it is.
    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        // The values are base64url and a fixed origin: nothing in them needs JSON escaping.
        format!(
            r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{}","crossOrigin":false}}"#,
            self.origin
        )
        .into_bytes()
    }

    /// The assertion a synced passkey makes for `challenge`: counter 0, UP, UV, BE and BS set,
    /// and the user handle returned.
    pub fn assertion(
        &self,
        key: &Key,
        credential_id: &[u8],
        user_handle: &[u8],
        challenge: &str,
    ) -> Result<Value, String> {
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth_data = Vec::with_capacity(37);
        auth_data.extend_from_slice(&self.rp_id_hash);
        auth_data.push(FLAGS);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let signature = key.sign(&signed)?;
        let id = b64(credential_id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": b64(user_handle),
            },
        }))
    }

    /// The registration response of a synced passkey with `none` attestation.
    pub fn registration(
        &self,
        key: &Key,
        credential_id: &[u8],
        challenge: &str,
    ) -> Result<Value, String> {
        let client_data = self.client_data("webauthn.create", challenge);
        let aaguid = parse_uuid(AAGUID).ok_or("the AAGUID constant is not a UUID")?;
        let id_len = u16::try_from(credential_id.len()).map_err(|_| "credential id too long")?;
        let mut auth_data = Vec::with_capacity(55 + credential_id.len() + key.cose().len());
        auth_data.extend_from_slice(&self.rp_id_hash);
        auth_data.push(FLAGS | FLAG_AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&aaguid);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(credential_id);
        auth_data.extend_from_slice(key.cose());
        let attestation_object = none_attestation(&auth_data);
        let id = b64(credential_id);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": true}},
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation_object),
                "authenticatorData": b64(&auth_data),
                "publicKey": b64(&key.spki),
                "publicKeyAlgorithm": -7,
                "transports": ["hybrid", "internal"],
            },
        }))
    }
}

/// The CBOR attestation object `{"fmt": "none", "attStmt": {}, "authData": auth_data}`.
fn none_attestation(auth_data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(auth_data.len() + 32);
    out.push(0xa3);
    out.extend_from_slice(b"\x63fmt\x64none");
    out.extend_from_slice(b"\x67attStmt\xa0");
    out.extend_from_slice(b"\x68authData");
    let len = auth_data.len();
    if len < 24 {
        out.push(0x40 | len as u8);
    } else if let Ok(short) = u8::try_from(len) {
        out.extend_from_slice(&[0x58, short]);
    } else {
        // Authenticator data is far below 64 KiB: the id is at most 1023 bytes, the key 77.
        out.push(0x59);
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    }
    out.extend_from_slice(auth_data);
    out
}

/// The 16 bytes of a UUID written with dashes.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    use passkeyd_core::cose::{Algorithm, Curve, KeyMaterial};
    use passkeyd_core::CredentialPublicKey;

    #[test]
    fn cose_key_round_trips_through_the_core() {
        let pool = KeyPool::derive(b"test seed", 3).unwrap();
        for user in 0..3 {
            let key = pool.for_user(user);
            let decoded = CredentialPublicKey::from_cose(key.cose()).unwrap();
            assert_eq!(decoded.alg, Algorithm::Es256);
            assert_eq!(
                decoded.material,
                KeyMaterial::Ec2 {
                    curve: Curve::P256,
                    point: key.point().to_vec()
                }
            );
            // A signature the bench makes verifies under the decoded key.
            let signature = key.sign(b"message").unwrap();
            decoded.verify(b"message", &signature).unwrap();
        }
        assert!(cose_p256(&[0x04; 64]).is_none());
    }

    #[test]
    fn keys_are_derived_deterministically_and_differ() {
        let a = KeyPool::derive(b"seed", 2).unwrap();
        let b = KeyPool::derive(b"seed", 2).unwrap();
        assert_eq!(a.for_user(0).point(), b.for_user(0).point());
        assert_eq!(a.for_user(1).point(), a.for_user(3).point());
        assert_ne!(a.for_user(0).point(), a.for_user(1).point());
        let other = KeyPool::derive(b"other seed", 1).unwrap();
        assert_ne!(other.for_user(0).point(), a.for_user(0).point());
    }

    #[test]
    fn an_assertion_verifies_over_auth_data_and_client_data_hash() {
        let pool = KeyPool::derive(b"seed", 1).unwrap();
        let rp = RelyingParty::new("localhost", "http://localhost:8080");
        let json = rp
            .assertion(pool.for_user(0), b"cred", b"handle", "Y2hhbGxlbmdl")
            .unwrap();
        let response = &json["response"];
        let field = |name: &str| unb64(response[name].as_str().unwrap()).unwrap();
        let auth_data = field("authenticatorData");
        assert_eq!(auth_data.len(), 37);
        assert_eq!(&auth_data[..32], &sha256(b"localhost"));
        let client_data: Value = serde_json::from_slice(&field("clientDataJSON")).unwrap();
        assert_eq!(client_data["challenge"], "Y2hhbGxlbmdl");
        assert_eq!(client_data["type"], "webauthn.get");
        let mut signed = auth_data;
        signed.extend_from_slice(&sha256(&field("clientDataJSON")));
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, pool.for_user(0).point())
            .verify(&signed, &field("signature"))
            .unwrap();
        assert_eq!(field("userHandle"), b"handle");
    }

    #[test]
    fn attestation_object_is_the_cbor_the_spec_describes() {
        let auth_data = vec![7u8; 200];
        let object = none_attestation(&auth_data);
        assert_eq!(object[0], 0xa3);
        assert!(object.ends_with(&auth_data));
        let header = &object[object.len() - auth_data.len() - 2..object.len() - auth_data.len()];
        assert_eq!(header, &[0x58, 200]);
        assert_eq!(parse_uuid(AAGUID).unwrap()[..4], [0xea, 0x9b, 0x8d, 0x66]);
    }
}
