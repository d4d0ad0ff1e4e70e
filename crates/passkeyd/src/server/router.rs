//! Every route, grouped by who calls it and how it is authenticated. The backend API takes the
//! app's secret key (the `Tenant` extractor in each handler); operations endpoints are open.

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

    Router::new()
        .merge(backend)
        .merge(public)
        .merge(signed_in)
        .merge(demo)
        .merge(operations)
        .fallback(route_not_found)
        .route_layer(middleware::from_fn(remember_route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}
