//! End-to-end tests of the `passkeyd` binary: `verify` and `inspect` run as a user runs them,
//! on real authenticator responses from `../shared/conformance/vectors.json` (read in place,
//! never copied), checking stdout, stderr and the exit status.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A self-signed P-256 root (CN=passkeyd-test-unrelated-root) that signed no attestation
/// certificate: made once with `openssl req -x509 -newkey ec -pkeyopt
/// ec_paramgen_curve:P-256 -nodes -subj /CN=passkeyd-test-unrelated-root -days 36500`.
const UNRELATED_ROOT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBpDCCAUugAwIBAgIUcRlz8Pv8OxRq12zM7kVIDFFKMN4wCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwccGFzc2tleWQtdGVzdC11bnJlbGF0ZWQtcm9vdDAgFw0yNjEx
MjIwMjUwMzdaGA8yMTI2MTAyOTAyNTAzN1owJzElMCMGA1UEAwwccGFzc2tleWQt
dGVzdC11bnJlbGF0ZWQtcm9vdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL6N
4EY/YuFQkU8/JUOB+VA6J0nJoxaGrLmxZ/VVzfWNNGBYoJv0FzlKZ4hLwN8Umiuf
p5ATiemyD0YRPzYHmxujUzBRMB0GA1UdDgQWBBTuq8nHhbxVIy+bXukYxg3WpfLE
ITAfBgNVHSMEGDAWgBTuq8nHhbxVIy+bXukYxg3WpfLEITAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0cAMEQCIH8qdhufnzj/XMyVbA6DxYNWMrmriU/Yzxpe
ewMFa2cNAiBZbIgeDogth5MF2ocIQ5p9XuuwaX6v/WkHUetgYT/2wg==
-----END CERTIFICATE-----
";

/// Creation options as passkeyd's own builder writes them.
const CREATION_OPTIONS: &str = r#"{
  "rp": {"id": "example.com", "name": "Example"},
  "user": {"id": "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk", "name": "ada", "displayName": "Ada"},
  "challenge": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
  "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
  "timeout": 300000,
  "excludeCredentials": [{"type": "public-key", "id": "AQID", "transports": ["usb"]}],
  "authenticatorSelection": {"authenticatorAttachment": "cross-platform", "residentKey": "required",
                             "requireResidentKey": true, "userVerification": "preferred"},
  "hints": ["security-key"],
  "attestation": "none",
  "extensions": {"credProps": true}
}"#;

const DONTNEEDA: &str = "dev.dontneeda.pw";
const DONTNEEDA_ORIGIN: &str = "https://dev.dontneeda.pw";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// stdout as the one JSON object the command must print.
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn passkeyd(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_passkeyd"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        // A usage error exits before reading stdin: a closed pipe is expected then.
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
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

/// A corpus record by id, or `None` (with a message) when the corpus is absent outside CI.
fn vector(id: &str) -> Option<Value> {
    let path = corpus_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "conformance corpus not found at {} (CI must have it)",
                path.display()
            );
        }
        println!(
            "SKIPPED: conformance corpus not found at {}",
            path.display()
        );
        return None;
    };
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let found = all.into_iter().find(|v| v["id"] == id);
    Some(found.unwrap_or_else(|| panic!("vector {id} is not in the corpus")))
}

fn credential(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&v["credential"]).unwrap()
}

fn challenge(v: &Value) -> String {
    v["expected"]["challenge"].as_str().unwrap().to_owned()
}

/// `verify registration` for dev.dontneeda.pw with extra flags.
fn verify_registration(v: &Value, origin: &str, extra: &[&str]) -> Run {
    let challenge = challenge(v);
    let mut args = vec![
        "verify",
        "registration",
        "--rp-id",
        DONTNEEDA,
        "--origin",
        origin,
        "--challenge",
        &challenge,
    ];
    args.extend_from_slice(extra);
    passkeyd(&args, &credential(v))
}

