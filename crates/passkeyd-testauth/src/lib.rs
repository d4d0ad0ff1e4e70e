//! A software WebAuthn authenticator for passkeyd's tests: real, correctly signed responses in
//! the `PublicKeyCredential.toJSON()` shape, with [`Faults`] to break exactly one check at a time.
//!
//! ```
//! use passkeyd_testauth::{
//!     Alg, Attestation, AuthenticationRequest, Authenticator, Faults, RegistrationRequest, TestCa,
//! };
//!
//! let ca = TestCa::new();
//! let mut authenticator = Authenticator::new(Alg::Es256);
//! let reg = authenticator.register(
//!     &RegistrationRequest::new("example.com", "https://example.com", *b"challenge-1", *b"user-1")
//!         .with_attestation(Attestation::packed_x5c(&ca)),
//! );
//! assert_eq!(reg.json["type"], "public-key");
//!
//! // The same assertion, but with one deliberate defect: a foreign origin.
//! let bad = authenticator.authenticate(
//!     &AuthenticationRequest::new("example.com", "https://example.com", *b"challenge-2")
//!         .with_faults(Faults { origin: Some("https://evil.example".into()), ..Faults::default() }),
//! );
//! assert!(String::from_utf8(bad.client_data_json).unwrap().contains("evil.example"));
//! # let _ = ca.root_pem();
//! ```

mod alg;
mod authenticator;
mod ca;
mod cbor;
mod faults;
mod wire;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

pub use alg::Alg;
pub use authenticator::{
    Assertion, Attachment, Attestation, AuthenticationRequest, Authenticator, Counter, Credential,
    Registration, RegistrationRequest, X5c,
};
pub use ca::{
    default_not_after, default_not_before, AttestationCert, CertFaults, TestCa,
    AAGUID_EXTENSION_OID, ATTESTATION_OU,
};
pub use faults::Faults;

/// The authenticator data flag bits (WebAuthn §6.1).
pub mod flags {
    /// User Present.
    pub const UP: u8 = 0x01;
    /// User Verified.
    pub const UV: u8 = 0x04;
    /// Backup Eligible.
    pub const BE: u8 = 0x08;
    /// Backup State.
    pub const BS: u8 = 0x10;
    /// Attested credential data included.
    pub const AT: u8 = 0x40;
    /// Extension data included.
    pub const ED: u8 = 0x80;
}

/// Base64url without padding, the encoding of every binary value in WebAuthn JSON.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding, for tests that take a response apart.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// SHA-256, exposed so tests can build expected rpIdHash and clientDataHash values.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    wire::sha256(data)
}
