//! The one test suite every store implementation must pass: each scenario below is an async
//! function over a fresh, empty database, and `on_both_backends!` runs it once on SQLite and
//! once on PostgreSQL (as `sqlite::<name>` and `postgres::<name>`).
//!
//! PostgreSQL comes from `PASSKEYD_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/
//! postgres`); each test creates its own database there and drops it afterwards. When no server
//! answers, the PostgreSQL tests are skipped with a message, or fail when `CI=true`.
#![allow(clippy::unwrap_used)]

use passkeyd_store::{
    ApiKey, App, Ceremony, Passkey, PasskeyUse, Session, SharedStore, SigningKey, StoreError, User,
    UserUpsert,
};
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// The harness: a fresh database per test, on either backend.
// ---------------------------------------------------------------------------------------------

/// A fresh database the scenario may open as many times as it likes.
struct Db {
    /// What `passkeyd_store::open` takes.
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(PathBuf),
    Postgres,
}

impl Db {
    /// Opens the store (running migrations).
    async fn open(&self) -> SharedStore {
        passkeyd_store::open(&self.url).await.unwrap()
    }

    /// Runs raw SQL on the database, bypassing the store.
    async fn exec(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite(path) => {
                let (path, sql) = (path.clone(), sql.to_owned());
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.execute_batch(&sql).unwrap();
                })
                .await
                .unwrap();
            }
            Kind::Postgres => pg_client(&self.url)
                .await
                .unwrap()
                .batch_execute(sql)
                .await
                .unwrap(),
        }
    }

    /// Runs a raw query that returns one integer.
    async fn number(&self, sql: &str) -> i64 {
        match &self.kind {
            Kind::Sqlite(path) => {
                let (path, sql) = (path.clone(), sql.to_owned());
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.query_row(&sql, [], |row| row.get(0)).unwrap()
                })
                .await
                .unwrap()
            }
            Kind::Postgres => pg_client(&self.url)
                .await
                .unwrap()
                .query_one(sql, &[])
                .await
                .unwrap()
                .get(0),
        }
    }
}

/// A name no other test (in this or another run) is using.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("passkeyd_t_{:016x}", hasher.finish())
}

/// Runs `scenario` on its own task, then cleans up, then re-raises the scenario's panic if any.
async fn run_scenario<F, Fut>(scenario: F, db: Db, cleanup: impl Future<Output = ()>)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(scenario(db)).await;
    cleanup.await;
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("scenario task failed: {error}");
    }
}

async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(unique_name());
    // A nested path, so opening also exercises the creation of parent directories.
    let path = dir.join("data").join("passkeyd.sqlite3");
    let db = Db {
        url: format!("sqlite:{}", path.display()),
        kind: Kind::Sqlite(path),
    };
    run_scenario(scenario, db, async {
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

fn admin_url() -> String {
    std::env::var("PASSKEYD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let end = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    format!("{}/{name}{query}", &base[..end])
}

async fn pg_client(url: &str) -> Result<tokio_postgres::Client, String> {
    let connecting = tokio_postgres::connect(url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        })?;
    tokio::spawn(connection);
    Ok(client)
}

async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = admin_url();
    let admin = match pg_client(&admin_url).await {
        Ok(client) => client,
        Err(error) => {
            let shown = with_database(&admin_url, "…");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL not reachable at {shown} ({error}), and CI=true");
            }
            println!("SKIPPED: PostgreSQL not reachable at {shown} ({error})");
            return;
        }
    };
    let name = unique_name();
    // A linguistic collation (where "alpha" sorts before "Zed") shows that the store's order
    // does not depend on the database's locale. Servers without ICU get their default.
    let icu =
        format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    if let Err(error) = admin.batch_execute(&icu).await {
        println!("note: no ICU en-US database ({error}); using the server's default locale");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    let db = Db {
        url: with_database(&admin_url, &name),
        kind: Kind::Postgres,
    };
    run_scenario(scenario, db, async {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    })
    .await;
}

/// Emits, for each scenario, one test per backend.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::on_sqlite(super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::on_postgres(super::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends!(
    opens_and_pings,
    apps,
    api_keys,
    users_upsert_and_lookup,
    users_pagination,
    delete_user_cascades,
    passkeys,
    passkey_sign_count_never_decreases,
    passkey_limit,
    credential_id_conflicts,
    bulk_import,
    other_apps_rows_are_unreachable,
    ceremonies,
    concurrent_take_ceremony,
    concurrent_insert_passkey_respects_limit,
    migrations_are_idempotent,
    concurrent_opens_migrate_once,
    newer_schema_is_refused,
    sessions,
    signing_keys,
);

// ---------------------------------------------------------------------------------------------
// Test data.
// ---------------------------------------------------------------------------------------------

fn app(id: &str, at: i64) -> App {
    App {
        id: id.into(),
        name: format!("App {id}"),
        settings: r#"{"rp_id":"example.com"}"#.into(),
        created_at: at,
        updated_at: at,
    }
}

fn key(app_id: &str, id: &str, at: i64) -> ApiKey {
    ApiKey {
        id: id.into(),
        app_id: app_id.into(),
        prefix: format!("pk_{id}"),
        hash: format!("sha256 of {app_id}/{id}").into_bytes(),
        name: Some(format!("key {id}")),
        created_at: at,
        last_used_at: None,
        revoked_at: None,
    }
}

