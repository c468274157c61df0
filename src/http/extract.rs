//! Request extractors and the authentication layer shared by the API handlers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::{self, Endpoint, Grant, Quota, Rejection};
use crate::metrics::Outcome;
use crate::store::AuditContext;

/// The verified credential of the request, put in its extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal(pub Grant);

impl Principal {
    /// Checks an access rule that depends on what the request changes (e.g. admin rights).
    pub fn require(&self, method: &axum::http::Method, endpoint: Endpoint) -> Result<(), ApiError> {
        auth::decide(self.0.credential(), method, endpoint, false).map_err(ApiError::InsufficientScope)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only routes behind `authenticate` extract a principal; a missing one is a routing bug,
        // and failing closed is the safe answer.
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::MissingCredential)
    }
}

/// Whether a request asks for another method than the one it uses.
pub fn has_method_override(parts: &Parts) -> bool {
    auth::access::has_method_override(&parts.headers, parts.uri.query())
}

/// Authenticates a request for `endpoint`, counts it against the token's rate limits and
/// enforces the access rules; on success the handler finds a [`Principal`] in the request.
/// Every response to a rate-limited token carries its `RateLimit-*` headers.
pub async fn authenticate(
    State((state, endpoint)): State<(AppState, Endpoint)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let (grant, quota) = verify(&state, &parts).await?;
    let decision = decide(&state, &parts, endpoint, &grant);
    state.verifier.count(&grant, decision.is_ok());
    let mut response = match decision {
        Ok(()) => {
            parts.extensions.insert(Principal(grant));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) => error.into_response(),
    };
    if let Some(quota) = quota {
        quota.write_headers(response.headers_mut());
    }
    Ok(response)
}

/// Reads and verifies the credential of a request and counts it against the rate limits;
/// counts what was refused before verification (the verifier counts its own outcomes).
async fn verify(state: &AppState, parts: &Parts) -> Result<(Grant, Option<Quota>), ApiError> {
    let credential = auth::credential(&parts.headers, parts.uri.query());
    let grant = verify_credential(state, credential, client_addr(parts)).await?;
    let quota = state.verifier.admit(&grant).map_err(ApiError::RateLimited)?;
    Ok((grant, quota))
}

/// Verifies a credential read from a request (or the reason none could be read), counting
/// what is refused before verification. Shared by the API and the gateway.
pub async fn verify_credential(
    state: &AppState,
    credential: Result<&str, auth::BearerError>,
    client: Option<IpAddr>,
) -> Result<Grant, ApiError> {
    let token = credential.map_err(|error| {
        state.verifier.metrics().verification(match error {
            auth::BearerError::Missing => Outcome::Missing,
            auth::BearerError::InvalidRequest(_) => Outcome::InvalidRequest,
        });
        ApiError::from(error)
    })?;
    verify_from(state, token, client).await
}

/// The refusal of a valid credential that lacks what the request needs, counted.
pub fn insufficient_scope(state: &AppState, needed: auth::Needed) -> ApiError {
    state.verifier.metrics().verification(Outcome::InsufficientScope);
    ApiError::InsufficientScope(needed)
}

/// Verifies `token` presented by a client at `client`: refused at once (429) while that
/// client is blocked after a burst of failed authentications; an unknown or malformed token
/// counts as a failure. Used by the API and the proxy routes.
pub async fn verify_from(state: &AppState, token: &str, client: Option<IpAddr>) -> Result<Grant, ApiError> {
    let failures = &state.verifier.failures().tokens;
    let now = state.verifier.now();
    if let Some(wait) = client.and_then(|ip| failures.blocked(&ip, now)) {
        state.verifier.metrics().verification(Outcome::RateLimited);
        return Err(ApiError::TooManyFailures(wait));
    }
    match state
        .verifier
        .verify(token)
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?
    {
        Ok(grant) => {
            if let Grant::Token { id, .. } = &grant {
                tracing::Span::current().record("token_id", id);
            }
            // An allowlisted token from an unknown address (forward-auth) fails closed.
            if let Grant::Token {
                allowed_ips: Some(allowed),
                ..
            } = &grant
                && !client.is_some_and(|ip| allowed.allows(ip))
            {
                state.verifier.metrics().verification(Outcome::InsufficientScope);
                state.verifier.count(&grant, false);
                return Err(ApiError::AddressNotAllowed);
            }
            Ok(grant)
        }
        Err(rejection) => {
            // Guesses count; a revoked or expired token is a real secret its holder should
            // replace, not an attack, and is refused with 401 every time without a block.
            let guess = matches!(
                rejection,
                Rejection::Malformed | Rejection::BadChecksum | Rejection::Unknown
            );
            if let Some(ip) = client.filter(|_| guess)
                && let Some(seconds) = failures.record_failure(&ip, now)
            {
                tracing::warn!(client = %ip, seconds, "too many invalid tokens: client blocked");
            }
            Err(ApiError::InvalidToken(rejection))
        }
    }
}

/// Judges a verified credential against the access rules of `endpoint`.
fn decide(state: &AppState, parts: &Parts, endpoint: Endpoint, grant: &Grant) -> Result<(), ApiError> {
    auth::decide(grant.credential(), &parts.method, endpoint, has_method_override(parts))
        .map_err(|needed| insufficient_scope(state, needed))
}

/// The client's address, for the audit log.
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts).map(|ip| ip.to_string())))
    }
}

/// The address of the peer that sent the request: the one place that reads it, for the
/// audit log, failure limits, allowlists and `X-Forwarded-For`.
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl ClientIp {
    /// The audit context for an action by `principal` now.
    pub fn audit(self, principal: &Principal, state: &AppState) -> AuditContext {
        AuditContext {
            actor: principal.0.actor(),
            at: state.clock.now(),
            client_ip: self.0,
        }
    }
}

/// The body limit in force, for the 413 answer's detail (set by the router).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body whose rejections are problem details: malformed JSON → 400, JSON of the wrong
/// shape (unknown or missing field, wrong type) → 422, not JSON → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body_limit = request.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::BadRequest(format!(
                "The body is not valid JSON: {}",
                e.body_text()
            ))),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Unprocessable(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::BytesRejection(e)) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge(body_limit))
            }
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::BadRequest(e.body_text())),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// The `{id}` of an item route. A value that is not a positive integer names no resource: 404.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        text.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or(ApiError::NotFound)
    }
}
