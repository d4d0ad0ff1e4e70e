//! The embedded SQLite backend: [`SqliteStore`], connections to one database file. Reads and
//! writes run on the calling async thread, on one connection kept for them (they take
//! microseconds); a durable write then waits for an fsync of the WAL that covers its commit,
//! shared by the durable writes around it (group commit, `wal_sync.rs`). Bulk writes (imports,
//! purges) run on a blocking thread with a connection from a small pool.
//!
//! Every connection is durable and strict: WAL journal, durable writes synced before they are
//! answered (a committed registration survives a power cut), foreign keys enforced (the
//! cascades depend on it), and a busy timeout so writers of other processes (the CLI) wait for
//! each other instead of failing. Writes that read before they write (`insert_passkey`,
//! `upsert_user`, `rename_passkey`, `import`) run in `BEGIN IMMEDIATE` transactions, which take
//! the database's single write lock up front.

use crate::key_cache::KeyCache;
use crate::pending::Pending;
use crate::row_hints::{RowHint, RowHints};
use crate::wal_sync::WalSync;
use crate::{
    migrate, AdminInvite, AdminSession, ApiKey, App, AuditCount, AuditEntry, AuditFilter, Ceremony,
    GuardedDelete, Millis, Passkey, PasskeyCount, PasskeyUse, Result, Session, SigningKey, Store,
    StoreError, User, UserUpsert, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
};
use async_trait::async_trait;
use rusqlite::{ffi, params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections kept open; SQLite has one writer at a time, so more would only queue.
const POOL_SIZE: usize = 8;
/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write on the inline connection waits for another process's write lock before it
/// moves to a blocking thread (see `SqliteStore::write`).
const INLINE_WRITE_WAIT: Duration = Duration::from_millis(10);
/// Prepared statements cached per connection; more than the store has, so none is re-prepared.
const STATEMENT_CACHE: usize = 64;
/// The inline connection's page cache: a 128th of the file when it is opened, between SQLite's
/// default (2 MB) and 8 MB (see `inline_cache_kib`).
const INLINE_CACHE_MIN_KIB: i64 = 2_000;
const INLINE_CACHE_MAX_KIB: i64 = 8_192;

/// Where `get_user_with_passkeys` puts the passkey's and the user's rowids, after their columns.
const HINT_COLUMN: usize = crate::PASSKEY_COLUMNS + crate::USER_COLUMNS;

/// A sign-in's finish, by the rows its start read (`row_hints.rs`). The `+` keeps SQLite from
/// finding the user through the id index, whose leaves the start did not read, instead of the
/// rowid (a test checks the plan).
const HINTED_READ: &str = concat!(
    "SELECT ",
    passkey_columns!(),
    ", ",
    joined_user_columns!(),
    " FROM passkeys p JOIN users u ON u.rowid = ?4
      WHERE p.rowid = ?3 AND p.app_id = ?1 AND p.credential_id = ?2 AND +u.id = p.user_id"
);

/// The store in an SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Arc<Connections>,
    /// Ceremonies in flight, kept in this process (see `pending.rs`).
    pending: Arc<Pending>,
    /// Where sign-ins in flight found their passkeys' rows (see `row_hints.rs`).
    hints: Arc<RowHints>,
    /// The connection reads and relaxed writes use on the async threads (see `run`).
    inline: Arc<Mutex<Option<Connection>>>,
    /// API keys with their apps, for the lookup of every API request (see `key_cache.rs`).
    keys: Arc<Mutex<KeyCache>>,
    /// The file other processes move after they changed an app or a key (`key_cache.rs`):
    /// `<database>.keys-changed`, beside the real file if the path is a symlink.
    keys_marker: Arc<PathBuf>,
    /// Group commit of durable writes (see `wal_sync.rs`), when the database is in WAL mode.
    wal_sync: Option<Arc<WalSync>>,
    /// The lock file held while this handle serves (see [`Store::claim_for_server`]).
    server_lock: Arc<Mutex<Option<std::fs::File>>>,
    /// Serialises this process's writes. SQLite has one write lock per file; writers that meet
    /// it busy-wait with sleeps of up to 100 ms, which made p99 latency under load hundreds of
    /// milliseconds. Queueing here instead costs nothing while the lock is free. The busy
    /// timeout still covers other processes (the CLI) writing at the same time.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// How much a write must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Synced to disk before it is answered (the WAL is fsynced after the commit, as
    /// `synchronous=FULL` would, but once for all the durable writes waiting), so the write
    /// survives a power cut. For everything a caller is told is done and must not be undone:
    /// registrations, users, deletions, keys, revocations.
    Durable,
    /// `synchronous=NORMAL`: no fsync at commit (the next durable commit or checkpoint fsyncs
    /// it). It survives a crash of passkeyd, not a power cut, and is never corrupted. For
    /// advisory rows whose loss is harmless: sessions' refresh times, audit entries, sign
    /// counters and last-use times (a lost counter update only lowers the stored
    /// count, which a later sign-in exceeds).
    Relaxed,
    /// Durable, for a write that may touch many rows (an import, a purge, an app's deletion
    /// with its cascade): on a blocking thread with a pooled `synchronous=FULL` connection, so
    /// it never holds an async thread for long.
    Bulk,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the database file at `path`, for
    /// example `<data-dir>/passkeyd.sqlite3`, and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let pool = Arc::new(Connections {
            path: path.to_path_buf(),
            free: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(POOL_SIZE)),
        });
        let migrating = pool.clone();
        let shown = path.display().to_string();
        let wal = tokio::task::spawn_blocking(move || {
            let mut conn = migrating.take()?;
            let result = switch_to_wal(&conn, &shown)
                .and_then(|wal| migrate::run_sqlite(&mut conn).map(|()| wal));
            migrating.put(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("SQLite migration task: {e}")))??;
        // SQLite keeps the WAL beside the file a symlink points to: the sync must find it there,
        // and every spelling of the path must find the same key-change marker.
        let real = std::fs::canonicalize(path)
            .map_err(|e| StoreError::Backend(format!("cannot resolve {}: {e}", path.display())))?;
        let mut marker = real.clone().into_os_string();
        marker.push(".keys-changed");
        Ok(Self {
            pool,
            pending: Arc::new(Pending::default()),
            hints: Arc::new(RowHints::default()),
            inline: Arc::new(Mutex::new(None)),
            keys: Arc::new(Mutex::new(KeyCache::default())),
            keys_marker: Arc::new(PathBuf::from(marker)),
            wal_sync: wal.then(|| Arc::new(WalSync::new(&real))),
            server_lock: Arc::new(Mutex::new(None)),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Runs a write: one at a time within this process, at the durability it needs. Relaxed
    /// and durable writes commit here on the inline connection (`synchronous=NORMAL`, and it
    /// never checkpoints): a commit only appends to the WAL in the page cache, as quick as a
    /// read. A durable write then waits, without holding the write turn, until an fsync of the
    /// WAL covers its commit, shared with the durable writes around it (group commit, see
    /// `wal_sync.rs`). Bulk writes, and durable ones on a database SQLite refused to put in WAL
    /// mode, run on a blocking thread with a pooled connection (`synchronous=FULL`).
    async fn write<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
        T: Send + 'static,
    {
        let turn = self.writer.lock().await;
        let sync = match (durability, &self.wal_sync) {
            (Durability::Relaxed, _) => None,
            (Durability::Durable, Some(sync)) => Some(sync),
            (Durability::Durable | Durability::Bulk, _) => return self.run_blocking(f).await,
        };
        let value = match self.inline_write(f.clone())? {
            Ok(value) => value,
            // Another process (the CLI) holds SQLite's write lock. Waiting for it here would
            // hold the inline connection, and with it every read of this server; the write
            // waits on a blocking thread instead, with a pooled connection, whose commit syncs
            // (`FULL`), so it needs no group sync afterwards.
            Err(e) if is_busy(&e) => return self.run_blocking(f).await,
            Err(e) => return Err(from_sqlite(e)),
        };
        if let Some(sync) = sync {
            let number = sync.committed();
            drop(turn);
            sync.wait(number).await?;
        }
        Ok(value)
    }

    /// Runs a write on the inline connection, waiting at most [`INLINE_WRITE_WAIT`] for another
    /// process's write lock; SQLite's own error is returned as is, for `write` to inspect.
    fn inline_write<T, F>(&self, f: F) -> Result<rusqlite::Result<T>>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T>,
    {
        self.inline(|conn| {
            conn.busy_timeout(INLINE_WRITE_WAIT)?;
            let result = f(conn);
            conn.busy_timeout(BUSY_TIMEOUT)?;
            Ok(result)
        })?
        .map_err(from_sqlite)
    }

    /// A write that changes apps or API keys: it empties the key cache (`key_cache.rs`) on the
    /// connection that committed it, before anything else can use that connection, so no
    /// lookup after the commit is answered from the cache.
    async fn write_keys<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
        T: Send + 'static,
    {
        let keys = self.keys.clone();
        let result = self
            .write(durability, move |c| {
                let result = f(c);
                lock(&keys).clear();
                result
            })
            .await;
        // A serving process has just emptied its own cache; any other (the CLI) tells the
        // server through the marker once the write returns, failed or not: a write whose sync
        // failed was committed all the same, and a marker moved for nothing only empties the
        // server's cache once.
        if !self.serving() {
            if let Err(e) = crate::key_cache::bump_marker(&self.keys_marker) {
                tracing::warn!(error = %e, "cannot move the API-key marker; a serving passkeyd sees this change within 0.1 s");
            }
        }
        result
    }

    /// Whether the key cache knows the app `id` exists, checked as a key lookup checks its
    /// hits (the marker now, `data_version` when due); `false` means "ask the database".
    fn app_known(&self, id: &str) -> bool {
        let marker = crate::key_cache::marker_state(&self.keys_marker);
        let mut cache = lock(&self.keys);
        cache.marker(marker);
        !cache.recheck_due(std::time::Instant::now()) && cache.knows_app(id)
    }

    /// Whether this handle serves (holds the data directory's serve-lock).
    fn serving(&self) -> bool {
        self.server_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Runs `f` on a pooled connection, on a blocking thread, and maps its errors: for writes,
    /// which may wait for the disk (fsync, checkpoints) or for another process's write lock.
    async fn run_blocking<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("the SQLite pool is closed".into()))?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.take()?;
            let result = f(&mut conn).map_err(from_sqlite);
            pool.put(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("SQLite task: {e}")))?
    }

    /// Runs a read (or a relaxed write) right here on the async thread, on the one connection
    /// kept for that. Reads take microseconds and never wait under WAL (readers do not block
    /// on writers), while handing each one to a blocking thread and back cost more CPU than
    /// the query itself: the profile of a sign-in showed about 40% of the server's CPU in
    /// those thread switches. One connection rather than a pool, because SQLite drops a
    /// connection's whole page cache whenever another connection has written: with the pool,
    /// every read after a write re-read its pages with a system call each, and reads were a
    /// quarter of a sign-in's CPU. Holders never wait while holding it (no `.await`), so the
    /// async threads share it for microseconds at a time.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T>,
    {
        self.inline(f)?.map_err(from_sqlite)
    }

    /// Calls `f` with the inline connection, opening it the first time.
    fn inline<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> Result<R> {
        let mut inline = lock(&self.inline);
        let conn = match inline.as_mut() {
            Some(conn) => conn,
            None => {
                let conn = self.pool.open()?;
                // A checkpoint copies the WAL into the database file and syncs it: milliseconds
                // that, run here, would stall an async thread and every request queued on it.
                // This connection never checkpoints; the server's checkpointer does, on a
                // blocking thread (see `claim_for_server`), and so do bulk writes; a process
                // that does not serve (the CLI) checkpoints when it closes the database.
                conn.pragma_update(None, "wal_autocheckpoint", 0)
                    .map_err(from_sqlite)?;
                // No fsync at commit: durable writes sync the WAL afterwards (see `write`).
                conn.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(from_sqlite)?;
                let kib = inline_cache_kib(&conn).map_err(from_sqlite)?;
                conn.pragma_update(None, "cache_size", -kib)
                    .map_err(from_sqlite)?;
                inline.insert(conn)
            }
        };
        Ok(f(conn))
    }
}

