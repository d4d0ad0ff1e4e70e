//! Conformance: every response from real authenticators in `../shared/conformance/vectors.json`
//! must get the verdict a correct relying party reaches, through the same public API the
//! `passkeyd verify` command uses. Deliberate differences are listed in `DIFFERENCES`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use passkeyd_core::{
    b64, verify_authentication, verify_registration, Algorithm, AttestationPolicy,
    AuthenticationResponse, AuthenticationState, Challenge, CounterPolicy, CredentialPublicKey,
    Error, Origin, RegistrationResponse, RegistrationState, RelyingParty, RpId, StoredCredential,
    UserHandle, UserVerification,
};
use serde_json::Value;
use std::path::PathBuf;

/// Vectors where passkeyd deliberately reaches another verdict or code, with the reason.
const DIFFERENCES: &[(&str, &str)] = &[
    (
        "swa-reg-android-safetynet-gsr1-revoked",
        "the source refuses it because a certificate of the chain is on Google's revocation list; checking \
         revocation needs a CRL fetch and the core does no I/O, so passkeyd verifies the chain at the pinned \
         time and accepts it (SafetyNet is retired: no new statement can appear)",
    ),
    (
        "swa-auth-es256-wrong-type",
        "the corpus record holds the response before the source test broke its type (both type members are \
         correct in the data); the record's RP ID is wrong too, so passkeyd refuses it with rp_id_mismatch",
    ),
    (
        "swa-reg-none-wrong-type",
        "the corpus record holds the response before the source test broke its type: the data is a valid \
         registration (type public-key, webauthn.create), so passkeyd verifies it",
    ),
    (
        "swa-auth-es256-android-devicepubkey-ext-wrong-key",
        "the stored credential is not the one that answered (ids differ); passkeyd refuses that before the \
         signature check, with credential_not_allowed, instead of signature_invalid",
    ),
    (
        "f2n-reg-json2",
        "the response has no `type` member, which RegistrationResponseJSON requires; passkeyd refuses it with \
         credential_type_invalid (fido2-net-lib does not look at the member)",
    ),
    (
        "gow-reg-android-safetynet-webauthn-io-2019",
        "the JWS signature of this SafetyNet statement does not verify with its attest.android.com \
         certificate (checked independently with Python's cryptography package too); go-webauthn's test does \
         not reach the signature check. passkeyd refuses it with safetynet_invalid",
    ),
];

/// Which of our codes means the same as each corpus failure category.
fn matching_code(category: &str) -> &'static [&'static str] {
    match category {
        "challenge_mismatch" => &["challenge_mismatch"],
        "origin_mismatch" => &["origin_mismatch"],
        "rpid_mismatch" => &["rp_id_mismatch"],
        "type_mismatch" => &["client_data_type_mismatch", "credential_type_invalid"],
        "signature_invalid" => &["signature_invalid"],
        "counter_not_increased" => &["counter_rollback"],
        "attestation_aaguid_extension_mismatch" => &["aaguid_mismatch"],
        "safetynet_timestamp_out_of_range" | "safetynet_cts_profile_mismatch" => {
            &["safetynet_invalid"]
        }
        "attestation_certificate_revoked" => &["attestation_untrusted", "certificate_invalid"],
        _ => &[],
    }
}

fn corpus_path() -> PathBuf {
    std::env::var_os("PASSKEYD_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/vectors.json")
        })
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// The verification time: the vector's own, else the middle of its certificates' common window.
fn now_for(v: &Value) -> i64 {
    if let Some(t) = v["verify_options"]["verification_time"].as_str() {
        return unix(t);
    }
    let w = &v["x5c_common_validity_window"];
    if let (Some(from), Some(to)) = (w["from"].as_str(), w["to"].as_str()) {
        return (unix(from) + unix(to)) / 2;
    }
    unix("2024-01-01T00:00:00Z")
}

fn relying_party(v: &Value) -> RelyingParty {
    let origins: Vec<Origin> = strings(&v["expected"]["origin"])
        .iter()
        .map(|o| Origin::parse(o).unwrap())
        .collect();
    let rp_id = match strings(&v["expected"]["rp_id"]).first() {
        Some(id) => id.clone(),
        // The source never checked the RP ID: use the origin's host, as a browser would.
        None => match &origins[0] {
            Origin::Web { host, .. } => host.clone(),
            Origin::Android { .. } => panic!("no RP ID for a native origin"),
        },
    };
    RelyingParty::new(RpId::parse(&rp_id).unwrap(), origins).unwrap()
}

fn user_verification(v: &Value) -> UserVerification {
    if v["verify_options"]["require_user_verification"].as_bool() == Some(true) {
        UserVerification::Required
    } else {
        UserVerification::Preferred
    }
}

fn challenge(v: &Value) -> Challenge {
    Challenge::issued(b64::decode(v["expected"]["challenge"].as_str().unwrap()).unwrap()).unwrap()
}

