//! Authenticator data: the signed binary structure every ceremony carries (WebAuthn §6.1).

use crate::cose::{read_cbor_prefix, CredentialPublicKey};
use crate::error::{Error, Result};
use serde::Serialize;

/// The flags byte of authenticator data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flags(pub u8);

impl Flags {
    /// User present.
    pub const UP: u8 = 0x01;
    /// User verified.
    pub const UV: u8 = 0x04;
    /// Backup eligible: the credential may be synced.
    pub const BE: u8 = 0x08;
    /// Backup state: the credential is synced now.
    pub const BS: u8 = 0x10;
    /// Attested credential data included.
    pub const AT: u8 = 0x40;
    /// Extension data included.
    pub const ED: u8 = 0x80;

    /// Whether UP is set.
    pub fn user_present(self) -> bool {
        self.0 & Self::UP != 0
    }
    /// Whether UV is set.
    pub fn user_verified(self) -> bool {
        self.0 & Self::UV != 0
    }
    /// Whether BE is set.
    pub fn backup_eligible(self) -> bool {
        self.0 & Self::BE != 0
    }
    /// Whether BS is set.
    pub fn backup_state(self) -> bool {
        self.0 & Self::BS != 0
    }
    /// Whether AT is set.
    pub fn attested_credential_data(self) -> bool {
        self.0 & Self::AT != 0
    }
    /// Whether ED is set.
    pub fn extension_data(self) -> bool {
        self.0 & Self::ED != 0
    }
}

/// The attested credential data of a registration.
#[derive(Debug, Clone)]
pub struct AttestedCredential<'a> {
    /// The authenticator model's AAGUID (all zeros when the authenticator hides it).
    pub aaguid: [u8; 16],
    /// The new credential's id.
    pub credential_id: &'a [u8],
    /// The COSE_Key bytes exactly as the authenticator wrote them.
    pub public_key_cose: &'a [u8],
    /// The decoded key.
    pub public_key: CredentialPublicKey,
}

/// Decoded authenticator data, borrowing from the bytes it was parsed from.
#[derive(Debug, Clone)]
pub struct AuthenticatorData<'a> {
    /// The whole structure, as signed.
    pub raw: &'a [u8],
    /// SHA-256 of the RP ID the credential is scoped to.
    pub rp_id_hash: &'a [u8],
    /// The flags.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// Attested credential data (registration), present when AT is set.
    pub attested: Option<AttestedCredential<'a>>,
    /// The extensions map (CBOR bytes), present when ED is set.
    pub extensions: Option<&'a [u8]>,
}

impl<'a> AuthenticatorData<'a> {
    /// Parses authenticator data, checking that AT and ED match what follows the fixed part
    /// and that nothing trails it.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let malformed = |m: String| Error::MalformedAuthenticatorData(m);
        if raw.len() < 37 {
            return Err(malformed(format!(
                "{} bytes, at least 37 are needed",
                raw.len()
            )));
        }
        let rp_id_hash = &raw[..32];
        let flags = Flags(raw[32]);
        let sign_count = u32::from_be_bytes([raw[33], raw[34], raw[35], raw[36]]);
        let mut rest = &raw[37..];
        let attested = if flags.attested_credential_data() {
            if rest.len() < 18 {
                return Err(malformed(
                    "AT is set but attested credential data is truncated".into(),
                ));
            }
            let mut aaguid = [0u8; 16];
            aaguid.copy_from_slice(&rest[..16]);
            let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            rest = &rest[18..];
            if rest.len() < id_len {
                return Err(malformed(format!(
                    "credential id length is {id_len} but only {} bytes follow",
                    rest.len()
                )));
            }
            let credential_id = &rest[..id_len];
            rest = &rest[id_len..];
            let (value, used) = read_cbor_prefix(rest).map_err(|e| {
                Error::MalformedPublicKey(format!("credential public key is not CBOR: {e}"))
            })?;
            let public_key_cose = &rest[..used];
            rest = &rest[used..];
            let public_key = CredentialPublicKey::from_cbor(&value)?;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                public_key_cose,
                public_key,
            })
        } else {
            None
        };
        let extensions = if flags.extension_data() {
            let (value, used) = read_cbor_prefix(rest)
                .map_err(|e| malformed(format!("ED is set but extensions are not CBOR: {e}")))?;
            if !value.is_map() {
                return Err(malformed("extensions must be a CBOR map".into()));
            }
            let ext = &rest[..used];
            rest = &rest[used..];
            Some(ext)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} unexpected bytes after the {}",
                rest.len(),
                if flags.extension_data() {
                    "extensions"
                } else if flags.attested_credential_data() {
                    "credential public key (is ED missing?)"
                } else {
                    "fixed part (is AT or ED missing?)"
                }
            )));
        }
        Ok(AuthenticatorData {
            raw,
            rp_id_hash,
            flags,
            sign_count,
            attested,
            extensions,
        })
    }
}

/// Formats an AAGUID as a UUID string.
pub fn format_aaguid(aaguid: &[u8; 16]) -> String {
    let h = crate::error::hex(aaguid);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(flags: u8) -> Vec<u8> {
        let mut v = vec![7u8; 32];
        v.push(flags);
        v.extend_from_slice(&5u32.to_be_bytes());
        v
    }

    #[test]
    fn parses_assertion_data() {
        let raw = fixed(Flags::UP | Flags::UV);
        let ad = AuthenticatorData::parse(&raw).unwrap();
        assert_eq!(ad.sign_count, 5);
        assert!(ad.flags.user_present() && ad.flags.user_verified() && !ad.flags.backup_eligible());
        assert!(ad.attested.is_none() && ad.extensions.is_none());
    }

    #[test]
    fn refuses_truncated_and_trailing() {
        assert!(AuthenticatorData::parse(&[0u8; 36]).is_err());
        let mut raw = fixed(Flags::UP);
        raw.push(0);
        assert_eq!(
            AuthenticatorData::parse(&raw).unwrap_err().code(),
            "malformed_authenticator_data"
        );
        let raw = fixed(Flags::UP | Flags::AT);
        assert!(AuthenticatorData::parse(&raw).is_err());
        let mut raw = fixed(Flags::UP | Flags::ED);
        raw.push(0xa0);
        assert!(AuthenticatorData::parse(&raw).unwrap().extensions.is_some());
        let mut raw = fixed(Flags::UP | Flags::ED);
        raw.push(0x01);
        assert!(AuthenticatorData::parse(&raw).is_err());
    }

    #[test]
    fn formats_aaguid() {
        let a = [
            0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0,
            0x55, 0x03,
        ];
        assert_eq!(format_aaguid(&a), "adce0002-35bc-c60a-648b-0b25f1f05503");
    }
}
