//! Webhooks: an app's endpoints (managed from the admin API), the signature every delivery
//! carries, and the background worker that posts queued deliveries with retries.
//!
//! Deliveries are queued in the store by the audit sink, so they survive a restart and any
//! instance sharing the database may send them. An endpoint receives its events in order: the
//! worker only ever takes an endpoint's oldest pending delivery, which holds back the later ones
//! until it succeeds or is given up after [`WebhookConfig::max_attempts`]. A delivery is claimed
//! with a lease before it is sent, so two instances never send it at once.

use crate::audit::{Caller, Event, WEBHOOK_EVENTS};
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{check_text, now_ms, Service};
use crate::views::timestamp;
use aws_lc_rs::hmac;
use passkeyd_core::b64;
use passkeyd_core::error::hex;
use passkeyd_store::{Millis, SharedStore, WebhookAttempt, WebhookDelivery, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "passkeyd-signature";
/// Prefix of signing secrets.
const SECRET_PREFIX: &str = "whsec_";
/// The most endpoints an app may have.
const MAX_ENDPOINTS: usize = 20;

/// The signature of a delivery: HMAC-SHA256 with the endpoint's secret over `"<t>.<body>"`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex(tag.as_ref()))
}

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct WebhookConfig {
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll: Duration,
    /// The wait after the first failed attempt; each further failure doubles it.
    pub base_delay_ms: i64,
    /// The longest wait between attempts.
    pub max_delay_ms: i64,
    /// Attempts before a delivery is given up (and the endpoint's next one is sent).
    pub max_attempts: i64,
    /// How long an endpoint has to answer.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    /// Retries after 30 s, 1, 2, 4, 8, 16 and 32 minutes: eight attempts over about an hour.
    fn default() -> Self {
        WebhookConfig {
            poll: Duration::from_secs(5),
            base_delay_ms: 30_000,
            max_delay_ms: 3_600_000,
            max_attempts: 8,
            timeout: Duration::from_secs(10),
        }
    }
}

impl WebhookConfig {
    /// The wait after `failures` failed attempts.
    fn delay_after(&self, failures: i64) -> Millis {
        let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }
}

/// `POST` and `PATCH` of an endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Where to post (`http://`; this build has no TLS client).
    pub url: String,
    /// The event types to receive.
    pub events: Vec<String>,
    /// Whether it receives new deliveries (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A note for admins.
    #[serde(default)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// An endpoint, without its secret.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    /// Endpoint id.
    pub id: String,
    /// The app.
    pub app_id: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// Whether it receives new deliveries.
    pub enabled: bool,
    /// A note.
    pub description: Option<String>,
    /// When made (RFC 3339).
    pub created_at: String,
    /// When changed (RFC 3339).
    pub updated_at: String,
}

impl From<&WebhookEndpoint> for EndpointView {
    fn from(e: &WebhookEndpoint) -> Self {
        EndpointView {
            id: e.id.clone(),
            app_id: e.app_id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            description: e.description.clone(),
            created_at: timestamp(e.created_at),
            updated_at: timestamp(e.updated_at),
        }
    }
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize)]
pub struct EndpointCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The signing secret.
    pub secret: String,
}

/// A delivery with its attempts.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    /// Delivery id.
    pub id: String,
    /// The audit entry it reports.
    pub event_id: String,
    /// The event type.
    pub event: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, for pending ones (RFC 3339).
    pub next_attempt_at: Option<String>,
    /// When queued (RFC 3339).
    pub created_at: String,
    /// The body posted.
    pub payload: serde_json::Value,
    /// Each attempt, oldest first.
    pub attempt_log: Vec<AttemptView>,
}

/// One attempt.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    /// When (RFC 3339).
    pub at: String,
    /// The status the endpoint answered, if it answered.
    pub status_code: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

fn endpoint_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "webhook_not_found",
        format!("the app has no webhook {id:?}"),
    )
}

/// Checks an endpoint's URL and events; returns the events without repeats.
fn check_input(input: &EndpointInput) -> ApiResult<Vec<String>> {
    let url = reqwest::Url::parse(input.url.trim())
        .map_err(|e| ApiError::invalid("url", format!("not a URL: {e}")))?;
    if url.scheme() != "http" {
        return Err(ApiError::invalid(
            "url",
            "must be http:// (this build has no TLS client; put a TLS-terminating proxy in front of an https receiver)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("url", "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "url",
            "must not carry credentials; verify the signature instead",
        ));
    }
    if input.url.len() > 2048 {
        return Err(ApiError::invalid("url", "must be at most 2048 characters"));
    }
    if input.events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "subscribe to at least one event",
        ));
    }
    let mut events: Vec<String> = Vec::new();
    for (i, event) in input.events.iter().enumerate() {
        if !WEBHOOK_EVENTS.contains(&event.as_str()) {
            return Err(ApiError::invalid(
                &format!("events[{i}]"),
                format!("{event:?} is not one of {}", WEBHOOK_EVENTS.join(", ")),
            ));
        }
        if !events.contains(event) {
            events.push(event.clone());
        }
    }
    if let Some(d) = &input.description {
        check_text("description", d, 200)?;
    }
    Ok(events)
}

