//! The one test suite every store implementation must pass: each scenario below is an async
//! function over a fresh, empty database, and `on_both_backends!` runs it once on SQLite and
//! once on PostgreSQL (as `sqlite::<name>` and `postgres::<name>`).
//!
//! PostgreSQL comes from `PASSKEYD_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/
//! postgres`); each test creates its own database there and drops it afterwards. When no server
//! answers, the PostgreSQL tests are skipped with a message, or fail when `CI=true`.
#![allow(clippy::unwrap_used)]

use passkeyd_store::{
    AdminInvite, AdminSession, ApiKey, App, AuditEntry, AuditFilter, Ceremony, GuardedDelete,
    Passkey, PasskeyUse, Session, SharedStore, SigningKey, StoreError, User, UserUpsert,
    WebhookAttempt, WebhookDelivery, WebhookEndpoint,
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
    key_lookups_see_every_change_at_once,
    users_upsert_and_lookup,
    users_pagination,
    delete_user_cascades,
    passkeys,
    passkey_sign_count_never_decreases,
    sign_in_rows_change_between_start_and_finish,
    passkey_limit,
    credential_id_conflicts,
    user_with_first_passkey,
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
    admin_invites,
    admin_sessions,
    delete_user_unless_last,
    concurrent_removals_keep_one,
    search_users,
    audit_log,
    audit_counts_and_passkey_counts,
    webhook_endpoints,
    webhook_deliveries_in_order,
    servers_per_database,
    joined_reads,
);

// ---------------------------------------------------------------------------------------------
// Test data.
// ---------------------------------------------------------------------------------------------

/// How many migrations the store carries.
const MIGRATIONS: i64 = 3;

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
        durable: true,
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
    // One row per migration this store carries (versions 1 and 3).
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        MIGRATIONS
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

    // put_app_if_changed writes only a new app or a new name or settings (a restart with the
    // same configuration leaves the row, and its updated_at, alone).
    let same = App {
        updated_at: 60,
        ..replaced.clone()
    };
    assert!(!store.put_app_if_changed(&same).await.unwrap());
    assert_eq!(store.get_app("c").await.unwrap().unwrap().updated_at, 50);
    let renamed = App {
        name: "Again".into(),
        ..same.clone()
    };
    assert!(store.put_app_if_changed(&renamed).await.unwrap());
    let stored = store.get_app("c").await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.updated_at), ("Again", 60));
    let resettled = App {
        settings: r#"{"y":2}"#.into(),
        updated_at: 70,
        ..renamed.clone()
    };
    assert!(store.put_app_if_changed(&resettled).await.unwrap());
    assert_eq!(
        store.get_app("c").await.unwrap().unwrap().settings,
        r#"{"y":2}"#
    );
    assert!(store.put_app_if_changed(&app("d", 80)).await.unwrap());
    assert_eq!(store.get_app("d").await.unwrap(), Some(app("d", 80)));
    assert!(store.delete_app("d").await.unwrap());

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

/// The lookup every API request makes (a key with its app) answers from a cache on SQLite; it
/// must still see every change: by this handle at once, and by anyone else (the CLI in another
/// process, here a raw connection) within the cache's recheck interval, 0.1 s.
async fn key_lookups_see_every_change_at_once(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    let (k1, k2) = (key("a", "k1", 1), key("a", "k2", 2));
    store.create_api_key(&k1).await.unwrap();
    let lookup = |hash: Vec<u8>| {
        let store = store.clone();
        async move { store.find_api_key_with_app(&hash).await.unwrap() }
    };
    assert_eq!(lookup(k2.hash.clone()).await, None);
    store.create_api_key(&k2).await.unwrap();
    for _ in 0..2 {
        let (found, found_app) = lookup(k1.hash.clone()).await.unwrap();
        assert_eq!((found, found_app), (k1.clone(), app("a", 1)));
        assert!(lookup(k2.hash.clone()).await.is_some());
    }

    // Through this handle.
    store.touch_api_key("k1", 50).await.unwrap();
    assert_eq!(
        lookup(k1.hash.clone()).await.unwrap().0.last_used_at,
        Some(50)
    );
    assert!(store.revoke_api_key("a", "k1", 60).await.unwrap());
    assert_eq!(
        lookup(k1.hash.clone()).await.unwrap().0.revoked_at,
        Some(60)
    );
    let renamed = App {
        name: "Renamed".into(),
        updated_at: 70,
        ..app("a", 1)
    };
    assert!(store.update_app(&renamed).await.unwrap());
    assert_eq!(lookup(k2.hash.clone()).await.unwrap().1, renamed);

    // By another connection, with the cache warm.
    let recheck = || tokio::time::sleep(Duration::from_millis(150));
    assert!(lookup(k2.hash.clone())
        .await
        .unwrap()
        .0
        .revoked_at
        .is_none());
    db.exec("UPDATE api_keys SET revoked_at = 80 WHERE id = 'k2'")
        .await;
    recheck().await;
    assert_eq!(
        lookup(k2.hash.clone()).await.unwrap().0.revoked_at,
        Some(80)
    );
    db.exec("UPDATE apps SET settings = '{\"rp_id\":\"other.example\"}' WHERE id = 'a'")
        .await;
    recheck().await;
    assert_eq!(
        lookup(k2.hash.clone()).await.unwrap().1.settings,
        r#"{"rp_id":"other.example"}"#
    );
    let other = db.open().await;
    other.touch_api_key("k2", 90).await.unwrap();
    recheck().await;
    assert_eq!(
        lookup(k2.hash.clone()).await.unwrap().0.last_used_at,
        Some(90)
    );

    // Gone with its app.
    assert!(store.delete_app("a").await.unwrap());
    assert_eq!(lookup(k1.hash.clone()).await, None);
    assert_eq!(lookup(k2.hash.clone()).await, None);
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

    // A write that need not be durable on its own (a registration's start) behaves the same.
    let relaxed = UserUpsert {
        durable: false,
        ..upsert("a", "relaxed")
    };
    assert!(store.upsert_user(&relaxed).await.unwrap().1);
    assert!(!store.upsert_user(&relaxed).await.unwrap().1);
    assert_conflict(
        store
            .upsert_user(&UserUpsert {
                durable: false,
                ..clash.clone()
            })
            .await,
        "user_handle",
    );

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
    assert!(store
        .record_passkey_use("a", "p3", b"cred-p3", used)
        .await
        .unwrap());
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
        .record_passkey_use("a", "missing", b"cred-missing", used)
        .await
        .unwrap());
    // The credential id of p3 under another passkey's id (p3 deleted and its credential
    // registered again while a sign-in ran): nothing is written.
    let later = PasskeyUse {
        sign_count: 99,
        ..used
    };
    assert!(!store
        .record_passkey_use("a", "p3-again", b"cred-p3", later)
        .await
        .unwrap());
    assert_eq!(
        store.get_passkey("a", "p3").await.unwrap().unwrap(),
        p3_used
    );

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

