//! The authenticating reverse proxy of the `[[routes]]` configuration.
//!
//! The path is normalised once and that one path is both matched and forwarded. Bodies stream
//! through in both directions; upstream connections are pooled, one pool per route, and driven
//! by the task serving the request ([`super::upstream`]). The
//! client's hop-by-hop headers, anything its `Connection` header names, its `X-Portcullis-*`
//! headers and (by default) its `Authorization` never reach the upstream.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri, Version};
use axum::response::Response;
use hyper_util::rt::TokioIo;

use super::path::{normalise, under_prefix};
use super::route::{self, Route};
use super::upstream::{Failure, Pool};
use super::{authorise, headers};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::client_addr;

/// Paths of Portcullis' own that reach the proxy only when no API route matched them.
const OWN: &[&str] = &["/api", "/auth", "/healthz", "/readyz", "/metrics", "/setup", "/admin"];

struct Upstream {
    route: Route,
    pool: Arc<Pool>,
}

/// The reverse proxy of every configured route.
pub struct Proxy {
    state: AppState,
    upstreams: Vec<Upstream>,
}

/// The proxy as a router fallback.
pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new().fallback(forward).with_state(proxy)
}

/// The proxy of `state`'s routes, with an empty connection pool per route.
pub fn new(state: &AppState) -> Arc<Proxy> {
    let upstreams = state
        .settings
        .routes
        .iter()
        .map(|route| Upstream {
            route: route.clone(),
            pool: Arc::new(Pool::new(&route.upstream, route.connect_timeout)),
        })
        .collect();
    Arc::new(Proxy {
        state: state.clone(),
        upstreams,
    })
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Result<Response, ApiError> {
    proxy.forward(request).await
}

impl Proxy {
    /// Whether `path`, as sent, is under a route's prefix and under none of Portcullis' own
    /// paths: no route of the application's router can match it, so the proxy answers it.
    pub fn takes(&self, path: &str) -> bool {
        route::find(self.routes(), path).is_some() && !OWN.iter().any(|own| under_prefix(path, own))
    }

    /// Forwards a request the connection's dispatch gave straight to the proxy
    /// ([`Proxy::takes`]), observed as a request the router would have given it.
    pub async fn serve(&self, request: hyper::Request<hyper::body::Incoming>, peer: std::net::SocketAddr) -> Response {
        crate::http::observe::observed(
            &self.state,
            request,
            std::borrow::Cow::Borrowed(crate::metrics::UNMATCHED),
            |request| async move {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                self.forward(request)
                    .await
                    .unwrap_or_else(axum::response::IntoResponse::into_response)
            },
        )
        .await
    }

    async fn forward(&self, request: Request) -> Result<Response, ApiError> {
        let (mut parts, body) = request.into_parts();
        let (upstream, path) = self.resolve(parts.uri.path())?;
        let route = &upstream.route;
        let query = parts.uri.query();
        let client = client_addr(&parts);
        let identity = authorise(&self.state, client, &parts.headers, query, &parts.method, route.access).await?;

        let target = match query {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let uri: Uri = target
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("Invalid request target: {e}.")))?;
        let upgrade = headers::requested_upgrade(&parts.headers);
        let client_upgrade = upgrade
            .as_ref()
            .and_then(|_| parts.extensions.remove::<hyper::upgrade::OnUpgrade>());

        let mut outgoing = hyper::Request::new(body);
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() = Version::HTTP_11;
        *outgoing.headers_mut() = upstream_headers(&mut parts, client, route, identity.as_ref(), upgrade);

        let started = std::time::Instant::now();
        let metrics = self.state.verifier.metrics();
        let answered = if let Some(client_upgrade) = client_upgrade {
            match upstream.pool.send_upgrade(outgoing, route.timeout).await {
                Ok(response) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                    metrics.upstream(&route.prefix, 101, started.elapsed());
                    return Ok(switch_protocols(response, client_upgrade));
                }
                Ok(response) => Ok(response.map(Body::new)),
                Err(failure) => Err(failure),
            }
        } else {
            upstream
                .pool
                .send(outgoing, route.timeout)
                .await
                .map(|response| response.map(Body::new))
        };
        let response = match answered {
            Ok(response) => response,
            Err(failure) => {
                let (status, error) = match failure {
                    Failure::TimedOut => (504, ApiError::GatewayTimeout),
                    Failure::Broken(error) => (
                        502,
                        ApiError::BadGateway(error.context(format!("forwarding to {}", route.upstream))),
                    ),
                };
                metrics.upstream(&route.prefix, status, started.elapsed());
                return Err(error);
            }
        };
        // Time to the response head: the body streams afterwards at the client's pace.
        metrics.upstream(&route.prefix, response.status().as_u16(), started.elapsed());
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return Err(ApiError::BadGateway(anyhow::anyhow!(
                "the upstream switched protocols unasked"
            )));
        }
        let (mut head, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut head.headers);
        if let Some(quota) = identity.as_ref().and_then(|i| i.quota.as_ref()) {
            quota.write_headers(&mut head.headers);
        }
        Ok(Response::from_parts(head, body))
    }

    /// The route of a raw request path, and the normal path to check and forward. The route
    /// must be the same before and after normalisation, so `..` cannot leave a prefix.
    fn resolve(&self, raw_path: &str) -> Result<(&Upstream, String), ApiError> {
        let path = normalise(raw_path).map_err(|e| ApiError::BadRequest(format!("Invalid path: {e}.")))?;
        let raw_route = route::find(self.routes(), raw_path).map(|r| r.prefix.as_str());
        let new_route = route::find(self.routes(), &path).map(|r| r.prefix.as_str());
        if raw_route.is_some() && raw_route != new_route {
            return Err(ApiError::BadRequest(
                "The path leaves the prefix it starts with.".into(),
            ));
        }
        if OWN.iter().any(|own| under_prefix(&path, own)) {
            // Portcullis' own routes did not match this path as sent; whatever it means once
            // normalised, it is not the gateway's.
            return Err(if path == raw_path {
                ApiError::NotFound
            } else {
                ApiError::BadRequest("The path leads into Portcullis' own paths.".into())
            });
        }
        let prefix = new_route.ok_or(ApiError::NotFound)?;
        let upstream = self
            .upstreams
            .iter()
            .find(|u| u.route.prefix == prefix)
            .ok_or(ApiError::NotFound)?;
        Ok((upstream, path.into_owned()))
    }

    fn routes(&self) -> &[Route] {
        &self.state.settings.routes
    }
}

