//! Checks that the software authenticator's responses are real WebAuthn: the byte layouts,
//! the CBOR, the certificates and the signatures verify independently, and each fault changes
//! exactly the thing it names.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use ciborium::Value as Cbor;
use passkeyd_testauth::{
    b64url, b64url_decode, flags, sha256, Alg, Attachment, Attestation, AuthenticationRequest,
    Authenticator, CertFaults, Counter, Faults, Registration, RegistrationRequest, TestCa,
    ATTESTATION_OU,
};
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

const RP: &str = "example.com";
const ORIGIN: &str = "https://example.com";
const AAGUID_OID: &str = "1.3.6.1.4.1.45724.1.1.4";

fn reg_request() -> RegistrationRequest {
    RegistrationRequest::new(RP, ORIGIN, *b"registration-challenge", *b"user-handle-1")
}

fn auth_request() -> AuthenticationRequest {
    AuthenticationRequest::new(RP, ORIGIN, *b"authentication-challenge")
}

fn b64_field(json: &Value, path: &[&str]) -> Vec<u8> {
    let mut v = json;
    for p in path {
        v = &v[*p];
    }
    b64url_decode(v.as_str().expect("a string member")).expect("base64url without padding")
}

fn cbor(bytes: &[u8]) -> Cbor {
    ciborium::from_reader(bytes).expect("well-formed CBOR")
}

fn map_get<'a>(map: &'a Cbor, key: &Cbor) -> Option<&'a Cbor> {
    map.as_map()
        .expect("a CBOR map")
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn int(v: i64) -> Cbor {
    Cbor::Integer(v.into())
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.into())
}

fn bytes_of(v: &Cbor) -> Vec<u8> {
    v.as_bytes().expect("a CBOR byte string").clone()
}

/// Verifies a WebAuthn signature from the COSE key alone, as a relying party would.
fn verify_cose(cose_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let key = cbor(cose_key);
    let alg = map_get(&key, &int(3))
        .and_then(Cbor::as_integer)
        .and_then(|i| i64::try_from(i).ok())
        .expect("a COSE key has an integer alg");
    let get = |label: i64| bytes_of(map_get(&key, &int(label)).expect("the COSE key member"));
    match Alg::from_cose_id(alg).expect("a supported COSE alg") {
        Alg::Es256 | Alg::Es384 | Alg::Es512 => {
            let verification: &'static dyn signature::VerificationAlgorithm = match alg {
                -7 => &signature::ECDSA_P256_SHA256_ASN1,
                -35 => &signature::ECDSA_P384_SHA384_ASN1,
                _ => &signature::ECDSA_P521_SHA512_ASN1,
            };
            let mut point = vec![0x04];
            point.extend(get(-2));
            point.extend(get(-3));
            UnparsedPublicKey::new(verification, point)
                .verify(msg, sig)
                .is_ok()
        }
        Alg::Ed25519 => UnparsedPublicKey::new(&signature::ED25519, get(-2))
            .verify(msg, sig)
            .is_ok(),
        Alg::Rs256 | Alg::Ps256 => {
            let params = if alg == -257 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            RsaPublicKeyComponents {
                n: get(-1),
                e: get(-2),
            }
            .verify(params, msg, sig)
            .is_ok()
        }
    }
}

/// Verifies an ES256 signature with the public key of a DER certificate.
fn verify_with_cert(cert_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let cert = parse(cert_der);
    UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        cert.public_key().subject_public_key.data.to_vec(),
    )
    .verify(msg, sig)
    .is_ok()
}

/// Whether `child` carries a valid signature by `issuer`'s key.
fn issued_by(child_der: &[u8], issuer_der: &[u8]) -> bool {
    let child = parse(child_der);
    verify_with_cert(
        issuer_der,
        child.tbs_certificate.as_ref(),
        &child.signature_value.data,
    )
}

fn signed_data(auth_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut m = auth_data.to_vec();
    m.extend(sha256(client_data_json));
    m
}

/// The attestation object's three members, checking their names and canonical order.
fn attestation_parts(att_obj: &[u8]) -> (String, Cbor, Vec<u8>) {
    let obj = cbor(att_obj);
    let entries = obj.as_map().expect("the attestation object is a map");
    let keys: Vec<&str> = entries
        .iter()
        .map(|(k, _)| k.as_text().expect("text keys"))
        .collect();
    assert_eq!(keys, ["fmt", "attStmt", "authData"]);
    (
        entries[0].1.as_text().expect("fmt is text").to_owned(),
        entries[1].1.clone(),
        bytes_of(&entries[2].1),
    )
}

struct ParsedAuthData {
    rp_id_hash: Vec<u8>,
    flags: u8,
    sign_count: u32,
    aaguid: Vec<u8>,
    credential_id: Vec<u8>,
    rest: Vec<u8>,
}