/// A sign-in reads the user's passkeys at its start and the credential again at its finish
/// (SQLite goes straight to the rows the start read, `row_hints.rs`): what changed in between,
/// even a row whose place another row took, is what the finish sees.
async fn sign_in_rows_change_between_start_and_finish(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;
    let carol = user_in(&store, "b", "carol").await;
    store
        .insert_passkey(&passkey(&bob, "p2", 1), 10)
        .await
        .unwrap();
    // Inserted last: on SQLite its row number is the next one handed out once it is deleted.
    store
        .insert_passkey(&passkey(&alice, "p1", 2), 10)
        .await
        .unwrap();
    let used = |sign_count| PasskeyUse {
        sign_count,
        backup_state: false,
        now: 5_000,
    };
    let start = |external_id: &'static str| {
        let store = store.clone();
        async move {
            let (_, passkeys) = store
                .get_user_with_passkeys("a", external_id)
                .await
                .unwrap()
                .unwrap();
            passkeys
        }
    };

    // Nothing changed: the finish finds the passkey with its user and writes the use back.
    assert_eq!(start("alice").await.len(), 1);
    let (found, owner) = store
        .find_passkey_with_user("a", b"cred-p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), owner.id.as_str()),
        ("p1", alice.id.as_str())
    );
    assert!(store
        .record_passkey_use("a", "p1", b"cred-p1", used(3))
        .await
        .unwrap());
    assert_eq!(
        store
            .get_passkey("a", "p1")
            .await
            .unwrap()
            .unwrap()
            .sign_count,
        3
    );

    // Deleted after the start, and its row's place taken by another user's new passkey.
    assert_eq!(start("alice").await.len(), 1);
    assert!(store.delete_passkey("a", "p1").await.unwrap());
    store
        .insert_passkey(&passkey(&bob, "p3", 3), 10)
        .await
        .unwrap();
    assert_eq!(
        store.find_passkey_with_user("a", b"cred-p1").await.unwrap(),
        None
    );
    assert!(!store
        .record_passkey_use("a", "p1", b"cred-p1", used(4))
        .await
        .unwrap());
    assert_eq!(
        store
            .get_passkey("a", "p3")
            .await
            .unwrap()
            .unwrap()
            .sign_count,
        0
    );

    // Deleted after the start and registered again, by another user: the finish sees the new
    // passkey and its owner, and the use is written back only under the new id.
    assert_eq!(start("bob").await.len(), 2);
    assert!(store.delete_passkey("a", "p2").await.unwrap());
    let again = Passkey {
        id: "p2-again".into(),
        credential_id: b"cred-p2".to_vec(),
        ..passkey(&alice, "p2-again", 4)
    };
    store.insert_passkey(&again, 10).await.unwrap();
    let (found, owner) = store
        .find_passkey_with_user("a", b"cred-p2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), owner.id.as_str()),
        ("p2-again", alice.id.as_str())
    );
    assert!(!store
        .record_passkey_use("a", "p2", b"cred-p2", used(5))
        .await
        .unwrap());
    assert!(store
        .record_passkey_use("a", "p2-again", b"cred-p2", used(6))
        .await
        .unwrap());
    assert_eq!(
        store
            .get_passkey("a", "p2-again")
            .await
            .unwrap()
            .unwrap()
            .sign_count,
        6
    );

    // A credential read in another app is not found in this one.
    store
        .insert_passkey(&passkey(&carol, "p4", 5), 10)
        .await
        .unwrap();
    store.get_user_with_passkeys("b", "carol").await.unwrap();
    assert_eq!(
        store.find_passkey_with_user("a", b"cred-p4").await.unwrap(),
        None
    );
    assert!(store
        .find_passkey_with_user("b", b"cred-p4")
        .await
        .unwrap()
        .is_some());
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
            assert!(store
                .record_passkey_use("a", "p1", b"cred-p1", used)
                .await
                .unwrap());
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