/// `verify authentication` for dev.dontneeda.pw with the vector's stored key and counter.
fn verify_authentication(v: &Value, extra: &[&str]) -> Run {
    let challenge = challenge(v);
    let key = v["credential_public_key"].as_str().unwrap().to_owned();
    let count = v["prior_sign_count"].as_u64().unwrap().to_string();
    let mut args = vec![
        "verify",
        "authentication",
        "--rp-id",
        DONTNEEDA,
        "--origin",
        DONTNEEDA_ORIGIN,
        "--challenge",
        &challenge,
        "--public-key",
        &key,
        "--sign-count",
        &count,
    ];
    args.extend_from_slice(extra);
    passkeyd(&args, &credential(v))
}

fn assert_refused(run: &Run, code: &str) {
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let out = run.json();
    assert_eq!(out["verified"], false, "{out}");
    assert_eq!(out["error"]["code"], code, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{out}"
    );
}

fn assert_usage_error(run: &Run) {
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    assert!(!run.stderr.trim().is_empty());
}

#[test]
fn registration_verifies_and_prints_the_documented_fields() {
    let Some(v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    let run = verify_registration(&v, DONTNEEDA_ORIGIN, &[]);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stdout.lines().count(), 1, "one JSON object, one line");
    let out = run.json();
    let decoded = &v["decoded"];
    assert_eq!(
        out,
        json!({
            "verified": true,
            "credential_id": decoded["credential_id"],
            "public_key": decoded["credential_public_key"],
            "alg": -7,
            "sign_count": 28,
            "aaguid": "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
            "fmt": "packed",
            "attestation_type": "basic",
            "attestation_trusted": false,
            "user_verified": false,
            "backup_eligible": false,
            "backup_state": false,
            "transports": [],
        })
    );
}

