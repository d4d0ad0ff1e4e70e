//! The PostgreSQL backend: [`PostgresStore`], a pool of connections sharing one database with
//! every other passkeyd instance pointed at it.
//!
//! Statements are prepared once per connection (`prepare_cached`). Atomicity comes from single
//! statements where one suffices (`DELETE ... RETURNING` takes a ceremony) and from row locks
//! where a decision reads before it writes (`insert_passkey` locks the owner's row first).
//! Bulk imports stream rows with `COPY ... (FORMAT binary)` inside one transaction.

use crate::{
    migrate, AdminInvite, AdminSession, ApiKey, App, AuditCount, AuditEntry, AuditFilter, Ceremony,
    GuardedDelete, Millis, Passkey, PasskeyCount, PasskeyUse, Result, Session, SigningKey, Store,
    StoreError, User, UserUpsert, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

/// Connections kept open per instance.
const POOL_SIZE: usize = 16;
/// How long opening a TCP connection may take, unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole new connection (TCP, startup, authentication) may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a free connection when all are busy.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The store in a PostgreSQL database.
///
/// Connections are made without TLS (`NoTls`): passkeyd expects PostgreSQL on the same host or a
/// private network. A URL asking for `sslmode=require` therefore fails to connect rather than
/// silently talking in clear.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Connections with `synchronous_commit=off`, for advisory writes whose loss in a crash
    /// of PostgreSQL itself is harmless (see [`PostgresStore::relaxed`]).
    relaxed: Pool,
}

/// Connections in the relaxed pool.
const RELAXED_POOL_SIZE: usize = 8;

impl std::fmt::Debug for PostgresStore {
    // The pool's own Debug output includes the connection settings, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names and brings its schema up to date.
    /// Fails with [`StoreError::Backend`] within seconds if the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        // The URL's text never goes into an error: it may hold a password.
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Backend(format!("invalid PostgreSQL URL: {}", describe(&e)))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut relaxed = config.clone();
        let options = match config.get_options() {
            Some(given) => format!("{given} -c synchronous_commit=off"),
            None => "-c synchronous_commit=off".to_owned(),
        };
        relaxed.options(&options);
        let store = Self {
            pool: pool(config, POOL_SIZE)?,
            relaxed: pool(relaxed, RELAXED_POOL_SIZE)?,
        };
        let mut client = store.client().await?;
        migrate::run_postgres(&mut client).await?;
        drop(client);
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        client_of(&self.pool).await
    }

    /// A connection whose commits do not wait for the WAL to reach the disk
    /// (`synchronous_commit=off`): for the writes SQLite makes with `synchronous=NORMAL`,
    /// where losing the last fraction of a second in a crash of PostgreSQL (not of passkeyd)
    /// is harmless: a ceremony's start (the user starts again), counters and last-use times (a
    /// later sign-in moves them on), session and key touch times, audit entries. Never for a
    /// registration, a deletion, or taking a ceremony (a take lost in a crash would let its
    /// response be replayed).
    async fn relaxed(&self) -> Result<deadpool_postgres::Client> {
        client_of(&self.relaxed).await
    }
}

fn pool(config: tokio_postgres::Config, size: usize) -> Result<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(CREATE_TIMEOUT))
        .wait_timeout(Some(WAIT_TIMEOUT))
        .build()
        .map_err(|e| StoreError::Backend(format!("PostgreSQL pool: {e}")))
}

async fn client_of(pool: &Pool) -> Result<deadpool_postgres::Client> {
    pool.get()
        .await
        .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e))))
}

/// An error and its causes on one line (tokio-postgres keeps the useful part in the causes).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Inserts a passkey row as it is; `transports` is its transports as a JSON array.
async fn insert_passkey_row(
    tx: &deadpool_postgres::Transaction<'_>,
    p: &Passkey,
    transports: &str,
) -> Result<()> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO passkeys (id, app_id, user_id, name, generated_name, credential_id,
                     public_key, alg, aaguid, transports, backup_eligible, backup_state,
                     user_verified, discoverable, attachment, attestation_format,
                     attestation_type, sign_count, created_at, updated_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21)",
        )
        .await
        .map_err(from_pg)?;
    tx.execute(&insert, &passkey_row(p, &transports))
        .await
        .map_err(from_pg)?;
    Ok(())
}

/// A user's columns as parameters, in the order of `user_columns!`.
fn user_row(u: &User) -> [&(dyn ToSql + Sync); 8] {
    [
        &u.id,
        &u.app_id,
        &u.external_id,
        &u.handle,
        &u.username,
        &u.display_name,
        &u.created_at,
        &u.updated_at,
    ]
}

/// A passkey's columns as parameters, in the order of the insert and of the bulk COPY.
fn passkey_row<'a>(
    p: &'a Passkey,
    transports: &'a (dyn ToSql + Sync),
) -> [&'a (dyn ToSql + Sync); 21] {
    [
        &p.id,
        &p.app_id,
        &p.user_id,
        &p.name,
        &p.generated_name,
        &p.credential_id,
        &p.public_key,
        &p.alg,
        &p.aaguid,
        transports,
        &p.backup_eligible,
        &p.backup_state,
        &p.user_verified,
        &p.discoverable,
        &p.attachment,
        &p.attestation_format,
        &p.attestation_type,
        &p.sign_count,
        &p.created_at,
        &p.updated_at,
        &p.last_used_at,
    ]
}

