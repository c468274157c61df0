//! Quable-compatible representations: Hydra JSON-LD collections by default, plain JSON with
//! `Accept: application/json`, and `?page=&limit=` pagination.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use crate::store::PageRequest;

/// The negotiated response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/ld+json` with Hydra collections (the default).
    JsonLd,
    /// `application/json`: plain arrays and objects.
    Json,
}

impl Format {
    /// Picks the format from an `Accept` header value; `None` if neither is acceptable.
    pub fn negotiate(accept: Option<&str>) -> Option<Self> {
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
            return Some(Self::JsonLd);
        };
        let mut best: Option<(f32, u8, Self)> = None;
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Specificity breaks ties: an exact type beats a wildcard of the same quality.
            let candidate = match media.as_str() {
                "application/ld+json" => (2, Self::JsonLd),
                "application/json" => (2, Self::Json),
                "application/*" | "*/*" => (1, Self::JsonLd),
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, s, _)| (quality, candidate.0) > (q, s)) {
                best = Some((quality, candidate.0, candidate.1));
            }
        }
        best.map(|(_, _, format)| format)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::JsonLd => "application/ld+json; charset=utf-8",
            Self::Json => "application/json",
        })
    }

    /// A response with `body` in this format.
    pub fn respond(self, status: StatusCode, body: &Value) -> Response {
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, self.content_type());
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let accept = parts.headers.get(header::ACCEPT).map(|v| v.to_str().unwrap_or(""));
        Self::negotiate(accept).ok_or(ApiError::NotAcceptable)
    }
}

/// A resource type as JSON-LD names it.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// `@type` of an item, e.g. `User`.
    pub type_name: &'static str,
    /// The collection path, e.g. `/api/users`.
    pub path: &'static str,
}

impl Kind {
    /// The `@id` of the item with `id`.
    pub fn iri(&self, id: i64) -> String {
        format!("{}/{id}", self.path)
    }

    fn context(&self) -> String {
        format!("/api/contexts/{}", self.type_name)
    }

