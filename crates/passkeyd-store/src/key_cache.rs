//! API keys with their apps, as SQLite last returned them, for the lookup every API request
//! makes (two per ceremony; 9% of a sign-in's CPU in the benchmark's profile).
//!
//! Revocation stays immediate. An entry is used only while nothing can have changed it:
//! - writes by other connections (the CLI in another process, this process's pooled
//!   connections) change the inline connection's `PRAGMA data_version`, which every lookup reads
//!   first (a microsecond) and which empties the cache when it moved;
//! - writes of apps and keys through the inline connection, which do not move it, empty the
//!   cache themselves once committed (`SqliteStore::forget_keys`).
//!
//! Entries are stored under the version read before their row, so a change committed between
//! the two is caught by the next lookup. Unknown keys are not kept, so guessing costs no memory.

use crate::{ApiKey, App};
use std::collections::HashMap;

/// Keys kept at most; the cache starts again empty beyond that.
const CAPACITY: usize = 10_000;

/// The cache (behind the store's mutex).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    /// The `data_version` the entries were read under.
    version: i64,
    by_hash: HashMap<Vec<u8>, (ApiKey, App)>,
}

impl KeyCache {
    /// The entry for `hash`, if it was read under `version` (the connection's current one).
    /// A different version empties the cache and starts it again under the new one.
    pub(crate) fn get(&mut self, version: i64, hash: &[u8]) -> Option<(ApiKey, App)> {
        if version != self.version {
            self.by_hash.clear();
            self.version = version;
        }
        self.by_hash.get(hash).cloned()
    }

    /// Keeps what a lookup read after `get` under `version`.
    pub(crate) fn put(&mut self, version: i64, hash: Vec<u8>, found: &(ApiKey, App)) {
        if version != self.version {
            return;
        }
        if self.by_hash.len() >= CAPACITY {
            self.by_hash.clear();
        }
        self.by_hash.insert(hash, found.clone());
    }

    /// Forgets everything (after this process changed an app or a key).
    pub(crate) fn clear(&mut self) {
        self.by_hash.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(key_id: &str) -> (ApiKey, App) {
        let key = ApiKey {
            id: key_id.into(),
            app_id: "app".into(),
            prefix: "pkd_sk_ab".into(),
            hash: vec![1, 2, 3],
            name: Some("k".into()),
            created_at: 1,
            last_used_at: None,
            revoked_at: None,
        };
        let app = App {
            id: "app".into(),
            name: "App".into(),
            settings: "{}".into(),
            created_at: 1,
            updated_at: 1,
        };
        (key, app)
    }

    #[test]
    fn an_entry_lives_only_while_the_version_it_was_read_under_holds() {
        let mut cache = KeyCache::default();
        assert!(cache.get(7, b"h").is_none());
        cache.put(7, b"h".to_vec(), &found("k1"));
        assert_eq!(cache.get(7, b"h").unwrap().0.id, "k1");
        // Another connection committed: the version moved, and the entry is gone for good.
        assert!(cache.get(8, b"h").is_none());
        assert!(cache.get(7, b"h").is_none());
    }

    #[test]
    fn a_row_read_under_an_older_version_is_not_kept() {
        let mut cache = KeyCache::default();
        assert!(cache.get(1, b"h").is_none());
        // Another lookup saw version 2 meanwhile; what was read under 1 may be stale.
        assert!(cache.get(2, b"x").is_none());
        cache.put(1, b"h".to_vec(), &found("k1"));
        assert!(cache.get(2, b"h").is_none());
    }

    #[test]
    fn clear_forgets_and_the_capacity_bounds_the_memory() {
        let mut cache = KeyCache::default();
        cache.get(1, b"");
        cache.put(1, b"h".to_vec(), &found("k1"));
        cache.clear();
        assert!(cache.get(1, b"h").is_none());
        for i in 0..=CAPACITY {
            cache.put(1, i.to_le_bytes().to_vec(), &found("k"));
        }
        assert!(cache.by_hash.len() <= CAPACITY);
    }
}
