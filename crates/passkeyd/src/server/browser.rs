//! The browser integration over HTTP: the backend's transaction and nonce endpoints (secret key),
//! and the public endpoints under `/v1/apps/{app_id}/` that the browser SDK calls with no secret.
//! The public ones pass [`public_app`] first: unknown app 404, CORS for exactly the app's
//! origins (a foreign `Origin` is refused), and the rate limits.

use super::extract::{Json, Tenant};
use super::me::with_session_cookie;
use super::{client_ip, count, AppState};
use crate::audit::Caller;
use crate::browser::{
    AuthenticateTransaction, BrowserStartAuthentication, BrowserStartRegistration, Client,
    NonceClaims, NonceIssued, RegisterTransaction, Transaction, TransactionKind, VerifyNonce,
};
use crate::ceremony::{AuthenticationStarted, FinishCeremony, RegistrationStarted};
use crate::error::{ApiError, ApiResult, Kind};
use crate::openapi::ErrorBody;
use crate::settings::AppContext;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// The app a public request is for, put in the request by [`public_app`].
#[derive(Clone)]
pub struct PublicApp(pub AppContext);

/// CORS headers that let the app's page read the answer (errors included).
pub(super) fn allow_origin(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    // Sign-ins set the session cookie; the SDK sends it back to /v1/me with credentials.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after, x-request-id"),
    );
}

