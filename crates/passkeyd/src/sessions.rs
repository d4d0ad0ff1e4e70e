//! Sessions (the Clerk model): a browser sign-in creates a session, held as a long-lived random
//! token (stored as SHA-256) that refreshes short-lived ES256 JWTs. Each app has its own signing
//! keys, published as JWKS; rotation retires the old key, which stays published until every token
//! it signed has expired. Also the signed-in user's own passkeys (`/v1/me/passkeys`), with
//! unverified passkeys that become real only when their ceremony succeeds, and reverification
//! for sensitive actions.

use crate::audit::Event;
use crate::ceremony::{
    AuthenticationStarted, Channel, FinishCeremony, StartAuthentication, StartRegistration,
};
use crate::error::{ApiError, ApiResult, Kind};
use crate::jwt::{self, Claims};
use crate::secrets;
use crate::service::{check_text, now_ms, passkey_not_found, Service};
use crate::settings::{AppContext, SensitiveAction};
use crate::views::{timestamp, PasskeyView, UserView};
use passkeyd_store::{Ceremony, Session, SigningKey, User};
use serde::{Deserialize, Serialize};

/// Prefix of session tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "pkd_st_";
/// How many verification attempts an unverified passkey allows.
pub const MAX_ATTEMPTS: u32 = 3;

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Session id (the JWT's `sid`).
    pub id: String,
    /// The passkey that signed in.
    pub passkey_id: Option<String>,
    /// When it began (RFC 3339).
    pub created_at: String,
    /// When a JWT was last issued (RFC 3339).
    pub refreshed_at: String,
    /// When the user last verified with a passkey in it (RFC 3339).
    pub verified_at: String,
    /// When it ends (RFC 3339).
    pub expires_at: String,
    /// The browser's User-Agent at sign-in.
    pub user_agent: Option<String>,
    /// The client IP at sign-in.
    pub client_ip: Option<String>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            id: s.id.clone(),
            passkey_id: s.passkey_id.clone(),
            created_at: timestamp(s.created_at),
            refreshed_at: timestamp(s.refreshed_at),
            verified_at: timestamp(s.verified_at),
            expires_at: timestamp(s.expires_at),
            user_agent: s.user_agent.clone(),
            client_ip: s.client_ip.clone(),
        }
    }
}

/// A fresh JWT.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenIssued {
    /// The session JWT (ES256), to send to the app's backend.
    pub jwt: String,
    /// When the JWT expires (RFC 3339).
    pub jwt_expires_at: String,
    /// The session.
    pub session: SessionView,
}

/// A new session: its view and JWT, and the token (for the cookie, or for the SDK to hold).
pub struct NewSession {
    /// What the browser is told.
    pub issued: TokenIssued,
    /// The session token (secret).
    pub token: String,
    /// Seconds the session lasts (the cookie's Max-Age).
    pub max_age: u32,
}

/// Where a session token goes after a sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionTransport {
    /// An HttpOnly cookie for passkeyd's origin (the default; the page never sees the token).
    #[default]
    Cookie,
    /// In the response body, for an SDK that holds it (native apps, non-cookie setups).
    Token,
    /// No session: the page only wants the nonce for its own backend (the SDK's `register()` and
    /// `authenticate()` send this, so nonce-style sign-ins leave no unused sessions behind).
    None,
}

/// The signed-in caller of `/v1/me`.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: Session,
    /// Its app.
    pub app: AppContext,
    /// Its user.
    pub user: User,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The user.
    pub user: UserView,
    /// The session.
    pub session: SessionView,
}

/// A passkey of the signed-in user: verified, or waiting for its ceremony.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MePasskey {
    /// `verified` or `unverified`.
    pub state: &'static str,
    /// The passkey (verified ones).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyView>,
    /// The id (unverified ones; verified ones have it in `passkey`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The ceremony still to complete (unverified ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// The ceremony an unverified passkey waits for.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// `unverified`, or `failed` after the last allowed attempt.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// `PublicKeyCredentialCreationOptionsJSON` for `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct Unverified {
    user_id: String,
    ceremony_id: String,
    attempts: u32,
    name: Option<String>,
    verification: Verification,
}

/// `POST /v1/me/passkeys`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMyPasskey {
    /// A name (1 to 64 characters); by default it is named after the authenticator.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /v1/me/passkeys/{id}/attempt_verification`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptVerification {
    /// The browser's `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    pub credential: Box<serde_json::value::RawValue>,
}

