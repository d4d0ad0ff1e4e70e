//! Admins: the people who run the dashboard. An admin is a user of the internal app
//! [`ADMIN_APP_ID`], and an admin's passkeys are that app's passkeys, so admin sign-in runs
//! through the same ceremonies, verification, counters and audit log as every app's users. What
//! that app cannot hold lives in the store's own tables: one-time invites and sessions, both
//! kept only as SHA-256 of their tokens.
//!
//! The admin app is bound to passkeyd's public URL (its RP ID is the URL's host, its one origin
//! the URL), requires user verification, and is invisible everywhere else: reserved ids (`__`)
//! have no keys, no public endpoints and no place in app listings.

use crate::audit::{Caller, Event};
use crate::ceremony::{
    AuthenticationStarted, Channel, FinishCeremony, RegistrationStarted, StartAuthentication,
    StartRegistration,
};
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{check_text, now_ms, Service};
use crate::settings::{AppContext, AppSettings};
use crate::views::timestamp;
use passkeyd_core::{b64, Origin, UserVerification};
use passkeyd_store::{AdminInvite, AdminSession, App, GuardedDelete, SharedStore};
use serde::Serialize;

/// The internal app that holds the admins. Ids starting with `__` are reserved: no API key,
/// public endpoint, listing or configuration file can reach them.
pub const ADMIN_APP_ID: &str = "__admin";

/// How long an invite link works.
pub const INVITE_TTL_MS: i64 = 3600 * 1000;
/// How long a session lasts at most, however active.
pub(crate) const SESSION_LIFETIME_MS: i64 = 12 * 3600 * 1000;
/// How often a session's last use is written, at most.
const TOUCH_INTERVAL_MS: i64 = 60 * 1000;
/// Prefix of invite tokens, so a leaked one is recognisable.
const INVITE_PREFIX: &str = "pkd_inv_";

/// Whether an app id is reserved for passkeyd's own use.
pub fn is_reserved(app_id: &str) -> bool {
    app_id.starts_with("__")
}

/// Checks a public URL: an origin (`https://host[:port]`, or `http://localhost[:port]`),
/// returned in its serialised form.
pub fn check_public_url(url: &str) -> Result<String, String> {
    match Origin::parse(url.trim()) {
        Ok(origin @ Origin::Web { .. }) => Ok(origin.as_str().to_owned()),
        Ok(Origin::Android { .. }) => Err(format!("{url:?} is not a web URL")),
        Err(e) => Err(e.to_string()),
    }
}

/// The admin side's configuration, fixed at start.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The public URL (an origin).
    pub public_url: String,
    /// The admin app, ready for ceremonies.
    pub app: AppContext,
    /// How long a session may stay unused.
    pub idle_ms: i64,
    /// How long audit entries are kept.
    pub retention_ms: i64,
    /// Whether the session cookie is `Secure` (the public URL is https).
    pub secure_cookie: bool,
}

impl AdminSettings {
    /// Settings for a public URL.
    pub fn new(public_url: &str, idle_minutes: u32, retention_days: u32) -> ApiResult<Self> {
        let public_url =
            check_public_url(public_url).map_err(|e| ApiError::invalid("public_url", e))?;
        let host = public_url
            .split_once("://")
            .map(|(_, rest)| rest.rsplit_once(':').map_or(rest, |(h, _)| h))
            .unwrap_or_default()
            .to_owned();
        let mut settings = AppSettings::new(&host, "passkeyd admin", vec![public_url.clone()]);
        settings.user_verification = UserVerification::Required;
        settings.max_passkeys_per_user = crate::settings::MAX_PASSKEYS_LIMIT;
        settings.validate()?;
        let app = AppContext::from_app(&App {
            id: ADMIN_APP_ID.to_owned(),
            name: "passkeyd admin".to_owned(),
            settings: settings.to_stored()?,
            created_at: 0,
            updated_at: 0,
        })?;
        Ok(AdminSettings {
            secure_cookie: public_url.starts_with("https://"),
            public_url,
            app,
            idle_ms: i64::from(idle_minutes) * 60 * 1000,
            retention_ms: i64::from(retention_days) * 86_400_000,
        })
    }

