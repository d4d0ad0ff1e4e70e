//! Owns the software authenticator: its settings, its stored credentials, and the two
//! ceremonies (registration and authentication) that turn requests into signed JSON responses.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::alg::{Alg, PrivateKey};
use crate::ca::{AttestationCert, CertFaults, TestCa};
use crate::cbor::Item;
use crate::faults::{Ceremony, Faults};
use crate::wire::{self, AttestedCredential};
use crate::{b64url, flags};

/// The `authenticatorAttachment` the authenticator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// A built-in authenticator ("platform"); default transports `["internal"]`.
    Platform,
    /// A roaming authenticator ("cross-platform"); default transports `["usb"]`.
    CrossPlatform,
}

impl Attachment {
    /// The string WebAuthn uses for this attachment.
    pub fn as_str(self) -> &'static str {
        match self {
            Attachment::Platform => "platform",
            Attachment::CrossPlatform => "cross-platform",
        }
    }
}

/// How the signature counter behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Starts at 0 at registration and goes up by one before every assertion.
    Incrementing,
    /// Always 0, as synced passkeys report.
    AlwaysZero,
}

/// Which leaf certificate an x5c-carrying attestation uses.
#[derive(Debug, Clone)]
pub struct X5c {
    /// The CA that issues the leaf; configure its root as the verifier's trust anchor.
    pub ca: TestCa,
    /// Defects to put into the leaf (default: none).
    pub cert_faults: CertFaults,
}

/// The attestation statement format to produce at registration.
#[derive(Debug, Clone, Default)]
pub enum Attestation {
    /// `fmt: "none"` with an empty attStmt.
    #[default]
    None,
    /// `fmt: "packed"` self attestation: `{alg, sig}` signed by the credential key.
    PackedSelf,
    /// `fmt: "packed"` with `{alg: -7, sig, x5c}` signed by a leaf issued by the CA.
    PackedX5c(X5c),
    /// `fmt: "fido-u2f"` with `{sig, x5c: [leaf]}`; requires an ES256 credential, and the
    /// leaf carries no AAGUID extension and authData an all-zero AAGUID.
    FidoU2f(X5c),
}

impl Attestation {
    /// Packed attestation with an honest leaf from `ca`.
    pub fn packed_x5c(ca: &TestCa) -> Self {
        Self::packed_x5c_with(ca, CertFaults::default())
    }

    /// Packed attestation with a leaf from `ca` that has the given defects.
    pub fn packed_x5c_with(ca: &TestCa, cert_faults: CertFaults) -> Self {
        Attestation::PackedX5c(X5c {
            ca: ca.clone(),
            cert_faults,
        })
    }

    /// fido-u2f attestation with an honest leaf from `ca`.
    pub fn fido_u2f(ca: &TestCa) -> Self {
        Self::fido_u2f_with(ca, CertFaults::default())
    }

    /// fido-u2f attestation with a leaf from `ca` that has the given defects.
    pub fn fido_u2f_with(ca: &TestCa, cert_faults: CertFaults) -> Self {
        Attestation::FidoU2f(X5c {
            ca: ca.clone(),
            cert_faults,
        })
    }

    /// The `fmt` identifier of this attestation.
    pub fn fmt(&self) -> &'static str {
        match self {
            Attestation::None => "none",
            Attestation::PackedSelf | Attestation::PackedX5c(_) => "packed",
            Attestation::FidoU2f(_) => "fido-u2f",
        }
    }
}

/// What the relying party asks for in `navigator.credentials.create()`.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    /// The RP ID whose SHA-256 becomes rpIdHash.
    pub rp_id: String,
    /// The origin written into clientDataJSON.
    pub origin: String,
    /// The raw challenge bytes (written base64url-encoded into clientDataJSON).
    pub challenge: Vec<u8>,
    /// The user handle (`user.id`), returned later as `userHandle`.
    pub user_handle: Vec<u8>,
    /// The attestation to produce (default `none`).
    pub attestation: Attestation,
    /// Defects to put into the response (default: none).
    pub faults: Faults,
}