impl Service {
    /// An app's endpoints.
    pub async fn list_webhooks(&self, app_id: &str) -> ApiResult<Vec<EndpointView>> {
        self.load_app(app_id).await?;
        let endpoints = self.store.list_webhook_endpoints(app_id).await?;
        Ok(endpoints.iter().map(EndpointView::from).collect())
    }

    /// Adds an endpoint to an app; its signing secret is in the result and shown once.
    pub async fn create_webhook(
        &self,
        caller: &Caller,
        app_id: &str,
        input: &EndpointInput,
    ) -> ApiResult<EndpointCreated> {
        self.load_app(app_id).await?;
        let events = check_input(input)?;
        if self.store.list_webhook_endpoints(app_id).await?.len() >= MAX_ENDPOINTS {
            return Err(ApiError::new(
                Kind::Conflict,
                "too_many_webhooks",
                format!("an app may have at most {MAX_ENDPOINTS} webhooks; delete one first"),
            ));
        }
        let now = now_ms();
        let endpoint = WebhookEndpoint {
            id: secrets::new_id("wh")?,
            app_id: app_id.to_owned(),
            url: input.url.trim().to_owned(),
            secret: format!(
                "{SECRET_PREFIX}{}",
                b64::encode(&secrets::random_bytes(32)?)
            ),
            events,
            enabled: input.enabled,
            description: input.description.clone(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_webhook_endpoint(&endpoint).await?;
        self.audit
            .record(
                caller,
                Event::new("webhook.created", app_id)
                    .with("webhook_id", endpoint.id.as_str())
                    .with("url", endpoint.url.as_str()),
            )
            .await;
        Ok(EndpointCreated {
            endpoint: EndpointView::from(&endpoint),
            secret: endpoint.secret,
        })
    }

    /// Changes an endpoint (its secret stays).
    pub async fn update_webhook(
        &self,
        caller: &Caller,
        app_id: &str,
        id: &str,
        input: &EndpointInput,
    ) -> ApiResult<EndpointView> {
        self.load_app(app_id).await?;
        let events = check_input(input)?;
        let mut endpoint = self
            .store
            .get_webhook_endpoint(app_id, id)
            .await?
            .ok_or_else(|| endpoint_not_found(id))?;
        endpoint.url = input.url.trim().to_owned();
        endpoint.events = events;
        endpoint.enabled = input.enabled;
        endpoint.description = input.description.clone();
        endpoint.updated_at = now_ms();
        if !self.store.update_webhook_endpoint(&endpoint).await? {
            return Err(endpoint_not_found(id));
        }
        self.audit
            .record(
                caller,
                Event::new("webhook.updated", app_id)
                    .with("webhook_id", id)
                    .with("url", endpoint.url.as_str())
                    .with("enabled", endpoint.enabled),
            )
            .await;
        Ok(EndpointView::from(&endpoint))
    }

    /// Deletes an endpoint with its deliveries.
    pub async fn delete_webhook(&self, caller: &Caller, app_id: &str, id: &str) -> ApiResult<()> {
        self.load_app(app_id).await?;
        if !self.store.delete_webhook_endpoint(app_id, id).await? {
            return Err(endpoint_not_found(id));
        }
        self.audit
            .record(
                caller,
                Event::new("webhook.deleted", app_id).with("webhook_id", id),
            )
            .await;
        Ok(())
    }

    /// An endpoint's latest deliveries with their attempts, newest first.
    pub async fn webhook_deliveries(&self, app_id: &str, id: &str) -> ApiResult<Vec<DeliveryView>> {
        self.load_app(app_id).await?;
        self.store
            .get_webhook_endpoint(app_id, id)
            .await?
            .ok_or_else(|| endpoint_not_found(id))?;
        self.audit.flush().await;
        let deliveries = self.store.list_webhook_deliveries(app_id, id, 50).await?;
        let mut views = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let attempts = self.store.list_webhook_attempts(&d.id).await?;
            views.push(DeliveryView {
                payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
                next_attempt_at: (d.status == "pending").then(|| timestamp(d.next_attempt_at)),
                created_at: timestamp(d.created_at),
                id: d.id,
                event_id: d.event_id,
                event: d.event,
                status: d.status,
                attempts: d.attempts,
                attempt_log: attempts
                    .into_iter()
                    .map(|a| AttemptView {
                        at: timestamp(a.at),
                        status_code: a.status_code,
                        error: a.error,
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
            });
        }
        Ok(views)
    }
}

/// Sends queued deliveries until the task is aborted: wakes when deliveries are queued (on this
/// instance) or every `poll` (for those queued by others, and retries).
pub async fn run_worker(store: SharedStore, wake: Arc<Notify>, config: WebhookConfig) {
    let client = match reqwest::Client::builder()
        .timeout(config.timeout)
        // A receiver's redirect must not send a signed event somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("passkeyd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks are off: the HTTP client could not be built");
            return;
        }
    };
    loop {
        // Keep going while there is work: each round frees the next delivery of its endpoints.
        loop {
            match deliver_due(&store, &client, &config).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries could not be read");
                    break;
                }
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// One round: every due delivery (one per endpoint), sent concurrently; how many were sent.
async fn deliver_due(
    store: &SharedStore,
    client: &reqwest::Client,
    config: &WebhookConfig,
) -> Result<usize, passkeyd_store::StoreError> {
    let now = now_ms();
    let due = store.due_webhook_deliveries(now, 32).await?;
    // The lease covers the attempt and its timeout, after which another worker may retry.
    let timeout_ms = i64::try_from(config.timeout.as_millis()).unwrap_or(i64::MAX);
    let lease_until = now.saturating_add(timeout_ms.saturating_mul(2));
    let mut tasks = tokio::task::JoinSet::new();
    for delivery in due {
        if !store
            .claim_webhook_delivery(&delivery.id, now, lease_until)
            .await?
        {
            continue;
        }
        let (store, client, config) = (store.clone(), client.clone(), *config);
        tasks.spawn(async move { attempt(&store, &client, &config, delivery).await });
    }
    let mut sent = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(true)) => sent += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "a webhook attempt could not be recorded"),
            Err(e) => tracing::error!(error = %e, "a webhook attempt task failed"),
        }
    }
    Ok(sent)
}