#[test]
fn registration_refusals_carry_the_core_code() {
    let Some(v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    assert_refused(
        &verify_registration(&v, "https://example.com", &[]),
        "origin_mismatch",
    );
    assert_refused(
        &verify_registration(&v, DONTNEEDA_ORIGIN, &["--require-uv"]),
        "user_verification_required",
    );
    assert_refused(
        &verify_registration(&v, DONTNEEDA_ORIGIN, &["--algs", "-8,-257"]),
        "algorithm_not_requested",
    );
    assert_eq!(
        verify_registration(&v, DONTNEEDA_ORIGIN, &["--algs", "-8,-7"]).code,
        0
    );
    // The attestation certificate is valid from 2014-08-01.
    assert_refused(
        &verify_registration(&v, DONTNEEDA_ORIGIN, &["--now", "2013-01-01T00:00:00Z"]),
        "certificate_not_yet_valid",
    );
    assert_eq!(
        verify_registration(
            &v,
            DONTNEEDA_ORIGIN,
            &["--now", "2020-01-01T00:00:00+02:00"]
        )
        .code,
        0
    );
    let other = "https://other.example";
    let run = verify_registration(&v, other, &["--origin", DONTNEEDA_ORIGIN]);
    assert_eq!(run.code, 0, "any of several origins: {}", run.stdout);
}

#[test]
fn trust_roots_that_do_not_issue_the_chain_make_it_untrusted() {
    let Some(v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let roots = dir.join(format!("unrelated-root-{}.pem", std::process::id()));
    std::fs::write(&roots, UNRELATED_ROOT_PEM).unwrap();
    let run = verify_registration(
        &v,
        DONTNEEDA_ORIGIN,
        &["--trust-roots", roots.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&roots);
    assert_refused(&run, "attestation_untrusted");
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    fn base(rp_id: &str) -> Vec<&str> {
        vec![
            "verify",
            "registration",
            "--rp-id",
            rp_id,
            "--origin",
            "https://example.com",
            "--challenge",
            "AAAA",
        ]
    }
    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = base("example.com");
        args.extend_from_slice(extra);
        args
    }
    let run = passkeyd(&base("com"), b"{}");
    assert_usage_error(&run);
    assert!(run.stderr.contains("public suffix"), "{}", run.stderr);
    assert_usage_error(&passkeyd(&with(&["--now", "yesterday"]), b"{}"));
    assert_usage_error(&passkeyd(&with(&["--now", "2025-13-01T00:00:00Z"]), b"{}"));
    assert_usage_error(&passkeyd(&with(&["--algs", "-7,-12345"]), b"{}"));
    assert_usage_error(&passkeyd(&with(&["--algs", "ES256"]), b"{}"));
    assert_usage_error(&passkeyd(&with(&["--origin", "http://example.com"]), b"{}"));
    assert_usage_error(&passkeyd(&with(&["--challenge", "%%%"]), b"{}"));
    assert_usage_error(&passkeyd(
        &with(&["--trust-roots", "/nonexistent/roots.pem"]),
        b"{}",
    ));
    let not_pem = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("not-pem-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "hello").unwrap();
    let run = passkeyd(&with(&["--trust-roots", not_pem.to_str().unwrap()]), b"{}");
    let _ = std::fs::remove_file(&not_pem);
    assert_usage_error(&run);
    assert_usage_error(&passkeyd(
        &[
            "verify",
            "registration",
            "--rp-id",
            "example.com",
            "--challenge",
            "AAAA",
        ],
        b"{}",
    ));
    assert_usage_error(&passkeyd(&["verify", "nothing"], b"{}"));
    assert_usage_error(&passkeyd(
        &[
            "verify",
            "authentication",
            "--rp-id",
            "example.com",
            "--origin",
            "https://example.com",
            "--challenge",
            "AAAA",
            "--public-key",
            "AAAA",
        ],
        b"{}",
    ));
}

#[test]
fn malformed_stdin_is_a_refusal_not_a_crash() {
    for command in ["registration", "authentication"] {
        let mut args = vec![
            "verify",
            command,
            "--rp-id",
            "example.com",
            "--origin",
            "https://example.com",
            "--challenge",
            "AAAA",
        ];
        if command == "authentication" {
            args.extend_from_slice(&[
                "--public-key",
                "pQECAyYgASFYIIheFp-u6GvFT2LNGovf3ZrT0iFVBsA_76rRysxRG9A1Ilgg8WGeA6hPmnab0HAViUYVRkwTNcN77QBf_RR0dv3lIvQ",
            ]);
        }
        for input in [&b""[..], b"not json", b"{\"id\": 1}", b"[]", b"\xff\xfe"] {
            assert_refused(&passkeyd(&args, input), "malformed_response");
        }
    }
}

#[test]
fn authentication_verifies_against_the_stored_key() {
    let Some(v) = vector("swa-auth-es256-dontneeda") else {
        return;
    };
    let run = verify_authentication(&v, &[]);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(
        run.json(),
        json!({
            "verified": true,
            "sign_count": 144,
            "user_verified": false,
            "backup_eligible": false,
            "backup_state": false,
            "counter_rollback": false,
        })
    );
    assert_refused(
        &verify_authentication(&v, &["--require-uv"]),
        "user_verification_required",
    );
    let mut wrong = v.clone();
    wrong["expected"]["challenge"] = json!("c2hvdWxkaGF2ZWJlZW50aGlzdmFsdWU");
    assert_refused(&verify_authentication(&wrong, &[]), "challenge_mismatch");
    let mut other_key = v.clone();
    // Another valid P-256 key: the registration vector's credential key.
    other_key["credential_public_key"] = json!(
        "pQECAyYgASFYIGwlsYCNyRb4AD9cyTw6cH5VS-uzflmmO1UldGGe9eIaIlggvadzKD8p6wKLjgYfxRxldjCMGRV0YyM13osWbKIPrF8"
    );
    assert_refused(&verify_authentication(&other_key, &[]), "signature_invalid");
}

#[test]
fn a_counter_rollback_is_reported_not_refused() {
    let Some(v) = vector("swa-auth-es256-counter-replay") else {
        return;
    };
    let run = verify_authentication(&v, &[]);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let out = run.json();
    assert_eq!(out["verified"], true);
    assert_eq!(out["counter_rollback"], true);
    assert_eq!(out["sign_count"], 144, "the stored counter is kept");
}

#[test]
fn a_discoverable_sign_in_uses_the_response_user_handle() {
    let Some(v) = vector("w4j-auth-es256-chromium-virtual") else {
        return;
    };
    let challenge = challenge(&v);
    let key = v["credential_public_key"].as_str().unwrap().to_owned();
    let run = passkeyd(
        &[
            "verify",
            "authentication",
            "--rp-id",
            "localhost",
            "--origin",
            "http://localhost:8080",
            "--challenge",
            &challenge,
            "--public-key",
            &key,
            "--sign-count",
            "1",
        ],
        &credential(&v),
    );
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.json()["verified"], true);
}

#[test]
fn inspect_decodes_a_registration_for_programs() {
    let Some(v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    let run = passkeyd(&["inspect", "--json"], &credential(&v));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["kind"], "registration_response");
    assert_eq!(out["client_data"]["type"], "webauthn.create");
    assert_eq!(out["client_data"]["challenge"], challenge(&v).as_str());
    assert_eq!(out["client_data"]["origin"], DONTNEEDA_ORIGIN);
    let ad = &out["authenticator_data"];
    assert_eq!(ad["rp_id_hash"], v["decoded"]["rp_id_hash"]);
    assert_eq!(ad["rp_id_from_origin"], DONTNEEDA);
    for flag in ["UP", "UV", "BE", "BS", "AT", "ED"] {
        assert_eq!(ad["flags"][flag], v["decoded"]["flags"][flag], "{flag}");
    }
    assert_eq!(ad["flags"]["value"], "0x41");
    assert_eq!(ad["sign_count"], 28);
    let attested = &ad["attested_credential"];
    assert_eq!(attested["aaguid"], v["decoded"]["aaguid"]);
    assert_eq!(attested["credential_id"], v["decoded"]["credential_id"]);
    let key = &attested["public_key"];
    assert_eq!(key["kty_name"], "EC2");
    assert_eq!(key["alg"], -7);
    assert_eq!(key["alg_name"], "ES256");
    assert_eq!(key["curve"], "P-256");
    assert_eq!(key["cose"], v["decoded"]["credential_public_key"]);
    assert!(key["x"].is_string() && key["y"].is_string());
    // The vector's id/rawId are the placeholder "aaa".
    assert_eq!(out["credential_id_matches_raw_id"], false);
    let att = &out["attestation"];
    assert_eq!(att["fmt"], "packed");
    assert_eq!(att["statement"]["alg_name"], "ES256");
    assert_eq!(att["statement"]["sig"]["length"], 71);
    let certs = att["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 1);
    let leaf = &certs[0];
    assert!(
        leaf["subject"]
            .as_str()
            .unwrap()
            .contains("CN=Yubico U2F EE Serial 719807075"),
        "{leaf}"
    );
    assert_eq!(leaf["issuer"], "CN=Yubico U2F Root CA Serial 457200631");
    assert_eq!(leaf["not_before"], "2014-08-01T00:00:00Z");
    assert_eq!(leaf["not_after"], "2050-09-04T00:00:00Z");
    assert_eq!(leaf["is_ca"], false);
    assert!(leaf["serial"].is_string());
}

#[test]
fn inspect_decodes_an_authentication_for_programs() {
    let Some(v) = vector("swa-auth-es256-dontneeda") else {
        return;
    };
    let run = passkeyd(&["inspect", "--json"], &credential(&v));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["kind"], "authentication_response");
    assert_eq!(out["id_matches_raw_id"], true);
    assert_eq!(out["client_data"]["type"], "webauthn.get");
    assert_eq!(out["authenticator_data"]["sign_count"], 144);
    assert_eq!(
        out["authenticator_data"]["flags"],
        json!({"value": "0x01", "UP": true, "UV": false, "BE": false, "BS": false, "AT": false, "ED": false})
    );
    assert!(out["authenticator_data"]["attested_credential"].is_null());
    assert_eq!(out["signature"]["length"], 71);
    assert_eq!(out["user_handle"], Value::Null);

    let Some(with_handle) = vector("w4j-auth-es256-chromium-virtual") else {
        return;
    };
    let out = passkeyd(&["inspect", "--json"], &credential(&with_handle)).json();
    assert_eq!(out["user_handle"]["length"], 32);
}

#[test]
fn inspect_text_is_for_people() {
    let Some(v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    let run = passkeyd(&["inspect"], &credential(&v));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let text = &run.stdout;
    for expected in [
        "Registration response",
        "Client data:",
        "Origin: https://dev.dontneeda.pw",
        "Authenticator data:",
        "RP ID hash (SHA-256): 3ddc4710e9c088b229dba89d563220bb39f7229aff465b0a656b1afb9a8af8a0",
        "UP (user present): yes",
        "UV (user verified): no",
        "AT (attested credential data): yes",
        "Sign count: 28",
        "AAGUID: 6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
        "Algorithm name: ES256",
        "Curve name: P-256",
        "Format: packed",
        "Certificates:",
        "Issuer: CN=Yubico U2F Root CA Serial 457200631",
        "Valid until: 2050-09-04T00:00:00Z",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.trim_start().starts_with('{'), "text, not JSON");

    let Some(auth) = vector("swa-auth-es256-dontneeda") else {
        return;
    };
    let text = passkeyd(&["inspect"], &credential(&auth)).stdout;
    for expected in [
        "Authentication response",
        "Type: webauthn.get",
        "Sign count: 144",
        "Signature:",
        "User handle: (none)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn inspect_reports_a_bad_certificate_and_decodes_the_rest() {
    let Some(mut v) = vector("swa-reg-packed-x5c-yubikey") else {
        return;
    };
    let member = &mut v["credential"]["response"]["attestationObject"];
    let mut object = passkeyd_core::b64::decode(member.as_str().unwrap()).unwrap();
    // The certificate is a DER SEQUENCE 30 82 02 bd; break the tag of its TBS part, same length.
    let at = object
        .windows(4)
        .position(|w| w == [0x30, 0x82, 0x02, 0xbd])
        .unwrap();
    object[at + 4] = 0x05;
    *member = json!(passkeyd_core::b64::encode(&object));
    let run = passkeyd(&["inspect", "--json"], &credential(&v));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["authenticator_data"]["sign_count"], 28);
    assert_eq!(out["attestation"]["fmt"], "packed");
    let cert = &out["attestation"]["certificates"][0];
    assert_eq!(cert["error"]["code"], "certificate_invalid", "{cert}");
    assert!(cert["der_length"].is_number());

    // And verification refuses it with a code.
    let run = verify_registration(&v, DONTNEEDA_ORIGIN, &[]);
    assert_eq!(run.code, 1);
}

#[test]
fn inspect_decodes_creation_options() {
    let run = passkeyd(&["inspect", "--json"], CREATION_OPTIONS.as_bytes());
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["kind"], "creation_options");
    assert_eq!(out["rp"], json!({"id": "example.com", "name": "Example"}));
    assert_eq!(out["user"]["name"], "ada");
    assert_eq!(out["user"]["display_name"], "Ada");
    assert_eq!(out["user"]["id_length"], 32);
    assert_eq!(out["challenge_length"], 32);
    assert_eq!(
        out["algorithms"],
        json!([
            {"alg": -7, "name": "ES256", "type": "public-key"},
            {"alg": -8, "name": "EdDSA", "type": "public-key"},
        ])
    );
    assert_eq!(out["exclude_credentials"][0]["id"], "AQID");
    assert_eq!(out["exclude_credentials"][0]["transports"], json!(["usb"]));
    assert_eq!(out["authenticator_selection"]["resident_key"], "required");
    assert_eq!(out["hints"], json!(["security-key"]));

    let text = passkeyd(&["inspect"], CREATION_OPTIONS.as_bytes()).stdout;
    for expected in [
        "Creation options",
        "Relying party:",
        "RP ID: example.com",
        "Display name: Ada",
        "Algorithms (pubKeyCredParams):",
        "Name: ES256",
        "Resident key: required",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Wrapped as credentials.create() takes it.
    let wrapped = format!("{{\"publicKey\": {CREATION_OPTIONS}}}");
    assert_eq!(
        passkeyd(&["inspect", "--json"], wrapped.as_bytes()).json()["kind"],
        "creation_options"
    );
}

#[test]
fn inspect_decodes_request_options() {
    let options = br#"{"challenge": "AQEBAQEBAQEBAQEBAQEBAQ", "rpId": "example.com",
        "allowCredentials": [{"type": "public-key", "id": "BwcHBw", "transports": ["internal", "hybrid"]}],
        "userVerification": "required"}"#;
    let out = passkeyd(&["inspect", "--json"], options).json();
    assert_eq!(out["kind"], "request_options");
    assert_eq!(out["rp_id"], "example.com");
    assert_eq!(out["challenge_length"], 16);
    assert_eq!(out["allow_credentials"][0]["id_length"], 4);
    assert_eq!(out["user_verification"], "required");
}

#[test]
fn inspect_refuses_what_it_cannot_recognise() {
    for input in [&b"not json"[..], b"[1, 2]", b"{\"hello\": 1}", b""] {
        let run = passkeyd(&["inspect", "--json"], input);
        assert_eq!(run.code, 1, "{}", run.stdout);
        let out = run.json();
        assert!(out["error"]["code"].is_string(), "{out}");
        assert!(out["error"]["message"].is_string(), "{out}");

        let run = passkeyd(&["inspect"], input);
        assert_eq!(run.code, 1);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(run.stderr.contains("passkeyd inspect:"), "{}", run.stderr);
    }
    assert_eq!(
        passkeyd(&["inspect", "--json"], b"not json").json()["error"]["code"],
        "malformed_input"
    );
    assert_eq!(
        passkeyd(&["inspect", "--json"], b"{\"hello\": 1}").json()["error"]["code"],
        "unrecognized_input"
    );
}

#[test]
fn inspect_reports_broken_parts_in_place() {
    // A registration response whose parts are each broken differently.
    let input = br#"{"id": "AQID", "rawId": "AQID", "type": "public-key",
        "response": {"clientDataJSON": "bm90IGpzb24", "attestationObject": "oA"}}"#;
    let run = passkeyd(&["inspect", "--json"], input);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let out = run.json();
    assert_eq!(out["client_data"]["error"]["code"], "malformed_client_data");
    assert_eq!(out["client_data"]["raw"], "not json");
    assert_eq!(
        out["attestation"]["error"]["code"],
        "malformed_attestation_object"
    );
    assert!(out["authenticator_data"]["error"].is_object());

    let text = passkeyd(&["inspect"], input).stdout;
    assert!(text.contains("[malformed_client_data]"), "{text}");
}

#[test]
fn the_readme_examples_verify_end_to_end() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    let read = |name: &str| std::fs::read(examples.join(name)).unwrap();
    let roots = examples.join("attestation-root.pem");
    let localhost = ["--rp-id", "localhost", "--origin", "http://localhost:8080"];
    let mut args = vec!["verify", "registration"];
    args.extend_from_slice(&localhost);
    args.extend_from_slice(&[
        "--challenge",
        "cGFzc2tleWQtZXhhbXBsZS1yZWdpc3RyYXRpb24hISE",
        "--trust-roots",
        roots.to_str().unwrap(),
        "--require-uv",
        "--algs=-7",
    ]);
    let run = passkeyd(&args, &read("registration.json"));
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let registered = run.json();
    assert_eq!(registered["attestation_trusted"], true);
    assert_eq!(registered["attestation_type"], "basic");
    assert_eq!(registered["transports"], json!(["internal"]));

    // The sign-in, against the key registration returned.
    let key = registered["public_key"].as_str().unwrap().to_owned();
    let mut args = vec!["verify", "authentication"];
    args.extend_from_slice(&localhost);
    args.extend_from_slice(&[
        "--challenge",
        "cGFzc2tleWQtZXhhbXBsZS1zaWduLWluLWNoYWxsbmc",
        "--public-key",
        &key,
        "--sign-count",
        "0",
    ]);
    let run = passkeyd(&args, &read("authentication.json"));
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.json()["counter_rollback"], false);
}