impl RegistrationRequest {
    /// An honest request with `none` attestation.
    pub fn new(
        rp_id: impl Into<String>,
        origin: impl Into<String>,
        challenge: impl Into<Vec<u8>>,
        user_handle: impl Into<Vec<u8>>,
    ) -> Self {
        RegistrationRequest {
            rp_id: rp_id.into(),
            origin: origin.into(),
            challenge: challenge.into(),
            user_handle: user_handle.into(),
            attestation: Attestation::None,
            faults: Faults::default(),
        }
    }

    /// Replaces the attestation choice.
    pub fn with_attestation(mut self, attestation: Attestation) -> Self {
        self.attestation = attestation;
        self
    }

    /// Replaces the faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// What the relying party asks for in `navigator.credentials.get()`.
#[derive(Debug, Clone)]
pub struct AuthenticationRequest {
    /// The RP ID whose SHA-256 becomes rpIdHash (credentials are not filtered by it).
    pub rp_id: String,
    /// The origin written into clientDataJSON.
    pub origin: String,
    /// The raw challenge bytes.
    pub challenge: Vec<u8>,
    /// The credential to use; `None` uses the first one registered.
    pub credential_id: Option<Vec<u8>>,
    /// Defects to put into the response (default: none).
    pub faults: Faults,
}

impl AuthenticationRequest {
    /// An honest request that uses the first registered credential.
    pub fn new(
        rp_id: impl Into<String>,
        origin: impl Into<String>,
        challenge: impl Into<Vec<u8>>,
    ) -> Self {
        AuthenticationRequest {
            rp_id: rp_id.into(),
            origin: origin.into(),
            challenge: challenge.into(),
            credential_id: None,
            faults: Faults::default(),
        }
    }

    /// Selects the credential to sign with.
    pub fn with_credential(mut self, credential_id: impl Into<Vec<u8>>) -> Self {
        self.credential_id = Some(credential_id.into());
        self
    }

    /// Replaces the faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// The result of a registration: the browser JSON plus the raw parts, for assertions.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The `PublicKeyCredential.toJSON()` value to feed to the verifier.
    pub json: Value,
    /// The stored credential's ID (raw bytes).
    pub credential_id: Vec<u8>,
    /// The credential public key as a COSE_Key (honest, even if `Faults::cose_key` was set).
    pub cose_public_key: Vec<u8>,
    /// The credential public key as DER SubjectPublicKeyInfo.
    pub public_key_spki: Vec<u8>,
    /// The COSE algorithm identifier of the credential.
    pub alg: i64,
    /// The AAGUID written into authData (zero for fido-u2f, faulted if `Faults::aaguid`).
    pub aaguid: [u8; 16],
    /// The exact clientDataJSON bytes.
    pub client_data_json: Vec<u8>,
    /// The exact authenticator data bytes.
    pub authenticator_data: Vec<u8>,
    /// The exact attestation object bytes.
    pub attestation_object: Vec<u8>,
    /// The `x5c` chain (leaf first), empty for `none` and self attestation.
    pub x5c: Vec<Vec<u8>>,
}

/// The result of an authentication: the browser JSON plus the raw parts.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The `PublicKeyCredential.toJSON()` value to feed to the verifier.
    pub json: Value,
    /// The ID of the credential that signed (which may differ from the JSON under faults).
    pub credential_id: Vec<u8>,
    /// The exact clientDataJSON bytes.
    pub client_data_json: Vec<u8>,
    /// The exact authenticator data bytes.
    pub authenticator_data: Vec<u8>,
    /// The exact signature bytes.
    pub signature: Vec<u8>,
    /// The user handle returned, if any.
    pub user_handle: Option<Vec<u8>>,
    /// The signCount written into authData.
    pub sign_count: u32,
}

