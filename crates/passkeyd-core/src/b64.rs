//! Base64 as WebAuthn JSON uses it: written as base64url without padding, read tolerantly.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const URL_NO_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes bytes as base64url without padding, the form WebAuthn JSON uses.
pub fn encode(bytes: &[u8]) -> String {
    URL_NO_PAD.encode(bytes)
}

/// Decodes base64url, accepting padding and the standard alphabet (`+`, `/`) too, since
/// some clients and libraries send those.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b == b'+' || b == b'/') {
        let mapped: String = text
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            })
            .collect();
        URL_NO_PAD.decode(mapped)
    } else {
        URL_NO_PAD.decode(text)
    }
}

/// Bytes that travel in JSON as a base64url string.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64UrlBytes(pub Vec<u8>);

impl std::fmt::Debug for Base64UrlBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b64({})", encode(&self.0))
    }
}

impl From<Vec<u8>> for Base64UrlBytes {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

impl AsRef<[u8]> for Base64UrlBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Base64UrlBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64UrlBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        decode(&text)
            .map(Base64UrlBytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64url: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_common_spelling() {
        let bytes = [0xfb, 0xff, 0xfe, 0x01];
        for text in ["-__-AQ", "-__-AQ==", "+//+AQ==", "+//+AQ"] {
            assert_eq!(decode(text).unwrap(), bytes, "{text}");
        }
        assert_eq!(encode(&bytes), "-__-AQ");
    }

    #[test]
    fn refuses_garbage() {
        assert!(decode("not base64!").is_err());
        assert!(decode("a").is_err());
    }
}

/// `#[serde(with = "crate::b64::serde_bytes")]` for `Vec<u8>` fields written as base64url.
pub mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes bytes as base64url.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    /// Reads base64url (tolerantly).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(super::Base64UrlBytes::deserialize(d)?.0)
    }
}
