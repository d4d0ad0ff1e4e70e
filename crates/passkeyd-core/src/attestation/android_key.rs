//! The `android-key` attestation format (WebAuthn §8.4): keys from the Android keystore.

use super::{leaf_verifier, owned, parse_chain, AttestationType, Context};
use crate::cose::Algorithm;
use crate::error::{Error, Result};
use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer};

const KEY_DESCRIPTION: &str = "1.3.6.1.4.1.11129.2.1.17";
const TAG_PURPOSE: u32 = 1;
const TAG_ALL_APPLICATIONS: u32 = 600;
const TAG_ORIGIN: u32 = 702;
const KM_ORIGIN_GENERATED: u64 = 0;
const KM_PURPOSE_SIGN: u64 = 2;

pub(super) fn verify(ctx: &Context<'_, '_>) -> Result<(AttestationType, Vec<Vec<u8>>)> {
    let alg = Algorithm::from_cose_id(ctx.stmt.int("alg")?)?;
    let sig = ctx.stmt.bytes("sig")?;
    let x5c = ctx.stmt.x5c_required()?;
    let chain = parse_chain(&x5c)?;
    let leaf = &chain[0];
    leaf_verifier(leaf, alg)?
        .verify(&ctx.signed_data(), sig)
        .map_err(|_| {
            Error::AttestationInvalid(
                "android-key signature does not verify with the attestation certificate".into(),
            )
        })?;
    if !ctx.credential.public_key.same_key_as(&leaf.public_key()?) {
        return Err(Error::AttestationInvalid(
            "the credential key differs from the attestation certificate's key".into(),
        ));
    }
    let (value, _) = leaf.extension(KEY_DESCRIPTION).ok_or_else(|| {
        Error::AttestationInvalid("the Android key description extension is missing".into())
    })?;
    let description = KeyDescription::parse(value).ok_or_else(|| {
        Error::AttestationInvalid("the Android key description extension is malformed".into())
    })?;
    if description.challenge != ctx.client_data_hash {
        return Err(Error::AttestationInvalid(
            "attestationChallenge is not the client data hash".into(),
        ));
    }
    if description.all_applications {
        return Err(Error::AttestationInvalid(
            "the key is bound to all applications (allApplications is present)".into(),
        ));
    }
    let lists: &[&AuthorizationList] = if ctx.policy.android_key_allow_software {
        &[&description.tee_enforced, &description.software_enforced]
    } else {
        &[&description.tee_enforced]
    };
    if !lists.iter().any(|l| l.origin == Some(KM_ORIGIN_GENERATED)) {
        return Err(Error::AttestationInvalid(
            "the key was not generated in the keystore (origin is not KM_ORIGIN_GENERATED)".into(),
        ));
    }
    if !lists.iter().any(|l| l.purposes.contains(&KM_PURPOSE_SIGN)) {
        return Err(Error::AttestationInvalid(
            "the key's purpose does not include signing".into(),
        ));
    }
    Ok((AttestationType::Basic, owned(&x5c)))
}

#[derive(Default)]
struct AuthorizationList {
    purposes: Vec<u64>,
    origin: Option<u64>,
    all_applications: bool,
}

struct KeyDescription<'a> {
    challenge: &'a [u8],
    software_enforced: AuthorizationList,
    tee_enforced: AuthorizationList,
    all_applications: bool,
}

impl<'a> KeyDescription<'a> {
    /// `KeyDescription ::= SEQUENCE { attestationVersion, attestationSecurityLevel,
    /// keymasterVersion, keymasterSecurityLevel, attestationChallenge OCTET STRING, uniqueId,
    /// softwareEnforced AuthorizationList, teeEnforced AuthorizationList }`.
    fn parse(value: &'a [u8]) -> Option<Self> {
        let (_, seq) = Any::from_der(value).ok()?;
        let items = children(seq.data)?;
        if items.len() < 8 {
            return None;
        }
        let challenge = items[4].data;
        let software_enforced = AuthorizationList::parse(items[6].data)?;
        let tee_enforced = AuthorizationList::parse(items[7].data)?;
        let all_applications = software_enforced.all_applications || tee_enforced.all_applications;
        Some(KeyDescription {
            challenge,
            software_enforced,
            tee_enforced,
            all_applications,
        })
    }
}

impl AuthorizationList {
    /// A SEQUENCE of context-specific, explicitly tagged fields; only three matter here.
    fn parse(data: &[u8]) -> Option<Self> {
        let mut list = AuthorizationList::default();
        for field in children(data)? {
            if field.class() != Class::ContextSpecific {
                continue;
            }
            match field.tag().0 {
                TAG_PURPOSE => {
                    let (_, set) = Any::from_der(field.data).ok()?;
                    for item in children(set.data)? {
                        list.purposes.push(uint(item.data)?);
                    }
                }
                TAG_ORIGIN => {
                    let (_, int) = Any::from_der(field.data).ok()?;
                    list.origin = Some(uint(int.data)?);
                }
                TAG_ALL_APPLICATIONS => list.all_applications = true,
                _ => {}
            }
        }
        Some(list)
    }
}

fn children(mut data: &[u8]) -> Option<Vec<Any<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = Any::from_der(data).ok()?;
        out.push(any);
        data = rest;
    }
    Some(out)
}

/// A small non-negative DER INTEGER.
fn uint(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 9 || bytes[0] & 0x80 != 0 {
        return None;
    }
    let mut v: u64 = 0;
    for b in bytes {
        v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
    }
    Some(v)
}
