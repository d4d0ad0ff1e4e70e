//! The operations behind the backend API, independent of HTTP: users and their passkeys, checked
//! and scoped to one app. Ceremonies are in `ceremony.rs`. Every operation takes the app it acts
//! for, so one app's key can never reach another app's data.

use crate::audit::{Audit, Event};
use crate::error::{ApiError, ApiResult};
use crate::secrets;
use crate::settings::AppContext;
use crate::views::{AuthenticatorNames, PasskeyView, UserView};
use passkeyd_core::b64;
use passkeyd_store::{Millis, Passkey, SharedStore, User, UserUpsert};
use serde::{Deserialize, Serialize};

/// The most users one page of `GET /v1/users` returns.
pub const MAX_PAGE: u32 = 100;

/// What every operation needs: the store, the authenticator names and the audit sink.
#[derive(Clone)]
pub struct Service {
    /// The store.
    pub store: SharedStore,
    /// AAGUID to model name.
    pub names: AuthenticatorNames,
    /// Where events are recorded.
    pub audit: Audit,
    /// Apps' parsed settings, reused while their rows are unchanged.
    pub apps: std::sync::Arc<crate::settings::AppContexts>,
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Checks a user's names as the API accepts them.
pub(crate) fn check_user_names(
    username: Option<&str>,
    display_name: Option<&str>,
) -> ApiResult<()> {
    if let Some(u) = username {
        check_text("username", u, 256)?;
    }
    if let Some(d) = display_name {
        check_text("display_name", d, 256)?;
    }
    Ok(())
}

/// A new user's internal id and WebAuthn user handle. The handle is random, never the
/// external id: authenticators may show or leak it.
pub(crate) fn new_user_identity() -> ApiResult<(String, Vec<u8>)> {
    Ok((secrets::new_id("usr")?, secrets::random_bytes(32)?))
}

/// Checks a caller-supplied text field: trimmed length within `1..=max`, no control characters.
pub fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks an external id (at most 256 characters, no control characters).
pub fn check_external_id(value: &str) -> ApiResult<()> {
    check_text("external_id", value, 256)
}

/// `POST /v1/users`: create a user, or update its names.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertUser {
    /// The app's identifier for the user (1 to 256 characters).
    pub external_id: String,
    /// Account name shown by authenticators (an email or handle); defaults to the external id.
    #[serde(default)]
    pub username: Option<String>,
    /// Friendly name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// One page of users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    /// The users, ordered by external id.
    pub data: Vec<UserView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A list of passkeys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    /// The passkeys, oldest first.
    pub data: Vec<PasskeyView>,
}

/// `PATCH /v1/passkeys/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    /// The new name (1 to 64 characters), or null to restore the generated name. Required:
    /// an empty body is a mistake, not a request to restore the name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = true)]
    pub name: Option<Option<String>>,
}

impl RenamePasskey {
    /// The new name: `Some(name)`, or `None` to restore the generated one. A body without the
    /// member is refused: an empty body is a mistake, not a request to restore the name.
    pub fn into_name(self) -> ApiResult<Option<String>> {
        self.name.ok_or_else(|| {
            ApiError::invalid(
                "name",
                "is required (a string, or null to restore the generated name)",
            )
        })
    }
}

/// Tells a member given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// How many passkeys a bulk delete removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The number removed.
    pub deleted: u64,
}

impl Service {
    /// A service over a store, recording events in that store's audit log.
    pub fn new(store: SharedStore, names: AuthenticatorNames) -> Self {
        Service {
            audit: Audit::new(store.clone()),
            apps: Default::default(),
            store,
            names,
        }
    }

    /// The same service with its audit entries written in batches by a background writer
    /// (see [`Audit::batched`]); `passkeyd serve` runs this way.
    pub fn with_audit_writer(mut self) -> Self {
        self.audit = self.audit.batched();
        self
    }

    /// Records an event with the app's caller.
    pub async fn record(&self, app: &AppContext, event: Event) {
        self.audit.record(&app.caller, event).await;
    }

    /// Creates the user or updates its names; returns the user and whether it was created.
    pub async fn upsert_user(
        &self,
        app: &AppContext,
        external_id: &str,
        username: Option<&str>,
        display_name: Option<&str>,
    ) -> ApiResult<(User, bool)> {
        self.write_user(app, external_id, username, display_name, true)
            .await
    }

    /// [`Service::upsert_user`], saying whether the write must be durable on its own (see
    /// `UserUpsert::durable`).
    pub(crate) async fn write_user(
        &self,
        app: &AppContext,
        external_id: &str,
        username: Option<&str>,
        display_name: Option<&str>,
        durable: bool,
    ) -> ApiResult<(User, bool)> {
        check_external_id(external_id)?;
        check_user_names(username, display_name)?;
        let (new_id, new_handle) = new_user_identity()?;
        let upsert = UserUpsert {
            app_id: app.id.clone(),
            external_id: external_id.to_owned(),
            username: username.map(str::to_owned),
            display_name: display_name.map(str::to_owned),
            new_id,
            new_handle,
            now: now_ms(),
            durable,
        };
        Ok(self.store.upsert_user(&upsert).await?)
    }

