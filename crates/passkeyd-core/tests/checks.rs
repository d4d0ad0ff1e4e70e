//! Every check of the verifier, broken on its own: the software authenticator makes an honest
//! response with exactly one fault, and the verifier must refuse it with that check's code.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use passkeyd_core::{
    b64, verify_authentication, verify_registration, Algorithm, AttestationPolicy, AttestationType,
    AuthenticationResponse, AuthenticationState, Challenge, CounterPolicy, CredentialPublicKey,
    CrossOrigin, Error, Origin, RegistrationResponse, RegistrationState, StoredCredential,
    TrustAnchors, UserHandle, UserVerification, VerifiedAuthentication, VerifiedRegistration,
};
use passkeyd_testauth::{
    flags, Alg, Attestation, AuthenticationRequest, Authenticator, CertFaults, Faults,
    Registration, TestCa,
};
use time::OffsetDateTime;

fn register_json(
    json: &serde_json::Value,
    state: &RegistrationState,
    policy: &AttestationPolicy,
) -> Result<VerifiedRegistration, Error> {
    let response = RegistrationResponse::from_json(&serde_json::to_vec(json).unwrap())?;
    verify_registration(&rp(), state, policy, &response, NOW)
}

/// Registers with `faults` and `attestation`, and checks the verdict: `None` for success, or the code.
fn check_registration(
    alg: Alg,
    attestation: Attestation,
    faults: Faults,
    uv: UserVerification,
    expected: Option<&str>,
) -> Option<VerifiedRegistration> {
    let reg = Authenticator::new(alg)
        .register(&request().with_attestation(attestation).with_faults(faults));
    let outcome = register_json(
        &reg.json,
        &registration_state(uv),
        &AttestationPolicy::default(),
    );
    verdict(outcome, expected)
}

fn verdict<T: std::fmt::Debug>(outcome: Result<T, Error>, expected: Option<&str>) -> Option<T> {
    match (outcome, expected) {
        (Ok(v), None) => Some(v),
        (Err(e), Some(code)) => {
            assert_eq!(e.code(), code, "wrong code; message: {e}");
            assert!(
                Error::CODES.contains(&e.code()),
                "{} is not listed in Error::CODES",
                e.code()
            );
            None
        }
        (Ok(v), Some(code)) => panic!("expected {code}, but it verified: {v:?}"),
        (Err(e), None) => panic!("expected success, got {}: {e}", e.code()),
    }
}

fn reg_fails(faults: Faults, code: &str) {
    check_registration(
        Alg::Es256,
        Attestation::None,
        faults,
        UserVerification::Preferred,
        Some(code),
    );
}

#[test]
fn every_algorithm_and_format_verifies_with_the_right_results() {
    for reg in every_kind_of_registration() {
        let r = register_json(
            &reg.json,
            &registration_state(UserVerification::Required),
            &AttestationPolicy::default(),
        )
        .unwrap_or_else(|e| panic!("alg {} failed: {}: {e}", reg.alg, e.code()));
        assert_eq!(r.credential_id, reg.credential_id);
        assert_eq!(r.public_key, reg.cose_public_key);
        assert_eq!(r.alg.cose_id(), reg.alg);
        assert_eq!(r.sign_count, 0);
        assert!(r.user_verified && !r.backup_eligible && !r.backup_state);
        assert_eq!(r.transports, vec!["internal".to_owned()]);
        assert!(!r.attestation_trusted);
        let expected_type = match r.fmt.as_str() {
            "none" => AttestationType::None,
            "packed" if r.trust_path.is_empty() => AttestationType::SelfAttestation,
            _ => AttestationType::Basic,
        };
        assert_eq!(r.attestation_type, expected_type, "{}", r.fmt);
    }
}

