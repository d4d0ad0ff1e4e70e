//! Registration and authentication ceremonies: start (options for the browser, state kept in the
//! store so any instance can finish) and finish (take the state once, verify with the core, write
//! the result). Independent of HTTP, so the backend API and the browser endpoints share it.

use crate::audit::Event;
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{
    check_external_id, check_text, check_user_names, new_user_identity, now_ms, Service,
};
use crate::settings::{AppContext, BackupPolicy};
use crate::views::{PasskeyView, UserView};
use passkeyd_core::b64;
use passkeyd_core::options::{Attachment, ResidentKey};
use passkeyd_core::wire::CredentialDescriptor;
use passkeyd_core::{
    authentication_options, registration_options, verify_authentication, verify_registration,
    AttestationPolicy, AuthenticationResponse, AuthenticationSettings, AuthenticationState,
    Challenge, CreationOptions, CredentialPublicKey, NewUser, RegistrationResponse,
    RegistrationSettings, RegistrationState, RequestOptions, SignInUser, StoredCredential,
    UserHandle, UserVerification,
};
use passkeyd_store::{Ceremony, Passkey, PasskeyUse, StoreError, User};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The ceremony state kept in the store between start and finish.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum CeremonyData {
    Registration {
        state: RegistrationState,
        passkey_name: Option<String>,
        /// The id the passkey gets (an unverified passkey already has one).
        #[serde(default)]
        passkey_id: Option<String>,
        /// The owner's external id, so the finish can answer without reading the passkey back.
        #[serde(default)]
        external_id: Option<String>,
        /// The owner when the app had no user with this external id at the start: stored
        /// with the passkey when the registration finishes, so an abandoned one leaves nothing.
        #[serde(default)]
        new_user: Option<UnsavedUser>,
    },
    Authentication {
        state: AuthenticationState,
    },
}

/// A user a registration will create: what is not in the ceremony already.
#[derive(Debug, Serialize, Deserialize)]
struct UnsavedUser {
    /// The WebAuthn user handle the authenticator was given, base64url.
    handle: String,
    username: Option<String>,
    display_name: Option<String>,
    created_at: i64,
}

impl CeremonyData {
    fn kind(&self) -> &'static str {
        match self {
            CeremonyData::Registration { .. } => "registration",
            CeremonyData::Authentication { .. } => "authentication",
        }
    }
}

/// Who runs a ceremony: the app's backend (with its secret key), or a browser through the public
/// endpoints (which then get a nonce). A ceremony can only be finished through the channel that
/// started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The backend API.
    Backend,
    /// The public browser endpoints.
    Browser,
    /// The signed-in user's own endpoints (`/v1/me`).
    Session,
}

impl Channel {
    /// The channel's name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Backend => "backend",
            Channel::Browser => "browser",
            Channel::Session => "session",
        }
    }

    /// The stored kind of a ceremony of `base` kind started through this channel.
    fn kind(self, base: &str) -> String {
        match self {
            Channel::Backend => base.to_owned(),
            Channel::Browser => format!("browser_{base}"),
            Channel::Session => format!("session_{base}"),
        }
    }
}

/// `POST /v1/registrations/start`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRegistration {
    /// The app's identifier for the user; the user is created if new.
    pub external_id: String,
    /// Account name shown by authenticators; defaults to the stored one, then the external id.
    #[serde(default)]
    pub username: Option<String>,
    /// Friendly name shown by authenticators.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The new passkey's name (1 to 64 characters); by default it is named after the authenticator.
    #[serde(default)]
    pub passkey_name: Option<String>,
    /// `platform` or `cross-platform`, to steer the browser.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub authenticator_attachment: Option<Attachment>,
    /// `required`, `preferred` or `discouraged`; defaults to the app's setting.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resident_key: Option<ResidentKey>,
    /// `required`, `preferred` or `discouraged`; cannot be weaker than the app's `required`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_verification: Option<UserVerification>,
    /// The id the new passkey will have (set internally for unverified passkeys; never read
    /// from a request).
    #[serde(skip)]
    #[schema(ignore)]
    pub reserved_passkey_id: Option<String>,
}

