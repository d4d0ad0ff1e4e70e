//! The browser integration (Passage Passkey Flex's flow): the backend asks for a transaction, the
//! browser completes the ceremony through the public endpoints and gets a single-use nonce, and
//! the backend trades the nonce for the user. Transactions and nonces are bearer secrets: they
//! are stored only as SHA-256 (in the ceremonies table, so they are shared by every instance,
//! single-use through the same atomic take, and purged when they expire).

use crate::ceremony::{
    AuthenticationStarted, Channel, FinishCeremony, RegistrationStarted, StartAuthentication,
    StartRegistration,
};
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{check_external_id, check_text, now_ms, Service};
use crate::sessions::{NewSession, SessionTransport, TokenIssued};
use crate::settings::AppContext;
use crate::views::timestamp;
use passkeyd_core::error::hex;
use passkeyd_store::Ceremony;
use serde::{Deserialize, Serialize};

/// How long a nonce can be traded for its user: long enough for the browser to hand it to the
/// app's backend, short enough that a leaked one is soon worthless.
pub const NONCE_TTL_MS: i64 = 120_000;
/// The longest token (transaction id or nonce) looked at; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 128;

/// What a transaction allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Register a passkey for the user.
    Register,
    /// Sign the user in.
    Authenticate,
}

impl TransactionKind {
    fn row_kind(self) -> &'static str {
        match self {
            TransactionKind::Register => "transaction_register",
            TransactionKind::Authenticate => "transaction_authenticate",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TransactionData {
    external_id: String,
}

/// `POST /v1/transactions/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterTransaction {
    /// The app's identifier for the user; the user is created if new.
    pub external_id: String,
    /// The account name the passkey is saved under, shown in the device's passkey list (an email
    /// or handle); stored as the user's username. Defaults to the stored one, then the external id.
    #[serde(default)]
    pub passkey_display_name: Option<String>,
    /// Friendly name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `POST /v1/transactions/authenticate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateTransaction {
    /// The user who is to sign in.
    pub external_id: String,
}

/// A transaction for the browser to complete.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Transaction {
    /// Hand this to the browser SDK (`register(transactionId)` or `authenticate({transactionId})`).
    pub transaction_id: String,
    /// When it stops being usable (RFC 3339).
    pub expires_at: String,
}

/// `POST /v1/apps/{app_id}/registrations/start`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserStartRegistration {
    /// The transaction the backend created.
    pub transaction_id: String,
    /// A name for the new passkey (1 to 64 characters); by default it is named after the
    /// authenticator.
    #[serde(default)]
    pub passkey_name: Option<String>,
}

/// `POST /v1/apps/{app_id}/authentications/start`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserStartAuthentication {
    /// A transaction for a username-first sign-in; omit for a discoverable or autofill sign-in.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// `conditional` for autofill, else `optional` (the default); recorded in metrics only, the
    /// options are the same.
    #[serde(default)]
    pub mediation: Option<String>,
}

/// A finished browser ceremony.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NonceIssued {
    /// Single-use proof of the ceremony for the app's backend (`POST /v1/nonces/verify`).
    pub nonce: String,
    /// The session the ceremony started, when the app has sessions on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionIssued>,
}

/// A session started by a browser ceremony.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionIssued {
    /// The JWT and the session.
    #[serde(flatten)]
    pub issued: TokenIssued,
    /// The session token, only when `session_transport` was `token` (otherwise it is in an
    /// HttpOnly cookie the page cannot read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Who is on the other end of a browser call, recorded with the sessions it starts.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The User-Agent header.
    pub user_agent: Option<String>,
    /// The client IP.
    pub ip: Option<String>,
}

/// `POST /v1/nonces/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyNonce {
    /// The nonce the browser got.
    pub nonce: String,
}

/// What a nonce proves.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NonceClaims {
    /// The user who registered or signed in.
    pub external_id: String,
    /// The passkey registered or used.
    pub passkey_id: String,
    /// `registration` or `authentication`.
    pub kind: String,
    /// Whether the user was verified (biometrics or PIN).
    pub user_verified: bool,
}

