//! The admin dashboard over HTTP: its embedded files and its JSON API under `/admin/api/`, on the
//! main listener or on `--admin-listen`. Every response carries strict security headers
//! ([`security_headers`]). Signed-in calls pass [`Admin`]: a live session cookie, and for every
//! state-changing method the session's CSRF token in `X-CSRF-Token` and the public URL as
//! `Origin`. The sign-in and invite calls, which have no session yet, pass [`AdminOrigin`].

use super::extract::Json;
use super::{caller, no_content, AppState};
use crate::admin::{AdminIdentity, AdminSettings, NewSession};
use crate::apps::CreatedKey;
use crate::audit::{Caller, WEBHOOK_EVENTS};
use crate::ceremony::{AuthenticationStarted, FinishCeremony, RegistrationStarted};
use crate::dashboard::{AuditPage, AuditQuery, AuditView, Overview};
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{Deleted, RenamePasskey};
use crate::settings::{AppContext, AppSettings};
use crate::views::{AppView, KeyView, PasskeyView, UserView};
use crate::webhooks::{DeliveryView, EndpointCreated, EndpointInput, EndpointView};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;

/// The session cookie.
const COOKIE: &str = "passkeyd_admin";
/// The header that carries the CSRF token.
const CSRF_HEADER: &str = "x-csrf-token";

const INDEX_HTML: &str = include_str!("../../assets/admin/index.html");
const ADMIN_JS: &str = include_str!("../../assets/admin/admin.js");
const ADMIN_CSS: &str = include_str!("../../assets/admin/admin.css");

/// No inline script or style, nothing from elsewhere, no forms posting anywhere, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Adds the security headers a sign-in page needs to every admin response, errors included.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    response
}

fn settings(state: &AppState) -> ApiResult<Arc<AdminSettings>> {
    state
        .admin
        .clone()
        .ok_or_else(|| ApiError::not_found("route_not_found", "no such endpoint"))
}

/// Refuses a state-changing request that does not come from the dashboard's own origin.
fn check_origin(parts: &Parts, admin: &AdminSettings) -> ApiResult<()> {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return Ok(());
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    // Browsers send Sec-Fetch-Site on every request; a cross-site one is refused even if a
    // proxy rewrote Origin.
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin" && v != "none");
    if origin != Some(admin.public_url.as_str()) || cross_site {
        return Err(ApiError::new(
            Kind::Forbidden,
            "origin_not_allowed",
            format!(
                "admin calls must come from the dashboard at {}",
                admin.public_url
            ),
        ));
    }
    Ok(())
}

/// A signed-in admin, checked for CSRF on state-changing methods.
pub struct Admin {
    settings: Arc<AdminSettings>,
    identity: AdminIdentity,
    caller: Caller,
    token: String,
}

impl Admin {
    /// An app acting for this admin.
    async fn app(&self, state: &AppState, app_id: &str) -> ApiResult<AppContext> {
        let (app, _) = state.service.load_app(app_id).await?;
        Ok(AppContext::from_app(&app)?.acting_as(self.caller.clone()))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let settings = settings(state)?;
        let token = super::cookie(&parts.headers, COOKIE).unwrap_or_default();
        let identity = state.service.admin_session(&settings, &token).await?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            check_origin(parts, &settings)?;
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|h| h.as_bytes().to_vec())
                .unwrap_or_default();
            if !secrets::key_matches(&sent, identity.csrf_token.as_bytes()) {
                return Err(ApiError::new(
                    Kind::Forbidden,
                    "csrf_failed",
                    "send the session's CSRF token in the X-CSRF-Token header",
                ));
            }
        }
        let caller = caller(state, parts, format!("admin:{}", identity.id));
        Ok(Admin {
            settings,
            identity,
            caller,
            token,
        })
    }
}

/// A call without a session (sign-in, invite), which must still come from the dashboard.
pub struct AdminOrigin {
    settings: Arc<AdminSettings>,
    caller: Caller,
}