#[test]
fn trust_anchors_decide_trust() {
    let ca = TestCa::with_intermediate();
    let reg = Authenticator::new(Alg::Es256)
        .register(&request().with_attestation(Attestation::packed_x5c(&ca)));
    let state = registration_state(UserVerification::Preferred);
    let anchors = TrustAnchors::from_pem(&ca.root_pem()).unwrap();
    let trusted = AttestationPolicy {
        trust_anchors: Some(anchors.clone()),
        require_trusted: true,
        ..Default::default()
    };
    let r = register_json(&reg.json, &state, &trusted).unwrap();
    assert!(r.attestation_trusted);
    assert_eq!(r.trust_path.len(), 2);
    // Another CA's root is not enough.
    let other = AttestationPolicy {
        trust_anchors: Some(TrustAnchors::from_pem(&TestCa::new().root_pem()).unwrap()),
        require_trusted: true,
        ..Default::default()
    };
    verdict(
        register_json(&reg.json, &state, &other),
        Some("attestation_untrusted"),
    );
    // A leaf signed by an unknown issuer that claims the same chain.
    let forged = Authenticator::new(Alg::Es256).register(&request().with_attestation(
        Attestation::packed_x5c_with(
            &ca,
            CertFaults {
                untrusted_issuer: true,
                ..Default::default()
            },
        ),
    ));
    assert!(register_json(&forged.json, &state, &trusted).is_err());
    // none and self attestation prove nothing when trust is required.
    for attestation in [Attestation::None, Attestation::PackedSelf] {
        let reg = Authenticator::new(Alg::Es256).register(&request().with_attestation(attestation));
        verdict(
            register_json(&reg.json, &state, &trusted),
            Some("attestation_untrusted"),
        );
    }
}