    /// Writes the admin app to the store at every start where it changed (the public URL may
    /// have).
    pub async fn write_app(&self, store: &SharedStore) -> ApiResult<()> {
        let now = now_ms();
        store
            .put_app_if_changed(&App {
                id: ADMIN_APP_ID.to_owned(),
                name: self.app.name.clone(),
                settings: self.app.settings.to_stored()?,
                created_at: now,
                updated_at: now,
            })
            .await?;
        Ok(())
    }

    /// The admin app, acting for `caller`.
    pub fn app_for(&self, caller: Caller) -> AppContext {
        self.app.clone().acting_as(caller)
    }
}

/// A new invite: the link to hand over (the token in it is shown this once).
#[derive(Debug, Serialize)]
pub struct InviteCreated {
    /// Invite id.
    pub id: String,
    /// The one-time link.
    pub link: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// An invite waiting to be used, without its token.
#[derive(Debug, Serialize)]
pub struct InviteView {
    /// Invite id.
    pub id: String,
    /// The new admin's name.
    pub name: Option<String>,
    /// Who invited.
    pub created_by: Option<String>,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// An admin, as the dashboard lists them.
#[derive(Debug, Serialize)]
pub struct AdminView {
    /// Admin id.
    pub id: String,
    /// Name.
    pub name: String,
    /// How many passkeys they can sign in with (0: the invite was never completed).
    pub passkeys: usize,
    /// When they joined (RFC 3339).
    pub created_at: String,
}

/// A signed-in admin, as a session shows them.
#[derive(Debug, Clone, Serialize)]
pub struct AdminIdentity {
    /// Admin id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The token every state-changing request must send in `X-CSRF-Token`.
    pub csrf_token: String,
}

/// A session just made: the cookie's token and who it is for.
pub struct NewSession {
    /// The cookie's value; only its hash is stored.
    pub token: String,
    /// The admin.
    pub admin: AdminIdentity,
}

fn invalid_invite() -> ApiError {
    ApiError::new(
        Kind::Refused,
        "invalid_invite",
        "this invite link is unknown, used already or expired; ask an admin for a new one",
    )
}

fn not_signed_in() -> ApiError {
    ApiError::new(
        Kind::Unauthenticated,
        "admin_session_required",
        "sign in to the admin dashboard first (or the session ended)",
    )
}

fn hash_token(token: &str) -> Vec<u8> {
    secrets::hash_key(token)
}

impl Service {
    /// Makes an invite and its link.
    pub async fn invite_admin(
        &self,
        admin: &AdminSettings,
        caller: &Caller,
        name: Option<&str>,
    ) -> ApiResult<InviteCreated> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            check_text("name", n, 64)?;
        }
        let token = format!(
            "{INVITE_PREFIX}{}",
            b64::encode(&secrets::random_bytes(32)?)
        );
        let now = now_ms();
        let invite = AdminInvite {
            id: secrets::new_id("inv")?,
            token_hash: hash_token(&token),
            admin_id: secrets::new_id("adm")?,
            name: name.map(str::to_owned),
            created_by: Some(caller.actor.clone()),
            created_at: now,
            expires_at: now + INVITE_TTL_MS,
            used_at: None,
        };
        self.store.create_admin_invite(&invite).await?;
        self.audit
            .record(
                caller,
                Event::global("admin.invited")
                    .user(Some(&invite.admin_id))
                    .with("invite_id", invite.id.as_str())
                    .with("name", name.unwrap_or_default()),
            )
            .await;
        // The token travels in the fragment, which browsers never send to a server or log.
        Ok(InviteCreated {
            link: format!("{}/admin/#invite={token}", admin.public_url),
            id: invite.id,
            expires_at: timestamp(invite.expires_at),
        })
    }

    /// Invites not yet used.
    pub async fn list_invites(&self) -> ApiResult<Vec<InviteView>> {
        Ok(self
            .store
            .list_admin_invites(now_ms())
            .await?
            .into_iter()
            .map(|i| InviteView {
                id: i.id,
                name: i.name,
                created_by: i.created_by,
                created_at: timestamp(i.created_at),
                expires_at: timestamp(i.expires_at),
            })
            .collect())
    }

