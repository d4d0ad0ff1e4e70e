//! Writes the example responses in `docs/examples/` (a registration with packed attestation and a
//! sign-in for http://localhost:8080), so the README's commands have real input to work on.
//!
//! `cargo run -p passkeyd-testauth --example make_example -- docs/examples`

use passkeyd_testauth::{
    b64url, Alg, Attestation, AuthenticationRequest, Authenticator, RegistrationRequest, TestCa,
};

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/examples".to_owned());
    let ca = TestCa::new();
    let mut authenticator = Authenticator::new(Alg::Es256);
    let registration = authenticator.register(
        &RegistrationRequest::new(
            "localhost",
            "http://localhost:8080",
            *b"passkeyd-example-registration!!!",
            *b"example-user-handle-0001",
        )
        .with_attestation(Attestation::packed_x5c(&ca)),
    );
    let assertion = authenticator.authenticate(&AuthenticationRequest::new(
        "localhost",
        "http://localhost:8080",
        *b"passkeyd-example-sign-in-challng",
    ));
    let pretty = |v: &serde_json::Value| {
        serde_json::to_string_pretty(v)
            .map(|s| s + "\n")
            .map_err(std::io::Error::other)
    };
    std::fs::write(
        format!("{dir}/registration.json"),
        pretty(&registration.json)?,
    )?;
    std::fs::write(
        format!("{dir}/authentication.json"),
        pretty(&assertion.json)?,
    )?;
    std::fs::write(format!("{dir}/attestation-root.pem"), ca.root_pem())?;
    println!(
        "registration challenge: {}",
        b64url(b"passkeyd-example-registration!!!")
    );
    println!(
        "sign-in challenge:      {}",
        b64url(b"passkeyd-example-sign-in-challng")
    );
    println!(
        "public key (COSE):      {}",
        b64url(&registration.cose_public_key)
    );
    Ok(())
}