#[test]
fn client_data_checks() {
    reg_fails(
        Faults {
            client_data_type: Some("webauthn.get".into()),
            ..Default::default()
        },
        "client_data_type_mismatch",
    );
    reg_fails(
        Faults {
            challenge: Some(b64::encode(&[1; 32])),
            ..Default::default()
        },
        "challenge_mismatch",
    );
    reg_fails(
        Faults {
            challenge: Some("not base64 !".into()),
            ..Default::default()
        },
        "challenge_mismatch",
    );
    reg_fails(
        Faults {
            origin: Some("https://evil.example".into()),
            ..Default::default()
        },
        "origin_mismatch",
    );
    reg_fails(
        Faults {
            origin: Some("https://login.example.com".into()),
            ..Default::default()
        },
        "origin_mismatch",
    );
    reg_fails(
        Faults {
            cross_origin: Some(true),
            top_origin: Some("https://other.example".into()),
            ..Default::default()
        },
        "cross_origin_not_allowed",
    );
    reg_fails(
        Faults {
            client_data_json: Some(b"{not json".to_vec()),
            ..Default::default()
        },
        "malformed_client_data",
    );
    reg_fails(
        Faults {
            client_data_json: Some(br#"{"type":"webauthn.create"}"#.to_vec()),
            ..Default::default()
        },
        "malformed_client_data",
    );
}

#[test]
fn cross_origin_and_subdomains_when_allowed() {
    let reg = Authenticator::new(Alg::Es256).register(&request().with_faults(Faults {
        cross_origin: Some(true),
        top_origin: Some("https://shop.example".into()),
        ..Default::default()
    }));
    let response =
        RegistrationResponse::from_json(&serde_json::to_vec(&reg.json).unwrap()).unwrap();
    let state = registration_state(UserVerification::Preferred);
    let allowing = rp().cross_origin(CrossOrigin::AllowTopOrigins(vec![Origin::parse(
        "https://shop.example",
    )
    .unwrap()]));
    assert!(verify_registration(
        &allowing,
        &state,
        &AttestationPolicy::default(),
        &response,
        NOW
    )
    .is_ok());

    let reg = Authenticator::new(Alg::Es256).register(&request().with_faults(Faults {
        origin: Some("https://login.example.com".into()),
        ..Default::default()
    }));
    let response =
        RegistrationResponse::from_json(&serde_json::to_vec(&reg.json).unwrap()).unwrap();
    assert!(verify_registration(
        &rp().allow_subdomains(true),
        &state,
        &AttestationPolicy::default(),
        &response,
        NOW
    )
    .is_ok());
}

#[test]
fn authenticator_data_checks() {
    reg_fails(
        Faults {
            rp_id_hash: Some([9; 32]),
            ..Default::default()
        },
        "rp_id_mismatch",
    );
    reg_fails(
        Faults {
            flags_clear: flags::UP,
            ..Default::default()
        },
        "user_presence_missing",
    );
    reg_fails(
        Faults {
            flags_set: flags::BS,
            ..Default::default()
        },
        "backup_state_invalid",
    );
    reg_fails(
        Faults {
            credential_id: Some(vec![5; 1024]),
            ..Default::default()
        },
        "credential_id_too_long",
    );
    reg_fails(
        Faults {
            flags_clear: flags::AT,
            ..Default::default()
        },
        "malformed_authenticator_data",
    );
    reg_fails(
        Faults {
            auth_data_trailing: vec![0],
            ..Default::default()
        },
        "malformed_authenticator_data",
    );
    reg_fails(
        Faults {
            extensions: Some(vec![0xa0]),
            flags_clear: flags::ED,
            ..Default::default()
        },
        "malformed_authenticator_data",
    );
    reg_fails(
        Faults {
            flags_set: flags::ED,
            ..Default::default()
        },
        "malformed_authenticator_data",
    );
    reg_fails(
        Faults {
            cose_key: Some(vec![0xa1, 0x01, 0x02]),
            ..Default::default()
        },
        "malformed_public_key",
    );
    reg_fails(
        Faults {
            cose_key: Some(vec![0xff]),
            ..Default::default()
        },
        "malformed_public_key",
    );
    // A credential id of exactly 1023 bytes is allowed, and extensions with ED are fine.
    check_registration(
        Alg::Es256,
        Attestation::None,
        Faults {
            credential_id: Some(vec![5; 1023]),
            ..Default::default()
        },
        UserVerification::Preferred,
        None,
    );
    check_registration(
        Alg::Es256,
        Attestation::None,
        Faults {
            extensions: Some(vec![0xa1, 0x63, b'f', b'o', b'o', 0xf5]),
            ..Default::default()
        },
        UserVerification::Preferred,
        None,
    );
}

#[test]
fn user_verification_follows_policy() {
    let faults = || Faults {
        flags_clear: flags::UV,
        ..Default::default()
    };
    check_registration(
        Alg::Es256,
        Attestation::None,
        faults(),
        UserVerification::Required,
        Some("user_verification_required"),
    );
    let r = check_registration(
        Alg::Es256,
        Attestation::None,
        faults(),
        UserVerification::Preferred,
        None,
    )
    .unwrap();
    assert!(!r.user_verified);
}

#[test]
fn synced_passkeys_report_backup_flags() {
    let reg = Authenticator::new(Alg::Es256).synced().register(&request());
    let r = register_json(
        &reg.json,
        &registration_state(UserVerification::Preferred),
        &AttestationPolicy::default(),
    )
    .unwrap();
    assert!(r.backup_eligible && r.backup_state);
}

#[test]
fn algorithm_must_be_requested() {
    let reg = Authenticator::new(Alg::Ed25519).register(&request());
    let mut state = registration_state(UserVerification::Preferred);
    state.algorithms = vec![Algorithm::Es256];
    verdict(
        register_json(&reg.json, &state, &AttestationPolicy::default()),
        Some("algorithm_not_requested"),
    );
}

#[test]
fn attestation_object_and_format_checks() {
    reg_fails(
        Faults {
            fmt: Some("made-up".into()),
            ..Default::default()
        },
        "unsupported_attestation_format",
    );
    reg_fails(
        Faults {
            att_stmt: Some(vec![0xa1, 0x63, b'a', b'l', b'g', 0x26]),
            ..Default::default()
        },
        "attestation_invalid",
    );
    reg_fails(
        Faults {
            attestation_object_trailing: vec![0],
            ..Default::default()
        },
        "malformed_attestation_object",
    );
    let fails = |attestation: Attestation, faults: Faults, code: &str| {
        check_registration(
            Alg::Es256,
            attestation,
            faults,
            UserVerification::Preferred,
            Some(code),
        );
    };
    let ca = TestCa::new();
    for attestation in [
        Attestation::PackedSelf,
        Attestation::packed_x5c(&ca),
        Attestation::fido_u2f(&ca),
    ] {
        fails(
            attestation.clone(),
            Faults {
                corrupt_signature: true,
                ..Default::default()
            },
            "attestation_invalid",
        );
        fails(
            attestation,
            Faults {
                sign_with_other_key: true,
                ..Default::default()
            },
            "attestation_invalid",
        );
    }
    fails(
        Attestation::PackedSelf,
        Faults {
            att_stmt_alg: Some(-8),
            ..Default::default()
        },
        "attestation_invalid",
    );
    fails(
        Attestation::PackedSelf,
        Faults {
            att_stmt_alg: Some(-999),
            ..Default::default()
        },
        "unsupported_algorithm",
    );
    // fido-u2f signs the credential id and the rpIdHash, so breaking either breaks it.
    fails(
        Attestation::fido_u2f(&ca),
        Faults {
            rp_id_hash: Some([1; 32]),
            ..Default::default()
        },
        "rp_id_mismatch",
    );
    // An Ed25519 credential cannot come with fido-u2f; simulate by swapping in an EdDSA key.
    let ed = Authenticator::new(Alg::Ed25519).register(&request());
    fails(
        Attestation::fido_u2f(&ca),
        Faults {
            cose_key: Some(ed.cose_public_key.clone()),
            ..Default::default()
        },
        "attestation_invalid",
    );
}

#[test]
fn attestation_certificate_checks() {
    let ca = TestCa::new();
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let fails = |cert: CertFaults, code: &str| {
        check_registration(
            Alg::Es256,
            Attestation::packed_x5c_with(&ca, cert),
            Faults::default(),
            UserVerification::Preferred,
            Some(code),
        );
    };
    fails(CertFaults::expired_at(now), "certificate_expired");
    fails(
        CertFaults::not_yet_valid_at(now),
        "certificate_not_yet_valid",
    );
    fails(
        CertFaults {
            ca_true: true,
            ..Default::default()
        },
        "attestation_invalid",
    );
    fails(
        CertFaults {
            ou: Some("Marketing".into()),
            ..Default::default()
        },
        "attestation_invalid",
    );
    fails(
        CertFaults {
            aaguid: Some([3; 16]),
            ..Default::default()
        },
        "aaguid_mismatch",
    );
    fails(
        CertFaults {
            aaguid_critical: true,
            ..Default::default()
        },
        "attestation_invalid",
    );
    // Without the AAGUID extension the certificate is still acceptable.
    check_registration(
        Alg::Es256,
        Attestation::packed_x5c_with(
            &ca,
            CertFaults {
                omit_aaguid: true,
                ..Default::default()
            },
        ),
        Faults::default(),
        UserVerification::Preferred,
        None,
    );
    // The AAGUID in authenticator data must match the certificate's.
    check_registration(
        Alg::Es256,
        Attestation::packed_x5c(&ca),
        Faults {
            aaguid: Some([4; 16]),
            ..Default::default()
        },
        UserVerification::Preferred,
        Some("aaguid_mismatch"),
    );
    // fido-u2f and intermediate chains are checked at `now` too.
    check_registration(
        Alg::Es256,
        Attestation::fido_u2f_with(&ca, CertFaults::expired_at(now)),
        Faults::default(),
        UserVerification::Preferred,
        Some("certificate_expired"),
    );
    check_registration(
        Alg::Es256,
        Attestation::packed_x5c_with(&TestCa::with_intermediate(), CertFaults::expired_at(now)),
        Faults::default(),
        UserVerification::Preferred,
        Some("certificate_expired"),
    );
}

#[test]
fn response_json_checks() {
    let reg = Authenticator::new(Alg::Es256).register(&request());
    let state = registration_state(UserVerification::Preferred);
    let policy = AttestationPolicy::default();
    let mut json = reg.json.clone();
    json["type"] = "password".into();
    verdict(
        register_json(&json, &state, &policy),
        Some("credential_type_invalid"),
    );
    let mut json = reg.json.clone();
    json["response"]["clientDataJSON"] = "%%%".into();
    verdict(
        register_json(&json, &state, &policy),
        Some("malformed_response"),
    );
    let mut json = reg.json.clone();
    json["response"]
        .as_object_mut()
        .unwrap()
        .remove("attestationObject");
    verdict(
        register_json(&json, &state, &policy),
        Some("malformed_response"),
    );
    // Padded standard base64 is accepted.
    let mut json = reg.json.clone();
    let std = |s: &str| {
        let bytes = b64::decode(s).unwrap();
        base64_std(&bytes)
    };
    for field in ["clientDataJSON", "attestationObject"] {
        json["response"][field] = std(json["response"][field].as_str().unwrap()).into();
    }
    verdict(register_json(&json, &state, &policy), None);
}

fn base64_std(bytes: &[u8]) -> String {
    b64::encode(bytes).replace('-', "+").replace('_', "/")
        + ["", "", "==", "="][b64::encode(bytes).len() % 4]
}

// Authentication.

struct SignIn {
    authenticator: Authenticator,
    registration: Registration,
    key: CredentialPublicKey,
}

fn signed_up(authenticator: Authenticator) -> SignIn {
    let mut authenticator = authenticator;
    let registration = authenticator.register(&request());
    let key = CredentialPublicKey::from_cose(&registration.cose_public_key).unwrap();
    SignIn {
        authenticator,
        registration,
        key,
    }
}

const SIGN_IN_CHALLENGE: [u8; 32] = [99; 32];

fn auth_request() -> AuthenticationRequest {
    AuthenticationRequest::new(RP_ID, ORIGIN, SIGN_IN_CHALLENGE)
}

fn stored<'a>(s: &'a SignIn, sign_count: u32) -> StoredCredential<'a> {
    StoredCredential {
        credential_id: &s.registration.credential_id,
        public_key: &s.key,
        sign_count,
        user_handle: &USER_HANDLE,
        backup_eligible: false,
        backup_state: false,
    }
}

