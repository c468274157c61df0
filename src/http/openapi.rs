//! The OpenAPI 3.1 document of the REST API, generated from the handlers' annotations and
//! served at `/api/docs.json`. Errors every protected operation can meet (400, 401, 403, 503,
//! and 404/415/422/406 where they apply) are added here, in one place, from what each
//! operation is: secured, with a path id, with a body, or negotiating JSON-LD.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::tokens::TokenView;
use super::users::UserView;
use super::webhooks::{DeliveryView, WebhookView};
use crate::domain::Access;
use crate::store::{CreatedBy, TokenStatus};

/// An RFC 9457 problem: every error response.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:portcullis:problem:insufficient-scope", "title": "Forbidden", "status": 403,
    "detail": "This request needs a Full Access token; Read Access tokens may only read (GET, HEAD, OPTIONS)."
}))]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
}

/// Hydra paging links of a collection page.
#[derive(Serialize, ToSchema)]
pub struct HydraView {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@type")]
    kind: String,
    #[serde(rename = "hydra:first")]
    first: String,
    #[serde(rename = "hydra:last")]
    last: String,
    #[serde(rename = "hydra:next")]
    next: Option<String>,
    #[serde(rename = "hydra:previous")]
    previous: Option<String>,
}

macro_rules! json_ld {
    ($item:ident, $collection:ident, $view:ty, $doc:literal) => {
        #[doc = concat!("A ", $doc, " in JSON-LD: `@context`, `@id`, `@type` and its fields.")]
        #[derive(Serialize, ToSchema)]
        pub struct $item {
            #[serde(rename = "@context")]
            context: Option<String>,
            #[serde(rename = "@id")]
            id: String,
            #[serde(rename = "@type")]
            kind: String,
            #[serde(flatten)]
            fields: $view,
        }

        #[doc = concat!("A page of ", $doc, "s as a Hydra collection.")]
        #[derive(Serialize, ToSchema)]
        pub struct $collection {
            #[serde(rename = "@context")]
            context: String,
            #[serde(rename = "@id")]
            id: String,
            #[serde(rename = "@type")]
            kind: String,
            #[serde(rename = "hydra:member")]
            member: Vec<$item>,
            #[serde(rename = "hydra:totalItems")]
            total_items: u64,
            #[serde(rename = "hydra:view")]
            view: HydraView,
        }
    };
}

json_ld!(UserItem, UserCollection, UserView, "user");
json_ld!(TokenItem, TokenCollection, TokenView, "token");
json_ld!(WebhookItem, WebhookCollection, WebhookView, "webhook endpoint");
json_ld!(DeliveryItem, DeliveryCollection, DeliveryView, "webhook delivery");

/// A webhook endpoint with its signing secret: the response that creates it or rotates the
/// secret, and no other.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(rename = "@context")]
    context: Option<String>,
    #[serde(rename = "@id")]
    id: Option<String>,
    #[serde(rename = "@type")]
    kind: Option<String>,
    #[serde(flatten)]
    fields: WebhookView,
    /// The signing secret (`whsec_…`). Shown once: store it now.
    secret: String,
}

/// A token with its secret: the response that creates or regenerates it, and no other.
#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    #[serde(rename = "@context")]
    context: Option<String>,
    #[serde(rename = "@id")]
    id: Option<String>,
    #[serde(rename = "@type")]
    kind: Option<String>,
    #[serde(flatten)]
    fields: TokenView,
    /// The secret. Shown once: store it now.
    token: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCreated {
    /// The session bearer token (`pcs_…`).
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// An API token, as `GET /api/token` describes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenIntrospection {
    #[schema(pattern = "^token$")]
    kind: String,
    id: i64,
    name: String,
    access: Access,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// The signed-in user a session belongs to.
#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    id: i64,
    username: String,
}

