//! ML-DSA (COSE -48/-49/-50) credential keys: decoded from COSE AKP keys and verified with aws-lc-rs.

#![allow(clippy::unwrap_used)]

use aws_lc_rs::signature::{
    KeyPair, PqdsaKeyPair, ML_DSA_44_SIGNING, ML_DSA_65_SIGNING, ML_DSA_87_SIGNING,
};
use ciborium::Value;
use passkeyd_core::cose::KeyMaterial;
use passkeyd_core::{Algorithm, CredentialPublicKey};

fn akp_key(alg: i64, public: &[u8]) -> Vec<u8> {
    let map = Value::Map(vec![
        (Value::from(1), Value::from(7)),
        (Value::from(3), Value::from(alg)),
        (Value::from(-1), Value::Bytes(public.to_vec())),
    ]);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&map, &mut out).unwrap();
    out
}

#[test]
fn ml_dsa_keys_verify_their_signatures() {
    for (signing, alg, expected) in [
        (&ML_DSA_44_SIGNING, -48, Algorithm::MlDsa44),
        (&ML_DSA_65_SIGNING, -49, Algorithm::MlDsa65),
        (&ML_DSA_87_SIGNING, -50, Algorithm::MlDsa87),
    ] {
        let pair = PqdsaKeyPair::generate(signing).unwrap();
        let cose = akp_key(alg, pair.public_key().as_ref());
        let key = CredentialPublicKey::from_cose(&cose).unwrap();
        assert_eq!(key.alg, expected);
        assert!(matches!(key.material, KeyMaterial::MlDsa { .. }));
        let message = b"authenticatorData || clientDataHash";
        let mut signature = vec![0; signing.signature_len()];
        let len = pair.sign(message, &mut signature).unwrap();
        key.verify(message, &signature[..len]).unwrap();
        let mut tampered = signature[..len].to_vec();
        tampered[0] ^= 1;
        assert_eq!(
            key.verify(message, &tampered).unwrap_err().code(),
            "signature_invalid"
        );
        // A key of the wrong length for its algorithm is refused.
        let short = akp_key(alg, &pair.public_key().as_ref()[1..]);
        assert_eq!(
            CredentialPublicKey::from_cose(&short).unwrap_err().code(),
            "malformed_public_key"
        );
    }
}
