//! The handlers: each turns an HTTP request into one call of the service and its result into a
//! status and a body. No logic and no SQL live here. Named `<verb>_<resource>`.

use super::extract::{Json, Tenant};
use super::{count, no_content, AppState};
use crate::ceremony::{
    AuthenticationFinished, AuthenticationStarted, Channel, FinishCeremony, RegistrationFinished,
    RegistrationStarted, StartAuthentication, StartRegistration,
};
use crate::error::{ApiError, ApiResult};
use crate::openapi::ErrorBody;
use crate::service::{Deleted, PasskeyList, RenamePasskey, UpsertUser, UserPage};
use crate::views::{PasskeyView, UserView};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Creates a user, or updates its names.
///
/// The user is known by the app's own identifier; creating an existing user updates the
/// names given and leaves the others.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = UpsertUser,
    responses(
        (status = 200, description = "The user existed; its names were updated.", body = UserView),
        (status = 201, description = "The user was created.", body = UserView),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn upsert_user(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<UpsertUser>,
) -> ApiResult<Response> {
    let (user, created) = state
        .service
        .upsert_user(
            &app,
            &req.external_id,
            req.username.as_deref(),
            req.display_name.as_deref(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(UserView::from(&user))).into_response())
}

/// A user.
#[utoipa::path(
    get,
    path = "/v1/users/{external_id}",
    tag = "users",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such user: `user_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn get_user(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<axum::Json<UserView>> {
    let user = state.service.user(&app, &external_id).await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// The query of `GET /v1/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    /// Users per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The app's users, a page at a time, ordered by external id.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    params(ListUsersQuery),
    responses(
        (status = 200, description = "A page of users.", body = UserPage),
        (status = 400, description = "A bad query: `invalid_request` (a limit out of range, a cursor this API did not return, or an unknown parameter).", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn list_users(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    query: Result<Query<ListUsersQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<UserPage>> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    Ok(axum::Json(
        state
            .service
            .list_users(&app, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// Deletes a user and all their passkeys.
#[utoipa::path(
    delete,
    path = "/v1/users/{external_id}",
    tag = "users",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses(
        (status = 204, description = "The user and their passkeys are deleted."),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such user: `user_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<Response> {
    state.service.delete_user(&app, &external_id).await?;
    Ok(no_content())
}

/// Starts a registration: the options for `navigator.credentials.create()`.
///
/// The user is created if new. Pass the options to the browser, then its response to
/// `POST /v1/registrations/finish` with the ceremony id.
#[utoipa::path(
    post,
    path = "/v1/registrations/start",
    tag = "registrations",
    request_body = StartRegistration,
    responses(
        (status = 200, description = "The ceremony is started.", body = RegistrationStarted),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field, e.g. a user verification weaker than the app requires) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 409, description = "The user has the most passkeys the app allows: `too_many_passkeys`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn start_registration(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<StartRegistration>,
) -> ApiResult<axum::Json<RegistrationStarted>> {
    let result = state
        .service
        .start_registration(&app, &req, Channel::Backend)
        .await;
    count(&state, "registration_start", result).map(axum::Json)
}

/// Finishes a registration: verifies the browser's response and stores the new passkey.
///
/// A ceremony can be finished once: whatever the outcome, start a new one to try again.
#[utoipa::path(
    post,
    path = "/v1/registrations/finish",
    tag = "registrations",
    request_body = FinishCeremony,
    responses(
        (status = 201, description = "The passkey is registered.", body = RegistrationFinished, headers(("Location" = String, description = "The new passkey: `/v1/passkeys/{id}`."))),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "No such ceremony is waiting (`ceremony_not_found`), or the user was deleted meanwhile (`user_not_found`).", body = ErrorBody),
        (status = 409, description = "The user has the most passkeys the app allows (`too_many_passkeys`), or the credential is registered already (`passkey_exists`), or a concurrent registration created the user meanwhile (`registration_conflict`).", body = ErrorBody),
        (status = 422, description = "The registration is refused: `ceremony_expired`, `backup_policy_violation`, or a verification code such as `challenge_mismatch`, `origin_mismatch` or `attestation_invalid` (see the table of codes).", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn finish_registration(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<Response> {
    let result = state
        .service
        .finish_registration(&app, &req, Channel::Backend)
        .await;
    let passkey = count(&state, "registration_finish", result)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/passkeys/{}", passkey.id))],
        axum::Json(RegistrationFinished { passkey }),
    )
        .into_response())
}

/// Starts a sign-in: the options for `navigator.credentials.get()`.
///
/// With `external_id`, the user's passkeys are offered (username-first); without, any
/// discoverable passkey of the app can answer (including autofill).
#[utoipa::path(
    post,
    path = "/v1/authentications/start",
    tag = "authentications",
    request_body = StartAuthentication,
    responses(
        (status = 200, description = "The ceremony is started.", body = AuthenticationStarted),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field, e.g. a user verification weaker than the app requires) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such user: `user_not_found`.", body = ErrorBody),
        (status = 422, description = "The user has no passkeys to sign in with: `no_passkeys`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn start_authentication(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<StartAuthentication>,
) -> ApiResult<axum::Json<AuthenticationStarted>> {
    let result = state
        .service
        .start_authentication(&app, &req, Channel::Backend)
        .await;
    count(&state, "authentication_start", result).map(axum::Json)
}

/// Finishes a sign-in: verifies the browser's assertion and says who signed in.
///
/// A ceremony can be finished once: whatever the outcome, start a new one to try again.
#[utoipa::path(
    post,
    path = "/v1/authentications/finish",
    tag = "authentications",
    request_body = FinishCeremony,
    responses(
        (status = 200, description = "The user is signed in.", body = AuthenticationFinished),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "No such ceremony is waiting: `ceremony_not_found`.", body = ErrorBody),
        (status = 422, description = "The sign-in is refused: `ceremony_expired`, `unknown_credential`, `backup_policy_violation`, or a verification code such as `signature_invalid`, `challenge_mismatch` or `user_verification_required` (see the table of codes).", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn finish_authentication(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<axum::Json<AuthenticationFinished>> {
    let result = state
        .service
        .finish_authentication(&app, &req, Channel::Backend)
        .await;
    count(&state, "authentication_finish", result).map(axum::Json)
}

/// A user's passkeys, oldest first.
#[utoipa::path(
    get,
    path = "/v1/users/{external_id}/passkeys",
    tag = "passkeys",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses(
        (status = 200, description = "The passkeys.", body = PasskeyList),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such user: `user_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn list_user_passkeys(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<axum::Json<PasskeyList>> {
    Ok(axum::Json(
        state.service.user_passkeys(&app, &external_id).await?,
    ))
}

/// Deletes all of a user's passkeys; the user stays.
#[utoipa::path(
    delete,
    path = "/v1/users/{external_id}/passkeys",
    tag = "passkeys",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses(
        (status = 200, description = "How many passkeys were deleted.", body = Deleted),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such user: `user_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn delete_user_passkeys(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    Ok(axum::Json(
        state
            .service
            .delete_user_passkeys(&app, &external_id)
            .await?,
    ))
}

/// A passkey.
#[utoipa::path(
    get,
    path = "/v1/passkeys/{id}",
    tag = "passkeys",
    params(("id" = String, Path, description = "The passkey id.")),
    responses(
        (status = 200, description = "The passkey.", body = PasskeyView),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such passkey: `passkey_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn get_passkey(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PasskeyView>> {
    Ok(axum::Json(state.service.passkey(&app, &id).await?))
}

/// Renames a passkey, or restores its generated name (`"name": null`).
#[utoipa::path(
    patch,
    path = "/v1/passkeys/{id}",
    tag = "passkeys",
    params(("id" = String, Path, description = "The passkey id.")),
    request_body = RenamePasskey,
    responses(
        (status = 200, description = "The renamed passkey.", body = PasskeyView),
        (status = 400, description = "The body is not acceptable: `invalid_json`, `invalid_request` (the message names the field) or `body_too_large`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such passkey: `passkey_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn rename_passkey(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(id): Path<String>,
    Json(req): Json<RenamePasskey>,
) -> ApiResult<axum::Json<PasskeyView>> {
    let name = req.into_name()?;
    Ok(axum::Json(
        state
            .service
            .rename_passkey(&app, &id, name.as_deref())
            .await?,
    ))
}

/// Deletes a passkey.
#[utoipa::path(
    delete,
    path = "/v1/passkeys/{id}",
    tag = "passkeys",
    params(("id" = String, Path, description = "The passkey id.")),
    responses(
        (status = 204, description = "The passkey is deleted."),
        (status = 400, description = "The request is malformed: `invalid_request`.", body = ErrorBody),
        (status = 401, description = "No key or a key that authenticates nothing: `missing_api_key`, `invalid_api_key`.", body = ErrorBody),
        (status = 404, description = "The app has no such passkey: `passkey_not_found`.", body = ErrorBody),
        (status = 500, description = "A bug or an unexpected failure: `internal_error`; the request id finds it in the server log.", body = ErrorBody),
        (status = 503, description = "The database failed or cannot be reached: `store_unavailable`; the request may be retried.", body = ErrorBody),
    ),
    security(("api_key" = [])),
)]
pub async fn delete_passkey(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.service.delete_passkey(&app, &id).await?;
    Ok(no_content())
}

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Up.", body = crate::openapi::Health),
    ),
)]
pub async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve.", body = crate::openapi::Readiness),
        (status = 500, description = "An unexpected failure: `internal_error`.", body = ErrorBody),
        (status = 503, description = "The database does not answer: `store_unavailable`.", body = ErrorBody),
    ),
)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<serde_json::Value>> {
    state.service.store.ping().await?;
    Ok(axum::Json(
        serde_json::json!({"status": "ready", "store": state.service.store.backend()}),
    ))
}

/// Prometheus metrics, in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such endpoint")
}

/// The handlers above as OpenAPI paths. This module is private to the server, so it answers for
/// `crate::openapi::Endpoints`, which `openapi.rs` merges into the served document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    upsert_user,
    list_users,
    get_user,
    delete_user,
    list_user_passkeys,
    delete_user_passkeys,
    start_registration,
    finish_registration,
    start_authentication,
    finish_authentication,
    get_passkey,
    rename_passkey,
    delete_passkey,
    health,
    ready,
    metrics,
))]
struct Paths;

impl utoipa::OpenApi for crate::openapi::Endpoints {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = <Paths as utoipa::OpenApi>::openapi();
        doc.merge(<super::browser::BrowserPaths as utoipa::OpenApi>::openapi());
        doc.merge(<super::me::MePaths as utoipa::OpenApi>::openapi());
        doc
    }
}