/// A new user and its first passkey are stored together or not at all.
async fn user_with_first_passkey(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    let dana = User {
        id: "u-dana".into(),
        app_id: "a".into(),
        external_id: "dana".into(),
        handle: b"h-dana".to_vec(),
        username: Some("dana@example.com".into()),
        display_name: None,
        created_at: 5,
        updated_at: 5,
    };
    store
        .insert_user_with_passkey(&dana, &passkey(&dana, "p1", 5))
        .await
        .unwrap();
    let (user, passkeys) = store
        .get_user_with_passkeys("a", "dana")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, dana);
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0].id, "p1");

    // Another registration created the user meanwhile: nothing of this one is kept.
    let again = User {
        id: "u-dana-2".into(),
        handle: b"h-dana-2".to_vec(),
        ..dana.clone()
    };
    assert_conflict(
        store
            .insert_user_with_passkey(&again, &passkey(&again, "p2", 6))
            .await,
        "external_id",
    );
    assert_eq!(store.get_passkey("a", "p2").await.unwrap(), None);
    assert_eq!(store.get_user_by_id("a", "u-dana-2").await.unwrap(), None);

    // A credential the app has already: the new user is not kept either.
    let erin = User {
        id: "u-erin".into(),
        external_id: "erin".into(),
        handle: b"h-erin".to_vec(),
        ..dana.clone()
    };
    let copy = Passkey {
        id: "p3".into(),
        ..passkey(&erin, "p1", 7)
    };
    assert_conflict(
        store.insert_user_with_passkey(&erin, &copy).await,
        "credential_id",
    );
    assert_eq!(store.get_user("a", "erin").await.unwrap(), None);

    // An app that is gone.
    let ghost = User {
        app_id: "gone".into(),
        ..erin.clone()
    };
    let ghost_key = Passkey {
        id: "p4".into(),
        ..passkey(&ghost, "p4", 8)
    };
    assert!(matches!(
        store.insert_user_with_passkey(&ghost, &ghost_key).await,
        Err(StoreError::Missing("app"))
    ));
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
    assert!(!store
        .record_passkey_use(b, "p1", b"cred-p1", used)
        .await
        .unwrap());
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

/// The one-read lookups of the hot paths return what the separate reads return.
async fn joined_reads(db: Db) {
    let store = db.open().await;
    let alice = user_in(&store, "a", "alice").await;
    let bob = user_in(&store, "a", "bob").await;
    store.create_app(&app("b", 1)).await.unwrap();
    store.create_api_key(&key("a", "k1", 1)).await.unwrap();
    let (found_key, found_app) = store
        .find_api_key_with_app(&key("a", "k1", 1).hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_key, key("a", "k1", 1));
    assert_eq!(Some(found_app), store.get_app("a").await.unwrap());
    assert_eq!(store.find_api_key_with_app(b"nope").await.unwrap(), None);

    // A user without passkeys, then with two (oldest first); unknown users and other apps.
    assert_eq!(
        store.get_user_with_passkeys("a", "alice").await.unwrap(),
        Some((alice.clone(), vec![]))
    );
    for (id, at) in [("p2", 20), ("p1", 10)] {
        store
            .insert_passkey(&passkey(&alice, id, at), 10)
            .await
            .unwrap();
    }
    store
        .insert_passkey(&passkey(&bob, "p3", 5), 10)
        .await
        .unwrap();
    let (user, passkeys) = store
        .get_user_with_passkeys("a", "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, alice);
    assert_eq!(passkeys, store.list_passkeys("a", &alice.id).await.unwrap());
    assert_eq!(
        passkeys.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p1", "p2"]
    );
    assert_eq!(
        store.get_user_with_passkeys("a", "carol").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_user_with_passkeys("b", "alice").await.unwrap(),
        None
    );

    let (found, owner) = store
        .find_passkey_with_user("a", b"cred-p3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, as_read(passkey(&bob, "p3", 5), &bob));
    assert_eq!(owner, bob);
    assert_eq!(
        store.find_passkey_with_user("b", b"cred-p3").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_passkey_with_user("a", b"cred-none")
            .await
            .unwrap(),
        None
    );
}

/// SQLite keeps ceremonies in the serving process, so one server may claim a database file;
/// PostgreSQL is shared by any number. Claiming never stops other handles from reading.
async fn servers_per_database(db: Db) {
    let first = db.open().await;
    first.claim_for_server().await.unwrap();
    first.claim_for_server().await.unwrap();
    let second = db.open().await;
    match db.kind {
        Kind::Sqlite(_) => match second.claim_for_server().await {
            Err(StoreError::Backend(message)) => {
                assert!(message.contains("another passkeyd serve"), "{message}")
            }
            other => panic!("a second server was let in: {other:?}"),
        },
        Kind::Postgres => second.claim_for_server().await.unwrap(),
    }
    second.create_app(&app("a", 1)).await.unwrap();
    assert!(first.get_app("a").await.unwrap().is_some());
    // The claim ends with the handle that made it.
    drop(first);
    let third = db.open().await;
    third.claim_for_server().await.unwrap();
}

/// `count` successful sign-in entries with ids `<prefix>-<i>`, each carrying `detail`.
fn sign_ins(prefix: &str, count: i64, detail: &str) -> Vec<AuditEntry> {
    (0..count)
        .map(|i| AuditEntry {
            detail: detail.to_owned(),
            ..entry(
                &format!("{prefix}-{i}"),
                i,
                None,
                "signin.succeeded",
                "success",
            )
        })
        .collect()
}

/// The serving SQLite handle never checkpoints on the async threads; its checkpointer copies
/// relaxed writes into the database file within seconds. Seen from outside: the database file
/// (not the WAL) grows to hold a few megabytes of audit entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_checkpoints_relaxed_writes() {
    on_sqlite(server_checkpoints).await;
}

async fn server_checkpoints(db: Db) {
    let Kind::Sqlite(path) = &db.kind else {
        unreachable!()
    };
    let store = db.open().await;
    store.claim_for_server().await.unwrap();
    let detail = "x".repeat(1000);
    for batch in 0..10 {
        let entries = sign_ins(&format!("e{batch}"), 300, &detail);
        store.insert_audit_entries(&entries).await.unwrap();
    }
    let size = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() < 3_000_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(size() >= 3_000_000, "database file is {} bytes", size());
}

/// A scratch directory where `real/db.sqlite3` is also reached through the symlink
/// `link.sqlite3`: (the directory, the real path, the link). The first open makes the file.
fn symlinked_database() -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(dir.join("real")).unwrap();
    let real = dir.join("real").join("db.sqlite3");
    let link = dir.join("link.sqlite3");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    (dir, real, link)
}