fn upsert(app_id: &str, external_id: &str) -> UserUpsert {
    UserUpsert {
        app_id: app_id.into(),
        external_id: external_id.into(),
        username: Some(format!("{external_id}@example.com")),
        display_name: Some(format!("User {external_id}")),
        new_id: format!("u-{app_id}-{external_id}"),
        new_handle: format!("h-{app_id}-{external_id}").into_bytes(),
        now: 1_000,
    }
}

/// Creates an app (if needed) and a user in it; returns the user.
async fn user_in(store: &SharedStore, app_id: &str, external_id: &str) -> User {
    if store.get_app(app_id).await.unwrap().is_none() {
        store.create_app(&app(app_id, 1)).await.unwrap();
    }
    store
        .upsert_user(&upsert(app_id, external_id))
        .await
        .unwrap()
        .0
}

fn passkey(user: &User, id: &str, at: i64) -> Passkey {
    Passkey {
        id: id.into(),
        app_id: user.app_id.clone(),
        user_id: user.id.clone(),
        user_external_id: String::new(),
        name: None,
        generated_name: "iCloud Keychain".into(),
        credential_id: format!("cred-{id}").into_bytes(),
        public_key: vec![0xa5, 0x01, 0x02, 0x03, 0x26],
        alg: -7,
        aaguid: "fbfc3007-154e-4ecc-8c0b-6e020557d7bd".into(),
        transports: vec!["hybrid".into(), "internal".into()],
        backup_eligible: true,
        backup_state: false,
        user_verified: true,
        discoverable: Some(true),
        attachment: Some("platform".into()),
        attestation_format: "none".into(),
        attestation_type: "None".into(),
        sign_count: 0,
        created_at: at,
        updated_at: at,
        last_used_at: None,
    }
}

/// What a passkey reads back as: the stored one with its owner's external id filled in.
fn as_read(mut passkey: Passkey, user: &User) -> Passkey {
    passkey.user_external_id = user.external_id.clone();
    passkey
}

fn ceremony(app_id: &str, id: &str, expires_at: i64) -> Ceremony {
    Ceremony {
        id: id.into(),
        app_id: app_id.into(),
        kind: "registration".into(),
        user_id: Some("u-1".into()),
        data: r#"{"challenge":"abc"}"#.into(),
        expires_at,
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, name: &str) {
    match result {
        Err(StoreError::Conflict(got)) => assert_eq!(got, name),
        other => panic!("expected Conflict({name:?}), got {other:?}"),
    }
}

fn assert_missing<T: std::fmt::Debug>(result: Result<T, StoreError>, name: &str) {
    match result {
        Err(StoreError::Missing(got)) => assert_eq!(got, name),
        other => panic!("expected Missing({name:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.
// ---------------------------------------------------------------------------------------------

async fn opens_and_pings(db: Db) {
    let store = db.open().await;
    store.ping().await.unwrap();
    let expected = match db.kind {
        Kind::Sqlite(_) => "sqlite",
        Kind::Postgres => "postgres",
    };
    assert_eq!(store.backend(), expected);
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        2
    );
}

async fn apps(db: Db) {
    let store = db.open().await;
    assert_eq!(store.list_apps().await.unwrap(), vec![]);
    assert_eq!(store.get_app("b").await.unwrap(), None);

    store.create_app(&app("b", 10)).await.unwrap();
    store.create_app(&app("a", 20)).await.unwrap();
    assert_conflict(store.create_app(&app("a", 30)).await, "app_id");
    assert_eq!(store.get_app("b").await.unwrap(), Some(app("b", 10)));
    assert_eq!(
        store.list_apps().await.unwrap(),
        vec![app("a", 20), app("b", 10)]
    );

    // put_app creates, and on an existing app replaces all but created_at.
    store.put_app(&app("c", 40)).await.unwrap();
    assert_eq!(store.get_app("c").await.unwrap(), Some(app("c", 40)));
    let mut replaced = app("c", 50);
    replaced.name = "Renamed".into();
    replaced.settings = "{}".into();
    store.put_app(&replaced).await.unwrap();
    let stored = store.get_app("c").await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.settings.as_str()),
        ("Renamed", "{}")
    );
    assert_eq!((stored.created_at, stored.updated_at), (40, 50));

    // update_app changes name, settings and updated_at only.
    let mut changed = app("a", 99);
    changed.name = "Alpha".into();
    changed.settings = r#"{"x":1}"#.into();
    assert!(store.update_app(&changed).await.unwrap());
    let stored = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(
        stored,
        App {
            created_at: 20,
            ..changed.clone()
        }
    );
    assert!(!store.update_app(&app("nope", 1)).await.unwrap());

    // Deleting an app takes everything of it along, and nothing of other apps.
    let user = user_in(&store, "a", "alice").await;
    let other = user_in(&store, "b", "bob").await;
    store.create_api_key(&key("a", "k1", 1)).await.unwrap();
    store.create_api_key(&key("b", "k2", 1)).await.unwrap();
    store
        .insert_passkey(&passkey(&user, "p1", 1), 10)
        .await
        .unwrap();
    store
        .insert_passkey(&passkey(&other, "p2", 1), 10)
        .await
        .unwrap();
    store.put_ceremony(&ceremony("a", "c1", 5)).await.unwrap();
    store.put_ceremony(&ceremony("b", "c2", 5)).await.unwrap();
    assert!(store.delete_app("a").await.unwrap());
    assert!(!store.delete_app("a").await.unwrap());
    assert_eq!(store.get_app("a").await.unwrap(), None);
    assert_eq!(store.get_user("a", "alice").await.unwrap(), None);
    assert_eq!(store.list_api_keys("a").await.unwrap(), vec![]);
    assert_eq!(
        store.find_api_key(&key("a", "k1", 1).hash).await.unwrap(),
        None
    );
    assert_eq!(store.get_passkey("a", "p1").await.unwrap(), None);
    assert_eq!(store.take_ceremony("a", "c1").await.unwrap(), None);
    assert!(store.get_user("b", "bob").await.unwrap().is_some());
    assert_eq!(store.list_api_keys("b").await.unwrap().len(), 1);
    assert!(store.get_passkey("b", "p2").await.unwrap().is_some());
    assert!(store.take_ceremony("b", "c2").await.unwrap().is_some());
    assert_eq!(db.number("SELECT COUNT(*) FROM passkeys").await, 1);
}

async fn api_keys(db: Db) {
    let store = db.open().await;
    assert_missing(store.create_api_key(&key("a", "k0", 1)).await, "app");
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();

    // Created out of order: the list is oldest first.
    let (k1, k2, k3) = (
        key("a", "k1", 300),
        key("a", "k2", 100),
        key("a", "k3", 200),
    );
    for k in [&k1, &k2, &k3] {
        store.create_api_key(k).await.unwrap();
    }
    store.create_api_key(&key("b", "kb", 1)).await.unwrap();
    assert_eq!(
        store.list_api_keys("a").await.unwrap(),
        vec![k2.clone(), k3.clone(), k1.clone()]
    );

    // The same id, or the same secret (hash), cannot be stored twice.
    assert_conflict(store.create_api_key(&key("a", "k1", 5)).await, "api_key");
    let mut same_hash = key("a", "k9", 5);
    same_hash.hash = k1.hash.clone();
    assert_conflict(store.create_api_key(&same_hash).await, "api_key");

    assert_eq!(
        store.find_api_key(&k1.hash).await.unwrap(),
        Some(k1.clone())
    );
    assert_eq!(store.find_api_key(b"unknown").await.unwrap(), None);

    // Touching records the latest use and never moves back.
    store.touch_api_key("k1", 1_000).await.unwrap();
    store.touch_api_key("k1", 900).await.unwrap();
    store.touch_api_key("missing", 900).await.unwrap();
    let found = store.find_api_key(&k1.hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(1_000));
    store.touch_api_key("k1", 2_000).await.unwrap();
    let found = store.find_api_key(&k1.hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(2_000));

    // Revoking: once, in its own app only; a revoked key is still found, marked.
    assert!(!store.revoke_api_key("b", "k1", 5_000).await.unwrap());
    assert!(store.revoke_api_key("a", "k1", 5_000).await.unwrap());
    assert!(!store.revoke_api_key("a", "k1", 6_000).await.unwrap());
    assert!(!store.revoke_api_key("a", "missing", 6_000).await.unwrap());
    let found = store.find_api_key(&k1.hash).await.unwrap().unwrap();
    assert_eq!(found.revoked_at, Some(5_000));
    let listed = store.list_api_keys("a").await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2].revoked_at, Some(5_000));
    assert_eq!(listed[0].revoked_at, None);
}