/// The WAL file's size above which the checkpointer cuts it back, once the writes have slowed
/// down enough for it to be worth it (bytes).
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;
/// How long the checkpointer's cut of the WAL waits for readers (see [`Checkpoint`]).
const TRUNCATE_WAIT: Duration = Duration::from_millis(20);
/// How often the server's checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Every how many checkpoints one holds the write turn, so that the WAL is started over.
const RESTART_EVERY: u64 = 3;

/// The serving process's checkpointer: reads and writes run on the async threads and never
/// checkpoint (a checkpoint syncs the database file), so this does it every second on a
/// blocking thread. It stops with the store.
///
/// Every [`RESTART_EVERY`]th checkpoint holds this process's write turn, so no commit lands
/// during it and it copies the whole WAL; the next write then starts the WAL over from its
/// beginning. Without that, under a steady load every checkpoint found newer frames than it
/// had copied, the WAL was never restarted, and it grew without end (18 MB a second in the
/// benchmark with a million passkeys; 1.9 GB after 6 s in the store test
/// `sqlite_wal_is_reused_under_steady_writes`). That one first copies beside the writes like
/// the others, then again holding the turn, so it has little left to copy; writes wait for it
/// (it ends with an fsync of the database file), reads do not. Holding the turn every second
/// put those waits in the sign-ins' p99 at 400 a second (4 to 6 ms instead of 2.3 to 3.5).
///
/// The WAL file keeps the size of the busiest stretch between two restarts. That pass also cuts
/// it back to nothing (`TRUNCATE`) when it is over [`WAL_SIZE_LIMIT`] and the stretch just ended
/// wrote less than half of it: the file is then more than twice what the load needs. Under a
/// load that fills it, it is left alone: cutting it back only for the load to grow it again
/// cost a commit 110 ms every restart (see `configure`). `wal` is the WAL file's path (the one
/// `wal_sync.rs` syncs), `None` when SQLite refused WAL mode.
async fn checkpoint_regularly(
    pool: std::sync::Weak<Connections>,
    writer: Arc<tokio::sync::Mutex<()>>,
    wal: Option<PathBuf>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for round in 1u64.. {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let first = checkpoint(pool.clone(), Checkpoint::Copy).await;
        // Even when the pass above failed: a WAL that is never started over grows without end.
        if round % RESTART_EVERY == 0 {
            let size = wal.as_ref().and_then(|wal| std::fs::metadata(wal).ok());
            let oversized = size.is_some_and(|m| {
                m.len() > WAL_SIZE_LIMIT && first.is_some_and(|bytes| bytes < m.len() / 2)
            });
            // The pass above copied the frames of the last second beside the writes; holding
            // the turn, this one copies only those committed while it ran, so the writes wait
            // for a few pages and a sync instead of a second's worth.
            let _turn = writer.lock().await;
            let how = if oversized {
                Checkpoint::CopyAndTruncate
            } else {
                Checkpoint::Copy
            };
            checkpoint(pool, how).await;
        }
    }
}

/// What a checkpoint pass does.
#[derive(Clone, Copy, Debug)]
enum Checkpoint {
    /// Copy what it can beside the writes (`PASSIVE`).
    Copy,
    /// Copy everything, then cut the WAL file to nothing (`TRUNCATE`). It takes SQLite's write
    /// lock and waits for the readers of older snapshots and for other processes' writers; so
    /// it runs with this process's write turn held (its writers would meet the lock), and waits
    /// at most [`TRUNCATE_WAIT`], not the busy timeout: a long reader (a backup, a shell) makes
    /// it give up until its next turn instead of stopping every write for seconds.
    CopyAndTruncate,
}

/// One checkpoint on a pooled connection, on a blocking thread. Returns the bytes of the frames
/// the WAL holds since it was last started over; `None` when it could not run (another
/// checkpoint held the lock, a reader kept a cut from finishing, the file is not in WAL mode)
/// or failed, which is logged.
async fn checkpoint(pool: Arc<Connections>, how: Checkpoint) -> Option<u64> {
    let sql = match how {
        Checkpoint::Copy => "PRAGMA wal_checkpoint(PASSIVE)",
        Checkpoint::CopyAndTruncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let done = tokio::task::spawn_blocking(move || {
        let conn = pool.take()?;
        let result = (|| {
            if let Checkpoint::CopyAndTruncate = how {
                conn.busy_timeout(TRUNCATE_WAIT)?;
            }
            // Busy (1 or 0) and the WAL's frames (-1 when the pass could not start).
            let ran = conn.query_row(sql, [], |row| Ok((row.get::<_, i64>(0)?, row.get(1)?)));
            conn.busy_timeout(BUSY_TIMEOUT)?;
            let (busy, frames): (i64, i64) = ran?;
            let page: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
            Ok(match (busy, u64::try_from(frames), u64::try_from(page)) {
                // Each frame is a page and its 24-byte header.
                (0, Ok(frames), Ok(page)) => Some(frames * (page + 24)),
                _ => None,
            })
        })()
        .map_err(from_sqlite);
        pool.put(conn);
        result
    })
    .await
    .map_err(|e| StoreError::Backend(format!("SQLite checkpoint task: {e}")))
    .and_then(|r| r);
    match done {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the WAL grows until one succeeds");
            None
        }
    }
}