/// A user session, as `GET /api/token` describes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionIntrospection {
    #[schema(pattern = "^session$")]
    kind: String,
    user: SessionUser,
    admin: bool,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// The presented credential.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Introspection {
    Token(TokenIntrospection),
    Session(SessionIntrospection),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis API",
        description = "Bearer tokens of two kinds: **Full Access** (every method) and **Read Access** (GET, HEAD, OPTIONS only). \
Send them as `Authorization: Bearer <token>`. Managing tokens and admin rights needs a signed-in administrator's \
session (`POST /api/sessions`); no API token can. Errors are RFC 9457 problem details. Collections are Hydra \
JSON-LD by default and plain JSON arrays with `Accept: application/json`, paged with `?page=&limit=` (limit 1–100)."
    ),
    paths(
        super::users::list, super::users::show, super::users::create, super::users::replace, super::users::update,
        super::users::remove, super::tokens::introspect, super::tokens::list, super::tokens::show, super::tokens::create,
        super::tokens::update, super::tokens::revoke, super::tokens::regenerate, super::sessions::sign_in,
        super::sessions::sign_out, super::leaks::revoke_leaked, super::tokens::disable, super::tokens::enable,
        super::usage::usage,
        super::webhooks::list, super::webhooks::show, super::webhooks::create, super::webhooks::update,
        super::webhooks::remove, super::webhooks::rotate_secret, super::webhooks::deliveries, super::webhooks::test,
    ),
    components(schemas(Problem, Access, TokenStatus, CreatedBy)),
    modifiers(&Conventions),
    tags(
        (name = "Users", description = "Quable-compatible users"),
        (name = "Tokens", description = "API tokens: the credential itself, and their management by administrators"),
        (name = "Sessions", description = "Signing in and out"),
        (name = "Webhooks", description = "Signed notifications of token events to endpoints of your choice, managed by administrators"),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme and the error responses shared by many operations.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("pcl_… (API token) or pcs_… (session)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_problems(operation, has_id);
            }
        }
    }
}

fn add_problems(operation: &mut Operation, has_id: bool) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let negotiates = operation.responses.responses.values().any(|r| match r {
        utoipa::openapi::RefOr::T(response) => response.content.contains_key("application/ld+json"),
        utoipa::openapi::RefOr::Ref(_) => false,
    });
    let mut add = |status: &str, description: &str| {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(response.into());
    };
    if secured {
        add(
            "400",
            "Malformed request: a bad credential syntax (`invalid_request`), a token in the query or a form body, or bad parameters",
        );
        add(
            "401",
            "No credential, or an unknown, mistyped, expired or revoked token (`WWW-Authenticate` says which)",
        );
        add(
            "403",
            "Valid credential without the needed access (`insufficient_scope`; `scope` names what is needed)",
        );
        add(
            "429",
            "Beyond the token's rate limit, or too many failed authentications from this address (`Retry-After`)",
        );
        add("503", "The store cannot answer; nothing was done (fail closed)");
    }
    if has_id {
        add("404", "No such resource");
    }
    if has_body {
        add("400", "The body is not valid JSON");
        add("415", "The body is not `application/json`");
        add("413", "The body is larger than `limits.max_body_size`");
        add(
            "422",
            "The JSON has unknown or missing fields, wrong types, or values that break a rule",
        );
    }
    if negotiates {
        add(
            "406",
            "`Accept` allows neither application/ld+json nor application/json",
        );
    }
}

/// The OpenAPI document as JSON text, built once.
pub fn document() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".into()))
}

/// The interactive reference page and its assets, embedded in the binary: no CDN, nothing
/// fetched at run time. Scripts and styles are files, so the CSP needs no `unsafe-inline`.
const DOCS_HTML: &str = include_str!("../../assets/docs/index.html");
const DOCS_JS: &str = include_str!("../../assets/docs/docs.js");
const DOCS_CSS: &str = include_str!("../../assets/docs/docs.css");

/// `connect-src 'self'` lets "try it" call this server and nothing else.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, DOCS_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/docs.json` and the `/api/docs` page: open to anyone, like the documentation of
/// any public API; trying an operation needs a token, given in the page's Authorize dialog.
pub fn router() -> axum::Router<super::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/api/docs.json",
            get(|| async { asset("application/json", document()) }),
        )
        .route(
            "/api/docs",
            get(|| async { asset("text/html; charset=utf-8", DOCS_HTML) }),
        )
        .route(
            "/api/docs/docs.js",
            get(|| async { asset("text/javascript; charset=utf-8", DOCS_JS) }),
        )
        .route(
            "/api/docs/docs.css",
            get(|| async { asset("text/css; charset=utf-8", DOCS_CSS) }),
        )
}
