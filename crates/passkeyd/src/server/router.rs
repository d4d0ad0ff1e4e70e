//! Every route, grouped by who calls it and how it is authenticated. The backend API takes the
//! app's secret key (the `Tenant` extractor in each handler); the admin API an admin session
//! (the `Admin` extractor); operations endpoints are open.

use super::admin;
use super::browser::{
    browser_finish_authentication, browser_finish_registration, browser_start_authentication,
    browser_start_registration, create_authenticate_transaction, create_register_transaction,
    preflight, public_app, verify_nonce,
};
use super::extract::BODY_LIMIT;
use super::handlers::*;
use super::{demo, me};
use super::{finish, remember_route, AppState};
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use axum::{middleware, Router};

/// The admin dashboard and its API, under `/admin`: sessions and CSRF in `server/admin.rs`,
/// security headers on every response.
fn admin_routes() -> Router<AppState> {
    use admin::*;
    // No session yet: sign-in and invites (same-origin only).
    let signin = Router::new()
        .route(
            "/admin/api/invites/registration/start",
            post(start_invite_registration),
        )
        .route(
            "/admin/api/invites/registration/finish",
            post(finish_invite_registration),
        )
        .route("/admin/api/signin/start", post(start_admin_signin))
        .route("/admin/api/signin/finish", post(finish_admin_signin));
    // Signed in (the `Admin` extractor): CSRF token and origin on every state change.
    let api = Router::new()
        .route("/admin/api/session", get(get_admin_session))
        .route("/admin/api/signout", post(admin_signout))
        .route("/admin/api/overview", get(get_overview))
        .route("/admin/api/apps", get(list_apps).post(create_app))
        .route(
            "/admin/api/apps/{app_id}",
            get(get_app).patch(update_app).delete(delete_app),
        )
        .route(
            "/admin/api/apps/{app_id}/keys",
            get(list_keys).post(create_key),
        )
        .route("/admin/api/apps/{app_id}/keys/{key_id}", delete(revoke_key))
        .route("/admin/api/apps/{app_id}/users", get(search_users))
        .route(
            "/admin/api/apps/{app_id}/users/{external_id}",
            get(get_user).delete(delete_user),
        )
        .route(
            "/admin/api/apps/{app_id}/users/{external_id}/passkeys",
            delete(delete_user_passkeys),
        )
        .route(
            "/admin/api/apps/{app_id}/users/{external_id}/sessions",
            delete(revoke_user_sessions),
        )
        .route(
            "/admin/api/apps/{app_id}/passkeys/{id}",
            patch(rename_passkey).delete(delete_passkey),
        )
        .route(
            "/admin/api/apps/{app_id}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/admin/api/apps/{app_id}/webhooks/{id}",
            patch(update_webhook).delete(delete_webhook),
        )
        .route(
            "/admin/api/apps/{app_id}/webhooks/{id}/deliveries",
            get(list_webhook_deliveries),
        )
        .route("/admin/api/audit", get(list_audit))
        .route("/admin/api/audit/export", get(export_audit))
        .route("/admin/api/audit/{id}", get(get_audit_entry))
        .route("/admin/api/admins", get(list_admins))
        .route("/admin/api/admins/{id}", delete(remove_admin))
        .route("/admin/api/invites", get(list_invites).post(create_invite))
        .route("/admin/api/invites/{id}", delete(delete_invite));
    let files = Router::new()
        .route("/admin", get(redirect_to_dashboard))
        .route("/admin/", get(dashboard))
        .route("/admin/assets/admin.js", get(dashboard_js))
        .route("/admin/assets/admin.css", get(dashboard_css));
    Router::new()
        .merge(signin)
        .merge(api)
        .merge(files)
        .route_layer(middleware::from_fn(security_headers))
}