async fn users_upsert_and_lookup(db: Db) {
    let store = db.open().await;
    assert_missing(store.upsert_user(&upsert("a", "alice")).await, "app");
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();

    let first = upsert("a", "alice");
    let (created, is_new) = store.upsert_user(&first).await.unwrap();
    assert!(is_new);
    let expected = User {
        id: first.new_id.clone(),
        app_id: "a".into(),
        external_id: "alice".into(),
        handle: first.new_handle.clone(),
        username: first.username.clone(),
        display_name: first.display_name.clone(),
        created_at: 1_000,
        updated_at: 1_000,
    };
    assert_eq!(created, expected);

    // An upsert of an existing user keeps its id and handle; `None` keeps a name.
    let second = UserUpsert {
        username: Some("alice@new.example".into()),
        display_name: None,
        new_id: "ignored".into(),
        new_handle: b"ignored".to_vec(),
        now: 2_000,
        ..first.clone()
    };
    let (updated, is_new) = store.upsert_user(&second).await.unwrap();
    assert!(!is_new);
    let expected = User {
        username: Some("alice@new.example".into()),
        updated_at: 2_000,
        ..expected
    };
    assert_eq!(updated, expected);

    // Nothing to change: nothing changes, not even updated_at.
    let third = UserUpsert {
        username: None,
        display_name: None,
        now: 3_000,
        ..second.clone()
    };
    let (same, is_new) = store.upsert_user(&third).await.unwrap();
    assert!(!is_new);
    assert_eq!(same, expected);
    let repeated = UserUpsert {
        now: 3_500,
        ..second.clone()
    };
    assert_eq!(
        store.upsert_user(&repeated).await.unwrap(),
        (expected.clone(), false)
    );

    // Created without names, the names stay empty until given.
    let nameless = UserUpsert {
        username: None,
        display_name: None,
        ..upsert("a", "nameless")
    };
    let (user, _) = store.upsert_user(&nameless).await.unwrap();
    assert_eq!((user.username, user.display_name), (None, None));

    // A user handle is unique within an app.
    let clash = UserUpsert {
        new_handle: first.new_handle.clone(),
        ..upsert("a", "mallory")
    };
    assert_conflict(store.upsert_user(&clash).await, "user_handle");

    // The same external id in another app is another user.
    let (in_b, is_new) = store.upsert_user(&upsert("b", "alice")).await.unwrap();
    assert!(is_new);
    assert_ne!(in_b.id, expected.id);

    assert_eq!(
        store.get_user("a", "alice").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.get_user_by_id("a", &expected.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store
            .get_user_by_handle("a", &expected.handle)
            .await
            .unwrap(),
        Some(expected.clone())
    );
    assert_eq!(store.get_user("a", "nobody").await.unwrap(), None);
    assert_eq!(store.get_user_by_id("a", "nobody").await.unwrap(), None);
    assert_eq!(
        store.get_user_by_handle("a", b"nobody").await.unwrap(),
        None
    );
}

async fn users_pagination(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();
    // Mixed case and non-ASCII: both backends must order by bytes, whatever the locale.
    let mut ids: Vec<String> = (0..23).map(|i| format!("user-{i:02}")).collect();
    ids.extend(["Zed", "alpha", "Éva", "_under"].map(String::from));
    for id in &ids {
        store.upsert_user(&upsert("a", id)).await.unwrap();
    }
    store.upsert_user(&upsert("b", "other")).await.unwrap();
    ids.sort();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.list_users("a", after.as_deref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        pages += 1;
        after = page.last().map(|u| u.external_id.clone());
        seen.extend(page.into_iter().map(|u| {
            assert_eq!(u.app_id, "a");
            u.external_id
        }));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    assert_eq!(store.list_users("a", None, 0).await.unwrap(), vec![]);
    // Byte order puts the non-ASCII id after every ASCII one.
    let tail: Vec<String> = store
        .list_users("a", Some("user-21"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.external_id)
        .collect();
    assert_eq!(tail, ["user-22", "Éva"]);
    assert_eq!(store.list_users("nope", None, 10).await.unwrap(), vec![]);
}

async fn delete_user_cascades(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 10)
        .await
        .unwrap();
    store
        .insert_passkey(&passkey(&alice, "p2", 2), 10)
        .await
        .unwrap();
    store
        .insert_passkey(&passkey(&bob, "p3", 3), 10)
        .await
        .unwrap();

    assert!(!store.delete_user("b", "alice").await.unwrap());
    assert!(store.delete_user("a", "alice").await.unwrap());
    assert!(!store.delete_user("a", "alice").await.unwrap());
    assert_eq!(store.get_user("a", "alice").await.unwrap(), None);
    assert_eq!(store.list_passkeys("a", &alice.id).await.unwrap(), vec![]);
    assert_eq!(store.get_passkey("a", "p1").await.unwrap(), None);
    assert_eq!(
        store
            .find_passkey_by_credential("a", b"cred-p2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_passkeys("a", &bob.id).await.unwrap().len(), 1);
    // The credential id is free again.
    let again = user_in(&store, "a", "alice").await;
    store
        .insert_passkey(&passkey(&again, "p1", 4), 10)
        .await
        .unwrap();
}

async fn passkeys(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;

    // Inserted out of order: listed oldest first. Optional fields survive both ways.
    let p1 = passkey(&alice, "p1", 300);
    let p2 = Passkey {
        transports: vec![],
        backup_eligible: false,
        user_verified: false,
        discoverable: None,
        attachment: None,
        name: Some("YubiKey".into()),
        alg: -8,
        ..passkey(&alice, "p2", 100)
    };
    let p3 = Passkey {
        discoverable: Some(false),
        attachment: Some("cross-platform".into()),
        sign_count: 7,
        ..passkey(&alice, "p3", 200)
    };
    for p in [&p1, &p2, &p3] {
        store.insert_passkey(p, 10).await.unwrap();
    }
    store
        .insert_passkey(&passkey(&bob, "pb", 1), 10)
        .await
        .unwrap();

    let (p1, p2, p3) = (
        as_read(p1, &alice),
        as_read(p2, &alice),
        as_read(p3, &alice),
    );
    assert_eq!(
        store.list_passkeys("a", &alice.id).await.unwrap(),
        vec![p2.clone(), p3.clone(), p1.clone()]
    );
    assert_eq!(
        store.get_passkey("a", "p1").await.unwrap(),
        Some(p1.clone())
    );
    assert_eq!(store.get_passkey("a", "missing").await.unwrap(), None);
    assert_eq!(
        store
            .find_passkey_by_credential("a", b"cred-p3")
            .await
            .unwrap(),
        Some(p3.clone())
    );
    assert_eq!(
        store
            .find_passkey_by_credential("a", b"cred-none")
            .await
            .unwrap(),
        None
    );
    assert_eq!(p2.display_name(), "YubiKey");
    assert_eq!(p1.display_name(), "iCloud Keychain");

    // Rename sets, and with None clears, the chosen name.
    let renamed = store
        .rename_passkey("a", "p1", Some("Work laptop"), 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        renamed,
        Passkey {
            name: Some("Work laptop".into()),
            updated_at: 5_000,
            ..p1.clone()
        }
    );
    assert_eq!(store.get_passkey("a", "p1").await.unwrap(), Some(renamed));
    let cleared = store
        .rename_passkey("a", "p2", None, 6_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.name, None);
    assert_eq!(cleared.display_name(), "iCloud Keychain");
    assert_eq!(cleared.updated_at, 6_000);
    assert_eq!(
        store
            .rename_passkey("a", "missing", Some("x"), 1)
            .await
            .unwrap(),
        None
    );

    // Recording a use.
    let used = PasskeyUse {
        sign_count: 11,
        backup_state: true,
        now: 7_000,
    };
    assert!(store.record_passkey_use("a", "p3", used).await.unwrap());
    let p3_used = store.get_passkey("a", "p3").await.unwrap().unwrap();
    assert_eq!(
        p3_used,
        Passkey {
            sign_count: 11,
            backup_state: true,
            last_used_at: Some(7_000),
            updated_at: 7_000,
            ..p3.clone()
        }
    );
    assert!(!store
        .record_passkey_use("a", "missing", used)
        .await
        .unwrap());

    // Deleting one, then all of a user's.
    assert!(store.delete_passkey("a", "p3").await.unwrap());
    assert!(!store.delete_passkey("a", "p3").await.unwrap());
    assert_eq!(store.list_passkeys("a", &alice.id).await.unwrap().len(), 2);
    assert_eq!(store.delete_user_passkeys("a", &alice.id).await.unwrap(), 2);
    assert_eq!(store.delete_user_passkeys("a", &alice.id).await.unwrap(), 0);
    assert_eq!(store.list_passkeys("a", &alice.id).await.unwrap(), vec![]);
    // Bob's passkey and Alice herself are untouched.
    assert_eq!(store.list_passkeys("a", &bob.id).await.unwrap().len(), 1);
    assert!(store.get_user("a", "alice").await.unwrap().is_some());
}

async fn passkey_sign_count_never_decreases(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 10)
        .await
        .unwrap();
    let record = |sign_count, now| {
        let store = store.clone();
        async move {
            let used = PasskeyUse {
                sign_count,
                backup_state: false,
                now,
            };
            assert!(store.record_passkey_use("a", "p1", used).await.unwrap());
            store.get_passkey("a", "p1").await.unwrap().unwrap()
        }
    };
    let after = record(50, 1_000).await;
    assert_eq!((after.sign_count, after.last_used_at), (50, Some(1_000)));
    // A lower counter (a racing, older sign-in) keeps the higher one, and an older time too.
    let after = record(40, 900).await;
    assert_eq!(after.sign_count, 50);
    assert_eq!(after.last_used_at, Some(1_000));
    assert_eq!(after.updated_at, 1_000);
    let after = record(51, 2_000).await;
    assert_eq!((after.sign_count, after.last_used_at), (51, Some(2_000)));
}

async fn passkey_limit(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 2)
        .await
        .unwrap();
    store
        .insert_passkey(&passkey(&alice, "p2", 2), 2)
        .await
        .unwrap();
    match store.insert_passkey(&passkey(&alice, "p3", 3), 2).await {
        Err(StoreError::LimitReached { limit }) => assert_eq!(limit, 2),
        other => panic!("expected LimitReached, got {other:?}"),
    }
    assert_eq!(store.get_passkey("a", "p3").await.unwrap(), None);
    // The limit is per user, and a limit of zero allows none.
    store
        .insert_passkey(&passkey(&bob, "p4", 4), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.insert_passkey(&passkey(&bob, "p5", 5), 0).await,
        Err(StoreError::LimitReached { limit: 0 })
    ));
    // Room made by a deletion can be used again.
    assert!(store.delete_passkey("a", "p1").await.unwrap());
    store
        .insert_passkey(&passkey(&alice, "p3", 3), 2)
        .await
        .unwrap();
}

async fn credential_id_conflicts(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;
    let carol = user_in(&store, "b", "carol").await;
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 10)
        .await
        .unwrap();

    // The same credential id twice in one app, even for another user, is a conflict.
    let dup = Passkey {
        id: "p2".into(),
        ..passkey(&bob, "p1", 2)
    };
    assert_conflict(store.insert_passkey(&dup, 10).await, "credential_id");
    assert_eq!(store.get_passkey("a", "p2").await.unwrap(), None);
    // In another app it is another credential.
    let elsewhere = Passkey {
        id: "p3".into(),
        ..passkey(&carol, "p1", 3)
    };
    store.insert_passkey(&elsewhere, 10).await.unwrap();
    assert_eq!(
        store
            .find_passkey_by_credential("b", b"cred-p1")
            .await
            .unwrap()
            .map(|p| p.id),
        Some("p3".into())
    );
    assert_eq!(
        store
            .find_passkey_by_credential("a", b"cred-p1")
            .await
            .unwrap()
            .map(|p| p.id),
        Some("p1".into())
    );
    // A passkey id is unique too.
    let same_id = Passkey {
        credential_id: b"fresh".to_vec(),
        ..passkey(&alice, "p1", 4)
    };
    assert_conflict(store.insert_passkey(&same_id, 10).await, "passkey_id");

    // The owner must exist, in the passkey's app.
    let ghost = User {
        id: "ghost".into(),
        ..alice.clone()
    };
    assert_missing(
        store.insert_passkey(&passkey(&ghost, "p5", 5), 10).await,
        "user",
    );
    let foreign = Passkey {
        app_id: "a".into(),
        ..passkey(&carol, "p6", 6)
    };
    assert_missing(store.insert_passkey(&foreign, 10).await, "user");
    let no_app = Passkey {
        app_id: "zzz".into(),
        ..passkey(&alice, "p7", 7)
    };
    assert_missing(store.insert_passkey(&no_app, 10).await, "user");
}

