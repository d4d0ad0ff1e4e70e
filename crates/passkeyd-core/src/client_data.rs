//! Collected client data (`clientDataJSON`): parsing and the checks every ceremony shares.

use crate::error::{Error, Result};
use crate::rp::RelyingParty;
use serde::Deserialize;

/// The members of `clientDataJSON` that verification reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientData {
    /// `webauthn.create` or `webauthn.get`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The challenge, base64url.
    pub challenge: String,
    /// The origin of the page (or app) that ran the ceremony.
    pub origin: String,
    /// Whether the ceremony ran in a cross-origin iframe.
    #[serde(default)]
    pub cross_origin: Option<bool>,
    /// The top-level origin when `crossOrigin` is true.
    #[serde(default)]
    pub top_origin: Option<String>,
}

/// The ceremony a client data belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyType {
    /// Registration, `webauthn.create`.
    Create,
    /// Authentication, `webauthn.get`.
    Get,
}

impl CeremonyType {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyType::Create => "webauthn.create",
            CeremonyType::Get => "webauthn.get",
        }
    }
}

impl ClientData {
    /// Parses `clientDataJSON` bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::MalformedClientData(e.to_string()))
    }

    /// Checks type, challenge, origin and cross-origin policy, in the spec's order.
    pub(crate) fn check(
        &self,
        ceremony: CeremonyType,
        challenge: &[u8],
        rp: &RelyingParty,
    ) -> Result<()> {
        if self.ty != ceremony.as_str() {
            return Err(Error::ClientDataTypeMismatch {
                expected: ceremony.as_str(),
                seen: self.ty.clone(),
            });
        }
        let seen = crate::b64::decode(&self.challenge).ok();
        let matches = seen
            .as_deref()
            .is_some_and(|s| constant_time_eq(s, challenge));
        if !matches {
            return Err(Error::ChallengeMismatch {
                expected: crate::b64::encode(challenge),
                seen: self.challenge.clone(),
            });
        }
        rp.check_origin(
            &self.origin,
            self.cross_origin.unwrap_or(false),
            self.top_origin.as_deref(),
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