/// A started registration: the options to pass to `navigator.credentials.create()`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationStarted {
    /// Hand this back to finish the ceremony.
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` (WebAuthn Level 3).
    #[schema(value_type = Object)]
    pub options: CreationOptions,
    /// When the ceremony stops being usable (RFC 3339).
    pub expires_at: String,
}

/// `POST /v1/registrations/finish` and `POST /v1/authentications/finish`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishCeremony {
    /// The id the start returned.
    pub ceremony_id: String,
    /// The browser's `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Object)]
    pub credential: Box<RawValue>,
    /// Browser sign-ins with sessions on: `cookie` (default) sets an HttpOnly cookie; `token`
    /// returns the session token in the body for an SDK that holds it. Ignored elsewhere.
    #[serde(default)]
    pub session_transport: Option<crate::sessions::SessionTransport>,
}

/// A finished registration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationFinished {
    /// The new passkey.
    pub passkey: PasskeyView,
}

/// `POST /v1/authentications/start`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartAuthentication {
    /// The user signing in (username-first); omit for a discoverable or autofill sign-in.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `required`, `preferred` or `discouraged`; cannot be weaker than the app's `required`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_verification: Option<UserVerification>,
}

/// A started authentication: the options to pass to `navigator.credentials.get()`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthenticationStarted {
    /// Hand this back to finish the ceremony.
    pub ceremony_id: String,
    /// `PublicKeyCredentialRequestOptionsJSON` (WebAuthn Level 3).
    #[schema(value_type = Object)]
    pub options: RequestOptions,
    /// When the ceremony stops being usable (RFC 3339).
    pub expires_at: String,
}

/// A finished sign-in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthenticationFinished {
    /// Who signed in.
    pub user: UserView,
    /// The passkey used, as updated by this sign-in.
    pub passkey: PasskeyView,
    /// Whether the user was verified (biometrics or PIN), not just present.
    pub user_verified: bool,
}

/// The requirement in force: the request's, unless it would weaken the app's `required`.
fn user_verification(
    app: &AppContext,
    requested: Option<UserVerification>,
) -> ApiResult<UserVerification> {
    let policy = app.settings.user_verification;
    match requested {
        None => Ok(policy),
        Some(r) if policy == UserVerification::Required && r != UserVerification::Required => {
            Err(ApiError::invalid(
                "user_verification",
                "the app requires user verification; it cannot be lowered per ceremony",
            ))
        }
        Some(r) => Ok(r),
    }
}

fn descriptor(p: &Passkey) -> CredentialDescriptor {
    CredentialDescriptor::new(p.credential_id.clone(), p.transports.clone())
}

fn too_many(limit: u32) -> ApiError {
    ApiError::new(
        Kind::Conflict,
        "too_many_passkeys",
        format!(
            "the user already has {limit} passkeys, the most this app allows; delete one first"
        ),
    )
}

impl Service {
    /// Starts a registration for a user (created when new).
    pub async fn start_registration(
        &self,
        app: &AppContext,
        req: &StartRegistration,
        channel: Channel,
    ) -> ApiResult<RegistrationStarted> {
        check_external_id(&req.external_id)?;
        if let Some(name) = &req.passkey_name {
            check_text("passkey_name", name, 64)?;
        }
        let uv = user_verification(app, req.user_verification)?;
        let (user, existing, unsaved) = self.registering_user(app, req).await?;
        let limit = app.settings.max_passkeys_per_user;
        if existing.len() >= limit as usize {
            return Err(too_many(limit));
        }
        let settings = RegistrationSettings {
            algorithms: app.algorithms.clone(),
            timeout_ms: Some(app.settings.challenge_ttl_seconds * 1000),
            exclude_credentials: existing.iter().map(descriptor).collect(),
            attachment: req.authenticator_attachment,
            resident_key: req.resident_key.unwrap_or(app.settings.resident_key),
            user_verification: uv,
            attestation: app.settings.attestation,
            hints: Vec::new(),
            cred_props: true,
        };
        let handle = UserHandle::new(user.handle.clone()).map_err(|e| {
            ApiError::internal(format!("stored user handle of {} is invalid: {e}", user.id))
        })?;
        let name = user.username.as_deref().unwrap_or(&user.external_id);
        let new_user = NewUser {
            handle,
            name,
            display_name: user.display_name.as_deref().unwrap_or(name),
        };
        let challenge = Challenge::new(secrets::random_bytes(32)?).map_err(ApiError::internal)?;
        let (options, state) = registration_options(
            &app.rp,
            &app.settings.rp_name,
            new_user,
            challenge,
            &settings,
        )
        .map_err(ApiError::internal)?;
        let data = CeremonyData::Registration {
            state,
            passkey_name: req.passkey_name.as_ref().map(|n| n.trim().to_owned()),
            passkey_id: req.reserved_passkey_id.clone(),
            external_id: Some(user.external_id.clone()),
            new_user: unsaved.then(|| UnsavedUser {
                handle: b64::encode(&user.handle),
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                created_at: user.created_at,
            }),
        };
        let (ceremony_id, expires_at) = self.put_ceremony(app, Some(&user), &data, channel).await?;
        Ok(RegistrationStarted {
            ceremony_id,
            options,
            expires_at,
        })
    }