/// Opens the SQLite database at `path`, as a process of its own would.
async fn open_sqlite(path: &std::path::Path) -> SharedStore {
    passkeyd_store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap()
}

/// A database reached through a symlink (a data directory on another disk, say): SQLite keeps
/// the WAL beside the real file, and durable writes must sync that one, not `<link>-wal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_durable_writes_through_a_symlinked_path() {
    let (dir, _, link) = symlinked_database();
    let store = open_sqlite(&link).await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_api_key(&key("a", "k1", 1)).await.unwrap();
    assert_eq!(store.list_api_keys("a").await.unwrap().len(), 1);
    assert!(dir.join("real").join("db.sqlite3-wal").exists());
    assert!(!dir.join("link.sqlite3-wal").exists());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Processes started together on a new data directory all open one new file: switching it to
/// WAL takes its exclusive lock, and SQLite answers one of two readers that both want it with an
/// immediate BUSY, without waiting. The open must wait its turn, not fail. One round of four
/// opens met that about once in fifty; a hundred rounds meet it every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_new_file_opened_at_once_by_many() {
    let dir = std::env::temp_dir().join(unique_name());
    for round in 0..100 {
        let url = format!("sqlite:{}", dir.join(format!("{round}.sqlite3")).display());
        let start = Arc::new(Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (url, start) = (url.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    passkeyd_store::open(&url).await.map(drop)
                })
            })
            .collect();
        for opener in openers {
            if let Err(e) = opener.await.unwrap() {
                panic!("round {round}: an open failed: {e:?}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The command line changes keys and apps beside a busy server: the server's next lookup sees
/// each change, however recently it read the database's version (it used to trust that read
/// for 0.1 s, and let a key the CLI had just revoked through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_key_changes_by_another_process_apply_at_once() {
    on_sqlite(key_changes_elsewhere).await;
}

async fn key_changes_elsewhere(db: Db) {
    let server = db.open().await;
    server.claim_for_server().await.unwrap();
    server.create_app(&app("a", 1)).await.unwrap();
    let k1 = key("a", "k1", 1);
    server.create_api_key(&k1).await.unwrap();
    let lookup = || async {
        server
            .find_api_key_with_app(&k1.hash)
            .await
            .unwrap()
            .unwrap()
    };
    let cli = db.open().await;
    for round in 0..3 {
        // Warm: the key is cached and the database's version was read just now.
        for _ in 0..3 {
            assert_eq!(lookup().await.0.revoked_at, None);
        }
        let at = 100 + round;
        assert!(cli.revoke_api_key("a", "k1", at).await.unwrap());
        assert_eq!(lookup().await.0.revoked_at, Some(at), "round {round}");
        db.exec("UPDATE api_keys SET revoked_at = NULL WHERE id = 'k1'")
            .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let renamed = App {
        name: "Renamed".into(),
        updated_at: 70,
        ..app("a", 1)
    };
    assert_eq!(lookup().await.1, app("a", 1));
    assert!(cli.update_app(&renamed).await.unwrap());
    assert_eq!(lookup().await.1, renamed);
    // A ceremony's app is known from the cached key, and a deletion by the CLI is seen at once.
    server
        .put_ceremony(&ceremony("a", "c1", 100))
        .await
        .unwrap();
    assert!(cli.delete_app("a").await.unwrap());
    assert_missing(server.put_ceremony(&ceremony("a", "c2", 100)).await, "app");
    assert_eq!(server.find_api_key_with_app(&k1.hash).await.unwrap(), None);
}

/// The command line may name the database through a symlink the server does not use (or the
/// other way round): both find the same key-change marker, beside the real file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_key_changes_through_a_symlink_reach_the_server() {
    let (dir, real, link) = symlinked_database();
    let server = open_sqlite(&real).await;
    server.claim_for_server().await.unwrap();
    server.create_app(&app("a", 1)).await.unwrap();
    let k1 = key("a", "k1", 1);
    server.create_api_key(&k1).await.unwrap();
    for _ in 0..3 {
        let (found, _) = server
            .find_api_key_with_app(&k1.hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.revoked_at, None);
    }
    let cli = open_sqlite(&link).await;
    assert!(cli.revoke_api_key("a", "k1", 5).await.unwrap());
    let (found, _) = server
        .find_api_key_with_app(&k1.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.revoked_at, Some(5));
    drop((server, cli));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Another process holding SQLite's write lock (the CLI in a long transaction) holds up the
/// server's writes, never its reads, and the writes go through once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_go_on_while_another_process_writes() {
    on_sqlite(another_process_writes).await;
}

async fn another_process_writes(db: Db) {
    let Kind::Sqlite(path) = &db.kind else {
        unreachable!()
    };
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_api_key(&key("a", "k1", 1)).await.unwrap();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let other = rusqlite::Connection::open(path).unwrap();
    let holder = std::thread::spawn(move || {
        other
            .execute_batch("BEGIN IMMEDIATE; UPDATE apps SET name = 'held' WHERE id = 'a';")
            .unwrap();
        locked.send(()).unwrap();
        // Until the test says so (or 30 s, so that a failing test still ends).
        let told = released.recv_timeout(Duration::from_secs(30)).is_ok();
        other.execute_batch("COMMIT").unwrap();
        told
    });
    is_locked.recv().unwrap();
    let writes = {
        let store = store.clone();
        tokio::spawn(async move {
            store.create_api_key(&key("a", "k2", 2)).await?; // durable
            store.touch_api_key("k1", 5).await // relaxed
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let read = store.get_app("a").await.unwrap().unwrap();
    assert_eq!(read.name, "App a", "the other process has not committed");
    assert!(
        !writes.is_finished(),
        "the read was answered while the writes still waited for the lock"
    );
    release.send(()).unwrap();
    assert!(holder.join().unwrap(), "the lock was held until released");
    writes.await.unwrap().unwrap();
    assert_eq!(store.list_api_keys("a").await.unwrap().len(), 2);
    let k1 = store.find_api_key(&key("a", "k1", 1).hash).await.unwrap();
    assert_eq!(k1.unwrap().last_used_at, Some(5));
    assert_eq!(store.get_app("a").await.unwrap().unwrap().name, "held");
}

/// Under a steady stream of writes the serving handle's WAL is started over after each
/// checkpoint that holds the write turn (every third second) instead of growing with everything
/// ever written. The WAL file keeps its largest size (SQLite reuses it from the start); when the
/// WAL was never restarted it held every frame, 7 times the bytes written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_reused_under_steady_writes() {
    on_sqlite(wal_reused).await;
}

async fn wal_reused(db: Db) {
    let Kind::Sqlite(path) = &db.kind else {
        unreachable!()
    };
    let store = db.open().await;
    store.claim_for_server().await.unwrap();
    let detail = "x".repeat(2000);
    let until = std::time::Instant::now() + Duration::from_secs(12);
    let mut written = 0usize;
    let mut batch = 0;
    while std::time::Instant::now() < until {
        let entries = sign_ins(&format!("w{batch}"), 20, &detail);
        store.insert_audit_entries(&entries).await.unwrap();
        written += entries.len() * detail.len();
        batch += 1;
        tokio::task::yield_now().await;
    }
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let wal_size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) as usize;
    assert!(
        wal_size < 4 * written,
        "the WAL holds {wal_size} bytes after {written} bytes were written in 12 s"
    );
    // The cut-back below is only shown if the writes grew the file past the limit.
    assert!(
        wal_size > 64 * 1024 * 1024,
        "the writes grew the WAL to only {wal_size} bytes: nothing for the checkpointer to cut"
    );
    // Once the writes slow down, the checkpointer cuts the file back (to nothing; at most 64 MB
    // once the writes after it have grown it again).
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut tail = 0;
    while size() > 64 * 1024 * 1024 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tail += 1;
        let entries = vec![entry(
            &format!("tail{tail}"),
            0,
            None,
            "signin.succeeded",
            "success",
        )];
        store.insert_audit_entries(&entries).await.unwrap();
    }
    assert!(
        size() <= 64 * 1024 * 1024,
        "the WAL file is still {} bytes",
        size()
    );
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
    // One row per migration this store carries (versions 1 and 3).
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        MIGRATIONS
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
    // One row per migration this store carries (versions 1 and 3).
    assert_eq!(
        db.number("SELECT COUNT(*) FROM passkeyd_migrations").await,
        MIGRATIONS
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
// Admins, the audit log and webhooks.
// ---------------------------------------------------------------------------------------------

fn invite(id: &str, expires_at: i64) -> AdminInvite {
    AdminInvite {
        id: id.into(),
        token_hash: format!("hash-{id}").into_bytes(),
        admin_id: format!("adm-{id}"),
        name: Some(format!("Admin {id}")),
        created_by: Some("cli".into()),
        created_at: 10,
        expires_at,
        used_at: None,
    }
}

async fn admin_invites(db: Db) {
    let store = db.open().await;
    let a = invite("a", 1_000);
    store.create_admin_invite(&a).await.unwrap();
    store.create_admin_invite(&invite("b", 50)).await.unwrap();
    assert_conflict(store.create_admin_invite(&a).await, "admin_invite");
    assert_eq!(
        store.get_admin_invite(b"hash-a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get_admin_invite(b"nope").await.unwrap(), None);
    // Pending at 100: only a (b expired at 50).
    let pending = store.list_admin_invites(100).await.unwrap();
    assert_eq!(
        pending.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    // Used once, then never again; an expired one cannot be used.
    assert!(!store.use_admin_invite(b"hash-b", 100).await.unwrap());
    assert!(store.use_admin_invite(b"hash-a", 100).await.unwrap());
    assert!(!store.use_admin_invite(b"hash-a", 101).await.unwrap());
    assert_eq!(
        store
            .get_admin_invite(b"hash-a")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(100)
    );
    assert!(store.list_admin_invites(100).await.unwrap().is_empty());
    // A used invite cannot be deleted (it is history); an unused one can.
    assert!(!store.delete_admin_invite("a").await.unwrap());
    store
        .create_admin_invite(&invite("c", 1_000))
        .await
        .unwrap();
    assert!(store.delete_admin_invite("c").await.unwrap());
    assert!(!store.delete_admin_invite("c").await.unwrap());
    // Purging removes the expired ones.
    assert!(store.purge_admin(2_000, 0).await.unwrap() >= 2);
    assert_eq!(store.get_admin_invite(b"hash-b").await.unwrap(), None);
}

fn session(token: &str, admin: &str, last_seen_at: i64, expires_at: i64) -> AdminSession {
    AdminSession {
        token_hash: token.as_bytes().to_vec(),
        admin_id: admin.into(),
        csrf_token: format!("csrf-{token}"),
        created_at: 1,
        last_seen_at,
        expires_at,
    }
}

async fn admin_sessions(db: Db) {
    let store = db.open().await;
    let s1 = session("t1", "adm-1", 10, 10_000);
    store.create_admin_session(&s1).await.unwrap();
    store
        .create_admin_session(&session("t2", "adm-1", 10, 10_000))
        .await
        .unwrap();
    store
        .create_admin_session(&session("t3", "adm-2", 10, 10_000))
        .await
        .unwrap();
    assert_conflict(store.create_admin_session(&s1).await, "admin_session");
    assert_eq!(store.get_admin_session(b"t1").await.unwrap(), Some(s1));
    // Touching never moves the time back.
    store.touch_admin_session(b"t1", 500).await.unwrap();
    store.touch_admin_session(b"t1", 400).await.unwrap();
    assert_eq!(
        store
            .get_admin_session(b"t1")
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        500
    );
    assert!(store.delete_admin_session(b"t1").await.unwrap());
    assert!(!store.delete_admin_session(b"t1").await.unwrap());
    assert_eq!(store.delete_admin_sessions("adm-1").await.unwrap(), 1);
    // Idle since before 100: t3 (last seen at 10) goes; a fresh one stays.
    store
        .create_admin_session(&session("t4", "adm-2", 200, 10_000))
        .await
        .unwrap();
    assert_eq!(store.purge_admin(150, 100).await.unwrap(), 1);
    assert!(store.get_admin_session(b"t3").await.unwrap().is_none());
    assert!(store.get_admin_session(b"t4").await.unwrap().is_some());
    // Past its absolute end it goes too.
    assert_eq!(store.purge_admin(20_000, 0).await.unwrap(), 1);
}

async fn delete_user_unless_last(db: Db) {
    let store = db.open().await;
    let a = user_in(&store, "adm", "a").await;
    let b = user_in(&store, "adm", "b").await;
    let _pending = user_in(&store, "adm", "pending").await;
    store
        .insert_passkey(&passkey(&a, "pa", 1), 10)
        .await
        .unwrap();
    store
        .insert_passkey(&passkey(&b, "pb", 1), 10)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_user_unless_last("adm", "nobody")
            .await
            .unwrap(),
        GuardedDelete::Missing
    );
    // A user without passkeys does not count, and can always go.
    assert_eq!(
        store
            .delete_user_unless_last("adm", "pending")
            .await
            .unwrap(),
        GuardedDelete::Deleted
    );
    assert_eq!(
        store.delete_user_unless_last("adm", "a").await.unwrap(),
        GuardedDelete::Deleted
    );
    assert_eq!(
        store.delete_user_unless_last("adm", "b").await.unwrap(),
        GuardedDelete::LastOne
    );
    assert!(store.get_user("adm", "b").await.unwrap().is_some());
}

async fn concurrent_removals_keep_one(db: Db) {
    let store = db.open().await;
    for id in ["a", "b"] {
        let u = user_in(&store, "adm", id).await;
        store
            .insert_passkey(&passkey(&u, &format!("p{id}"), 1), 10)
            .await
            .unwrap();
    }
    let start = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|id| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.delete_user_unless_last("adm", id).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [GuardedDelete::Deleted, GuardedDelete::LastOne]);
}

async fn search_users(db: Db) {
    let store = db.open().await;
    for id in ["ada", "bob", "Adele", "100%_sure"] {
        user_in(&store, "s", id).await;
    }
    user_in(&store, "other", "ada2").await;
    let found = |users: Vec<User>| users.into_iter().map(|u| u.external_id).collect::<Vec<_>>();
    // Case-insensitive, by external id or username, within the app only.
    assert_eq!(
        found(store.search_users("s", "AD", 10).await.unwrap()),
        ["Adele", "ada"]
    );
    assert_eq!(
        found(store.search_users("s", "bob@example", 10).await.unwrap()),
        ["bob"]
    );
    // Wildcard characters match themselves.
    assert_eq!(
        found(store.search_users("s", "%_", 10).await.unwrap()),
        ["100%_sure"]
    );
    assert_eq!(store.search_users("s", "a", 1).await.unwrap().len(), 1);
}

fn entry(id: &str, at: i64, app: Option<&str>, event: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        at,
        app_id: app.map(str::to_owned),
        event: event.into(),
        outcome: outcome.into(),
        error_code: (outcome == "failure").then(|| "origin_mismatch".to_owned()),
        user_id: Some("u-1".into()),
        passkey_id: None,
        actor: "key:pkd_sk_abcdef".into(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("curl/8".into()),
        detail: "{}".into(),
    }
}

async fn audit_log(db: Db) {
    let store = db.open().await;
    let day = 86_400_000;
    let entries = [
        entry("e1", day, Some("a"), "signin.succeeded", "success"),
        entry("e2", day, Some("a"), "signin.failed", "failure"),
        entry("e3", 2 * day, Some("b"), "passkey.created", "success"),
        entry("e4", 3 * day, None, "admin.signin.succeeded", "success"),
    ];
    // One alone, then a batch; a batch with a duplicate stores none of its entries.
    store.insert_audit_entry(&entries[0]).await.unwrap();
    store.insert_audit_entries(&[]).await.unwrap();
    let fresh = entry("e5", 4 * day, Some("a"), "signin.succeeded", "success");
    assert_conflict(
        store
            .insert_audit_entries(&[fresh.clone(), entries[0].clone()])
            .await,
        "audit_entry",
    );
    assert_eq!(store.get_audit_entry("e5").await.unwrap(), None);
    store.insert_audit_entries(&entries[1..]).await.unwrap();
    assert_conflict(store.insert_audit_entry(&entries[0]).await, "audit_entry");
    assert_eq!(
        store.get_audit_entry("e3").await.unwrap(),
        Some(entries[2].clone())
    );
    let ids = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = AuditFilter::default();
    // Newest first; at one time, by id descending.
    assert_eq!(
        ids(store.list_audit_entries(&all, 10).await.unwrap()),
        ["e4", "e3", "e2", "e1"]
    );
    // Pages: the cursor is the last entry's (at, id).
    let page = AuditFilter {
        before: Some((day, "e2".into())),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_audit_entries(&page, 10).await.unwrap()),
        ["e1"]
    );
    let f = |app: Option<&str>, event: Option<&str>, outcome: Option<&str>| AuditFilter {
        app_id: app.map(str::to_owned),
        event: event.map(str::to_owned),
        outcome: outcome.map(str::to_owned),
        ..AuditFilter::default()
    };
    assert_eq!(
        ids(store
            .list_audit_entries(&f(Some("a"), None, None), 10)
            .await
            .unwrap()),
        ["e2", "e1"]
    );
    assert_eq!(
        ids(store
            .list_audit_entries(&f(None, Some("passkey.created"), None), 10)
            .await
            .unwrap()),
        ["e3"]
    );
    assert_eq!(
        ids(store
            .list_audit_entries(&f(None, None, Some("failure")), 10)
            .await
            .unwrap()),
        ["e2"]
    );
    let window = AuditFilter {
        since: Some(2 * day),
        until: Some(3 * day),
        user_id: Some("u-1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        ids(store.list_audit_entries(&window, 10).await.unwrap()),
        ["e3"]
    );
    assert_eq!(store.list_audit_entries(&all, 2).await.unwrap().len(), 2);
    assert_eq!(
        store.get_audit_entry("e2").await.unwrap(),
        Some(entries[1].clone())
    );
    assert_eq!(store.get_audit_entry("zz").await.unwrap(), None);
    assert_eq!(store.purge_audit(2 * day).await.unwrap(), 2);
    assert_eq!(
        ids(store.list_audit_entries(&all, 10).await.unwrap()),
        ["e4", "e3"]
    );
}

async fn audit_counts_and_passkey_counts(db: Db) {
    let store = db.open().await;
    let day = 86_400_000;
    for (i, (at, event, outcome)) in [
        (day + 5, "signin.failed", "failure"),
        (day + 6, "signin.failed", "failure"),
        (day + 7, "signin.succeeded", "success"),
        (2 * day, "signin.succeeded", "success"),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .insert_audit_entry(&entry(&format!("c{i}"), at, Some("a"), event, outcome))
            .await
            .unwrap();
    }
    store
        .insert_audit_entry(&entry("x", day, Some("b"), "signin.succeeded", "success"))
        .await
        .unwrap();
    let counts = store.audit_counts(Some("a"), 0).await.unwrap();
    let seen: Vec<_> = counts
        .iter()
        .map(|c| (c.day, c.event.as_str(), c.error_code.as_deref(), c.count))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "signin.failed", Some("origin_mismatch"), 2),
            (1, "signin.succeeded", None, 1),
            (2, "signin.succeeded", None, 1),
        ]
    );
    assert_eq!(store.audit_counts(None, 2 * day).await.unwrap().len(), 1);
    // Across apps, same-day same-kind entries share a group.
    assert_eq!(store.audit_counts(None, 0).await.unwrap().len(), 3);

    let u = user_in(&store, "a", "alice").await;
    for (id, aaguid, be) in [("p1", "m1", true), ("p2", "m1", true), ("p3", "m2", false)] {
        let mut p = passkey(&u, id, 1);
        p.aaguid = aaguid.into();
        p.backup_eligible = be;
        store.insert_passkey(&p, 10).await.unwrap();
    }
    let counts = store.passkey_counts("a").await.unwrap();
    let seen: Vec<_> = counts
        .iter()
        .map(|c| (c.aaguid.as_str(), c.backup_eligible, c.count))
        .collect();
    assert_eq!(seen, [("m1", true, 2), ("m2", false, 1)]);
    assert!(store.passkey_counts("b").await.unwrap().is_empty());
}

fn endpoint(app_id: &str, id: &str) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        app_id: app_id.into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: "whsec_test".into(),
        events: vec!["passkey.created".into(), "signin.failed".into()],
        enabled: true,
        description: Some("test".into()),
        created_at: 5,
        updated_at: 5,
    }
}