impl FromRequestParts<AppState> for AdminOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let settings = settings(state)?;
        check_origin(parts, &settings)?;
        let caller = caller(state, parts, "admin-signin".to_owned());
        Ok(AdminOrigin { settings, caller })
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /admin`: the dashboard lives at `/admin/`.
pub async fn redirect_to_dashboard(State(state): State<AppState>) -> ApiResult<Response> {
    settings(&state)?;
    Ok(Redirect::to("/admin/").into_response())
}

/// `GET /admin/`: the dashboard's page.
pub async fn dashboard(State(state): State<AppState>) -> ApiResult<Response> {
    settings(&state)?;
    Ok(asset("text/html; charset=utf-8", INDEX_HTML))
}

/// `GET /admin/assets/admin.js`.
pub async fn dashboard_js(State(state): State<AppState>) -> ApiResult<Response> {
    settings(&state)?;
    Ok(asset("text/javascript; charset=utf-8", ADMIN_JS))
}

/// `GET /admin/assets/admin.css`.
pub async fn dashboard_css(State(state): State<AppState>) -> ApiResult<Response> {
    settings(&state)?;
    Ok(asset("text/css; charset=utf-8", ADMIN_CSS))
}

/// What the dashboard needs to know about its session.
#[derive(Serialize)]
pub struct SessionView {
    admin: AdminIdentity,
    /// The event types webhooks may subscribe to.
    webhook_events: &'static [&'static str],
    /// The public URL passkeys are bound to.
    public_url: String,
}

fn session_view(admin: AdminIdentity, settings: &AdminSettings) -> SessionView {
    SessionView {
        admin,
        webhook_events: WEBHOOK_EVENTS,
        public_url: settings.public_url.clone(),
    }
}

/// Answers a new session: the cookie and what the dashboard needs.
/// The admin session cookie holding `value` for `max_age` seconds (0 clears it). It carries
/// `Secure` whenever the dashboard is served over https: a browser ignores a cookie without it
/// that would replace (or clear) a `Secure` one.
fn session_cookie(value: &str, max_age: i64, settings: &AdminSettings) -> ApiResult<HeaderValue> {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&cookie).map_err(ApiError::internal)
}

fn signed_in(session: NewSession, settings: &AdminSettings) -> ApiResult<Response> {
    let cookie = session_cookie(
        &session.token,
        crate::admin::SESSION_LIFETIME_MS / 1000,
        settings,
    )?;
    let mut response = axum::Json(session_view(session.admin, settings)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /admin/api/invites/registration/start`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteToken {
    token: String,
}

/// `POST /admin/api/invites/registration/finish`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteFinish {
    token: String,
    ceremony_id: String,
    credential: Box<RawValue>,
}

pub async fn start_invite_registration(
    State(state): State<AppState>,
    AdminOrigin { settings, caller }: AdminOrigin,
    Json(req): Json<InviteToken>,
) -> ApiResult<axum::Json<RegistrationStarted>> {
    let started = state
        .service
        .start_invite_registration(&settings, caller, &req.token)
        .await?;
    Ok(axum::Json(started))
}

pub async fn finish_invite_registration(
    State(state): State<AppState>,
    AdminOrigin { settings, caller }: AdminOrigin,
    Json(req): Json<InviteFinish>,
) -> ApiResult<Response> {
    let finish = FinishCeremony {
        ceremony_id: req.ceremony_id,
        credential: req.credential,
        session_transport: None,
    };
    let session = state
        .service
        .finish_invite_registration(&settings, caller, &req.token, &finish)
        .await?;
    signed_in(session, &settings)
}

pub async fn start_admin_signin(
    State(state): State<AppState>,
    AdminOrigin { settings, caller }: AdminOrigin,
) -> ApiResult<axum::Json<AuthenticationStarted>> {
    Ok(axum::Json(
        state.service.start_admin_signin(&settings, caller).await?,
    ))
}

pub async fn finish_admin_signin(
    State(state): State<AppState>,
    AdminOrigin { settings, caller }: AdminOrigin,
    Json(req): Json<FinishCeremony>,
) -> ApiResult<Response> {
    let session = state
        .service
        .finish_admin_signin(&settings, caller, &req)
        .await?;
    signed_in(session, &settings)
}

pub async fn get_admin_session(admin: Admin) -> axum::Json<SessionView> {
    axum::Json(session_view(admin.identity, &admin.settings))
}

pub async fn admin_signout(State(state): State<AppState>, admin: Admin) -> ApiResult<Response> {
    state
        .service
        .end_admin_session(&admin.caller, &admin.token)
        .await?;
    let mut response = no_content();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, &admin.settings)?);
    Ok(response)
}

