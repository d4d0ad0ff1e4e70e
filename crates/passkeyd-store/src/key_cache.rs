//! API keys with their apps, as SQLite last returned them, for the lookup every API request
//! makes (two per ceremony; 9% of a sign-in's CPU in the benchmark's profile).
//!
//! What may have changed an entry is checked, not guessed:
//! - writes of apps and keys by this process empty the cache once committed, on the connection
//!   that committed them (`SqliteStore::write_keys`), so they apply to the next request;
//! - writes by other processes (the CLI) move a marker file beside the database
//!   (`<database>.keys-changed`: one byte appended once the write is committed), and every
//!   lookup compares the marker's size and time with those it saw last (one `statx`, a few
//!   microseconds): a key the CLI revokes is refused from the moment the command returns;
//! - writes made some other way (an `sqlite3` shell) move the inline connection's
//!   `PRAGMA data_version`, which empties the cache when it moved. Reading it costs a read
//!   transaction (two `fcntl` lock calls), about what the lookup itself cost, so under load it
//!   is read at most every [`RECHECK_AFTER`], and at once after a pause.
//!
//! Unknown keys are not kept, so guessing costs no memory.
//!
//! The apps of the cached keys are known to exist under the same checks, which spares the
//! start of a ceremony the read of its app (`SqliteStore::put_ceremony`).

use crate::{ApiKey, App};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Keys kept at most; the cache starts again empty beyond that.
const CAPACITY: usize = 10_000;

/// How long the `data_version` read last is trusted.
pub(crate) const RECHECK_AFTER: Duration = Duration::from_millis(100);

/// The marker file grows by a byte a change; past this size it starts again from one byte.
const MARKER_MAX: u64 = 4096;

/// What the marker looked like: its size and time of change, or `None` while it does not exist.
pub(crate) type MarkerState = Option<(u64, Option<SystemTime>)>;

/// The marker's state now.
pub(crate) fn marker_state(path: &Path) -> MarkerState {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// Moves the marker: appends a byte (the size changes even when the clock's granularity keeps
/// the time), starting again from one byte when it has grown to [`MARKER_MAX`].
pub(crate) fn bump_marker(path: &Path) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if file.metadata()?.len() >= MARKER_MAX {
        file.set_len(0)?;
    }
    file.write_all(b".")
}

/// The cache (behind the store's mutex).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    /// The marker as last seen.
    marker: MarkerState,
    /// The `data_version` last read, and when.
    checked: Option<(i64, Instant)>,
    /// How many times the cache was emptied: a lookup keeps its row only if this did not move
    /// while it read.
    generation: u64,
    by_hash: HashMap<Vec<u8>, (ApiKey, App)>,
    /// The apps of the keys in `by_hash`: they existed when their key was read, and a change
    /// since would have emptied the cache.
    apps: HashSet<String>,
}

impl KeyCache {
    /// Notes the marker's state; empties the cache if it changed since last seen.
    pub(crate) fn marker(&mut self, state: MarkerState) {
        if state != self.marker {
            self.clear();
            self.marker = state;
        }
    }

    /// Whether `data_version` must be read again before an entry is used.
    pub(crate) fn recheck_due(&self, now: Instant) -> bool {
        self.checked
            .is_none_or(|(_, at)| now.saturating_duration_since(at) >= RECHECK_AFTER)
    }

    /// Notes the `data_version` read at `now`; empties the cache if it moved.
    pub(crate) fn checked(&mut self, version: i64, now: Instant) {
        if self.checked.is_some_and(|(seen, _)| seen != version) {
            self.clear();
        }
        self.checked = Some((version, now));
    }

    /// The entry for `hash`, if any (the caller checked the version when due).
    pub(crate) fn get(&self, hash: &[u8]) -> Option<(ApiKey, App)> {
        self.by_hash.get(hash).cloned()
    }

