//! The `[[routes]]` of the configuration: which path prefix goes to which upstream, and what
//! access it needs.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::http::{Method, Uri};
use serde::Deserialize;

use super::path::{normalise, under_prefix};
use crate::auth::Needed;
use crate::auth::access::is_read;
use crate::domain::Access;

/// Paths Portcullis serves itself; no route may take them.
const RESERVED: &[&str] = &["/api", "/auth", "/healthz", "/readyz", "/metrics", "/setup", "/admin"];

/// What a route asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteAccess {
    /// GET, HEAD and OPTIONS need Read Access, every other method Full Access (the default).
    Method,
    /// Every method needs at least Read Access.
    Read,
    /// Every method needs Full Access.
    Full,
    /// No token at all.
    Public,
}

impl RouteAccess {
    /// Whether a token of `access` may send `method` here; `method_override` says whether the
    /// request asks for another method (DESIGN §1: refused for Read Access under `method`).
    pub fn decide(self, access: Access, method: &Method, method_override: bool) -> Result<(), Needed> {
        let needs_full = match self {
            Self::Method => method_override || !is_read(method),
            Self::Full => true,
            Self::Read | Self::Public => false,
        };
        if needs_full && access != Access::Full {
            Err(Needed::Full)
        } else {
            Ok(())
        }
    }

    /// Parses the name used in configuration and in `/auth/verify?access=`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "method" => Some(Self::Method),
            "read" => Some(Self::Read),
            "full" => Some(Self::Full),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// One `[[routes]]` table as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    prefix: String,
    upstream: String,
    #[serde(default)]
    access: Option<RouteAccess>,
    #[serde(default)]
    strip_authorization: Option<bool>,
    #[serde(default, with = "crate::config::duration")]
    connect_timeout: Option<Duration>,
    #[serde(default, with = "crate::config::duration")]
    timeout: Option<Duration>,
}

/// A checked route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// A normal path (see [`normalise`]), matched segment-wise.
    pub prefix: String,
    /// `http://host:port` of the upstream; the request's normal path is appended as it is.
    pub upstream: Uri,
    /// What the route asks of a request.
    pub access: RouteAccess,
    /// Whether the client's `Authorization` header is removed before forwarding (default yes).
    pub strip_authorization: bool,
    /// Longest wait for the TCP connection to the upstream.
    pub connect_timeout: Duration,
    /// Longest wait for the upstream's response head once the request is sent.
    pub timeout: Duration,
}

impl RouteConfig {
    /// Checks the route; the error names the field.
    pub fn resolve(self) -> anyhow::Result<Route> {
        let prefix = normalise(&self.prefix).map_err(|e| anyhow::anyhow!("routes.prefix `{}`: {e}", self.prefix))?;
        if prefix != self.prefix {
            bail!(
                "routes.prefix `{}` is not in normal form; write `{prefix}`",
                self.prefix
            );
        }
        if let Some(reserved) = RESERVED
            .iter()
            .find(|r| under_prefix(&prefix, r) || (prefix != "/" && under_prefix(r, &prefix)))
        {
            bail!("routes.prefix `{prefix}` overlaps `{reserved}`, which Portcullis serves itself");
        }
        let upstream: Uri = self
            .upstream
            .parse()
            .with_context(|| format!("routes.upstream `{}` is not a URL", self.upstream))?;
        if upstream.scheme_str() != Some("http")
            || upstream.authority().is_none()
            || !matches!(upstream.path(), "" | "/")
            || upstream.query().is_some()
        {
            bail!(
                "routes.upstream `{}` must be http://HOST:PORT with no path (TLS to upstreams is not supported)",
                self.upstream
            );
        }
        let positive = |name: &str, value: Option<Duration>, default: Duration| -> anyhow::Result<Duration> {
            let value = value.unwrap_or(default);
            if value.is_zero() {
                bail!("routes.{name} must be longer than zero");
            }
            Ok(value)
        };
        Ok(Route {
            prefix: prefix.into_owned(),
            upstream,
            access: self.access.unwrap_or(RouteAccess::Method),
            strip_authorization: self.strip_authorization.unwrap_or(true),
            connect_timeout: positive("connect_timeout", self.connect_timeout, Duration::from_secs(5))?,
            timeout: positive("timeout", self.timeout, Duration::from_secs(30))?,
        })
    }
}

/// Checks every route and that no two share a prefix.
pub fn resolve_all(configs: Vec<RouteConfig>) -> anyhow::Result<Vec<Route>> {
    let mut routes = configs
        .into_iter()
        .map(RouteConfig::resolve)
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, route) in routes.iter().enumerate() {
        if routes[..i].iter().any(|r| r.prefix == route.prefix) {
            bail!("routes.prefix `{}` appears twice", route.prefix);
        }
    }
    // Longest prefix first, so the most specific route wins.
    routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    Ok(routes)
}

/// The route for a path: the longest prefix that covers it.
pub fn find<'r>(routes: &'r [Route], path: &str) -> Option<&'r Route> {
    routes.iter().find(|r| under_prefix(path, &r.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(text: &str) -> anyhow::Result<Route> {
        let config: RouteConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        config.resolve()
    }

    #[test]
    fn a_minimal_route_gets_least_privilege_defaults() {
        let r = route("prefix = \"/inventory\"\nupstream = \"http://127.0.0.1:9000\"").unwrap();
        assert_eq!(r.access, RouteAccess::Method);
        assert!(r.strip_authorization);
        assert_eq!(r.timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_routes_name_the_problem() {
        let cases = [
            ("prefix = \"/a/../b\"\nupstream = \"http://h:1\"", "normal form"),
            ("prefix = \"a\"\nupstream = \"http://h:1\"", "start with"),
            ("prefix = \"/api/v2\"\nupstream = \"http://h:1\"", "overlaps"),
            ("prefix = \"/auth\"\nupstream = \"http://h:1\"", "overlaps"),
            ("prefix = \"/x\"\nupstream = \"https://h:1\"", "http://"),
            ("prefix = \"/x\"\nupstream = \"http://h:1/base\"", "no path"),
            (
                "prefix = \"/x\"\nupstream = \"http://h:1\"\naccess = \"admin\"",
                "admin",
            ),
            (
                "prefix = \"/x\"\nupstream = \"http://h:1\"\ntimeout = \"0s\"",
                "longer than zero",
            ),
            ("prefix = \"/x\"\nupstream = \"http://h:1\"\ncolour = 1", "colour"),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", route(text).unwrap_err());
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let routes = resolve_all(vec![
            toml::from_str("prefix = \"/\"\nupstream = \"http://h:1\"").unwrap(),
            toml::from_str("prefix = \"/a\"\nupstream = \"http://h:2\"").unwrap(),
        ])
        .unwrap();
        assert_eq!(find(&routes, "/a/x").unwrap().prefix, "/a");
        assert_eq!(find(&routes, "/ab").unwrap().prefix, "/");
    }

    #[test]
    fn route_access_follows_the_design() {
        use Access::*;
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(RouteAccess::Method.decide(Read, &get, false), Ok(()));
        assert_eq!(RouteAccess::Method.decide(Read, &get, true), Err(Needed::Full));
        assert_eq!(RouteAccess::Method.decide(Read, &post, false), Err(Needed::Full));
        assert_eq!(RouteAccess::Method.decide(Full, &post, true), Ok(()));
        assert_eq!(RouteAccess::Read.decide(Read, &post, false), Ok(()));
        assert_eq!(RouteAccess::Full.decide(Read, &get, false), Err(Needed::Full));
        assert_eq!(RouteAccess::Full.decide(Full, &get, false), Ok(()));
    }
}
