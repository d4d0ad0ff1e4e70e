//! Shared set-up for the core's integration tests: one relying party, one time, and
//! registrations of every kind the software authenticator makes.

#![allow(dead_code, clippy::unwrap_used)]

use passkeyd_core::{
    Algorithm, Origin, RegistrationState, RelyingParty, RpId, UserHandle, UserVerification,
};
use passkeyd_testauth::{
    Alg, Attestation, Authenticator, Registration, RegistrationRequest, TestCa,
};

/// The verification time: 2027-01-15, inside the test CA's validity.
pub const NOW: i64 = 1_800_000_000;
pub const RP_ID: &str = "example.com";
pub const ORIGIN: &str = "https://example.com";
pub const CHALLENGE: [u8; 32] = [42; 32];
pub const USER_HANDLE: [u8; 32] = [7; 32];

pub fn rp() -> RelyingParty {
    RelyingParty::new(
        RpId::parse(RP_ID).unwrap(),
        vec![Origin::parse(ORIGIN).unwrap()],
    )
    .unwrap()
}

pub fn registration_state(uv: UserVerification) -> RegistrationState {
    RegistrationState {
        challenge: passkeyd_core::Challenge::new(CHALLENGE.to_vec()).unwrap(),
        user_handle: UserHandle::new(USER_HANDLE.to_vec()).unwrap(),
        algorithms: Algorithm::DEFAULT_REQUESTED
            .iter()
            .copied()
            .chain([Algorithm::Es512])
            .collect(),
        user_verification: uv,
    }
}

pub fn registration_setup() -> (RelyingParty, RegistrationState) {
    (rp(), registration_state(UserVerification::Preferred))
}

pub fn request() -> RegistrationRequest {
    RegistrationRequest::new(RP_ID, ORIGIN, CHALLENGE, USER_HANDLE)
}

/// Every algorithm with none, packed self and packed x5c attestation, and fido-u2f.
pub fn every_kind_of_registration() -> Vec<Registration> {
    let ca = TestCa::new();
    let mut out = Vec::new();
    for alg in Alg::ALL {
        for attestation in [
            Attestation::None,
            Attestation::PackedSelf,
            Attestation::packed_x5c(&ca),
        ] {
            out.push(Authenticator::new(alg).register(&request().with_attestation(attestation)));
        }
    }
    out.push(
        Authenticator::new(Alg::Es256)
            .register(&request().with_attestation(Attestation::fido_u2f(&ca))),
    );
    out
}