    /// The current generation, to give [`KeyCache::put`] after the read.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Keeps what a lookup read, unless the cache was emptied since `generation` (a write
    /// committed while it read, and the row may be the one the write replaced).
    pub(crate) fn put(&mut self, generation: u64, hash: Vec<u8>, found: &(ApiKey, App)) {
        if generation != self.generation {
            return;
        }
        if self.by_hash.len() >= CAPACITY {
            self.by_hash.clear();
            self.apps.clear();
        }
        if !self.apps.contains(&found.1.id) {
            self.apps.insert(found.1.id.clone());
        }
        self.by_hash.insert(hash, found.clone());
    }

    /// Whether the app `id` is known to exist: a cached key belongs to it (the caller checked
    /// the version when due, as for [`KeyCache::get`]).
    pub(crate) fn knows_app(&self, id: &str) -> bool {
        self.apps.contains(id)
    }

    /// Forgets everything (after this process changed an app or a key).
    pub(crate) fn clear(&mut self) {
        self.by_hash.clear();
        self.apps.clear();
        self.generation += 1;
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
    fn the_version_is_read_again_when_due_and_a_move_empties_the_cache() {
        let start = Instant::now();
        let mut cache = KeyCache::default();
        assert!(cache.recheck_due(start), "never checked");
        cache.checked(7, start);
        assert!(!cache.recheck_due(start + RECHECK_AFTER / 2));
        assert!(cache.recheck_due(start + RECHECK_AFTER));
        cache.put(cache.generation(), b"h".to_vec(), &found("k1"));
        assert_eq!(cache.get(b"h").unwrap().0.id, "k1");
        // The same version again: kept.
        cache.checked(7, start + RECHECK_AFTER);
        assert!(cache.get(b"h").is_some());
        // Another connection committed: the version moved, and the entry is gone.
        cache.checked(8, start + RECHECK_AFTER * 2);
        assert!(cache.get(b"h").is_none());
    }

    #[test]
    fn a_row_read_while_a_write_emptied_the_cache_is_not_kept() {
        let mut cache = KeyCache::default();
        let before = cache.generation();
        // A write on another connection commits and empties the cache during the read.
        cache.clear();
        cache.put(before, b"h".to_vec(), &found("stale"));
        assert!(cache.get(b"h").is_none());
        // A version that moved empties it too.
        let now = Instant::now();
        cache.checked(1, now);
        let before = cache.generation();
        cache.checked(2, now);
        cache.put(before, b"h".to_vec(), &found("stale"));
        assert!(cache.get(b"h").is_none());
    }

    #[test]
    fn clear_forgets_and_the_capacity_bounds_the_memory() {
        let mut cache = KeyCache::default();
        assert!(!cache.knows_app("app"));
        cache.put(0, b"h".to_vec(), &found("k1"));
        assert!(cache.knows_app("app"));
        assert!(!cache.knows_app("other"));
        cache.clear();
        assert!(cache.get(b"h").is_none());
        assert!(!cache.knows_app("app"), "the app goes with its keys");
        for i in 0..=CAPACITY {
            cache.put(cache.generation(), i.to_le_bytes().to_vec(), &found("k"));
        }
        assert!(cache.by_hash.len() <= CAPACITY);
    }

    #[test]
    fn a_moved_marker_empties_the_cache_and_wraps_around() {
        let dir = std::env::temp_dir().join(format!("passkeyd-marker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite3.keys-changed");
        let _ = std::fs::remove_file(&path);
        let mut cache = KeyCache::default();
        cache.marker(marker_state(&path));
        cache.put(cache.generation(), vec![1], &found("k1"));
        // Looked at again, unchanged: the entry stays.
        cache.marker(marker_state(&path));
        assert!(cache.get(&[1]).is_some());
        // Moved (created, then grown): emptied each time.
        for _ in 0..2 {
            bump_marker(&path).unwrap();
            cache.marker(marker_state(&path));
            assert!(cache.get(&[1]).is_none());
            cache.put(cache.generation(), vec![1], &found("k1"));
        }
        // At its largest it starts again from one byte, which is a move too.
        std::fs::write(&path, vec![b'.'; MARKER_MAX as usize]).unwrap();
        cache.marker(marker_state(&path));
        cache.put(cache.generation(), vec![1], &found("k1"));
        bump_marker(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1);
        cache.marker(marker_state(&path));
        assert!(cache.get(&[1]).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