fn discoverable_state(uv: UserVerification) -> AuthenticationState {
    AuthenticationState {
        challenge: Challenge::new(SIGN_IN_CHALLENGE.to_vec()).unwrap(),
        user_handle: None,
        allow_credentials: Vec::new(),
        user_verification: uv,
    }
}

fn authenticate(
    s: &mut SignIn,
    faults: Faults,
    state: &AuthenticationState,
    stored_count: u32,
    policy: CounterPolicy,
) -> Result<VerifiedAuthentication, Error> {
    let assertion = s
        .authenticator
        .authenticate(&auth_request().with_faults(faults));
    let response =
        AuthenticationResponse::from_json(&serde_json::to_vec(&assertion.json).unwrap())?;
    verify_authentication(&rp(), state, policy, &response, &stored(s, stored_count))
}

fn auth_fails(faults: Faults, code: &str) {
    let mut s = signed_up(Authenticator::new(Alg::Es256));
    verdict(
        authenticate(
            &mut s,
            faults,
            &discoverable_state(UserVerification::Preferred),
            0,
            CounterPolicy::Reject,
        ),
        Some(code),
    );
}

#[test]
fn every_algorithm_signs_in() {
    for alg in Alg::ALL {
        let mut s = signed_up(Authenticator::new(alg));
        for expected_count in 1..=2 {
            let r = authenticate(
                &mut s,
                Faults::default(),
                &discoverable_state(UserVerification::Required),
                expected_count - 1,
                CounterPolicy::Reject,
            )
            .unwrap_or_else(|e| panic!("{alg:?}: {}: {e}", e.code()));
            assert_eq!(r.sign_count, expected_count);
            assert!(r.user_verified && !r.counter_rollback && !r.backup_state_changed);
        }
    }
}

