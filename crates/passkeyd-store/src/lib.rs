//! passkeyd's storage: one [`Store`] interface, two real implementations (embedded SQLite and
//! PostgreSQL), and the migrations each carries built in.
//!
//! The store keeps rows; it decides nothing about WebAuthn or policy. It draws no random numbers
//! and reads no clock: ids, user handles and times (Unix milliseconds) come from the caller, so
//! every implementation behaves the same under the one test suite in `tests/store.rs`.
//!
//! Everything several passkeyd instances must share lives here, ceremony state included: on
//! PostgreSQL a ceremony started on one instance can be finished on another.
//! [`Store::take_ceremony`] removes and returns a ceremony in one atomic step, so of two racing
//! finishes exactly one gets it. SQLite serves one instance ([`Store::claim_for_server`]), so it
//! keeps ceremonies in that process's memory instead of writing each twice (`pending.rs`).

// Column lists, shared by every statement of both backends that reads a row of each kind, in the
// order their `*_from` functions read them (defined before the modules so both see them).
macro_rules! session_columns {
    () => {
        "id, app_id, user_id, token_hash, passkey_id, created_at, refreshed_at, verified_at, expires_at, revoked_at, user_agent, client_ip"
    };
}
macro_rules! signing_key_columns {
    () => {
        "id, app_id, alg, private_key, public_jwk, created_at, retired_at"
    };
}
macro_rules! app_columns {
    () => {
        "id, name, settings, created_at, updated_at"
    };
}
macro_rules! key_columns {
    () => {
        "id, app_id, prefix, hash, name, created_at, last_used_at, revoked_at"
    };
}
macro_rules! user_columns {
    () => {
        "id, app_id, external_id, handle, username, display_name, created_at, updated_at"
    };
}
macro_rules! passkey_columns {
    () => {
        "p.id, p.app_id, p.user_id, u.external_id, p.name, p.generated_name, p.credential_id,
         p.public_key, p.alg, p.aaguid, p.transports, p.backup_eligible, p.backup_state,
         p.user_verified, p.discoverable, p.attachment, p.attestation_format,
         p.attestation_type, p.sign_count, p.created_at, p.updated_at, p.last_used_at"
    };
}
macro_rules! select_passkeys {
    () => {
        concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys p JOIN users u ON u.id = p.user_id"
        )
    };
}
macro_rules! joined_user_columns {
    () => {
        "u.id, u.app_id, u.external_id, u.handle, u.username, u.display_name, u.created_at,
         u.updated_at"
    };
}
macro_rules! invite_columns {
    () => {
        "id, token_hash, admin_id, name, created_by, created_at, expires_at, used_at"
    };
}
macro_rules! admin_session_columns {
    () => {
        "token_hash, admin_id, csrf_token, created_at, last_seen_at, expires_at"
    };
}
macro_rules! audit_columns {
    () => {
        "id, at, app_id, event, outcome, error_code, user_id, passkey_id, actor, ip, user_agent, detail"
    };
}
macro_rules! endpoint_columns {
    () => {
        "id, app_id, url, secret, events, enabled, description, created_at, updated_at"
    };
}
macro_rules! delivery_columns {
    () => {
        "id, seq, endpoint_id, app_id, event_id, event, payload, status, attempts, next_attempt_at, created_at, updated_at"
    };
}
macro_rules! attempt_columns {
    () => {
        "id, delivery_id, at, status_code, error, duration_ms"
    };
}
/// How many columns `passkey_columns!` has: where the user's columns start after them.
const PASSKEY_COLUMNS: usize = 22;
/// How many columns `user_columns!` and `joined_user_columns!` have.
const USER_COLUMNS: usize = 8;

mod key_cache;
mod migrate;
mod pending;
pub mod postgres;
mod row_hints;
pub mod sqlite;
mod wal_sync;

use async_trait::async_trait;
use std::sync::Arc;

pub use postgres::PostgresStore;