/// Splits registration authenticator data at its fixed offsets.
fn parse_reg_auth_data(ad: &[u8]) -> ParsedAuthData {
    let len = usize::from(u16::from_be_bytes([ad[53], ad[54]]));
    ParsedAuthData {
        rp_id_hash: ad[..32].to_vec(),
        flags: ad[32],
        sign_count: u32::from_be_bytes([ad[33], ad[34], ad[35], ad[36]]),
        aaguid: ad[37..53].to_vec(),
        credential_id: ad[55..55 + len].to_vec(),
        rest: ad[55 + len..].to_vec(),
    }
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der)
        .expect("a DER X.509 certificate")
        .1
}

fn leaf(reg: &Registration) -> X509Certificate<'_> {
    parse(&reg.x5c[0])
}

fn aaguid_ext<'a>(
    cert: &'a X509Certificate<'_>,
) -> Option<&'a x509_parser::extensions::X509Extension<'a>> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == AAGUID_OID)
}

#[test]
fn registration_json_has_the_to_json_shape_for_every_alg() {
    for alg in Alg::ALL {
        let mut a = Authenticator::new(alg);
        let reg = a.register(&reg_request());
        let j = &reg.json;
        assert_eq!(j["id"], b64url(&reg.credential_id));
        assert_eq!(j["rawId"], j["id"]);
        assert_eq!(j["type"], "public-key");
        assert_eq!(j["authenticatorAttachment"], "platform");
        assert_eq!(j["clientExtensionResults"], serde_json::json!({}));
        let r = &j["response"];
        assert_eq!(r["publicKeyAlgorithm"], alg.cose_id());
        assert_eq!(r["transports"], serde_json::json!(["internal"]));
        assert_eq!(
            b64_field(j, &["response", "publicKey"]),
            reg.public_key_spki
        );
        assert_eq!(
            b64_field(j, &["response", "clientDataJSON"]),
            reg.client_data_json
        );
        assert_eq!(
            b64_field(j, &["response", "attestationObject"]),
            reg.attestation_object
        );
        assert_eq!(
            b64_field(j, &["response", "authenticatorData"]),
            reg.authenticator_data
        );
        for field in ["clientDataJSON", "attestationObject", "authenticatorData"] {
            let s = r[field].as_str().unwrap();
            assert!(!s.contains('=') && !s.contains('+') && !s.contains('/'));
        }
    }
}

#[test]
fn registration_client_data_is_what_a_browser_writes() {
    let reg = Authenticator::new(Alg::Es256).register(&reg_request());
    let expected = format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"https://example.com","crossOrigin":false}}"#,
        b64url(b"registration-challenge")
    );
    assert_eq!(String::from_utf8(reg.client_data_json).unwrap(), expected);
}

#[test]
fn registration_auth_data_layout_is_exact() {
    for alg in Alg::ALL {
        let reg = Authenticator::new(alg).register(&reg_request());
        let ad = parse_reg_auth_data(&reg.authenticator_data);
        assert_eq!(ad.rp_id_hash, sha256(RP.as_bytes()));
        assert_eq!(ad.flags, flags::UP | flags::UV | flags::AT);
        assert_eq!(ad.sign_count, 0);
        assert_eq!(ad.aaguid, Authenticator::DEFAULT_AAGUID);
        assert_eq!(ad.aaguid, reg.aaguid);
        assert_eq!(ad.credential_id, reg.credential_id);
        assert_eq!(ad.credential_id.len(), 32);
        // The COSE key is the last thing in authData when no extensions are present.
        assert_eq!(ad.rest, reg.cose_public_key);
        assert_eq!(
            reg.authenticator_data.len(),
            37 + 16 + 2 + 32 + reg.cose_public_key.len()
        );
    }
}

