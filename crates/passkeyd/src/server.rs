//! The HTTP server: shared state, the middleware every request passes (request id, the one error
//! shape, metrics, the access log), start-up on a socket and graceful shutdown. Routes are in
//! `server/router.rs`, handlers in `server/handlers.rs`, extractors in `server/extract.rs`.

mod admin;
mod browser;
mod demo;
mod extract;
pub(crate) mod handlers;
mod me;
pub mod router;

use crate::admin::AdminSettings;
use crate::audit::Caller;
use crate::error::{ApiError, Kind};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitConfig, RateLimits};
use crate::service::{now_ms, Service};
use crate::webhooks::WebhookConfig;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The operations.
    pub service: Service,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Rate limits of the public endpoints.
    pub limits: Arc<RateLimits>,
    /// Take the client IP from `X-Forwarded-For` (behind a trusted proxy) rather than the socket.
    pub trust_forwarded_for: bool,
    /// The admin side's settings; `None` turns the dashboard off (every admin route is 404).
    pub admin: Option<Arc<AdminSettings>>,
    /// Serve the dashboard under `/admin` on the main listener (false with `--admin-listen`).
    pub admin_on_main: bool,
    /// How the webhook worker paces its deliveries.
    pub webhooks: WebhookConfig,
}

impl AppState {
    /// State over a service, with fresh metrics and the default rate limits.
    pub fn new(service: Service) -> Self {
        Self::with_limits(service, RateLimitConfig::default())
    }

    /// State over a service with the given rate limits.
    pub fn with_limits(service: Service, limits: RateLimitConfig) -> Self {
        AppState {
            service,
            metrics: Arc::new(Metrics::default()),
            limits: Arc::new(RateLimits::new(limits)),
            trust_forwarded_for: false,
            // The out-of-the-box admin side: http://localhost:8080, 30 idle minutes, 90 days.
            admin: AdminSettings::new("http://localhost:8080", 30, 90)
                .ok()
                .map(Arc::new),
            admin_on_main: true,
            webhooks: WebhookConfig::default(),
        }
    }
}

