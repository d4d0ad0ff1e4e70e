//! Group commit for SQLite's durable writes.
//!
//! In WAL mode, `synchronous=FULL` differs from `NORMAL` in one thing only: it fsyncs the WAL
//! file at every commit (SQLite's documentation of `PRAGMA synchronous`). Durable writes
//! therefore commit on the inline connection (`NORMAL`: the commit's frames are written to the
//! WAL, not yet synced) and then wait here until one fsync of the WAL file that started after
//! their commit has succeeded. Concurrent durable writes share that fsync: the first to get the
//! lock syncs for everyone committed so far, and the others find their commit covered when
//! their turn comes. A registration is answered only after its passkey is on disk, as before,
//! but eight registrations in flight cost one or two fsyncs instead of eight, and none of them
//! needs a blocking thread of its own for its statements.
//!
//! The WAL file is kept open between syncs: Linux reports a failed writeback to every file
//! description that was open when it failed, so a failure SQLite's own descriptor saw first
//! (in a checkpoint's sync) still fails the next group sync here, and the writes it covers are
//! not reported durable. A description opened afterwards would not be told. Before each sync the
//! path is checked to still name the open file; if SQLite deleted the WAL and created it again
//! (it does when the last connection closes), the new one is opened. The sync itself keeps the
//! descriptor, so a waiter dropped while it runs (a client that went away) loses nothing.
//!
//! A failed fsync is final: the kernel may have dropped the pages it could not write, reports
//! that to each descriptor once, and SQLite's recovery after a crash stops at the first frame
//! missing from the WAL, so writes committed after the lost ones would not survive either. From
//! then on every durable write is refused (its change is committed but not known to be on
//! disk) until passkeyd is restarted, as PostgreSQL does after a failed fsync.

use crate::{Result, StoreError};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The WAL file of one database and what of it is known to be on disk.
#[derive(Debug)]
pub(crate) struct WalSync {
    wal: PathBuf,
    /// Durable commits made so far; a commit's number is this counter just after it.
    committed: AtomicU64,
    /// The highest commit number known to be synced. Held while a sync runs, so one runs at a
    /// time and the writers waiting behind it queue here in order.
    synced: Mutex<u64>,
    /// The WAL, kept open between syncs; taken and put back by the blocking sync itself.
    open: Arc<std::sync::Mutex<Option<File>>>,
    /// An fsync of the WAL failed: durable writes are refused from then on.
    failed: Arc<AtomicBool>,
    /// fsyncs done (for the tests, and for anyone reading a debugger).
    syncs: AtomicU64,
}

/// Why a sync did not happen: the WAL could not be found or opened (nothing was synced; the
/// next sync tries again), or its fsync failed (final, see the module's documentation).
#[derive(Debug)]
enum SyncError {
    Open(std::io::Error),
    Sync(std::io::Error),
}

impl WalSync {
    /// The WAL file this syncs.
    pub(crate) fn wal(&self) -> &Path {
        &self.wal
    }

    /// The sync of the database at `database` (its WAL is `<database>-wal`).
    pub(crate) fn new(database: &std::path::Path) -> Self {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        WalSync {
            wal: PathBuf::from(wal),
            committed: AtomicU64::new(0),
            synced: Mutex::new(0),
            open: Arc::new(std::sync::Mutex::new(None)),
            failed: Arc::new(AtomicBool::new(false)),
            syncs: AtomicU64::new(0),
        }
    }

    /// Notes a commit that has just returned; its number, for [`WalSync::wait`]. Call it after
    /// the commit and before anything else can sync.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once commit `number` is on disk: at once if a sync since covered it, otherwise
    /// after syncing the WAL (for every commit made so far) on a blocking thread.
    pub(crate) async fn wait(&self, number: u64) -> Result<()> {
        let mut synced = self.synced.lock().await;
        if *synced >= number {
            return Ok(());
        }
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(format!(
                "an earlier fsync of {} failed, so writes since are not known to be on disk; \
                 durable writes are refused until passkeyd is restarted",
                self.wal.display()
            )));
        }
        let covers = self.committed.load(Ordering::SeqCst);
        let (path, open, failed) = (self.wal.clone(), self.open.clone(), self.failed.clone());
        tokio::task::spawn_blocking(move || {
            let result = sync_wal(&path, &mut open.lock().unwrap_or_else(|p| p.into_inner()));
            if matches!(result, Err(SyncError::Sync(_))) {
                failed.store(true, Ordering::SeqCst);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("SQLite sync task: {e}")))?
        .map_err(|e| {
            let e = match e {
                SyncError::Open(e) | SyncError::Sync(e) => e,
            };
            StoreError::Backend(format!(
                "cannot sync {} (the write was made but may not survive a power cut): {e}",
                self.wal.display()
            ))
        })?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        *synced = covers;
        Ok(())
    }

    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// Syncs the WAL at `path` through the descriptor in `kept` if that is still the file at
