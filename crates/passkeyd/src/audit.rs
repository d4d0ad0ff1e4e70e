//! The audit log: one sink ([`Audit`]) that every recorded event passes through. It writes the
//! entry to the store, repeats it in the structured log (target `passkeyd::audit`, for a SIEM),
//! and queues a webhook delivery for each of the app's endpoints that subscribes to the event.
//!
//! Events are recorded by the service layer where the outcome is known (a ceremony's finish, a
//! deletion), with the [`Caller`] the HTTP layer (or the CLI) put on the app context, so handlers
//! need no audit code of their own.

use crate::admin::ADMIN_APP_ID;
use crate::error::ApiError;
use crate::secrets;
use crate::service::now_ms;
use crate::views::timestamp;
use passkeyd_store::{AuditEntry, SharedStore, WebhookDelivery};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Notify;

/// Who is acting, from where: recorded with every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `key:<prefix>`, `browser`, `demo`, `admin:<id>`, `cli` or `system`.
    pub actor: String,
    /// The client's IP, over HTTP.
    pub ip: Option<String>,
    /// The client's User-Agent, when it sent one (cut to 256 characters).
    pub user_agent: Option<String>,
}

impl Default for Caller {
    /// The server itself (start-up, background work), until the HTTP layer says otherwise.
    fn default() -> Self {
        Caller::named("system")
    }
}

impl Caller {
    /// A caller with no network address (the CLI, the server itself).
    pub fn named(actor: &str) -> Self {
        Caller {
            actor: actor.to_owned(),
            ip: None,
            user_agent: None,
        }
    }

    /// A caller over HTTP.
    pub fn http(actor: String, ip: std::net::IpAddr, user_agent: Option<&str>) -> Self {
        Caller {
            actor,
            ip: Some(ip.to_string()),
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
        }
    }
}

/// The event types webhooks can subscribe to (admin events are never sent to apps).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "passkey.created",
    "passkey.renamed",
    "passkey.deleted",
    "registration.failed",
    "signin.succeeded",
    "signin.failed",
    "user.deleted",
    "key.created",
    "key.revoked",
    "app.updated",
];

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event type, such as `signin.failed`.
    pub event: &'static str,
    /// The app, when the event belongs to one.
    pub app_id: Option<String>,
    /// The error code when it failed.
    pub error_code: Option<String>,
    /// The user (the app's external id).
    pub user: Option<String>,
    /// The passkey.
    pub passkey: Option<String>,
    /// More, as a JSON object.
    pub detail: Value,
}

impl Event {
    /// A successful event of an app.
    pub fn new(event: &'static str, app_id: &str) -> Self {
        Event {
            event,
            app_id: Some(app_id.to_owned()),
            error_code: None,
            user: None,
            passkey: None,
            detail: json!({}),
        }
    }

    /// An event that belongs to no app (admin events).
    pub fn global(event: &'static str) -> Self {
        Event {
            app_id: None,
            ..Event::new(event, "")
        }
    }

    /// The failure `error` (its code is recorded, its message goes in the detail).
    pub fn failed(mut self, error: &ApiError) -> Self {
        self.error_code = Some(error.code.to_owned());
        self.detail["message"] = Value::String(error.message.clone());
        self
    }

    /// The user concerned.
    pub fn user(mut self, external_id: Option<&str>) -> Self {
        self.user = external_id.map(str::to_owned);
        self
    }

    /// The passkey concerned.
    pub fn passkey(mut self, id: Option<&str>) -> Self {
        self.passkey = id.map(str::to_owned);
        self
    }

    /// One more detail.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail[key] = value.into();
        self
    }
}

/// The sink every event passes through.
#[derive(Clone)]
pub struct Audit {
    store: SharedStore,
    /// Woken when deliveries are queued, so the webhook worker need not wait for its next poll.
    wake: Arc<Notify>,
}