/// `POST /v1/sessions/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyToken {
    /// A session JWT.
    pub token: String,
}

fn invalid_session() -> ApiError {
    ApiError::new(
        Kind::Unauthenticated,
        "invalid_session",
        "no live session: sign in again",
    )
}

fn invalid_token() -> ApiError {
    ApiError::new(
        Kind::Refused,
        "invalid_token",
        "the token is malformed, forged, expired, revoked, or for another app",
    )
}

fn unverified_row_id(passkey_id: &str) -> String {
    format!("unverified:{passkey_id}")
}

impl Service {
    /// The newest active signing key of the app, made on first use.
    async fn signing_key(&self, app: &AppContext) -> ApiResult<SigningKey> {
        let keys = self.store.list_signing_keys(&app.id).await?;
        if let Some(key) = keys.into_iter().find(|k| k.retired_at.is_none()) {
            return Ok(key);
        }
        self.new_signing_key(app).await
    }

    async fn new_signing_key(&self, app: &AppContext) -> ApiResult<SigningKey> {
        let kid = secrets::new_id("kid")?;
        let (private_key, public_jwk) = jwt::generate(&kid)?;
        let key = SigningKey {
            id: kid,
            app_id: app.id.clone(),
            alg: jwt::ALG.to_owned(),
            private_key,
            public_jwk,
            created_at: now_ms(),
            retired_at: None,
        };
        self.store.add_signing_key(&key).await?;
        Ok(key)
    }

    /// Retires the app's signing keys and makes a new one; tokens signed before stay verifiable
    /// until they expire. Returns the new key id.
    pub async fn rotate_signing_key(&self, app: &AppContext) -> ApiResult<String> {
        self.store.retire_signing_keys(&app.id, now_ms()).await?;
        Ok(self.new_signing_key(app).await?.id)
    }

    /// The keys a JWT of the app may be signed with: the active ones and those retired less than
    /// a JWT lifetime ago.
    async fn verification_keys(&self, app: &AppContext) -> ApiResult<Vec<SigningKey>> {
        let horizon = now_ms() - i64::from(app.settings.session_jwt_ttl_seconds) * 1000;
        Ok(self
            .store
            .list_signing_keys(&app.id)
            .await?
            .into_iter()
            .filter(|k| k.retired_at.is_none_or(|r| r >= horizon))
            .collect())
    }

    /// The JWKS document of an app.
    pub async fn jwks(&self, app: &AppContext) -> ApiResult<serde_json::Value> {
        if self.store.list_signing_keys(&app.id).await?.is_empty() && app.settings.sessions {
            self.new_signing_key(app).await?;
        }
        let keys = self
            .verification_keys(app)
            .await?
            .iter()
            .filter_map(|k| serde_json::from_str::<serde_json::Value>(&k.public_jwk).ok())
            .collect::<Vec<_>>();
        Ok(serde_json::json!({ "keys": keys }))
    }

    async fn issue_jwt(
        &self,
        app: &AppContext,
        user: &User,
        session: &Session,
    ) -> ApiResult<TokenIssued> {
        let key = self.signing_key(app).await?;
        let now = now_ms();
        let exp = (now / 1000 + i64::from(app.settings.session_jwt_ttl_seconds))
            .min(session.expires_at / 1000);
        let claims = Claims {
            iss: "passkeyd".into(),
            aud: app.id.clone(),
            sub: user.external_id.clone(),
            sid: session.id.clone(),
            app: app.id.clone(),
            pkid: session.passkey_id.clone(),
            iat: now / 1000,
            exp,
        };
        Ok(TokenIssued {
            jwt: jwt::sign(&key.id, &key.private_key, &claims)?,
            jwt_expires_at: timestamp(exp * 1000),
            session: SessionView::from(session),
        })
    }