    /// The user a registration is for, with its passkeys, and whether it is still unsaved. Most
    /// registrations are of a known user whose names did not change: one read. A user the app
    /// does not have yet is made here but stored only when the registration finishes, with its
    /// passkey, in one durable write (an abandoned registration leaves no user). A known user
    /// whose names changed is renamed now, with a write that need not be durable on its own.
    async fn registering_user(
        &self,
        app: &AppContext,
        req: &StartRegistration,
    ) -> ApiResult<(User, Vec<Passkey>, bool)> {
        let found = self
            .store
            .get_user_with_passkeys(&app.id, &req.external_id)
            .await?;
        let unchanged =
            |stored: &Option<String>, asked: &Option<String>| asked.is_none() || asked == stored;
        match found {
            Some((user, passkeys))
                if unchanged(&user.username, &req.username)
                    && unchanged(&user.display_name, &req.display_name) =>
            {
                Ok((user, passkeys, false))
            }
            Some((_, passkeys)) => {
                let (user, created) = self
                    .write_user(
                        app,
                        &req.external_id,
                        req.username.as_deref(),
                        req.display_name.as_deref(),
                        false,
                    )
                    .await?;
                // Created: the user was deleted after the read, with its passkeys.
                let passkeys = if created { Vec::new() } else { passkeys };
                Ok((user, passkeys, false))
            }
            None => {
                check_user_names(req.username.as_deref(), req.display_name.as_deref())?;
                let (id, handle) = new_user_identity()?;
                let now = now_ms();
                let user = User {
                    id,
                    app_id: app.id.clone(),
                    external_id: req.external_id.clone(),
                    handle,
                    username: req.username.clone(),
                    display_name: req.display_name.clone(),
                    created_at: now,
                    updated_at: now,
                };
                Ok((user, Vec::new(), true))
            }
        }
    }

    /// Finishes a registration: verifies the browser's response and stores the passkey. The
    /// outcome is recorded in the audit log (`passkey.created` or `registration.failed`).
    pub async fn finish_registration(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        channel: Channel,
    ) -> ApiResult<PasskeyView> {
        let mut user_id = None;
        let result = self
            .finish_registration_inner(app, req, channel, &mut user_id)
            .await;
        let event = match &result {
            Ok(passkey) => Event::new("passkey.created", &app.id)
                .user(Some(&passkey.external_id))
                .passkey(Some(&passkey.id))
                .with("name", passkey.name.as_str())
                .with("aaguid", passkey.aaguid.as_str()),
            Err(e) => {
                // The log shows the app's own id of the user; a ceremony started by an older
                // passkeyd names the user by internal id only.
                let external = match &user_id {
                    Some((_, Some(external))) => Some(external.clone()),
                    Some((id, None)) => self
                        .store
                        .get_user_by_id(&app.id, id)
                        .await
                        .ok()
                        .flatten()
                        .map(|u| u.external_id),
                    None => None,
                };
                Event::new("registration.failed", &app.id)
                    .failed(e)
                    .user(external.as_deref())
            }
        };
        self.record(app, event.with("channel", channel.name()))
            .await;
        result
    }