#[test]
fn cose_keys_are_canonical_and_complete() {
    for alg in Alg::ALL {
        let reg = Authenticator::new(alg).register(&reg_request());
        let key = cbor(&reg.cose_public_key);
        let labels: Vec<i64> = key
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| i64::try_from(k.as_integer().unwrap()).unwrap())
            .collect();
        let mut reencoded = Vec::new();
        ciborium::into_writer(&key, &mut reencoded).unwrap();
        assert_eq!(
            reencoded, reg.cose_public_key,
            "{alg:?} uses shortest forms"
        );
        assert_eq!(map_get(&key, &int(3)), Some(&int(alg.cose_id())));
        match alg {
            Alg::Es256 | Alg::Es384 | Alg::Es512 => {
                assert_eq!(labels, [1, 3, -1, -2, -3]);
                let (crv, len) = match alg {
                    Alg::Es256 => (1, 32),
                    Alg::Es384 => (2, 48),
                    _ => (3, 66),
                };
                assert_eq!(map_get(&key, &int(1)), Some(&int(2)));
                assert_eq!(map_get(&key, &int(-1)), Some(&int(crv)));
                assert_eq!(bytes_of(map_get(&key, &int(-2)).unwrap()).len(), len);
                assert_eq!(bytes_of(map_get(&key, &int(-3)).unwrap()).len(), len);
            }
            Alg::Ed25519 => {
                assert_eq!(labels, [1, 3, -1, -2]);
                assert_eq!(map_get(&key, &int(1)), Some(&int(1)));
                assert_eq!(map_get(&key, &int(-1)), Some(&int(6)));
                assert_eq!(bytes_of(map_get(&key, &int(-2)).unwrap()).len(), 32);
            }
            Alg::Rs256 | Alg::Ps256 => {
                assert_eq!(labels, [1, 3, -1, -2]);
                assert_eq!(map_get(&key, &int(1)), Some(&int(3)));
                let n = bytes_of(map_get(&key, &int(-1)).unwrap());
                assert_eq!(n.len(), 256);
                assert_ne!(n[0], 0);
                assert_eq!(bytes_of(map_get(&key, &int(-2)).unwrap()), [1, 0, 1]);
            }
        }
    }
}

#[test]
fn none_attestation_object_has_three_members_and_empty_statement() {
    let reg = Authenticator::new(Alg::Ed25519).register(&reg_request());
    let (fmt, stmt, auth_data) = attestation_parts(&reg.attestation_object);
    assert_eq!(fmt, "none");
    assert!(stmt.as_map().unwrap().is_empty());
    assert_eq!(auth_data, reg.authenticator_data);
    assert!(reg.x5c.is_empty());
}

#[test]
fn assertion_signatures_verify_for_every_alg() {
    for alg in Alg::ALL {
        let mut a = Authenticator::new(alg);
        let reg = a.register(&reg_request());
        let asr = a.authenticate(&auth_request());
        let j = &asr.json;
        assert_eq!(j["id"], b64url(&reg.credential_id));
        assert_eq!(j["rawId"], j["id"]);
        assert_eq!(j["type"], "public-key");
        assert_eq!(j["clientExtensionResults"], serde_json::json!({}));
        let cdj = b64_field(j, &["response", "clientDataJSON"]);
        let ad = b64_field(j, &["response", "authenticatorData"]);
        let sig = b64_field(j, &["response", "signature"]);
        assert_eq!(b64_field(j, &["response", "userHandle"]), b"user-handle-1");
        assert_eq!(ad.len(), 37);
        assert_eq!(ad[32], flags::UP | flags::UV);
        assert!(
            verify_cose(&reg.cose_public_key, &signed_data(&ad, &cdj), &sig),
            "{alg:?} assertion verifies"
        );
        let client: Value = serde_json::from_slice(&cdj).unwrap();
        assert_eq!(client["type"], "webauthn.get");
        assert_eq!(client["challenge"], b64url(b"authentication-challenge"));
    }
}

#[test]
fn es256_assertion_verifies_against_the_exported_spki() {
    let mut a = Authenticator::new(Alg::Es256);
    let reg = a.register(&reg_request());
    let asr = a.authenticate(&auth_request());
    // aws-lc-rs accepts an X.509 SubjectPublicKeyInfo for ECDSA public keys.
    let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &reg.public_key_spki);
    key.verify(
        &signed_data(&asr.authenticator_data, &asr.client_data_json),
        &asr.signature,
    )
    .unwrap();
}

#[test]
fn counters_increment_or_stay_zero_when_synced() {
    let mut device = Authenticator::new(Alg::Es256);
    device.register(&reg_request());
    let counts: Vec<u32> = (0..3)
        .map(|_| device.authenticate(&auth_request()).sign_count)
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    let asr = device.authenticate(&auth_request());
    assert_eq!(asr.authenticator_data[33..37], 4u32.to_be_bytes());

    let mut synced = Authenticator::new(Alg::Es256).synced();
    let reg = synced.register(&reg_request());
    assert_eq!(
        reg.authenticator_data[32],
        flags::UP | flags::UV | flags::BE | flags::BS | flags::AT
    );
    for _ in 0..2 {
        let asr = synced.authenticate(&auth_request());
        assert_eq!(asr.sign_count, 0);
        assert_eq!(
            asr.authenticator_data[32],
            flags::UP | flags::UV | flags::BE | flags::BS
        );
    }
}