/// The stored id of a bearer token: its SHA-256, so a database leak reveals no usable token.
fn token_row_id(prefix: &str, token: &str) -> String {
    format!("{prefix}:{}", hex(&secrets::hash_key(token)))
}

fn invalid_transaction() -> ApiError {
    ApiError::new(
        Kind::Refused,
        "invalid_transaction",
        "the transaction is unknown, used already, expired, or for another kind of ceremony; ask the backend for a new one",
    )
}

fn invalid_nonce() -> ApiError {
    ApiError::new(
        Kind::Refused,
        "invalid_nonce",
        "the nonce is unknown, used already, expired, or belongs to another app",
    )
}

impl Service {
    /// Creates a transaction for the browser to complete.
    pub async fn create_transaction(
        &self,
        app: &AppContext,
        kind: TransactionKind,
        external_id: &str,
        username: Option<&str>,
        display_name: Option<&str>,
    ) -> ApiResult<Transaction> {
        check_external_id(external_id)?;
        match kind {
            TransactionKind::Register => {
                self.upsert_user(app, external_id, username, display_name)
                    .await?;
            }
            TransactionKind::Authenticate => {
                let user = self.user(app, external_id).await?;
                if self
                    .store
                    .list_passkeys(&app.id, &user.id)
                    .await?
                    .is_empty()
                {
                    return Err(ApiError::new(
                        Kind::Refused,
                        "no_passkeys",
                        format!("user {external_id:?} has no passkeys"),
                    ));
                }
            }
        }
        let token = format!(
            "txn_{}",
            passkeyd_core::b64::encode(&secrets::random_bytes(32)?)
        );
        let expires_at = now_ms() + app.ttl_millis();
        let data = TransactionData {
            external_id: external_id.to_owned(),
        };
        self.store
            .put_ceremony(&Ceremony {
                id: token_row_id("txn", &token),
                app_id: app.id.clone(),
                kind: kind.row_kind().to_owned(),
                user_id: None,
                data: serde_json::to_string(&data).map_err(ApiError::internal)?,
                expires_at,
            })
            .await?;
        Ok(Transaction {
            transaction_id: token,
            expires_at: timestamp(expires_at),
        })
    }

