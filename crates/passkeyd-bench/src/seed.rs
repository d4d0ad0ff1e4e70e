//! The seeded users and their passkeys: every value of user `i` (external id, user handle,
//! credential id, key) is derived from the run's seed and `i`, so the load generator can sign
//! for any user without keeping a million of anything in memory, and seeding writes rows
//! straight into the store in large transactions (`Store::import`) while the server is down.

use crate::authenticator::{b64, derive, KeyPool, AAGUID};
use passkeyd_store::{Passkey, User};
use std::time::Instant;

/// The users a run signs in as.
pub struct Population {
    /// The seed every value is derived from.
    pub seed: Vec<u8>,
    /// How many users (each with one passkey).
    pub count: u64,
    /// What external ids start with, followed by the user's number.
    external_prefix: String,
    /// User handles the server drew, when the users were registered over HTTP (`--url`);
    /// otherwise each handle is derived.
    handles: Option<Vec<Vec<u8>>>,
}

impl Population {
    /// Users seeded into the store by the bench: external ids `user-<i>`.
    pub fn seeded(seed: Vec<u8>, count: u64) -> Self {
        Population {
            seed,
            count,
            external_prefix: "user-".to_owned(),
            handles: None,
        }
    }

    /// Users registered over HTTP on a server the bench did not start, whose handles are
    /// learnt one by one. External ids carry the seed, so runs against one server never clash.
    pub fn registered(seed: Vec<u8>) -> Self {
        let tag: String = seed.iter().take(4).map(|b| format!("{b:02x}")).collect();
        Population {
            seed,
            count: 0,
            external_prefix: format!("bench-{tag}-"),
            handles: Some(Vec::new()),
        }
    }

    /// Records the handle the server gave the next registered user.
    pub fn add_registered(&mut self, handle: Vec<u8>) {
        if let Some(handles) = &mut self.handles {
            handles.push(handle);
            self.count = handles.len() as u64;
        }
    }

    /// User `i`'s external id.
    pub fn external_id(&self, i: u64) -> String {
        format!("{}{i}", self.external_prefix)
    }

    /// User `i`'s WebAuthn user handle: 32 bytes that look random and differ per user.
    pub fn handle(&self, i: u64) -> Vec<u8> {
        match &self.handles {
            Some(handles) => usize::try_from(i)
                .ok()
                .and_then(|i| handles.get(i))
                .cloned()
                .unwrap_or_default(),
            None => derive(&self.seed, "handle", i).to_vec(),
        }
    }

    /// User `i`'s credential id: 32 bytes, as many authenticators make them.
    pub fn credential_id(&self, i: u64) -> Vec<u8> {
        derive(&self.seed, "credential", i).to_vec()
    }

    /// An id in the server's style (`usr_` + 22 base64url characters), derived.
    fn id(&self, prefix: &str, label: &str, i: u64) -> String {
        format!("{prefix}_{}", b64(&derive(&self.seed, label, i)[..16]))
    }

    /// The rows of users `range` in `app_id`, as a registration would have written them.
    pub fn rows(
        &self,
        app_id: &str,
        pool: &KeyPool,
        range: std::ops::Range<u64>,
        now: i64,
    ) -> (Vec<User>, Vec<Passkey>) {
        let mut users = Vec::with_capacity(range.clone().count());
        let mut passkeys = Vec::with_capacity(users.capacity());
        for i in range {
            let user = User {
                id: self.id("usr", "user", i),
                app_id: app_id.to_owned(),
                external_id: self.external_id(i),
                handle: self.handle(i),
                username: Some(format!("{}@bench.example", self.external_id(i))),
                display_name: None,
                created_at: now,
                updated_at: now,
            };
            passkeys.push(Passkey {
                id: self.id("pk", "passkey", i),
                app_id: app_id.to_owned(),
                user_id: user.id.clone(),
                user_external_id: String::new(),
                name: None,
                generated_name: "Google Password Manager".to_owned(),
                credential_id: self.credential_id(i),
                public_key: pool.for_user(i).cose().to_vec(),
                alg: -7,
                aaguid: AAGUID.to_owned(),
                transports: vec!["hybrid".to_owned(), "internal".to_owned()],
                backup_eligible: true,
                backup_state: true,
                user_verified: true,
                discoverable: Some(true),
                attachment: Some("platform".to_owned()),
                attestation_format: "none".to_owned(),
                attestation_type: "none".to_owned(),
                sign_count: 0,
                created_at: now,
                updated_at: now,
                last_used_at: None,
            });
            users.push(user);
        }
        (users, passkeys)
    }
}

/// Writes every user of `population` with its passkey into the store at `url`, `batch` users
/// per transaction, and returns the seconds it took. Progress goes to stderr every few seconds.
pub async fn import(
    url: &str,
    app_id: &str,
    population: &Population,
    pool: &KeyPool,
    batch: u64,
) -> Result<f64, String> {
    let started = Instant::now();
    let store = passkeyd_store::open(url)
        .await
        .map_err(|e| format!("cannot open the store to seed it: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut last_note = Instant::now();
    let mut from = 0;
    while from < population.count {
        let to = (from + batch.max(1)).min(population.count);
        let (users, passkeys) = population.rows(app_id, pool, from..to, now);
        store
            .import(&users, &passkeys)
            .await
            .map_err(|e| format!("seeding users {from}..{to}: {e}"))?;
        from = to;
        if last_note.elapsed().as_secs() >= 5 {
            let rate = from as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "seeding: {from} of {} users ({rate:.0} per second)",
                population.count
            );
            last_note = Instant::now();
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_are_derived_distinct_and_consistent() {
        let population = Population::seeded(b"0123456789abcdef".to_vec(), 3);
        let pool = KeyPool::derive(&population.seed, 2).unwrap();
        let (users, passkeys) = population.rows("app_x", &pool, 0..3, 7);
        assert_eq!(users.len(), 3);
        assert_eq!(users[1].external_id, "user-1");
        assert_eq!(users[1].handle, population.handle(1));
        assert_eq!(users[1].handle.len(), 32);
        assert_ne!(users[0].handle, users[1].handle);
        assert_eq!(passkeys[2].user_id, users[2].id);
        assert_eq!(passkeys[2].credential_id, population.credential_id(2));
        assert_ne!(passkeys[0].credential_id, passkeys[1].credential_id);
        // Users 0 and 2 share the first of two pooled keys.
        assert_eq!(passkeys[0].public_key, passkeys[2].public_key);
        assert_ne!(passkeys[0].public_key, passkeys[1].public_key);
        assert!(users[0].id.starts_with("usr_") && users[0].id.len() == 26);
        // The same seed gives the same rows; another gives others.
        let again = Population::seeded(b"0123456789abcdef".to_vec(), 3);
        assert_eq!(again.rows("app_x", &pool, 0..3, 7).0, users);
        assert_ne!(
            Population::seeded(b"x".to_vec(), 3).handle(0),
            users[0].handle
        );
    }

    #[test]
    fn registered_users_keep_the_servers_handles() {
        let mut population = Population::registered(vec![0xab; 16]);
        assert_eq!(population.count, 0);
        population.add_registered(vec![1, 2, 3]);
        assert_eq!(population.count, 1);
        assert_eq!(population.handle(0), vec![1, 2, 3]);
        assert_eq!(population.external_id(0), "bench-abababab-0");
    }
}