    /// Withdraws an unused invite.
    pub async fn delete_invite(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        if !self.store.delete_admin_invite(id).await? {
            return Err(ApiError::not_found(
                "invite_not_found",
                format!("no unused invite {id:?}"),
            ));
        }
        self.audit
            .record(
                caller,
                Event::global("admin.invite_withdrawn").with("invite_id", id),
            )
            .await;
        Ok(())
    }

    /// A usable invite by its token.
    async fn usable_invite(&self, token: &str) -> ApiResult<AdminInvite> {
        if !token.starts_with(INVITE_PREFIX) || token.len() > 128 {
            return Err(invalid_invite());
        }
        self.store
            .get_admin_invite(&hash_token(token))
            .await?
            .filter(|i| i.used_at.is_none() && i.expires_at >= now_ms())
            .ok_or_else(invalid_invite)
    }

    /// Starts the registration of an invited admin's first passkey.
    pub async fn start_invite_registration(
        &self,
        admin: &AdminSettings,
        caller: Caller,
        token: &str,
    ) -> ApiResult<RegistrationStarted> {
        let invite = self.usable_invite(token).await?;
        let name = invite.name.clone().unwrap_or_else(|| "Admin".to_owned());
        let req = StartRegistration {
            external_id: invite.admin_id,
            username: Some(name.clone()),
            display_name: Some(name),
            passkey_name: None,
            authenticator_attachment: None,
            resident_key: None,
            user_verification: None,
            reserved_passkey_id: None,
        };
        self.start_registration(&admin.app_for(caller), &req, Channel::Backend)
            .await
    }

    /// Finishes an invited admin's registration, uses up the invite and signs them in.
    pub async fn finish_invite_registration(
        &self,
        admin: &AdminSettings,
        caller: Caller,
        token: &str,
        req: &FinishCeremony,
    ) -> ApiResult<NewSession> {
        let invite = self.usable_invite(token).await?;
        let app = admin.app_for(caller);
        let passkey = self
            .finish_registration(&app, req, Channel::Backend)
            .await?;
        // The ceremony must be this invite's, and the invite must still be unused now: of two
        // racing finishes with one link, only one keeps its passkey.
        let ours = passkey.external_id == invite.admin_id;
        if !ours
            || !self
                .store
                .use_admin_invite(&invite.token_hash, now_ms())
                .await?
        {
            self.store.delete_passkey(ADMIN_APP_ID, &passkey.id).await?;
            return Err(invalid_invite());
        }
        self.new_session(admin, &invite.admin_id).await
    }

    /// Starts an admin sign-in (discoverable: the admin picks a passkey).
    pub async fn start_admin_signin(
        &self,
        admin: &AdminSettings,
        caller: Caller,
    ) -> ApiResult<AuthenticationStarted> {
        self.start_authentication(
            &admin.app_for(caller),
            &StartAuthentication::default(),
            Channel::Backend,
        )
        .await
    }

    /// Finishes an admin sign-in and opens a session.
    pub async fn finish_admin_signin(
        &self,
        admin: &AdminSettings,
        caller: Caller,
        req: &FinishCeremony,
    ) -> ApiResult<NewSession> {
        let done = self
            .finish_authentication(&admin.app_for(caller), req, Channel::Backend)
            .await?;
        self.new_session(admin, &done.user.external_id).await
    }

