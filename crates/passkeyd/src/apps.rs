//! Apps and their API keys, for the command line and the admin API alike: validation, the
//! reserved internal apps, the configuration file's ownership of its apps, and the audit log.

use crate::admin::is_reserved;
use crate::audit::{Caller, Event};
use crate::config::check_app_id;
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{check_text, now_ms, Service};
use crate::settings::AppSettings;
use crate::views::{AppView, KeyView};
use passkeyd_store::{ApiKey, App, StoreError};
use serde::Serialize;

/// A key just made: its view and the secret, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    /// The key without its secret.
    #[serde(flatten)]
    pub view: KeyView,
    /// The whole key; only its hash is kept.
    pub key: String,
}

fn app_not_found(id: &str) -> ApiError {
    ApiError::not_found("app_not_found", format!("no app with id {id:?}"))
}

fn refuse_if_managed(id: &str, settings: &AppSettings) -> ApiResult<()> {
    if settings.managed_by_config {
        return Err(ApiError::new(
            Kind::Conflict,
            "app_managed_by_config",
            format!("app {id:?} is declared in the configuration file; change it there"),
        ));
    }
    Ok(())
}

impl Service {
    /// An app and its settings; reserved apps do not exist for this purpose.
    pub async fn load_app(&self, id: &str) -> ApiResult<(App, AppSettings)> {
        if is_reserved(id) {
            return Err(app_not_found(id));
        }
        let app = self
            .store
            .get_app(id)
            .await?
            .ok_or_else(|| app_not_found(id))?;
        let settings = AppSettings::from_stored(&app.settings)?;
        Ok((app, settings))
    }

    /// Every app but the reserved ones, by id.
    pub async fn list_apps(&self) -> ApiResult<Vec<AppView>> {
        self.store
            .list_apps()
            .await?
            .into_iter()
            .filter(|app| !is_reserved(&app.id))
            .map(|app| AppSettings::from_stored(&app.settings).map(|s| AppView::new(&app, s)))
            .collect()
    }

    /// One app.
    pub async fn app_view(&self, id: &str) -> ApiResult<AppView> {
        let (app, settings) = self.load_app(id).await?;
        Ok(AppView::new(&app, settings))
    }

    /// Creates an app with `id` (or a random one). The settings are checked; an app created
    /// here is never owned by the configuration file nor runs the demo.
    pub async fn create_app(
        &self,
        caller: &Caller,
        id: Option<&str>,
        name: &str,
        mut settings: AppSettings,
    ) -> ApiResult<AppView> {
        check_text("name", name, 128)?;
        settings.managed_by_config = false;
        settings.demo = false;
        settings.validate()?;
        let id = match id {
            Some(id) => {
                check_app_id(id).map_err(|e| ApiError::invalid("id", e))?;
                id.to_owned()
            }
            None => format!(
                "app_{}",
                passkeyd_core::error::hex(&secrets::random_bytes(8)?)
            ),
        };
        let now = now_ms();
        let app = App {
            id,
            name: name.to_owned(),
            settings: settings.to_stored()?,
            created_at: now,
            updated_at: now,
        };
        match self.store.create_app(&app).await {
            Err(StoreError::Conflict(_)) => Err(ApiError::new(
                Kind::Conflict,
                "app_exists",
                format!("an app with id {:?} exists already", app.id),
            )),
            other => other.map_err(ApiError::from),
        }?;
        self.audit
            .record(
                caller,
                Event::new("app.created", &app.id).with("name", name),
            )
            .await;
        Ok(AppView::new(&app, settings))
    }

    /// Replaces an app's name (when given) and settings through `change`, which sees the
    /// current settings. Apps of the configuration file are refused.
    pub async fn update_app(
        &self,
        caller: &Caller,
        id: &str,
        name: Option<&str>,
        change: impl FnOnce(&mut AppSettings) -> ApiResult<()>,
    ) -> ApiResult<AppView> {
        let (mut app, mut settings) = self.load_app(id).await?;
        refuse_if_managed(id, &settings)?;
        if let Some(name) = name {
            check_text("name", name, 128)?;
            app.name = name.to_owned();
        }
        let (managed, demo) = (settings.managed_by_config, settings.demo);
        change(&mut settings)?;
        // Ownership and the demo are not settings an operator edits.
        settings.managed_by_config = managed;
        settings.demo = demo;
        settings.validate()?;
        app.settings = settings.to_stored()?;
        app.updated_at = now_ms();
        if !self.store.update_app(&app).await? {
            return Err(app_not_found(id));
        }
        let view = AppView::new(&app, settings);
        let detail = serde_json::to_value(&view).map_err(ApiError::internal)?;
        self.audit
            .record(caller, Event::new("app.updated", id).with("app", detail))
            .await;
        Ok(view)
    }

    /// Deletes an app with everything in it.
    pub async fn delete_app(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let (_, settings) = self.load_app(id).await?;
        refuse_if_managed(id, &settings)?;
        if !self.store.delete_app(id).await? {
            return Err(app_not_found(id));
        }
        self.audit
            .record(caller, Event::new("app.deleted", id))
            .await;
        Ok(())
    }

    /// Makes a key for an app; the secret is in the result and nowhere else.
    pub async fn create_key(
        &self,
        caller: &Caller,
        app_id: &str,
        name: Option<&str>,
    ) -> ApiResult<CreatedKey> {
        self.load_app(app_id).await?;
        if let Some(n) = name {
            check_text("name", n, 128)?;
        }
        let made = secrets::new_api_key()?;
        let key = ApiKey {
            id: secrets::new_id("key")?,
            app_id: app_id.to_owned(),
            prefix: made.prefix,
            hash: made.hash,
            name: name.map(str::to_owned),
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_api_key(&key).await?;
        self.audit
            .record(
                caller,
                Event::new("key.created", app_id)
                    .with("key_id", key.id.as_str())
                    .with("prefix", key.prefix.as_str()),
            )
            .await;
        Ok(CreatedKey {
            view: KeyView::from(&key),
            key: made.key,
        })
    }

    /// An app's keys, revoked ones included.
    pub async fn list_keys(&self, app_id: &str) -> ApiResult<Vec<KeyView>> {
        self.load_app(app_id).await?;
        let keys = self.store.list_api_keys(app_id).await?;
        Ok(keys.iter().map(KeyView::from).collect())
    }

    /// Revokes a key.
    pub async fn revoke_key(&self, caller: &Caller, app_id: &str, key_id: &str) -> ApiResult<()> {
        self.load_app(app_id).await?;
        let prefix = self
            .store
            .list_api_keys(app_id)
            .await?
            .into_iter()
            .find(|k| k.id == key_id)
            .map(|k| k.prefix);
        if !self.store.revoke_api_key(app_id, key_id, now_ms()).await? {
            return Err(ApiError::not_found(
                "key_not_found",
                format!("app {app_id:?} has no active key {key_id:?}"),
            ));
        }
        self.audit
            .record(
                caller,
                Event::new("key.revoked", app_id)
                    .with("key_id", key_id)
                    .with("prefix", prefix.unwrap_or_default()),
            )
            .await;
        Ok(())
    }
}