/// A user as the import takes it: every column given by the caller.
fn imported_user(app_id: &str, n: u32) -> User {
    User {
        id: format!("u-{app_id}-{n}"),
        app_id: app_id.into(),
        external_id: format!("user-{n}"),
        handle: format!("handle-{app_id}-{n}").into_bytes(),
        username: Some(format!("user-{n}@example.com")),
        display_name: None,
        created_at: 10 + i64::from(n),
        updated_at: 20 + i64::from(n),
    }
}

async fn bulk_import(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();
    let users: Vec<User> = (0..3).map(|n| imported_user("a", n)).collect();
    // Every column is kept as given, optional ones and a used passkey included.
    let passkeys = vec![
        passkey(&users[0], "p0", 5),
        Passkey {
            name: Some("Laptop".into()),
            discoverable: None,
            attachment: None,
            transports: vec![],
            sign_count: 42,
            last_used_at: Some(99),
            ..passkey(&users[1], "p1", 6)
        },
        passkey(&users[2], "p2", 7),
    ];
    store.import(&users, &passkeys).await.unwrap();
    store.import(&[], &[]).await.unwrap();
    for (user, p) in users.iter().zip(&passkeys) {
        assert_eq!(
            store.get_user("a", &user.external_id).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            store.get_user_by_handle("a", &user.handle).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            store
                .find_passkey_by_credential("a", &p.credential_id)
                .await
                .unwrap(),
            Some(as_read(p.clone(), user))
        );
    }

    // Passkeys for users imported earlier; the per-user limit is not checked.
    let many: Vec<Passkey> = (0..12)
        .map(|n| passkey(&users[0], &format!("more-{n}"), 8))
        .collect();
    store.import(&[], &many).await.unwrap();
    assert_eq!(
        store.list_passkeys("a", &users[0].id).await.unwrap().len(),
        13
    );

    // A conflict anywhere in the batch fails all of it: nothing of the batch is stored.
    let before = db.number("SELECT COUNT(*) FROM users").await;
    let fresh = imported_user("a", 10);
    let dup_external = User {
        id: "u-new".into(),
        handle: b"new-handle".to_vec(),
        ..users[1].clone()
    };
    assert_conflict(
        store
            .import(&[fresh.clone(), dup_external], &[passkey(&fresh, "p10", 9)])
            .await,
        "external_id",
    );
    let dup_credential = Passkey {
        id: "p11".into(),
        ..passkey(&fresh, "p0", 9)
    };
    assert_conflict(
        store
            .import(std::slice::from_ref(&fresh), &[dup_credential])
            .await,
        "credential_id",
    );
    let twice = vec![passkey(&fresh, "p12", 9), passkey(&fresh, "p12", 9)];
    assert!(matches!(
        store.import(std::slice::from_ref(&fresh), &twice).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(db.number("SELECT COUNT(*) FROM users").await, before);
    assert_eq!(store.get_user("a", "user-10").await.unwrap(), None);
    assert_eq!(store.get_passkey("a", "p10").await.unwrap(), None);

    // The owner must exist in the passkey's app, in the batch or stored.
    let ghost = User {
        id: "ghost".into(),
        ..users[0].clone()
    };
    assert_missing(
        store.import(&[], &[passkey(&ghost, "p20", 9)]).await,
        "user",
    );
    let in_b = imported_user("b", 1);
    let crossing = Passkey {
        app_id: "a".into(),
        ..passkey(&in_b, "p21", 9)
    };
    assert_missing(
        store.import(std::slice::from_ref(&in_b), &[crossing]).await,
        "user",
    );
    let stored_elsewhere = Passkey {
        app_id: "b".into(),
        ..passkey(&users[0], "p22", 9)
    };
    assert_missing(store.import(&[], &[stored_elsewhere]).await, "user");
    assert_missing(store.import(&[imported_user("zzz", 1)], &[]).await, "app");
    assert_eq!(store.get_user("b", "user-1").await.unwrap(), None);
}

async fn other_apps_rows_are_unreachable(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    store.create_app(&app("b", 1)).await.unwrap();
    store.create_api_key(&key("a", "k1", 1)).await.unwrap();
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 10)
        .await
        .unwrap();
    store.put_ceremony(&ceremony("a", "c1", 100)).await.unwrap();

    let b = "b";
    assert_eq!(store.list_api_keys(b).await.unwrap(), vec![]);
    assert!(!store.revoke_api_key(b, "k1", 1).await.unwrap());
    assert_eq!(store.get_user(b, "alice").await.unwrap(), None);
    assert_eq!(store.get_user_by_id(b, &alice.id).await.unwrap(), None);
    assert_eq!(
        store.get_user_by_handle(b, &alice.handle).await.unwrap(),
        None
    );
    assert_eq!(store.list_users(b, None, 100).await.unwrap(), vec![]);
    assert!(!store.delete_user(b, "alice").await.unwrap());
    assert_eq!(store.list_passkeys(b, &alice.id).await.unwrap(), vec![]);
    assert_eq!(store.get_passkey(b, "p1").await.unwrap(), None);
    assert_eq!(
        store
            .find_passkey_by_credential(b, b"cred-p1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.rename_passkey(b, "p1", Some("x"), 9).await.unwrap(),
        None
    );
    assert!(!store.delete_passkey(b, "p1").await.unwrap());
    assert_eq!(store.delete_user_passkeys(b, &alice.id).await.unwrap(), 0);
    let used = PasskeyUse {
        sign_count: 99,
        backup_state: true,
        now: 9,
    };
    assert!(!store.record_passkey_use(b, "p1", used).await.unwrap());
    assert_eq!(store.take_ceremony(b, "c1").await.unwrap(), None);

    // Nothing was changed through the other app.
    assert_eq!(
        store.get_passkey("a", "p1").await.unwrap(),
        Some(as_read(passkey(&alice, "p1", 1), &alice))
    );
    assert_eq!(store.list_api_keys("a").await.unwrap()[0].revoked_at, None);
    assert!(store.get_user("a", "alice").await.unwrap().is_some());
    assert!(store.take_ceremony("a", "c1").await.unwrap().is_some());
}

async fn ceremonies(db: Db) {
    let store = db.open().await;
    assert_missing(store.put_ceremony(&ceremony("a", "c0", 100)).await, "app");
    store.create_app(&app("a", 1)).await.unwrap();

    let c1 = ceremony("a", "c1", 100);
    let c2 = Ceremony {
        kind: "authentication".into(),
        user_id: None,
        ..ceremony("a", "c2", 200)
    };
    store.put_ceremony(&c1).await.unwrap();
    store.put_ceremony(&c2).await.unwrap();
    assert_conflict(store.put_ceremony(&c1).await, "ceremony_id");

    // Reading does not consume; deleting does; both are scoped to the app.
    assert_eq!(
        store.get_ceremony("a", "c1").await.unwrap(),
        Some(c1.clone())
    );
    assert_eq!(
        store.get_ceremony("a", "c1").await.unwrap(),
        Some(c1.clone())
    );
    assert_eq!(store.get_ceremony("b", "c1").await.unwrap(), None);
    assert!(!store.delete_ceremony("b", "c1").await.unwrap());
    assert!(store.delete_ceremony("a", "c1").await.unwrap());
    assert!(!store.delete_ceremony("a", "c1").await.unwrap());
    assert_eq!(store.get_ceremony("a", "c1").await.unwrap(), None);
    store.put_ceremony(&c1).await.unwrap();

    assert_eq!(
        store.take_ceremony("a", "c2").await.unwrap(),
        Some(c2.clone())
    );
    assert_eq!(store.take_ceremony("a", "c2").await.unwrap(), None);
    assert_eq!(store.take_ceremony("a", "missing").await.unwrap(), None);

    // Expired ceremonies are still handed out (the caller reports the expiry) until purged.
    store.put_ceremony(&ceremony("a", "c3", 300)).await.unwrap();
    store.put_ceremony(&ceremony("a", "c4", 400)).await.unwrap();
    assert_eq!(
        store
            .take_ceremony("a", "c3")
            .await
            .unwrap()
            .map(|c| c.expires_at),
        Some(300)
    );
    // "Expired before now": c1 (100) goes, c4 expiring exactly at 400 stays until after.
    assert_eq!(store.purge_expired(400).await.unwrap(), 1);
    assert_eq!(store.take_ceremony("a", "c1").await.unwrap(), None);
    assert_eq!(store.purge_expired(400).await.unwrap(), 0);
    assert_eq!(store.purge_expired(401).await.unwrap(), 1);
    assert_eq!(store.take_ceremony("a", "c4").await.unwrap(), None);
}

async fn concurrent_take_ceremony(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    for round in 0..3 {
        let id = format!("c{round}");
        store.put_ceremony(&ceremony("a", &id, 100)).await.unwrap();
        let start = Arc::new(Barrier::new(16));
        let takers: Vec<_> = (0..16)
            .map(|_| {
                let (store, start, id) = (store.clone(), start.clone(), id.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.take_ceremony("a", &id).await.unwrap()
                })
            })
            .collect();
        let mut got = Vec::new();
        for taker in takers {
            got.extend(taker.await.unwrap());
        }
        assert_eq!(got, vec![ceremony("a", &id, 100)], "round {round}");
    }
}

async fn concurrent_insert_passkey_respects_limit(db: Db) {
    let store = db.open().await;
    for round in 0..3 {
        let user = user_in(&store, "a", &format!("user{round}")).await;
        let start = Arc::new(Barrier::new(8));
        let inserters: Vec<_> = (0..8i64)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                let candidate = passkey(&user, &format!("r{round}-p{i}"), i);
                tokio::spawn(async move {
                    start.wait().await;
                    store.insert_passkey(&candidate, 5).await
                })
            })
            .collect();
        let (mut ok, mut limited) = (0, 0);
        for inserter in inserters {
            match inserter.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::LimitReached { limit: 5 }) => limited += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((ok, limited), (5, 3), "round {round}");
        assert_eq!(store.list_passkeys("a", &user.id).await.unwrap().len(), 5);
    }
}

