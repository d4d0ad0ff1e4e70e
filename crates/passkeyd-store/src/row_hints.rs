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

/// The hints, by credential id, each with its app. Keyed by the id alone so that a lookup
/// borrows the caller's bytes instead of building a key: the finish of every sign-in asks,
/// discoverable ones included. Two apps with the same credential id share a slot; the later
/// one wins and the other's finish takes the indexes (the app is checked here and again by the
/// statement).
#[derive(Debug, Default)]
pub(crate) struct RowHints {
    by_credential: Mutex<HashMap<Vec<u8>, (String, RowHint)>>,
    /// Statements that found their row through a hint: tests check that the shortcut is taken.
    #[cfg(test)]
    used: std::sync::atomic::AtomicU64,
}

impl RowHints {
    fn map(&self) -> MutexGuard<'_, HashMap<Vec<u8>, (String, RowHint)>> {
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
            map.insert(credential_id, (app_id.to_owned(), hint));
        }
    }

    /// The hint for a credential, kept for the counter's write-back.
    pub(crate) fn get(&self, app_id: &str, credential_id: &[u8]) -> Option<RowHint> {
        match self.map().get(credential_id) {
            Some((app, hint)) if app == app_id => Some(*hint),
            _ => None,
        }
    }

    /// The hint for a credential, forgotten (the sign-in is over).
    pub(crate) fn take(&self, app_id: &str, credential_id: &[u8]) -> Option<RowHint> {
        let mut map = self.map();
        match map.get(credential_id) {
            Some((app, _)) if app == app_id => map.remove(credential_id).map(|(_, hint)| hint),
            _ => None,
        }
    }

    /// Counts a statement that found its row through a hint (in tests; nothing otherwise).
    pub(crate) fn used(&self) {
        #[cfg(test)]
        self.used.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many statements found their row through a hint.
    #[cfg(test)]
    pub(crate) fn times_used(&self) -> u64 {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
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
        assert_eq!(hints.take("b", &[1]), None, "another app takes nothing");
        assert_eq!(hints.get("a", &[1]), Some(h));
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