/// One credential stored in the authenticator.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The credential ID.
    pub id: Vec<u8>,
    /// The RP ID it was created for (informational: authentication does not filter by it).
    pub rp_id: String,
    /// The user handle it was created for.
    pub user_handle: Vec<u8>,
    /// The current signature counter.
    pub sign_count: u32,
    key: Arc<PrivateKey>,
}

impl Credential {
    /// The credential's algorithm.
    pub fn alg(&self) -> Alg {
        self.key.alg()
    }

    /// The public key as a canonical COSE_Key.
    pub fn cose_public_key(&self) -> Vec<u8> {
        self.key.cose_key()
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_spki(&self) -> Vec<u8> {
        self.key.spki_der()
    }
}

/// A software WebAuthn authenticator.
///
/// Cloning copies the credentials, keys and counters, which models a cloned authenticator:
/// the two copies' counters then diverge.
#[derive(Debug, Clone)]
pub struct Authenticator {
    alg: Alg,
    aaguid: [u8; 16],
    user_verification: bool,
    backup_eligible: bool,
    backup_state: bool,
    counter: Counter,
    transports: Option<Vec<String>>,
    attachment: Option<Attachment>,
    credentials: Vec<Credential>,
}

impl Authenticator {
    /// The AAGUID every authenticator has unless [`with_aaguid`](Self::with_aaguid) is used.
    pub const DEFAULT_AAGUID: [u8; 16] = [
        0x70, 0x61, 0x73, 0x73, 0x6b, 0x65, 0x79, 0x64, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x00, 0x00,
        0x01,
    ];

    /// A device-bound platform authenticator creating `alg` credentials: UP and UV set,
    /// BE and BS clear, an incrementing counter, transports `["internal"]`.
    pub fn new(alg: Alg) -> Self {
        Authenticator {
            alg,
            aaguid: Self::DEFAULT_AAGUID,
            user_verification: true,
            backup_eligible: false,
            backup_state: false,
            counter: Counter::Incrementing,
            transports: None,
            attachment: Some(Attachment::Platform),
            credentials: Vec::new(),
        }
    }

    /// Sets the AAGUID (used in authData and in the attestation certificate extension).
    pub fn with_aaguid(mut self, aaguid: [u8; 16]) -> Self {
        self.aaguid = aaguid;
        self
    }

    /// Sets whether the UV flag is reported.
    pub fn with_user_verification(mut self, uv: bool) -> Self {
        self.user_verification = uv;
        self
    }

    /// Sets the BE (backup eligible) and BS (backed up) flags.
    pub fn with_backup(mut self, eligible: bool, state: bool) -> Self {
        self.backup_eligible = eligible;
        self.backup_state = state;
        self
    }

    /// Sets the counter behaviour.
    pub fn with_counter(mut self, counter: Counter) -> Self {
        self.counter = counter;
        self
    }

    /// Makes this a synced passkey provider: BE and BS set and the counter always 0.
    pub fn synced(self) -> Self {
        self.with_backup(true, true)
            .with_counter(Counter::AlwaysZero)
    }

    /// Sets the attachment (`None` leaves `authenticatorAttachment` out of the JSON).
    pub fn with_attachment(mut self, attachment: Option<Attachment>) -> Self {
        self.attachment = attachment;
        self
    }

    /// Sets the reported transports, replacing the default derived from the attachment.
    pub fn with_transports(mut self, transports: &[&str]) -> Self {
        self.transports = Some(transports.iter().map(|t| (*t).to_owned()).collect());
        self
    }

    /// The algorithm of newly created credentials.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The authenticator's AAGUID.
    pub fn aaguid(&self) -> [u8; 16] {
        self.aaguid
    }

