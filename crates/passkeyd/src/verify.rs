//! `passkeyd verify registration|authentication`: builds the relying party, ceremony state and
//! stored credential from the flags, runs the core's verification on the response read from
//! stdin, and prints the verdict as one JSON object.

use crate::cli::{AuthenticationArgs, CeremonyArgs, RegistrationArgs};
use crate::{read_input, Outcome, EXIT_OK, EXIT_REFUSED};
use passkeyd_core::{
    b64, verify_authentication, verify_registration, Algorithm, AttestationPolicy, AttestationType,
    AuthenticationResponse, AuthenticationState, CounterPolicy, Error, RegistrationResponse,
    RegistrationState, RelyingParty, StoredCredential, TrustAnchors, UserHandle, UserVerification,
};
use serde::Serialize;
use std::io::Read;

/// The user handle the debugger puts in states that need one but never compare it with
/// anything the response carries (registration, username-first sign-in).
const PLACEHOLDER_USER_HANDLE: [u8; 16] = [0; 16];

/// `passkeyd verify registration`.
pub fn registration(args: &RegistrationArgs, input: &mut dyn Read) -> Outcome {
    let rp = match relying_party(&args.ceremony) {
        Ok(rp) => rp,
        Err(outcome) => return outcome,
    };
    let policy = match attestation_policy(args) {
        Ok(policy) => policy,
        Err(outcome) => return outcome,
    };
    let user_handle = match UserHandle::new(PLACEHOLDER_USER_HANDLE.to_vec()) {
        Ok(handle) => handle,
        Err(e) => return Outcome::usage(e),
    };
    let state = RegistrationState {
        challenge: args.ceremony.challenge.clone(),
        user_handle,
        algorithms: if args.algs.is_empty() {
            Algorithm::ALL.to_vec()
        } else {
            args.algs.clone()
        },
        user_verification: user_verification(&args.ceremony),
    };
    let now = args.ceremony.now.unwrap_or_else(now_unix);
    let json = match read_input(input) {
        Ok(json) => json,
        Err(outcome) => return outcome,
    };
    let verdict = RegistrationResponse::from_json(&json)
        .and_then(|response| verify_registration(&rp, &state, &policy, &response, now));
    match verdict {
        Ok(v) => print(
            &RegistrationVerdict {
                verified: true,
                credential_id: b64::encode(&v.credential_id),
                public_key: b64::encode(&v.public_key),
                alg: v.alg.cose_id(),
                sign_count: v.sign_count,
                aaguid: v.aaguid,
                fmt: v.fmt,
                attestation_type: v.attestation_type,
                attestation_trusted: v.attestation_trusted,
                user_verified: v.user_verified,
                backup_eligible: v.backup_eligible,
                backup_state: v.backup_state,
                transports: v.transports,
            },
            EXIT_OK,
        ),
        Err(e) => refused(&e),
    }
}

/// `passkeyd verify authentication`.
pub fn authentication(args: &AuthenticationArgs, input: &mut dyn Read) -> Outcome {
    let rp = match relying_party(&args.ceremony) {
        Ok(rp) => rp,
        Err(outcome) => return outcome,
    };
    let json = match read_input(input) {
        Ok(json) => json,
        Err(outcome) => return outcome,
    };
    let response = match AuthenticationResponse::from_json(&json) {
        Ok(response) => response,
        Err(e) => return refused(&e),
    };
    let (state_handle, stored_handle) = match response.user_handle() {
        // Discoverable: the user is whoever the response names.
        Some(handle) => (None, handle.to_vec()),
        // Username-first: the user was known before the ceremony and owns the credential.
        None => match UserHandle::new(PLACEHOLDER_USER_HANDLE.to_vec()) {
            Ok(handle) => (Some(handle), PLACEHOLDER_USER_HANDLE.to_vec()),
            Err(e) => return Outcome::usage(e),
        },
    };
    let state = AuthenticationState {
        challenge: args.ceremony.challenge.clone(),
        user_handle: state_handle,
        allow_credentials: Vec::new(),
        user_verification: user_verification(&args.ceremony),
    };
    let stored = StoredCredential {
        credential_id: response.credential_id(),
        public_key: &args.public_key,
        sign_count: args.sign_count,
        user_handle: &stored_handle,
        backup_eligible: false,
        backup_state: false,
    };
    match verify_authentication(&rp, &state, CounterPolicy::Warn, &response, &stored) {
        Ok(v) => print(
            &AuthenticationVerdict {
                verified: true,
                sign_count: v.sign_count,
                user_verified: v.user_verified,
                backup_eligible: v.backup_eligible,
                backup_state: v.backup_state,
                counter_rollback: v.counter_rollback,
            },
            EXIT_OK,
        ),
        Err(e) => refused(&e),
    }
}

fn relying_party(args: &CeremonyArgs) -> Result<RelyingParty, Outcome> {
    RelyingParty::new(args.rp_id.clone(), args.origins.clone()).map_err(Outcome::usage)
}

fn user_verification(args: &CeremonyArgs) -> UserVerification {
    if args.require_uv {
        UserVerification::Required
    } else {
        UserVerification::Preferred
    }
}

fn attestation_policy(args: &RegistrationArgs) -> Result<AttestationPolicy, Outcome> {
    let Some(path) = &args.trust_roots else {
        return Ok(AttestationPolicy::default());
    };
    let pem = std::fs::read_to_string(path).map_err(|e| {
        Outcome::usage(format!("cannot read --trust-roots {}: {e}", path.display()))
    })?;
    let anchors = TrustAnchors::from_pem(&pem)
        .map_err(|e| Outcome::usage(format!("--trust-roots {}: {e}", path.display())))?;
    Ok(AttestationPolicy {
        trust_anchors: Some(anchors),
        require_trusted: true,
        ..AttestationPolicy::default()
    })
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Prints a verdict as one line of JSON.
fn print(verdict: &impl Serialize, code: u8) -> Outcome {
    match serde_json::to_string(verdict) {
        Ok(json) => Outcome {
            stdout: format!("{json}\n"),
            stderr: String::new(),
            code,
        },
        // Unreachable for these plain structs, but not worth a panic.
        Err(e) => Outcome::usage(format!("cannot write the verdict as JSON: {e}")),
    }
}

/// The refusal object: `{"verified": false, "error": {"code", "message"}}`, exit status 1.
fn refused(error: &Error) -> Outcome {
    print(
        &Refusal {
            verified: false,
            error: ErrorBody {
                code: error.code(),
                message: error.to_string(),
            },
        },
        EXIT_REFUSED,
    )
}

/// What `verify registration` prints on success.
#[derive(Serialize)]
struct RegistrationVerdict {
    verified: bool,
    credential_id: String,
    public_key: String,
    alg: i64,
    sign_count: u32,
    aaguid: String,
    fmt: String,
    attestation_type: AttestationType,
    attestation_trusted: bool,
    user_verified: bool,
    backup_eligible: bool,
    backup_state: bool,
    transports: Vec<String>,
}

/// What `verify authentication` prints on success.
#[derive(Serialize)]
struct AuthenticationVerdict {
    verified: bool,
    sign_count: u32,
    user_verified: bool,
    backup_eligible: bool,
    backup_state: bool,
    counter_rollback: bool,
}

/// What either command prints on refusal.
#[derive(Serialize)]
struct Refusal {
    verified: bool,
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}