/// The answer to a CORS preflight from an allowed origin.
pub(super) fn preflight_response(
    origin: &HeaderValue,
    methods: &'static str,
    headers: &'static str,
) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    allow_origin(h, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(headers),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// The gate of every public endpoint: finds the app, applies CORS (preflights answered here),
/// refuses foreign origins, and applies the rate limits.
pub async fn public_app(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Response {
    let app_id = params.get("app_id").cloned().unwrap_or_default();
    // Reserved apps (the admins') have no public endpoints.
    let found = if crate::admin::is_reserved(&app_id) {
        Ok(None)
    } else {
        state.service.store.get_app(&app_id).await
    };
    let app = match found {
        Ok(Some(app)) => match state.service.apps.get(&app) {
            Ok(app) => app,
            Err(e) => return e.into_response(),
        },
        Ok(None) => {
            return ApiError::not_found("app_not_found", format!("no app with id {app_id:?}"))
                .into_response()
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let origin = request.headers().get(header::ORIGIN).cloned();
    if let Some(origin) = &origin {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| app.rp.origins().iter().any(|a| a.as_str() == o));
        if !allowed {
            return ApiError::new(
                Kind::Forbidden,
                "origin_not_allowed",
                format!(
                    "origin {} is not one of app {app_id}'s origins",
                    origin.to_str().unwrap_or("(not text)")
                ),
            )
            .into_response();
        }
    }
    if request.method() == Method::OPTIONS {
        return match &origin {
            Some(origin) => preflight_response(origin, "POST, OPTIONS", "content-type"),
            None => StatusCode::NO_CONTENT.into_response(),
        };
    }
    let ip = client_ip(&state, request.headers(), request.extensions());
    let mut response = match state.limits.check(ip, &app.id) {
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                Kind::RateLimited,
                "rate_limited",
                format!("too many requests; retry in {seconds} s"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            response
        }
        Ok(()) => {
            let user_agent = request
                .headers()
                .get(header::USER_AGENT)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned);
            request.extensions_mut().insert(Client {
                user_agent: user_agent.clone(),
                ip: Some(ip.to_string()),
            });
            let app = app.acting_as(Caller::http(
                "browser".to_owned(),
                ip,
                user_agent.as_deref(),
            ));
            request.extensions_mut().insert(PublicApp(app));
            next.run(request).await
        }
    };
    if let Some(origin) = &origin {
        allow_origin(response.headers_mut(), origin);
    }
    response
}

/// Answers a preflight; [`public_app`] does the work before this is reached.
pub async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Creates a transaction that lets the browser register a passkey for the user (created if new).
#[utoipa::path(
    post,
    path = "/v1/transactions/register",
    tag = "transactions",
    request_body = RegisterTransaction,
    responses(
        (status = 201, description = "The transaction, for `pk.register(transactionId)`.", body = Transaction),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn create_register_transaction(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<RegisterTransaction>,
) -> ApiResult<(StatusCode, axum::Json<Transaction>)> {
    let transaction = state
        .service
        .create_transaction(
            &app,
            TransactionKind::Register,
            &req.external_id,
            req.passkey_display_name.as_deref(),
            req.display_name.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(transaction)))
}

/// Creates a transaction that lets the browser sign the user in with one of their passkeys.
#[utoipa::path(
    post,
    path = "/v1/transactions/authenticate",
    tag = "transactions",
    request_body = AuthenticateTransaction,
    responses(
        (status = 201, description = "The transaction, for `pk.authenticate({transactionId})`.", body = Transaction),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "`user_not_found`.", body = ErrorBody),
        (status = 422, description = "`no_passkeys`.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn create_authenticate_transaction(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<AuthenticateTransaction>,
) -> ApiResult<(StatusCode, axum::Json<Transaction>)> {
    let transaction = state
        .service
        .create_transaction(
            &app,
            TransactionKind::Authenticate,
            &req.external_id,
            None,
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(transaction)))
}

/// Trades a nonce from the browser for the user it proves, exactly once.
#[utoipa::path(
    post,
    path = "/v1/nonces/verify",
    tag = "transactions",
    request_body = VerifyNonce,
    responses(
        (status = 200, description = "What the nonce proves.", body = NonceClaims),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 422, description = "`invalid_nonce`: unknown, used, expired or another app's.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn verify_nonce(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<VerifyNonce>,
) -> ApiResult<axum::Json<NonceClaims>> {
    Ok(axum::Json(
        state.service.verify_nonce(&app, &req.nonce).await?,
    ))
}

/// The browser starts the registration a transaction allows.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/registrations/start",
    tag = "browser",
    params(("app_id" = String, Path, description = "The app's public id.")),
    request_body = BrowserStartRegistration,
    responses(
        (status = 200, description = "Options for `navigator.credentials.create()`.", body = RegistrationStarted),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`app_not_found`.", body = ErrorBody),
        (status = 409, description = "`too_many_passkeys`.", body = ErrorBody),
        (status = 422, description = "`invalid_transaction`.", body = ErrorBody),
        (status = 429, description = "`rate_limited`; the Retry-After header says when to retry.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
)]
pub async fn browser_start_registration(
    State(state): State<AppState>,
    Extension(PublicApp(app)): Extension<PublicApp>,
    Json(req): Json<BrowserStartRegistration>,
) -> ApiResult<axum::Json<RegistrationStarted>> {
    let result = state.service.browser_start_registration(&app, &req).await;
    count(&state, "browser_registration_start", result).map(axum::Json)
}

/// The browser finishes a registration and gets a nonce for the app's backend.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/registrations/finish",
    tag = "browser",
    params(("app_id" = String, Path, description = "The app's public id.")),
    request_body = FinishCeremony,
    responses(
        (status = 200, description = "The nonce.", body = NonceIssued),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`app_not_found`, `ceremony_not_found`, `user_not_found`.", body = ErrorBody),
        (status = 409, description = "`too_many_passkeys`, `passkey_exists`.", body = ErrorBody),
        (status = 422, description = "`ceremony_expired`, `backup_policy_violation`, or a verification code.", body = ErrorBody),
        (status = 429, description = "`rate_limited`; the Retry-After header says when to retry.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
)]
pub async fn browser_finish_registration(
    State(state): State<AppState>,
    Extension(PublicApp(app)): Extension<PublicApp>,
    Extension(client): Extension<Client>,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<Response> {
    let result = state
        .service
        .browser_finish_registration(&app, &req, &client)
        .await;
    let (issued, session) = count(&state, "browser_registration_finish", result)?;
    Ok(with_session_cookie(
        &app,
        axum::Json(issued).into_response(),
        session.as_ref(),
    ))
}

/// The browser starts a sign-in: for a transaction's user, or discoverable (also autofill).
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/authentications/start",
    tag = "browser",
    params(("app_id" = String, Path, description = "The app's public id.")),
    request_body = BrowserStartAuthentication,
    responses(
        (status = 200, description = "Options for `navigator.credentials.get()`.", body = AuthenticationStarted),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`app_not_found`, `user_not_found`.", body = ErrorBody),
        (status = 422, description = "`invalid_transaction`, `no_passkeys`.", body = ErrorBody),
        (status = 429, description = "`rate_limited`; the Retry-After header says when to retry.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
)]
pub async fn browser_start_authentication(
    State(state): State<AppState>,
    Extension(PublicApp(app)): Extension<PublicApp>,
    Json(req): Json<BrowserStartAuthentication>,
) -> ApiResult<axum::Json<AuthenticationStarted>> {
    let step = if req.mediation.as_deref() == Some("conditional") {
        "browser_autofill_start"
    } else {
        "browser_authentication_start"
    };
    let result = state.service.browser_start_authentication(&app, &req).await;
    count(&state, step, result).map(axum::Json)
}

/// The browser finishes a sign-in and gets a nonce for the app's backend.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/authentications/finish",
    tag = "browser",
    params(("app_id" = String, Path, description = "The app's public id.")),
    request_body = FinishCeremony,
    responses(
        (status = 200, description = "The nonce.", body = NonceIssued),
        (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`app_not_found`, `ceremony_not_found`.", body = ErrorBody),
        (status = 422, description = "`ceremony_expired`, `unknown_credential` (the SDK then signals the browser), or a verification code.", body = ErrorBody),
        (status = 429, description = "`rate_limited`; the Retry-After header says when to retry.", body = ErrorBody),
        (status = 500, description = "`internal_error`.", body = ErrorBody),
        (status = 503, description = "`store_unavailable`.", body = ErrorBody),
    ),
)]
pub async fn browser_finish_authentication(
    State(state): State<AppState>,
    Extension(PublicApp(app)): Extension<PublicApp>,
    Extension(client): Extension<Client>,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<Response> {
    let result = state
        .service
        .browser_finish_authentication(&app, &req, &client)
        .await;
    let (issued, session) = count(&state, "browser_authentication_finish", result)?;
    Ok(with_session_cookie(
        &app,
        axum::Json(issued).into_response(),
        session.as_ref(),
    ))
}

/// The paths of this file, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_register_transaction,
    create_authenticate_transaction,
    verify_nonce,
    browser_start_registration,
    browser_finish_registration,
    browser_start_authentication,
    browser_finish_authentication,
))]
pub(crate) struct BrowserPaths;
