//! The server's one error type: a kind (which the HTTP layer turns into a status), a stable
//! snake_case code and a message for humans. Every endpoint answers errors in the same JSON shape,
//! `{"error": {"code", "message", "request_id"}}`, documented in `docs/api.md`.

use passkeyd_store::StoreError;
use std::fmt;

/// What sort of failure an [`ApiError`] is. The domain chooses the kind; only `server.rs`
/// knows which HTTP status each kind becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request itself is malformed (bad JSON, wrong types, out-of-range values).
    Invalid,
    /// No credentials, or credentials that authenticate nothing.
    Unauthenticated,
    /// The thing does not exist (or belongs to another app, which must not be told apart).
    NotFound,
    /// The request conflicts with the current state (limit reached, already registered).
    Conflict,
    /// A ceremony was refused: the response failed verification or a policy.
    Refused,
    /// The caller may not do this (a foreign origin, a cross-site request).
    Forbidden,
    /// Too many requests; retry later.
    RateLimited,
    /// A dependency (the database) is unavailable.
    Unavailable,
    /// A bug or an unexpected failure; details go to the log only.
    Internal,
}

/// An error with a stable code. `message` is safe to show to the caller: internal details are
/// never put in it (they go to `detail`, which is only logged).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The kind, which decides the HTTP status.
    pub kind: Kind,
    /// The stable machine code.
    pub code: &'static str,
    /// A message for humans.
    pub message: String,
    /// What went wrong inside, for the log; never sent to clients.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// A malformed request (`invalid_request`) naming the field at fault.
    pub fn invalid(field: &str, reason: impl fmt::Display) -> Self {
        ApiError::new(
            Kind::Invalid,
            "invalid_request",
            format!("{field}: {reason}"),
        )
    }

    /// A missing thing, with its own code (`user_not_found`, `passkey_not_found`, ...).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(Kind::NotFound, code, message)
    }

    /// An unexpected failure: the caller sees only `internal_error` and the request id.
    pub fn internal(detail: impl fmt::Display) -> Self {
        ApiError {
            kind: Kind::Internal,
            code: "internal_error",
            message: "an internal error occurred; the request id identifies it in the server log"
                .into(),
            detail: Some(detail.to_string()),
        }
    }

    /// The server's own codes, with their kinds and meaning, for the documentation and the
    /// OpenAPI document. The verification core's codes (`passkeyd_core::Error::CODES`) are
    /// answered with kind `Refused` as well.
    pub const CODES: &'static [(&'static str, Kind, &'static str)] = &[
        ("invalid_json", Kind::Invalid, "The body is not valid JSON."),
        (
            "invalid_request",
            Kind::Invalid,
            "A field is missing, has the wrong type, is unknown or is out of range; the message names it.",
        ),
        ("body_too_large", Kind::Invalid, "The body is larger than the server accepts (64 KiB)."),
        ("missing_api_key", Kind::Unauthenticated, "No `Authorization: Bearer <secret key>` header."),
        ("invalid_api_key", Kind::Unauthenticated, "The key is unknown or revoked."),
        ("route_not_found", Kind::NotFound, "No such endpoint."),
        ("method_not_allowed", Kind::Invalid, "The endpoint exists but not with this method."),
        ("user_not_found", Kind::NotFound, "The app has no user with this external id."),
        ("passkey_not_found", Kind::NotFound, "The app has no passkey with this id."),
        (
            "ceremony_not_found",
            Kind::NotFound,
            "No ceremony with this id is waiting: it never existed, was finished already, or belongs to another app.",
        ),
        ("ceremony_expired", Kind::Refused, "The ceremony was started too long ago; start a new one."),
        ("too_many_passkeys", Kind::Conflict, "The user has the most passkeys the app allows."),
        ("passkey_exists", Kind::Conflict, "This credential is already registered in the app."),
        (
            "registration_conflict",
            Kind::Conflict,
            "Another registration created this user while this one ran (the new passkey was made for a user handle that is not the user's); start a new registration.",
        ),
        ("no_passkeys", Kind::Refused, "The user has no passkeys to sign in with."),
        (
            "unknown_credential",
            Kind::Refused,
            "The response names a credential the app does not have (deleted, or never registered).",
        ),
        (
            "backup_policy_violation",
            Kind::Refused,
            "The passkey is synced (or device-bound) and the app's backup policy does not allow that.",
        ),
        (
            "invalid_transaction",
            Kind::Refused,
            "The transaction is unknown, used already, expired, or for another kind of ceremony.",
        ),
        (
            "invalid_nonce",
            Kind::Refused,
            "The nonce is unknown, used already, expired, or belongs to another app.",
        ),
        ("app_not_found", Kind::NotFound, "No app with this id."),
        ("invalid_session", Kind::Unauthenticated, "No live session: the cookie or session token is missing, unknown, revoked or expired."),
        ("invalid_token", Kind::Refused, "The session JWT is malformed, forged, expired, revoked, or for another app."),
        ("session_not_found", Kind::NotFound, "The app has no live session with this id."),
        (
            "reverification_required",
            Kind::Forbidden,
            "The action needs a passkey verification within the app's reverification window; verify again and retry.",
        ),
        (
            "origin_not_allowed",
            Kind::Forbidden,
            "The request's Origin is not one of the app's origins.",
        ),
        (
            "rate_limited",
            Kind::RateLimited,
            "Too many requests from this client or to this app; retry after the Retry-After header's seconds.",
        ),
        ("username_taken", Kind::Conflict, "Demo only: a user with this name exists."),
        ("not_signed_in", Kind::Unauthenticated, "Demo only: no demo session."),
        ("app_exists", Kind::Conflict, "CLI: an app with this id exists already."),
        (
            "app_managed_by_config",
            Kind::Conflict,
            "CLI: the app is declared in the configuration file; change it there.",
        ),
        ("key_not_found", Kind::NotFound, "CLI: the app has no active key with this id."),
        (
            "admin_session_required",
            Kind::Unauthenticated,
            "Admin API: no admin session, or it ended (idle timeout, sign-out, admin removed).",
        ),
        (
            "csrf_failed",
            Kind::Forbidden,
            "Admin API: a state-changing call without the session's X-CSRF-Token.",
        ),
        (
            "invalid_invite",
            Kind::Refused,
            "Admin API: the invite link is unknown, used already or expired.",
        ),
        ("invite_not_found", Kind::NotFound, "Admin API: no unused invite with this id."),
        ("admin_not_found", Kind::NotFound, "Admin API: no admin with this id."),
        (
            "last_admin",
            Kind::Conflict,
            "Admin API: the last admin who can sign in cannot be removed.",
        ),
        ("webhook_not_found", Kind::NotFound, "Admin API: the app has no webhook with this id."),
        ("too_many_webhooks", Kind::Conflict, "Admin API: the app has the most webhooks allowed (20)."),
        ("audit_entry_not_found", Kind::NotFound, "Admin API: no audit entry with this id."),
        ("too_many_ceremonies", Kind::Unavailable, "SQLite: the server holds the most pending ceremonies it may (100,000); retry in a minute."),
        ("store_unavailable", Kind::Unavailable, "The database failed or cannot be reached; the request may be retried."),
        ("internal_error", Kind::Internal, "A bug or unexpected failure; see the server log for the request id."),
    ];
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<passkeyd_core::Error> for ApiError {
    fn from(e: passkeyd_core::Error) -> Self {
        ApiError::new(Kind::Refused, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    /// Only the store failures that no caller turned into something precise arrive here, so
    /// they are internal: the text goes to the log, never to the client.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TooManyCeremonies(limit) => ApiError {
                kind: Kind::Unavailable,
                code: "too_many_ceremonies",
                message: format!(
                    "{limit} ceremonies are waiting to be finished, the most this server holds; try again in a minute"
                ),
                detail: None,
            },
            StoreError::Backend(detail) => ApiError {
                kind: Kind::Unavailable,
                code: "store_unavailable",
                message: "the database failed or cannot be reached; try again".into(),
                detail: Some(detail),
            },
            other => ApiError::internal(other),
        }
    }
}

/// Shorthand for results of the server's operations.
pub type ApiResult<T> = Result<T, ApiError>;