    /// All stored credentials, in registration order.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// The stored credential with this ID.
    pub fn credential(&self, id: &[u8]) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// Sets a stored credential's counter, e.g. to make the next assertion go backwards.
    ///
    /// # Panics
    /// If no credential has this ID.
    pub fn set_sign_count(&mut self, id: &[u8], count: u32) {
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.id == id)
            .expect("set_sign_count: no credential with this ID");
        cred.sign_count = count;
    }

    /// The UP/UV/BE/BS bits this authenticator honestly reports.
    fn base_flags(&self) -> u8 {
        let mut f = flags::UP;
        if self.user_verification {
            f |= flags::UV;
        }
        if self.backup_eligible {
            f |= flags::BE;
        }
        if self.backup_state {
            f |= flags::BS;
        }
        f
    }

    fn transports(&self) -> Vec<String> {
        match (&self.transports, self.attachment) {
            (Some(t), _) => t.clone(),
            (None, Some(Attachment::Platform)) => vec!["internal".into()],
            (None, Some(Attachment::CrossPlatform)) => vec!["usb".into()],
            (None, None) => Vec::new(),
        }
    }

    /// Creates a new credential and returns the registration response.
    ///
    /// # Panics
    /// If a fault does not apply to registration, if a signature fault is combined with
    /// `none` attestation, or if fido-u2f is requested for a non-ES256 authenticator.
    pub fn register(&mut self, req: &RegistrationRequest) -> Registration {
        let faults = &req.faults;
        faults.check(Ceremony::Registration);
        if matches!(req.attestation, Attestation::None) {
            assert!(
                !faults.touches_signature(),
                "attestation \"none\" has no signature to fault"
            );
        }
        if matches!(req.attestation, Attestation::FidoU2f(_)) {
            assert_eq!(self.alg, Alg::Es256, "fido-u2f requires ES256 credentials");
        }
        if faults.att_stmt_alg.is_some() {
            assert!(
                matches!(
                    req.attestation,
                    Attestation::PackedSelf | Attestation::PackedX5c(_)
                ),
                "Faults::att_stmt_alg only applies to packed attestation"
            );
        }

        let key = Arc::new(PrivateKey::generate(self.alg));
        let credential_id = faults.credential_id.clone().unwrap_or_else(random_id);
        let honest_aaguid = match req.attestation {
            Attestation::FidoU2f(_) => [0u8; 16],
            _ => self.aaguid,
        };
        let aaguid = faults.aaguid.unwrap_or(honest_aaguid);
        let cose_public_key = key.cose_key();
        let sign_count = 0;

        let client_data_json =
            wire::client_data_json("webauthn.create", &req.challenge, &req.origin, faults);
        let client_data_hash = wire::sha256(&client_data_json);
        let authenticator_data = wire::authenticator_data(
            &req.rp_id,
            self.base_flags(),
            sign_count,
            Some(&AttestedCredential {
                aaguid,
                credential_id: &credential_id,
                cose_key: faults.cose_key.as_deref().unwrap_or(&cose_public_key),
            }),
            faults,
        );
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&client_data_hash);