#[test]
fn cloned_authenticators_diverge_and_counts_can_be_set() {
    let mut a = Authenticator::new(Alg::Es256).with_counter(Counter::Incrementing);
    let reg = a.register(&reg_request());
    let mut clone = a.clone();
    a.authenticate(&auth_request());
    a.authenticate(&auth_request());
    assert_eq!(clone.authenticate(&auth_request()).sign_count, 1);
    a.set_sign_count(&reg.credential_id, 100);
    assert_eq!(a.authenticate(&auth_request()).sign_count, 101);
    assert_eq!(a.credential(&reg.credential_id).unwrap().sign_count, 101);
}

#[test]
fn credential_selection_uses_the_requested_id() {
    let mut a = Authenticator::new(Alg::Ed25519);
    let first = a.register(&reg_request());
    let second = a.register(&RegistrationRequest::new(RP, ORIGIN, *b"c", *b"user-2"));
    let asr = a.authenticate(&auth_request().with_credential(second.credential_id.clone()));
    assert_eq!(asr.credential_id, second.credential_id);
    assert_eq!(asr.user_handle.as_deref(), Some(&b"user-2"[..]));
    assert!(verify_cose(
        &second.cose_public_key,
        &signed_data(&asr.authenticator_data, &asr.client_data_json),
        &asr.signature
    ));
    let default = a.authenticate(&auth_request());
    assert_eq!(default.credential_id, first.credential_id);
    assert_eq!(a.credentials().len(), 2);
}

#[test]
fn attachment_and_transports_are_configurable() {
    let mut a = Authenticator::new(Alg::Es256).with_attachment(Some(Attachment::CrossPlatform));
    let reg = a.register(&reg_request());
    assert_eq!(reg.json["authenticatorAttachment"], "cross-platform");
    assert_eq!(
        reg.json["response"]["transports"],
        serde_json::json!(["usb"])
    );

    let mut b = Authenticator::new(Alg::Es256)
        .with_attachment(None)
        .with_transports(&["hybrid", "internal"])
        .with_user_verification(false);
    let reg = b.register(&reg_request());
    assert!(reg.json.get("authenticatorAttachment").is_none());
    assert_eq!(
        reg.json["response"]["transports"],
        serde_json::json!(["hybrid", "internal"])
    );
    assert_eq!(reg.authenticator_data[32], flags::UP | flags::AT);
}

#[test]
fn packed_self_attestation_verifies_with_the_credential_key() {
    for alg in Alg::ALL {
        let reg = Authenticator::new(alg)
            .register(&reg_request().with_attestation(Attestation::PackedSelf));
        let (fmt, stmt, auth_data) = attestation_parts(&reg.attestation_object);
        assert_eq!(fmt, "packed");
        let keys: Vec<&str> = stmt
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap())
            .collect();
        assert_eq!(keys, ["alg", "sig"]);
        assert_eq!(map_get(&stmt, &text("alg")), Some(&int(alg.cose_id())));
        let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
        assert!(verify_cose(
            &reg.cose_public_key,
            &signed_data(&auth_data, &reg.client_data_json),
            &sig
        ));
    }
}

#[test]
fn packed_x5c_attestation_chains_to_the_test_root() {
    let ca = TestCa::new();
    let reg = Authenticator::new(Alg::Es384)
        .register(&reg_request().with_attestation(Attestation::packed_x5c(&ca)));
    let (fmt, stmt, auth_data) = attestation_parts(&reg.attestation_object);
    assert_eq!(fmt, "packed");
    assert_eq!(map_get(&stmt, &text("alg")), Some(&int(-7)));
    let x5c: Vec<Vec<u8>> = map_get(&stmt, &text("x5c"))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(bytes_of)
        .collect();
    assert_eq!(x5c, reg.x5c);
    assert_eq!(x5c.len(), 1, "the root is never in x5c");
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_with_cert(
        &x5c[0],
        &signed_data(&auth_data, &reg.client_data_json),
        &sig
    ));
    assert!(issued_by(&x5c[0], &ca.root_der()));

    let cert = leaf(&reg);
    assert_eq!(cert.version(), X509Version::V3);
    let subject = cert.subject();
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().unwrap().as_str().unwrap().to_owned()
    };
    assert_eq!(first(&mut subject.iter_country()), "US");
    assert!(!first(&mut subject.iter_organization()).is_empty());
    assert_eq!(
        first(&mut subject.iter_organizational_unit()),
        ATTESTATION_OU
    );
    assert!(!first(&mut subject.iter_common_name()).is_empty());
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
    let ext = aaguid_ext(&cert).unwrap();
    assert!(!ext.critical);
    let mut expected = vec![0x04, 0x10];
    expected.extend(Authenticator::DEFAULT_AAGUID);
    assert_eq!(ext.value, expected);
    assert_eq!(cert.issuer().as_raw(), {
        let root = ca.root_der();
        let (_, r) = X509Certificate::from_der(&root).unwrap();
        r.subject().as_raw().to_vec()
    });
}