/// Maps a PostgreSQL error to a store error: unique violations (23505) become `Conflict` and
/// foreign key violations (23503) `Missing`, each named after the constraint that was broken.
/// The constraint names are the ones PostgreSQL derives from the schema's tables and columns.
pub(crate) fn from_pg(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let constraint = db.constraint().unwrap_or_default();
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let name = match constraint {
                "apps_pkey" => Some("app_id"),
                "api_keys_pkey" | "api_keys_hash_key" => Some("api_key"),
                "users_app_id_external_id_key" => Some("external_id"),
                "users_app_id_handle_key" => Some("user_handle"),
                "users_pkey" => Some("user_id"),
                "passkeys_app_id_credential_id_key" => Some("credential_id"),
                "passkeys_pkey" => Some("passkey_id"),
                "ceremonies_pkey" => Some("ceremony_id"),
                "sessions_token_hash_key" => Some("session_token"),
                "sessions_pkey" => Some("session_id"),
                "signing_keys_pkey" => Some("signing_key_id"),
                "admin_invites_pkey" | "admin_invites_token_hash_key" => Some("admin_invite"),
                "admin_sessions_pkey" => Some("admin_session"),
                "audit_log_pkey" => Some("audit_entry"),
                "webhook_endpoints_pkey" => Some("webhook_endpoint"),
                "webhook_deliveries_id_key" => Some("webhook_delivery"),
                "webhook_attempts_pkey" => Some("webhook_attempt"),
                _ => None,
            };
            if let Some(name) = name {
                return StoreError::Conflict(name);
            }
        } else if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            if constraint == "passkeys_user_id_fkey" || constraint == "sessions_user_id_fkey" {
                return StoreError::Missing("user");
            }
            if constraint == "webhook_deliveries_endpoint_id_fkey" {
                return StoreError::Missing("webhook_endpoint");
            }
            if constraint.ends_with("_app_id_fkey") {
                return StoreError::Missing("app");
            }
        }
    }
    StoreError::Backend(describe(&error))
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T> {
    row.try_get(index).map_err(from_pg)
}

// Rows from columns in the order of the column lists in `lib.rs`.

fn app_from(row: &Row) -> Result<App> {
    app_at(row, 0)
}

/// An app read from the columns that start at `o`.
fn app_at(row: &Row, o: usize) -> Result<App> {
    Ok(App {
        id: column(row, o)?,
        name: column(row, o + 1)?,
        settings: column(row, o + 2)?,
        created_at: column(row, o + 3)?,
        updated_at: column(row, o + 4)?,
    })
}

fn key_from(row: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        prefix: column(row, 2)?,
        hash: column(row, 3)?,
        name: column(row, 4)?,
        created_at: column(row, 5)?,
        last_used_at: column(row, 6)?,
        revoked_at: column(row, 7)?,
    })
}

fn user_from(row: &Row) -> Result<User> {
    user_at(row, 0)
}

/// A user read from the columns that start at `o`.
fn user_at(row: &Row, o: usize) -> Result<User> {
    Ok(User {
        id: column(row, o)?,
        app_id: column(row, o + 1)?,
        external_id: column(row, o + 2)?,
        handle: column(row, o + 3)?,
        username: column(row, o + 4)?,
        display_name: column(row, o + 5)?,
        created_at: column(row, o + 6)?,
        updated_at: column(row, o + 7)?,
    })
}

fn session_from(row: &Row) -> Result<Session> {
    Ok(Session {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        user_id: column(row, 2)?,
        token_hash: column(row, 3)?,
        passkey_id: column(row, 4)?,
        created_at: column(row, 5)?,
        refreshed_at: column(row, 6)?,
        verified_at: column(row, 7)?,
        expires_at: column(row, 8)?,
        revoked_at: column(row, 9)?,
        user_agent: column(row, 10)?,
        client_ip: column(row, 11)?,
    })
}

fn signing_key_from(row: &Row) -> Result<SigningKey> {
    Ok(SigningKey {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        alg: column(row, 2)?,
        private_key: column(row, 3)?,
        public_jwk: column(row, 4)?,
        created_at: column(row, 5)?,
        retired_at: column(row, 6)?,
    })
}

fn passkey_from(row: &Row) -> Result<Passkey> {
    let transports: &str = column(row, 10)?;
    let transports = serde_json::from_str(transports)
        .map_err(|e| StoreError::Backend(format!("stored transports are not a JSON list: {e}")))?;
    Ok(Passkey {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        user_id: column(row, 2)?,
        user_external_id: column(row, 3)?,
        name: column(row, 4)?,
        generated_name: column(row, 5)?,
        credential_id: column(row, 6)?,
        public_key: column(row, 7)?,
        alg: column(row, 8)?,
        aaguid: column(row, 9)?,
        transports,
        backup_eligible: column(row, 11)?,
        backup_state: column(row, 12)?,
        user_verified: column(row, 13)?,
        discoverable: column(row, 14)?,
        attachment: column(row, 15)?,
        attestation_format: column(row, 16)?,
        attestation_type: column(row, 17)?,
        sign_count: column(row, 18)?,
        created_at: column(row, 19)?,
        updated_at: column(row, 20)?,
        last_used_at: column(row, 21)?,
    })
}

fn ceremony_from(row: &Row) -> Result<Ceremony> {
    Ok(Ceremony {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        kind: column(row, 2)?,
        user_id: column(row, 3)?,
        data: column(row, 4)?,
        expires_at: column(row, 5)?,
    })
}

fn invite_from(row: &Row) -> Result<AdminInvite> {
    Ok(AdminInvite {
        id: column(row, 0)?,
        token_hash: column(row, 1)?,
        admin_id: column(row, 2)?,
        name: column(row, 3)?,
        created_by: column(row, 4)?,
        created_at: column(row, 5)?,
        expires_at: column(row, 6)?,
        used_at: column(row, 7)?,
    })
}

fn admin_session_from(row: &Row) -> Result<AdminSession> {
    Ok(AdminSession {
        token_hash: column(row, 0)?,
        admin_id: column(row, 1)?,
        csrf_token: column(row, 2)?,
        created_at: column(row, 3)?,
        last_seen_at: column(row, 4)?,
        expires_at: column(row, 5)?,
    })
}

fn audit_from(row: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: column(row, 0)?,
        at: column(row, 1)?,
        app_id: column(row, 2)?,
        event: column(row, 3)?,
        outcome: column(row, 4)?,
        error_code: column(row, 5)?,
        user_id: column(row, 6)?,
        passkey_id: column(row, 7)?,
        actor: column(row, 8)?,
        ip: column(row, 9)?,
        user_agent: column(row, 10)?,
        detail: column(row, 11)?,
    })
}