    /// One item, with `@context`, `@id` and `@type` in JSON-LD.
    pub fn item(&self, format: Format, status: StatusCode, id: i64, value: Value) -> Response {
        let mut body = value;
        if let (Format::JsonLd, Value::Object(fields)) = (format, &mut body) {
            let mut ld = Map::new();
            ld.insert("@context".into(), self.context().into());
            ld.insert("@id".into(), self.iri(id).into());
            ld.insert("@type".into(), self.type_name.into());
            ld.append(fields);
            body = Value::Object(ld);
        }
        let mut response = format.respond(status, &body);
        if status == StatusCode::CREATED {
            if let Ok(location) = HeaderValue::from_str(&self.iri(id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
        }
        response
    }

    /// A page of items: a Hydra collection in JSON-LD, a plain array in JSON.
    pub fn collection(&self, format: Format, page: PageRequest, total: u64, members: Vec<(i64, Value)>) -> Response {
        self.collection_at(self.path, format, page, total, members)
    }

    /// Like [`collection`](Self::collection), for a collection at another `path` (such as
    /// one under its parent item: `/api/webhooks/1/deliveries`); items keep their own `@id`.
    pub fn collection_at(
        &self,
        path: &str,
        format: Format,
        page: PageRequest,
        total: u64,
        members: Vec<(i64, Value)>,
    ) -> Response {
        if format == Format::Json {
            return format.respond(
                StatusCode::OK,
                &Value::Array(members.into_iter().map(|(_, v)| v).collect()),
            );
        }
        let members: Vec<Value> = members
            .into_iter()
            .map(|(id, value)| {
                let mut item = Map::new();
                item.insert("@id".into(), self.iri(id).into());
                item.insert("@type".into(), self.type_name.into());
                if let Value::Object(mut fields) = value {
                    item.append(&mut fields);
                }
                Value::Object(item)
            })
            .collect();
        let last = total.div_ceil(u64::from(page.limit)).max(1);
        let link = |n: u64| format!("{path}?page={n}&limit={}", page.limit);
        let current = u64::from(page.page);
        let mut view = json!({
            "@id": link(current),
            "@type": "hydra:PartialCollectionView",
            "hydra:first": link(1),
            "hydra:last": link(last),
        });
        if current < last {
            view["hydra:next"] = link(current + 1).into();
        }
        if current > 1 {
            view["hydra:previous"] = link((current - 1).min(last)).into();
        }
        let body = json!({
            "@context": self.context(),
            "@id": path,
            "@type": "hydra:Collection",
            "hydra:member": members,
            "hydra:totalItems": total,
            "hydra:view": view,
        });
        format.respond(StatusCode::OK, &body)
    }
}

/// Paging of a collection, as OpenAPI documents it.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Deserialize)]
struct PageParams {
    page: Option<String>,
    limit: Option<String>,
}

/// `?page=` (≥ 1, default 1) and `?limit=` (1–100, default 25); anything else is a 400.
pub struct Pagination(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let params = axum::extract::Query::<PageParams>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?
            .0;
        let page = parse_bounded("page", params.page.as_deref(), 1, 1, 1_000_000)?;
        let limit = parse_bounded("limit", params.limit.as_deref(), 25, 1, 100)?;
        Ok(Self(PageRequest { page, limit }))
    }
}

fn parse_bounded(name: &str, value: Option<&str>, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = value else { return Ok(default) };
    text.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be an integer from {min} to {max}.")))
}

/// The JSON-LD context documents that `@context` points to.
pub fn context_document(type_name: &str) -> Option<Value> {
    let fields: &[&str] = match type_name {
        "User" => &[
            "id",
            "username",
            "email",
            "firstName",
            "lastName",
            "active",
            "admin",
            "dateCreated",
            "dateModified",
            "dateLogged",
        ],
        "Token" => &[
            "id",
            "name",
            "description",
            "access",
            "hint",
            "status",
            "createdAt",
            "createdBy",
            "expiresAt",
            "lastUsedAt",
            "revokedAt",
        ],
        "Webhook" => &["id", "url", "description", "events", "active", "createdAt", "createdBy"],
        "WebhookDelivery" => &[
            "id",
            "webhookId",
            "eventId",
            "eventType",
            "status",
            "attempts",
            "nextAttemptAt",
            "lastAttemptAt",
            "lastStatusCode",
            "lastError",
            "createdAt",
            "deliveredAt",
            "payload",
        ],
        _ => return None,
    };
    let mut context = Map::new();
    context.insert("@vocab".into(), format!("/api/docs#{type_name}/").into());
    context.insert("hydra".into(), "http://www.w3.org/ns/hydra/core#".into());
    for field in fields {
        context.insert((*field).into(), (*field).into());
    }
    Some(json!({ "@context": context }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_format() {
        let cases = [
            (None, Some(Format::JsonLd)),
            (Some(""), Some(Format::JsonLd)),
            (Some("*/*"), Some(Format::JsonLd)),
            (Some("application/ld+json"), Some(Format::JsonLd)),
            (Some("application/json"), Some(Format::Json)),
            (Some("application/json, */*;q=0.5"), Some(Format::Json)),
            (Some("application/ld+json;q=0.5, application/json"), Some(Format::Json)),
            (Some("text/html, application/json;q=0.9"), Some(Format::Json)),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(Format::negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn page_parameters_are_bounded_integers() {
        assert_eq!(parse_bounded("limit", None, 25, 1, 100).unwrap(), 25);
        assert_eq!(parse_bounded("limit", Some("100"), 25, 1, 100).unwrap(), 100);
        for bad in ["0", "101", "-1", "abc", "", "1.5", " 1"] {
            assert!(parse_bounded("limit", Some(bad), 25, 1, 100).is_err(), "{bad:?}");
        }
    }
}
