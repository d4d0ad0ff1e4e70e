//! Owns the byte layouts signed by the authenticator: clientDataJSON and authenticator data.

use aws_lc_rs::digest;
use serde_json::Value;

use crate::faults::Faults;
use crate::{b64url, flags};

/// SHA-256, the hash WebAuthn uses for rpIdHash and clientDataHash.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Builds clientDataJSON with members in the order browsers write them
/// (type, challenge, origin, crossOrigin, topOrigin), applying any client data faults.
pub(crate) fn client_data_json(
    ceremony_type: &str,
    challenge: &[u8],
    origin: &str,
    faults: &Faults,
) -> Vec<u8> {
    if let Some(raw) = &faults.client_data_json {
        return raw.clone();
    }
    // serde_json::Map would reorder keys alphabetically, so the object is written by hand
    // and only the values go through serde_json for correct escaping.
    let mut members: Vec<(String, Value)> = vec![
        (
            "type".into(),
            Value::from(faults.client_data_type.as_deref().unwrap_or(ceremony_type)),
        ),
        (
            "challenge".into(),
            Value::from(
                faults
                    .challenge
                    .clone()
                    .unwrap_or_else(|| b64url(challenge)),
            ),
        ),
        (
            "origin".into(),
            Value::from(faults.origin.as_deref().unwrap_or(origin)),
        ),
    ];
    if !faults.omit_cross_origin {
        members.push((
            "crossOrigin".into(),
            Value::from(faults.cross_origin.unwrap_or(false)),
        ));
    }
    if let Some(top) = &faults.top_origin {
        members.push(("topOrigin".into(), Value::from(top.as_str())));
    }
    members.extend(faults.client_data_extra.iter().cloned());

    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
        .collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

/// The attested credential data block of registration authenticator data.
pub(crate) struct AttestedCredential<'a> {
    pub aaguid: [u8; 16],
    pub credential_id: &'a [u8],
    pub cose_key: &'a [u8],
}

/// Computes the flags byte: the honest bits, then the fault masks or the explicit override.
pub(crate) fn flags_byte(honest: u8, faults: &Faults) -> u8 {
    faults
        .flags
        .unwrap_or((honest | faults.flags_set) & !faults.flags_clear)
}

/// Builds authenticator data, applying the rpIdHash, flags, counter, extension and
/// trailing-byte faults. `base_flags` holds the authenticator's UP/UV/BE/BS bits; AT and ED
/// are derived here from what is actually present.
pub(crate) fn authenticator_data(
    rp_id: &str,
    base_flags: u8,
    sign_count: u32,
    attested: Option<&AttestedCredential<'_>>,
    faults: &Faults,
) -> Vec<u8> {
    let mut honest = base_flags;
    if attested.is_some() {
        honest |= flags::AT;
    }
    if faults.extensions.is_some() {
        honest |= flags::ED;
    }

    let mut out = Vec::new();
    out.extend_from_slice(
        &faults
            .rp_id_hash
            .unwrap_or_else(|| sha256(rp_id.as_bytes())),
    );
    out.push(flags_byte(honest, faults));
    out.extend_from_slice(&faults.sign_count.unwrap_or(sign_count).to_be_bytes());
    if let Some(att) = attested {
        out.extend_from_slice(&att.aaguid);
        let len = u16::try_from(att.credential_id.len())
            .expect("a credential ID longer than 65535 bytes cannot be encoded in authData");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(att.credential_id);
        out.extend_from_slice(att.cose_key);
    }
    if let Some(ext) = &faults.extensions {
        out.extend_from_slice(ext);
    }
    out.extend_from_slice(&faults.auth_data_trailing);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_keeps_browser_key_order() {
        let faults = Faults {
            top_origin: Some("https://top.example".into()),
            cross_origin: Some(true),
            ..Faults::default()
        };
        let json = client_data_json("webauthn.get", b"\x01\x02", "https://a.example", &faults);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"type":"webauthn.get","challenge":"AQI","origin":"https://a.example","crossOrigin":true,"topOrigin":"https://top.example"}"#
        );
    }

    #[test]
    fn client_data_escapes_values() {
        let faults = Faults {
            origin: Some("https://\"quoted\".example".into()),
            ..Faults::default()
        };
        let json = client_data_json("webauthn.create", b"", "unused", &faults);
        let parsed: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed["origin"], "https://\"quoted\".example");
        assert_eq!(parsed["challenge"], "");
    }

    #[test]
    fn flags_override_wins_over_masks() {
        let faults = Faults {
            flags: Some(0x42),
            flags_set: 0xff,
            ..Faults::default()
        };
        assert_eq!(flags_byte(flags::UP, &faults), 0x42);
        let masks = Faults {
            flags_set: flags::BS,
            flags_clear: flags::UP,
            ..Faults::default()
        };
        assert_eq!(
            flags_byte(flags::UP | flags::UV, &masks),
            flags::UV | flags::BS
        );
    }
}
