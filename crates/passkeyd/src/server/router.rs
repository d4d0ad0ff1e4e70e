//! Every route, grouped by who calls it and how it is authenticated. The backend API takes the
//! app's secret key (the `Tenant` extractor in each handler); operations endpoints are open.

use super::extract::BODY_LIMIT;
use super::handlers::*;
use super::{finish, remember_route, AppState};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
        );

    // Operations: no authentication.
    let operations = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(crate::openapi::serve));

    Router::new()
        .merge(backend)
        .merge(operations)
        .fallback(route_not_found)
        .route_layer(middleware::from_fn(remember_route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}