/// `path`, else through a new one, which is kept in its place; after a failure none is kept.
fn sync_wal(path: &Path, kept: &mut Option<File>) -> Result<(), SyncError> {
    let open = kept.take();
    let current = std::fs::metadata(path).map_err(SyncError::Open)?;
    let file = match open {
        Some(file)
            if file
                .metadata()
                .is_ok_and(|m| (m.dev(), m.ino()) == (current.dev(), current.ino())) =>
        {
            file
        }
        _ => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(SyncError::Open)?,
    };
    file.sync_data().map_err(SyncError::Sync)?;
    *kept = Some(file);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("passkeyd-walsync-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("db.sqlite3");
        std::fs::write(dir.join("db.sqlite3-wal"), b"frames").unwrap();
        database
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_waiting_behind_a_sync_share_the_next_one() {
        let database = scratch("share");
        let sync = Arc::new(WalSync::new(&database));
        // A sync in progress: hold its lock while sixteen writers commit and start waiting.
        let running = sync.synced.lock().await;
        let mut waiters = Vec::new();
        for _ in 0..16 {
            let sync = sync.clone();
            let number = sync.committed();
            waiters.push(tokio::spawn(async move { sync.wait(number).await }));
        }
        drop(running);
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(sync.syncs(), 1, "one sync covered all sixteen commits");
        assert_eq!(*sync.synced.lock().await, 16);

        // A commit after that sync is not covered by it: it gets a sync of its own.
        let number = sync.committed();
        sync.wait(number).await.unwrap();
        assert_eq!(sync.syncs(), 2);
        // Waiting again for a covered commit syncs nothing.
        sync.wait(number).await.unwrap();
        assert_eq!(sync.syncs(), 2);
        std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
    }

    /// The WAL stays open from one sync to the next (so a writeback failure seen first by
    /// another descriptor is still reported here), and a WAL created again is opened anew.
    #[tokio::test]
    async fn the_wal_is_kept_open_and_reopened_when_replaced() {
        let database = scratch("reopen");
        let wal = database.with_file_name("db.sqlite3-wal");
        let sync = WalSync::new(&database);
        let inode_kept = || async {
            let _turn = sync.synced.lock().await;
            let open = sync.open.lock().unwrap();
            open.as_ref().map(|f| f.metadata().unwrap().ino())
        };
        sync.wait(sync.committed()).await.unwrap();
        let first = inode_kept().await.expect("the WAL is kept open");
        assert_eq!(first, std::fs::metadata(&wal).unwrap().ino());
        sync.wait(sync.committed()).await.unwrap();
        assert_eq!(
            inode_kept().await,
            Some(first),
            "the same descriptor syncs again"
        );

        // SQLite deletes the WAL when its last connection closes and creates it on the next
        // open. The kept descriptor holds the old inode, so the new file has another number.
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"new frames").unwrap();
        sync.wait(sync.committed()).await.unwrap();
        let second = inode_kept().await.expect("the new WAL is kept open");
        assert_ne!(second, first);
        assert_eq!(second, std::fs::metadata(&wal).unwrap().ino());
        assert_eq!(sync.syncs(), 3);
        std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_missing_wal_is_an_error_that_says_the_write_may_not_survive() {
        let database = scratch("missing");
        std::fs::remove_file(database.with_file_name("db.sqlite3-wal")).unwrap();
        let sync = WalSync::new(&database);
        let number = sync.committed();
        let error = sync.wait(number).await.unwrap_err().to_string();
        assert!(error.contains("may not survive a power cut"), "{error}");
        assert_eq!(*sync.synced.lock().await, 0, "a failed sync covers nothing");
        // A WAL that could not be opened is not a failed fsync: once it is there, syncs go on.
        std::fs::write(database.with_file_name("db.sqlite3-wal"), b"frames").unwrap();
        sync.wait(number).await.unwrap();
        std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
    }

    /// After a failed fsync, a durable write not covered by an earlier sync is refused, with a
    /// message that says why; what an earlier sync covered stays acknowledged.
    #[tokio::test]
    async fn after_a_failed_fsync_durable_writes_are_refused() {
        let database = scratch("failed");
        let sync = WalSync::new(&database);
        let covered = sync.committed();
        sync.wait(covered).await.unwrap();
        // What the blocking sync sets when `sync_data` fails (a disk error cannot be caused
        // from a test without a faulty device).
        sync.failed.store(true, Ordering::SeqCst);
        let next = sync.committed();
        let error = sync.wait(next).await.unwrap_err().to_string();
        assert!(
            error.contains("refused until passkeyd is restarted"),
            "{error}"
        );
        assert_eq!(sync.syncs(), 1, "no sync was attempted after the failure");
        sync.wait(covered).await.unwrap();
        std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
    }
}