    /// A user by external id, or `user_not_found`.
    pub async fn user(&self, app: &AppContext, external_id: &str) -> ApiResult<User> {
        self.store
            .get_user(&app.id, external_id)
            .await?
            .ok_or_else(|| user_not_found(external_id))
    }

    /// A user by external id with its passkeys (oldest first), or `user_not_found`.
    pub async fn user_with_passkeys(
        &self,
        app: &AppContext,
        external_id: &str,
    ) -> ApiResult<(User, Vec<Passkey>)> {
        self.store
            .get_user_with_passkeys(&app.id, external_id)
            .await?
            .ok_or_else(|| user_not_found(external_id))
    }

    /// One page of users after the opaque `cursor`.
    pub async fn list_users(
        &self,
        app: &AppContext,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ApiResult<UserPage> {
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        let after = cursor
            .map(|c| {
                b64::decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))
            })
            .transpose()?;
        let mut users = self
            .store
            .list_users(&app.id, after.as_deref(), limit + 1)
            .await?;
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        let next_cursor = more
            .then(|| users.last().map(|u| b64::encode(u.external_id.as_bytes())))
            .flatten();
        Ok(UserPage {
            data: users.iter().map(UserView::from).collect(),
            next_cursor,
        })
    }

    /// Deletes a user and their passkeys.
    pub async fn delete_user(&self, app: &AppContext, external_id: &str) -> ApiResult<()> {
        if self.store.delete_user(&app.id, external_id).await? {
            self.record(
                app,
                Event::new("user.deleted", &app.id).user(Some(external_id)),
            )
            .await;
            Ok(())
        } else {
            Err(ApiError::not_found(
                "user_not_found",
                format!("no user with external id {external_id:?}"),
            ))
        }
    }

    /// A user's passkeys.
    pub async fn user_passkeys(
        &self,
        app: &AppContext,
        external_id: &str,
    ) -> ApiResult<PasskeyList> {
        let (_, passkeys) = self.user_with_passkeys(app, external_id).await?;
        Ok(PasskeyList {
            data: passkeys
                .iter()
                .map(|p| PasskeyView::new(p, &self.names))
                .collect(),
        })
    }

    /// One passkey, or `passkey_not_found`.
    pub async fn passkey(&self, app: &AppContext, id: &str) -> ApiResult<PasskeyView> {
        let passkey = self
            .store
            .get_passkey(&app.id, id)
            .await?
            .ok_or_else(|| passkey_not_found(id))?;
        Ok(PasskeyView::new(&passkey, &self.names))
    }

    /// Sets a passkey's name, or restores the generated one.
    pub async fn rename_passkey(
        &self,
        app: &AppContext,
        id: &str,
        name: Option<&str>,
    ) -> ApiResult<PasskeyView> {
        let name = name.map(str::trim);
        if let Some(n) = name {
            check_text("name", n, 64)?;
        }
        let passkey = self
            .store
            .rename_passkey(&app.id, id, name, now_ms())
            .await?
            .ok_or_else(|| passkey_not_found(id))?;
        self.record(
            app,
            Event::new("passkey.renamed", &app.id)
                .user(Some(&passkey.user_external_id))
                .passkey(Some(id))
                .with("name", passkey.display_name()),
        )
        .await;
        Ok(PasskeyView::new(&passkey, &self.names))
    }

    /// Deletes one passkey.
    pub async fn delete_passkey(&self, app: &AppContext, id: &str) -> ApiResult<()> {
        // Read first, so the audit entry can name the owner of what is gone.
        let owner = self
            .store
            .get_passkey(&app.id, id)
            .await?
            .map(|p| p.user_external_id);
        if self.store.delete_passkey(&app.id, id).await? {
            self.record(
                app,
                Event::new("passkey.deleted", &app.id)
                    .user(owner.as_deref())
                    .passkey(Some(id)),
            )
            .await;
            Ok(())
        } else {
            Err(passkey_not_found(id))
        }
    }

    /// Deletes all of a user's passkeys.
    pub async fn delete_user_passkeys(
        &self,
        app: &AppContext,
        external_id: &str,
    ) -> ApiResult<Deleted> {
        let user = self.user(app, external_id).await?;
        // Listed first, so each deletion is recorded (and sent to webhooks) on its own.
        let passkeys = self.store.list_passkeys(&app.id, &user.id).await?;
        let deleted = self.store.delete_user_passkeys(&app.id, &user.id).await?;
        for p in &passkeys {
            self.record(
                app,
                Event::new("passkey.deleted", &app.id)
                    .user(Some(external_id))
                    .passkey(Some(&p.id))
                    .with("all_of_user", true),
            )
            .await;
        }
        Ok(Deleted { deleted })
    }
}

/// The error for a passkey id the app does not have.
pub fn passkey_not_found(id: &str) -> ApiError {
    ApiError::not_found("passkey_not_found", format!("no passkey with id {id:?}"))
}

fn user_not_found(external_id: &str) -> ApiError {
    ApiError::not_found(
        "user_not_found",
        format!("no user with external id {external_id:?}"),
    )
}
