//! Prometheus metrics. Label values come from small fixed sets (outcomes, route templates,
//! methods, status codes), never from tokens, ids or raw paths, so no series can grow
//! without bound.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a verification ended, as the `outcome` label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Missing,
    InvalidRequest,
    Invalid,
    Expired,
    Revoked,
    InsufficientScope,
    RateLimited,
    Unavailable,
}

impl Outcome {
    /// Every outcome, in the order of [`Outcome::index`].
    const ALL: [Outcome; 9] = [
        Self::Allowed,
        Self::Missing,
        Self::InvalidRequest,
        Self::Invalid,
        Self::Expired,
        Self::Revoked,
        Self::InsufficientScope,
        Self::RateLimited,
        Self::Unavailable,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Missing => "missing",
            Self::InvalidRequest => "invalid_request",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::InsufficientScope => "insufficient_scope",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }
}

type Labels = Vec<(&'static str, &'static str)>;

/// Labels of an HTTP request: typed, so a sample costs one route string, not a vector of
/// formatted pairs.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Cow<'static, str>,
    method: &'static str,
    status: u16,
}

/// Labels of a proxied upstream response.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    route: Cow<'static, str>,
    status: u16,
}

/// A route template or proxy prefix.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    /// Borrowed for the routes known at compile time, so counting them does not allocate.
    route: Cow<'static, str>,
}

/// Every metric Portcullis exports.
pub struct Metrics {
    registry: Registry,
    verification_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabel, Histogram>,
    upstream_responses: Family<UpstreamLabels, Counter>,
    upstream_seconds: Family<RouteLabel, Histogram>,
    pool_connections: Family<Labels, Gauge>,
    cache_entries: Gauge,
    /// One series of `verifications` per outcome, looked up once: the hot path increments an
    /// atomic rather than hashing a label set.
    outcome_counters: [Counter; 9],
    cache_hits: Counter,
    cache_misses: Counter,
    last_used_writes: Counter,
    /// The series of the routes every guarded request goes through (forward-auth, and the
    /// proxy's `unmatched`), each looked up on first use and kept: `request` then increments
    /// atomics instead of hashing a label set twice per request.
    hot: [HotRoute; 2],
}

/// The route label of requests no route template matched (the reverse proxy's).
pub const UNMATCHED: &str = "unmatched";

/// Statuses whose `GET` series a [`HotRoute`] keeps.
const HOT_STATUSES: [u16; 8] = [200, 204, 400, 401, 403, 404, 429, 502];

/// The kept series of one fixed route label.
struct HotRoute {
    route: &'static str,
    seconds: std::sync::OnceLock<Histogram>,
    get_by_status: [std::sync::OnceLock<Counter>; HOT_STATUSES.len()],
}

impl HotRoute {
    fn new(route: &'static str) -> Self {
        Self {
            route,
            seconds: std::sync::OnceLock::new(),
            get_by_status: Default::default(),
        }
    }
}

fn latency_buckets() -> Histogram {
    // 1 µs to ~8 s: cache hits sit at the bottom, store round trips and upstreams higher up.
    Histogram::new(exponential_buckets(1e-6, 4.0, 12))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let verifications = Family::<Labels, Counter>::default();
        registry.register("verifications", "Token verifications by outcome", verifications.clone());
        let verification_seconds = latency_buckets();
        registry.register(
            "verification_seconds",
            "Time to verify a token",
            verification_seconds.clone(),
        );
        let cache_lookups = Family::<Labels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Verification cache lookups by result (hit, miss)",
            cache_lookups.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabel, Histogram>::new_with_constructor(latency_buckets as fn() -> Histogram);
        registry.register(
            "http_request_seconds",
            "HTTP request latency by route template",
            request_seconds.clone(),
        );
        let upstream_responses = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_responses",
            "Proxied upstream responses by route and status",
            upstream_responses.clone(),
        );
        let upstream_seconds =
            Family::<RouteLabel, Histogram>::new_with_constructor(latency_buckets as fn() -> Histogram);
        registry.register(
            "upstream_seconds",
            "Proxied upstream latency by route",
            upstream_seconds.clone(),
        );
        let pool_connections = Family::<Labels, Gauge>::default();
        registry.register(
            "store_pool_connections",
            "Store connections by state (idle, in_use)",
            pool_connections.clone(),
        );
        let cache_entries = Gauge::default();
        registry.register(
            "cache_entries",
            "Entries in the verification cache",
            cache_entries.clone(),
        );
        let last_used_writes = Counter::default();
        registry.register(
            "last_used_writes",
            "Last-used times written to the store: at most one per token per flush",
            last_used_writes.clone(),
        );
        let outcome_counters =
            Outcome::ALL.map(|outcome| verifications.get_or_create(&vec![("outcome", outcome.label())]).clone());
        let cache_hits = cache_lookups.get_or_create(&vec![("result", "hit")]).clone();
        let cache_misses = cache_lookups.get_or_create(&vec![("result", "miss")]).clone();
        Self {
            outcome_counters,
            cache_hits,
            cache_misses,
            last_used_writes,
            registry,
            verification_seconds,
            requests,
            request_seconds,
            upstream_responses,
            upstream_seconds,
            pool_connections,
            cache_entries,
            hot: [HotRoute::new(crate::gateway::VERIFY_PATH), HotRoute::new(UNMATCHED)],
        }
    }
}