#[test]
fn authentication_client_data_and_flags() {
    auth_fails(
        Faults {
            client_data_type: Some("webauthn.create".into()),
            ..Default::default()
        },
        "client_data_type_mismatch",
    );
    auth_fails(
        Faults {
            challenge: Some(b64::encode(&CHALLENGE)),
            ..Default::default()
        },
        "challenge_mismatch",
    );
    auth_fails(
        Faults {
            origin: Some("https://evil.example".into()),
            ..Default::default()
        },
        "origin_mismatch",
    );
    auth_fails(
        Faults {
            cross_origin: Some(true),
            ..Default::default()
        },
        "cross_origin_not_allowed",
    );
    auth_fails(
        Faults {
            rp_id_hash: Some([0; 32]),
            ..Default::default()
        },
        "rp_id_mismatch",
    );
    auth_fails(
        Faults {
            flags_clear: flags::UP,
            ..Default::default()
        },
        "user_presence_missing",
    );
    auth_fails(
        Faults {
            flags_set: flags::BS,
            ..Default::default()
        },
        "backup_state_invalid",
    );
    auth_fails(
        Faults {
            auth_data_trailing: vec![1, 2],
            ..Default::default()
        },
        "malformed_authenticator_data",
    );
    let mut s = signed_up(Authenticator::new(Alg::Es256));
    verdict(
        authenticate(
            &mut s,
            Faults {
                flags_clear: flags::UV,
                ..Default::default()
            },
            &discoverable_state(UserVerification::Required),
            0,
            CounterPolicy::Reject,
        ),
        Some("user_verification_required"),
    );
}

#[test]
fn signature_checks() {
    auth_fails(
        Faults {
            corrupt_signature: true,
            ..Default::default()
        },
        "signature_invalid",
    );
    auth_fails(
        Faults {
            sign_with_other_key: true,
            ..Default::default()
        },
        "signature_invalid",
    );
    auth_fails(
        Faults {
            signature: Some(vec![0x30, 0x00]),
            ..Default::default()
        },
        "signature_invalid",
    );
    // RSA keys go through another verification path.
    let mut s = signed_up(Authenticator::new(Alg::Rs256));
    verdict(
        authenticate(
            &mut s,
            Faults {
                corrupt_signature: true,
                ..Default::default()
            },
            &discoverable_state(UserVerification::Preferred),
            0,
            CounterPolicy::Reject,
        ),
        Some("signature_invalid"),
    );
}

