//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the code: the endpoints
//! (annotated in `server/handlers.rs`), the one error shape (`ErrorBody`) with every error code
//! and its status, and the secret-key security scheme.

use crate::error::{ApiError, ApiResult, Kind};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::OpenApi;

/// The name of the security scheme the backend endpoints require (`security(("api_key" = []))`
/// in their annotations).
pub const SECURITY_SCHEME: &str = "api_key";

/// The body of every error answer. Its `code` is one of the codes in the table of the API
/// description; the HTTP status follows from the code.
#[derive(Debug, utoipa::ToSchema)]
pub struct ErrorBody {
    // No doc comment: with one, utoipa would wrap the inlined object in a `oneOf`.
    #[schema(inline)]
    pub error: ErrorDetail,
}

/// The error: a stable code, a message for humans and the request id.
#[derive(Debug, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The stable machine code (snake_case); match on this, not on the message.
    pub code: String,
    /// What went wrong, for humans; may change between versions.
    pub message: String,
    /// The request's id, also sent as the `x-request-id` header and written in the server log.
    pub request_id: String,
}

/// The answer of `GET /health`.
#[derive(Debug, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: the process is up and serving.
    #[schema(example = "ok")]
    pub status: String,
}

/// The answer of `GET /ready`.
#[derive(Debug, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ready`: the database answers.
    #[schema(example = "ready")]
    pub status: String,
    /// The database backend: `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub store: String,
}

/// What each verification code of the core means (`passkeyd_core::Error::CODES`; the core
/// documents them on its `Error` variants). A test keeps the two lists the same.
const VERIFICATION_CODES: &[(&str, &str)] = &[
    (
        "malformed_response",
        "The credential JSON does not have the shape of a `PublicKeyCredential`.",
    ),
    (
        "credential_type_invalid",
        "The credential's `type` is missing or not `public-key`.",
    ),
    (
        "malformed_client_data",
        "`clientDataJSON` is not valid JSON with the required members.",
    ),
    (
        "client_data_type_mismatch",
        "`clientDataJSON.type` is not the one the ceremony needs.",
    ),
    (
        "challenge_mismatch",
        "The challenge in `clientDataJSON` is not the one this ceremony issued.",
    ),
    (
        "origin_mismatch",
        "The origin in `clientDataJSON` is not one of the app's origins.",
    ),
    (
        "cross_origin_not_allowed",
        "The ceremony ran in a cross-origin iframe and the app does not allow that top origin.",
    ),
    (
        "rp_id_mismatch",
        "The authenticator data is scoped to a different RP ID.",
    ),
    (
        "user_presence_missing",
        "The user presence flag (UP) is not set.",
    ),
    (
        "user_verification_required",
        "User verification is required but the UV flag is not set.",
    ),
    (
        "backup_state_invalid",
        "The backup state flag (BS) is set without backup eligibility (BE).",
    ),
    (
        "malformed_authenticator_data",
        "The authenticator data cannot be decoded.",
    ),
    (
        "malformed_attestation_object",
        "The attestation object cannot be decoded.",
    ),
    (
        "malformed_public_key",
        "The credential public key is not a valid COSE key.",
    ),
    (
        "credential_id_too_long",
        "The credential id is longer than the 1023 bytes WebAuthn allows.",
    ),
    (
        "unsupported_algorithm",
        "The key's algorithm is one passkeyd cannot verify.",
    ),
    (
        "algorithm_not_requested",
        "The key's algorithm was not among the options' `pubKeyCredParams`.",
    ),
    (
        "unsupported_attestation_format",
        "The attestation statement format is not one passkeyd knows.",
    ),
    (
        "attestation_invalid",
        "The attestation statement does not verify.",
    ),
    (
        "attestation_untrusted",
        "The attestation is valid but does not chain to a configured trust anchor.",
    ),
    (
        "aaguid_mismatch",
        "The AAGUID in the attestation certificate differs from the one in the authenticator data.",
    ),
    (
        "certificate_expired",
        "A certificate of the attestation chain has expired.",
    ),
    (
        "certificate_not_yet_valid",
        "A certificate of the attestation chain is not valid yet.",
    ),
    (
        "certificate_invalid",
        "A certificate cannot be parsed, or breaks a rule of its format or of the chain.",
    ),
    (
        "safetynet_invalid",
        "An android-safetynet statement failed one of the format's own checks.",
    ),
    (
        "signature_invalid",
        "The signature does not verify with the passkey's public key.",
    ),
    (
        "counter_rollback",
        "The signature counter did not increase: the authenticator may have been cloned.",
    ),
    (
        "credential_not_allowed",
        "The credential used is not one the options allowed.",
    ),
    (
        "credential_id_mismatch",
        "The response's credential id is not the stored passkey's.",
    ),
    (
        "user_handle_mismatch",
        "The user handle is missing from, or differs in, the response.",
    ),
    (
        "invalid_rp_id",
        "An RP ID in the configuration or options is not acceptable.",
    ),
    (
        "invalid_origin",
        "An origin in the configuration is not acceptable.",
    ),
    ("invalid_option", "A ceremony option is out of range."),
];

