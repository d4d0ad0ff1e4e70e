//! Owns [`Faults`], the single place where a test says which one thing a response gets wrong.

/// Which ceremony a [`Faults`] value is being applied to, so misuse can be caught loudly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceremony {
    Registration,
    Authentication,
}

/// Deliberate defects to put into one response. The default value produces an honest response.
///
/// Every field breaks one thing and leaves everything else valid: a fault in data that is
/// signed (client data, authenticator data) is applied *before* signing, so the signature
/// still verifies over the faulty data and a verifier test isolates exactly one check.
/// Only [`corrupt_signature`](Faults::corrupt_signature) is applied after signing.
///
/// Fields marked "registration only" or "authentication only" make the other ceremony panic,
/// because a silently ignored fault would make a test pass for the wrong reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    // --- clientDataJSON ---
    /// Replaces the `type` member ("webauthn.create" / "webauthn.get").
    pub client_data_type: Option<String>,
    /// Replaces the `challenge` member with this exact string (e.g. padded or another value).
    pub challenge: Option<String>,
    /// Replaces the `origin` member.
    pub origin: Option<String>,
    /// Replaces the `crossOrigin` value (honest: `false`).
    pub cross_origin: Option<bool>,
    /// Leaves the `crossOrigin` member out, as some older browsers did.
    pub omit_cross_origin: bool,
    /// Adds a `topOrigin` member after `crossOrigin`.
    pub top_origin: Option<String>,
    /// Appends these members after the standard ones, in order (browsers may add members).
    pub client_data_extra: Vec<(String, serde_json::Value)>,
    /// Uses these bytes verbatim as clientDataJSON; every other client data fault is ignored.
    pub client_data_json: Option<Vec<u8>>,

    // --- authenticatorData ---
    /// Replaces the rpIdHash.
    pub rp_id_hash: Option<[u8; 32]>,
    /// Writes exactly this flags byte; `flags_set`/`flags_clear` are then ignored.
    pub flags: Option<u8>,
    /// Bits OR-ed into the honest flags byte (see [`crate::flags`]).
    pub flags_set: u8,
    /// Bits cleared from the honest flags byte, after `flags_set` is applied.
    pub flags_clear: u8,
    /// Writes this signCount instead of the credential's counter; the stored counter still
    /// advances as usual.
    pub sign_count: Option<u32>,
    /// Registration: the credential is created (and stored) under this ID, which appears in
    /// authData, `id` and `rawId`. Authentication: `id` and `rawId` claim this ID while the
    /// selected credential still signs.
    pub credential_id: Option<Vec<u8>>,
    /// Registration only: writes this AAGUID into authData (the attestation certificate keeps
    /// the authenticator's real AAGUID).
    pub aaguid: Option<[u8; 16]>,
    /// Registration only: writes these bytes as the credential public key in authData.
    pub cose_key: Option<Vec<u8>>,
    /// Appends these bytes as the extensions CBOR map and sets the ED flag (clear it with
    /// `flags_clear` to get extensions without ED; set ED alone with `flags_set`).
    pub extensions: Option<Vec<u8>>,
    /// Appends these bytes after the end of authenticator data (they are signed over).
    pub auth_data_trailing: Vec<u8>,

    // --- attestation object (registration only) ---
    /// Registration only: replaces the `fmt` text; the attestation statement is unchanged.
    pub fmt: Option<String>,
    /// Registration only: writes this `alg` into a packed attStmt (the signature is unchanged).
    pub att_stmt_alg: Option<i64>,
    /// Registration only: uses these bytes verbatim as the `attStmt` value.
    pub att_stmt: Option<Vec<u8>>,
    /// Registration only: appends these bytes after the attestation object's CBOR map.
    pub attestation_object_trailing: Vec<u8>,

    // --- signature (attestation signature for registration, assertion signature otherwise) ---
    /// Signs with a freshly generated key of the same algorithm instead of the right key.
    pub sign_with_other_key: bool,
    /// Uses these bytes as the signature instead of signing.
    pub signature: Option<Vec<u8>>,
    /// Flips one bit of the final signature, after signing (ECDSA/RSA: the last byte, so the
    /// DER structure stays parseable; Ed25519: the first byte).
    pub corrupt_signature: bool,

    // --- JSON envelope ---
    /// Replaces only the `id` member, so it no longer matches `rawId`.
    pub id: Option<String>,
    /// Authentication only: `Some(None)` leaves `userHandle` out, `Some(Some(h))` returns `h`.
    pub user_handle: Option<Option<Vec<u8>>>,
}

impl Faults {
    /// Whether any fault touches the signature, which `fmt` "none" does not have.
    pub(crate) fn touches_signature(&self) -> bool {
        self.sign_with_other_key || self.signature.is_some() || self.corrupt_signature
    }

    /// Panics when a fault that only makes sense for the other ceremony is set.
    pub(crate) fn check(&self, ceremony: Ceremony) {
        match ceremony {
            Ceremony::Registration => {
                assert!(
                    self.user_handle.is_none(),
                    "Faults::user_handle only applies to authentication"
                );
            }
            Ceremony::Authentication => {
                let registration_only = [
                    ("aaguid", self.aaguid.is_some()),
                    ("cose_key", self.cose_key.is_some()),
                    ("fmt", self.fmt.is_some()),
                    ("att_stmt_alg", self.att_stmt_alg.is_some()),
                    ("att_stmt", self.att_stmt.is_some()),
                    (
                        "attestation_object_trailing",
                        !self.attestation_object_trailing.is_empty(),
                    ),
                ];
                for (name, set) in registration_only {
                    assert!(!set, "Faults::{name} only applies to registration");
                }
            }
        }
    }
}