#[test]
fn counter_rollback_is_refused_or_reported() {
    let mut s = signed_up(Authenticator::new(Alg::Es256));
    let state = discoverable_state(UserVerification::Preferred);
    // The authenticator will say 1; the relying party has already seen 5.
    verdict(
        authenticate(&mut s, Faults::default(), &state, 5, CounterPolicy::Reject),
        Some("counter_rollback"),
    );
    let r = authenticate(&mut s, Faults::default(), &state, 5, CounterPolicy::Warn).unwrap();
    assert!(r.counter_rollback);
    assert_eq!(
        r.sign_count, 5,
        "a rollback never lowers the stored counter"
    );
    // Equal and non-zero is a rollback too.
    verdict(
        authenticate(
            &mut s,
            Faults {
                sign_count: Some(5),
                ..Default::default()
            },
            &state,
            5,
            CounterPolicy::Reject,
        ),
        Some("counter_rollback"),
    );
    // Both zero is normal for synced passkeys.
    let mut synced = signed_up(Authenticator::new(Alg::Es256).synced());
    let r = authenticate(
        &mut synced,
        Faults::default(),
        &state,
        0,
        CounterPolicy::Reject,
    )
    .unwrap();
    assert_eq!(r.sign_count, 0);
    assert!(!r.counter_rollback && r.backup_eligible && r.backup_state);
    assert!(
        r.backup_eligible_changed && r.backup_state_changed,
        "stored flags were false"
    );
}

#[test]
fn credential_and_user_checks() {
    let mut s = signed_up(Authenticator::new(Alg::Es256));
    let username_first = AuthenticationState {
        challenge: Challenge::new(SIGN_IN_CHALLENGE.to_vec()).unwrap(),
        user_handle: Some(UserHandle::new(USER_HANDLE.to_vec()).unwrap()),
        allow_credentials: vec![s.registration.credential_id.clone().into()],
        user_verification: UserVerification::Preferred,
    };
    // Username-first: no user handle in the response is fine.
    authenticate(
        &mut s,
        Faults {
            user_handle: Some(None),
            ..Default::default()
        },
        &username_first,
        0,
        CounterPolicy::Reject,
    )
    .unwrap();
    // A credential that was not offered.
    let mut other = username_first.clone();
    other.allow_credentials = vec![vec![1, 2, 3].into()];
    verdict(
        authenticate(&mut s, Faults::default(), &other, 0, CounterPolicy::Reject),
        Some("credential_not_allowed"),
    );
    // The credential belongs to somebody else.
    let mut someone_else = username_first.clone();
    someone_else.user_handle = Some(UserHandle::new(vec![8; 32]).unwrap());
    verdict(
        authenticate(
            &mut s,
            Faults::default(),
            &someone_else,
            0,
            CounterPolicy::Reject,
        ),
        Some("user_handle_mismatch"),
    );
    // Discoverable: the user handle must be there and be the owner's.
    let discoverable = discoverable_state(UserVerification::Preferred);
    verdict(
        authenticate(
            &mut s,
            Faults {
                user_handle: Some(None),
                ..Default::default()
            },
            &discoverable,
            0,
            CounterPolicy::Reject,
        ),
        Some("user_handle_mismatch"),
    );
    verdict(
        authenticate(
            &mut s,
            Faults {
                user_handle: Some(Some(vec![8; 32])),
                ..Default::default()
            },
            &discoverable,
            0,
            CounterPolicy::Reject,
        ),
        Some("user_handle_mismatch"),
    );
    // The response's id must be its rawId, and the stored credential's.
    verdict(
        authenticate(
            &mut s,
            Faults {
                id: Some("AAAA".into()),
                ..Default::default()
            },
            &discoverable,
            0,
            CounterPolicy::Reject,
        ),
        Some("credential_id_mismatch"),
    );
    verdict(
        authenticate(
            &mut s,
            Faults {
                credential_id: Some(vec![4; 16]),
                ..Default::default()
            },
            &discoverable,
            0,
            CounterPolicy::Reject,
        ),
        Some("credential_id_mismatch"),
    );
}
