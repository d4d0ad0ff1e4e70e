//! Sessions over HTTP: the session cookie, the signed-in user's endpoints under `/v1/me` (behind
//! [`me_gate`]: a live session from the cookie or `Authorization: Bearer pkd_st_...`, CORS for
//! exactly the session's app's origins, and CSRF protection for cookie calls), the backend's
//! session endpoints, and each app's JWKS. Status codes of `/v1/me` follow Clerk's Frontend API:
//! 403 when not allowed (a full passkey list, a stale verification), 404 when not found, 422 when
//! invalid.

use super::browser::{allow_origin, preflight_response};
use super::extract::{Json, OptionalJson, Tenant};
use super::{no_content, AppState};
use crate::ceremony::{AuthenticationStarted, FinishCeremony};
use crate::error::{ApiError, ApiResult, Kind};
use crate::jwt::Claims;
use crate::openapi::ErrorBody;
use crate::service::RenamePasskey;
use crate::sessions::{
    AttemptVerification, CreateMyPasskey, Me, MePasskey, NewSession, SessionView, SignedIn,
    TokenIssued, VerifyToken,
};
use crate::settings::AppContext;
use crate::views::UserView;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The session cookie's name.
pub const COOKIE: &str = "passkeyd_session";

/// Whether the app's pages are served over https (then the cookie is `Secure` and
/// `SameSite=None`, so the app's page on its own site can send it to passkeyd); on
/// `http://localhost` it is `SameSite=Lax`, which covers localhost on any port.
fn secure(app: &AppContext) -> bool {
    app.rp
        .origins()
        .iter()
        .any(|o| o.as_str().starts_with("https://"))
}