fn endpoint_from(row: &Row) -> Result<WebhookEndpoint> {
    let events: &str = column(row, 4)?;
    let events = serde_json::from_str(events).map_err(|e| {
        StoreError::Backend(format!("stored webhook events are not a JSON list: {e}"))
    })?;
    Ok(WebhookEndpoint {
        id: column(row, 0)?,
        app_id: column(row, 1)?,
        url: column(row, 2)?,
        secret: column(row, 3)?,
        events,
        enabled: column(row, 5)?,
        description: column(row, 6)?,
        created_at: column(row, 7)?,
        updated_at: column(row, 8)?,
    })
}

fn delivery_from(row: &Row) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: column(row, 0)?,
        seq: column(row, 1)?,
        endpoint_id: column(row, 2)?,
        app_id: column(row, 3)?,
        event_id: column(row, 4)?,
        event: column(row, 5)?,
        payload: column(row, 6)?,
        status: column(row, 7)?,
        attempts: column(row, 8)?,
        next_attempt_at: column(row, 9)?,
        created_at: column(row, 10)?,
        updated_at: column(row, 11)?,
    })
}

fn attempt_from(row: &Row) -> Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: column(row, 0)?,
        delivery_id: column(row, 1)?,
        at: column(row, 2)?,
        status_code: column(row, 3)?,
        error: column(row, 4)?,
        duration_ms: column(row, 5)?,
    })
}

fn events_json(events: &[String]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| StoreError::Backend(format!("encoding events: {e}")))
}

impl PostgresStore {
    /// Runs one statement and returns how many rows it changed.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.execute(&statement, params).await.map_err(from_pg)
    }

    /// [`PostgresStore::execute`] on a relaxed connection.
    async fn execute_relaxed(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.relaxed().await?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.execute(&statement, params).await.map_err(from_pg)
    }

    /// Runs one query and returns its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.query(&statement, params).await.map_err(from_pg)
    }

    /// Runs one query expected to return at most one row.
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.query_opt(&statement, params).await.map_err(from_pg)
    }
}