pub use sqlite::SqliteStore;

/// Unix time in milliseconds.
pub type Millis = i64;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the payload names what was duplicated
    /// (`"app_id"`, `"credential_id"`, `"external_id"`, `"api_key"`; and, when a caller-drawn
    /// random value collides, `"user_id"`, `"user_handle"`, `"passkey_id"`, `"ceremony_id"`).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The user already has the maximum number of passkeys.
    #[error("the user already has {limit} passkeys, the most allowed")]
    LimitReached {
        /// The limit in force.
        limit: u32,
    },
    /// A row the operation depends on does not exist (for example the user of a new passkey).
    #[error("{0} does not exist")]
    Missing(&'static str),
    /// The instance holds the most ceremonies it may (SQLite keeps them in memory); new ones
    /// are refused until expired ones are purged. The payload says how many that is.
    #[error("{0} ceremonies are pending, the most this instance holds")]
    TooManyCeremonies(usize),
    /// The database failed or could not be reached. The text is for logs, never for clients.
    #[error("database error: {0}")]
    Backend(String),
}

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An app (tenant): one relying party with its own users, passkeys and keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Public id, safe to put in a web page.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The app's settings as JSON; their meaning belongs to the server, not to the store.
    pub settings: String,
    /// When the app was created.
    pub created_at: Millis,
    /// When the app was last changed.
    pub updated_at: Millis,
}

/// A secret API key as stored: never the key itself, only its SHA-256 and a printable prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id (public, used to list and revoke).
    pub id: String,
    /// The app the key acts for.
    pub app_id: String,
    /// The first characters of the key, enough to recognise it in a list.
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: Vec<u8>,
    /// Optional label.
    pub name: Option<String>,
    /// When the key was created.
    pub created_at: Millis,
    /// When the key last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<Millis>,
    /// When the key was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<Millis>,
}

/// A user of an app, known to the app by its own `external_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Internal id.
    pub id: String,
    /// The app the user belongs to.
    pub app_id: String,
    /// The app's identifier for the user (unique within the app).
    pub external_id: String,
    /// The WebAuthn user handle: random bytes, unique within the app.
    pub handle: Vec<u8>,
    /// Account name shown by authenticators.
    pub username: Option<String>,
    /// Friendly name.
    pub display_name: Option<String>,
    /// When the user was created.
    pub created_at: Millis,
    /// When the user was last changed.
    pub updated_at: Millis,
}

/// Create a user, or update the names of an existing one, identified by `(app_id, external_id)`.
#[derive(Debug, Clone)]
pub struct UserUpsert {
    /// The app.
    pub app_id: String,
    /// The app's identifier for the user.
    pub external_id: String,
    /// New account name; `None` keeps the stored one.
    pub username: Option<String>,
    /// New friendly name; `None` keeps the stored one.
    pub display_name: Option<String>,
    /// Id for the user if it is created.
    pub new_id: String,
    /// User handle for the user if it is created.
    pub new_handle: Vec<u8>,
    /// The time of the change.
    pub now: Millis,
    /// Whether the write must reach the disk before it returns. A registration's start sets
    /// `false`: the user matters only once the ceremony's passkey is stored, and that insert is
    /// durable and commits after this write, so its sync makes this one durable too. A store
    /// may then write it relaxed (SQLite does); it never makes a durable write weaker.
    pub durable: bool,
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    /// Passkey id.
    pub id: String,
    /// The app.
    pub app_id: String,
    /// The owner's internal id.
    pub user_id: String,
    /// The owner's external id (filled in when read; ignored on insert).
    pub user_external_id: String,
    /// A name the user or app chose; `None` means `generated_name` is shown.
    pub name: Option<String>,
    /// The name made at registration from the authenticator model.
    pub generated_name: String,
    /// The credential id (unique within the app).
    pub credential_id: Vec<u8>,
    /// The COSE public key.
    pub public_key: Vec<u8>,
    /// The COSE algorithm identifier.
    pub alg: i64,
    /// The authenticator model, a UUID.
    pub aaguid: String,
    /// Transports the browser reported.
    pub transports: Vec<String>,
    /// BE: the credential may be synced.
    pub backup_eligible: bool,
    /// BS: the credential is synced, as last seen.
    pub backup_state: bool,
    /// UV at registration.
    pub user_verified: bool,
    /// `credProps.rk`, when reported.
    pub discoverable: Option<bool>,
    /// `platform` or `cross-platform`, when reported.
    pub attachment: Option<String>,
    /// The attestation statement format.
    pub attestation_format: String,
    /// The attestation type.
    pub attestation_type: String,
    /// The signature counter, as last seen.
    pub sign_count: i64,
    /// When registered.
    pub created_at: Millis,
    /// When last changed (renamed, used).
    pub updated_at: Millis,
    /// When last used to sign in.
    pub last_used_at: Option<Millis>,
}