/// The pool: idle connections on a stack, and a semaphore that counts who may hold one. A
/// connection is opened when none is idle (at first, and after a closure panicked with one).
/// It replaces a general-purpose pool whose every checkout ran a health-check query on a
/// blocking thread, which cost as much as the queries themselves.
#[derive(Debug)]
struct Connections {
    path: PathBuf,
    free: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Connections {
    fn take(&self) -> Result<Connection> {
        let idle = self.free.lock().ok().and_then(|mut free| free.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    /// A new connection, configured.
    fn open(&self) -> Result<Connection> {
        let mut conn = Connection::open(&self.path).map_err(|e| {
            StoreError::Backend(format!("cannot open {}: {e}", self.path.display()))
        })?;
        configure(&mut conn).map_err(from_sqlite)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut free) = self.free.lock() {
            free.push(conn);
        }
    }
}

/// A mutex's guard, whether or not a panic poisoned it (every holder leaves it consistent).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Per-connection settings, applied when the pool opens a connection.
fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // No `journal_size_limit`: with it, the first commit after the WAL is started over cuts the
    // file back, holding the write lock, and under a load that grows the WAL past the limit
    // between restarts that `ftruncate` (a few hundred MB of cached pages to free) stalled every
    // write for 110 ms every 3 s. The server's checkpointer cuts the file back once the load
    // has dropped (`checkpoint_regularly`); a process that does not serve leaves that to the
    // server, or deletes the WAL when it closes the database last.
    // No memory map (`mmap_size`): with the audit log growing the file on every ceremony, each
    // of the pool's connections remapped it again and again, and the munmap calls (with their
    // TLB shootdowns) took 8% of a sign-in's CPU, more than the page reads the map saved.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The page cache of the connection that serves reads, in KiB. Each lookup walks a B-tree from
/// its root through interior pages to a leaf; the interior pages of all the tables and indexes
/// are about 0.6% of the file, and with SQLite's default 2 MB they were evicted by the leaves a
/// large database's lookups bring in, so a sign-in among a million passkeys read 8 pages from
/// the operating system instead of 5.6 with 8 MB. A 128th of the file holds them and the recent
/// leaves; a small database keeps the default (a larger cache only spread its pages over more
/// memory), and 8 MB bounds what a large one adds to the process's memory. Set when the
/// connection opens: a server restarted after its database grew gets the larger cache.
fn inline_cache_kib(conn: &Connection) -> rusqlite::Result<i64> {
    let pages: i64 = conn.pragma_query_value(None, "page_count", |row| row.get(0))?;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    Ok(cache_kib_for(pages.saturating_mul(page_size)))
}

/// [`inline_cache_kib`] for a file of `bytes`.
fn cache_kib_for(bytes: i64) -> i64 {
    (bytes / 128 / 1024).clamp(INLINE_CACHE_MIN_KIB, INLINE_CACHE_MAX_KIB)
}

/// Puts the database in WAL mode (the mode belongs to the file, so once per open is enough) and
/// says whether SQLite agreed. Switching a new file takes its exclusive lock; when several
/// processes open the same new file at once, SQLite answers one of two connections that both
/// hold a read lock with an immediate BUSY, without waiting (the other would otherwise wait for
/// it forever), so the switch is tried again until the busy timeout has passed.
fn switch_to_wal(conn: &Connection, shown: &str) -> Result<bool> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mode: String = loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => break other.map_err(from_sqlite)?,
        }
    };
    let wal = mode.eq_ignore_ascii_case("wal");
    if !wal {
        tracing::warn!(path = %shown, mode = %mode, "SQLite refused WAL mode; writers will block readers");
    }
    Ok(wal)
}

/// Inserts a user row as it is.
fn insert_user_row(c: &Connection, u: &User) -> rusqlite::Result<usize> {
    c.prepare_cached(concat!(
        "INSERT INTO users (",
        user_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?
    .execute(params![
        u.id,
        u.app_id,
        u.external_id,
        u.handle,
        u.username,
        u.display_name,
        u.created_at,
        u.updated_at
    ])
}

/// Inserts a passkey row as it is; `transports` is its transports as a JSON array.
fn insert_passkey_row(c: &Connection, p: &Passkey, transports: &str) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "INSERT INTO passkeys (id, app_id, user_id, name, generated_name, credential_id,
             public_key, alg, aaguid, transports, backup_eligible, backup_state, user_verified,
             discoverable, attachment, attestation_format, attestation_type, sign_count,
             created_at, updated_at, last_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21)",
    )?
    .execute(params![
        p.id,
        p.app_id,
        p.user_id,
        p.name,
        p.generated_name,
        p.credential_id,
        p.public_key,
        p.alg,
        p.aaguid,
        transports,
        p.backup_eligible,
        p.backup_state,
        p.user_verified,
        p.discoverable,
        p.attachment,
        p.attestation_format,
        p.attestation_type,
        p.sign_count,
        p.created_at,
        p.updated_at,
        p.last_used_at
    ])
}

/// Maps an SQLite error to a store error. A broken uniqueness rule becomes `Conflict` naming
/// what was duplicated; a broken foreign key becomes `Missing("app")`, because every foreign key
/// the store can break points at `apps` (a passkey's user is checked before the insert).
pub(crate) fn from_sqlite(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                if let Some(name) = message.as_deref().and_then(duplicated) {
                    return StoreError::Conflict(name);
                }
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::Missing("app"),
            _ => {}
        }
    }
    StoreError::Backend(error.to_string())
}

/// Whether SQLite gave up waiting for a lock another connection holds.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

fn is_foreign_key(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// What a uniqueness message names, from SQLite's `UNIQUE constraint failed: table.col, ...`.
fn duplicated(message: &str) -> Option<&'static str> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "apps.id" => "app_id",
        "api_keys.id" | "api_keys.hash" => "api_key",
        "users.app_id, users.external_id" => "external_id",
        "users.app_id, users.handle" => "user_handle",
        "users.id" => "user_id",
        "passkeys.app_id, passkeys.credential_id" => "credential_id",
        "passkeys.id" => "passkey_id",
        "sessions.token_hash" => "session_token",
        "sessions.id" => "session_id",
        "signing_keys.id" => "signing_key_id",
        "ceremonies.id" => "ceremony_id",
        "admin_invites.id" | "admin_invites.token_hash" => "admin_invite",
        "admin_sessions.token_hash" => "admin_session",
        "audit_log.id" => "audit_entry",
        "webhook_endpoints.id" => "webhook_endpoint",
        "webhook_deliveries.id" => "webhook_delivery",
        "webhook_attempts.id" => "webhook_attempt",
        _ => return None,
    })
}

// Rows from columns in the order of the column lists in `lib.rs`.

fn app_from(row: &Row<'_>) -> rusqlite::Result<App> {
    app_at(row, 0)
}

/// An app read from the columns that start at `o`.
fn app_at(row: &Row<'_>, o: usize) -> rusqlite::Result<App> {
    Ok(App {
        id: row.get(o)?,
        name: row.get(o + 1)?,
        settings: row.get(o + 2)?,
        created_at: row.get(o + 3)?,
        updated_at: row.get(o + 4)?,
    })
}

fn key_from(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        app_id: row.get(1)?,
        prefix: row.get(2)?,
        hash: row.get(3)?,
        name: row.get(4)?,
        created_at: row.get(5)?,
        last_used_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

fn user_from(row: &Row<'_>) -> rusqlite::Result<User> {
    user_at(row, 0)
}

/// A user read from the columns that start at `o`.
fn user_at(row: &Row<'_>, o: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(o)?,
        app_id: row.get(o + 1)?,
        external_id: row.get(o + 2)?,
        handle: row.get(o + 3)?,
        username: row.get(o + 4)?,
        display_name: row.get(o + 5)?,
        created_at: row.get(o + 6)?,
        updated_at: row.get(o + 7)?,
    })
}

fn passkey_from(row: &Row<'_>) -> rusqlite::Result<Passkey> {
    let transports: String = row.get(10)?;
    let transports = serde_json::from_str(&transports).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Passkey {
        id: row.get(0)?,
        app_id: row.get(1)?,
        user_id: row.get(2)?,
        user_external_id: row.get(3)?,
        name: row.get(4)?,
        generated_name: row.get(5)?,
        credential_id: row.get(6)?,
        public_key: row.get(7)?,
        alg: row.get(8)?,
        aaguid: row.get(9)?,
        transports,
        backup_eligible: row.get(11)?,
        backup_state: row.get(12)?,
        user_verified: row.get(13)?,
        discoverable: row.get(14)?,
        attachment: row.get(15)?,
        attestation_format: row.get(16)?,
        attestation_type: row.get(17)?,
        sign_count: row.get(18)?,
        created_at: row.get(19)?,
        updated_at: row.get(20)?,
        last_used_at: row.get(21)?,
    })
}