/// One row of the error table: code, HTTP status, meaning.
struct CodeRow {
    code: &'static str,
    status: u16,
    meaning: &'static str,
}

/// Every error code the API answers with, server codes first, then the verification codes
/// (which are all refusals), each with the status [`ApiError`]'s own response gives it.
fn code_table() -> Vec<CodeRow> {
    let status = |kind, code| {
        ApiError::new(kind, code, "")
            .into_response()
            .status()
            .as_u16()
    };
    let server = ApiError::CODES
        .iter()
        .map(|&(code, kind, meaning)| CodeRow {
            code,
            status: status(kind, code),
            meaning,
        });
    let verification = passkeyd_core::Error::CODES.iter().map(|&code| CodeRow {
        code,
        status: status(Kind::Refused, code),
        meaning: VERIFICATION_CODES.iter().find(|(c, _)| *c == code).map_or(
            "The WebAuthn response failed verification; the message says why.",
            |(_, m)| m,
        ),
    });
    let mut seen = BTreeSet::new();
    server
        .chain(verification)
        .filter(|row| seen.insert(row.code))
        .collect()
}

/// The API description: what passkeyd is, how calls are authenticated, and the error table.
fn description(rows: &[CodeRow]) -> String {
    let mut text = String::from(
        "passkeyd is a self-hosted passkey (WebAuthn) server.\n\n\
         The backend API (`/v1/...`) is called by the app's own backend, never by browsers, with \
         the app's secret API key: `Authorization: Bearer pkd_sk_...`. The key decides which app \
         a call acts for. The operations endpoints (`/health`, `/ready`, `/metrics`, \
         `/openapi.json`) need no authentication.\n\n\
         ## Errors\n\n\
         Every error is answered with the status in the table below and the same JSON body \
         (schema `ErrorBody`): `{\"error\": {\"code\": \"...\", \"message\": \"...\", \
         \"request_id\": \"...\"}}`. Programs match on `code`, which never changes meaning; \
         `message` is for humans; `request_id` is also sent as the `x-request-id` header and \
         identifies the request in the server log. A path that does not exist answers 404 \
         `route_not_found`, and a method a path does not support answers 405 \
         `method_not_allowed`, on every path.\n\n\
         | Code | Status | Meaning |\n|---|---|---|\n",
    );
    for row in rows {
        text.push_str(&format!(
            "| `{}` | {} | {} |\n",
            row.code,
            row.status,
            row.meaning.replace('|', "\\|")
        ));
    }
    text
}

/// The `code` property of the `ErrorBody` component, if the document has it.
fn error_code_property(doc: &mut utoipa::openapi::OpenApi) -> Option<&mut Object> {
    let schemas = &mut doc.components.as_mut()?.schemas;
    let RefOr::T(Schema::Object(body)) = schemas.get_mut("ErrorBody")? else {
        return None;
    };
    let RefOr::T(Schema::Object(error)) = body.properties.get_mut("error")? else {
        return None;
    };
    match error.properties.get_mut("code")? {
        RefOr::T(Schema::Object(code)) => Some(code),
        _ => None,
    }
}