/// The admin dashboard alone, for `--admin-listen`.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .merge(admin_routes())
        .fallback(route_not_found)
        .route_layer(middleware::from_fn(remember_route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // Backend API: `Authorization: Bearer <secret key>`; the key decides the app.
    let backend = Router::new()
        .route("/v1/users", post(upsert_user).get(list_users))
        .route("/v1/users/{external_id}", get(get_user).delete(delete_user))
        .route(
            "/v1/users/{external_id}/passkeys",
            get(list_user_passkeys).delete(delete_user_passkeys),
        )
        .route("/v1/registrations/start", post(start_registration))
        .route("/v1/registrations/finish", post(finish_registration))
        .route("/v1/authentications/start", post(start_authentication))
        .route("/v1/authentications/finish", post(finish_authentication))
        .route(
            "/v1/passkeys/{id}",
            get(get_passkey)
                .patch(rename_passkey)
                .delete(delete_passkey),
        )
        .route(
            "/v1/transactions/register",
            post(create_register_transaction),
        )
        .route(
            "/v1/transactions/authenticate",
            post(create_authenticate_transaction),
        )
        .route("/v1/nonces/verify", post(verify_nonce))
        .route(
            "/v1/users/{external_id}/sessions",
            get(me::list_user_sessions).delete(me::revoke_user_sessions),
        )
        .route("/v1/sessions/{session_id}", delete(me::revoke_session))
        .route("/v1/sessions/verify", post(me::verify_session_token));

    // The signed-in user's own endpoints: a session (cookie or Bearer session token), CORS for
    // the session's app, CSRF checks on cookie calls (all in `me_gate`).
    let signed_in = Router::new()
        .route("/v1/me", get(me::get_me).options(preflight))
        .route(
            "/v1/me/session/refresh",
            post(me::refresh_session).options(preflight),
        )
        .route(
            "/v1/me/session/signout",
            post(me::sign_out).options(preflight),
        )
        .route(
            "/v1/me/passkeys",
            get(me::list_my_passkeys)
                .post(me::create_my_passkey)
                .options(preflight),
        )
        .route(
            "/v1/me/passkeys/{passkey_id}",
            get(me::get_my_passkey)
                .patch(me::rename_my_passkey)
                .delete(me::delete_my_passkey)
                .options(preflight),
        )
        .route(
            "/v1/me/passkeys/{passkey_id}/attempt_verification",
            post(me::attempt_verification).options(preflight),
        )
        .route(
            "/v1/me/reverify/start",
            post(me::start_reverification).options(preflight),
        )
        .route(
            "/v1/me/reverify/finish",
            post(me::finish_reverification).options(preflight),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), me::me_gate));

    // Public browser endpoints: no secret; the app id is in the path, CORS allows exactly the
    // app's origins, and rate limits apply (all in `public_app`).
    let public = Router::new()
        .route(
            "/v1/apps/{app_id}/registrations/start",
            post(browser_start_registration).options(preflight),
        )
        .route(
            "/v1/apps/{app_id}/registrations/finish",
            post(browser_finish_registration).options(preflight),
        )
        .route(
            "/v1/apps/{app_id}/authentications/start",
            post(browser_start_authentication).options(preflight),
        )
        .route(
            "/v1/apps/{app_id}/authentications/finish",
            post(browser_finish_authentication).options(preflight),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), public_app))
        .route("/v1/apps/{app_id}/.well-known/jwks.json", get(me::jwks));

    // The browser SDK, for every app's pages; and the demo page with its demo backend (the
    // demo app only; cookie session, same-origin checks in `server/demo.rs`).
    let demo = Router::new()
        .route("/sdk/passkeyd.js", get(demo::sdk_js))
        .route("/sdk/passkeyd.d.ts", get(demo::sdk_dts))
        .route("/", get(demo::index))
        .route("/demo/demo.js", get(demo::demo_js))
        .route("/demo/demo.css", get(demo::demo_css))
        .route("/demo/api/signup", post(demo::signup))
        .route("/demo/api/signin", post(demo::signin))
        .route("/demo/api/session", post(demo::session))
        .route("/demo/api/me", get(demo::me))
        .route("/demo/api/passkeys", post(demo::add_passkey))
        .route("/demo/api/passkeys/confirm", post(demo::confirm_passkey))
        .route(
            "/demo/api/passkeys/{id}",
            patch(demo::rename_passkey).delete(demo::delete_passkey),
        )
        .route("/demo/api/signout", post(demo::signout));

    // Operations: no authentication.
    let operations = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(crate::openapi::serve));

    // The admin dashboard, unless it has a listener of its own.
    let admin = if state.admin_on_main {
        admin_routes()
    } else {
        Router::new()
    };

    Router::new()
        .merge(backend)
        .merge(public)
        .merge(signed_in)
        .merge(demo)
        .merge(operations)
        .merge(admin)
        .fallback(route_not_found)
        .route_layer(middleware::from_fn(remember_route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}