/// A list under `data`.
#[derive(Serialize)]
pub struct List<T> {
    data: Vec<T>,
}

fn list<T>(data: Vec<T>) -> axum::Json<List<T>> {
    axum::Json(List { data })
}

/// The overview's query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    days: Option<u32>,
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::invalid("query", e.body_text()))
}

pub async fn get_overview(
    State(state): State<AppState>,
    _: Admin,
    q: Result<Query<OverviewQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<Overview>> {
    let q = query(q)?;
    Ok(axum::Json(
        state.service.overview(q.app.as_deref(), q.days).await?,
    ))
}

pub async fn list_apps(
    State(state): State<AppState>,
    _: Admin,
) -> ApiResult<axum::Json<List<AppView>>> {
    Ok(list(state.service.list_apps().await?))
}

/// `POST /admin/api/apps`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    #[serde(default)]
    id: Option<String>,
    name: String,
    settings: AppSettings,
}

pub async fn create_app(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<CreateApp>,
) -> ApiResult<Response> {
    let id = req.id.as_deref().filter(|i| !i.is_empty());
    let view = state
        .service
        .create_app(&admin.caller, id, &req.name, req.settings)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

pub async fn get_app(
    State(state): State<AppState>,
    _: Admin,
    Path(app_id): Path<String>,
) -> ApiResult<axum::Json<AppView>> {
    Ok(axum::Json(state.service.app_view(&app_id).await?))
}

/// `PATCH /admin/api/apps/{app_id}`: the name and the settings given. Settings left out keep
/// their values, so a form that does not show a setting (sessions, reverification) cannot reset
/// it by saving.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    #[serde(default)]
    name: Option<String>,
    settings: serde_json::Map<String, serde_json::Value>,
}

pub async fn update_app(
    State(state): State<AppState>,
    admin: Admin,
    Path(app_id): Path<String>,
    Json(req): Json<UpdateApp>,
) -> ApiResult<axum::Json<AppView>> {
    let view = state
        .service
        .update_app(&admin.caller, &app_id, req.name.as_deref(), |s| {
            let mut merged = match serde_json::to_value(&*s) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => return Err(ApiError::internal("settings do not serialise to an object")),
            };
            merged.extend(req.settings);
            *s = serde_json::from_value(serde_json::Value::Object(merged))
                .map_err(|e| ApiError::invalid("settings", e))?;
            Ok(())
        })
        .await?;
    Ok(axum::Json(view))
}

pub async fn delete_app(
    State(state): State<AppState>,
    admin: Admin,
    Path(app_id): Path<String>,
) -> ApiResult<Response> {
    state.service.delete_app(&admin.caller, &app_id).await?;
    Ok(no_content())
}

pub async fn list_keys(
    State(state): State<AppState>,
    _: Admin,
    Path(app_id): Path<String>,
) -> ApiResult<axum::Json<List<KeyView>>> {
    Ok(list(state.service.list_keys(&app_id).await?))
}

/// `POST /admin/api/apps/{app_id}/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    name: Option<String>,
}

pub async fn create_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(app_id): Path<String>,
    Json(req): Json<CreateKey>,
) -> ApiResult<Response> {
    let name = req.name.as_deref().filter(|n| !n.trim().is_empty());
    let created: CreatedKey = state
        .service
        .create_key(&admin.caller, &app_id, name)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, key_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .revoke_key(&admin.caller, &app_id, &key_id)
        .await?;
    Ok(no_content())
}

/// The user search's query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    #[serde(default)]
    q: Option<String>,
}

