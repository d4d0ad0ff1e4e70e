//! No input may panic: every parser, and both verifiers, get random bytes and mutations of
//! valid inputs made by the software authenticator. Each case must return `Ok` or an `Error`.

#![allow(clippy::unwrap_used)]

use passkeyd_core::cert::Certificate;
use passkeyd_core::{
    b64, Algorithm, AttestationObject, AttestationPolicy, AuthenticationResponse,
    AuthenticatorData, Challenge, ClientData, CredentialPublicKey, Origin, RegistrationResponse,
    RpId, TrustAnchors,
};
use proptest::prelude::*;
use std::sync::OnceLock;

mod common;

/// Valid inputs to mutate, made once by the software authenticator.
struct Seeds {
    attestation_objects: Vec<Vec<u8>>,
    auth_datas: Vec<Vec<u8>>,
    cose_keys: Vec<Vec<u8>>,
    client_datas: Vec<Vec<u8>>,
    certificates: Vec<Vec<u8>>,
    /// Registration responses with the relying party, challenge and time they verify under.
    registrations: Vec<Ceremony>,
}

struct Ceremony {
    json: serde_json::Value,
    rp: passkeyd_core::RelyingParty,
    state: passkeyd_core::RegistrationState,
    now: i64,
}

fn corpus_registrations() -> Vec<serde_json::Value> {
    let path = std::env::var_os("PASSKEYD_CONFORMANCE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/vectors.json")
        });
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "no_panic: conformance corpus not found at {}; fuzzing own seeds only",
            path.display()
        );
        return Vec::new();
    };
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    vectors
        .into_iter()
        .filter(|v| v["kind"] == "registration")
        .collect()
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let regs = common::every_kind_of_registration();
        let field = |json: &serde_json::Value, name: &str| {
            b64::decode(json["response"][name].as_str().unwrap()).unwrap()
        };
        let mut s = Seeds {
            attestation_objects: Vec::new(),
            auth_datas: Vec::new(),
            cose_keys: Vec::new(),
            client_datas: Vec::new(),
            certificates: Vec::new(),
            registrations: Vec::new(),
        };
        for r in &regs {
            let object_bytes = field(&r.json, "attestationObject");
            let object = AttestationObject::parse(&object_bytes).unwrap();
            s.certificates.extend(object.certificates());
            s.auth_datas.push(object.auth_data.clone());
            s.cose_keys.push(r.cose_public_key.clone());
            s.client_datas.push(field(&r.json, "clientDataJSON"));
            s.attestation_objects.push(object_bytes);
            let (rp, state) = common::registration_setup();
            s.registrations.push(Ceremony {
                json: r.json.clone(),
                rp,
                state,
                now: common::NOW,
            });
        }
        // Real authenticators' statements (tpm, android-key, apple, safetynet...) from the
        // conformance corpus, when it is beside the repository.
        for v in corpus_registrations() {
            let object = b64::decode(
                v["credential"]["response"]["attestationObject"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            if let Ok(parsed) = AttestationObject::parse(&object) {
                s.certificates.extend(parsed.certificates());
            }
            s.attestation_objects.push(object);
            let origin = v["expected"]["origin"]
                .as_str()
                .or_else(|| v["expected"]["origin"][0].as_str())
                .unwrap();
            let Ok(Origin::Web { host, .. }) = Origin::parse(origin) else {
                continue;
            };
            let rp_id = v["expected"]["rp_id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or(host);
            let Ok(rp_id) = RpId::parse(&rp_id) else {
                continue;
            };
            let rp = passkeyd_core::RelyingParty::new(rp_id, vec![Origin::parse(origin).unwrap()])
                .unwrap();
            let challenge = b64::decode(v["expected"]["challenge"].as_str().unwrap()).unwrap();
            let (_, mut state) = common::registration_setup();
            state.challenge = Challenge::issued(challenge).unwrap();
            state.algorithms = Algorithm::ALL.to_vec();
            s.registrations.push(Ceremony {
                json: v["credential"].clone(),
                rp,
                state,
                now: 1_600_000_000,
            });
        }
        s
    })
}

/// A mutation: flip, set, insert or delete bytes, or truncate.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for e in edits {
        let len = out.len().max(1);
        match *e {
            Edit::Flip(i, b) if !out.is_empty() => out[i % len] ^= b,
            Edit::Set(i, b) if !out.is_empty() => out[i % len] = b,
            Edit::Insert(i, b) => out.insert(i % (out.len() + 1), b),
            Edit::Delete(i) if !out.is_empty() => {
                out.remove(i % len);
            }
            Edit::Truncate(i) => out.truncate(i % (out.len() + 1)),
            _ => {}
        }
    }
    out
}

fn pick(items: &[Vec<u8>], i: usize) -> &[u8] {
    &items[i % items.len()]
}

fn config() -> ProptestConfig {
    // A short run on every `cargo test`; PROPTEST_CASES=100000 for a long one.
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cbor_attestation_objects(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..8), random in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = AttestationObject::parse(&random);
        let _ = AttestationObject::parse(&mutate(pick(seeds().attestation_objects.as_slice(), i), &edits)).map(|o| o.certificates());
    }

    #[test]
    fn authenticator_data(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..8), random in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = AuthenticatorData::parse(&random);
        let _ = AuthenticatorData::parse(&mutate(pick(seeds().auth_datas.as_slice(), i), &edits));
    }

    #[test]
    fn cose_keys(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..8), random in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = CredentialPublicKey::from_cose(&random);
        if let Ok(key) = CredentialPublicKey::from_cose(&mutate(pick(seeds().cose_keys.as_slice(), i), &edits)) {
            let _ = key.verify(b"message", &random);
        }
    }

    #[test]
    fn client_data(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..8), random in ".{0,200}") {
        let _ = ClientData::parse(random.as_bytes());
        let _ = ClientData::parse(&mutate(pick(seeds().client_datas.as_slice(), i), &edits));
    }

    #[test]
    fn certificates(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..8), random in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Certificate::parse(&random).map(|c| (c.summary(), c.public_key().ok(), c.is_ca()));
        if let Ok(c) = Certificate::parse(&mutate(pick(seeds().certificates.as_slice(), i), &edits)) {
            let _ = (c.summary(), c.public_key().ok(), c.check_validity(0), c.verify_signed_by(&c));
        }
        let _ = TrustAnchors::from_pem(&String::from_utf8_lossy(&random));
    }

    #[test]
    fn base64(random in ".{0,100}") {
        let _ = b64::decode(&random);
    }

    /// Whole registrations with a mutated attestation object run every format's statement parser.
    #[test]
    fn registration_verification(i in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seed = &seeds().registrations[i % seeds().registrations.len()];
        let object = b64::decode(seed.json["response"]["attestationObject"].as_str().unwrap()).unwrap();
        let mut json = seed.json.clone();
        json["response"]["attestationObject"] = b64::encode(&mutate(&object, &edits)).into();
        if let Ok(response) = RegistrationResponse::from_json(&serde_json::to_vec(&json).unwrap()) {
            let _ = passkeyd_core::verify_registration(&seed.rp, &seed.state, &AttestationPolicy::default(), &response, seed.now);
        }
    }

    #[test]
    fn response_json(random in ".{0,300}") {
        let _ = RegistrationResponse::from_json(random.as_bytes());
        let _ = AuthenticationResponse::from_json(random.as_bytes());
    }
}