impl Audit {
    /// A sink writing to `store`.
    pub fn new(store: SharedStore) -> Self {
        Audit {
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// What the webhook worker waits on.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Records an event. A failure to write is logged, never returned: the operation it
    /// describes has happened already, and its caller must learn that it did.
    pub async fn record(&self, caller: &Caller, event: Event) {
        let mut event = event;
        let mut name = event.event.to_owned();
        // Admins sign in through the internal admin app; their ceremonies are admin events.
        if event.app_id.as_deref() == Some(ADMIN_APP_ID) {
            name = format!("admin.{name}");
            event.app_id = None;
        }
        let outcome = if event.error_code.is_some() {
            "failure"
        } else {
            "success"
        };
        let id = match secrets::new_id("aud") {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, event = %name, "audit entry not recorded");
                return;
            }
        };
        let entry = AuditEntry {
            id,
            at: now_ms(),
            app_id: event.app_id.clone(),
            event: name,
            outcome: outcome.to_owned(),
            error_code: event.error_code.clone(),
            user_id: event.user.clone(),
            passkey_id: event.passkey.clone(),
            actor: caller.actor.clone(),
            ip: caller.ip.clone(),
            user_agent: caller.user_agent.clone(),
            detail: event.detail.to_string(),
        };
        tracing::info!(
            target: "passkeyd::audit",
            audit_id = %entry.id,
            event = %entry.event,
            outcome,
            app = entry.app_id.as_deref().unwrap_or(""),
            user = entry.user_id.as_deref().unwrap_or(""),
            passkey = entry.passkey_id.as_deref().unwrap_or(""),
            error_code = entry.error_code.as_deref().unwrap_or(""),
            actor = %entry.actor,
            ip = entry.ip.as_deref().unwrap_or(""),
            user_agent = entry.user_agent.as_deref().unwrap_or(""),
            "audit"
        );
        if let Err(e) = self.store.insert_audit_entry(&entry).await {
            tracing::error!(audit_id = %entry.id, error = %e, "audit entry not stored");
        }
        if let Err(e) = self.enqueue(&entry).await {
            tracing::error!(audit_id = %entry.id, error = %e, "webhook deliveries not queued");
        }
    }

    /// Queues the entry for every enabled endpoint of its app that subscribes to its type.
    async fn enqueue(&self, entry: &AuditEntry) -> Result<(), ApiError> {
        let Some(app_id) = &entry.app_id else {
            return Ok(());
        };
        let endpoints = self.store.list_webhook_endpoints(app_id).await?;
        let subscribed: Vec<_> = endpoints
            .iter()
            .filter(|e| e.enabled && e.events.contains(&entry.event))
            .collect();
        if subscribed.is_empty() {
            return Ok(());
        }
        let payload = webhook_payload(entry).to_string();
        let deliveries = subscribed
            .iter()
            .map(|endpoint| {
                Ok(WebhookDelivery {
                    id: secrets::new_id("dlv")?,
                    seq: 0,
                    endpoint_id: endpoint.id.clone(),
                    app_id: app_id.clone(),
                    event_id: entry.id.clone(),
                    event: entry.event.clone(),
                    payload: payload.clone(),
                    status: "pending".to_owned(),
                    attempts: 0,
                    next_attempt_at: entry.at,
                    created_at: entry.at,
                    updated_at: entry.at,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.store.enqueue_webhook_deliveries(&deliveries).await?;
        self.wake.notify_one();
        Ok(())
    }
}

/// The JSON body a webhook receives for an entry. The client's IP and User-Agent stay in the
/// audit log: receivers get what happened, not who browsed from where.
pub fn webhook_payload(entry: &AuditEntry) -> Value {
    let detail: Value = serde_json::from_str(&entry.detail).unwrap_or_else(|_| json!({}));
    json!({
        "id": entry.id,
        "type": entry.event,
        "created_at": timestamp(entry.at),
        "app_id": entry.app_id,
        "data": {
            "outcome": entry.outcome,
            "error_code": entry.error_code,
            "external_id": entry.user_id,
            "passkey_id": entry.passkey_id,
            "actor": entry.actor,
            "detail": detail,
        },
    })
}