async fn migrations_are_idempotent(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    store
        .insert_passkey(&passkey(&alice, "p1", 1), 10)
        .await
        .unwrap();
    drop(store);
    for _ in 0..2 {
        let again = db.open().await;
        assert_eq!(
            again.get_user("a", "alice").await.unwrap(),
            Some(alice.clone())
        );
        assert!(again.get_passkey("a", "p1").await.unwrap().is_some());
    }
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        2
    );
}

async fn concurrent_opens_migrate_once(db: Db) {
    let db = Arc::new(db);
    let start = Arc::new(Barrier::new(4));
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let (db, start) = (db.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                passkeyd_store::open(&db.url).await.map(drop)
            })
        })
        .collect();
    for opener in openers {
        opener.await.unwrap().unwrap();
    }
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        2
    );
    db.open().await.ping().await.unwrap();
}

async fn newer_schema_is_refused(db: Db) {
    db.open().await;
    db.exec("INSERT INTO passkeyd_migrations (version, applied_at) VALUES (999, 0)")
        .await;
    match passkeyd_store::open(&db.url).await {
        Err(StoreError::Backend(text)) => {
            assert!(text.contains("999") && text.contains("newer"), "{text}");
        }
        Ok(_) => panic!("a database at version 999 was accepted"),
        Err(other) => panic!("expected a Backend error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Backend-specific behaviour outside the shared suite.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unreachable_postgres_fails_fast_with_a_backend_error() {
    // Port 1 on the loopback refuses connections; the error must come back, not hang.
    let url = "postgres://postgres:secret@127.0.0.1:1/postgres";
    let started = std::time::Instant::now();
    match passkeyd_store::open(url).await {
        Err(StoreError::Backend(text)) => {
            assert!(text.contains("PostgreSQL"), "{text}");
            assert!(!text.contains("secret"), "the password leaked: {text}");
        }
        Ok(_) => panic!("connected to port 1"),
        Err(other) => panic!("expected a Backend error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn sqlite_path_that_cannot_be_created_is_a_backend_error() {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let result = passkeyd_store::open(&blocker.join("db.sqlite3").display().to_string()).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        matches!(result, Err(StoreError::Backend(_))),
        "{:?}",
        result.map(drop)
    );
}

#[test]
fn database_name_replacement() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u@h/db?sslmode=disable", "x"),
        "postgresql://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

fn session(user: &User, id: &str, hash: u8, expires_at: i64) -> Session {
    Session {
        id: id.into(),
        app_id: user.app_id.clone(),
        user_id: user.id.clone(),
        token_hash: vec![hash; 32],
        passkey_id: Some("p1".into()),
        created_at: 10,
        refreshed_at: 10,
        verified_at: 10,
        expires_at,
        revoked_at: None,
        user_agent: Some("test".into()),
        client_ip: Some("127.0.0.1".into()),
    }
}

async fn sessions(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();
    let alice = user_in(&store, "a", "alice").await;
    let s1 = session(&alice, "s1", 1, 1000);
    store.create_session(&s1).await.unwrap();
    store
        .create_session(&session(&alice, "s2", 2, 2000))
        .await
        .unwrap();
    assert_conflict(
        store.create_session(&session(&alice, "s3", 1, 1000)).await,
        "session_token",
    );
    let mut ghost = session(&alice, "s4", 4, 1000);
    ghost.user_id = "nobody".into();
    assert_missing(store.create_session(&ghost).await, "user");

    assert_eq!(
        store.find_session(&[1; 32]).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(store.find_session(&[9; 32]).await.unwrap(), None);
    assert_eq!(
        store.get_session("a", "s1").await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(store.get_session("b", "s1").await.unwrap(), None);
    let listed: Vec<String> = store
        .list_sessions("a", &alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed.len(), 2);

    // Times only move forward; another app reaches nothing.
    assert!(store.touch_session("a", "s1", 50).await.unwrap());
    assert!(store.touch_session("a", "s1", 20).await.unwrap());
    assert!(store.verify_session("a", "s1", 60).await.unwrap());
    assert!(!store.touch_session("b", "s1", 70).await.unwrap());
    let s = store.get_session("a", "s1").await.unwrap().unwrap();
    assert_eq!((s.refreshed_at, s.verified_at), (50, 60));

    assert!(!store.revoke_session("b", "s1", 80).await.unwrap());
    assert!(store.revoke_session("a", "s1", 80).await.unwrap());
    assert!(!store.revoke_session("a", "s1", 81).await.unwrap());
    assert_eq!(
        store
            .get_session("a", "s1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(80)
    );
    assert!(!store.touch_session("a", "s1", 90).await.unwrap());
    assert_eq!(store.list_sessions("a", &alice.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .revoke_user_sessions("a", &alice.id, 90)
            .await
            .unwrap(),
        1
    );
    assert!(store
        .list_sessions("a", &alice.id)
        .await
        .unwrap()
        .is_empty());

    // Expired sessions are purged; deleting the user takes the rest.
    store
        .create_session(&session(&alice, "s5", 5, 5000))
        .await
        .unwrap();
    store.purge_expired(1500).await.unwrap();
    assert_eq!(store.get_session("a", "s1").await.unwrap(), None);
    assert!(store.get_session("a", "s5").await.unwrap().is_some());
    assert!(store.delete_user("a", "alice").await.unwrap());
    assert_eq!(store.get_session("a", "s5").await.unwrap(), None);
}

async fn signing_keys(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    let key = |id: &str, at: i64| SigningKey {
        id: id.into(),
        app_id: "a".into(),
        alg: "ES256".into(),
        private_key: vec![1, 2, 3],
        public_jwk: "{}".into(),
        created_at: at,
        retired_at: None,
    };
    store.add_signing_key(&key("k1", 10)).await.unwrap();
    store.add_signing_key(&key("k2", 20)).await.unwrap();
    let mut ghost = key("k3", 30);
    ghost.app_id = "nope".into();
    assert!(store.add_signing_key(&ghost).await.is_err());
    let ids: Vec<String> = store
        .list_signing_keys("a")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, vec!["k2", "k1"]);
    assert_eq!(store.retire_signing_keys("a", 40).await.unwrap(), 2);
    assert_eq!(store.retire_signing_keys("a", 50).await.unwrap(), 0);
    assert!(store
        .list_signing_keys("a")
        .await
        .unwrap()
        .iter()
        .all(|k| k.retired_at == Some(40)));
    assert!(store.list_signing_keys("b").await.unwrap().is_empty());
}