fn delivery(endpoint: &WebhookEndpoint, id: &str, next_attempt_at: i64) -> WebhookDelivery {
    WebhookDelivery {
        id: id.into(),
        seq: 0,
        endpoint_id: endpoint.id.clone(),
        app_id: endpoint.app_id.clone(),
        event_id: format!("ev-{id}"),
        event: "passkey.created".into(),
        payload: format!(r#"{{"id":"{id}"}}"#),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at,
        created_at: 10,
        updated_at: 10,
    }
}

async fn webhook_endpoints(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    store.create_app(&app("b", 1)).await.unwrap();
    let mut e = endpoint("a", "w1");
    store.create_webhook_endpoint(&e).await.unwrap();
    assert_conflict(store.create_webhook_endpoint(&e).await, "webhook_endpoint");
    assert_missing(
        store.create_webhook_endpoint(&endpoint("nope", "w2")).await,
        "app",
    );
    assert_eq!(
        store.list_webhook_endpoints("a").await.unwrap(),
        [e.clone()]
    );
    assert!(store.list_webhook_endpoints("b").await.unwrap().is_empty());
    // Another app's endpoint is unreachable.
    assert_eq!(store.get_webhook_endpoint("b", "w1").await.unwrap(), None);
    e.url = "http://127.0.0.1:10/other".into();
    e.events = vec!["user.deleted".into()];
    e.enabled = false;
    e.description = None;
    e.updated_at = 9;
    assert!(store.update_webhook_endpoint(&e).await.unwrap());
    assert_eq!(
        store.get_webhook_endpoint("a", "w1").await.unwrap(),
        Some(e.clone())
    );
    let mut foreign = e.clone();
    foreign.app_id = "b".into();
    assert!(!store.update_webhook_endpoint(&foreign).await.unwrap());
    assert!(!store.delete_webhook_endpoint("b", "w1").await.unwrap());
    // Deleting the endpoint deletes its deliveries; deleting the app deletes its endpoints.
    store
        .enqueue_webhook_deliveries(&[delivery(&e, "d1", 0)])
        .await
        .unwrap();
    assert!(store.delete_webhook_endpoint("a", "w1").await.unwrap());
    assert!(store
        .due_webhook_deliveries(100, 10)
        .await
        .unwrap()
        .is_empty());
    assert_missing(
        store
            .enqueue_webhook_deliveries(&[delivery(&e, "d2", 0)])
            .await,
        "webhook_endpoint",
    );
    store
        .create_webhook_endpoint(&endpoint("b", "w3"))
        .await
        .unwrap();
    assert!(store.delete_app("b").await.unwrap());
    assert!(store.list_webhook_endpoints("b").await.unwrap().is_empty());
}

async fn webhook_deliveries_in_order(db: Db) {
    let store = db.open().await;
    store.create_app(&app("a", 1)).await.unwrap();
    let (e1, e2) = (endpoint("a", "w1"), endpoint("a", "w2"));
    store.create_webhook_endpoint(&e1).await.unwrap();
    store.create_webhook_endpoint(&e2).await.unwrap();
    store
        .enqueue_webhook_deliveries(&[
            delivery(&e1, "d1", 100),
            delivery(&e1, "d2", 0),
            delivery(&e2, "d3", 0),
        ])
        .await
        .unwrap();
    let ids = |v: Vec<WebhookDelivery>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    // At 50, d1 (w1's oldest) is not due yet, and d2 must wait behind it.
    assert_eq!(
        ids(store.due_webhook_deliveries(50, 10).await.unwrap()),
        ["d3"]
    );
    assert_eq!(
        ids(store.due_webhook_deliveries(100, 10).await.unwrap()),
        ["d1", "d3"]
    );
    // One claim wins; the claimed delivery is not due again until its lease ends.
    assert!(store
        .claim_webhook_delivery("d1", 100, 1_000)
        .await
        .unwrap());
    assert!(!store
        .claim_webhook_delivery("d1", 100, 1_000)
        .await
        .unwrap());
    assert_eq!(
        ids(store.due_webhook_deliveries(100, 10).await.unwrap()),
        ["d3"]
    );
    // A failed attempt schedules a retry; the attempt is recorded with the new state.
    let attempt = |id: &str, delivery: &str, at: i64, code: Option<i64>| WebhookAttempt {
        id: id.into(),
        delivery_id: delivery.into(),
        at,
        status_code: code,
        error: code.is_none().then(|| "connection refused".to_owned()),
        duration_ms: 3,
    };
    store
        .record_webhook_attempt(&attempt("a1", "d1", 110, Some(500)), "pending", 200)
        .await
        .unwrap();
    store
        .record_webhook_attempt(&attempt("a2", "d1", 210, Some(200)), "succeeded", 210)
        .await
        .unwrap();
    let listed = store.list_webhook_deliveries("a", "w1", 10).await.unwrap();
    assert_eq!(ids(listed.clone()), ["d2", "d1"]);
    let d1 = &listed[1];
    assert_eq!(
        (d1.status.as_str(), d1.attempts, d1.updated_at),
        ("succeeded", 2, 210)
    );
    assert!(d1.seq < listed[0].seq);
    let attempts = store.list_webhook_attempts("d1").await.unwrap();
    assert_eq!(
        attempts,
        [
            attempt("a1", "d1", 110, Some(500)),
            attempt("a2", "d1", 210, Some(200))
        ]
    );
    // With d1 done, d2 is next for w1.
    assert_eq!(
        ids(store.due_webhook_deliveries(300, 10).await.unwrap()),
        ["d2", "d3"]
    );
    assert_eq!(store.due_webhook_deliveries(300, 1).await.unwrap().len(), 1);
    assert!(store
        .list_webhook_deliveries("b", "w1", 10)
        .await
        .unwrap()
        .is_empty());
    // Purging keeps pending deliveries.
    assert_eq!(store.purge_webhook_deliveries(1_000).await.unwrap(), 1);
    assert_eq!(
        ids(store.list_webhook_deliveries("a", "w1", 10).await.unwrap()),
        ["d2"]
    );
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

fn user_session(user: &User, id: &str, hash: u8, expires_at: i64) -> Session {
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
    let s1 = user_session(&alice, "s1", 1, 1000);
    store.create_session(&s1).await.unwrap();
    store
        .create_session(&user_session(&alice, "s2", 2, 2000))
        .await
        .unwrap();
    assert_conflict(
        store
            .create_session(&user_session(&alice, "s3", 1, 1000))
            .await,
        "session_token",
    );
    let mut ghost = user_session(&alice, "s4", 4, 1000);
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
        .create_session(&user_session(&alice, "s5", 5, 5000))
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