pub async fn search_users(
    State(state): State<AppState>,
    _: Admin,
    Path(app_id): Path<String>,
    q: Result<Query<UserQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<List<UserView>>> {
    let q = query(q)?;
    Ok(list(
        state
            .service
            .search_users(&app_id, q.q.as_deref().unwrap_or(""))
            .await?,
    ))
}

/// A user with their passkeys.
#[derive(Serialize)]
pub struct UserDetail {
    user: UserView,
    passkeys: Vec<PasskeyView>,
}

pub async fn get_user(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, external_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<UserDetail>> {
    let app = admin.app(&state, &app_id).await?;
    let (user, passkeys) = state.service.user_with_passkeys(&app, &external_id).await?;
    Ok(axum::Json(UserDetail {
        user: UserView::from(&user),
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyView::new(p, &state.service.names))
            .collect(),
    }))
}

pub async fn delete_user(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, external_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let app = admin.app(&state, &app_id).await?;
    state.service.delete_user(&app, &external_id).await?;
    Ok(no_content())
}

pub async fn delete_user_passkeys(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, external_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Deleted>> {
    let app = admin.app(&state, &app_id).await?;
    Ok(axum::Json(
        state
            .service
            .delete_user_passkeys(&app, &external_id)
            .await?,
    ))
}

/// How many sessions a revocation ended.
#[derive(Serialize)]
pub struct SessionsRevoked {
    revoked: u64,
}

/// `DELETE /admin/api/apps/{app_id}/users/{external_id}/sessions`: ends every session of the
/// user at once (their JWTs stop verifying); audited as `session.revoked`.
pub async fn revoke_user_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, external_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<SessionsRevoked>> {
    let app = admin.app(&state, &app_id).await?;
    let revoked = state
        .service
        .revoke_user_sessions(&app, &external_id)
        .await?;
    Ok(axum::Json(SessionsRevoked { revoked }))
}

pub async fn rename_passkey(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, id)): Path<(String, String)>,
    Json(req): Json<RenamePasskey>,
) -> ApiResult<axum::Json<PasskeyView>> {
    let name = req.into_name()?;
    let app = admin.app(&state, &app_id).await?;
    Ok(axum::Json(
        state
            .service
            .rename_passkey(&app, &id, name.as_deref())
            .await?,
    ))
}

pub async fn delete_passkey(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let app = admin.app(&state, &app_id).await?;
    state.service.delete_passkey(&app, &id).await?;
    Ok(no_content())
}

pub async fn list_webhooks(
    State(state): State<AppState>,
    _: Admin,
    Path(app_id): Path<String>,
) -> ApiResult<axum::Json<List<EndpointView>>> {
    Ok(list(state.service.list_webhooks(&app_id).await?))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    admin: Admin,
    Path(app_id): Path<String>,
    Json(req): Json<EndpointInput>,
) -> ApiResult<Response> {
    let created: EndpointCreated = state
        .service
        .create_webhook(&admin.caller, &app_id, &req)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub async fn update_webhook(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, id)): Path<(String, String)>,
    Json(req): Json<EndpointInput>,
) -> ApiResult<axum::Json<EndpointView>> {
    Ok(axum::Json(
        state
            .service
            .update_webhook(&admin.caller, &app_id, &id, &req)
            .await?,
    ))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    admin: Admin,
    Path((app_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .service
        .delete_webhook(&admin.caller, &app_id, &id)
        .await?;
    Ok(no_content())
}

pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    _: Admin,
    Path((app_id, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<List<DeliveryView>>> {
    Ok(list(state.service.webhook_deliveries(&app_id, &id).await?))
}

pub async fn list_audit(
    State(state): State<AppState>,
    _: Admin,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<AuditPage>> {
    Ok(axum::Json(state.service.audit_page(&query(q)?).await?))
}

pub async fn export_audit(
    State(state): State<AppState>,
    _: Admin,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let lines = state.service.audit_export(&query(q)?).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"passkeyd-audit.jsonl\"",
            ),
        ],
        lines,
    )
        .into_response())
}

pub async fn get_audit_entry(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AuditView>> {
    Ok(axum::Json(state.service.audit_entry(&id).await?))
}

pub async fn list_admins(
    State(state): State<AppState>,
    _: Admin,
) -> ApiResult<axum::Json<List<crate::admin::AdminView>>> {
    Ok(list(state.service.list_admins().await?))
}

pub async fn remove_admin(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.service.remove_admin(&admin.caller, &id).await?;
    Ok(no_content())
}

pub async fn list_invites(
    State(state): State<AppState>,
    _: Admin,
) -> ApiResult<axum::Json<List<crate::admin::InviteView>>> {
    Ok(list(state.service.list_invites().await?))
}

/// `POST /admin/api/invites`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    #[serde(default)]
    name: Option<String>,
}

pub async fn create_invite(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<CreateInvite>,
) -> ApiResult<Response> {
    let invite = state
        .service
        .invite_admin(&admin.settings, &admin.caller, req.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(invite)).into_response())
}

pub async fn delete_invite(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.service.delete_invite(&admin.caller, &id).await?;
    Ok(no_content())
}
