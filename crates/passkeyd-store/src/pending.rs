//! Ceremonies kept in the memory of the one process serving an SQLite database.
//!
//! A ceremony lives for minutes and is read once. On SQLite each one cost two WAL commits (the
//! insert at the start, the delete at the finish), about an eighth of a sign-in's CPU in the
//! benchmark's profile. SQLite serves one instance (`passkeyd serve` locks the database, see
//! [`crate::Store::claim_for_server`]), so nothing outside this process needs them: they are
//! kept here instead. A restart forgets the ceremonies in flight, which then fail with
//! `ceremony_not_found` and are started again; no registration or sign-in that was answered is
//! lost. PostgreSQL, which several instances share, keeps them in its table.

use crate::{Ceremony, Millis, Result, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

/// The most ceremonies held at once. Each is under 2 kB, so this bounds the memory at about
/// 200 MB under a flood that the rate limits let through; a normal load holds only those in
/// flight. When full, new ceremonies are refused (`TooManyCeremonies`, which callers answer
/// with 503 `too_many_ceremonies`) until the purger removes expired ones.
pub const CAPACITY: usize = 100_000;

/// The map of pending ceremonies, by id (ids are random; the app is checked on every access).
#[derive(Debug, Default)]
pub struct Pending {
    by_id: Mutex<HashMap<String, Ceremony>>,
}

impl Pending {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ceremony>> {
        // A panic while the lock was held cannot leave a half-made entry (every change is one
        // map call), so a poisoned lock is still consistent.
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a ceremony; `Conflict("ceremony_id")` if the id is taken.
    pub fn put(&self, ceremony: &Ceremony) -> Result<()> {
        let mut map = self.map();
        if map.contains_key(&ceremony.id) {
            return Err(StoreError::Conflict("ceremony_id"));
        }
        if map.len() >= CAPACITY {
            return Err(StoreError::TooManyCeremonies(CAPACITY));
        }
        map.insert(ceremony.id.clone(), ceremony.clone());
        Ok(())
    }

    /// Removes and returns the ceremony `id` of `app_id`.
    pub fn take(&self, app_id: &str, id: &str) -> Option<Ceremony> {
        let mut map = self.map();
        match map.get(id) {
            Some(c) if c.app_id == app_id => map.remove(id),
            _ => None,
        }
    }

    /// The ceremony `id` of `app_id`, left in place.
    pub fn get(&self, app_id: &str, id: &str) -> Option<Ceremony> {
        self.map().get(id).filter(|c| c.app_id == app_id).cloned()
    }

    /// Removes every ceremony that expired before `now`; how many.
    pub fn purge(&self, now: Millis) -> u64 {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, c| c.expires_at >= now);
        (before - map.len()) as u64
    }

    /// Removes every ceremony of an app (deleted).
    pub fn forget_app(&self, app_id: &str) {
        self.map().retain(|_, c| c.app_id != app_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceremony(app: &str, id: &str, expires_at: Millis) -> Ceremony {
        Ceremony {
            id: id.into(),
            app_id: app.into(),
            kind: "authentication".into(),
            user_id: None,
            data: "{}".into(),
            expires_at,
        }
    }

    #[test]
    fn a_full_map_refuses_until_purged() {
        let pending = Pending::default();
        for i in 0..CAPACITY {
            pending
                .put(&ceremony("a", &i.to_string(), i as Millis))
                .unwrap();
        }
        assert!(matches!(
            pending.put(&ceremony("a", "one-more", 0)),
            Err(StoreError::TooManyCeremonies(CAPACITY))
        ));
        assert_eq!(pending.purge(10), 10);
        pending.put(&ceremony("a", "one-more", 0)).unwrap();
    }
}
