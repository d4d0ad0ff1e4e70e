//! passkeyd's WebAuthn Level 3 verification core.
//!
//! Pure functions only: no I/O, no clock, no randomness, no async. Time (`now`, Unix seconds)
//! and random bytes (challenges, user handles) are parameters. A ceremony is three steps:
//!
//! 1. [`registration_options`] or [`authentication_options`] build the options JSON for the
//!    browser and a state value the caller stores;
//! 2. the browser answers with a response ([`RegistrationResponse`] / [`AuthenticationResponse`]);
//! 3. [`verify_registration`] or [`verify_authentication`] take the state and the response and
//!    say what to store, or return an [`Error`] with a stable [`Error::code`].

pub mod attestation;
pub mod auth_data;
pub mod authentication;
pub mod b64;
pub mod cert;
pub mod client_data;
pub mod cose;
pub mod error;
pub mod options;
pub mod registration;
pub mod rp;
pub mod wire;

pub use attestation::{AttestationObject, AttestationPolicy, AttestationType};
pub use auth_data::{AuthenticatorData, Flags};
pub use authentication::{
    verify_authentication, CounterPolicy, StoredCredential, VerifiedAuthentication,
};
pub use cert::{TrustAnchors, UnixTime};
pub use client_data::ClientData;
pub use cose::{Algorithm, CredentialPublicKey};
pub use error::{Error, Result};
pub use options::{
    authentication_options, registration_options, AuthenticationSettings, AuthenticationState,
    Challenge, NewUser, RegistrationSettings, RegistrationState, SignInUser, UserHandle,
    UserVerification,
};
pub use registration::{verify_registration, VerifiedRegistration};
pub use rp::{CrossOrigin, Origin, RelyingParty, RpId};
pub use wire::{AuthenticationResponse, CreationOptions, RegistrationResponse, RequestOptions};