    /// Takes a transaction (it is single-use) and returns the user it is for.
    async fn take_transaction(
        &self,
        app: &AppContext,
        token: &str,
        kind: TransactionKind,
    ) -> ApiResult<String> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(invalid_transaction());
        }
        let row = self
            .store
            .take_ceremony(&app.id, &token_row_id("txn", token))
            .await?
            .ok_or_else(invalid_transaction)?;
        if row.kind != kind.row_kind() || row.expires_at < now_ms() {
            return Err(invalid_transaction());
        }
        let data: TransactionData = serde_json::from_str(&row.data)
            .map_err(|e| ApiError::internal(format!("stored transaction is unreadable: {e}")))?;
        Ok(data.external_id)
    }

    /// The browser starts the registration a transaction allows.
    pub async fn browser_start_registration(
        &self,
        app: &AppContext,
        req: &BrowserStartRegistration,
    ) -> ApiResult<RegistrationStarted> {
        if let Some(name) = &req.passkey_name {
            check_text("passkey_name", name, 64)?;
        }
        let external_id = self
            .take_transaction(app, &req.transaction_id, TransactionKind::Register)
            .await?;
        let start = StartRegistration {
            external_id,
            username: None,
            display_name: None,
            passkey_name: req.passkey_name.clone(),
            authenticator_attachment: None,
            resident_key: None,
            user_verification: None,
            reserved_passkey_id: None,
        };
        self.start_registration(app, &start, Channel::Browser).await
    }

    /// The browser finishes a registration and gets a nonce for it (and a session, when the app
    /// has them: the user just proved possession of the new passkey).
    pub async fn browser_finish_registration(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        client: &Client,
    ) -> ApiResult<(NonceIssued, Option<NewSession>)> {
        let passkey = self.finish_registration(app, req, Channel::Browser).await?;
        let claims = NonceClaims {
            external_id: passkey.external_id,
            passkey_id: passkey.id,
            kind: "registration".into(),
            user_verified: passkey.user_verified,
        };
        self.finish_browser_ceremony(app, req, client, claims).await
    }

    /// The browser starts a sign-in: for a transaction's user, or discoverable.
    pub async fn browser_start_authentication(
        &self,
        app: &AppContext,
        req: &BrowserStartAuthentication,
    ) -> ApiResult<AuthenticationStarted> {
        if let Some(m) = &req.mediation {
            if !matches!(
                m.as_str(),
                "conditional" | "optional" | "required" | "silent"
            ) {
                return Err(ApiError::invalid(
                    "mediation",
                    "must be conditional, optional, required or silent",
                ));
            }
        }
        let external_id = match &req.transaction_id {
            Some(token) => Some(
                self.take_transaction(app, token, TransactionKind::Authenticate)
                    .await?,
            ),
            None => None,
        };
        let start = StartAuthentication {
            external_id,
            user_verification: None,
        };
        self.start_authentication(app, &start, Channel::Browser)
            .await
    }

    /// The browser finishes a sign-in and gets a nonce for it (and a session, when the app has
    /// them).
    pub async fn browser_finish_authentication(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        client: &Client,
    ) -> ApiResult<(NonceIssued, Option<NewSession>)> {
        let done = self
            .finish_authentication(app, req, Channel::Browser)
            .await?;
        let claims = NonceClaims {
            external_id: done.user.external_id,
            passkey_id: done.passkey.id,
            kind: "authentication".into(),
            user_verified: done.user_verified,
        };
        self.finish_browser_ceremony(app, req, client, claims).await
    }

    async fn finish_browser_ceremony(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        client: &Client,
        claims: NonceClaims,
    ) -> ApiResult<(NonceIssued, Option<NewSession>)> {
        let transport = req.session_transport.unwrap_or_default();
        let session = if app.settings.sessions && transport != SessionTransport::None {
            Some(
                self.create_session(
                    app,
                    &claims.external_id,
                    &claims.passkey_id,
                    client.user_agent.as_deref(),
                    client.ip.as_deref(),
                )
                .await?,
            )
        } else {
            None
        };
        let nonce = self.issue_nonce(app, claims).await?;
        let issued = session.as_ref().map(|s| SessionIssued {
            issued: s.issued.clone(),
            token: (transport == SessionTransport::Token).then(|| s.token.clone()),
        });
        Ok((
            NonceIssued {
                nonce,
                session: issued,
            },
            session.filter(|_| transport == SessionTransport::Cookie),
        ))
    }

    async fn issue_nonce(&self, app: &AppContext, claims: NonceClaims) -> ApiResult<String> {
        let nonce = format!(
            "nonce_{}",
            passkeyd_core::b64::encode(&secrets::random_bytes(32)?)
        );
        self.store
            .put_ceremony(&Ceremony {
                id: token_row_id("nonce", &nonce),
                app_id: app.id.clone(),
                kind: "nonce".into(),
                user_id: None,
                data: serde_json::to_string(&claims).map_err(ApiError::internal)?,
                expires_at: now_ms() + NONCE_TTL_MS,
            })
            .await?;
        Ok(nonce)
    }

    /// Trades a nonce for what it proves, exactly once.
    pub async fn verify_nonce(&self, app: &AppContext, nonce: &str) -> ApiResult<NonceClaims> {
        if nonce.is_empty() || nonce.len() > MAX_TOKEN_LEN {
            return Err(invalid_nonce());
        }
        let row = self
            .store
            .take_ceremony(&app.id, &token_row_id("nonce", nonce))
            .await?
            .ok_or_else(invalid_nonce)?;
        if row.kind != "nonce" || row.expires_at < now_ms() {
            return Err(invalid_nonce());
        }
        serde_json::from_str(&row.data)
            .map_err(|e| ApiError::internal(format!("stored nonce is unreadable: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rows_hold_no_token() {
        let id = token_row_id("nonce", "nonce_secret");
        assert!(id.starts_with("nonce:") && !id.contains("secret"));
        assert_eq!(id.len(), "nonce:".len() + 64);
        assert_ne!(id, token_row_id("txn", "nonce_secret"));
    }
}