        let (att_stmt, x5c) = match &req.attestation {
            Attestation::None => (Item::Map(vec![]), Vec::new()),
            Attestation::PackedSelf => {
                let sig = make_signature(Signer::Key(&key), &signed, faults);
                let alg = faults.att_stmt_alg.unwrap_or(key.alg().cose_id());
                (packed_stmt(alg, sig, None), Vec::new())
            }
            Attestation::PackedX5c(x) => {
                let cert = x.ca.issue(Some(self.aaguid), &x.cert_faults);
                let sig = make_signature(Signer::Cert(&cert), &signed, faults);
                let alg = faults.att_stmt_alg.unwrap_or(Alg::Es256.cose_id());
                (packed_stmt(alg, sig, Some(&cert.chain)), cert.chain.clone())
            }
            Attestation::FidoU2f(x) => {
                let cert = x.ca.issue(None, &x.cert_faults);
                let leaf = vec![cert.leaf_der().to_vec()];
                // U2F signs over the rpIdHash actually written into authData, so a faulted
                // rpIdHash still yields a signature that matches the authData.
                let mut u2f = vec![0x00];
                u2f.extend_from_slice(&authenticator_data[..32]);
                u2f.extend_from_slice(&client_data_hash);
                u2f.extend_from_slice(&credential_id);
                u2f.extend_from_slice(key.ec_point().expect("fido-u2f keys are ES256"));
                let sig = make_signature(Signer::Cert(&cert), &u2f, faults);
                let stmt = Item::Map(vec![
                    (Item::text("sig"), Item::Bytes(sig)),
                    (Item::text("x5c"), der_array(&leaf)),
                ]);
                (stmt, leaf)
            }
        };
        let att_stmt = match &faults.att_stmt {
            Some(raw) => Item::Raw(raw.clone()),
            None => att_stmt,
        };
        let fmt = faults
            .fmt
            .clone()
            .unwrap_or_else(|| req.attestation.fmt().to_owned());
        let mut attestation_object = Item::Map(vec![
            (Item::text("fmt"), Item::Text(fmt)),
            (Item::text("attStmt"), att_stmt),
            (
                Item::text("authData"),
                Item::Bytes(authenticator_data.clone()),
            ),
        ])
        .encode();
        attestation_object.extend_from_slice(&faults.attestation_object_trailing);

        let public_key_spki = key.spki_der();
        let id_b64 = b64url(&credential_id);
        let mut response = Map::new();
        response.insert("clientDataJSON".into(), b64url(&client_data_json).into());
        response.insert(
            "attestationObject".into(),
            b64url(&attestation_object).into(),
        );
        response.insert(
            "authenticatorData".into(),
            b64url(&authenticator_data).into(),
        );
        response.insert("publicKey".into(), b64url(&public_key_spki).into());
        response.insert("publicKeyAlgorithm".into(), key.alg().cose_id().into());
        response.insert("transports".into(), self.transports().into());
        let json = self.envelope(
            faults.id.clone().unwrap_or(id_b64.clone()),
            id_b64,
            response,
        );

        self.credentials.push(Credential {
            id: credential_id.clone(),
            rp_id: req.rp_id.clone(),
            user_handle: req.user_handle.clone(),
            sign_count,
            key: Arc::clone(&key),
        });

        Registration {
            json,
            credential_id,
            cose_public_key,
            public_key_spki,
            alg: key.alg().cose_id(),
            aaguid,
            client_data_json,
            authenticator_data,
            attestation_object,
            x5c,
        }
    }

    /// Signs an assertion with the selected credential and returns the response.
    ///
    /// The stored counter advances (unless [`Counter::AlwaysZero`]) even when
    /// `Faults::sign_count` overrides the value written.
    ///
    /// # Panics
    /// If there is no matching credential, or a fault does not apply to authentication.
    pub fn authenticate(&mut self, req: &AuthenticationRequest) -> Assertion {
        let faults = &req.faults;
        faults.check(Ceremony::Authentication);
        let base_flags = self.base_flags();
        let counter = self.counter;
        let cred = match &req.credential_id {
            Some(id) => self
                .credentials
                .iter_mut()
                .find(|c| &c.id == id)
                .expect("authenticate: no credential with the requested ID"),
            None => self
                .credentials
                .first_mut()
                .expect("authenticate: the authenticator has no credentials"),
        };
        if counter == Counter::Incrementing {
            cred.sign_count = cred.sign_count.wrapping_add(1);
        }
        let cred = cred.clone();

        let client_data_json =
            wire::client_data_json("webauthn.get", &req.challenge, &req.origin, faults);
        let authenticator_data =
            wire::authenticator_data(&req.rp_id, base_flags, cred.sign_count, None, faults);
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&wire::sha256(&client_data_json));
        let signature = make_signature(Signer::Key(&cred.key), &signed, faults);

        let user_handle = match &faults.user_handle {
            Some(h) => h.clone(),
            None => Some(cred.user_handle.clone()),
        };
        let raw_id = b64url(faults.credential_id.as_deref().unwrap_or(&cred.id));
        let mut response = Map::new();
        response.insert("clientDataJSON".into(), b64url(&client_data_json).into());
        response.insert(
            "authenticatorData".into(),
            b64url(&authenticator_data).into(),
        );
        response.insert("signature".into(), b64url(&signature).into());
        if let Some(h) = &user_handle {
            response.insert("userHandle".into(), b64url(h).into());
        }
        let json = self.envelope(
            faults.id.clone().unwrap_or(raw_id.clone()),
            raw_id,
            response,
        );

        Assertion {
            json,
            credential_id: cred.id,
            client_data_json,
            authenticator_data,
            signature,
            user_handle,
            sign_count: faults.sign_count.unwrap_or(cred.sign_count),
        }
    }

    /// Wraps a response object in the `PublicKeyCredential` JSON members shared by both
    /// ceremonies.
    fn envelope(&self, id: String, raw_id: String, response: Map<String, Value>) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), id.into());
        obj.insert("rawId".into(), raw_id.into());
        obj.insert("type".into(), "public-key".into());
        if let Some(a) = self.attachment {
            obj.insert("authenticatorAttachment".into(), a.as_str().into());
        }
        obj.insert("clientExtensionResults".into(), json!({}));
        obj.insert("response".into(), Value::Object(response));
        Value::Object(obj)
    }
}