impl Passkey {
    /// The name to show: the chosen one, else the generated one.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.generated_name)
    }
}

/// What a successful sign-in writes back to its passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The new signature counter. The stored counter never decreases, even if two sign-ins race.
    pub sign_count: i64,
    /// BS as seen now.
    pub backup_state: bool,
    /// The time of the sign-in.
    pub now: Millis,
}

/// A started ceremony: what the finishing call needs, kept until it is taken or it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// Ceremony id (random, handed to the caller).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// What kind of ceremony (`registration`, `authentication`, ...); the server's vocabulary.
    pub kind: String,
    /// The user, when known at the start.
    pub user_id: Option<String>,
    /// The server's state as JSON (challenge, requirements, ...).
    pub data: String,
    /// When it stops being usable.
    pub expires_at: Millis,
}

/// A browser session: a long-lived token (kept only as its SHA-256) that refreshes short JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id (public: the JWT's `sid`).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// The signed-in user.
    pub user_id: String,
    /// SHA-256 of the session token.
    pub token_hash: Vec<u8>,
    /// The passkey that signed in.
    pub passkey_id: Option<String>,
    /// When the session began.
    pub created_at: Millis,
    /// When a JWT was last issued for it.
    pub refreshed_at: Millis,
    /// When the user last proved possession of a passkey in it (sign-in or reverification).
    pub verified_at: Millis,
    /// When it ends.
    pub expires_at: Millis,
    /// When it was revoked (signed out, or by the backend).
    pub revoked_at: Option<Millis>,
    /// The browser's User-Agent at sign-in.
    pub user_agent: Option<String>,
    /// The client IP at sign-in.
    pub client_ip: Option<String>,
}

/// A key that signs an app's session JWTs. Retired keys stay (and stay published) until every
/// token they signed has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id (the JWT's `kid`).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// The JWS algorithm (`ES256`).
    pub alg: String,
    /// The private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// The public key as a JWK (JSON).
    pub public_jwk: String,
    /// When it was made.
    pub created_at: Millis,
    /// When it stopped signing.
    pub retired_at: Option<Millis>,
}

/// A one-time link that lets a new admin register a passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminInvite {
    /// Invite id (public, for listing).
    pub id: String,
    /// SHA-256 of the token in the link; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// The id the new admin will have.
    pub admin_id: String,
    /// The new admin's name, when the inviter gave one.
    pub name: Option<String>,
    /// Who invited (an admin id, or `cli`).
    pub created_by: Option<String>,
    /// When it was made.
    pub created_at: Millis,
    /// When it stops working.
    pub expires_at: Millis,
    /// When it was used; a used invite works no more.
    pub used_at: Option<Millis>,
}

/// A signed-in admin's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// SHA-256 of the cookie's token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// The admin.
    pub admin_id: String,
    /// The token state-changing requests must echo in a header.
    pub csrf_token: String,
    /// When the admin signed in.
    pub created_at: Millis,
    /// When the session was last used (the idle timeout counts from here).
    pub last_seen_at: Millis,
    /// When it ends whatever the activity.
    pub expires_at: Millis,
}

