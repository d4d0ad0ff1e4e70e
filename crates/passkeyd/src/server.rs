//! The HTTP server: shared state, the middleware every request passes (request id, the one error
//! shape, metrics, the access log), start-up on a socket and graceful shutdown. Routes are in
//! `server/router.rs`, handlers in `server/handlers.rs`, extractors in `server/extract.rs`.

mod browser;
mod demo;
mod extract;
pub(crate) mod handlers;
mod me;
pub mod router;

use crate::error::{ApiError, Kind};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitConfig, RateLimits};
use crate::service::{now_ms, Service};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
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
        }
    }
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
    state: AppState,
}

impl Server {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Server { listener, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; requests in flight then finish before it returns.
    /// Expired ceremonies are purged once a minute meanwhile.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.service.store.clone();
        let limits = self.state.limits.clone();
        let purger = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.forget_idle();
                match store.purge_expired(now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(purged = n, "expired ceremonies removed"),
                    Err(e) => tracing::warn!(error = %e, "could not purge expired ceremonies"),
                }
            }
        });
        let app = router::router(self.state);
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        purger.abort();
        result
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