/// The client's IP: the socket's peer, or the first `X-Forwarded-For` entry when the server is
/// told it sits behind a proxy that sets it. In-process tests have neither: unspecified.
pub(crate) fn client_ip(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> IpAddr {
    if state.trust_forwarded_for {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split(',').next())
            .and_then(|ip| ip.trim().parse().ok())
        {
            return ip;
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Who is calling, for the audit log: `actor`, with the request's IP and User-Agent.
pub(crate) fn caller(
    state: &AppState,
    parts: &axum::http::request::Parts,
    actor: String,
) -> Caller {
    let ip = client_ip(state, &parts.headers, &parts.extensions);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok());
    Caller::http(actor, ip, user_agent)
}

/// The request id given to each request, echoed in `x-request-id` and in error bodies.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl ApiError {
    fn status(&self) -> StatusCode {
        match self.kind {
            Kind::Invalid if self.code == "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Invalid => StatusCode::BAD_REQUEST,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::Refused => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    /// The body is written by [`finish`], which knows the request id: the error travels there
    /// in the response's extensions.
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The outermost middleware: gives the request an id, writes every error in the one documented
/// shape (also those axum makes itself, such as 405), logs the request, and counts it.
pub async fn finish(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = crate::secrets::random_bytes(8)
        .map(|b| passkeyd_core::error::hex(&b))
        .unwrap_or_default();
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let mut response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());

    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let error = response
            .extensions_mut()
            .remove::<ApiError>()
            .unwrap_or_else(|| match status {
                StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                    Kind::Invalid,
                    "method_not_allowed",
                    format!("{method} is not allowed on this endpoint"),
                ),
                StatusCode::NOT_FOUND => ApiError::not_found("route_not_found", "no such endpoint"),
                s if s.is_server_error() => {
                    ApiError::internal(format!("status {s} without an error"))
                }
                _ => ApiError::invalid("request", status.canonical_reason().unwrap_or("refused")),
            });
        if error.kind == Kind::Internal || error.kind == Kind::Unavailable {
            tracing::error!(request_id = %id, %method, route, code = error.code, detail = error.detail.as_deref().unwrap_or(""), "request failed");
        }
        let body = serde_json::json!({
            "error": {"code": error.code, "message": error.message, "request_id": id}
        });
        let mut rebuilt = (error.status(), axum::Json(body)).into_response();
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rebuilt.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = rebuilt;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .request(method.as_str(), &route, status, elapsed.as_secs_f64());
    tracing::info!(request_id = %id, %method, route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

/// Copies the matched route template to the response, where [`finish`] (which runs before
/// routing, so cannot see it on the request) reads it for metrics and logs.
pub async fn remember_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(m);
    }
    response
}

/// A server bound to its socket, ready to run. Binding first lets tests use port 0 and learn
/// the port before serving.
pub struct Server {
    listener: TcpListener,
    admin_listener: Option<TcpListener>,
    state: AppState,
}

impl Server {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Server {
            listener,
            admin_listener: None,
            state,
        })
    }

    /// Binds `addr` for the admin dashboard alone, which then leaves the main listener.
    pub async fn bind_admin(mut self, addr: SocketAddr) -> std::io::Result<Self> {
        self.admin_listener = Some(TcpListener::bind(addr).await?);
        self.state.admin_on_main = false;
        Ok(self)
    }

    /// The bound admin address, when the dashboard has its own listener.
    pub fn admin_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.admin_listener.as_ref().map(TcpListener::local_addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; requests in flight then finish before it returns.
    /// Meanwhile, once a minute, expired ceremonies, admin sessions and invites, and audit
    /// entries past their retention are purged; and the webhook worker sends deliveries.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.service.store.clone();
        let limits = self.state.limits.clone();
        let admin = self.state.admin.clone();
        let purger = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.forget_idle();
                purge(&store, admin.as_deref()).await;
            }
        });
        let worker = tokio::spawn(crate::webhooks::run_worker(
            self.state.service.store.clone(),
            self.state.service.audit.wake(),
            self.state.webhooks,
        ));
        // One shutdown signal for both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let admin_server = self.admin_listener.map(|listener| {
            let app = router::admin_router(self.state.clone())
                .into_make_service_with_connect_info::<SocketAddr>();
            let stopped = until_stopped(stopped.clone());
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        });
        let app = router::router(self.state);
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let mut result = axum::serve(self.listener, app)
            .with_graceful_shutdown(until_stopped(stopped))
            .await;
        if let Some(server) = admin_server {
            let admin_result = server
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            result = result.and(admin_result);
        }
        purger.abort();
        worker.abort();
        result
    }
}

/// One round of the purger: what expired or outlived its retention goes.
async fn purge(store: &passkeyd_store::SharedStore, admin: Option<&AdminSettings>) {
    let now = now_ms();
    match store.purge_expired(now).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(purged = n, "expired ceremonies removed"),
        Err(e) => tracing::warn!(error = %e, "could not purge expired ceremonies"),
    }
    let Some(admin) = admin else { return };
    if let Err(e) = store.purge_admin(now, now - admin.idle_ms).await {
        tracing::warn!(error = %e, "could not purge admin sessions and invites");
    }
    let cutoff = now - admin.retention_ms;
    match store.purge_audit(cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "audit entries past their retention removed"),
        Err(e) => tracing::warn!(error = %e, "could not purge the audit log"),
    }
    if let Err(e) = store.purge_webhook_deliveries(cutoff).await {
        tracing::warn!(error = %e, "could not purge webhook deliveries");
    }
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not lost (it would
/// otherwise kill the process with the default action).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut i), Ok(mut t)) => {
                    tokio::select! {
                        _ = i.recv() => {},
                        _ = t.recv() => {},
                    }
                }
                _ => std::future::pending::<()>().await,
            }
            tracing::info!("shutting down: finishing requests in flight");
        }
    }
    #[cfg(not(unix))]
    async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// Counts a ceremony step's outcome (`ok` or the error code) and passes the result on.
pub(crate) fn count<T>(
    state: &AppState,
    step: &str,
    result: crate::error::ApiResult<T>,
) -> crate::error::ApiResult<T> {
    state
        .metrics
        .ceremony(step, result.as_ref().map_or_else(|e| e.code, |_| "ok"));
    result
}

/// The value of a cookie, from every `Cookie` header of a request.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// An empty body, for 204 answers.
pub fn no_content() -> Response {
    (StatusCode::NO_CONTENT, Body::empty()).into_response()
}