#[test]
fn intermediate_is_carried_in_x5c() {
    let ca = TestCa::with_intermediate();
    let reg = Authenticator::new(Alg::Es256)
        .register(&reg_request().with_attestation(Attestation::packed_x5c(&ca)));
    assert_eq!(reg.x5c.len(), 2);
    let intermediate = ca.intermediate_der().unwrap();
    assert_eq!(reg.x5c[1], intermediate);
    assert!(issued_by(&reg.x5c[0], &intermediate));
    assert!(issued_by(&intermediate, &ca.root_der()));
    assert!(TestCa::new().intermediate_der().is_none());
}

#[test]
fn root_pem_is_the_root_der() {
    let ca = TestCa::new();
    let pem = ca.root_pem();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    assert_eq!(parsed.contents, ca.root_der());
    let root_der = ca.root_der();
    let (_, root) = X509Certificate::from_der(&root_der).unwrap();
    assert!(root.is_ca());
    // Clones share the same keys, so they are the same trust anchor.
    assert_eq!(ca.clone().root_der(), ca.root_der());
}

#[test]
fn certificate_faults_each_change_one_property() {
    let ca = TestCa::new();
    let aaguid = [7u8; 16];
    let issue = |faults: CertFaults| ca.issue(Some(aaguid), &faults);
    let now = rcgen::date_time_ymd(2030, 6, 1);
    let now_ts = now.unix_timestamp();

    let honest = issue(CertFaults::default());
    let h = parse(honest.leaf_der());
    assert!(h.validity().not_before.timestamp() < now_ts);
    assert!(h.validity().not_after.timestamp() > now_ts);
    assert!(issued_by(honest.leaf_der(), &ca.root_der()));

    let expired = issue(CertFaults::expired_at(now));
    assert!(parse(expired.leaf_der()).validity().not_after.timestamp() < now_ts);

    let future = issue(CertFaults::not_yet_valid_at(now));
    assert!(parse(future.leaf_der()).validity().not_before.timestamp() > now_ts);

    let ca_true = issue(CertFaults {
        ca_true: true,
        ..CertFaults::default()
    });
    assert!(
        parse(ca_true.leaf_der())
            .basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .ca
    );

    let wrong_ou = issue(CertFaults {
        ou: Some("Marketing".into()),
        ..CertFaults::default()
    });
    let tbs = parse(wrong_ou.leaf_der());
    let ou = tbs.subject().iter_organizational_unit().next().unwrap();
    assert_eq!(ou.as_str().unwrap(), "Marketing");

    let find_ext = |der: &[u8]| {
        let tbs = parse(der);
        tbs.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == AAGUID_OID)
            .map(|e| (e.critical, e.value.to_vec()))
    };
    assert_eq!(find_ext(honest.leaf_der()).unwrap().1[2..], aaguid);
    let other = issue(CertFaults {
        aaguid: Some([9u8; 16]),
        ..CertFaults::default()
    });
    assert_eq!(find_ext(other.leaf_der()).unwrap().1[2..], [9u8; 16]);
    let critical = issue(CertFaults {
        aaguid_critical: true,
        ..CertFaults::default()
    });
    assert_eq!(
        find_ext(critical.leaf_der()),
        Some((true, find_ext(honest.leaf_der()).unwrap().1))
    );
    let missing = issue(CertFaults {
        omit_aaguid: true,
        ..CertFaults::default()
    });
    assert_eq!(find_ext(missing.leaf_der()), None);

    let rogue = issue(CertFaults {
        untrusted_issuer: true,
        ..CertFaults::default()
    });
    assert!(!issued_by(rogue.leaf_der(), &ca.root_der()));
    assert_eq!(rogue.chain.len(), 1);
}

#[test]
fn cert_faults_flow_into_the_registration() {
    let ca = TestCa::new();
    let reg = Authenticator::new(Alg::Es256).register(&reg_request().with_attestation(
        Attestation::packed_x5c_with(
            &ca,
            CertFaults {
                omit_aaguid: true,
                ..CertFaults::default()
            },
        ),
    ));
    assert!(aaguid_ext(&leaf(&reg)).is_none());
    let (_, stmt, auth_data) = attestation_parts(&reg.attestation_object);
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_with_cert(
        &reg.x5c[0],
        &signed_data(&auth_data, &reg.client_data_json),
        &sig
    ));
}

