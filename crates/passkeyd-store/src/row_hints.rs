//! Where the start of a username-first sign-in found each passkey and its user in SQLite's
//! tables (their rowids), so that the finish reads and updates those rows directly.
//!
//! The start reads the user through its (app, external id) index and the passkeys through their
//! user index, which leaves the tables' leaves in the page cache. The finish used to look the
//! credential up again through two other indexes, (app, credential id) and the users' id, whose
//! leaves the start had not touched: with a million passkeys, two of a sign-in's five or six
//! page reads. By rowid, the finish finds the rows in the leaves the start just read.
//!
//! A hint is only a shortcut: the statements that use it also check the app, the credential id
//! (unique per app) and the user the row links to, so a row deleted, or its rowid reused by
//! another row, since the start misses, and the store then asks the indexes as before. Answers
//! are the same with or without hints; only the path to the row differs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Hints kept at most; the map starts again empty beyond that (a hint whose sign-in never
/// finishes is only forgotten then). Far more than the sign-ins in flight, and at most 4 MB
/// even with credential ids of the longest (1,023 bytes).
const CAPACITY: usize = 4_096;

/// The rows a passkey was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowHint {
    pub passkey: i64,
    pub user: i64,
}

/// The hints, by app and credential id.
#[derive(Debug, Default)]
pub(crate) struct RowHints {
    by_credential: Mutex<HashMap<(String, Vec<u8>), RowHint>>,
    /// Statements that found their row through a hint (for tests: the shortcut is taken).
    used: AtomicU64,
}

impl RowHints {
    fn map(&self) -> MutexGuard<'_, HashMap<(String, Vec<u8>), RowHint>> {
        // Every change is one map call: a poisoned lock is still consistent.
        self.by_credential.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes where the credentials of one user were read.
    pub(crate) fn note(&self, app_id: &str, found: impl IntoIterator<Item = (Vec<u8>, RowHint)>) {
        let mut map = self.map();
        for (credential_id, hint) in found {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert((app_id.to_owned(), credential_id), hint);
        }
    }

    /// The hint for a credential, kept for the counter's write-back.
    pub(crate) fn get(&self, app_id: &str, credential_id: &[u8]) -> Option<RowHint> {
        self.map()
            .get(&(app_id.to_owned(), credential_id.to_vec()))
            .copied()
    }

    /// Counts a statement that found its row through a hint.
    pub(crate) fn used(&self) {
        self.used.fetch_add(1, Ordering::Relaxed);
    }

    /// How many statements found their row through a hint.
    #[cfg(test)]
    pub(crate) fn times_used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The hint for a credential, forgotten (the sign-in is over).
    pub(crate) fn take(&self, app_id: &str, credential_id: &[u8]) -> Option<RowHint> {
        self.map()
            .remove(&(app_id.to_owned(), credential_id.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_per_app_and_credential_and_taken_once() {
        let hints = RowHints::default();
        let h = RowHint {
            passkey: 7,
            user: 3,
        };
        hints.note("a", [(vec![1], h)]);
        assert_eq!(hints.get("a", &[1]), Some(h));
        assert_eq!(hints.get("b", &[1]), None, "another app");
        assert_eq!(hints.get("a", &[2]), None, "another credential");
        assert_eq!(hints.take("a", &[1]), Some(h));
        assert_eq!(hints.take("a", &[1]), None);
    }

    #[test]
    fn the_capacity_bounds_the_memory() {
        let hints = RowHints::default();
        let h = RowHint {
            passkey: 1,
            user: 1,
        };
        hints.note(
            "a",
            (0..=CAPACITY as u32).map(|i| (i.to_le_bytes().to_vec(), h)),
        );
        assert!(hints.map().len() <= CAPACITY);
    }
}