/// The parts of the document declared here: this endpoint, the shared schemas and the tags.
/// The backend and operations endpoints come from [`Endpoints`].
#[derive(OpenApi)]
#[openapi(
    paths(serve),
    components(schemas(ErrorBody, Health, Readiness)),
    tags(
        (name = "users", description = "The app's users, known by the app's own identifier (`external_id`)."),
        (name = "registrations", description = "Registration ceremonies: a user creates a passkey."),
        (name = "authentications", description = "Authentication ceremonies: a user signs in with a passkey."),
        (name = "passkeys", description = "Registered passkeys: look up, rename, delete."),
        (name = "operations", description = "Health, readiness, metrics and this document; no authentication."),
    )
)]
struct ApiDoc;

/// The endpoints of `server/handlers.rs`. That module is private to the server, so it lists
/// its own handlers: it implements [`utoipa::OpenApi`] for this type.
pub(crate) struct Endpoints;

/// The whole OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(<Endpoints as OpenApi>::openapi());

    let rows = code_table();
    doc.info.title = "passkeyd".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(description(&rows));

    if let Some(code) = error_code_property(&mut doc) {
        code.enum_values = Some(rows.iter().map(|r| r.code.into()).collect());
    }

    let key = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("secret API key")
        .description(Some(
            "The app's secret API key (`pkd_sk_...`), made with `passkeyd keys create`.",
        ))
        .build();
    let session = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("session token")
        .description(Some(
            "A session: the HttpOnly `passkeyd_session` cookie a browser sign-in sets, or its token (`pkd_st_...`) as a Bearer token.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(key));
    components.add_security_scheme("session", SecurityScheme::Http(session));
    doc
}

/// The document as JSON, made once.
fn document_json() -> &'static Result<String, String> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().map_err(|e| e.to_string()))
}

