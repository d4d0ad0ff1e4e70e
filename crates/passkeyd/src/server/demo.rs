//! The demo: the page at `/` (embedded files, strict CSP) and the small backend it talks to under
//! `/demo/api/`, which plays the part of an app's own backend: it asks passkeyd for transactions,
//! trades nonces for users, and keeps a demo session in an HttpOnly cookie. Only an app whose
//! settings enable the demo (the out-of-the-box localhost app) has it; otherwise every demo route
//! is 404. State-changing calls must come from the app's own origin (CSRF).

use super::extract::Json;
use super::{no_content, AppState};
use crate::browser::{NonceClaims, Transaction, TransactionKind};
use crate::config::DEFAULT_APP_ID;
use crate::error::{ApiError, ApiResult, Kind};
use crate::secrets;
use crate::service::{check_text, now_ms, passkey_not_found};
use crate::settings::AppContext;
use crate::views::{PasskeyView, UserView};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use passkeyd_core::error::hex;
use passkeyd_store::Ceremony;
use serde::{Deserialize, Serialize};

/// The demo session cookie.
const COOKIE: &str = "passkeyd_demo";
/// How long a demo session lasts.
const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;

/// The page's files, embedded in the binary.
const INDEX_HTML: &str = include_str!("../../assets/demo/index.html");
const DEMO_JS: &str = include_str!("../../assets/demo/demo.js");
const DEMO_CSS: &str = include_str!("../../assets/demo/demo.css");
/// The browser SDK, served to every app's pages.
const SDK_JS: &str = include_str!("../../../../sdk/passkeyd.js");
const SDK_DTS: &str = include_str!("../../../../sdk/passkeyd.d.ts");

/// The security headers of the demo's files: no inline script or style, nothing from elsewhere,
/// never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /sdk/passkeyd.js`: any page may load it.
pub async fn sdk_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        SDK_JS,
    )
        .into_response()
}

/// `GET /sdk/passkeyd.d.ts`.
pub async fn sdk_dts() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/typescript; charset=utf-8",
            ),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SDK_DTS,
    )
        .into_response()
}

/// The demo app, when it is enabled.
pub struct DemoApp(AppContext);

impl FromRequestParts<AppState> for DemoApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let app = state
            .service
            .store
            .get_app(DEFAULT_APP_ID)
            .await?
            .map(|a| AppContext::from_app(&a))
            .transpose()?
            .filter(|a| a.settings.demo)
            .ok_or_else(|| ApiError::not_found("route_not_found", "no such endpoint"))?;
        // A state-changing call must come from the demo's own page: browsers send Origin on
        // every cross-site request, so a foreign or missing one is refused.
        if parts.method != Method::GET {
            let origin = parts
                .headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok());
            if !origin.is_some_and(|o| app.rp.origins().iter().any(|a| a.as_str() == o)) {
                return Err(ApiError::new(
                    Kind::Forbidden,
                    "origin_not_allowed",
                    "demo calls must come from the demo page",
                ));
            }
        }
        let caller = super::caller(state, parts, "demo".to_owned());
        Ok(DemoApp(app.acting_as(caller)))
    }
}

pub async fn index(_: DemoApp) -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn demo_js(_: DemoApp) -> Response {
    asset("text/javascript; charset=utf-8", DEMO_JS)
}