/// What deleting one of several rows did when the last one must stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardedDelete {
    /// The row is gone.
    Deleted,
    /// There was no such row.
    Missing,
    /// It was the last one that counts, so it stays.
    LastOne,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Entry id (random; with `at` it orders entries of one millisecond).
    pub id: String,
    /// When it happened.
    pub at: Millis,
    /// The app, when the event belongs to one.
    pub app_id: Option<String>,
    /// What happened (`signin.failed`, `passkey.deleted`, `admin.signin.succeeded`, ...).
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// The user concerned (the app's external id).
    pub user_id: Option<String>,
    /// The passkey concerned.
    pub passkey_id: Option<String>,
    /// Who acted: `key:<prefix>`, `browser`, `admin:<id>`, `cli`, ...
    pub actor: String,
    /// The client's IP, when the event came over HTTP.
    pub ip: Option<String>,
    /// The client's User-Agent, when it sent one.
    pub user_agent: Option<String>,
    /// More about the event, as a JSON object.
    pub detail: String,
}

/// Which audit entries to read. Every `Some` narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this app's entries.
    pub app_id: Option<String>,
    /// Only this event type.
    pub event: Option<String>,
    /// Only this user's entries.
    pub user_id: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<Millis>,
    /// Only entries before this time.
    pub until: Option<Millis>,
    /// Only entries older than this one (`at`, `id`): the cursor of the previous page.
    pub before: Option<(Millis, String)>,
}

/// How many audit entries of one kind fell on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// The event type.
    pub event: String,
    /// The outcome.
    pub outcome: String,
    /// The error code, for failures.
    pub error_code: Option<String>,
    /// How many.
    pub count: i64,
}

/// How many of an app's passkeys share a model and a backup eligibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCount {
    /// The authenticator model.
    pub aaguid: String,
    /// BE: whether they may be synced.
    pub backup_eligible: bool,
    /// How many.
    pub count: i64,
}

/// A URL an app's events are posted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Endpoint id.
    pub id: String,
    /// The app whose events it receives.
    pub app_id: String,
    /// Where deliveries are posted.
    pub url: String,
    /// The signing secret. Stored in clear because signing needs it; never logged.
    pub secret: String,
    /// The event types it subscribes to.
    pub events: Vec<String>,
    /// A disabled endpoint gets no new deliveries.
    pub enabled: bool,
    /// A note for admins.
    pub description: Option<String>,
    /// When it was made.
    pub created_at: Millis,
    /// When it was last changed.
    pub updated_at: Millis,
}

/// One event queued for, or delivered to, one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Delivery id.
    pub id: String,
    /// The order of deliveries, set by the store (ignored on insert).
    pub seq: i64,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's app.
    pub app_id: String,
    /// The audit entry it reports.
    pub event_id: String,
    /// The event type.
    pub event: String,
    /// The JSON body to post.
    pub payload: String,
    /// `pending`, `succeeded` or `failed` (given up).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Millis,
    /// When it was queued.
    pub created_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// Attempt id.
    pub id: String,
    /// The delivery.
    pub delivery_id: String,
    /// When it was made.
    pub at: Millis,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// One storage backend. Every method is scoped by app where the data belongs to an app, so a
