//! The schema migrations each backend carries built in, and the runner that applies the missing
//! ones: one transaction per migration, recorded in `passkeyd_migrations(version, applied_at)`.
//!
//! "Missing" means not recorded, not "above the highest recorded": versions may have gaps, and a
//! version merged later than a higher one (two features developed side by side) is still applied
//! to a database that already has the higher one. Migrations must therefore not depend on the
//! order of versions that were developed independently.
//!
//! The runner refuses a database whose recorded version is newer than this binary knows: an
//! older passkeyd must not write to a schema it does not understand. Several instances may start
//! at once: on SQLite each step holds the write lock (`BEGIN IMMEDIATE`), on PostgreSQL a
//! transaction-scoped advisory lock, and each step rereads the recorded version under that lock.
//! `applied_at` comes from the database's clock, so the store itself still reads none.

use crate::{Result, StoreError};
use rusqlite::TransactionBehavior;

/// One schema change.
#[derive(Debug)]
pub(crate) struct Migration {
    /// Its number; the list applies in increasing order.
    pub(crate) version: i64,
    /// The statements, run as one batch inside the migration's transaction.
    pub(crate) sql: &'static str,
}

/// The SQLite migrations, oldest first.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_admin.sql"),
    },
];

/// The PostgreSQL migrations, oldest first.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/postgres/0003_admin.sql"),
    },
];

/// The key of the advisory lock that serializes PostgreSQL migrations: "passkeyd" in ASCII.
/// Advisory locks are per database, so instances serving different databases never wait.
const PG_LOCK_KEY: i64 = 0x7061_7373_6b65_7964;

const SQLITE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS passkeyd_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  INTEGER NOT NULL
) STRICT";

const PG_LEDGER: &str = "CREATE TABLE IF NOT EXISTS passkeyd_migrations (
    version     BIGINT PRIMARY KEY,
    applied_at  BIGINT NOT NULL
)";

/// The first known migration the database has not recorded, or `None` when it is up to date.
/// A database migrated past the last known version is an error, never silently used.
fn next(migrations: &'static [Migration], applied: &[i64]) -> Result<Option<&'static Migration>> {
    let latest = migrations.last().map_or(0, |m| m.version);
    let current = applied.iter().copied().max().unwrap_or(0);
    if current > latest {
        return Err(StoreError::Backend(format!(
            "the database schema is at version {current}, newer than this passkeyd knows \
             (version {latest}); it was migrated by a newer passkeyd, so run that one \
             (or restore a backup taken before the upgrade)"
        )));
    }
    Ok(migrations.iter().find(|m| !applied.contains(&m.version)))
}

fn failed(version: i64, error: StoreError) -> StoreError {
    match error {
        StoreError::Backend(text) => StoreError::Backend(format!("migration {version}: {text}")),
        other => other,
    }
}

/// Brings an SQLite database up to date.
pub(crate) fn run_sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    let db = crate::sqlite::from_sqlite;
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes opening
        // the same file cannot both decide to apply the same migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute_batch(SQLITE_LEDGER).map_err(db)?;
        let applied = tx
            .prepare("SELECT version FROM passkeyd_migrations")
            .and_then(|mut s| {
                s.query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<i64>, _>>()
            })
            .map_err(db)?;
        let Some(migration) = next(SQLITE, &applied)? else {
            return tx.commit().map_err(db);
        };
        let apply = || -> rusqlite::Result<()> {
            tx.execute_batch(migration.sql)?;
            tx.execute(
                "INSERT INTO passkeyd_migrations (version, applied_at)
                 VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                [migration.version],
            )?;
            Ok(())
        };
        apply().map_err(|e| failed(migration.version, db(e)))?;
        tx.commit().map_err(|e| failed(migration.version, db(e)))?;
        tracing::info!(version = migration.version, "applied SQLite migration");
    }
}

/// Brings a PostgreSQL database up to date.
pub(crate) async fn run_postgres(client: &mut tokio_postgres::Client) -> Result<()> {
    let db = crate::postgres::from_pg;
    loop {
        let tx = client.transaction().await.map_err(db)?;
        // The lock is released when the transaction ends, so a crash cannot leave it held.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_LOCK_KEY])
            .await
            .map_err(db)?;
        tx.batch_execute(PG_LEDGER).await.map_err(db)?;
        let applied = tx
            .query("SELECT version FROM passkeyd_migrations", &[])
            .await
            .and_then(|rows| {
                rows.iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<Vec<i64>, _>>()
            })
            .map_err(db)?;
        let Some(migration) = next(POSTGRES, &applied)? else {
            return tx.commit().await.map_err(db);
        };
        tx.batch_execute(migration.sql)
            .await
            .map_err(|e| failed(migration.version, db(e)))?;
        tx.execute(
            "INSERT INTO passkeyd_migrations (version, applied_at)
             VALUES ($1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)",
            &[&migration.version],
        )
        .await
        .map_err(|e| failed(migration.version, db(e)))?;
        tx.commit()
            .await
            .map_err(|e| failed(migration.version, db(e)))?;
        tracing::info!(version = migration.version, "applied PostgreSQL migration");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strictly_increasing(list: &[Migration]) -> bool {
        list.windows(2).all(|w| w[0].version < w[1].version)
            && list.first().is_none_or(|m| m.version >= 1)
    }

    #[test]
    fn versions_increase() {
        assert!(strictly_increasing(SQLITE));
        assert!(strictly_increasing(POSTGRES));
        // Both backends move in step, so one version number means one schema everywhere.
        let versions = |l: &[Migration]| l.iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }

    #[test]
    fn next_picks_the_first_missing_and_refuses_newer() {
        assert_eq!(next(SQLITE, &[]).ok().flatten().map(|m| m.version), Some(1));
        let all: Vec<i64> = SQLITE.iter().map(|m| m.version).collect();
        assert!(matches!(next(SQLITE, &all), Ok(None)));
        let latest = SQLITE.last().map_or(0, |m| m.version);
        // A version missing below the highest recorded one is still applied.
        let without_first: Vec<i64> = all.iter().copied().filter(|v| *v != 1).collect();
        assert_eq!(
            next(SQLITE, &without_first)
                .ok()
                .flatten()
                .map(|m| m.version),
            Some(1)
        );
        match next(SQLITE, &[1, latest + 1]) {
            Err(StoreError::Backend(text)) => assert!(text.contains("newer"), "{text}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