fn session_from(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        app_id: row.get(1)?,
        user_id: row.get(2)?,
        token_hash: row.get(3)?,
        passkey_id: row.get(4)?,
        created_at: row.get(5)?,
        refreshed_at: row.get(6)?,
        verified_at: row.get(7)?,
        expires_at: row.get(8)?,
        revoked_at: row.get(9)?,
        user_agent: row.get(10)?,
        client_ip: row.get(11)?,
    })
}

fn signing_key_from(row: &Row<'_>) -> rusqlite::Result<SigningKey> {
    Ok(SigningKey {
        id: row.get(0)?,
        app_id: row.get(1)?,
        alg: row.get(2)?,
        private_key: row.get(3)?,
        public_jwk: row.get(4)?,
        created_at: row.get(5)?,
        retired_at: row.get(6)?,
    })
}

fn invite_from(row: &Row<'_>) -> rusqlite::Result<AdminInvite> {
    Ok(AdminInvite {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        admin_id: row.get(2)?,
        name: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        used_at: row.get(7)?,
    })
}

fn admin_session_from(row: &Row<'_>) -> rusqlite::Result<AdminSession> {
    Ok(AdminSession {
        token_hash: row.get(0)?,
        admin_id: row.get(1)?,
        csrf_token: row.get(2)?,
        created_at: row.get(3)?,
        last_seen_at: row.get(4)?,
        expires_at: row.get(5)?,
    })
}

fn audit_from(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        app_id: row.get(2)?,
        event: row.get(3)?,
        outcome: row.get(4)?,
        error_code: row.get(5)?,
        user_id: row.get(6)?,
        passkey_id: row.get(7)?,
        actor: row.get(8)?,
        ip: row.get(9)?,
        user_agent: row.get(10)?,
        detail: row.get(11)?,
    })
}

