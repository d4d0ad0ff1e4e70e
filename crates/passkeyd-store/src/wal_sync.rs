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
//! The WAL file is opened for each sync rather than kept open, so a WAL that SQLite deleted and
//! created again (it does so when the last connection closes) is still the one synced.

use crate::{Result, StoreError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// fsyncs done (for the tests, and for anyone reading a debugger).
    syncs: AtomicU64,
}

impl WalSync {
    /// The sync of the database at `database` (its WAL is `<database>-wal`).
    pub(crate) fn new(database: &std::path::Path) -> Self {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        WalSync {
            wal: PathBuf::from(wal),
            committed: AtomicU64::new(0),
            synced: Mutex::new(0),
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
        let covers = self.committed.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&wal)
                .and_then(|file| file.sync_data())
                .map_err(|e| {
                    StoreError::Backend(format!(
                        "cannot sync {} (the write was made but may not survive a power cut): {e}",
                        wal.display()
                    ))
                })
        })
        .await
        .map_err(|e| StoreError::Backend(format!("SQLite sync task: {e}")))??;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        *synced = covers;
        Ok(())
    }

    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
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

    #[tokio::test]
    async fn a_missing_wal_is_an_error_that_says_the_write_may_not_survive() {
        let database = scratch("missing");
        std::fs::remove_file(database.with_file_name("db.sqlite3-wal")).unwrap();
        let sync = WalSync::new(&database);
        let number = sync.committed();
        let error = sync.wait(number).await.unwrap_err().to_string();
        assert!(error.contains("may not survive a power cut"), "{error}");
        assert_eq!(*sync.synced.lock().await, 0, "a failed sync covers nothing");
        std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
    }
}