/// The headers the upstream gets: the client's end-to-end headers, less its `X-Portcullis-*`,
/// `Forwarded` and (by default) `Authorization`, plus the identity and forwarding headers.
fn upstream_headers(
    parts: &mut axum::http::request::Parts,
    client: Option<std::net::IpAddr>,
    route: &Route,
    identity: Option<&super::Identity>,
    upgrade: Option<HeaderValue>,
) -> HeaderMap {
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    let mut out = std::mem::take(&mut parts.headers);
    // `Host` is set by the pool (the upstream's name), `X-Forwarded-Proto` and the identity
    // headers are set below whatever the client sent.
    headers::strip(&mut out, |name| {
        headers::is_portcullis(name)
            || name == header::HOST
            || name == header::FORWARDED
            || name == FORWARDED_FOR
            || name == FORWARDED_HOST
            || (route.strip_authorization && name == header::AUTHORIZATION)
    });
    if let Some(identity) = identity {
        headers::insert_identity(&mut out, identity);
    }
    set_forwarded(&mut out, client, host);
    if let Some(protocol) = upgrade {
        out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        out.insert(header::UPGRADE, protocol);
    }
    out
}

/// Answers the client's upgrade with the upstream's `101` and tunnels the two connections.
fn switch_protocols(
    mut response: hyper::Response<hyper::body::Incoming>,
    client_upgrade: hyper::upgrade::OnUpgrade,
) -> Response {
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
    let protocol = response.headers().get(header::UPGRADE).cloned();
    let (mut head, _) = response.into_parts();
    headers::strip_hop_by_hop(&mut head.headers);
    head.headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Some(protocol) = protocol {
        head.headers.insert(header::UPGRADE, protocol);
    }
    Response::from_parts(head, Body::empty())
}

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Sets `X-Forwarded-*` to what Portcullis saw itself; the client's own were stripped.
fn set_forwarded(headers: &mut HeaderMap, client: Option<std::net::IpAddr>, host: Option<HeaderValue>) {
    if let Some(value) = client.and_then(address_value) {
        headers.insert(FORWARDED_FOR, value);
    }
    headers.insert(FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = host {
        headers.insert(FORWARDED_HOST, host);
    }
}

/// An address as a header value. IPv4, the usual case, is written by hand: `Display` goes
/// through the formatting machinery and cost more than the rest of the forwarding headers.
fn address_value(address: std::net::IpAddr) -> Option<HeaderValue> {
    let std::net::IpAddr::V4(v4) = address else {
        return HeaderValue::from_str(&address.to_string()).ok();
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    HeaderValue::from_bytes(&text[..len]).ok()
}

/// Copies bytes both ways between the client and the upstream after a `101 Switching Protocols`.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::warn!(error = %error, "upgrading the connection failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %error, "upgraded connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn addresses_are_written_as_display_writes_them(octets in any::<[u8; 4]>(), v6 in any::<[u16; 8]>()) {
            for address in [
                std::net::IpAddr::from(octets),
                std::net::IpAddr::from(v6),
            ] {
                let value = address_value(address).unwrap();
                prop_assert_eq!(value.to_str().unwrap(), address.to_string());
            }
        }
    }
}