impl Metrics {
    /// Counts one verification outcome.
    pub fn verification(&self, outcome: Outcome) {
        self.outcome_counters[outcome.index()].inc();
    }

    /// Counts last-used times written to the store in one flush.
    pub fn last_used_written(&self, rows: usize) {
        self.last_used_writes.inc_by(rows as u64);
    }

    /// Records how long a verification took.
    pub fn verification_time(&self, elapsed: Duration) {
        self.verification_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts a cache hit or miss.
    pub fn cache_lookup(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// Counts a finished HTTP request; `route` is a route template such as `/api/users/{id}`.
    pub fn request(&self, route: Cow<'static, str>, method: &'static str, status: u16, elapsed: Duration) {
        if let (Cow::Borrowed(name), "GET") = (&route, method)
            && let Some(hot) = self.hot.iter().find(|h| h.route == *name)
            && let Some(slot) = HOT_STATUSES.iter().position(|s| *s == status)
        {
            let route = || RouteLabel {
                route: Cow::Borrowed(hot.route),
            };
            hot.seconds
                .get_or_init(|| self.request_seconds.get_or_create(&route()).clone())
                .observe(elapsed.as_secs_f64());
            hot.get_by_status[slot]
                .get_or_init(|| {
                    let labels = RequestLabels {
                        route: route().route,
                        method,
                        status,
                    };
                    self.requests.get_or_create(&labels).clone()
                })
                .inc();
            return;
        }
        let route = RouteLabel { route };
        self.request_seconds
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        let labels = RequestLabels {
            route: route.route,
            method,
            status,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts a proxied upstream response for a configured route prefix.
    pub fn upstream(&self, route: &str, status: u16, elapsed: Duration) {
        let route = RouteLabel {
            route: Cow::Owned(route.to_owned()),
        };
        self.upstream_seconds
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        let labels = UpstreamLabels {
            route: route.route,
            status,
        };
        self.upstream_responses.get_or_create(&labels).inc();
    }

    /// The text exposition, with gauges sampled now.
    pub fn render(&self, pool: (u32, u32), cache_entries: usize) -> String {
        let (size, idle) = pool;
        self.pool_connections
            .get_or_create(&vec![("state", "idle")])
            .set(i64::from(idle));
        self.pool_connections
            .get_or_create(&vec![("state", "in_use")])
            .set(i64::from(size.saturating_sub(idle)));
        self.cache_entries.set(cache_entries as i64);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_outcomes_and_never_ids() {
        let metrics = Metrics::default();
        metrics.verification(Outcome::Allowed);
        metrics.verification(Outcome::Revoked);
        metrics.cache_lookup(true);
        metrics.request("/api/users/{id}".into(), "GET", 200, Duration::from_micros(300));
        let text = metrics.render((4, 3), 2);
        assert!(
            text.contains("portcullis_verifications_total{outcome=\"allowed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_verifications_total{outcome=\"revoked\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_cache_lookups_total{result=\"hit\"} 1"),
            "{text}"
        );
        assert!(text.contains("route=\"/api/users/{id}\""), "{text}");
        assert!(
            text.contains("portcullis_store_pool_connections{state=\"in_use\"} 1"),
            "{text}"
        );
        assert!(text.contains("portcullis_cache_entries 2"), "{text}");
    }

    #[test]
    fn kept_series_of_hot_routes_count_like_any_other() {
        let metrics = Metrics::default();
        for status in [204, 204, 401, 599] {
            metrics.request(
                crate::gateway::VERIFY_PATH.into(),
                "GET",
                status,
                Duration::from_micros(10),
            );
        }
        metrics.request(UNMATCHED.into(), "POST", 200, Duration::from_micros(10));
        metrics.request(UNMATCHED.into(), "GET", 200, Duration::from_micros(10));
        let text = metrics.render((1, 0), 0);
        for line in [
            "portcullis_http_requests_total{route=\"/auth/verify\",method=\"GET\",status=\"204\"} 2",
            "portcullis_http_requests_total{route=\"/auth/verify\",method=\"GET\",status=\"401\"} 1",
            "portcullis_http_requests_total{route=\"/auth/verify\",method=\"GET\",status=\"599\"} 1",
            "portcullis_http_request_seconds_count{route=\"/auth/verify\"} 4",
            "portcullis_http_requests_total{route=\"unmatched\",method=\"POST\",status=\"200\"} 1",
            "portcullis_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"200\"} 1",
            "portcullis_http_request_seconds_count{route=\"unmatched\"} 2",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