/// This document.
///
/// The OpenAPI 3.1 description of every endpoint and every error of this server.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", body = Object, content_type = "application/json"),
    )
)]
pub async fn serve() -> ApiResult<Response> {
    match document_json() {
        Ok(json) => {
            Ok(([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response())
        }
        Err(e) => Err(ApiError::internal(format!(
            "cannot serialize the OpenAPI document: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json() -> Value {
        serde_json::from_str(&document().to_json().unwrap()).unwrap()
    }

    /// Every route of `server/router.rs` and its methods.
    const ROUTES: &[(&str, &[&str])] = &[
        ("/v1/users", &["post", "get"]),
        ("/v1/users/{external_id}", &["get", "delete"]),
        ("/v1/users/{external_id}/passkeys", &["get", "delete"]),
        ("/v1/registrations/start", &["post"]),
        ("/v1/registrations/finish", &["post"]),
        ("/v1/authentications/start", &["post"]),
        ("/v1/authentications/finish", &["post"]),
        ("/v1/passkeys/{id}", &["get", "patch", "delete"]),
        ("/v1/transactions/register", &["post"]),
        ("/v1/transactions/authenticate", &["post"]),
        ("/v1/nonces/verify", &["post"]),
        ("/v1/apps/{app_id}/registrations/start", &["post"]),
        ("/v1/apps/{app_id}/registrations/finish", &["post"]),
        ("/v1/apps/{app_id}/authentications/start", &["post"]),
        ("/v1/apps/{app_id}/authentications/finish", &["post"]),
        ("/v1/apps/{app_id}/.well-known/jwks.json", &["get"]),
        ("/v1/users/{external_id}/sessions", &["get", "delete"]),
        ("/v1/sessions/{session_id}", &["delete"]),
        ("/v1/sessions/verify", &["post"]),
        ("/v1/me", &["get"]),
        ("/v1/me/session/refresh", &["post"]),
        ("/v1/me/session/signout", &["post"]),
        ("/v1/me/passkeys", &["get", "post"]),
        ("/v1/me/passkeys/{passkey_id}", &["get", "patch", "delete"]),
        (
            "/v1/me/passkeys/{passkey_id}/attempt_verification",
            &["post"],
        ),
        ("/v1/me/reverify/start", &["post"]),
        ("/v1/me/reverify/finish", &["post"]),
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
    ];

    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if METHODS.contains(&method.as_str()) {
                    ops.push((path.clone(), method.clone(), op));
                }
            }
        }
        ops
    }

    fn refers_to_error_body(response: &Value) -> bool {
        response["content"]["application/json"]["schema"]["$ref"]
            == "#/components/schemas/ErrorBody"
    }

    #[tokio::test]
    async fn is_served_as_json() {
        let response = serve().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, document_json().as_ref().unwrap().as_bytes());
    }

    #[test]
    fn is_openapi_3_1_json_about_passkeyd() {
        let text = document_json().as_ref().unwrap();
        let doc: Value = serde_json::from_str(text).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        assert_eq!(doc["info"]["title"], "passkeyd");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn has_every_route_with_its_methods_and_nothing_else() {
        let doc = json();
        let mut expected: Vec<(String, String)> = ROUTES
            .iter()
            .flat_map(|(p, ms)| ms.iter().map(|m| ((*p).to_owned(), (*m).to_owned())))
            .collect();
        let mut documented: Vec<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(p, m, _)| (p, m))
            .collect();
        expected.sort();
        documented.sort();
        assert_eq!(documented, expected);
    }

    /// The list above is the router's: every `.route("...", ...)` in `server/router.rs`, with
    /// the methods it routes, appears in it.
    #[test]
    fn route_list_matches_the_router_source() {
        let source = include_str!("server/router.rs");
        let mut routes: Vec<(String, Vec<String>)> = Vec::new();
        for (start, _) in source.match_indices(".route(") {
            let rest = &source[start + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .unwrap()
                .0;
            let call = &rest[..end];
            let path = call.split('"').nth(1).unwrap().to_owned();
            // The demo page and the SDK files are not API; CORS preflights are not operations.
            // The admin API is the dashboard's own, session-bound and documented in
            // docs/admin.md rather than in the public contract.
            if path == "/"
                || path.starts_with("/demo/")
                || path.starts_with("/sdk/")
                || path.starts_with("/admin")
            {
                continue;
            }
            let mut methods: Vec<String> = METHODS
                .iter()
                .filter(|m| **m != "options")
                .filter(|m| {
                    call.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0 || !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
                .map(|m| (*m).to_owned())
                .collect();
            methods.sort();
            routes.push((path, methods));
        }
        let mut listed: Vec<(String, Vec<String>)> = ROUTES
            .iter()
            .map(|(p, ms)| {
                let mut ms: Vec<String> = ms.iter().map(|m| (*m).to_owned()).collect();
                ms.sort();
                ((*p).to_owned(), ms)
            })
            .collect();
        routes.sort();
        listed.sort();
        assert_eq!(routes, listed);
    }

    #[test]
    fn backend_operations_answer_errors_in_the_one_shape_and_need_the_key() {
        let doc = json();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            // The public browser endpoints take no key; everything else under /v1 does.
            // The public browser endpoints take no key, and /v1/me takes a session; everything
            // else under /v1 takes the app's key.
            let backend = path.starts_with("/v1/")
                && !path.starts_with("/v1/apps/")
                && !path.starts_with("/v1/me");
            if backend {
                assert!(
                    responses
                        .iter()
                        .any(|(s, r)| s.starts_with('4') && refers_to_error_body(r)),
                    "{method} {path} documents no 4xx ErrorBody response"
                );
                for status in ["400", "401", "500", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path} lacks 404");
                }
                assert_eq!(
                    op["security"],
                    serde_json::json!([{ SECURITY_SCHEME: [] }]),
                    "{method} {path}"
                );
                assert!(
                    op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|p| p["in"] == "path")
                        .count()
                        == path.matches('{').count(),
                    "{method} {path} documents the wrong path parameters: {}",
                    op["parameters"]
                );
            } else if path.starts_with("/v1/me") {
                assert_eq!(
                    op["security"][0]
                        .as_object()
                        .unwrap()
                        .keys()
                        .collect::<Vec<_>>(),
                    ["session"],
                    "{method} {path} takes a session"
                );
            } else {
                assert!(op.get("security").is_none(), "{method} {path} needs no key");
            }
            for (status, response) in responses {
                let error = status.starts_with('4') || status.starts_with('5');
                assert_eq!(
                    error,
                    refers_to_error_body(response),
                    "{method} {path} {status}"
                );
            }
        }
        let schemes = &doc["components"]["securitySchemes"][SECURITY_SCHEME];
        assert_eq!(schemes["type"], "http");
        assert_eq!(schemes["scheme"], "bearer");
    }

    #[test]
    fn ceremony_statuses_and_parameters_are_documented() {
        let doc = json();
        let statuses = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert!(statuses("/v1/registrations/start", "post").contains(&"409".to_owned()));
        let finish = statuses("/v1/registrations/finish", "post");
        assert!(["201", "404", "409", "422"]
            .iter()
            .all(|s| finish.contains(&(*s).to_owned())));
        assert!(statuses("/v1/authentications/start", "post").contains(&"422".to_owned()));
        assert!(statuses("/v1/authentications/finish", "post").contains(&"422".to_owned()));
        assert!(statuses("/v1/users", "post").contains(&"201".to_owned()));
        let list = &doc["paths"]["/v1/users"]["get"]["parameters"];
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["limit", "cursor"]);
        assert!(list.as_array().unwrap().iter().all(|p| p["in"] == "query"));
        assert_eq!(
            list[0]["schema"]["maximum"],
            crate::service::MAX_PAGE,
            "the documented page size is not the service's"
        );
        let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        assert!(metrics
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k.starts_with("application/openmetrics-text")));
    }

    #[test]
    fn the_code_enum_and_table_have_every_code() {
        let doc = json();
        let detail = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"];
        let required: Vec<&str> = detail["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["code", "message", "request_id"]);
        let codes: BTreeSet<&str> = detail["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let description = doc["info"]["description"].as_str().unwrap();
        let all = ApiError::CODES
            .iter()
            .map(|(c, _, _)| *c)
            .chain(passkeyd_core::Error::CODES.iter().copied());
        for code in all {
            assert!(codes.contains(code), "{code} is not in the enum");
            assert!(
                description.contains(&format!("| `{code}` |")),
                "{code} is not in the table"
            );
        }
        assert!(description.contains("| `method_not_allowed` | 405 |"));
        assert!(description.contains("| `too_many_passkeys` | 409 |"));
        assert!(description.contains("| `counter_rollback` | 422 |"));
    }

    #[test]
    fn every_verification_code_has_its_meaning() {
        let mut documented: Vec<&str> = VERIFICATION_CODES.iter().map(|(c, _)| *c).collect();
        let mut core = passkeyd_core::Error::CODES.to_vec();
        documented.sort_unstable();
        core.sort_unstable();
        assert_eq!(documented, core);
    }

    /// The codes an error response's description names (in backticks) exist, and are answered
    /// with that response's status.
    #[test]
    fn error_responses_name_codes_of_their_status() {
        let doc = json();
        let table: Vec<(String, String)> = code_table()
            .iter()
            .map(|r| (r.code.to_owned(), r.status.to_string()))
            .collect();
        for (path, method, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !refers_to_error_body(response) {
                    continue;
                }
                let text = response["description"].as_str().unwrap();
                let named: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
                assert!(
                    !named.is_empty(),
                    "{method} {path} {status} names no code: {text}"
                );
                for code in named {
                    // /v1/me answers Clerk's statuses: conflicts are 403 and invalid requests 422.
                    let me_status = path.starts_with("/v1/me")
                        && ((status == "403" && table.contains(&(code.to_owned(), "409".into())))
                            || (status == "422"
                                && table.contains(&(code.to_owned(), "400".into()))));
                    assert!(
                        me_status || table.contains(&(code.to_owned(), status.clone())),
                        "{method} {path} {status}: `{code}` is not a {status} code"
                    );
                }
            }
        }
    }
}