    /// Creates a session for a user who just proved possession of `passkey_id`.
    pub async fn create_session(
        &self,
        app: &AppContext,
        external_id: &str,
        passkey_id: &str,
        user_agent: Option<&str>,
        client_ip: Option<&str>,
    ) -> ApiResult<NewSession> {
        let user = self.user(app, external_id).await?;
        let token = format!(
            "{TOKEN_PREFIX}{}",
            passkeyd_core::b64::encode(&secrets::random_bytes(32)?)
        );
        let now = now_ms();
        let session = Session {
            id: secrets::new_id("ses")?,
            app_id: app.id.clone(),
            user_id: user.id.clone(),
            token_hash: secrets::hash_key(&token),
            passkey_id: Some(passkey_id.to_owned()),
            created_at: now,
            refreshed_at: now,
            verified_at: now,
            expires_at: now + i64::from(app.settings.session_ttl_seconds) * 1000,
            revoked_at: None,
            user_agent: user_agent.map(|u| u.chars().take(256).collect()),
            client_ip: client_ip.map(str::to_owned),
        };
        self.store.create_session(&session).await?;
        Ok(NewSession {
            issued: self.issue_jwt(app, &user, &session).await?,
            token,
            max_age: app.settings.session_ttl_seconds,
        })
    }

