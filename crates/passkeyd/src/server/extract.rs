//! Request extractors that answer in the one error shape: a JSON body whose every failure names
//! what is wrong, and the secret API key that decides which app a backend call acts for.

use super::AppState;
use crate::error::{ApiError, Kind};
use crate::secrets;
use crate::service::now_ms;
use crate::settings::AppContext;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The largest request body accepted: ample for any WebAuthn response with a certificate chain.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body. Malformed JSON is `invalid_json`; a missing field, wrong type or unknown field is
/// `invalid_request` with serde's description (which names the field); a body over
/// [`BODY_LIMIT`] is `body_too_large`. All are 400.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::new(Kind::Invalid, "invalid_json", e.body_text())
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(Kind::Invalid, "invalid_request", e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    Kind::Invalid,
                    "invalid_request",
                    "expected a JSON body with Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(_) => ApiError::new(
                    Kind::Invalid,
                    "body_too_large",
                    format!("the body is larger than {BODY_LIMIT} bytes"),
                ),
                other => ApiError::new(Kind::Invalid, "invalid_request", other.body_text()),
            }),
        }
    }
}

/// A JSON body that may be left out: an empty body is `T::default()` (for calls whose every
/// member is optional). Anything else is read as [`Json`] reads it.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    Kind::Invalid,
                    "body_too_large",
                    format!("the body is larger than {BODY_LIMIT} bytes"),
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(v) => Ok(OptionalJson(v)),
            Err(e) if e.inner().is_data() => Err(ApiError::new(
                Kind::Invalid,
                "invalid_request",
                e.to_string(),
            )),
            Err(e) => Err(ApiError::new(Kind::Invalid, "invalid_json", e.to_string())),
        }
    }
}

/// The app a backend call acts for, decided by its `Authorization: Bearer <secret key>`.
pub struct Tenant(pub AppContext);

/// How often a key's `last_used_at` is written, at most: once a minute is precise enough to
/// tell which keys are in use, and spares a write on every request.
const TOUCH_INTERVAL_MS: i64 = 60_000;

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::new(
                Kind::Unauthenticated,
                "missing_api_key",
                "send the app's secret key as Authorization: Bearer <key>",
            )
        })?;
        let invalid = || {
            ApiError::new(
                Kind::Unauthenticated,
                "invalid_api_key",
                "the secret key is unknown or revoked",
            )
        };
        let key = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| k.starts_with(secrets::KEY_PREFIX) && k.len() < 256)
            .ok_or_else(invalid)?;
        let hash = secrets::hash_key(key);
        let store = &state.service.store;
        let (stored, app) = store
            .find_api_key_with_app(&hash)
            .await?
            .ok_or_else(invalid)?;
        if stored.revoked_at.is_some() || !secrets::key_matches(&hash, &stored.hash) {
            return Err(invalid());
        }
        let now = now_ms();
        if stored
            .last_used_at
            .is_none_or(|t| now - t >= TOUCH_INTERVAL_MS)
        {
            store.touch_api_key(&stored.id, now).await?;
        }
        let caller = super::caller(state, parts, format!("key:{}", stored.prefix));
        Ok(Tenant(state.service.apps.get(&app)?.acting_as(caller)))
    }
}