/// The key that honestly produces a signature.
enum Signer<'a> {
    /// The credential key (self attestation and assertions).
    Key(&'a PrivateKey),
    /// An attestation certificate's key (always ES256).
    Cert(&'a AttestationCert),
}

/// Produces the signature over `msg`, applying the signature faults in order: replacement
/// bytes or a wrong key first, then the bit flip.
fn make_signature(signer: Signer<'_>, msg: &[u8], faults: &Faults) -> Vec<u8> {
    let alg = match signer {
        Signer::Key(k) => k.alg(),
        Signer::Cert(_) => Alg::Es256,
    };
    let mut sig = if let Some(raw) = &faults.signature {
        raw.clone()
    } else if faults.sign_with_other_key {
        PrivateKey::generate(alg).sign(msg)
    } else {
        match signer {
            Signer::Key(k) => k.sign(msg),
            Signer::Cert(c) => c.sign(msg),
        }
    };
    if faults.corrupt_signature {
        assert!(!sig.is_empty(), "cannot corrupt an empty signature");
        // Ed25519's last byte holds the top bits of S, where a flip could make the signature
        // malformed rather than wrong; its first byte (part of R) is a safe target. For DER
        // ECDSA and RSA the last byte keeps the encoding well formed.
        let idx = if alg == Alg::Ed25519 {
            0
        } else {
            sig.len() - 1
        };
        sig[idx] ^= 0x01;
    }
    sig
}

/// A packed attestation statement in canonical key order (alg, sig, x5c).
fn packed_stmt(alg: i64, sig: Vec<u8>, x5c: Option<&[Vec<u8>]>) -> Item {
    let mut entries = vec![
        (Item::text("alg"), Item::Int(alg)),
        (Item::text("sig"), Item::Bytes(sig)),
    ];
    if let Some(chain) = x5c {
        entries.push((Item::text("x5c"), der_array(chain)));
    }
    Item::Map(entries)
}

/// A CBOR array of DER certificates, as `x5c` requires.
fn der_array(certs: &[Vec<u8>]) -> Item {
    Item::Array(certs.iter().map(|c| Item::Bytes(c.clone())).collect())
}

/// A random 32-byte credential ID, a common length among real authenticators.
fn random_id() -> Vec<u8> {
    let mut id = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut id).expect("the system RNG is available");
    id
}