/// How many times `upsert_user` retries when the user it found is deleted before its update.
const UPSERT_ATTEMPTS: usize = 3;

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        self.query_opt("SELECT 1", &[]).await.map(drop)
    }

    async fn create_app(&self, app: &App) -> Result<()> {
        self.execute(
            "INSERT INTO apps (id, name, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &app.id,
                &app.name,
                &app.settings,
                &app.created_at,
                &app.updated_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn put_app(&self, app: &App) -> Result<()> {
        self.execute(
            "INSERT INTO apps (id, name, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                 settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at",
            &[
                &app.id,
                &app.name,
                &app.settings,
                &app.created_at,
                &app.updated_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_app(&self, id: &str) -> Result<Option<App>> {
        self.query_opt(
            concat!("SELECT ", app_columns!(), " FROM apps WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(app_from)
        .transpose()
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        self.query(
            concat!("SELECT ", app_columns!(), " FROM apps ORDER BY id"),
            &[],
        )
        .await?
        .iter()
        .map(app_from)
        .collect()
    }

    async fn update_app(&self, app: &App) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE apps SET name = $2, settings = $3, updated_at = $4 WHERE id = $1",
                &[&app.id, &app.name, &app.settings, &app.updated_at],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn delete_app(&self, id: &str) -> Result<bool> {
        let changed = self
            .execute("DELETE FROM apps WHERE id = $1", &[&id])
            .await?;
        Ok(changed > 0)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO api_keys (",
                key_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &key.id,
                &key.app_id,
                &key.prefix,
                &key.hash,
                &key.name,
                &key.created_at,
                &key.last_used_at,
                &key.revoked_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn list_api_keys(&self, app_id: &str) -> Result<Vec<ApiKey>> {
        self.query(
            concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE app_id = $1 ORDER BY created_at, id"
            ),
            &[&app_id],
        )
        .await?
        .iter()
        .map(key_from)
        .collect()
    }

    async fn revoke_api_key(&self, app_id: &str, key_id: &str, now: Millis) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE api_keys SET revoked_at = $3
                 WHERE app_id = $1 AND id = $2 AND revoked_at IS NULL",
                &[&app_id, &key_id, &now],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn find_api_key(&self, hash: &[u8]) -> Result<Option<ApiKey>> {
        self.query_opt(
            concat!("SELECT ", key_columns!(), " FROM api_keys WHERE hash = $1"),
            &[&hash],
        )
        .await?
        .as_ref()
        .map(key_from)
        .transpose()
    }

    async fn find_api_key_with_app(&self, hash: &[u8]) -> Result<Option<(ApiKey, App)>> {
        self.query_opt(
            "SELECT k.id, k.app_id, k.prefix, k.hash, k.name, k.created_at, k.last_used_at,
                    k.revoked_at, a.id, a.name, a.settings, a.created_at, a.updated_at
             FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.hash = $1",
            &[&hash],
        )
        .await?
        .map(|row| Ok((key_from(&row)?, app_at(&row, 8)?)))
        .transpose()
    }

    async fn touch_api_key(&self, key_id: &str, now: Millis) -> Result<()> {
        // Racing requests may finish out of order; the recorded time never moves back.
        self.execute_relaxed(
            "UPDATE api_keys SET last_used_at = $2
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            &[&key_id, &now],
        )
        .await
        .map(drop)
    }

    async fn upsert_user(&self, u: &UserUpsert) -> Result<(User, bool)> {
        let client = self.client().await?;
        let insert = client
            .prepare_cached(concat!(
                "INSERT INTO users (",
                user_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (app_id, external_id) DO NOTHING
                 RETURNING ",
                user_columns!()
            ))
            .await
            .map_err(from_pg)?;
        // `updated_at` moves only when a name really changes, so repeating a registration does
        // not look like an edit.
        let update = client
            .prepare_cached(concat!(
                "UPDATE users SET
                     username = COALESCE($3, username),
                     display_name = COALESCE($4, display_name),
                     updated_at = CASE
                         WHEN COALESCE($3, username) IS DISTINCT FROM username
                           OR COALESCE($4, display_name) IS DISTINCT FROM display_name
                         THEN $5 ELSE updated_at END
                 WHERE app_id = $1 AND external_id = $2
                 RETURNING ",
                user_columns!()
            ))
            .await
            .map_err(from_pg)?;
        // Each statement is atomic on its own. Between them the user can only disappear (a
        // concurrent delete), and then the insert is simply tried again.
        for _ in 0..UPSERT_ATTEMPTS {
            let inserted = client
                .query_opt(
                    &insert,
                    &[
                        &u.new_id,
                        &u.app_id,
                        &u.external_id,
                        &u.new_handle,
                        &u.username,
                        &u.display_name,
                        &u.now,
                    ],
                )
                .await
                .map_err(from_pg)?;
            if let Some(row) = inserted {
                return Ok((user_from(&row)?, true));
            }
            let updated = client
                .query_opt(
                    &update,
                    &[
                        &u.app_id,
                        &u.external_id,
                        &u.username,
                        &u.display_name,
                        &u.now,
                    ],
                )
                .await
                .map_err(from_pg)?;
            if let Some(row) = updated {
                return Ok((user_from(&row)?, false));
            }
        }
        Err(StoreError::Backend(
            "the user kept being deleted while it was being upserted".into(),
        ))
    }

    async fn get_user(&self, app_id: &str, external_id: &str) -> Result<Option<User>> {
        self.query_opt(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = $1 AND external_id = $2"
            ),
            &[&app_id, &external_id],
        )
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
    }

    async fn get_user_by_id(&self, app_id: &str, user_id: &str) -> Result<Option<User>> {
        self.query_opt(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = $1 AND id = $2"
            ),
            &[&app_id, &user_id],
        )
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
    }

    async fn get_user_by_handle(&self, app_id: &str, handle: &[u8]) -> Result<Option<User>> {
        self.query_opt(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = $1 AND handle = $2"
            ),
            &[&app_id, &handle],
        )
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
    }

    async fn list_users(&self, app_id: &str, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
        let limit = i64::from(limit);
        let rows = match after {
            None => {
                self.query(
                    concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE app_id = $1 ORDER BY external_id LIMIT $2"
                    ),
                    &[&app_id, &limit],
                )
                .await?
            }
            Some(after) => {
                self.query(
                    concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE app_id = $1 AND external_id > $2
                          ORDER BY external_id LIMIT $3"
                    ),
                    &[&app_id, &after, &limit],
                )
                .await?
            }
        };
        rows.iter().map(user_from).collect()
    }

    async fn delete_user(&self, app_id: &str, external_id: &str) -> Result<bool> {
        let changed = self
            .execute(
                "DELETE FROM users WHERE app_id = $1 AND external_id = $2",
                &[&app_id, &external_id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn insert_passkey(&self, p: &Passkey, max_per_user: u32) -> Result<()> {
        let transports = serde_json::to_string(&p.transports)
            .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
        let mut client = self.client().await?;
        // On every early return the transaction is dropped, which rolls it back.
        let tx = client.transaction().await.map_err(from_pg)?;
        // Locking the owner's row makes racing registrations for one user take turns, so each
        // counts the passkeys the previous one committed.
        let lock = tx
            .prepare_cached("SELECT 1 FROM users WHERE app_id = $1 AND id = $2 FOR UPDATE")
            .await
            .map_err(from_pg)?;
        if tx
            .query_opt(&lock, &[&p.app_id, &p.user_id])
            .await
            .map_err(from_pg)?
            .is_none()
        {
            return Err(StoreError::Missing("user"));
        }
        let count = tx
            .prepare_cached("SELECT COUNT(*) FROM passkeys WHERE app_id = $1 AND user_id = $2")
            .await
            .map_err(from_pg)?;
        let existing: i64 = column(
            &tx.query_one(&count, &[&p.app_id, &p.user_id])
                .await
                .map_err(from_pg)?,
            0,
        )?;
        if existing >= i64::from(max_per_user) {
            return Err(StoreError::LimitReached {
                limit: max_per_user,
            });
        }
        insert_passkey_row(&tx, p, &transports).await?;
        tx.commit().await.map_err(from_pg)
    }

    async fn insert_user_with_passkey(&self, u: &User, p: &Passkey) -> Result<()> {
        let transports = serde_json::to_string(&p.transports)
            .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let insert = tx
            .prepare_cached(concat!(
                "INSERT INTO users (",
                user_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await
            .map_err(from_pg)?;
        tx.execute(&insert, &user_row(u)).await.map_err(from_pg)?;
        insert_passkey_row(&tx, p, &transports).await?;
        tx.commit().await.map_err(from_pg)
    }

    async fn get_user_with_passkeys(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<Option<(User, Vec<Passkey>)>> {
        let rows = self
            .query(
                concat!(
                    "SELECT ",
                    passkey_columns!(),
                    ", ",
                    joined_user_columns!(),
                    " FROM users u LEFT JOIN passkeys p ON p.user_id = u.id
                      WHERE u.app_id = $1 AND u.external_id = $2 ORDER BY p.created_at, p.id"
                ),
                &[&app_id, &external_id],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let user = user_at(first, crate::PASSKEY_COLUMNS)?;
        let mut passkeys = Vec::with_capacity(rows.len());
        for row in &rows {
            // A user without passkeys is one row of NULL passkey columns.
            if column::<Option<&str>>(row, 0)?.is_some() {
                passkeys.push(passkey_from(row)?);
            }
        }
        Ok(Some((user, passkeys)))
    }

    async fn list_passkeys(&self, app_id: &str, user_id: &str) -> Result<Vec<Passkey>> {
        self.query(
            concat!(
                select_passkeys!(),
                " WHERE p.app_id = $1 AND p.user_id = $2 ORDER BY p.created_at, p.id"
            ),
            &[&app_id, &user_id],
        )
        .await?
        .iter()
        .map(passkey_from)
        .collect()
    }

    async fn get_passkey(&self, app_id: &str, id: &str) -> Result<Option<Passkey>> {
        self.query_opt(
            concat!(select_passkeys!(), " WHERE p.app_id = $1 AND p.id = $2"),
            &[&app_id, &id],
        )
        .await?
        .as_ref()
        .map(passkey_from)
        .transpose()
    }

    async fn find_passkey_with_user(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>> {
        self.query_opt(
            concat!(
                "SELECT ",
                passkey_columns!(),
                ", ",
                joined_user_columns!(),
                " FROM passkeys p JOIN users u ON u.id = p.user_id
                  WHERE p.app_id = $1 AND p.credential_id = $2"
            ),
            &[&app_id, &credential_id],
        )
        .await?
        .map(|row| Ok((passkey_from(&row)?, user_at(&row, crate::PASSKEY_COLUMNS)?)))
        .transpose()
    }

    async fn find_passkey_by_credential(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<Passkey>> {
        self.query_opt(
            concat!(
                select_passkeys!(),
                " WHERE p.app_id = $1 AND p.credential_id = $2"
            ),
            &[&app_id, &credential_id],
        )
        .await?
        .as_ref()
        .map(passkey_from)
        .transpose()
    }

    async fn rename_passkey(
        &self,
        app_id: &str,
        id: &str,
        name: Option<&str>,
        now: Millis,
    ) -> Result<Option<Passkey>> {
        // One statement updates and reads back, so the passkey returned is the one renamed.
        self.query_opt(
            concat!(
                "WITH p AS (
                     UPDATE passkeys SET name = $3, updated_at = $4
                     WHERE app_id = $1 AND id = $2
                     RETURNING *
                 )
                 SELECT ",
                passkey_columns!(),
                " FROM p JOIN users u ON u.id = p.user_id"
            ),
            &[&app_id, &id, &name, &now],
        )
        .await?
        .as_ref()
        .map(passkey_from)
        .transpose()
    }

    async fn delete_passkey(&self, app_id: &str, id: &str) -> Result<bool> {
        let changed = self
            .execute(
                "DELETE FROM passkeys WHERE app_id = $1 AND id = $2",
                &[&app_id, &id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn delete_user_passkeys(&self, app_id: &str, user_id: &str) -> Result<u64> {
        self.execute(
            "DELETE FROM passkeys WHERE app_id = $1 AND user_id = $2",
            &[&app_id, &user_id],
        )
        .await
    }

    async fn record_passkey_use(
        &self,
        app_id: &str,
        id: &str,
        credential_id: &[u8],
        used: PasskeyUse,
    ) -> Result<bool> {
        // GREATEST keeps the counter and the times from moving back when sign-ins race (and
        // ignores NULL, so a first use sets last_used_at).
        let changed = self
            .execute_relaxed(
                "UPDATE passkeys SET
                     sign_count = GREATEST(sign_count, $3),
                     backup_state = $4,
                     last_used_at = GREATEST(last_used_at, $5),
                     updated_at = GREATEST(updated_at, $5)
                 WHERE app_id = $1 AND credential_id = $2 AND id = $6",
                &[
                    &app_id,
                    &credential_id,
                    &used.sign_count,
                    &used.backup_state,
                    &used.now,
                    &id,
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn import(&self, users: &[User], passkeys: &[Passkey]) -> Result<()> {
        let elsewhere = crate::owners_to_check(users, passkeys)?;
        let mut client = self.client().await?;
        // On every early return the transaction is dropped, which rolls it back.
        let tx = client.transaction().await.map_err(from_pg)?;
        if !elsewhere.is_empty() {
            let ids: Vec<&str> = elsewhere.iter().map(|(_, user)| *user).collect();
            let found: std::collections::HashSet<(String, String)> = tx
                .query("SELECT app_id, id FROM users WHERE id = ANY($1)", &[&ids])
                .await
                .map_err(from_pg)?
                .iter()
                .map(|row| Ok((column(row, 0)?, column(row, 1)?)))
                .collect::<Result<_>>()?;
            // A concurrent deletion after this check is caught by the foreign key at the COPY.
            if elsewhere
                .iter()
                .any(|(app, user)| !found.contains(&((*app).to_owned(), (*user).to_owned())))
            {
                return Err(StoreError::Missing("user"));
            }
        }
        // COPY in the binary format: one round trip per table, no statement per row.
        let sink = tx
            .copy_in(concat!(
                "COPY users (",
                user_columns!(),
                ") FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(from_pg)?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(
            sink,
            &[
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
            ],
        ));
        for u in users {
            writer.as_mut().write(&user_row(u)).await.map_err(from_pg)?;
        }
        writer.as_mut().finish().await.map_err(from_pg)?;
        let sink = tx
            .copy_in(
                "COPY passkeys (id, app_id, user_id, name, generated_name, credential_id,
                     public_key, alg, aaguid, transports, backup_eligible, backup_state,
                     user_verified, discoverable, attachment, attestation_format,
                     attestation_type, sign_count, created_at, updated_at, last_used_at)
                 FROM STDIN (FORMAT binary)",
            )
            .await
            .map_err(from_pg)?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(
            sink,
            &[
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::BYTEA,
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::BOOL,
                Type::BOOL,
                Type::BOOL,
                Type::BOOL,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::INT8,
            ],
        ));
        for p in passkeys {
            let transports = serde_json::to_string(&p.transports)
                .map_err(|e| StoreError::Backend(format!("encoding transports: {e}")))?;
            writer
                .as_mut()
                .write(&passkey_row(p, &transports))
                .await
                .map_err(from_pg)?;
        }
        writer.as_mut().finish().await.map_err(from_pg)?;
        tx.commit().await.map_err(from_pg)
    }

    async fn put_ceremony(&self, c: &Ceremony) -> Result<()> {
        self.execute_relaxed(
            "INSERT INTO ceremonies (id, app_id, kind, user_id, data, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &c.id,
                &c.app_id,
                &c.kind,
                &c.user_id,
                &c.data,
                &c.expires_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn take_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>> {
        // One statement: a racing DELETE waits on the row lock, then finds the row gone.
        self.query_opt(
            "DELETE FROM ceremonies WHERE id = $1 AND app_id = $2
             RETURNING id, app_id, kind, user_id, data, expires_at",
            &[&id, &app_id],
        )
        .await?
        .as_ref()
        .map(ceremony_from)
        .transpose()
    }

    async fn get_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>> {
        self.query_opt(
            "SELECT id, app_id, kind, user_id, data, expires_at FROM ceremonies
             WHERE id = $1 AND app_id = $2",
            &[&id, &app_id],
        )
        .await?
        .as_ref()
        .map(ceremony_from)
        .transpose()
    }

    async fn delete_ceremony(&self, app_id: &str, id: &str) -> Result<bool> {
        Ok(self
            .execute(
                "DELETE FROM ceremonies WHERE id = $1 AND app_id = $2",
                &[&id, &app_id],
            )
            .await?
            > 0)
    }

    async fn purge_expired(&self, now: Millis) -> Result<u64> {
        let ceremonies = self
            .execute("DELETE FROM ceremonies WHERE expires_at < $1", &[&now])
            .await?;
        let sessions = self
            .execute("DELETE FROM sessions WHERE expires_at < $1", &[&now])
            .await?;
        Ok(ceremonies + sessions)
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        self.execute_relaxed(
            concat!(
                "INSERT INTO sessions (",
                session_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                &s.id,
                &s.app_id,
                &s.user_id,
                &s.token_hash,
                &s.passkey_id,
                &s.created_at,
                &s.refreshed_at,
                &s.verified_at,
                &s.expires_at,
                &s.revoked_at,
                &s.user_agent,
                &s.client_ip,
            ],
        )
        .await
        .map(drop)
        .map_err(|e| match e {
            StoreError::Missing(_) => StoreError::Missing("user"),
            other => other,
        })
    }

    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        self.query_opt(
            concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE token_hash = $1"
            ),
            &[&token_hash],
        )
        .await?
        .as_ref()
        .map(session_from)
        .transpose()
    }

    async fn get_session(&self, app_id: &str, id: &str) -> Result<Option<Session>> {
        self.query_opt(
            concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE id = $1 AND app_id = $2"
            ),
            &[&id, &app_id],
        )
        .await?
        .as_ref()
        .map(session_from)
        .transpose()
    }

    async fn list_sessions(&self, app_id: &str, user_id: &str) -> Result<Vec<Session>> {
        self.query(
            concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL
                 ORDER BY created_at DESC, id"
            ),
            &[&app_id, &user_id],
        )
        .await?
        .iter()
        .map(session_from)
        .collect()
    }

    async fn touch_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        Ok(self
            .execute_relaxed(
                "UPDATE sessions SET refreshed_at = GREATEST(refreshed_at, $3)
                 WHERE id = $1 AND app_id = $2 AND revoked_at IS NULL",
                &[&id, &app_id, &now],
            )
            .await?
            > 0)
    }

    async fn verify_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        Ok(self
            .execute(
                "UPDATE sessions SET verified_at = GREATEST(verified_at, $3)
                 WHERE id = $1 AND app_id = $2 AND revoked_at IS NULL",
                &[&id, &app_id, &now],
            )
            .await?
            > 0)
    }

    async fn revoke_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool> {
        Ok(self
            .execute(
                "UPDATE sessions SET revoked_at = $3
                 WHERE id = $1 AND app_id = $2 AND revoked_at IS NULL",
                &[&id, &app_id, &now],
            )
            .await?
            > 0)
    }

    async fn revoke_user_sessions(&self, app_id: &str, user_id: &str, now: Millis) -> Result<u64> {
        self.execute(
            "UPDATE sessions SET revoked_at = $3
             WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL",
            &[&app_id, &user_id, &now],
        )
        .await
    }

    async fn add_signing_key(&self, k: &SigningKey) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO signing_keys (",
                signing_key_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            &[
                &k.id,
                &k.app_id,
                &k.alg,
                &k.private_key,
                &k.public_jwk,
                &k.created_at,
                &k.retired_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn list_signing_keys(&self, app_id: &str) -> Result<Vec<SigningKey>> {
        self.query(
            concat!(
                "SELECT ",
                signing_key_columns!(),
                " FROM signing_keys WHERE app_id = $1 ORDER BY created_at DESC, id DESC"
            ),
            &[&app_id],
        )
        .await?
        .iter()
        .map(signing_key_from)
        .collect()
    }

    async fn retire_signing_keys(&self, app_id: &str, now: Millis) -> Result<u64> {
        self.execute(
            "UPDATE signing_keys SET retired_at = $2 WHERE app_id = $1 AND retired_at IS NULL",
            &[&app_id, &now],
        )
        .await
    }

    async fn create_admin_invite(&self, i: &AdminInvite) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO admin_invites (",
                invite_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &i.id,
                &i.token_hash,
                &i.admin_id,
                &i.name,
                &i.created_by,
                &i.created_at,
                &i.expires_at,
                &i.used_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_admin_invite(&self, token_hash: &[u8]) -> Result<Option<AdminInvite>> {
        self.query_opt(
            concat!(
                "SELECT ",
                invite_columns!(),
                " FROM admin_invites WHERE token_hash = $1"
            ),
            &[&token_hash],
        )
        .await?
        .as_ref()
        .map(invite_from)
        .transpose()
    }

    async fn use_admin_invite(&self, token_hash: &[u8], now: Millis) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE admin_invites SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2",
                &[&token_hash, &now],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn list_admin_invites(&self, now: Millis) -> Result<Vec<AdminInvite>> {
        self.query(
            concat!(
                "SELECT ",
                invite_columns!(),
                " FROM admin_invites WHERE used_at IS NULL AND expires_at >= $1
                  ORDER BY created_at DESC, id"
            ),
            &[&now],
        )
        .await?
        .iter()
        .map(invite_from)
        .collect()
    }

    async fn delete_admin_invite(&self, id: &str) -> Result<bool> {
        let changed = self
            .execute(
                "DELETE FROM admin_invites WHERE id = $1 AND used_at IS NULL",
                &[&id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn create_admin_session(&self, s: &AdminSession) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO admin_sessions (",
                admin_session_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &s.token_hash,
                &s.admin_id,
                &s.csrf_token,
                &s.created_at,
                &s.last_seen_at,
                &s.expires_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_admin_session(&self, token_hash: &[u8]) -> Result<Option<AdminSession>> {
        self.query_opt(
            concat!(
                "SELECT ",
                admin_session_columns!(),
                " FROM admin_sessions WHERE token_hash = $1"
            ),
            &[&token_hash],
        )
        .await?
        .as_ref()
        .map(admin_session_from)
        .transpose()
    }

    async fn touch_admin_session(&self, token_hash: &[u8], now: Millis) -> Result<()> {
        self.execute(
            "UPDATE admin_sessions SET last_seen_at = GREATEST(last_seen_at, $2)
             WHERE token_hash = $1",
            &[&token_hash, &now],
        )
        .await
        .map(drop)
    }

    async fn delete_admin_session(&self, token_hash: &[u8]) -> Result<bool> {
        let changed = self
            .execute(
                "DELETE FROM admin_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn delete_admin_sessions(&self, admin_id: &str) -> Result<u64> {
        self.execute(
            "DELETE FROM admin_sessions WHERE admin_id = $1",
            &[&admin_id],
        )
        .await
    }

    async fn purge_admin(&self, now: Millis, idle_since: Millis) -> Result<u64> {
        let sessions = self
            .execute(
                "DELETE FROM admin_sessions WHERE expires_at < $1 OR last_seen_at < $2",
                &[&now, &idle_since],
            )
            .await?;
        let invites = self
            .execute("DELETE FROM admin_invites WHERE expires_at < $1", &[&now])
            .await?;
        Ok(sessions + invites)
    }

    async fn delete_user_unless_last(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<GuardedDelete> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        // Locking the app's row makes two admins removing each other take turns, so the second
        // sees that the first is gone and one of them stays.
        let lock = tx
            .prepare_cached("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE")
            .await
            .map_err(from_pg)?;
        tx.query_opt(&lock, &[&app_id]).await.map_err(from_pg)?;
        let counts = tx
            .prepare_cached(
                "SELECT
                     (SELECT COUNT(*) FROM users WHERE app_id = $1 AND external_id = $2),
                     (SELECT COUNT(*) FROM users u WHERE u.app_id = $1 AND u.external_id <> $2
                          AND EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)),
                     (SELECT COUNT(*) FROM passkeys p JOIN users u ON u.id = p.user_id
                          WHERE u.app_id = $1 AND u.external_id = $2)",
            )
            .await
            .map_err(from_pg)?;
        let row = tx
            .query_one(&counts, &[&app_id, &external_id])
            .await
            .map_err(from_pg)?;
        let (exists, others, own): (i64, i64, i64) =
            (column(&row, 0)?, column(&row, 1)?, column(&row, 2)?);
        if exists == 0 {
            return Ok(GuardedDelete::Missing);
        }
        if others == 0 && own > 0 {
            return Ok(GuardedDelete::LastOne);
        }
        let delete = tx
            .prepare_cached("DELETE FROM users WHERE app_id = $1 AND external_id = $2")
            .await
            .map_err(from_pg)?;
        tx.execute(&delete, &[&app_id, &external_id])
            .await
            .map_err(from_pg)?;
        tx.commit().await.map_err(from_pg)?;
        Ok(GuardedDelete::Deleted)
    }

    async fn search_users(&self, app_id: &str, text: &str, limit: u32) -> Result<Vec<User>> {
        // strpos() rather than LIKE, so `%` and `_` in the text match themselves.
        self.query(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE app_id = $1
                  AND (strpos(lower(external_id), lower($2)) > 0
                       OR strpos(lower(COALESCE(username, '')), lower($2)) > 0)
                  ORDER BY external_id LIMIT $3"
            ),
            &[&app_id, &text, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(user_from)
        .collect()
    }

    async fn insert_audit_entries(&self, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch: a column of values per parameter, unnested.
        fn col<'a, T>(entries: &'a [AuditEntry], f: impl Fn(&'a AuditEntry) -> T) -> Vec<T> {
            entries.iter().map(f).collect()
        }
        let ids = col(entries, |e| e.id.as_str());
        let ats = col(entries, |e| e.at);
        let apps = col(entries, |e| e.app_id.as_deref());
        let events = col(entries, |e| e.event.as_str());
        let outcomes = col(entries, |e| e.outcome.as_str());
        let codes = col(entries, |e| e.error_code.as_deref());
        let users = col(entries, |e| e.user_id.as_deref());
        let passkeys = col(entries, |e| e.passkey_id.as_deref());
        let actors = col(entries, |e| e.actor.as_str());
        let ips = col(entries, |e| e.ip.as_deref());
        let agents = col(entries, |e| e.user_agent.as_deref());
        let details = col(entries, |e| e.detail.as_str());
        self.execute_relaxed(
            concat!(
                "INSERT INTO audit_log (",
                audit_columns!(),
                ") SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                   $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[],
                   $11::TEXT[], $12::TEXT[])"
            ),
            &[
                &ids, &ats, &apps, &events, &outcomes, &codes, &users, &passkeys, &actors, &ips,
                &agents, &details,
            ],
        )
        .await
        .map(drop)
    }

    async fn list_audit_entries(&self, f: &AuditFilter, limit: u32) -> Result<Vec<AuditEntry>> {
        let (before_at, before_id) = f.before.clone().unzip();
        self.query(
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_log WHERE ($1::TEXT IS NULL OR app_id = $1)
                  AND ($2::TEXT IS NULL OR event = $2) AND ($3::TEXT IS NULL OR user_id = $3)
                  AND ($4::TEXT IS NULL OR outcome = $4) AND ($5::BIGINT IS NULL OR at >= $5)
                  AND ($6::BIGINT IS NULL OR at < $6)
                  AND ($7::BIGINT IS NULL OR at < $7 OR (at = $7 AND id < $8::TEXT))
                  ORDER BY at DESC, id DESC LIMIT $9"
            ),
            &[
                &f.app_id,
                &f.event,
                &f.user_id,
                &f.outcome,
                &f.since,
                &f.until,
                &before_at,
                &before_id,
                &i64::from(limit),
            ],
        )
        .await?
        .iter()
        .map(audit_from)
        .collect()
    }

    async fn get_audit_entry(&self, id: &str) -> Result<Option<AuditEntry>> {
        self.query_opt(
            concat!("SELECT ", audit_columns!(), " FROM audit_log WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(audit_from)
        .transpose()
    }

    async fn audit_counts(&self, app_id: Option<&str>, since: Millis) -> Result<Vec<AuditCount>> {
        self.query(
            "SELECT at / 86400000 AS day, event, outcome, error_code, COUNT(*)
             FROM audit_log WHERE at >= $2 AND ($1::TEXT IS NULL OR app_id = $1)
             GROUP BY day, event, outcome, error_code
             ORDER BY day, event, outcome, error_code",
            &[&app_id, &since],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(AuditCount {
                day: column(row, 0)?,
                event: column(row, 1)?,
                outcome: column(row, 2)?,
                error_code: column(row, 3)?,
                count: column(row, 4)?,
            })
        })
        .collect()
    }

    async fn purge_audit(&self, before: Millis) -> Result<u64> {
        self.execute("DELETE FROM audit_log WHERE at < $1", &[&before])
            .await
    }

    async fn passkey_counts(&self, app_id: &str) -> Result<Vec<PasskeyCount>> {
        self.query(
            "SELECT aaguid, backup_eligible, COUNT(*) FROM passkeys WHERE app_id = $1
             GROUP BY aaguid, backup_eligible ORDER BY COUNT(*) DESC, aaguid, backup_eligible",
            &[&app_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(PasskeyCount {
                aaguid: column(row, 0)?,
                backup_eligible: column(row, 1)?,
                count: column(row, 2)?,
            })
        })
        .collect()
    }

    async fn create_webhook_endpoint(&self, e: &WebhookEndpoint) -> Result<()> {
        let events = events_json(&e.events)?;
        self.execute(
            concat!(
                "INSERT INTO webhook_endpoints (",
                endpoint_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            &[
                &e.id,
                &e.app_id,
                &e.url,
                &e.secret,
                &events,
                &e.enabled,
                &e.description,
                &e.created_at,
                &e.updated_at,
            ],
        )
        .await
        .map(drop)
    }

    async fn list_webhook_endpoints(&self, app_id: &str) -> Result<Vec<WebhookEndpoint>> {
        self.query(
            concat!(
                "SELECT ",
                endpoint_columns!(),
                " FROM webhook_endpoints WHERE app_id = $1 ORDER BY created_at, id"
            ),
            &[&app_id],
        )
        .await?
        .iter()
        .map(endpoint_from)
        .collect()
    }

    async fn get_webhook_endpoint(
        &self,
        app_id: &str,
        id: &str,
    ) -> Result<Option<WebhookEndpoint>> {
        self.query_opt(
            concat!(
                "SELECT ",
                endpoint_columns!(),
                " FROM webhook_endpoints WHERE app_id = $1 AND id = $2"
            ),
            &[&app_id, &id],
        )
        .await?
        .as_ref()
        .map(endpoint_from)
        .transpose()
    }

    async fn update_webhook_endpoint(&self, e: &WebhookEndpoint) -> Result<bool> {
        let events = events_json(&e.events)?;
        let changed = self
            .execute(
                "UPDATE webhook_endpoints SET url = $3, events = $4, enabled = $5,
                     description = $6, updated_at = $7
                 WHERE app_id = $1 AND id = $2",
                &[
                    &e.app_id,
                    &e.id,
                    &e.url,
                    &events,
                    &e.enabled,
                    &e.description,
                    &e.updated_at,
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn delete_webhook_endpoint(&self, app_id: &str, id: &str) -> Result<bool> {
        let changed = self
            .execute(
                "DELETE FROM webhook_endpoints WHERE app_id = $1 AND id = $2",
                &[&app_id, &id],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (id, endpoint_id, app_id, event_id, event,
                     payload, status, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .await
            .map_err(from_pg)?;
        for d in deliveries {
            tx.execute(
                &insert,
                &[
                    &d.id,
                    &d.endpoint_id,
                    &d.app_id,
                    &d.event_id,
                    &d.event,
                    &d.payload,
                    &d.status,
                    &d.attempts,
                    &d.next_attempt_at,
                    &d.created_at,
                    &d.updated_at,
                ],
            )
            .await
            .map_err(from_pg)?;
        }
        tx.commit().await.map_err(from_pg)
    }

    async fn due_webhook_deliveries(
        &self,
        now: Millis,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        self.query(
            concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                      WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending' AND e.seq < d.seq)
                  ORDER BY d.seq LIMIT $2"
            ),
            &[&now, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(delivery_from)
        .collect()
    }

    async fn claim_webhook_delivery(
        &self,
        id: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<bool> {
        // One statement: of racing workers, the row lock lets one update it; the others then
        // find it no longer due.
        let changed = self
            .execute(
                "UPDATE webhook_deliveries SET next_attempt_at = $3
                 WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2",
                &[&id, &now, &lease_until],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn record_webhook_attempt(
        &self,
        a: &WebhookAttempt,
        status: &str,
        next_attempt_at: Millis,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_pg)?;
        let insert = tx
            .prepare_cached(concat!(
                "INSERT INTO webhook_attempts (",
                attempt_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .await
            .map_err(from_pg)?;
        tx.execute(
            &insert,
            &[
                &a.id,
                &a.delivery_id,
                &a.at,
                &a.status_code,
                &a.error,
                &a.duration_ms,
            ],
        )
        .await
        .map_err(from_pg)?;
        let update = tx
            .prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2,
                     next_attempt_at = $3, updated_at = $4
                 WHERE id = $1",
            )
            .await
            .map_err(from_pg)?;
        tx.execute(&update, &[&a.delivery_id, &status, &next_attempt_at, &a.at])
            .await
            .map_err(from_pg)?;
        tx.commit().await.map_err(from_pg)
    }

    async fn list_webhook_deliveries(
        &self,
        app_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        self.query(
            concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE app_id = $1 AND endpoint_id = $2
                  ORDER BY seq DESC LIMIT $3"
            ),
            &[&app_id, &endpoint_id, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(delivery_from)
        .collect()
    }

    async fn list_webhook_attempts(&self, delivery_id: &str) -> Result<Vec<WebhookAttempt>> {
        self.query(
            concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM webhook_attempts WHERE delivery_id = $1 ORDER BY at, id"
            ),
            &[&delivery_id],
        )
        .await?
        .iter()
        .map(attempt_from)
        .collect()
    }

    async fn purge_webhook_deliveries(&self, before: Millis) -> Result<u64> {
        self.execute(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1",
            &[&before],
        )
        .await
    }
}