fn endpoint_from(row: &Row<'_>) -> rusqlite::Result<WebhookEndpoint> {
    let events: String = row.get(4)?;
    let events = serde_json::from_str(&events).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(WebhookEndpoint {
        id: row.get(0)?,
        app_id: row.get(1)?,
        url: row.get(2)?,
        secret: row.get(3)?,
        events,
        enabled: row.get(5)?,
        description: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

fn delivery_from(row: &Row<'_>) -> rusqlite::Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: row.get(0)?,
        seq: row.get(1)?,
        endpoint_id: row.get(2)?,
        app_id: row.get(3)?,
        event_id: row.get(4)?,
        event: row.get(5)?,
        payload: row.get(6)?,
        status: row.get(7)?,
        attempts: row.get(8)?,
        next_attempt_at: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

fn attempt_from(row: &Row<'_>) -> rusqlite::Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: row.get(0)?,
        delivery_id: row.get(1)?,
        at: row.get(2)?,
        status_code: row.get(3)?,
        error: row.get(4)?,
        duration_ms: row.get(5)?,
    })
}

fn events_json(events: &[String]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| StoreError::Backend(format!("encoding events: {e}")))
}

/// Row counts fit in `u64` on every platform SQLite runs on.
fn count(changed: usize) -> u64 {
    u64::try_from(changed).unwrap_or(u64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.run(|c| c.prepare_cached("SELECT 1")?.query_row([], |_| Ok(())))
            .await
    }

    async fn create_app(&self, app: &App) -> Result<()> {
        let app = app.clone();
        self.write_keys(Durability::Durable, move |c| {
            c.prepare_cached(
                "INSERT INTO apps (id, name, settings, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                app.id,
                app.name,
                app.settings,
                app.created_at,
                app.updated_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn put_app(&self, app: &App) -> Result<()> {
        let app = app.clone();
        self.write_keys(Durability::Durable, move |c| {
            c.prepare_cached(
                "INSERT INTO apps (id, name, settings, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                     settings = excluded.settings, updated_at = excluded.updated_at",
            )?
            .execute(params![
                app.id,
                app.name,
                app.settings,
                app.created_at,
                app.updated_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_app(&self, id: &str) -> Result<Option<App>> {
        let id = id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                app_columns!(),
                " FROM apps WHERE id = ?1"
            ))?
            .query_row([id], app_from)
            .optional()
        })
        .await
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        self.run(|c| {
            c.prepare_cached(concat!("SELECT ", app_columns!(), " FROM apps ORDER BY id"))?
                .query_map([], app_from)?
                .collect()
        })
        .await
    }

    async fn update_app(&self, app: &App) -> Result<bool> {
        let app = app.clone();
        self.write_keys(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE apps SET name = ?2, settings = ?3, updated_at = ?4 WHERE id = ?1",
                )?
                .execute(params![app.id, app.name, app.settings, app.updated_at])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_app(&self, id: &str) -> Result<bool> {
        self.pending.forget_app(id);
        let id = id.to_owned();
        self.write_keys(Durability::Bulk, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM apps WHERE id = ?1")?
                .execute([id])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let key = key.clone();
        self.write_keys(Durability::Durable, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO api_keys (",
                key_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                key.id,
                key.app_id,
                key.prefix,
                key.hash,
                key.name,
                key.created_at,
                key.last_used_at,
                key.revoked_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn list_api_keys(&self, app_id: &str) -> Result<Vec<ApiKey>> {
        let app_id = app_id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE app_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([app_id], key_from)?
            .collect()
        })
        .await
    }

    async fn revoke_api_key(&self, app_id: &str, key_id: &str, now: Millis) -> Result<bool> {
        let (app_id, key_id) = (app_id.to_owned(), key_id.to_owned());
        self.write_keys(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?3
                     WHERE app_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![app_id, key_id, now])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn find_api_key(&self, hash: &[u8]) -> Result<Option<ApiKey>> {
        let hash = hash.to_vec();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE hash = ?1"
            ))?
            .query_row([hash], key_from)
            .optional()
        })
        .await
    }

    async fn find_api_key_with_app(&self, hash: &[u8]) -> Result<Option<(ApiKey, App)>> {
        let keys = &self.keys;
        let now = std::time::Instant::now();
        let marker = crate::key_cache::marker_state(&self.keys_marker);
        {
            // A hit needs no connection (the inline one is shared by every request).
            let mut cache = lock(keys);
            cache.marker(marker);
            if !cache.recheck_due(now) {
                if let Some(hit) = cache.get(hash) {
                    return Ok(Some(hit));
                }
            }
        }
        self.run(move |c| {
            if lock(keys).recheck_due(now) {
                // Read before the row, so a change committed in between moves it again at the
                // next check.
                let version: i64 = c
                    .prepare_cached("PRAGMA data_version")?
                    .query_row([], |row| row.get(0))?;
                lock(keys).checked(version, now);
            }
            let generation = {
                let cache = lock(keys);
                if let Some(hit) = cache.get(hash) {
                    return Ok(Some(hit));
                }
                cache.generation()
            };
            let found = c
                .prepare_cached(
                    "SELECT k.id, k.app_id, k.prefix, k.hash, k.name, k.created_at,
                            k.last_used_at, k.revoked_at, a.id, a.name, a.settings,
                            a.created_at, a.updated_at
                     FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.hash = ?1",
                )?
                .query_row([hash], |row| Ok((key_from(row)?, app_at(row, 8)?)))
                .optional()?;
            if let Some(found) = &found {
                // Not if a write emptied the cache meanwhile (a pooled connection's write does
                // not wait for this one): what was read may be what it replaced.
                lock(keys).put(generation, hash.to_vec(), found);
            }
            Ok(found)
        })
        .await
    }

    async fn touch_api_key(&self, key_id: &str, now: Millis) -> Result<()> {
        let key_id = key_id.to_owned();
        self.write_keys(Durability::Relaxed, move |c| {
            // Racing requests may finish out of order; the recorded time never moves back.
            c.prepare_cached(
                "UPDATE api_keys SET last_used_at = ?2
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )?
            .execute(params![key_id, now])?;
            Ok(())
        })
        .await
    }

    async fn upsert_user(&self, user: &UserUpsert) -> Result<(User, bool)> {
        let u = user.clone();
        let durability = if u.durable {
            Durability::Durable
        } else {
            Durability::Relaxed
        };
        self.write(durability, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx
                .prepare_cached(concat!(
                    "INSERT INTO users (",
                    user_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                     ON CONFLICT (app_id, external_id) DO NOTHING
                     RETURNING ",
                    user_columns!()
                ))?
                .query_row(
                    params![
                        u.new_id,
                        u.app_id,
                        u.external_id,
                        u.new_handle,
                        u.username,
                        u.display_name,
                        u.now
                    ],
                    user_from,
                )
                .optional()?;
            let result = match inserted {
                Some(created) => (created, true),
                None => {
                    // The user exists. `updated_at` moves only when a name really changes, so
                    // repeating a registration does not look like an edit.
                    let updated = tx
                        .prepare_cached(concat!(
                            "UPDATE users SET
                                 username = COALESCE(?3, username),
                                 display_name = COALESCE(?4, display_name),
                                 updated_at = CASE
                                     WHEN COALESCE(?3, username) IS NOT username
                                       OR COALESCE(?4, display_name) IS NOT display_name
                                     THEN ?5 ELSE updated_at END
                             WHERE app_id = ?1 AND external_id = ?2
                             RETURNING ",
                            user_columns!()
                        ))?
                        .query_row(
                            params![u.app_id, u.external_id, u.username, u.display_name, u.now],
                            user_from,
                        )?;
                    (updated, false)
                }
            };
            tx.commit()?;
            Ok(result)
        })
        .await
    }

    async fn get_user(&self, app_id: &str, external_id: &str) -> Result<Option<User>> {
        let (app_id, external_id) = (app_id.to_owned(), external_id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = ?1 AND external_id = ?2"
            ))?
            .query_row([app_id, external_id], user_from)
            .optional()
        })
        .await
    }

    async fn get_user_with_passkeys(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<Option<(User, Vec<Passkey>)>> {
        let (app_id, external_id) = (app_id.to_owned(), external_id.to_owned());
        let hints = self.hints.clone();
        self.run(move |c| {
            let mut statement = c.prepare_cached(concat!(
                "SELECT ",
                passkey_columns!(),
                ", ",
                joined_user_columns!(),
                ", p.rowid, u.rowid FROM users u LEFT JOIN passkeys p ON p.user_id = u.id
                  WHERE u.app_id = ?1 AND u.external_id = ?2 ORDER BY p.created_at, p.id"
            ))?;
            let mut rows = statement.query([&app_id, &external_id])?;
            let mut found: Option<(User, Vec<Passkey>)> = None;
            let mut rows_read = Vec::new();
            while let Some(row) = rows.next()? {
                let (_, passkeys) =
                    found.get_or_insert((user_at(row, crate::PASSKEY_COLUMNS)?, Vec::new()));
                // A user without passkeys is one row of NULL passkey columns.
                if row.get::<_, Option<String>>(0)?.is_some() {
                    let passkey = passkey_from(row)?;
                    let hint = RowHint {
                        passkey: row.get(HINT_COLUMN)?,
                        user: row.get(HINT_COLUMN + 1)?,
                    };
                    rows_read.push((passkey.credential_id.clone(), hint));
                    passkeys.push(passkey);
                }
            }
            hints.note(&app_id, rows_read);
            Ok(found)
        })
        .await
    }

    async fn get_user_by_id(&self, app_id: &str, user_id: &str) -> Result<Option<User>> {
        let (app_id, user_id) = (app_id.to_owned(), user_id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = ?1 AND id = ?2"
            ))?
            .query_row([app_id, user_id], user_from)
            .optional()
        })
        .await
    }

    async fn get_user_by_handle(&self, app_id: &str, handle: &[u8]) -> Result<Option<User>> {
        let (app_id, handle) = (app_id.to_owned(), handle.to_vec());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = ?1 AND handle = ?2"
            ))?
            .query_row(params![app_id, handle], user_from)
            .optional()
        })
        .await
    }

    async fn list_users(&self, app_id: &str, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
        let (app_id, after) = (app_id.to_owned(), after.map(str::to_owned));
        self.run(move |c| match after {
            None => c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE app_id = ?1 ORDER BY external_id LIMIT ?2"
                ))?
                .query_map(params![app_id, limit], user_from)?
                .collect(),
            Some(after) => c
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE app_id = ?1 AND external_id > ?2
                      ORDER BY external_id LIMIT ?3"
                ))?
                .query_map(params![app_id, after, limit], user_from)?
                .collect(),
        })
        .await
    }

    async fn delete_user(&self, app_id: &str, external_id: &str) -> Result<bool> {
        let (app_id, external_id) = (app_id.to_owned(), external_id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM users WHERE app_id = ?1 AND external_id = ?2")?
                .execute([app_id, external_id])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn insert_passkey(&self, passkey: &Passkey, max_per_user: u32) -> Result<()> {
        let p = passkey.clone();
        let transports = serde_json::to_string(&p.transports)
            .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
        // The closure's own result carries the outcomes that are not database failures.
        let outcome = self
            .write(Durability::Durable, move |c| {
                // IMMEDIATE: the count and the insert happen under the write lock, so two
                // registrations for one user cannot both see room for one more.
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let owner = tx
                    .prepare_cached("SELECT 1 FROM users WHERE app_id = ?1 AND id = ?2")?
                    .query_row([&p.app_id, &p.user_id], |_| Ok(()))
                    .optional()?;
                if owner.is_none() {
                    return Ok(Err(StoreError::Missing("user")));
                }
                let existing: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM passkeys WHERE app_id = ?1 AND user_id = ?2",
                    )?
                    .query_row([&p.app_id, &p.user_id], |row| row.get(0))?;
                if existing >= i64::from(max_per_user) {
                    return Ok(Err(StoreError::LimitReached {
                        limit: max_per_user,
                    }));
                }
                let inserted = insert_passkey_row(&tx, &p, &transports);
                match inserted {
                    Err(e) if is_foreign_key(&e) => return Ok(Err(StoreError::Missing("user"))),
                    other => other?,
                };
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?;
        outcome
    }

    async fn insert_user_with_passkey(&self, user: &User, passkey: &Passkey) -> Result<()> {
        let (u, p) = (user.clone(), passkey.clone());
        let transports = serde_json::to_string(&p.transports)
            .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
        self.write(Durability::Durable, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_user_row(&tx, &u)?;
            insert_passkey_row(&tx, &p, &transports)?;
            tx.commit()
        })
        .await
    }

    async fn list_passkeys(&self, app_id: &str, user_id: &str) -> Result<Vec<Passkey>> {
        let (app_id, user_id) = (app_id.to_owned(), user_id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                select_passkeys!(),
                " WHERE p.app_id = ?1 AND p.user_id = ?2 ORDER BY p.created_at, p.id"
            ))?
            .query_map([app_id, user_id], passkey_from)?
            .collect()
        })
        .await
    }

    async fn get_passkey(&self, app_id: &str, id: &str) -> Result<Option<Passkey>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                select_passkeys!(),
                " WHERE p.app_id = ?1 AND p.id = ?2"
            ))?
            .query_row([app_id, id], passkey_from)
            .optional()
        })
        .await
    }

    async fn find_passkey_with_user(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>> {
        let (app_id, credential_id) = (app_id.to_owned(), credential_id.to_vec());
        let hint = self.hints.get(&app_id, &credential_id);
        let used = &self.hints;
        self.run(move |c| {
            let read =
                |row: &Row<'_>| Ok((passkey_from(row)?, user_at(row, crate::PASSKEY_COLUMNS)?));
            if let Some(hint) = hint {
                // The rows the start read, if they are still this credential's.
                let found = c
                    .prepare_cached(HINTED_READ)?
                    .query_row(
                        params![app_id, credential_id, hint.passkey, hint.user],
                        read,
                    )
                    .optional()?;
                if found.is_some() {
                    used.used();
                    return Ok(found);
                }
            }
            c.prepare_cached(concat!(
                "SELECT ",
                passkey_columns!(),
                ", ",
                joined_user_columns!(),
                " FROM passkeys p JOIN users u ON u.id = p.user_id
                  WHERE p.app_id = ?1 AND p.credential_id = ?2"
            ))?
            .query_row(params![app_id, credential_id], read)
            .optional()
        })
        .await
    }

    async fn find_passkey_by_credential(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<Passkey>> {
        let (app_id, credential_id) = (app_id.to_owned(), credential_id.to_vec());
        self.run(move |c| {
            c.prepare_cached(concat!(
                select_passkeys!(),
                " WHERE p.app_id = ?1 AND p.credential_id = ?2"
            ))?
            .query_row(params![app_id, credential_id], passkey_from)
            .optional()
        })
        .await
    }

    async fn rename_passkey(
        &self,
        app_id: &str,
        id: &str,
        name: Option<&str>,
        now: Millis,
    ) -> Result<Option<Passkey>> {
        let (app_id, id, name) = (app_id.to_owned(), id.to_owned(), name.map(str::to_owned));
        self.write(Durability::Durable, move |c| {
            // One transaction, so the passkey returned is the one just renamed.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx
                .prepare_cached(
                    "UPDATE passkeys SET name = ?3, updated_at = ?4 WHERE app_id = ?1 AND id = ?2",
                )?
                .execute(params![app_id, id, name, now])?;
            if changed == 0 {
                return Ok(None);
            }
            let renamed = tx
                .prepare_cached(concat!(
                    select_passkeys!(),
                    " WHERE p.app_id = ?1 AND p.id = ?2"
                ))?
                .query_row([app_id, id], passkey_from)
                .optional()?;
            tx.commit()?;
            Ok(renamed)
        })
        .await
    }

    async fn delete_passkey(&self, app_id: &str, id: &str) -> Result<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM passkeys WHERE app_id = ?1 AND id = ?2")?
                .execute([app_id, id])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_user_passkeys(&self, app_id: &str, user_id: &str) -> Result<u64> {
        let (app_id, user_id) = (app_id.to_owned(), user_id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM passkeys WHERE app_id = ?1 AND user_id = ?2")?
                .execute([app_id, user_id])?;
            Ok(count(changed))
        })
        .await
    }

    async fn record_passkey_use(
        &self,
        app_id: &str,
        id: &str,
        credential_id: &[u8],
        used: PasskeyUse,
    ) -> Result<bool> {
        let (app_id, id, credential_id) =
            (app_id.to_owned(), id.to_owned(), credential_id.to_vec());
        let hint = self.hints.take(&app_id, &credential_id);
        let hints = self.hints.clone();
        self.write(Durability::Relaxed, move |c| {
            // MAX keeps the counter and the times from moving back when sign-ins race.
            macro_rules! record_use {
                ($row:literal) => {
                    concat!(
                        "UPDATE passkeys SET
                             sign_count = MAX(sign_count, ?3),
                             backup_state = ?4,
                             last_used_at = MAX(COALESCE(last_used_at, ?5), ?5),
                             updated_at = MAX(updated_at, ?5)
                         WHERE app_id = ?1 AND credential_id = ?2 AND +id = ?6",
                        $row
                    )
                };
            }
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![
                &app_id,
                &credential_id,
                &used.sign_count,
                &used.backup_state,
                &used.now,
                &id,
            ];
            if let Some(hint) = &hint {
                values.push(&hint.passkey);
                if c.prepare_cached(record_use!(" AND rowid = ?7"))?
                    .execute(&values[..])?
                    > 0
                {
                    hints.used();
                    return Ok(true);
                }
                values.pop();
            }
            let changed = c.prepare_cached(record_use!(""))?.execute(&values[..])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn import(&self, users: &[User], passkeys: &[Passkey]) -> Result<()> {
        let elsewhere: Vec<(String, String)> = crate::owners_to_check(users, passkeys)?
            .into_iter()
            .map(|(app, user)| (app.to_owned(), user.to_owned()))
            .collect();
        let users = users.to_vec();
        let mut rows = Vec::with_capacity(passkeys.len());
        for p in passkeys {
            let transports = serde_json::to_string(&p.transports)
                .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
            rows.push((p.clone(), transports));
        }
        // The closure's own result carries the outcomes that are not database failures.
        let outcome = self
            .write(Durability::Bulk, move |c| {
                // IMMEDIATE takes the write lock up front, so the owner checks below still hold
                // when the passkeys are written.
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut owner =
                        tx.prepare_cached("SELECT 1 FROM users WHERE app_id = ?1 AND id = ?2")?;
                    for (app_id, user_id) in &elsewhere {
                        if owner
                            .query_row([app_id, user_id], |_| Ok(()))
                            .optional()?
                            .is_none()
                        {
                            return Ok(Err(StoreError::Missing("user")));
                        }
                    }
                    for u in &users {
                        insert_user_row(&tx, u)?;
                    }
                    for (p, transports) in &rows {
                        insert_passkey_row(&tx, p, transports)?;
                    }
                }
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?;
        outcome
    }

    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<()> {
        // The app must exist, as the table's foreign key required when ceremonies were rows.
        // The key cache usually knows (the request's key was just looked up there), which
        // spares a read transaction a ceremony.
        if !self.app_known(&ceremony.app_id) && self.get_app(&ceremony.app_id).await?.is_none() {
            return Err(StoreError::Missing("app"));
        }
        self.pending.put(ceremony)
    }

    async fn take_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>> {
        Ok(self.pending.take(app_id, id))
    }

    async fn get_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>> {
        Ok(self.pending.get(app_id, id))
    }

    async fn delete_ceremony(&self, app_id: &str, id: &str) -> Result<bool> {
        Ok(self.pending.take(app_id, id).is_some())
    }

    async fn purge_expired(&self, now: Millis) -> Result<u64> {
        let ceremonies = self.pending.purge(now);
        let sessions = self
            .write(Durability::Relaxed, move |c| {
                // Rows left by an earlier passkeyd, which kept ceremonies in this table.
                let ceremonies = c
                    .prepare_cached("DELETE FROM ceremonies WHERE expires_at < ?1")?
                    .execute([now])?;
                let sessions = c
                    .prepare_cached("DELETE FROM sessions WHERE expires_at < ?1")?
                    .execute([now])?;
                Ok(count(ceremonies + sessions))
            })
            .await?;
        Ok(ceremonies + sessions)
    }

    async fn claim_for_server(&self) -> Result<()> {
        let mut held = self.server_lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let mut name = self.pool.path.clone().into_os_string();
        name.push(".serve-lock");
        let path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                tokio::spawn(checkpoint_regularly(
                    Arc::downgrade(&self.pool),
                    self.writer.clone(),
                    self.wal_sync.as_ref().map(|sync| sync.wal().to_owned()),
                ));
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend(format!(
                "another passkeyd serve is using {}: SQLite serves one instance (it keeps \
                 ceremonies in memory); stop the other, or use PostgreSQL for several",
                self.pool.path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Backend(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    async fn create_session(&self, session: &Session) -> Result<()> {
        let s = session.clone();
        self.write(Durability::Relaxed, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO sessions (",
                session_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                s.id,
                s.app_id,
                s.user_id,
                s.token_hash,
                s.passkey_id,
                s.created_at,
                s.refreshed_at,
                s.verified_at,
                s.expires_at,
                s.revoked_at,
                s.user_agent,
                s.client_ip
            ])?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            // The app is checked by the caller; a vanished row here is the user.
            StoreError::Missing(_) => StoreError::Missing("user"),
            other => other,
        })
    }

    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let hash = token_hash.to_vec();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE token_hash = ?1"
            ))?
            .query_row([hash], session_from)
            .optional()
        })
        .await
    }

    async fn get_session(&self, app_id: &str, id: &str) -> Result<Option<Session>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE id = ?1 AND app_id = ?2"
            ))?
            .query_row([id, app_id], session_from)
            .optional()
        })
        .await
    }

    async fn list_sessions(&self, app_id: &str, user_id: &str) -> Result<Vec<Session>> {
        let (app_id, user_id) = (app_id.to_owned(), user_id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE app_id = ?1 AND user_id = ?2 AND revoked_at IS NULL
                 ORDER BY created_at DESC, id"
            ))?
            .query_map([app_id, user_id], session_from)?
            .collect()
        })
        .await
    }

    async fn touch_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write(Durability::Relaxed, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET refreshed_at = MAX(refreshed_at, ?3)
                     WHERE id = ?1 AND app_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![id, app_id, now])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn verify_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write(Durability::Relaxed, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET verified_at = MAX(verified_at, ?3)
                     WHERE id = ?1 AND app_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![id, app_id, now])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET revoked_at = ?3
                     WHERE id = ?1 AND app_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![id, app_id, now])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_user_sessions(&self, app_id: &str, user_id: &str, now: Millis) -> Result<u64> {
        let (app_id, user_id) = (app_id.to_owned(), user_id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE sessions SET revoked_at = ?3
                     WHERE app_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![app_id, user_id, now])?;
            Ok(count(changed))
        })
        .await
    }

    async fn add_signing_key(&self, key: &SigningKey) -> Result<()> {
        let k = key.clone();
        self.write(Durability::Durable, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO signing_keys (",
                signing_key_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                k.id,
                k.app_id,
                k.alg,
                k.private_key,
                k.public_jwk,
                k.created_at,
                k.retired_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn list_signing_keys(&self, app_id: &str) -> Result<Vec<SigningKey>> {
        let app_id = app_id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                signing_key_columns!(),
                " FROM signing_keys WHERE app_id = ?1 ORDER BY created_at DESC, id DESC"
            ))?
            .query_map([app_id], signing_key_from)?
            .collect()
        })
        .await
    }

    async fn retire_signing_keys(&self, app_id: &str, now: Millis) -> Result<u64> {
        let app_id = app_id.to_owned();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE signing_keys SET retired_at = ?2
                     WHERE app_id = ?1 AND retired_at IS NULL",
                )?
                .execute(params![app_id, now])?;
            Ok(count(changed))
        })
        .await
    }

    async fn create_admin_invite(&self, invite: &AdminInvite) -> Result<()> {
        let i = invite.clone();
        self.write(Durability::Durable, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO admin_invites (",
                invite_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                i.id,
                i.token_hash,
                i.admin_id,
                i.name,
                i.created_by,
                i.created_at,
                i.expires_at,
                i.used_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_admin_invite(&self, token_hash: &[u8]) -> Result<Option<AdminInvite>> {
        let hash = token_hash.to_vec();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                invite_columns!(),
                " FROM admin_invites WHERE token_hash = ?1"
            ))?
            .query_row([hash], invite_from)
            .optional()
        })
        .await
    }

    async fn use_admin_invite(&self, token_hash: &[u8], now: Millis) -> Result<bool> {
        let hash = token_hash.to_vec();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE admin_invites SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at >= ?2",
                )?
                .execute(params![hash, now])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn list_admin_invites(&self, now: Millis) -> Result<Vec<AdminInvite>> {
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                invite_columns!(),
                " FROM admin_invites WHERE used_at IS NULL AND expires_at >= ?1
                  ORDER BY created_at DESC, id"
            ))?
            .query_map([now], invite_from)?
            .collect()
        })
        .await
    }

    async fn delete_admin_invite(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM admin_invites WHERE id = ?1 AND used_at IS NULL")?
                .execute([id])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_admin_session(&self, session: &AdminSession) -> Result<()> {
        let s = session.clone();
        self.write(Durability::Durable, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO admin_sessions (",
                admin_session_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                s.token_hash,
                s.admin_id,
                s.csrf_token,
                s.created_at,
                s.last_seen_at,
                s.expires_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_admin_session(&self, token_hash: &[u8]) -> Result<Option<AdminSession>> {
        let hash = token_hash.to_vec();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                admin_session_columns!(),
                " FROM admin_sessions WHERE token_hash = ?1"
            ))?
            .query_row([hash], admin_session_from)
            .optional()
        })
        .await
    }

    async fn touch_admin_session(&self, token_hash: &[u8], now: Millis) -> Result<()> {
        let hash = token_hash.to_vec();
        self.write(Durability::Relaxed, move |c| {
            c.prepare_cached(
                "UPDATE admin_sessions SET last_seen_at = MAX(last_seen_at, ?2)
                 WHERE token_hash = ?1",
            )?
            .execute(params![hash, now])?;
            Ok(())
        })
        .await
    }

    async fn delete_admin_session(&self, token_hash: &[u8]) -> Result<bool> {
        let hash = token_hash.to_vec();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM admin_sessions WHERE token_hash = ?1")?
                .execute([hash])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_admin_sessions(&self, admin_id: &str) -> Result<u64> {
        let admin_id = admin_id.to_owned();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM admin_sessions WHERE admin_id = ?1")?
                .execute([admin_id])?;
            Ok(count(changed))
        })
        .await
    }

    async fn purge_admin(&self, now: Millis, idle_since: Millis) -> Result<u64> {
        self.write(Durability::Durable, move |c| {
            let sessions = c
                .prepare_cached(
                    "DELETE FROM admin_sessions WHERE expires_at < ?1 OR last_seen_at < ?2",
                )?
                .execute([now, idle_since])?;
            let invites = c
                .prepare_cached("DELETE FROM admin_invites WHERE expires_at < ?1")?
                .execute([now])?;
            Ok(count(sessions + invites))
        })
        .await
    }

    async fn delete_user_unless_last(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<GuardedDelete> {
        let (app_id, external_id) = (app_id.to_owned(), external_id.to_owned());
        self.write(Durability::Durable, move |c| {
            // IMMEDIATE: two admins removing each other at once take turns, so one of them stays.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .prepare_cached("SELECT 1 FROM users WHERE app_id = ?1 AND external_id = ?2")?
                .query_row([&app_id, &external_id], |_| Ok(()))
                .optional()?;
            if exists.is_none() {
                return Ok(GuardedDelete::Missing);
            }
            let others: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM users u WHERE u.app_id = ?1 AND u.external_id <> ?2
                     AND EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)",
                )?
                .query_row([&app_id, &external_id], |row| row.get(0))?;
            let has_passkeys: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM passkeys p JOIN users u ON u.id = p.user_id
                     WHERE u.app_id = ?1 AND u.external_id = ?2",
                )?
                .query_row([&app_id, &external_id], |row| row.get(0))?;
            if others == 0 && has_passkeys > 0 {
                return Ok(GuardedDelete::LastOne);
            }
            tx.prepare_cached("DELETE FROM users WHERE app_id = ?1 AND external_id = ?2")?
                .execute([&app_id, &external_id])?;
            tx.commit()?;
            Ok(GuardedDelete::Deleted)
        })
        .await
    }

    async fn search_users(&self, app_id: &str, text: &str, limit: u32) -> Result<Vec<User>> {
        let (app_id, text) = (app_id.to_owned(), text.to_owned());
        self.run(move |c| {
            // instr() rather than LIKE, so `%` and `_` in the text match themselves.
            c.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = ?1
                  AND (instr(lower(external_id), lower(?2)) > 0
                       OR instr(lower(COALESCE(username, '')), lower(?2)) > 0)
                  ORDER BY external_id LIMIT ?3"
            ))?
            .query_map(params![app_id, text, limit], user_from)?
            .collect()
        })
        .await
    }

    // Audit entries are written on every ceremony; like counters they are relaxed: they
    // survive a crash of passkeyd, and only a power cut could lose the last few.
    async fn insert_audit_entries(&self, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Shared, not copied, if the write has to be tried again (see `write`).
        let entries = Arc::new(entries.to_vec());
        self.write(Durability::Relaxed, move |c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare_cached(concat!(
                    "INSERT INTO audit_log (",
                    audit_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))?;
                for e in entries.iter() {
                    insert.execute(params![
                        e.id,
                        e.at,
                        e.app_id,
                        e.event,
                        e.outcome,
                        e.error_code,
                        e.user_id,
                        e.passkey_id,
                        e.actor,
                        e.ip,
                        e.user_agent,
                        e.detail
                    ])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn list_audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let f = filter.clone();
        let (before_at, before_id) = f.before.clone().unzip();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE (?1 IS NULL OR app_id = ?1)
                  AND (?2 IS NULL OR event = ?2) AND (?3 IS NULL OR user_id = ?3)
                  AND (?4 IS NULL OR outcome = ?4) AND (?5 IS NULL OR at >= ?5)
                  AND (?6 IS NULL OR at < ?6)
                  AND (?7 IS NULL OR at < ?7 OR (at = ?7 AND id < ?8))
                  ORDER BY at DESC, id DESC LIMIT ?9"
            ))?
            .query_map(
                params![
                    f.app_id, f.event, f.user_id, f.outcome, f.since, f.until, before_at,
                    before_id, limit
                ],
                audit_from,
            )?
            .collect()
        })
        .await
    }

    async fn get_audit_entry(&self, id: &str) -> Result<Option<AuditEntry>> {
        let id = id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE id = ?1"
            ))?
            .query_row([id], audit_from)
            .optional()
        })
        .await
    }

    async fn audit_counts(&self, app_id: Option<&str>, since: Millis) -> Result<Vec<AuditCount>> {
        let app_id = app_id.map(str::to_owned);
        self.run(move |c| {
            c.prepare_cached(
                "SELECT at / 86400000 AS day, event, outcome, error_code, COUNT(*)
                 FROM audit_log WHERE at >= ?2 AND (?1 IS NULL OR app_id = ?1)
                 GROUP BY day, event, outcome, error_code
                 ORDER BY day, event, outcome, error_code",
            )?
            .query_map(params![app_id, since], |row| {
                Ok(AuditCount {
                    day: row.get(0)?,
                    event: row.get(1)?,
                    outcome: row.get(2)?,
                    error_code: row.get(3)?,
                    count: row.get(4)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn purge_audit(&self, before: Millis) -> Result<u64> {
        self.write(Durability::Bulk, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM audit_log WHERE at < ?1")?
                .execute([before])?;
            Ok(count(changed))
        })
        .await
    }

    async fn passkey_counts(&self, app_id: &str) -> Result<Vec<PasskeyCount>> {
        let app_id = app_id.to_owned();
        self.run(move |c| {
            c.prepare_cached(
                "SELECT aaguid, backup_eligible, COUNT(*) FROM passkeys WHERE app_id = ?1
                 GROUP BY aaguid, backup_eligible ORDER BY COUNT(*) DESC, aaguid, backup_eligible",
            )?
            .query_map([app_id], |row| {
                Ok(PasskeyCount {
                    aaguid: row.get(0)?,
                    backup_eligible: row.get(1)?,
                    count: row.get(2)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn create_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let e = endpoint.clone();
        let events = events_json(&e.events)?;
        self.write(Durability::Durable, move |c| {
            c.prepare_cached(concat!(
                "INSERT INTO webhook_endpoints (",
                endpoint_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                e.id,
                e.app_id,
                e.url,
                e.secret,
                events,
                e.enabled,
                e.description,
                e.created_at,
                e.updated_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn list_webhook_endpoints(&self, app_id: &str) -> Result<Vec<WebhookEndpoint>> {
        let app_id = app_id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                endpoint_columns!(),
                " FROM webhook_endpoints WHERE app_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([app_id], endpoint_from)?
            .collect()
        })
        .await
    }

    async fn get_webhook_endpoint(
        &self,
        app_id: &str,
        id: &str,
    ) -> Result<Option<WebhookEndpoint>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                endpoint_columns!(),
                " FROM webhook_endpoints WHERE app_id = ?1 AND id = ?2"
            ))?
            .query_row([app_id, id], endpoint_from)
            .optional()
        })
        .await
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool> {
        let e = endpoint.clone();
        let events = events_json(&e.events)?;
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE webhook_endpoints SET url = ?3, events = ?4, enabled = ?5,
                         description = ?6, updated_at = ?7
                     WHERE app_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    e.app_id,
                    e.id,
                    e.url,
                    events,
                    e.enabled,
                    e.description,
                    e.updated_at
                ])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_webhook_endpoint(&self, app_id: &str, id: &str) -> Result<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached("DELETE FROM webhook_endpoints WHERE app_id = ?1 AND id = ?2")?
                .execute([app_id, id])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> Result<()> {
        let deliveries = deliveries.to_vec();
        // A write like any other: it takes the write turn, and meets another process's write
        // lock on a blocking thread, not on the connection every read shares.
        let outcome = self
            .write(Durability::Relaxed, move |c| {
                let tx = c.transaction()?;
                for d in &deliveries {
                    let inserted = tx
                        .prepare_cached(
                            "INSERT INTO webhook_deliveries (id, endpoint_id, app_id, event_id,
                                 event, payload, status, attempts, next_attempt_at, created_at,
                                 updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        )?
                        .execute(params![
                            d.id,
                            d.endpoint_id,
                            d.app_id,
                            d.event_id,
                            d.event,
                            d.payload,
                            d.status,
                            d.attempts,
                            d.next_attempt_at,
                            d.created_at,
                            d.updated_at
                        ]);
                    match inserted {
                        Err(e) if is_foreign_key(&e) => {
                            return Ok(Err(StoreError::Missing("webhook_endpoint")))
                        }
                        other => other?,
                    };
                }
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?;
        outcome
    }

    async fn due_webhook_deliveries(
        &self,
        now: Millis,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                      WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending' AND e.seq < d.seq)
                  ORDER BY d.seq LIMIT ?2"
            ))?
            .query_map(params![now, limit], delivery_from)?
            .collect()
        })
        .await
    }

    async fn claim_webhook_delivery(
        &self,
        id: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<bool> {
        let id = id.to_owned();
        self.write(Durability::Durable, move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE webhook_deliveries SET next_attempt_at = ?3
                     WHERE id = ?1 AND status = 'pending' AND next_attempt_at <= ?2",
                )?
                .execute(params![id, now, lease_until])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        status: &str,
        next_attempt_at: Millis,
    ) -> Result<()> {
        let (a, status) = (attempt.clone(), status.to_owned());
        self.write(Durability::Durable, move |c| {
            let tx = c.transaction()?;
            tx.prepare_cached(concat!(
                "INSERT INTO webhook_attempts (",
                attempt_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                a.id,
                a.delivery_id,
                a.at,
                a.status_code,
                a.error,
                a.duration_ms
            ])?;
            tx.prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?2,
                     next_attempt_at = ?3, updated_at = ?4
                 WHERE id = ?1",
            )?
            .execute(params![a.delivery_id, status, next_attempt_at, a.at])?;
            tx.commit()
        })
        .await
    }

    async fn list_webhook_deliveries(
        &self,
        app_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let (app_id, endpoint_id) = (app_id.to_owned(), endpoint_id.to_owned());
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE app_id = ?1 AND endpoint_id = ?2
                  ORDER BY seq DESC LIMIT ?3"
            ))?
            .query_map(params![app_id, endpoint_id, limit], delivery_from)?
            .collect()
        })
        .await
    }

    async fn list_webhook_attempts(&self, delivery_id: &str) -> Result<Vec<WebhookAttempt>> {
        let delivery_id = delivery_id.to_owned();
        self.run(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY at, id"
            ))?
            .query_map([delivery_id], attempt_from)?
            .collect()
        })
        .await
    }

    async fn purge_webhook_deliveries(&self, before: Millis) -> Result<u64> {
        self.write(Durability::Bulk, move |c| {
            let changed = c
                .prepare_cached(
                    "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?1",
                )?
                .execute([before])?;
            Ok(count(changed))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_cache_grows_with_the_file_within_bounds() {
        const MB: i64 = 1024 * 1024;
        // A new or small database keeps SQLite's default.
        assert_eq!(cache_kib_for(0), 2_000);
        assert_eq!(cache_kib_for(200 * MB), 2_000);
        // The million-passkey bench database (825 MB): 6.4 MB.
        assert_eq!(cache_kib_for(825 * MB), 6_600);
        // Never more than 8 MB, however large the file.
        assert_eq!(cache_kib_for(10_000 * MB), 8_192);
        assert_eq!(cache_kib_for(i64::MAX), 8_192);
    }

    /// The store tests show the answers are the same with hints; this shows they are taken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_username_first_finish_goes_to_the_rows_its_start_read() {
        let dir = std::env::temp_dir().join(format!("passkeyd-hints-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir.join("db.sqlite3")).await.unwrap();
        let app = App {
            id: "a".into(),
            name: "A".into(),
            settings: "{}".into(),
            created_at: 1,
            updated_at: 1,
        };
        store.create_app(&app).await.unwrap();
        let upsert = UserUpsert {
            app_id: "a".into(),
            external_id: "alice".into(),
            username: None,
            display_name: None,
            new_id: "u1".into(),
            new_handle: vec![1; 16],
            now: 1,
            durable: true,
        };
        let (user, _) = store.upsert_user(&upsert).await.unwrap();
        let passkey = Passkey {
            id: "p1".into(),
            app_id: "a".into(),
            user_id: user.id.clone(),
            user_external_id: String::new(),
            name: None,
            generated_name: "Key".into(),
            credential_id: vec![9; 16],
            public_key: vec![1],
            alg: -7,
            aaguid: String::new(),
            transports: Vec::new(),
            backup_eligible: false,
            backup_state: false,
            user_verified: true,
            discoverable: None,
            attachment: None,
            attestation_format: "none".into(),
            attestation_type: "None".into(),
            sign_count: 0,
            created_at: 1,
            updated_at: 1,
            last_used_at: None,
        };
        store.insert_passkey(&passkey, 10).await.unwrap();
        // A finish without a start (discoverable) asks the indexes.
        let found = store.find_passkey_with_user("a", &[9; 16]).await.unwrap();
        assert_eq!(
            found.map(|(p, u)| (p.id, u.id)),
            Some(("p1".into(), "u1".into()))
        );
        assert_eq!(store.hints.times_used(), 0);
        // After a start, the read and the write-back go by the rows.
        store.get_user_with_passkeys("a", "alice").await.unwrap();
        let found = store.find_passkey_with_user("a", &[9; 16]).await.unwrap();
        assert_eq!(
            found.map(|(p, u)| (p.id, u.id)),
            Some(("p1".into(), "u1".into()))
        );
        let used = PasskeyUse {
            sign_count: 4,
            backup_state: false,
            now: 2,
        };
        assert!(store
            .record_passkey_use("a", "p1", &[9; 16], used)
            .await
            .unwrap());
        assert_eq!(store.hints.times_used(), 2);
        // Both rows by rowid: no index leaf the start did not read.
        let plan: Vec<String> = store
            .run(|c| {
                c.prepare(&format!("EXPLAIN QUERY PLAN {HINTED_READ}"))?
                    .query_map(params!["a", vec![9u8; 16], 1, 1], |row| row.get(3))?
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(plan.len(), 2, "{plan:?}");
        assert!(
            plan.iter()
                .all(|step| step.contains("INTEGER PRIMARY KEY (rowid=?)")),
            "{plan:?}"
        );
        assert_eq!(
            store
                .get_passkey("a", "p1")
                .await
                .unwrap()
                .unwrap()
                .sign_count,
            4
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
