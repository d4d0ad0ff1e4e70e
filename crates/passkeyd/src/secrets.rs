//! Randomness and secrets: ids, challenges, user handles, and secret API keys (made, hashed
//! for storage, and checked in constant time). The only place the binary draws random bytes.

use crate::error::{ApiError, ApiResult};
use aws_lc_rs::{constant_time, digest, rand};
use passkeyd_core::b64;

/// Prefix of every secret API key, so leaked keys are recognisable (and scanners can find them).
pub const KEY_PREFIX: &str = "pkd_sk_";
/// How many characters of a key are kept in clear to recognise it in a list.
const SHOWN_PREFIX_LEN: usize = KEY_PREFIX.len() + 6;

/// `n` random bytes from the operating system's generator.
pub fn random_bytes(n: usize) -> ApiResult<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes).map_err(|_| ApiError::internal("the system random generator failed"))?;
    Ok(bytes)
}

/// A random id with a readable prefix, such as `pk_3kq9...` (128 bits, base64url).
pub fn new_id(prefix: &str) -> ApiResult<String> {
    Ok(format!("{prefix}_{}", b64::encode(&random_bytes(16)?)))
}

/// A new id that sorts by time: the prefix, the time in milliseconds as 12 hex digits, then 80
/// random bits. Rows keyed by such ids are appended at the end of their index, so a batch of
/// them dirties one page of it instead of one page per row (the audit log).
pub fn new_ordered_id(prefix: &str, now_ms: i64) -> ApiResult<String> {
    let now = u64::try_from(now_ms).unwrap_or(0);
    Ok(format!(
        "{prefix}_{now:012x}{}",
        b64::encode(&random_bytes(10)?)
    ))
}

/// A new secret key: the prefix and 256 random bits. Returns the key (shown once) and what
/// is stored: the shown prefix and the SHA-256.
pub fn new_api_key() -> ApiResult<NewKey> {
    let key = format!("{KEY_PREFIX}{}", b64::encode(&random_bytes(32)?));
    Ok(NewKey {
        prefix: key[..SHOWN_PREFIX_LEN].to_owned(),
        hash: hash_key(&key),
        key,
    })
}

/// A freshly made key.
pub struct NewKey {
    /// The whole key, to show once.
    pub key: String,
    /// What is kept in clear.
    pub prefix: String,
    /// SHA-256 of the key.
    pub hash: Vec<u8>,
}

/// SHA-256 of a presented key. A fast hash is enough: keys carry 256 random bits, so there is
/// nothing to brute-force, unlike passwords.
pub fn hash_key(key: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, key.as_bytes())
        .as_ref()
        .to_vec()
}

/// Whether a presented key's hash equals a stored one, compared in constant time.
pub fn key_matches(presented_hash: &[u8], stored_hash: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(presented_hash, stored_hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_prefixed_and_hashed() {
        let a = new_api_key().unwrap();
        let b = new_api_key().unwrap();
        assert!(a.key.starts_with(KEY_PREFIX));
        assert_eq!(a.key.len(), KEY_PREFIX.len() + 43, "256 bits in base64url");
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&a.prefix));
        assert!(key_matches(&hash_key(&a.key), &a.hash));
        assert!(!key_matches(&hash_key(&b.key), &a.hash));
        assert!(!key_matches(&[], &a.hash));
    }

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("pk").unwrap();
        assert!(a.starts_with("pk_") && a.len() == 3 + 22);
        assert_ne!(a, new_id("pk").unwrap());
    }

    #[test]
    fn ordered_ids_sort_by_time_and_stay_distinct() {
        let a = new_ordered_id("aud", 1_700_000_000_000).unwrap();
        assert!(
            a.starts_with("aud_018bcfe56800") && a.len() == 4 + 12 + 14,
            "{a}"
        );
        assert_ne!(a, new_ordered_id("aud", 1_700_000_000_000).unwrap());
        // Across times, as strings: a millisecond later sorts after, whatever the random part.
        let later: Vec<String> = (0..50)
            .map(|_| new_ordered_id("aud", 1_700_000_000_001).unwrap())
            .collect();
        assert!(later.iter().all(|b| b.as_str() > a.as_str()));
        assert!(new_ordered_id("aud", 0x1_0000_0000_0000 - 1)
            .unwrap()
            .starts_with("aud_ffffffffffff"));
    }
}