    async fn new_session(&self, admin: &AdminSettings, admin_id: &str) -> ApiResult<NewSession> {
        let token = b64::encode(&secrets::random_bytes(32)?);
        let csrf_token = b64::encode(&secrets::random_bytes(32)?);
        let now = now_ms();
        let user = self
            .store
            .get_user(ADMIN_APP_ID, admin_id)
            .await?
            .ok_or_else(not_signed_in)?;
        self.store
            .create_admin_session(&AdminSession {
                token_hash: hash_token(&token),
                admin_id: admin_id.to_owned(),
                csrf_token: csrf_token.clone(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + SESSION_LIFETIME_MS.min(admin.retention_ms.max(admin.idle_ms)),
            })
            .await?;
        Ok(NewSession {
            token,
            admin: AdminIdentity {
                id: admin_id.to_owned(),
                name: user.username.unwrap_or_else(|| admin_id.to_owned()),
                csrf_token,
            },
        })
    }

    /// The admin a session cookie belongs to, if the session is alive (and records its use).
    pub async fn admin_session(
        &self,
        admin: &AdminSettings,
        token: &str,
    ) -> ApiResult<AdminIdentity> {
        if token.is_empty() || token.len() > 128 {
            return Err(not_signed_in());
        }
        let hash = hash_token(token);
        let session = self
            .store
            .get_admin_session(&hash)
            .await?
            .ok_or_else(not_signed_in)?;
        let now = now_ms();
        if !secrets::key_matches(&hash, &session.token_hash)
            || session.expires_at < now
            || now - session.last_seen_at > admin.idle_ms
        {
            return Err(not_signed_in());
        }
        // A removed admin's sessions end with them, even one racing the removal.
        let user = self
            .store
            .get_user(ADMIN_APP_ID, &session.admin_id)
            .await?
            .ok_or_else(not_signed_in)?;
        if now - session.last_seen_at >= TOUCH_INTERVAL_MS {
            self.store.touch_admin_session(&hash, now).await?;
        }
        Ok(AdminIdentity {
            id: session.admin_id,
            name: user.username.unwrap_or_else(|| user.external_id.clone()),
            csrf_token: session.csrf_token,
        })
    }

    /// Ends a session.
    pub async fn end_admin_session(&self, caller: &Caller, token: &str) -> ApiResult<()> {
        self.store.delete_admin_session(&hash_token(token)).await?;
        self.audit
            .record(caller, Event::global("admin.signed_out"))
            .await;
        Ok(())
    }

    /// Every admin (with the invited ones who never finished, as 0 passkeys).
    pub async fn list_admins(&self) -> ApiResult<Vec<AdminView>> {
        let users = self.store.list_users(ADMIN_APP_ID, None, 1000).await?;
        let mut admins = Vec::with_capacity(users.len());
        for u in users {
            let passkeys = self.store.list_passkeys(ADMIN_APP_ID, &u.id).await?.len();
            admins.push(AdminView {
                name: u.username.clone().unwrap_or_else(|| u.external_id.clone()),
                id: u.external_id,
                passkeys,
                created_at: timestamp(u.created_at),
            });
        }
        Ok(admins)
    }

    /// Removes an admin and ends their sessions, unless they are the last one who can sign in.
    pub async fn remove_admin(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        match self.store.delete_user_unless_last(ADMIN_APP_ID, id).await? {
            GuardedDelete::Deleted => {}
            GuardedDelete::Missing => {
                return Err(ApiError::not_found(
                    "admin_not_found",
                    format!("no admin {id:?}"),
                ))
            }
            GuardedDelete::LastOne => {
                return Err(ApiError::new(
                    Kind::Conflict,
                    "last_admin",
                    "this is the last admin who can sign in; invite another one first",
                ))
            }
        }
        self.store.delete_admin_sessions(id).await?;
        self.audit
            .record(caller, Event::global("admin.removed").user(Some(id)))
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_origins() {
        assert_eq!(
            check_public_url("https://Auth.Example.com/").unwrap(),
            "https://auth.example.com"
        );
        assert!(check_public_url("http://example.com").is_err());
        assert!(check_public_url("https://example.com/admin").is_err());
        let s = AdminSettings::new("https://auth.example.com:8443", 30, 90).unwrap();
        assert_eq!(s.app.settings.rp_id, "auth.example.com");
        assert_eq!(s.app.settings.origins, ["https://auth.example.com:8443"]);
        assert!(s.secure_cookie);
        let local = AdminSettings::new("http://localhost:8080", 30, 90).unwrap();
        assert_eq!(local.app.settings.rp_id, "localhost");
        assert!(!local.secure_cookie);
    }

    #[test]
    fn reserved_ids() {
        assert!(is_reserved(ADMIN_APP_ID));
        assert!(!is_reserved("_a"));
    }
}
