//! The audit log: one sink ([`Audit`]) that every recorded event passes through. It repeats the
//! entry in the structured log (target `passkeyd::audit`, for a SIEM), writes it to the store
//! (in the server, in batches from a background writer) and queues a webhook delivery for each
//! of the app's endpoints that subscribes to the event.
//!
//! Events are recorded by the service layer where the outcome is known (a ceremony's finish, a
//! deletion), with the [`Caller`] the HTTP layer (or the CLI) put on the app context, so handlers
//! need no audit code of their own.

use crate::admin::ADMIN_APP_ID;
use crate::error::ApiError;
use crate::secrets;
use crate::service::now_ms;
use crate::views::timestamp;
use passkeyd_store::{AuditEntry, SharedStore, WebhookDelivery, WebhookEndpoint};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

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
    /// The background writer's queue, once [`Audit::batched`] started it; without it (the
    /// command line) every entry is written before `record` returns.
    queue: Option<mpsc::Sender<Queued>>,
}

/// What the background writer receives.
enum Queued {
    Entry(Box<AuditEntry>),
    /// Answered once everything queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Entries the writer stores in one transaction, at most.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more entries after the first of a batch: the most an entry
/// waits before it is written (readers flush, so they never wait for it).
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);
/// Entries waiting for the writer, at most; `record` then waits for room (backpressure).
const QUEUE: usize = 8192;

impl Audit {
    /// A sink writing to `store`, each entry before `record` returns.
    pub fn new(store: SharedStore) -> Self {
        Audit {
            store,
            wake: Arc::new(Notify::new()),
            queue: None,
        }
    }

    /// The same sink with a background writer (must be called within a Tokio runtime).
    /// `record` then hands the entry over and returns; the writer stores whatever accumulated
    /// while it wrote the previous batch, in one transaction, and queues the batch's webhook
    /// deliveries. Under load that is one write for many ceremonies instead of one each (the
    /// benchmark's profile of a sign-in showed the audit insert as its largest single write).
    /// Readers of the audit log call [`Audit::flush`] first, so they see every entry recorded
    /// before their request. A crash loses only the entries still queued (the log line of each
    /// is written before it is queued).
    pub fn batched(mut self) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(self.store.clone(), self.wake.clone(), rx));
        self.queue = Some(tx);
        self
    }

    /// Waits until every entry recorded before this call is stored (at once without a writer).
    pub async fn flush(&self) {
        if let Some(queue) = &self.queue {
            let (done, stored) = oneshot::channel();
            if queue.send(Queued::Flush(done)).await.is_ok() {
                stored.await.ok();
            }
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
        let at = now_ms();
        let id = match secrets::new_ordered_id("aud", at) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, event = %name, "audit entry not recorded");
                return;
            }
        };
        let entry = AuditEntry {
            id,
            at,
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
        match &self.queue {
            Some(queue) => {
                if let Err(unsent) = queue.send(Queued::Entry(Box::new(entry))).await {
                    if let Queued::Entry(entry) = unsent.0 {
                        tracing::error!(audit_id = %entry.id, "audit entry not stored: the writer stopped");
                    }
                }
            }
            None => store_batch(&self.store, &self.wake, vec![entry]).await,
        }
    }
}

/// The background writer: takes what is queued, up to [`MAX_BATCH`] at a time, and stores it.
/// After the first entry of a batch it waits up to [`BATCH_WINDOW`] for more (a flush ends the
/// wait), so that under load one transaction carries many ceremonies' entries.
async fn write_batches(store: SharedStore, wake: Arc<Notify>, mut rx: mpsc::Receiver<Queued>) {
    let mut entries = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Queued::Entry(entry) => entries.push(*entry),
                Queued::Flush(done) => flushes.push(done),
            }
            if entries.len() >= MAX_BATCH {
                break;
            }
            next = match rx.try_recv() {
                Ok(item) => Some(item),
                Err(_) if !flushes.is_empty() => None,
                Err(_) => tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .ok()
                    .flatten(),
            };
        }
        store_batch(&store, &wake, std::mem::take(&mut entries)).await;
        for done in flushes.drain(..) {
            done.send(()).ok();
        }
    }
}