#[test]
fn fido_u2f_attestation_signs_the_u2f_message() {
    let ca = TestCa::new();
    let reg = Authenticator::new(Alg::Es256)
        .register(&reg_request().with_attestation(Attestation::fido_u2f(&ca)));
    let (fmt, stmt, auth_data) = attestation_parts(&reg.attestation_object);
    assert_eq!(fmt, "fido-u2f");
    let keys: Vec<&str> = stmt
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_text().unwrap())
        .collect();
    assert_eq!(keys, ["sig", "x5c"]);
    assert_eq!(reg.x5c.len(), 1);
    assert_eq!(reg.aaguid, [0u8; 16]);
    let ad = parse_reg_auth_data(&auth_data);
    assert_eq!(ad.aaguid, [0u8; 16]);

    let key = cbor(&reg.cose_public_key);
    let mut msg = vec![0x00];
    msg.extend(sha256(RP.as_bytes()));
    msg.extend(sha256(&reg.client_data_json));
    msg.extend(&reg.credential_id);
    msg.push(0x04);
    msg.extend(bytes_of(map_get(&key, &int(-2)).unwrap()));
    msg.extend(bytes_of(map_get(&key, &int(-3)).unwrap()));
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_with_cert(&reg.x5c[0], &msg, &sig));
    assert!(issued_by(&reg.x5c[0], &ca.root_der()));
}

#[test]
#[should_panic(expected = "fido-u2f requires ES256")]
fn fido_u2f_refuses_other_algorithms() {
    Authenticator::new(Alg::Ed25519)
        .register(&reg_request().with_attestation(Attestation::fido_u2f(&TestCa::new())));
}

#[test]
#[should_panic(expected = "only applies to registration")]
fn registration_only_faults_are_rejected_in_authentication() {
    let mut a = Authenticator::new(Alg::Es256);
    a.register(&reg_request());
    a.authenticate(&auth_request().with_faults(Faults {
        fmt: Some("x".into()),
        ..Faults::default()
    }));
}

#[test]
#[should_panic(expected = "no signature to fault")]
fn signature_faults_are_rejected_for_none_attestation() {
    Authenticator::new(Alg::Es256).register(&reg_request().with_faults(Faults {
        corrupt_signature: true,
        ..Faults::default()
    }));
}

/// Authenticates once with `faults` and returns the assertion plus the credential's COSE key.
fn assert_with(alg: Alg, faults: Faults) -> (passkeyd_testauth::Assertion, Vec<u8>) {
    let mut a = Authenticator::new(alg);
    let reg = a.register(&reg_request());
    (
        a.authenticate(&auth_request().with_faults(faults)),
        reg.cose_public_key,
    )
}

fn assertion_verifies(asr: &passkeyd_testauth::Assertion, cose: &[u8]) -> bool {
    verify_cose(
        cose,
        &signed_data(&asr.authenticator_data, &asr.client_data_json),
        &asr.signature,
    )
}

#[test]
fn client_data_faults_are_signed_over() {
    let cases: Vec<(Faults, &str, Value)> = vec![
        (
            Faults {
                client_data_type: Some("webauthn.create".into()),
                ..Faults::default()
            },
            "type",
            "webauthn.create".into(),
        ),
        (
            Faults {
                challenge: Some("AAAA==".into()),
                ..Faults::default()
            },
            "challenge",
            "AAAA==".into(),
        ),
        (
            Faults {
                origin: Some("https://evil.example".into()),
                ..Faults::default()
            },
            "origin",
            "https://evil.example".into(),
        ),
        (
            Faults {
                cross_origin: Some(true),
                ..Faults::default()
            },
            "crossOrigin",
            true.into(),
        ),
        (
            Faults {
                omit_cross_origin: true,
                ..Faults::default()
            },
            "crossOrigin",
            Value::Null,
        ),
        (
            Faults {
                top_origin: Some("https://top.example".into()),
                ..Faults::default()
            },
            "topOrigin",
            "https://top.example".into(),
        ),
        (
            Faults {
                client_data_extra: vec![("other".into(), serde_json::json!({"a": 1}))],
                ..Faults::default()
            },
            "other",
            serde_json::json!({"a": 1}),
        ),
    ];
    for (faults, member, expected) in cases {
        for alg in [Alg::Es256, Alg::Ed25519] {
            let (asr, cose) = assert_with(alg, faults.clone());
            let client: Value = serde_json::from_slice(&asr.client_data_json).unwrap();
            assert_eq!(client[member], expected, "{member}");
            assert_eq!(
                b64_field(&asr.json, &["response", "clientDataJSON"]),
                asr.client_data_json
            );
            assert!(
                assertion_verifies(&asr, &cose),
                "{member} fault keeps a valid signature"
            );
        }
    }

    let raw = b"not json at all".to_vec();
    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            client_data_json: Some(raw.clone()),
            ..Faults::default()
        },
    );
    assert_eq!(asr.client_data_json, raw);
    assert!(assertion_verifies(&asr, &cose));
}