/// caller holding one app's key can never reach another app's rows.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Creates an app; `Conflict("app_id")` if the id is taken.
    async fn create_app(&self, app: &App) -> Result<()>;
    /// Creates or replaces an app by id (apps declared in the configuration file). An existing
    /// app keeps its `created_at`.
    async fn put_app(&self, app: &App) -> Result<()>;
    /// [`Store::put_app`], unless the stored app already has this name and these settings;
    /// true if it wrote. A restart with an unchanged configuration then writes nothing, so it
    /// waits for no flush to disk before it serves.
    async fn put_app_if_changed(&self, app: &App) -> Result<bool> {
        if let Some(stored) = self.get_app(&app.id).await? {
            if stored.name == app.name && stored.settings == app.settings {
                return Ok(false);
            }
        }
        self.put_app(app).await?;
        Ok(true)
    }
    /// One app.
    async fn get_app(&self, id: &str) -> Result<Option<App>>;
    /// Every app, by id.
    async fn list_apps(&self) -> Result<Vec<App>>;
    /// Replaces an app's name and settings (and `updated_at`); false if there is no such app.
    async fn update_app(&self, app: &App) -> Result<bool>;
    /// Deletes an app with its keys, users, passkeys and ceremonies; false if there is none.
    async fn delete_app(&self, id: &str) -> Result<bool>;

    /// Stores a new key; `Missing("app")` if the app does not exist.
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    /// An app's keys, revoked ones included, oldest first.
    async fn list_api_keys(&self, app_id: &str) -> Result<Vec<ApiKey>>;
    /// Revokes a key; false if the app has no such key or it was revoked already.
    async fn revoke_api_key(&self, app_id: &str, key_id: &str, now: Millis) -> Result<bool>;
    /// The key whose SHA-256 is `hash`, revoked or not.
    async fn find_api_key(&self, hash: &[u8]) -> Result<Option<ApiKey>>;
    /// The key whose SHA-256 is `hash` with its app, in one read: what every backend request
    /// starts with.
    async fn find_api_key_with_app(&self, hash: &[u8]) -> Result<Option<(ApiKey, App)>>;
    /// Records that a key was used.
    async fn touch_api_key(&self, key_id: &str, now: Millis) -> Result<()>;

    /// Creates the user or updates its names; returns the user and whether it was created.
    /// `Missing("app")` if the app does not exist.
    async fn upsert_user(&self, user: &UserUpsert) -> Result<(User, bool)>;
    /// A user by external id.
    async fn get_user(&self, app_id: &str, external_id: &str) -> Result<Option<User>>;
    /// A user by external id with its passkeys (oldest first), in one read: what a
    /// username-first sign-in and a registration start with.
    async fn get_user_with_passkeys(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<Option<(User, Vec<Passkey>)>>;
    /// A user by internal id.
    async fn get_user_by_id(&self, app_id: &str, user_id: &str) -> Result<Option<User>>;
    /// A user by WebAuthn user handle.
    async fn get_user_by_handle(&self, app_id: &str, handle: &[u8]) -> Result<Option<User>>;
    /// Up to `limit` users ordered by external id, starting after `after`.
    async fn list_users(&self, app_id: &str, after: Option<&str>, limit: u32) -> Result<Vec<User>>;
    /// Deletes a user and their passkeys; false if there is no such user.
    async fn delete_user(&self, app_id: &str, external_id: &str) -> Result<bool>;

    /// Stores a new passkey unless its owner already has `max_per_user` of them
    /// (`LimitReached`) or the app already has this credential id (`Conflict("credential_id")`).
    /// The count and the insert are one transaction, so racing registrations cannot pass the
    /// limit. `Missing("user")` if the owner does not exist.
    async fn insert_passkey(&self, passkey: &Passkey, max_per_user: u32) -> Result<()>;
    /// Stores a new user with its first passkey, in one durable transaction: how a registration
    /// of a user the app has not registered before ends, so that a registration abandoned after
    /// its start leaves no user behind. `Conflict("external_id")` if the app has such a user
    /// already (another registration created it meanwhile), `Conflict("credential_id")` as for
    /// [`Store::insert_passkey`], `Missing("app")` if the app is gone.
    async fn insert_user_with_passkey(&self, user: &User, passkey: &Passkey) -> Result<()>;
    /// A user's passkeys, oldest first.
    async fn list_passkeys(&self, app_id: &str, user_id: &str) -> Result<Vec<Passkey>>;
    /// One passkey by id.
    async fn get_passkey(&self, app_id: &str, id: &str) -> Result<Option<Passkey>>;
    /// One passkey by credential id with its owner, in one read: what a sign-in's finish needs.
    async fn find_passkey_with_user(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<(Passkey, User)>>;
    /// One passkey by credential id.
    async fn find_passkey_by_credential(
        &self,
        app_id: &str,
        credential_id: &[u8],
    ) -> Result<Option<Passkey>>;
    /// Sets (or with `None` clears) a passkey's chosen name; the updated passkey, or `None`.
    async fn rename_passkey(
        &self,
        app_id: &str,
        id: &str,
        name: Option<&str>,
        now: Millis,
    ) -> Result<Option<Passkey>>;
    /// Deletes one passkey; false if there is no such passkey.
    async fn delete_passkey(&self, app_id: &str, id: &str) -> Result<bool>;
    /// Deletes all of a user's passkeys; how many there were.
    async fn delete_user_passkeys(&self, app_id: &str, user_id: &str) -> Result<u64>;
    /// Writes back a sign-in to passkey `id`, found by its credential id; false if it is gone
    /// (a passkey deleted and registered again with the same credential id is another passkey).
    /// Through the credential id's index: the sign-in has just found the passkey that way, so
    /// the write finds its pages in the cache.
    async fn record_passkey_use(
        &self,
        app_id: &str,
        id: &str,
        credential_id: &[u8],
        used: PasskeyUse,
    ) -> Result<bool>;

    /// Imports users and passkeys in bulk, in one transaction per call: for migrations from
    /// another provider and for the benchmark's seeding, where inserting a million rows one
    /// registration at a time would take hours.
    ///
    /// Every row is written as given (ids, handles, counters and times included); a passkey's
    /// `user_external_id` is ignored, as on insert. The per-user passkey limit is not checked:
    /// the rows come from a system that already enforced its own. Any conflict (a duplicated
    /// id, external id, user handle or credential id, against stored rows or within the batch)
    /// fails the whole batch with `Conflict`, and nothing of it is stored. A passkey whose owner
    /// is neither in `users` nor stored in the passkey's app fails it with `Missing("user")`; a
    /// user whose app does not exist, with `Missing("app")`.
    async fn import(&self, users: &[User], passkeys: &[Passkey]) -> Result<()>;

    /// Stores a started ceremony.
    async fn put_ceremony(&self, ceremony: &Ceremony) -> Result<()>;
    /// Removes and returns a ceremony in one atomic step, expired or not (the caller tells the
    /// two apart, to give the right error). Of concurrent calls for one id, exactly one gets it.
    async fn take_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>>;
    /// Reads a ceremony without consuming it (for long-lived rows such as the demo's sessions).
    async fn get_ceremony(&self, app_id: &str, id: &str) -> Result<Option<Ceremony>>;
    /// Deletes one ceremony; false if there was none.
    async fn delete_ceremony(&self, app_id: &str, id: &str) -> Result<bool>;
    /// Deletes ceremonies and sessions that expired before `now`; how many.
    async fn purge_expired(&self, now: Millis) -> Result<u64>;
    /// Called by `passkeyd serve` before it serves. SQLite keeps ceremonies in the serving
    /// process, so it locks the database for this handle: a second server on the same file is
    /// refused with `Backend` naming the file (command-line management still works beside it).
    /// PostgreSQL, which instances share, accepts any number.
    async fn claim_for_server(&self) -> Result<()> {
        Ok(())
    }

    /// Stores a new session; `Missing("user")` if the user is gone.
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// The session whose token has SHA-256 `token_hash`, revoked or expired or not.
    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>>;
    /// One session by id.
    async fn get_session(&self, app_id: &str, id: &str) -> Result<Option<Session>>;
    /// A user's sessions that are not revoked (expired ones included until purged), newest first.
    async fn list_sessions(&self, app_id: &str, user_id: &str) -> Result<Vec<Session>>;
    /// Records a refresh; false if there is no such live session.
    async fn touch_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool>;
    /// Records a passkey verification within the session; false if there is no such live session.
    async fn verify_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool>;
    /// Revokes one session; false if there is none, or it was revoked already.
    async fn revoke_session(&self, app_id: &str, id: &str, now: Millis) -> Result<bool>;
    /// Revokes all of a user's sessions; how many.
    async fn revoke_user_sessions(&self, app_id: &str, user_id: &str, now: Millis) -> Result<u64>;

    /// Stores a signing key; `Missing("app")` if the app is gone.
    async fn add_signing_key(&self, key: &SigningKey) -> Result<()>;
    /// An app's signing keys, newest first, retired ones included.
    async fn list_signing_keys(&self, app_id: &str) -> Result<Vec<SigningKey>>;
    /// Retires every active signing key of an app; how many.
    async fn retire_signing_keys(&self, app_id: &str, now: Millis) -> Result<u64>;

    // Admins are the users of the server's internal admin app; these keep what that app cannot.

    /// Stores an invite; `Conflict("admin_invite")` if its id or token is taken.
    async fn create_admin_invite(&self, invite: &AdminInvite) -> Result<()>;
    /// The invite whose token hashes to `token_hash`, used or not.
    async fn get_admin_invite(&self, token_hash: &[u8]) -> Result<Option<AdminInvite>>;
    /// Marks an invite used, unless it is used already or expired at `now`; whether it was.
    /// Of concurrent calls for one invite, at most one succeeds.
    async fn use_admin_invite(&self, token_hash: &[u8], now: Millis) -> Result<bool>;
    /// Invites neither used nor expired at `now`, newest first.
    async fn list_admin_invites(&self, now: Millis) -> Result<Vec<AdminInvite>>;
    /// Deletes an unused invite by id; false if there is none.
    async fn delete_admin_invite(&self, id: &str) -> Result<bool>;
    /// Stores a session.
    async fn create_admin_session(&self, session: &AdminSession) -> Result<()>;
    /// The session whose token hashes to `token_hash`.
    async fn get_admin_session(&self, token_hash: &[u8]) -> Result<Option<AdminSession>>;
    /// Records a session's use (`last_seen_at` never moves back).
    async fn touch_admin_session(&self, token_hash: &[u8], now: Millis) -> Result<()>;
    /// Ends one session; false if there was none.
    async fn delete_admin_session(&self, token_hash: &[u8]) -> Result<bool>;
    /// Ends all of an admin's sessions; how many.
    async fn delete_admin_sessions(&self, admin_id: &str) -> Result<u64>;
    /// Deletes sessions past `expires_at` or idle since before `idle_since`, and invites that
    /// expired before `now`; how many rows went.
    async fn purge_admin(&self, now: Millis, idle_since: Millis) -> Result<u64>;
    /// Deletes a user of `app_id` unless it is the last user there with a passkey (the last
    /// admin); the check and the delete are one transaction.
    async fn delete_user_unless_last(
        &self,
        app_id: &str,
        external_id: &str,
    ) -> Result<GuardedDelete>;
    /// Up to `limit` users whose external id or username contains `text` (ignoring ASCII case),
    /// ordered by external id.
    async fn search_users(&self, app_id: &str, text: &str, limit: u32) -> Result<Vec<User>>;

    /// Appends entries to the audit log in one transaction: all of them or, on any conflict,
    /// none. The server's audit writer hands over everything recorded since its last batch.
    async fn insert_audit_entries(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Appends one entry to the audit log.
    async fn insert_audit_entry(&self, entry: &AuditEntry) -> Result<()> {
        self.insert_audit_entries(std::slice::from_ref(entry)).await
    }
    /// Up to `limit` entries matching the filter, newest first.
    async fn list_audit_entries(&self, filter: &AuditFilter, limit: u32)
        -> Result<Vec<AuditEntry>>;
    /// One entry.
    async fn get_audit_entry(&self, id: &str) -> Result<Option<AuditEntry>>;
    /// Entries since `since` counted per day, event, outcome and error code (of one app, or of
    /// every app and none).
    async fn audit_counts(&self, app_id: Option<&str>, since: Millis) -> Result<Vec<AuditCount>>;
    /// Deletes entries older than `before`; how many.
    async fn purge_audit(&self, before: Millis) -> Result<u64>;
    /// An app's passkeys counted per model and backup eligibility.
    async fn passkey_counts(&self, app_id: &str) -> Result<Vec<PasskeyCount>>;

    /// Stores an endpoint; `Missing("app")` if the app does not exist.
    async fn create_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    /// An app's endpoints, oldest first.
    async fn list_webhook_endpoints(&self, app_id: &str) -> Result<Vec<WebhookEndpoint>>;
    /// One endpoint.
    async fn get_webhook_endpoint(&self, app_id: &str, id: &str)
        -> Result<Option<WebhookEndpoint>>;
    /// Replaces an endpoint's url, events, enabled flag, description and `updated_at`; false if
    /// the app has no such endpoint.
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool>;
    /// Deletes an endpoint with its deliveries; false if there is none.
    async fn delete_webhook_endpoint(&self, app_id: &str, id: &str) -> Result<bool>;
    /// Queues deliveries, in the order given, in one transaction.
    async fn enqueue_webhook_deliveries(&self, deliveries: &[WebhookDelivery]) -> Result<()>;
    /// Up to `limit` deliveries due at `now`: for each endpoint only its oldest pending one, so
    /// an endpoint receives its events in order.
    async fn due_webhook_deliveries(&self, now: Millis, limit: u32)
        -> Result<Vec<WebhookDelivery>>;
    /// Claims a due delivery for one attempt by moving its next attempt to `lease_until`;
    /// false if it is no longer due (another worker claimed it).
    async fn claim_webhook_delivery(
        &self,
        id: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<bool>;
    /// Records an attempt and the delivery's new state (`status`, `next_attempt_at`) together.
    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        status: &str,
        next_attempt_at: Millis,
    ) -> Result<()>;
    /// An endpoint's latest `limit` deliveries, newest first.
    async fn list_webhook_deliveries(
        &self,
        app_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
    /// A delivery's attempts, oldest first.
    async fn list_webhook_attempts(&self, delivery_id: &str) -> Result<Vec<WebhookAttempt>>;
    /// Deletes finished (not pending) deliveries created before `before`; how many.
    async fn purge_webhook_deliveries(&self, before: Millis) -> Result<u64>;
}

/// The owners an import must look up in the database: the `(app_id, user_id)` of every passkey
/// whose owner is not among the imported users. An owner that is imported, but into another app
/// than its passkey, fails the import with `Missing("user")` here, before anything is written.
fn owners_to_check<'a>(users: &[User], passkeys: &'a [Passkey]) -> Result<Vec<(&'a str, &'a str)>> {
    let imported: std::collections::HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.app_id.as_str()))
        .collect();
    let mut elsewhere = Vec::new();
    for p in passkeys {
        match imported.get(p.user_id.as_str()) {
            Some(app_id) if *app_id == p.app_id => {}
            Some(_) => return Err(StoreError::Missing("user")),
            None => elsewhere.push((p.app_id.as_str(), p.user_id.as_str())),
        }
    }
    Ok(elsewhere)
}

/// A store shared by every request handler.
pub type SharedStore = Arc<dyn Store>;

/// Opens the store a database URL names: `postgres://...` (or `postgresql://`) for PostgreSQL,
/// otherwise `sqlite:PATH` or a plain path for SQLite. Migrations run before it returns.
pub async fn open(url: &str) -> Result<SharedStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    }
}