/// Runs one vector; `Ok` carries a description of what was checked on success.
fn run(v: &Value) -> Result<(), Error> {
    let rp = relying_party(v);
    let json = serde_json::to_vec(&v["credential"]).unwrap();
    let decoded = &v["decoded"];
    if v["kind"] == "registration" {
        let algorithms = match v["verify_options"]["supported_algorithms"].as_array() {
            Some(ids) => ids
                .iter()
                .map(|i| Algorithm::from_cose_id(i.as_i64().unwrap()).unwrap())
                .collect(),
            None => Algorithm::ALL.to_vec(),
        };
        let state = RegistrationState {
            challenge: challenge(v),
            user_handle: UserHandle::new(vec![0; 16]).unwrap(),
            algorithms,
            user_verification: user_verification(v),
        };
        let policy = AttestationPolicy {
            safetynet_max_age_seconds: match v["verify_options"]["safetynet_verify_timestamp"]
                .as_bool()
            {
                Some(false) => None,
                _ => Some(60),
            },
            safetynet_require_cts_profile_match: v["verify_options"]
                ["safetynet_enforce_cts_profile_match"]
                .as_bool()
                != Some(false),
            ..AttestationPolicy::default()
        };
        let response = RegistrationResponse::from_json(&json)?;
        let r = verify_registration(&rp, &state, &policy, &response, now_for(v))?;
        let id = v["id"].as_str().unwrap();
        same(
            id,
            "credential id",
            &decoded["credential_id"],
            b64::encode(&r.credential_id),
        );
        same(
            id,
            "public key",
            &decoded["credential_public_key"],
            b64::encode(&r.public_key),
        );
        same(id, "alg", &v["cose_alg"], r.alg.cose_id());
        same(id, "sign count", &decoded["sign_count"], r.sign_count);
        same(id, "aaguid", &decoded["aaguid"], r.aaguid.clone());
        check_flags(
            id,
            decoded,
            r.user_verified,
            r.backup_eligible,
            r.backup_state,
        );
        let format = v["attestation_format"].as_str().unwrap();
        assert_eq!(
            r.fmt,
            format.trim_end_matches("-self").trim_end_matches("-x5c"),
            "{id}: fmt"
        );
    } else {
        let response = AuthenticationResponse::from_json(&json)?;
        let key_bytes = b64::decode(v["credential_public_key"].as_str().unwrap()).unwrap();
        let key = CredentialPublicKey::from_cose(&key_bytes)?;
        // Where the source stored no id, the credential is the one that answered.
        let stored_id = match v["stored_credential_id"].as_str() {
            Some(id) => b64::decode(id).unwrap(),
            None => response.credential_id().to_vec(),
        };
        let (state_handle, stored_handle) = match &response.response.user_handle {
            Some(h) if !h.0.is_empty() => (None, h.0.clone()),
            _ => (Some(UserHandle::new(vec![7; 16]).unwrap()), vec![7; 16]),
        };
        let state = AuthenticationState {
            challenge: challenge(v),
            user_handle: state_handle,
            allow_credentials: vec![stored_id.clone().into()],
            user_verification: user_verification(v),
        };
        let stored = StoredCredential {
            credential_id: &stored_id,
            public_key: &key,
            sign_count: u32::try_from(v["prior_sign_count"].as_u64().unwrap_or(0)).unwrap(),
            user_handle: &stored_handle,
            backup_eligible: decoded["flags"]["BE"].as_bool().unwrap_or(false),
            backup_state: decoded["flags"]["BS"].as_bool().unwrap_or(false),
        };
        let r = verify_authentication(&rp, &state, CounterPolicy::Reject, &response, &stored)?;
        let id = v["id"].as_str().unwrap();
        same(id, "sign count", &decoded["sign_count"], r.sign_count);
        check_flags(
            id,
            decoded,
            r.user_verified,
            r.backup_eligible,
            r.backup_state,
        );
    }
    Ok(())
}

/// Compares a result field with the vector's decoded value, where the vector has one.
fn same<T: Into<Value>>(id: &str, what: &str, expected: &Value, actual: T) {
    if !expected.is_null() {
        assert_eq!(&actual.into(), expected, "{id}: {what}");
    }
}

fn check_flags(id: &str, decoded: &Value, uv: bool, be: bool, bs: bool) {
    same(id, "UV", &decoded["flags"]["UV"], uv);
    same(id, "BE", &decoded["flags"]["BE"], be);
    same(id, "BS", &decoded["flags"]["BS"], bs);
}

#[test]
fn conformance_corpus() {
    let path = corpus_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "conformance corpus not found at {} (CI must have it)",
                path.display()
            );
        }
        println!(
            "conformance: SKIPPED, corpus not found at {}",
            path.display()
        );
        return;
    };
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut agree = 0;
    let mut deliberate = Vec::new();
    let mut disagreements = Vec::new();
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let expected_success = v["expected_result"] == "success";
        let outcome = run(v);
        let agrees = match (&outcome, expected_success) {
            (Ok(()), true) => true,
            (Err(e), false) => {
                matching_code(v["failure_category"].as_str().unwrap_or("")).contains(&e.code())
            }
            _ => false,
        };
        let verdict = match &outcome {
            Ok(()) => "verified".to_owned(),
            Err(e) => format!("{}: {e}", e.code()),
        };
        if agrees {
            agree += 1;
        } else if let Some((_, why)) = DIFFERENCES.iter().find(|(d, _)| *d == id) {
            deliberate.push(format!("{id}: {verdict} (deliberate: {why})"));
        } else {
            disagreements.push(format!(
                "{id}: expected {}, got {verdict}",
                v["expected_result"]
            ));
        }
    }
    for d in &deliberate {
        println!("conformance: {d}");
    }
    println!(
        "conformance: {agree}/{} agree, {} deliberate differences",
        vectors.len(),
        deliberate.len()
    );
    assert!(
        disagreements.is_empty(),
        "unexplained disagreements:\n{}",
        disagreements.join("\n")
    );
    for (id, _) in DIFFERENCES {
        assert!(
            vectors.iter().any(|v| v["id"] == *id),
            "DIFFERENCES names unknown vector {id}"
        );
    }
}