    async fn finish_registration_inner(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        channel: Channel,
        seen_user: &mut Option<(String, Option<String>)>,
    ) -> ApiResult<PasskeyView> {
        let (ceremony, data) = self
            .take_ceremony(app, &req.ceremony_id, &channel.kind("registration"))
            .await?;
        let CeremonyData::Registration {
            state,
            passkey_name,
            passkey_id,
            external_id,
            new_user,
        } = data
        else {
            return Err(ceremony_not_found(&req.ceremony_id));
        };
        let user_id = ceremony
            .user_id
            .ok_or_else(|| ApiError::internal("a registration ceremony without a user"))?;
        *seen_user = Some((user_id.clone(), external_id.clone()));
        let response = RegistrationResponse::from_json(req.credential.get().as_bytes())?;
        let now = now_ms();
        let verified = verify_registration(
            &app.rp,
            &state,
            &AttestationPolicy::default(),
            &response,
            now / 1000,
        )?;
        if app.settings.backup_policy == BackupPolicy::DeviceBound && verified.backup_eligible {
            return Err(ApiError::new(
                Kind::Refused,
                "backup_policy_violation",
                "this app accepts only device-bound passkeys, and this one can be synced (BE is set)",
            ));
        }
        // A user created by this registration has no passkeys yet.
        let existing = match &new_user {
            Some(_) => Vec::new(),
            None => self.store.list_passkeys(&app.id, &user_id).await?,
        };
        let generated_name = passkey_name.unwrap_or_else(|| {
            let model = self.names.name(&verified.aaguid).map(str::to_owned);
            let base = model.unwrap_or_else(|| {
                fallback_name(
                    &verified.transports,
                    verified.authenticator_attachment.as_deref(),
                )
            });
            unique_name(&base, &existing)
        });
        let passkey = Passkey {
            id: match passkey_id {
                Some(id) => id,
                None => secrets::new_id("pk")?,
            },
            app_id: app.id.clone(),
            user_id: user_id.clone(),
            user_external_id: String::new(),
            name: None,
            generated_name,
            credential_id: verified.credential_id,
            public_key: verified.public_key,
            alg: verified.alg.cose_id(),
            aaguid: verified.aaguid,
            transports: verified.transports,
            backup_eligible: verified.backup_eligible,
            backup_state: verified.backup_state,
            user_verified: verified.user_verified,
            discoverable: verified.discoverable,
            attachment: verified.authenticator_attachment,
            attestation_format: verified.fmt,
            attestation_type: serde_json::to_value(verified.attestation_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            sign_count: i64::from(verified.sign_count),
            created_at: now,
            updated_at: now,
            last_used_at: None,
        };
        let stored = match (new_user, &external_id) {
            (Some(new), Some(external_id)) => {
                let user = User {
                    id: user_id.clone(),
                    app_id: app.id.clone(),
                    external_id: external_id.clone(),
                    handle: b64::decode(&new.handle).map_err(|_| {
                        ApiError::internal(format!(
                            "stored ceremony {} has an unreadable user handle",
                            req.ceremony_id
                        ))
                    })?,
                    username: new.username,
                    display_name: new.display_name,
                    created_at: new.created_at,
                    updated_at: new.created_at,
                };
                self.store.insert_user_with_passkey(&user, &passkey).await
            }
            _ => {
                self.store
                    .insert_passkey(&passkey, app.settings.max_passkeys_per_user)
                    .await
            }
        };
        match stored {
            Ok(()) => {}
            Err(StoreError::LimitReached { limit }) => return Err(too_many(limit)),
            Err(StoreError::Conflict("external_id")) => {
                return Err(ApiError::new(
                    Kind::Conflict,
                    "registration_conflict",
                    "another registration created this user while this one ran; start a new registration",
                ))
            }
            Err(StoreError::Conflict("credential_id")) => {
                return Err(ApiError::new(
                    Kind::Conflict,
                    "passkey_exists",
                    "this credential is already registered; the authenticator should have been excluded",
                ))
            }
            Err(StoreError::Missing(_)) => {
                return Err(ApiError::not_found(
                    "user_not_found",
                    "the user was deleted while the ceremony ran",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        match external_id {
            Some(external_id) => {
                let passkey = Passkey {
                    user_external_id: external_id,
                    ..passkey
                };
                Ok(PasskeyView::new(&passkey, &self.names))
            }
            // A ceremony started by an older passkeyd does not carry the external id.
            None => self.passkey(app, &passkey.id).await,
        }
    }

    /// Starts a sign-in: username-first when `external_id` is given, discoverable otherwise.
    pub async fn start_authentication(
        &self,
        app: &AppContext,
        req: &StartAuthentication,
        channel: Channel,
    ) -> ApiResult<AuthenticationStarted> {
        let uv = user_verification(app, req.user_verification)?;
        let (user, sign_in) = match &req.external_id {
            Some(external_id) => {
                check_external_id(external_id)?;
                let (user, passkeys) = self.user_with_passkeys(app, external_id).await?;
                if passkeys.is_empty() {
                    return Err(ApiError::new(
                        Kind::Refused,
                        "no_passkeys",
                        format!("user {external_id:?} has no passkeys"),
                    ));
                }
                let handle = UserHandle::new(user.handle.clone()).map_err(ApiError::internal)?;
                let sign_in = SignInUser::Known {
                    handle,
                    credentials: passkeys.iter().map(descriptor).collect(),
                };
                (Some(user), sign_in)
            }
            None => (None, SignInUser::Discoverable),
        };
        let settings = AuthenticationSettings {
            timeout_ms: Some(app.settings.challenge_ttl_seconds * 1000),
            user_verification: uv,
            hints: Vec::new(),
        };
        let challenge = Challenge::new(secrets::random_bytes(32)?).map_err(ApiError::internal)?;
        let (options, state) = authentication_options(&app.rp, sign_in, challenge, &settings)
            .map_err(ApiError::internal)?;
        let data = CeremonyData::Authentication { state };
        let (ceremony_id, expires_at) = self
            .put_ceremony(app, user.as_ref(), &data, channel)
            .await?;
        Ok(AuthenticationStarted {
            ceremony_id,
            options,
            expires_at,
        })
    }

    /// Finishes a sign-in: verifies the assertion and writes back the counter, backup state and
    /// time of use. The outcome is recorded in the audit log (`signin.succeeded` or
    /// `signin.failed`, naming the user and passkey when the credential was known).
    pub async fn finish_authentication(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        channel: Channel,
    ) -> ApiResult<AuthenticationFinished> {
        let mut seen = None;
        let result = self
            .finish_authentication_inner(app, req, channel, &mut seen)
            .await;
        let (user, passkey) = seen.unzip();
        let event = match &result {
            Ok(done) => {
                Event::new("signin.succeeded", &app.id).with("user_verified", done.user_verified)
            }
            Err(e) => Event::new("signin.failed", &app.id).failed(e),
        };
        self.record(
            app,
            event
                .user(user.as_deref())
                .passkey(passkey.as_deref())
                .with("channel", channel.name()),
        )
        .await;
        result
    }

    async fn finish_authentication_inner(
        &self,
        app: &AppContext,
        req: &FinishCeremony,
        channel: Channel,
        seen: &mut Option<(String, String)>,
    ) -> ApiResult<AuthenticationFinished> {
        let (_, data) = self
            .take_ceremony(app, &req.ceremony_id, &channel.kind("authentication"))
            .await?;
        let CeremonyData::Authentication { state } = data else {
            return Err(ceremony_not_found(&req.ceremony_id));
        };
        let response = AuthenticationResponse::from_json(req.credential.get().as_bytes())?;
        let (passkey, user) = self
            .store
            .find_passkey_with_user(&app.id, response.credential_id())
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Kind::Refused,
                    "unknown_credential",
                    "this passkey is not registered with the app (it may have been deleted)",
                )
            })?;
        *seen = Some((user.external_id.clone(), passkey.id.clone()));
        let public_key = CredentialPublicKey::from_cose(&passkey.public_key).map_err(|e| {
            ApiError::internal(format!(
                "stored key of passkey {} is invalid: {e}",
                passkey.id
            ))
        })?;
        let stored = StoredCredential {
            credential_id: &passkey.credential_id,
            public_key: &public_key,
            sign_count: u32::try_from(passkey.sign_count).unwrap_or(u32::MAX),
            user_handle: &user.handle,
            backup_eligible: passkey.backup_eligible,
            backup_state: passkey.backup_state,
        };
        let verified =
            verify_authentication(&app.rp, &state, app.counter_policy(), &response, &stored)?;
        if verified.counter_rollback {
            tracing::warn!(app = %app.id, passkey = %passkey.id, "signature counter did not increase; the credential may be cloned");
        }
        if verified.backup_eligible_changed {
            tracing::warn!(app = %app.id, passkey = %passkey.id, "backup eligibility changed, which authenticators must never do");
        }
        if app.settings.backup_policy == BackupPolicy::DeviceBound && verified.backup_eligible {
            return Err(ApiError::new(
                Kind::Refused,
                "backup_policy_violation",
                "this app accepts only device-bound passkeys, and this one can be synced (BE is set)",
            ));
        }
        let now = now_ms();
        let used = PasskeyUse {
            sign_count: i64::from(verified.sign_count),
            backup_state: verified.backup_state,
            now,
        };
        if !self
            .store
            .record_passkey_use(&app.id, &passkey.id, &passkey.credential_id, used)
            .await?
        {
            return Err(ApiError::new(
                Kind::Refused,
                "unknown_credential",
                "this passkey was deleted while the sign-in ran",
            ));
        }
        let mut passkey = passkey;
        passkey.sign_count = passkey.sign_count.max(used.sign_count);
        passkey.backup_state = used.backup_state;
        passkey.last_used_at = Some(now);
        passkey.updated_at = now;
        passkey.user_external_id = user.external_id.clone();
        Ok(AuthenticationFinished {
            user: UserView::from(&user),
            passkey: PasskeyView::new(&passkey, &self.names),
            user_verified: verified.user_verified,
        })
    }

    async fn put_ceremony(
        &self,
        app: &AppContext,
        user: Option<&User>,
        data: &CeremonyData,
        channel: Channel,
    ) -> ApiResult<(String, String)> {
        let expires_at = now_ms() + app.ttl_millis();
        let ceremony = Ceremony {
            id: secrets::new_id("cer")?,
            app_id: app.id.clone(),
            kind: channel.kind(data.kind()),
            user_id: user.map(|u| u.id.clone()),
            data: serde_json::to_string(data).map_err(ApiError::internal)?,
            expires_at,
        };
        self.store.put_ceremony(&ceremony).await?;
        Ok((ceremony.id, crate::views::timestamp(expires_at)))
    }

    /// Takes a ceremony out of the store (so it can never be used again) and checks it.
    async fn take_ceremony(
        &self,
        app: &AppContext,
        id: &str,
        kind: &str,
    ) -> ApiResult<(Ceremony, CeremonyData)> {
        if id.is_empty() || id.len() > 64 {
            return Err(ceremony_not_found(id));
        }
        let ceremony = self
            .store
            .take_ceremony(&app.id, id)
            .await?
            .ok_or_else(|| ceremony_not_found(id))?;
        if ceremony.kind != kind {
            return Err(ceremony_not_found(id));
        }
        if ceremony.expires_at < now_ms() {
            return Err(ApiError::new(
                Kind::Refused,
                "ceremony_expired",
                "the ceremony expired; start a new one",
            ));
        }
        let data: CeremonyData = serde_json::from_str(&ceremony.data)
            .map_err(|e| ApiError::internal(format!("stored ceremony {id} is unreadable: {e}")))?;
        Ok((ceremony, data))
    }
}

fn ceremony_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "ceremony_not_found",
        format!("no ceremony {id:?} is waiting: it was finished already, never existed, or belongs to another app"),
    )
}

