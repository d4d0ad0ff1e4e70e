//! Owns the credential algorithms: key generation, signing, and the COSE_Key and SPKI encodings.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{self, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

use crate::cbor::Item;

/// A credential signature algorithm, named after its COSE identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256 (COSE -7), DER-encoded signatures.
    Es256,
    /// ECDSA on P-384 with SHA-384 (COSE -35), DER-encoded signatures.
    Es384,
    /// ECDSA on P-521 with SHA-512 (COSE -36), DER-encoded signatures.
    Es512,
    /// EdDSA on Ed25519 (COSE -8).
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key (COSE -257).
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, 2048-bit key (COSE -37).
    Ps256,
}

impl Alg {
    /// Every supported algorithm, so tests can loop over all of them.
    pub const ALL: [Alg; 6] = [
        Alg::Es256,
        Alg::Es384,
        Alg::Es512,
        Alg::Ed25519,
        Alg::Rs256,
        Alg::Ps256,
    ];

    /// The COSE algorithm identifier (the `alg` / `publicKeyAlgorithm` value).
    pub fn cose_id(self) -> i64 {
        match self {
            Alg::Es256 => -7,
            Alg::Es384 => -35,
            Alg::Es512 => -36,
            Alg::Ed25519 => -8,
            Alg::Rs256 => -257,
            Alg::Ps256 => -37,
        }
    }

    /// The algorithm with the given COSE identifier, if this crate supports it.
    pub fn from_cose_id(id: i64) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.cose_id() == id)
    }

    /// The COSE curve identifier and the fixed coordinate length for the ECDSA algorithms.
    fn ec_curve(self) -> Option<(i64, usize)> {
        match self {
            Alg::Es256 => Some((1, 32)),
            Alg::Es384 => Some((2, 48)),
            Alg::Es512 => Some((3, 66)),
            _ => None,
        }
    }
}

/// The private half of a credential or attestation key.
pub(crate) enum PrivateKey {
    Ec(Alg, EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(Alg, rsa::KeyPair),
}

impl fmt::Debug for PrivateKey {
    // Only the algorithm is shown: the key material is of no use in a test failure message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?})", self.alg())
    }
}

impl PrivateKey {
    /// Generates a fresh random key for `alg`.
    pub(crate) fn generate(alg: Alg) -> Self {
        match alg {
            Alg::Es256 | Alg::Es384 | Alg::Es512 => {
                let signing = match alg {
                    Alg::Es256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    Alg::Es384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    _ => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                };
                let kp = EcdsaKeyPair::generate(signing).expect("aws-lc-rs generates ECDSA keys");
                PrivateKey::Ec(alg, kp)
            }
            Alg::Ed25519 => PrivateKey::Ed(
                Ed25519KeyPair::generate().expect("aws-lc-rs generates Ed25519 keys"),
            ),
            Alg::Rs256 | Alg::Ps256 => {
                let kp = rsa::KeyPair::generate(KeySize::Rsa2048)
                    .expect("aws-lc-rs generates RSA-2048 keys");
                PrivateKey::Rsa(alg, kp)
            }
        }
    }

    /// The algorithm this key signs with.
    pub(crate) fn alg(&self) -> Alg {
        match self {
            PrivateKey::Ec(alg, _) | PrivateKey::Rsa(alg, _) => *alg,
            PrivateKey::Ed(_) => Alg::Ed25519,
        }
    }

    /// Signs `msg` the way a WebAuthn authenticator does for this algorithm.
    pub(crate) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            PrivateKey::Ec(_, kp) => kp
                .sign(&rng, msg)
                .expect("ECDSA signing with a valid key does not fail")
                .as_ref()
                .to_vec(),
            PrivateKey::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
            PrivateKey::Rsa(alg, kp) => {
                let padding: &'static dyn signature::RsaEncoding = if *alg == Alg::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(padding, &rng, msg, &mut sig)
                    .expect("RSA signing with a valid key does not fail");
                sig
            }
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo, the `publicKey` member of the JSON response.
    pub(crate) fn spki_der(&self) -> Vec<u8> {
        let der = match self {
            PrivateKey::Ec(_, kp) => kp.public_key().as_der(),
            PrivateKey::Ed(kp) => kp.public_key().as_der(),
            PrivateKey::Rsa(_, kp) => kp.public_key().as_der(),
        };
        der.expect("aws-lc-rs encodes its own public keys")
            .as_ref()
            .to_vec()
    }

    /// The uncompressed SEC1 point `0x04 || x || y`, only for ECDSA keys.
    pub(crate) fn ec_point(&self) -> Option<&[u8]> {
        match self {
            PrivateKey::Ec(_, kp) => Some(kp.public_key().as_ref()),
            _ => None,
        }
    }

    /// The public key as a canonical CBOR COSE_Key.
    pub(crate) fn cose_key(&self) -> Vec<u8> {
        let alg = Item::Int(self.alg().cose_id());
        let map = match self {
            PrivateKey::Ec(a, kp) => {
                let (crv, len) = a.ec_curve().expect("EC keys only carry EC algorithms");
                let point = kp.public_key().as_ref();
                // aws-lc-rs gives the uncompressed point, whose coordinates are already
                // left-padded to the curve size, which is what COSE requires.
                assert_eq!(point.len(), 1 + 2 * len, "uncompressed point length");
                vec![
                    (Item::Int(1), Item::Int(2)),
                    (Item::Int(3), alg),
                    (Item::Int(-1), Item::Int(crv)),
                    (Item::Int(-2), Item::Bytes(point[1..=len].to_vec())),
                    (Item::Int(-3), Item::Bytes(point[1 + len..].to_vec())),
                ]
            }
            PrivateKey::Ed(kp) => vec![
                (Item::Int(1), Item::Int(1)),
                (Item::Int(3), alg),
                (Item::Int(-1), Item::Int(6)),
                (
                    Item::Int(-2),
                    Item::Bytes(kp.public_key().as_ref().to_vec()),
                ),
            ],
            PrivateKey::Rsa(_, kp) => {
                let public = kp.public_key();
                vec![
                    (Item::Int(1), Item::Int(3)),
                    (Item::Int(3), alg),
                    (
                        Item::Int(-1),
                        Item::Bytes(public.modulus().big_endian_without_leading_zero().to_vec()),
                    ),
                    (
                        Item::Int(-2),
                        Item::Bytes(public.exponent().big_endian_without_leading_zero().to_vec()),
                    ),
                ]
            }
        };
        Item::Map(map).encode()
    }
}