#[test]
fn authenticator_data_faults_are_signed_over() {
    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            rp_id_hash: Some([0xaa; 32]),
            ..Faults::default()
        },
    );
    assert_eq!(asr.authenticator_data[..32], [0xaa; 32]);
    assert!(assertion_verifies(&asr, &cose));

    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            flags: Some(0x00),
            ..Faults::default()
        },
    );
    assert_eq!(asr.authenticator_data[32], 0x00);
    assert!(assertion_verifies(&asr, &cose));

    let (asr, cose) = assert_with(
        Alg::Rs256,
        Faults {
            flags_clear: flags::UV,
            flags_set: flags::BS,
            ..Faults::default()
        },
    );
    assert_eq!(asr.authenticator_data[32], flags::UP | flags::BS);
    assert!(assertion_verifies(&asr, &cose));

    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            sign_count: Some(0xdead_beef),
            ..Faults::default()
        },
    );
    assert_eq!(
        asr.authenticator_data[33..37],
        0xdead_beef_u32.to_be_bytes()
    );
    assert_eq!(asr.sign_count, 0xdead_beef);
    assert!(assertion_verifies(&asr, &cose));

    let ext = vec![0xa1, 0x63, b'f', b'o', b'o', 0xf5];
    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            extensions: Some(ext.clone()),
            ..Faults::default()
        },
    );
    assert_eq!(
        asr.authenticator_data[32],
        flags::UP | flags::UV | flags::ED
    );
    assert_eq!(asr.authenticator_data[37..], ext);
    assert!(assertion_verifies(&asr, &cose));

    let (asr, _) = assert_with(
        Alg::Es256,
        Faults {
            extensions: Some(ext.clone()),
            flags_clear: flags::ED,
            ..Faults::default()
        },
    );
    assert_eq!(asr.authenticator_data[32] & flags::ED, 0);
    assert_eq!(asr.authenticator_data.len(), 37 + ext.len());

    let (asr, cose) = assert_with(
        Alg::Ps256,
        Faults {
            auth_data_trailing: vec![1, 2, 3],
            ..Faults::default()
        },
    );
    assert_eq!(asr.authenticator_data.len(), 40);
    assert_eq!(asr.authenticator_data[37..], [1, 2, 3]);
    assert!(assertion_verifies(&asr, &cose));
}

#[test]
fn signature_faults_break_only_the_signature() {
    for alg in Alg::ALL {
        let (honest, cose) = assert_with(alg, Faults::default());
        assert!(assertion_verifies(&honest, &cose));
        for faults in [
            Faults {
                corrupt_signature: true,
                ..Faults::default()
            },
            Faults {
                sign_with_other_key: true,
                ..Faults::default()
            },
        ] {
            let (asr, cose) = assert_with(alg, faults.clone());
            assert!(!assertion_verifies(&asr, &cose), "{alg:?} {faults:?}");
            assert_eq!(asr.authenticator_data[32], flags::UP | flags::UV);
        }
    }
    let (asr, _) = assert_with(
        Alg::Es256,
        Faults {
            signature: Some(vec![1, 2, 3]),
            corrupt_signature: true,
            ..Faults::default()
        },
    );
    assert_eq!(asr.signature, [1, 2, 2]);
    assert_eq!(b64_field(&asr.json, &["response", "signature"]), [1, 2, 2]);
}

#[test]
fn json_envelope_faults() {
    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            id: Some("bm90LXRoZS1pZA".into()),
            ..Faults::default()
        },
    );
    assert_eq!(asr.json["id"], "bm90LXRoZS1pZA");
    assert_eq!(asr.json["rawId"], b64url(&asr.credential_id));
    assert!(assertion_verifies(&asr, &cose));

    let (asr, cose) = assert_with(
        Alg::Es256,
        Faults {
            credential_id: Some(vec![5; 16]),
            ..Faults::default()
        },
    );
    assert_eq!(asr.json["id"], b64url(&[5; 16]));
    assert_eq!(asr.json["rawId"], asr.json["id"]);
    assert_ne!(asr.credential_id, vec![5; 16]);
    assert!(assertion_verifies(&asr, &cose));

    let (asr, _) = assert_with(
        Alg::Es256,
        Faults {
            user_handle: Some(None),
            ..Faults::default()
        },
    );
    assert!(asr.json["response"].get("userHandle").is_none());
    assert_eq!(asr.user_handle, None);

    let (asr, _) = assert_with(
        Alg::Es256,
        Faults {
            user_handle: Some(Some(b"someone-else".to_vec())),
            ..Faults::default()
        },
    );
    assert_eq!(
        b64_field(&asr.json, &["response", "userHandle"]),
        b"someone-else"
    );
}