/// A name for a passkey whose model is unknown.
fn fallback_name(transports: &[String], attachment: Option<&str>) -> String {
    let roaming = attachment == Some("cross-platform")
        || transports
            .iter()
            .any(|t| matches!(t.as_str(), "usb" | "nfc" | "ble"));
    if roaming { "Security key" } else { "Passkey" }.to_owned()
}

/// `base`, or `base (2)`, `base (3)`, ... so that a user's passkeys are told apart.
fn unique_name(base: &str, existing: &[Passkey]) -> String {
    let taken = |n: &str| existing.iter().any(|p| p.display_name() == n);
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|i| format!("{base} ({i})"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_names_tell_keys_from_passkeys() {
        assert_eq!(fallback_name(&["usb".into()], None), "Security key");
        assert_eq!(fallback_name(&[], Some("cross-platform")), "Security key");
        assert_eq!(
            fallback_name(&["internal".into(), "hybrid".into()], Some("platform")),
            "Passkey"
        );
    }

    #[test]
    fn names_are_made_unique_per_user() {
        let mk = |name: &str| Passkey {
            id: String::new(),
            app_id: String::new(),
            user_id: String::new(),
            user_external_id: String::new(),
            name: None,
            generated_name: name.into(),
            credential_id: vec![],
            public_key: vec![],
            alg: -7,
            aaguid: String::new(),
            transports: vec![],
            backup_eligible: false,
            backup_state: false,
            user_verified: false,
            discoverable: None,
            attachment: None,
            attestation_format: String::new(),
            attestation_type: String::new(),
            sign_count: 0,
            created_at: 0,
            updated_at: 0,
            last_used_at: None,
        };
        assert_eq!(unique_name("iCloud Keychain", &[]), "iCloud Keychain");
        let existing = vec![mk("iCloud Keychain"), mk("iCloud Keychain (2)")];
        assert_eq!(
            unique_name("iCloud Keychain", &existing),
            "iCloud Keychain (3)"
        );
    }
}