/// Posts one delivery and records the attempt; false when it was not attempted (the endpoint
/// is disabled: the delivery waits, and its lease brings it back later).
async fn attempt(
    store: &SharedStore,
    client: &reqwest::Client,
    config: &WebhookConfig,
    delivery: WebhookDelivery,
) -> Result<bool, passkeyd_store::StoreError> {
    let Some(endpoint) = store
        .get_webhook_endpoint(&delivery.app_id, &delivery.endpoint_id)
        .await?
    else {
        return Ok(false);
    };
    if !endpoint.enabled {
        return Ok(false);
    }
    let sent_at = now_ms();
    let signature = sign(&endpoint.secret, sent_at / 1000, &delivery.payload);
    let started = Instant::now();
    let response = client
        .post(&endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header("passkeyd-event", &delivery.event)
        .header("passkeyd-delivery", &delivery.id)
        .body(delivery.payload.clone())
        .send()
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match response {
        Ok(r) if r.status().is_success() => (Some(i64::from(r.status().as_u16())), None),
        Ok(r) => (
            Some(i64::from(r.status().as_u16())),
            Some(format!("the endpoint answered {}", r.status())),
        ),
        // Without the URL: it may carry a receiver's token in its query.
        Err(e) => (None, Some(describe(&e.without_url()))),
    };
    let failures = delivery.attempts + 1;
    let now = now_ms();
    let (status, next) = if error.is_none() {
        ("succeeded", now)
    } else if failures >= config.max_attempts {
        ("failed", now)
    } else {
        ("pending", now.saturating_add(config.delay_after(failures)))
    };
    if status != "succeeded" {
        tracing::warn!(
            delivery = %delivery.id,
            webhook = %endpoint.id,
            attempt = failures,
            status,
            error = error.as_deref().unwrap_or(""),
            "webhook delivery failed"
        );
    }
    let attempt = WebhookAttempt {
        id: secrets::new_id("att")
            .map_err(|e| passkeyd_store::StoreError::Backend(e.to_string()))?,
        delivery_id: delivery.id,
        at: sent_at,
        status_code,
        error,
        duration_ms,
    };
    store.record_webhook_attempt(&attempt, status, next).await?;
    Ok(true)
}

/// An error and its causes on one line ("error sending request: ... Connection refused").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_and_body() {
        // Computed independently of this code with
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test`.
        assert_eq!(
            sign("whsec_test", 1_700_000_000, "{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WebhookConfig::default();
        assert_eq!(c.delay_after(1), 30_000);
        assert_eq!(c.delay_after(2), 60_000);
        assert_eq!(c.delay_after(4), 240_000);
        assert_eq!(c.delay_after(40), 3_600_000);
    }

    #[test]
    fn inputs_are_checked() {
        let input = |url: &str, events: &[&str]| EndpointInput {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            enabled: true,
            description: None,
        };
        assert_eq!(
            check_input(&input(
                "http://127.0.0.1:9/h",
                &["signin.failed", "signin.failed"]
            ))
            .unwrap(),
            ["signin.failed"]
        );
        for (url, events) in [
            ("ftp://x/", &["signin.failed"][..]),
            ("http://u:p@x/", &["signin.failed"]),
            ("not a url", &["signin.failed"]),
            ("http://x/", &[]),
            ("http://x/", &["admin.removed"]),
        ] {
            assert_eq!(
                check_input(&input(url, events)).unwrap_err().code,
                "invalid_request"
            );
        }
    }
}