/// Stores entries and queues their webhook deliveries. Failures are logged, never returned:
/// the operations they describe have happened already.
async fn store_batch(store: &SharedStore, wake: &Notify, entries: Vec<AuditEntry>) {
    if entries.is_empty() {
        return;
    }
    if let Err(e) = store.insert_audit_entries(&entries).await {
        // The batch is all or nothing; one entry at a time, only the faulty one is lost.
        tracing::warn!(error = %e, entries = entries.len(), "audit batch not stored; storing its entries one by one");
        for entry in &entries {
            if let Err(e) = store.insert_audit_entry(entry).await {
                tracing::error!(audit_id = %entry.id, error = %e, "audit entry not stored");
            }
        }
    }
    match enqueue(store, &entries).await {
        Ok(true) => wake.notify_one(),
        Ok(false) => {}
        Err(e) => {
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            tracing::error!(audit_ids = ?ids, error = %e, "webhook deliveries not queued");
        }
    }
}

/// Queues each entry for every enabled endpoint of its app that subscribes to its type, in the
/// entries' order; whether any delivery was queued.
async fn enqueue(store: &SharedStore, entries: &[AuditEntry]) -> Result<bool, ApiError> {
    let mut endpoints: HashMap<&str, Vec<WebhookEndpoint>> = HashMap::new();
    let mut deliveries = Vec::new();
    for entry in entries {
        let Some(app_id) = entry.app_id.as_deref() else {
            continue;
        };
        if !endpoints.contains_key(app_id) {
            endpoints.insert(app_id, store.list_webhook_endpoints(app_id).await?);
        }
        let subscribed: Vec<_> = endpoints[app_id]
            .iter()
            .filter(|e| e.enabled && e.events.contains(&entry.event))
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let payload = webhook_payload(entry).to_string();
        for endpoint in subscribed {
            deliveries.push(WebhookDelivery {
                id: secrets::new_id("dlv")?,
                seq: 0,
                endpoint_id: endpoint.id.clone(),
                app_id: app_id.to_owned(),
                event_id: entry.id.clone(),
                event: entry.event.clone(),
                payload: payload.clone(),
                status: "pending".to_owned(),
                attempts: 0,
                next_attempt_at: entry.at,
                created_at: entry.at,
                updated_at: entry.at,
            });
        }
    }
    if deliveries.is_empty() {
        return Ok(false);
    }
    store.enqueue_webhook_deliveries(&deliveries).await?;
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use passkeyd_store::{App, AuditFilter};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_sees_every_entry_recorded_before_it() {
        let dir = std::env::temp_dir().join(format!(
            "passkeyd-audit-{}",
            crate::secrets::new_id("t").unwrap()
        ));
        let store = passkeyd_store::open(dir.join("db.sqlite3").to_str().unwrap())
            .await
            .unwrap();
        store
            .create_app(&App {
                id: "a".into(),
                name: "A".into(),
                settings: "{}".into(),
                created_at: 0,
                updated_at: 0,
            })
            .await
            .unwrap();
        let audit = Audit::new(store.clone()).batched();
        let caller = Caller::named("test");
        // More than one batch's worth, from several tasks at once.
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let (audit, caller) = (audit.clone(), caller.clone());
                tokio::spawn(async move {
                    for i in 0..300 {
                        let event = Event::new("signin.succeeded", "a").with("n", t * 1000 + i);
                        audit.record(&caller, event).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        audit.flush().await;
        let stored = store
            .list_audit_entries(&AuditFilter::default(), 2000)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1200);
        // Without a writer, record itself stores the entry.
        let inline = Audit::new(store.clone());
        inline.record(&caller, Event::new("key.created", "a")).await;
        let filter = AuditFilter {
            event: Some("key.created".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            store.list_audit_entries(&filter, 10).await.unwrap().len(),
            1
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