pub async fn demo_css(_: DemoApp) -> Response {
    asset("text/css; charset=utf-8", DEMO_CSS)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Username {
    username: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nonce {
    nonce: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct SessionData {
    external_id: String,
}

#[derive(Serialize)]
pub struct Me {
    user: UserView,
    passkeys: Vec<PasskeyView>,
}

fn session_row_id(token: &str) -> String {
    format!("demo:{}", hex(&secrets::hash_key(token)))
}

/// The signed-in demo user.
pub struct DemoUser {
    external_id: String,
    token: String,
}

impl FromRequestParts<AppState> for DemoUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let not_signed_in =
            || ApiError::new(Kind::Unauthenticated, "not_signed_in", "sign in first");
        let token = super::cookie(&parts.headers, COOKIE).ok_or_else(not_signed_in)?;
        let row = state
            .service
            .store
            .get_ceremony(DEFAULT_APP_ID, &session_row_id(&token))
            .await?
            .filter(|r| r.kind == "demo_session" && r.expires_at > now_ms())
            .ok_or_else(not_signed_in)?;
        let data: SessionData = serde_json::from_str(&row.data).map_err(ApiError::internal)?;
        Ok(DemoUser {
            external_id: data.external_id,
            token,
        })
    }
}

pub async fn signup(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    Json(req): Json<Username>,
) -> ApiResult<axum::Json<Transaction>> {
    let username = req.username.trim();
    check_text("username", username, 64)?;
    if let Some(user) = state.service.store.get_user(&app.id, username).await? {
        if !state
            .service
            .store
            .list_passkeys(&app.id, &user.id)
            .await?
            .is_empty()
        {
            return Err(ApiError::new(
                Kind::Conflict,
                "username_taken",
                format!("{username:?} is taken; sign in instead"),
            ));
        }
    }
    Ok(axum::Json(
        state
            .service
            .create_transaction(
                &app,
                TransactionKind::Register,
                username,
                Some(username),
                None,
            )
            .await?,
    ))
}

pub async fn signin(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    Json(req): Json<Username>,
) -> ApiResult<axum::Json<Transaction>> {
    let username = req.username.trim();
    check_text("username", username, 64)?;
    Ok(axum::Json(
        state
            .service
            .create_transaction(&app, TransactionKind::Authenticate, username, None, None)
            .await?,
    ))
}

pub async fn session(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    Json(req): Json<Nonce>,
) -> ApiResult<Response> {
    let claims = state.service.verify_nonce(&app, &req.nonce).await?;
    let user = state.service.user(&app, &claims.external_id).await?;
    let token = passkeyd_core::b64::encode(&secrets::random_bytes(32)?);
    state
        .service
        .store
        .put_ceremony(&Ceremony {
            id: session_row_id(&token),
            app_id: app.id.clone(),
            kind: "demo_session".into(),
            user_id: Some(user.id.clone()),
            data: serde_json::to_string(&SessionData {
                external_id: user.external_id.clone(),
            })
            .map_err(ApiError::internal)?,
            expires_at: now_ms() + SESSION_TTL_MS,
        })
        .await?;
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL_MS / 1000
    );
    let mut response = axum::Json(serde_json::json!({
        "user": UserView::from(&user),
        "kind": claims.kind,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

pub async fn me(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
) -> ApiResult<axum::Json<Me>> {
    let user = state.service.user(&app, &who.external_id).await?;
    let passkeys = state.service.user_passkeys(&app, &who.external_id).await?;
    Ok(axum::Json(Me {
        user: UserView::from(&user),
        passkeys: passkeys.data,
    }))
}

pub async fn add_passkey(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
) -> ApiResult<axum::Json<Transaction>> {
    Ok(axum::Json(
        state
            .service
            .create_transaction(
                &app,
                TransactionKind::Register,
                &who.external_id,
                None,
                None,
            )
            .await?,
    ))
}

pub async fn confirm_passkey(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
    Json(req): Json<Nonce>,
) -> ApiResult<axum::Json<NonceClaims>> {
    let claims = state.service.verify_nonce(&app, &req.nonce).await?;
    if claims.external_id != who.external_id || claims.kind != "registration" {
        return Err(ApiError::new(
            Kind::Refused,
            "invalid_nonce",
            "the nonce is not for a passkey of the signed-in user",
        ));
    }
    Ok(axum::Json(claims))
}

/// The signed-in user's passkey, or `passkey_not_found` (another user's looks the same).
async fn own_passkey(
    state: &AppState,
    app: &AppContext,
    who: &DemoUser,
    id: &str,
) -> ApiResult<()> {
    let passkey = state.service.passkey(app, id).await?;
    if passkey.external_id != who.external_id {
        return Err(passkey_not_found(id));
    }
    Ok(())
}

pub async fn rename_passkey(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
    Path(id): Path<String>,
    Json(req): Json<Rename>,
) -> ApiResult<axum::Json<PasskeyView>> {
    own_passkey(&state, &app, &who, &id).await?;
    Ok(axum::Json(
        state
            .service
            .rename_passkey(&app, &id, Some(&req.name))
            .await?,
    ))
}

pub async fn delete_passkey(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    own_passkey(&state, &app, &who, &id).await?;
    state.service.delete_passkey(&app, &id).await?;
    Ok(no_content())
}

pub async fn signout(
    State(state): State<AppState>,
    DemoApp(app): DemoApp,
    who: DemoUser,
) -> ApiResult<Response> {
    state
        .service
        .store
        .delete_ceremony(&app.id, &session_row_id(&who.token))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("passkeyd_demo=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}