/// Adds the session cookie for a new session to a response.
pub fn with_session_cookie(
    app: &AppContext,
    mut response: Response,
    session: Option<&NewSession>,
) -> Response {
    if let Some(session) = session {
        let attributes = if secure(app) {
            "Secure; SameSite=None"
        } else {
            "SameSite=Lax"
        };
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; {attributes}; Path=/; Max-Age={}",
            session.token, session.max_age
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn clear_cookie(app: &AppContext, response: &mut Response) {
    let attributes = if secure(app) {
        "Secure; SameSite=None"
    } else {
        "SameSite=Lax"
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{COOKIE}=; HttpOnly; {attributes}; Path=/; Max-Age=0"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn bearer_token(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// Whether any app that has sessions lists `origin`, for preflights, which carry no credentials
/// and so cannot name the session's app. Anyone can ask, so the apps' settings are not parsed
/// again per request: their parsed contexts are reused while the rows are unchanged.
async fn any_app_allows(state: &AppState, origin: &str) -> bool {
    let Ok(apps) = state.service.store.list_apps().await else {
        return false;
    };
    apps.iter()
        .filter_map(|a| state.service.apps.peek(a).ok())
        .any(|a| a.settings.sessions && a.rp.origins().iter().any(|o| o.as_str() == origin))
}

/// The gate of `/v1/me`: finds the live session, checks the Origin against the session's app
/// (and demands one on cookie calls that change something: CSRF), and adds the CORS headers.
pub async fn me_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = gate(&state, request, next).await;
    // The gate's own refusals (no or dead session) come before the session's app is known; an
    // origin of any app with sessions may still read them, so the SDK sees `invalid_session`
    // rather than a CORS failure.
    if let Some(origin) = origin {
        let missing = !response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        let text = origin.to_str().unwrap_or_default().to_owned();
        if missing
            && response.status() != StatusCode::FORBIDDEN
            && any_app_allows(&state, &text).await
        {
            allow_origin(response.headers_mut(), &origin);
        }
    }
    response
}

async fn gate(state: &AppState, mut request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let origin_text = origin
        .as_ref()
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    if request.method() == Method::OPTIONS {
        let (Some(origin), Some(text)) = (&origin, &origin_text) else {
            return StatusCode::NO_CONTENT.into_response();
        };
        if !any_app_allows(state, text).await {
            return forbidden_origin(text).into_response();
        }
        return preflight_response(
            origin,
            "GET, POST, PATCH, DELETE, OPTIONS",
            "content-type, authorization",
        );
    }
    let (token, by_cookie) = match (
        bearer_token(&request),
        super::cookie(request.headers(), COOKIE),
    ) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => {
            return ApiError::new(
                Kind::Unauthenticated,
                "invalid_session",
                "sign in first: no session cookie or Authorization: Bearer session token",
            )
            .into_response()
        }
    };
    let me = match state.service.signed_in(&token).await {
        Ok(me) => me,
        Err(e) => return e.into_response(),
    };
    match &origin_text {
        Some(o) if !me.app.rp.origins().iter().any(|a| a.as_str() == o) => {
            return forbidden_origin(o).into_response();
        }
        None if by_cookie && request.method() != Method::GET => {
            // Browsers send Origin with every cross-site and every non-GET fetch; a cookie call
            // that changes something without one did not come from the app's page.
            return ApiError::new(
                Kind::Forbidden,
                "origin_not_allowed",
                "a cookie-authenticated change must come from the app's page (Origin missing)",
            )
            .into_response();
        }
        _ => {}
    }
    request.extensions_mut().insert(me);
    let mut response = next.run(request).await;
    if let Some(origin) = &origin {
        allow_origin(response.headers_mut(), origin);
    }
    response
}

fn forbidden_origin(origin: &str) -> ApiError {
    ApiError::new(
        Kind::Forbidden,
        "origin_not_allowed",
        format!("origin {origin} is not one of the session's app's origins"),
    )
}

/// Clerk's statuses for `/v1/me`: a refused request is 403 (not allowed) and a malformed one 422.
fn me_status(mut e: ApiError) -> ApiError {
    e.kind = match e.kind {
        Kind::Conflict => Kind::Forbidden,
        Kind::Invalid => Kind::Refused,
        other => other,
    };
    e
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MyPasskeys {
    /// The signed-in user's passkeys, oldest first.
    data: Vec<MePasskey>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletedPasskey {
    /// The passkey id.
    id: String,
    /// Always `passkey`.
    object: &'static str,
    /// Always true.
    deleted: bool,
}

/// The signed-in user and their session.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = Me), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn get_me(Extension(me): Extension<SignedIn>) -> axum::Json<Me> {
    axum::Json(Me {
        user: UserView::from(&me.user),
        session: SessionView::from(&me.session),
    })
}

/// A fresh JWT for the session.
#[utoipa::path(post, path = "/v1/me/session/refresh", tag = "me",
    responses((status = 200, body = TokenIssued), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn refresh_session(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> ApiResult<axum::Json<TokenIssued>> {
    Ok(axum::Json(state.service.refresh(&me).await?))
}

/// Signs out: the session is revoked and the cookie cleared.
#[utoipa::path(post, path = "/v1/me/session/signout", tag = "me",
    responses((status = 204, description = "Signed out."), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> ApiResult<Response> {
    state.service.sign_out(&me).await?;
    let mut response = no_content();
    clear_cookie(&me.app, &mut response);
    Ok(response)
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/v1/me/passkeys", tag = "me",
    responses((status = 200, body = MyPasskeys), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn list_my_passkeys(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> ApiResult<axum::Json<MyPasskeys>> {
    Ok(axum::Json(MyPasskeys {
        data: state.service.my_passkeys(&me).await?,
    }))
}

/// Starts a new passkey: `unverified`, with the creation options in `verification`.
#[utoipa::path(post, path = "/v1/me/passkeys", tag = "me", request_body = CreateMyPasskey,
    responses((status = 200, body = MePasskey), (status = 401, description = "`invalid_session`.", body = ErrorBody),
        (status = 403, description = "`too_many_passkeys`, `reverification_required`, `origin_not_allowed`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn create_my_passkey(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    OptionalJson(req): OptionalJson<CreateMyPasskey>,
) -> ApiResult<axum::Json<MePasskey>> {
    state
        .service
        .create_my_passkey(&me, &req)
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// One of the signed-in user's passkeys, verified or not.
#[utoipa::path(get, path = "/v1/me/passkeys/{passkey_id}", tag = "me",
    params(("passkey_id" = String, Path, description = "The passkey id.")),
    responses((status = 200, body = MePasskey), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 404, description = "`passkey_not_found`.", body = ErrorBody), (status = 422, description = "`invalid_request`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn get_my_passkey(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<MePasskey>> {
    state
        .service
        .my_passkey(&me, &id)
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// Completes an unverified passkey with the browser's response.
#[utoipa::path(post, path = "/v1/me/passkeys/{passkey_id}/attempt_verification", tag = "me",
    params(("passkey_id" = String, Path, description = "The passkey id.")), request_body = AttemptVerification,
    responses((status = 200, body = MePasskey), (status = 400, description = "`invalid_json`, `body_too_large`.", body = ErrorBody),
        (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`too_many_passkeys`, `passkey_exists`, `origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`passkey_not_found`.", body = ErrorBody), (status = 422, description = "`ceremony_expired` or a verification code such as `origin_mismatch`; while attempts remain, new options are in the passkey's verification member.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn attempt_verification(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    Path(id): Path<String>,
    Json(req): Json<AttemptVerification>,
) -> ApiResult<axum::Json<MePasskey>> {
    state
        .service
        .attempt_verification(&me, &id, &req)
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// Renames one of the signed-in user's passkeys (`null` restores the generated name).
#[utoipa::path(patch, path = "/v1/me/passkeys/{passkey_id}", tag = "me",
    params(("passkey_id" = String, Path, description = "The passkey id.")), request_body = RenamePasskey,
    responses((status = 200, body = MePasskey), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`reverification_required`, `origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`passkey_not_found`.", body = ErrorBody), (status = 422, description = "`invalid_request`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn rename_my_passkey(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    Path(id): Path<String>,
    Json(req): Json<RenamePasskey>,
) -> ApiResult<axum::Json<MePasskey>> {
    let name = req.into_name().map_err(me_status)?;
    state
        .service
        .rename_my_passkey(&me, &id, name.as_deref())
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// Deletes one of the signed-in user's passkeys; may need a recent verification.
#[utoipa::path(delete, path = "/v1/me/passkeys/{passkey_id}", tag = "me",
    params(("passkey_id" = String, Path, description = "The passkey id.")),
    responses((status = 200, body = DeletedPasskey), (status = 401, description = "`invalid_session`.", body = ErrorBody),
        (status = 403, description = "`reverification_required`, `origin_not_allowed`.", body = ErrorBody), (status = 404, description = "`passkey_not_found`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn delete_my_passkey(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeletedPasskey>> {
    state
        .service
        .delete_my_passkey(&me, &id)
        .await
        .map_err(me_status)?;
    Ok(axum::Json(DeletedPasskey {
        id,
        object: "passkey",
        deleted: true,
    }))
}

/// Starts a reverification (a sign-in with one of the user's passkeys).
#[utoipa::path(post, path = "/v1/me/reverify/start", tag = "me",
    responses((status = 200, body = AuthenticationStarted), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody), (status = 422, description = "`no_passkeys`.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn start_reverification(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> ApiResult<axum::Json<AuthenticationStarted>> {
    state
        .service
        .start_reverification(&me)
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// Finishes a reverification; sensitive actions are allowed for the next few minutes.
#[utoipa::path(post, path = "/v1/me/reverify/finish", tag = "me", request_body = FinishCeremony,
    responses((status = 200, body = SessionView), (status = 401, description = "`invalid_session`.", body = ErrorBody), (status = 403, description = "`origin_not_allowed`.", body = ErrorBody),
        (status = 404, description = "`ceremony_not_found`.", body = ErrorBody), (status = 422, description = "`ceremony_expired`, `user_handle_mismatch` or another verification code.", body = ErrorBody)),
    security(("session" = [])))]
pub async fn finish_reverification(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<axum::Json<SessionView>> {
    state
        .service
        .finish_reverification(&me, &req)
        .await
        .map(axum::Json)
        .map_err(me_status)
}

/// An app's JWKS: the public keys its session JWTs are signed with.
#[utoipa::path(get, path = "/v1/apps/{app_id}/.well-known/jwks.json", tag = "sessions",
    params(("app_id" = String, Path, description = "The app's public id.")),
    responses((status = 200, description = "`{\"keys\": [JWK...]}`"), (status = 404, description = "`app_not_found`.", body = ErrorBody)))]
pub async fn jwks(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> ApiResult<Response> {
    let app = state.service.store.get_app(&app_id).await?.ok_or_else(|| {
        ApiError::not_found("app_not_found", format!("no app with id {app_id:?}"))
    })?;
    let app = AppContext::from_app(&app)?;
    let body = state.service.jwks(&app).await?;
    Ok((
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        axum::Json(body),
    )
        .into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    /// Live sessions, newest first.
    data: Vec<SessionView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// How many sessions were revoked.
    revoked: u64,
}

/// A user's live sessions.
#[utoipa::path(get, path = "/v1/users/{external_id}/sessions", tag = "sessions",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses((status = 200, body = SessionList), (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody), (status = 500, description = "`internal_error`.", body = ErrorBody), (status = 503, description = "`store_unavailable`.", body = ErrorBody), (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody), (status = 404, description = "`user_not_found`.", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_user_sessions(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<axum::Json<SessionList>> {
    Ok(axum::Json(SessionList {
        data: state.service.user_sessions(&app, &external_id).await?,
    }))
}

/// Revokes all of a user's sessions.
#[utoipa::path(delete, path = "/v1/users/{external_id}/sessions", tag = "sessions",
    params(("external_id" = String, Path, description = "The app's identifier for the user.")),
    responses((status = 200, body = Revoked), (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody), (status = 500, description = "`internal_error`.", body = ErrorBody), (status = 503, description = "`store_unavailable`.", body = ErrorBody), (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody), (status = 404, description = "`user_not_found`.", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn revoke_user_sessions(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(external_id): Path<String>,
) -> ApiResult<axum::Json<Revoked>> {
    Ok(axum::Json(Revoked {
        revoked: state
            .service
            .revoke_user_sessions(&app, &external_id)
            .await?,
    }))
}

/// Revokes one session.
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path, description = "The session id (`sid`).")),
    responses((status = 204, description = "Revoked."), (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody), (status = 500, description = "`internal_error`.", body = ErrorBody), (status = 503, description = "`store_unavailable`.", body = ErrorBody), (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody), (status = 404, description = "`session_not_found`.", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.service.revoke_session(&app, &id).await?;
    Ok(no_content())
}

/// Verifies a session JWT online (signature, expiry, audience, and that the session is live).
#[utoipa::path(post, path = "/v1/sessions/verify", tag = "sessions", request_body = VerifyToken,
    responses((status = 200, body = Claims), (status = 400, description = "`invalid_json`, `invalid_request`, `body_too_large`.", body = ErrorBody), (status = 500, description = "`internal_error`.", body = ErrorBody), (status = 503, description = "`store_unavailable`.", body = ErrorBody), (status = 401, description = "`missing_api_key`, `invalid_api_key`.", body = ErrorBody), (status = 422, description = "`invalid_token`.", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn verify_session_token(
    State(state): State<AppState>,
    Tenant(app): Tenant,
    Json(req): Json<VerifyToken>,
) -> ApiResult<axum::Json<Claims>> {
    Ok(axum::Json(
        state.service.verify_token(&app, &req.token).await?,
    ))
}

/// The paths of this file, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_me,
    refresh_session,
    sign_out,
    list_my_passkeys,
    create_my_passkey,
    get_my_passkey,
    attempt_verification,
    rename_my_passkey,
    delete_my_passkey,
    start_reverification,
    finish_reverification,
    jwks,
    list_user_sessions,
    revoke_user_sessions,
    revoke_session,
    verify_session_token,
))]
pub(crate) struct MePaths;