#[test]
fn registration_faults_change_one_thing_and_keep_signatures_valid() {
    let long_id = vec![0x42; 1024];
    let mut a = Authenticator::new(Alg::Es256);
    let reg = a.register(
        &reg_request()
            .with_attestation(Attestation::PackedSelf)
            .with_faults(Faults {
                credential_id: Some(long_id.clone()),
                ..Faults::default()
            }),
    );
    assert_eq!(reg.credential_id, long_id);
    assert_eq!(reg.json["rawId"], b64url(&long_id));
    assert_eq!(
        parse_reg_auth_data(&reg.authenticator_data).credential_id,
        long_id
    );
    let (_, stmt, ad) = attestation_parts(&reg.attestation_object);
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_cose(
        &reg.cose_public_key,
        &signed_data(&ad, &reg.client_data_json),
        &sig
    ));
    // The long-ID credential is stored and usable.
    let asr = a.authenticate(&auth_request().with_credential(long_id.clone()));
    assert_eq!(asr.json["rawId"], b64url(&long_id));

    let reg = Authenticator::new(Alg::Es256).register(&reg_request().with_faults(Faults {
        cose_key: Some(vec![0xa0]),
        aaguid: Some([3; 16]),
        ..Faults::default()
    }));
    let ad = parse_reg_auth_data(&reg.authenticator_data);
    assert_eq!(ad.rest, [0xa0]);
    assert_eq!(ad.aaguid, [3; 16]);
    assert_eq!(reg.aaguid, [3; 16]);

    let reg = Authenticator::new(Alg::Es256).register(&reg_request().with_faults(Faults {
        fmt: Some("unknown-format".into()),
        attestation_object_trailing: vec![0x00],
        ..Faults::default()
    }));
    assert_eq!(reg.attestation_object.last(), Some(&0x00));
    let trimmed = &reg.attestation_object[..reg.attestation_object.len() - 1];
    assert_eq!(attestation_parts(trimmed).0, "unknown-format");

    let reg = Authenticator::new(Alg::Es256).register(&reg_request().with_faults(Faults {
        att_stmt: Some(vec![0xa1, 0x61, b'x', 0x01]),
        ..Faults::default()
    }));
    let (fmt, stmt, _) = attestation_parts(&reg.attestation_object);
    assert_eq!(fmt, "none");
    assert_eq!(map_get(&stmt, &text("x")), Some(&int(1)));

    let ca = TestCa::new();
    let reg = Authenticator::new(Alg::Es256).register(
        &reg_request()
            .with_attestation(Attestation::packed_x5c(&ca))
            .with_faults(Faults {
                att_stmt_alg: Some(-257),
                ..Faults::default()
            }),
    );
    let (_, stmt, ad) = attestation_parts(&reg.attestation_object);
    assert_eq!(map_get(&stmt, &text("alg")), Some(&int(-257)));
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_with_cert(
        &reg.x5c[0],
        &signed_data(&ad, &reg.client_data_json),
        &sig
    ));

    // A faulted rpIdHash is still covered by a valid fido-u2f signature.
    let reg = Authenticator::new(Alg::Es256).register(
        &reg_request()
            .with_attestation(Attestation::fido_u2f(&ca))
            .with_faults(Faults {
                rp_id_hash: Some([0x11; 32]),
                ..Faults::default()
            }),
    );
    let (_, stmt, ad) = attestation_parts(&reg.attestation_object);
    assert_eq!(ad[..32], [0x11; 32]);
    let key = cbor(&reg.cose_public_key);
    let mut msg = vec![0x00];
    msg.extend([0x11; 32]);
    msg.extend(sha256(&reg.client_data_json));
    msg.extend(&reg.credential_id);
    msg.push(0x04);
    msg.extend(bytes_of(map_get(&key, &int(-2)).unwrap()));
    msg.extend(bytes_of(map_get(&key, &int(-3)).unwrap()));
    let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
    assert!(verify_with_cert(&reg.x5c[0], &msg, &sig));

    // Attestation signature faults break the attestation signature only.
    for faults in [
        Faults {
            corrupt_signature: true,
            ..Faults::default()
        },
        Faults {
            sign_with_other_key: true,
            ..Faults::default()
        },
    ] {
        let reg = Authenticator::new(Alg::Es256).register(
            &reg_request()
                .with_attestation(Attestation::packed_x5c(&ca))
                .with_faults(faults),
        );
        let (_, stmt, ad) = attestation_parts(&reg.attestation_object);
        let sig = bytes_of(map_get(&stmt, &text("sig")).unwrap());
        assert!(!verify_with_cert(
            &reg.x5c[0],
            &signed_data(&ad, &reg.client_data_json),
            &sig
        ));
        assert!(issued_by(&reg.x5c[0], &ca.root_der()));
    }
}