    /// The live session a token names, with its app and user.
    pub async fn signed_in(&self, token: &str) -> ApiResult<SignedIn> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(invalid_session());
        }
        let hash = secrets::hash_key(token);
        let session = self
            .store
            .find_session(&hash)
            .await?
            .filter(|s| secrets::key_matches(&hash, &s.token_hash))
            .filter(|s| s.revoked_at.is_none() && s.expires_at > now_ms())
            .ok_or_else(invalid_session)?;
        let app = self
            .store
            .get_app(&session.app_id)
            .await?
            .ok_or_else(invalid_session)?;
        let app = self.apps.get(&app)?;
        if !app.settings.sessions {
            return Err(invalid_session());
        }
        let user = self
            .store
            .get_user_by_id(&app.id, &session.user_id)
            .await?
            .ok_or_else(invalid_session)?;
        Ok(SignedIn { session, app, user })
    }

    /// A fresh JWT for a live session.
    pub async fn refresh(&self, me: &SignedIn) -> ApiResult<TokenIssued> {
        if !self
            .store
            .touch_session(&me.app.id, &me.session.id, now_ms())
            .await?
        {
            return Err(invalid_session());
        }
        self.issue_jwt(&me.app, &me.user, &me.session).await
    }

    /// Signs out.
    pub async fn sign_out(&self, me: &SignedIn) -> ApiResult<()> {
        self.store
            .revoke_session(&me.app.id, &me.session.id, now_ms())
            .await?;
        Ok(())
    }

    /// Verifies a JWT for the app's backend: signature by one of the app's keys, expiry, audience,
    /// and that its session is still live (so a revoked session's tokens are refused here even
    /// before they expire).
    pub async fn verify_token(&self, app: &AppContext, token: &str) -> ApiResult<Claims> {
        let parsed = jwt::parse(token).ok_or_else(invalid_token)?;
        let keys = self.verification_keys(app).await?;
        let key = keys
            .iter()
            .find(|k| k.id == parsed.kid)
            .ok_or_else(invalid_token)?;
        let claims = jwt::verify(&parsed, &key.public_jwk).ok_or_else(invalid_token)?;
        if claims.aud != app.id || claims.exp <= now_ms() / 1000 {
            return Err(invalid_token());
        }
        let session = self
            .store
            .get_session(&app.id, &claims.sid)
            .await?
            .ok_or_else(invalid_token)?;
        if session.revoked_at.is_some() || session.expires_at <= now_ms() {
            return Err(invalid_token());
        }
        Ok(claims)
    }

    /// A user's live sessions.
    pub async fn user_sessions(
        &self,
        app: &AppContext,
        external_id: &str,
    ) -> ApiResult<Vec<SessionView>> {
        let user = self.user(app, external_id).await?;
        let now = now_ms();
        Ok(self
            .store
            .list_sessions(&app.id, &user.id)
            .await?
            .iter()
            .filter(|s| s.expires_at > now)
            .map(SessionView::from)
            .collect())
    }

    /// Revokes one session.
    pub async fn revoke_session(&self, app: &AppContext, id: &str) -> ApiResult<()> {
        if self.store.revoke_session(&app.id, id, now_ms()).await? {
            self.record(
                app,
                Event::new("session.revoked", &app.id).with("session_id", id),
            )
            .await;
            Ok(())
        } else {
            Err(ApiError::not_found(
                "session_not_found",
                format!("no live session {id:?}"),
            ))
        }
    }

    /// Revokes every session of a user; how many.
    pub async fn revoke_user_sessions(
        &self,
        app: &AppContext,
        external_id: &str,
    ) -> ApiResult<u64> {
        let user = self.user(app, external_id).await?;
        let revoked = self
            .store
            .revoke_user_sessions(&app.id, &user.id, now_ms())
            .await?;
        self.record(
            app,
            Event::new("session.revoked", &app.id)
                .user(Some(&user.external_id))
                .with("revoked", revoked),
        )
        .await;
        Ok(revoked)
    }

    /// Refuses a sensitive action when the session's last verification is too old.
    pub fn require_recent_verification(
        &self,
        me: &SignedIn,
        action: SensitiveAction,
    ) -> ApiResult<()> {
        if !me.app.settings.needs_reverification(action) {
            return Ok(());
        }
        let window = i64::from(me.app.settings.reverification_seconds) * 1000;
        if now_ms() - me.session.verified_at <= window {
            return Ok(());
        }
        Err(ApiError::new(
            Kind::Forbidden,
            "reverification_required",
            format!(
                "this action needs a passkey verification within the last {} seconds; verify again (POST /v1/me/reverify/start) and retry",
                me.app.settings.reverification_seconds
            ),
        ))
    }

    /// Starts a reverification: a sign-in ceremony limited to the user's passkeys.
    pub async fn start_reverification(&self, me: &SignedIn) -> ApiResult<AuthenticationStarted> {
        let start = StartAuthentication {
            external_id: Some(me.user.external_id.clone()),
            user_verification: None,
        };
        self.start_authentication(&me.app, &start, Channel::Session)
            .await
    }

    /// Finishes a reverification and records it in the session.
    pub async fn finish_reverification(
        &self,
        me: &SignedIn,
        req: &FinishCeremony,
    ) -> ApiResult<SessionView> {
        let done = self
            .finish_authentication(&me.app, req, Channel::Session)
            .await?;
        if done.user.external_id != me.user.external_id {
            return Err(ApiError::new(
                Kind::Refused,
                "user_handle_mismatch",
                "the passkey belongs to another user",
            ));
        }
        let now = now_ms();
        self.store
            .verify_session(&me.app.id, &me.session.id, now)
            .await?;
        let mut session = me.session.clone();
        session.verified_at = now;
        Ok(SessionView::from(&session))
    }

    /// The signed-in user's verified passkeys.
    pub async fn my_passkeys(&self, me: &SignedIn) -> ApiResult<Vec<MePasskey>> {
        Ok(self
            .store
            .list_passkeys(&me.app.id, &me.user.id)
            .await?
            .iter()
            .map(|p| verified(PasskeyView::new(p, &self.names)))
            .collect())
    }

    /// Starts a new passkey for the signed-in user: it exists as `unverified` until its ceremony
    /// succeeds, never signs anyone in, and vanishes when it expires.
    pub async fn create_my_passkey(
        &self,
        me: &SignedIn,
        req: &CreateMyPasskey,
    ) -> ApiResult<MePasskey> {
        self.require_recent_verification(me, SensitiveAction::CreatePasskey)?;
        if let Some(name) = &req.name {
            check_text("name", name, 64)?;
        }
        let id = secrets::new_id("pk")?;
        let unverified = self.new_attempt(me, &id, req.name.clone(), 0).await?;
        Ok(unverified_view(&id, &unverified))
    }

    /// Starts (or restarts, after a failed attempt) the ceremony of an unverified passkey.
    async fn new_attempt(
        &self,
        me: &SignedIn,
        id: &str,
        name: Option<String>,
        attempts: u32,
    ) -> ApiResult<Unverified> {
        let start = StartRegistration {
            external_id: me.user.external_id.clone(),
            username: None,
            display_name: None,
            passkey_name: name.clone(),
            authenticator_attachment: None,
            resident_key: None,
            user_verification: None,
            reserved_passkey_id: Some(id.to_owned()),
        };
        let started = self
            .start_registration(&me.app, &start, Channel::Session)
            .await?;
        let expires_at = now_ms() + me.app.ttl_millis();
        let unverified = Unverified {
            user_id: me.user.id.clone(),
            ceremony_id: started.ceremony_id,
            attempts,
            name,
            verification: Verification {
                status: "unverified".into(),
                attempts,
                max_attempts: MAX_ATTEMPTS,
                expires_at: timestamp(expires_at),
                options: serde_json::to_value(&started.options).map_err(ApiError::internal)?,
            },
        };
        let row = Ceremony {
            id: unverified_row_id(id),
            app_id: me.app.id.clone(),
            kind: "unverified_passkey".into(),
            user_id: Some(me.user.id.clone()),
            data: serde_json::to_string(&unverified).map_err(ApiError::internal)?,
            expires_at,
        };
        self.store.delete_ceremony(&me.app.id, &row.id).await?;
        self.store.put_ceremony(&row).await?;
        Ok(unverified)
    }

    async fn unverified(&self, me: &SignedIn, id: &str) -> ApiResult<Option<Unverified>> {
        let Some(row) = self
            .store
            .get_ceremony(&me.app.id, &unverified_row_id(id))
            .await?
        else {
            return Ok(None);
        };
        if row.kind != "unverified_passkey" || row.expires_at < now_ms() {
            return Ok(None);
        }
        let data: Unverified = serde_json::from_str(&row.data).map_err(ApiError::internal)?;
        Ok((data.user_id == me.user.id).then_some(data))
    }

    /// One of the signed-in user's passkeys, verified or not.
    pub async fn my_passkey(&self, me: &SignedIn, id: &str) -> ApiResult<MePasskey> {
        if let Some(p) = self.store.get_passkey(&me.app.id, id).await? {
            if p.user_id == me.user.id {
                return Ok(verified(PasskeyView::new(&p, &self.names)));
            }
            return Err(passkey_not_found(id));
        }
        match self.unverified(me, id).await? {
            Some(u) => Ok(unverified_view(id, &u)),
            None => Err(passkey_not_found(id)),
        }
    }

    /// Completes an unverified passkey with the browser's response. A failed attempt leaves a
    /// fresh ceremony (new options) while attempts remain.
    pub async fn attempt_verification(
        &self,
        me: &SignedIn,
        id: &str,
        req: &AttemptVerification,
    ) -> ApiResult<MePasskey> {
        let unverified = self
            .unverified(me, id)
            .await?
            .ok_or_else(|| passkey_not_found(id))?;
        let finish = FinishCeremony {
            ceremony_id: unverified.ceremony_id.clone(),
            credential: req.credential.clone(),
            session_transport: None,
        };
        match self
            .finish_registration(&me.app, &finish, Channel::Session)
            .await
        {
            Ok(passkey) => {
                self.store
                    .delete_ceremony(&me.app.id, &unverified_row_id(id))
                    .await?;
                Ok(verified(passkey))
            }
            Err(e) => {
                let attempts = unverified.attempts + 1;
                if attempts < MAX_ATTEMPTS && e.kind == Kind::Refused {
                    self.new_attempt(me, id, unverified.name, attempts).await?;
                } else {
                    self.store
                        .delete_ceremony(&me.app.id, &unverified_row_id(id))
                        .await?;
                }
                Err(e)
            }
        }
    }

    /// Renames one of the signed-in user's passkeys.
    pub async fn rename_my_passkey(
        &self,
        me: &SignedIn,
        id: &str,
        name: Option<&str>,
    ) -> ApiResult<MePasskey> {
        self.require_recent_verification(me, SensitiveAction::RenamePasskey)?;
        self.own(me, id).await?;
        Ok(verified(self.rename_passkey(&me.app, id, name).await?))
    }

    /// Deletes one of the signed-in user's passkeys.
    pub async fn delete_my_passkey(&self, me: &SignedIn, id: &str) -> ApiResult<()> {
        if self.unverified(me, id).await?.is_some() {
            self.store
                .delete_ceremony(&me.app.id, &unverified_row_id(id))
                .await?;
            return Ok(());
        }
        self.own(me, id).await?;
        self.require_recent_verification(me, SensitiveAction::DeletePasskey)?;
        self.delete_passkey(&me.app, id).await
    }

    async fn own(&self, me: &SignedIn, id: &str) -> ApiResult<()> {
        match self.store.get_passkey(&me.app.id, id).await? {
            Some(p) if p.user_id == me.user.id => Ok(()),
            _ => Err(passkey_not_found(id)),
        }
    }
}

fn verified(passkey: PasskeyView) -> MePasskey {
    MePasskey {
        state: "verified",
        passkey: Some(passkey),
        id: None,
        verification: None,
    }
}

fn unverified_view(id: &str, u: &Unverified) -> MePasskey {
    MePasskey {
        state: "unverified",
        passkey: None,
        id: Some(id.to_owned()),
        verification: Some(u.verification.clone()),
    }
}
