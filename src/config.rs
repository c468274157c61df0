//! Layered configuration: built-in defaults, then the TOML file, then `PORTCULLIS_*`
//! environment variables, then command-line flags. Unknown keys in the file are an error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::store::SqliteStore;
use crate::token::{Prefix, SESSION_PREFIX};

/// The resolved settings every command runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the embedded database and other state live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database: String,
    /// Address `serve` listens on.
    pub listen: SocketAddr,
    /// The URL users reach Portcullis at, for links such as the setup link.
    pub public_url: Option<String>,
    /// A `tracing` filter such as `info` or `portcullis=debug`.
    pub log: String,
    /// `text` (human-readable) or `json` (one JSON object per line).
    pub log_format: LogFormat,
    /// Whether `/metrics` needs a valid API token (any access level).
    pub metrics_require_token: bool,
    /// Certificate and key for HTTPS; plain HTTP when absent.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Pool and listener settings of the PostgreSQL backend (`[postgres]`).
    pub postgres: crate::store::PgSettings,
    /// Prefix of new API tokens.
    pub token_prefix: Prefix,
    /// How often gathered last-used times are written.
    pub last_used_flush_interval: Duration,
    /// How long a sign-in session lasts.
    pub session_ttl: Duration,
    /// How long a web admin session may sit unused before it ends.
    pub session_idle_timeout: Duration,
    /// Most verification results kept in memory.
    pub cache_capacity: usize,
    /// Longest time a verification result is kept.
    pub cache_ttl: Duration,
    /// How often the store is asked whether another process changed it.
    pub change_poll_interval: Duration,
    /// The gateway's reverse-proxy routes, longest prefix first.
    pub routes: Vec<crate::gateway::Route>,
    /// Per-token rate limits: the two windows and their default limits (`[rate_limits]`).
    pub rate_limits: crate::auth::RateLimits,
    /// Longest a token may live from its creation (`tokens.max_lifetime`); `None`: no limit.
    pub token_max_lifetime: Option<Duration>,
    /// Tokens unused this long are disabled (`tokens.disable_unused_after`); `None`: never.
    pub disable_unused_after: Option<Duration>,
    /// How often unused tokens are looked for (`tokens.unused_check_interval`).
    pub unused_check_interval: Duration,
    /// Largest request body Portcullis reads itself (`limits.max_body_size`, bytes): 413 beyond.
    pub max_body_bytes: usize,
    /// Largest request line and headers (`limits.max_header_size`, bytes): 431 beyond.
    pub max_header_bytes: usize,
    /// When clients are blocked after failed authentications (`[failed_auth]`).
    pub failed_auth: crate::auth::FailureLimits,
    /// Webhook delivery: retries, timeout, expiry notices (`[webhooks]`).
    pub webhooks: crate::webhooks::dispatcher::WebhookSettings,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal unless `NO_COLOR` is set).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Values given on the command line (or through their environment variables), which win.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub listen: Option<SocketAddr>,
    pub log: Option<String>,
    pub log_format: Option<LogFormat>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    #[serde(default)]
    tokens: TokensSection,
    #[serde(default)]
    sessions: SessionsSection,
    #[serde(default)]
    cache: CacheSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    postgres: PostgresSection,
    #[serde(default)]
    routes: Vec<crate::gateway::RouteConfig>,
    #[serde(default)]
    rate_limits: RateLimitsSection,
    #[serde(default)]
    failed_auth: FailedAuthSection,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    webhooks: WebhooksSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhooksSection {
    #[serde(default, with = "duration")]
    expiring_before: Option<Duration>,
    #[serde(default, with = "duration")]
    expiry_check_interval: Option<Duration>,
    max_attempts: Option<u32>,
    #[serde(default, with = "duration")]
    retry_base: Option<Duration>,
    #[serde(default, with = "duration")]
    retry_max_delay: Option<Duration>,
    #[serde(default, with = "duration")]
    timeout: Option<Duration>,
    #[serde(default, with = "duration")]
    poll_interval: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_body_size: Option<usize>,
    max_header_size: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailedAuthSection {
    /// Invalid tokens per client IP within `token_window` before it is blocked (0: never).
    token_burst: Option<u32>,
    #[serde(default, with = "duration")]
    token_window: Option<Duration>,
    /// Failed sign-ins per account and client IP within `sign_in_window` (0: never).
    sign_in_burst: Option<u32>,
    #[serde(default, with = "duration")]
    sign_in_window: Option<Duration>,
    /// How long a blocked client gets 429.
    #[serde(default, with = "duration")]
    block: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsSection {
    /// `false` turns the defaults off; tokens with their own limits keep them.
    enabled: Option<bool>,
    short_limit: Option<u32>,
    #[serde(default, with = "duration")]
    short_window: Option<Duration>,
    long_limit: Option<u32>,
    #[serde(default, with = "duration")]
    long_window: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostgresSection {
    max_connections: Option<u32>,
    #[serde(default, with = "duration")]
    acquire_timeout: Option<Duration>,
    #[serde(default, with = "duration")]
    statement_timeout: Option<Duration>,
    #[serde(default, with = "duration")]
    listener_heartbeat: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    require_token: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensSection {
    prefix: Option<String>,
    #[serde(default, with = "duration")]
    last_used_flush_interval: Option<Duration>,
    #[serde(default, with = "duration")]
    max_lifetime: Option<Duration>,
    #[serde(default, with = "duration")]
    disable_unused_after: Option<Duration>,
    #[serde(default, with = "duration")]
    unused_check_interval: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsSection {
    #[serde(default, with = "duration")]
    ttl: Option<Duration>,
    #[serde(default, with = "duration")]
    idle_timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheSection {
    capacity: Option<usize>,
    #[serde(default, with = "duration")]
    ttl: Option<Duration>,
    #[serde(default, with = "duration")]
    change_poll_interval: Option<Duration>,
}

/// Durations are written as in `humantime`: `100ms`, `10s`, `12h`, `30d`.
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Some).map_err(|_| {
            serde::de::Error::custom(format!("invalid duration `{text}` (write e.g. 100ms, 10s, 12h, 30d)"))
        })
    }
}

/// Environment variables for the keys of the file's sections: `PORTCULLIS_<SECTION>_<KEY>`.
/// Top-level keys read theirs through the command-line parser.
const SECTION_ENV: &[(&str, &str, &str)] = &[
    ("PORTCULLIS_PUBLIC_URL", "", "public_url"),
    ("PORTCULLIS_TOKENS_PREFIX", "tokens", "prefix"),
    (
        "PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL",
        "tokens",
        "last_used_flush_interval",
    ),
    ("PORTCULLIS_TOKENS_MAX_LIFETIME", "tokens", "max_lifetime"),
    (
        "PORTCULLIS_TOKENS_DISABLE_UNUSED_AFTER",
        "tokens",
        "disable_unused_after",
    ),
    (
        "PORTCULLIS_TOKENS_UNUSED_CHECK_INTERVAL",
        "tokens",
        "unused_check_interval",
    ),
    ("PORTCULLIS_SESSIONS_TTL", "sessions", "ttl"),
    ("PORTCULLIS_SESSIONS_IDLE_TIMEOUT", "sessions", "idle_timeout"),
    ("PORTCULLIS_CACHE_CAPACITY", "cache", "capacity"),
    ("PORTCULLIS_CACHE_TTL", "cache", "ttl"),
    ("PORTCULLIS_CACHE_CHANGE_POLL_INTERVAL", "cache", "change_poll_interval"),
    ("PORTCULLIS_METRICS_REQUIRE_TOKEN", "metrics", "require_token"),
    ("PORTCULLIS_POSTGRES_MAX_CONNECTIONS", "postgres", "max_connections"),
    ("PORTCULLIS_POSTGRES_ACQUIRE_TIMEOUT", "postgres", "acquire_timeout"),
    ("PORTCULLIS_POSTGRES_STATEMENT_TIMEOUT", "postgres", "statement_timeout"),
    (
        "PORTCULLIS_POSTGRES_LISTENER_HEARTBEAT",
        "postgres",
        "listener_heartbeat",
    ),
    ("PORTCULLIS_RATE_LIMITS_ENABLED", "rate_limits", "enabled"),
    ("PORTCULLIS_RATE_LIMITS_SHORT_LIMIT", "rate_limits", "short_limit"),
    ("PORTCULLIS_RATE_LIMITS_SHORT_WINDOW", "rate_limits", "short_window"),
    ("PORTCULLIS_RATE_LIMITS_LONG_LIMIT", "rate_limits", "long_limit"),
    ("PORTCULLIS_RATE_LIMITS_LONG_WINDOW", "rate_limits", "long_window"),
    ("PORTCULLIS_LIMITS_MAX_BODY_SIZE", "limits", "max_body_size"),
    ("PORTCULLIS_LIMITS_MAX_HEADER_SIZE", "limits", "max_header_size"),
    ("PORTCULLIS_FAILED_AUTH_TOKEN_BURST", "failed_auth", "token_burst"),
    ("PORTCULLIS_FAILED_AUTH_TOKEN_WINDOW", "failed_auth", "token_window"),
    ("PORTCULLIS_FAILED_AUTH_SIGN_IN_BURST", "failed_auth", "sign_in_burst"),
    ("PORTCULLIS_FAILED_AUTH_SIGN_IN_WINDOW", "failed_auth", "sign_in_window"),
    ("PORTCULLIS_FAILED_AUTH_BLOCK", "failed_auth", "block"),
    ("PORTCULLIS_WEBHOOKS_EXPIRING_BEFORE", "webhooks", "expiring_before"),
    (
        "PORTCULLIS_WEBHOOKS_EXPIRY_CHECK_INTERVAL",
        "webhooks",
        "expiry_check_interval",
    ),
    ("PORTCULLIS_WEBHOOKS_MAX_ATTEMPTS", "webhooks", "max_attempts"),
    ("PORTCULLIS_WEBHOOKS_RETRY_BASE", "webhooks", "retry_base"),
    ("PORTCULLIS_WEBHOOKS_RETRY_MAX_DELAY", "webhooks", "retry_max_delay"),
    ("PORTCULLIS_WEBHOOKS_TIMEOUT", "webhooks", "timeout"),
    ("PORTCULLIS_WEBHOOKS_POLL_INTERVAL", "webhooks", "poll_interval"),
];

impl Settings {
    /// Loads the settings from an optional file, the environment and the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))?
            }
            None => toml::Table::new(),
        };
        for (var, section, key) in SECTION_ENV {
            if let Ok(value) = std::env::var(var) {
                // Environment values are text; typed keys are converted, and a wrong value then
                // fails deserialisation with a message naming what was expected.
                let value = match (*key, value.parse::<i64>(), value.parse::<bool>()) {
                    ("capacity" | "max_connections", Ok(n), _) => toml::Value::Integer(n),
                    (
                        "short_limit" | "long_limit" | "token_burst" | "sign_in_burst" | "max_body_size"
                        | "max_header_size",
                        Ok(n),
                        _,
                    ) => toml::Value::Integer(n),
                    ("require_token", _, Ok(b)) => toml::Value::Boolean(b),
                    ("max_attempts", Ok(n), _) => toml::Value::Integer(n),
                    ("enabled", _, Ok(b)) => toml::Value::Boolean(b),
                    _ => toml::Value::String(value),
                };
                let target = if section.is_empty() {
                    &mut table
                } else {
                    table
                        .entry(section.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                        .as_table_mut()
                        .with_context(|| format!("config key `{section}` must be a table"))?
                };
                target.insert(key.to_string(), value);
            }
        }
        let source = file.map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
        let config = FileConfig::deserialize(toml::Value::Table(table))
            .map_err(|e| anyhow::anyhow!("config {source}: {}", e.message()))?;
        Self::resolve(config, overrides)
    }

    fn resolve(config: FileConfig, overrides: Overrides) -> anyhow::Result<Self> {
        let data_dir = overrides
            .data_dir
            .or(config.data_dir)
            .unwrap_or_else(|| PathBuf::from("./portcullis-data"));
        let database = overrides
            .database
            .or(config.database)
            .unwrap_or_else(|| SqliteStore::default_url(&data_dir));
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            bail!("database must be a sqlite:// or postgres:// URL");
        }
        let prefix_text = config
            .tokens
            .prefix
            .unwrap_or_else(|| crate::token::DEFAULT_PREFIX.to_owned());
        let token_prefix = Prefix::parse(&prefix_text).map_err(|e| anyhow::anyhow!("tokens.prefix: {e}"))?;
        if token_prefix.as_str() == SESSION_PREFIX {
            bail!("tokens.prefix: `{SESSION_PREFIX}` is reserved for session tokens");
        }
        let positive = |name: &str, value: Option<Duration>, default: Duration| -> anyhow::Result<Duration> {
            let value = value.unwrap_or(default);
            if value.is_zero() {
                bail!("{name} must be longer than zero");
            }
            Ok(value)
        };
        let rate_limits = rate_limits(&config.rate_limits)?;
        let webhooks = webhooks(&config.webhooks)?;
        let failed_auth = failed_auth(&config.failed_auth)?;
        let optional_positive = |name: &str, value: Option<Duration>| -> anyhow::Result<Option<Duration>> {
            match value {
                Some(value) if value < Duration::from_secs(1) => bail!("{name} must be at least 1s"),
                other => Ok(other),
            }
        };
        let token_max_lifetime = optional_positive("tokens.max_lifetime", config.tokens.max_lifetime)?;
        let disable_unused_after =
            optional_positive("tokens.disable_unused_after", config.tokens.disable_unused_after)?;
        let unused_check_interval = positive(
            "tokens.unused_check_interval",
            config.tokens.unused_check_interval,
            Duration::from_secs(3600),
        )?;
        let max_body_bytes = match config.limits.max_body_size.unwrap_or(64 * 1024) {
            n if n < 1024 => bail!("limits.max_body_size must be at least 1024 bytes"),
            n => n,
        };
        // hyper refuses header sections beyond about 400 KiB before Portcullis sees them.
        let max_header_bytes = match config.limits.max_header_size.unwrap_or(16 * 1024) {
            n if !(1024..=256 * 1024).contains(&n) => {
                bail!("limits.max_header_size must be between 1024 and 262144 bytes")
            }
            n => n,
        };
        Ok(Self {
            webhooks,
            max_body_bytes,
            max_header_bytes,
            token_max_lifetime,
            disable_unused_after,
            unused_check_interval,
            rate_limits,
            failed_auth,
            data_dir,
            database,
            listen: overrides
                .listen
                .or(config.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url: config.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            log: overrides.log.or(config.log).unwrap_or_else(|| "info".to_owned()),
            log_format: overrides.log_format.or(config.log_format).unwrap_or_default(),
            metrics_require_token: config.metrics.require_token.unwrap_or(false),
            tls: match (
                overrides.tls_cert.or(config.tls.cert),
                overrides.tls_key.or(config.tls.key),
            ) {
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
                (None, None) => None,
                _ => bail!("tls: give both a certificate (tls.cert, --tls-cert) and a key (tls.key, --tls-key)"),
            },
            postgres: crate::store::PgSettings {
                max_connections: match config.postgres.max_connections.unwrap_or(10) {
                    0 => bail!("postgres.max_connections must be at least 1"),
                    n => n,
                },
                acquire_timeout: positive(
                    "postgres.acquire_timeout",
                    config.postgres.acquire_timeout,
                    Duration::from_secs(2),
                )?,
                statement_timeout: positive(
                    "postgres.statement_timeout",
                    config.postgres.statement_timeout,
                    Duration::from_secs(5),
                )?,
                listener_heartbeat: positive(
                    "postgres.listener_heartbeat",
                    config.postgres.listener_heartbeat,
                    Duration::from_secs(1),
                )?,
            },
            token_prefix,
            last_used_flush_interval: positive(
                "tokens.last_used_flush_interval",
                config.tokens.last_used_flush_interval,
                Duration::from_secs(10),
            )?,
            session_ttl: positive("sessions.ttl", config.sessions.ttl, Duration::from_secs(12 * 3600))?,
            session_idle_timeout: positive(
                "sessions.idle_timeout",
                config.sessions.idle_timeout,
                Duration::from_secs(30 * 60),
            )?,
            cache_capacity: config.cache.capacity.unwrap_or(100_000),
            cache_ttl: positive("cache.ttl", config.cache.ttl, Duration::from_secs(60))?,
            change_poll_interval: positive(
                "cache.change_poll_interval",
                config.cache.change_poll_interval,
                Duration::from_millis(100),
            )?,
            routes: crate::gateway::route::resolve_all(config.routes)?,
        })
    }
}

/// Resolves `[rate_limits]`: windows of whole seconds (at least one, the long one longer
/// than the short one) and limits of at least one request.
fn rate_limits(section: &RateLimitsSection) -> anyhow::Result<crate::auth::RateLimits> {
    let defaults = crate::auth::RateLimits::default();
    let seconds = |name: &str, value: Option<Duration>, default: u32| -> anyhow::Result<u32> {
        let Some(value) = value else { return Ok(default) };
        if value.subsec_nanos() != 0 || value.is_zero() {
            bail!("rate_limits.{name} must be a whole number of seconds, at least 1s");
        }
        u32::try_from(value.as_secs()).map_err(|_| anyhow::anyhow!("rate_limits.{name} is too long"))
    };
    let short_seconds = seconds("short_window", section.short_window, defaults.short_seconds)?;
    let long_seconds = seconds("long_window", section.long_window, defaults.long_seconds)?;
    if long_seconds <= short_seconds {
        bail!("rate_limits.long_window must be longer than rate_limits.short_window");
    }
    let limit = |name: &str, value: Option<u32>, default: Option<u32>| -> anyhow::Result<Option<u32>> {
        match value {
            Some(0) => bail!("rate_limits.{name} must be at least 1 (set enabled = false to turn limits off)"),
            Some(n) => Ok(Some(n)),
            None => Ok(default),
        }
    };
    let enabled = section.enabled.unwrap_or(true);
    let short_limit = limit("short_limit", section.short_limit, defaults.short_limit)?;
    let long_limit = limit("long_limit", section.long_limit, defaults.long_limit)?;
    Ok(crate::auth::RateLimits {
        short_seconds,
        long_seconds,
        short_limit: short_limit.filter(|_| enabled),
        long_limit: long_limit.filter(|_| enabled),
    })
}

/// Resolves `[webhooks]`: whole seconds for what is stored as a time, at least one attempt.
fn webhooks(section: &WebhooksSection) -> anyhow::Result<crate::webhooks::dispatcher::WebhookSettings> {
    let defaults = crate::webhooks::dispatcher::WebhookSettings::default();
    let whole = |name: &str, value: Option<Duration>, default: Duration| -> anyhow::Result<Duration> {
        let value = value.unwrap_or(default);
        if value.subsec_nanos() != 0 || value.is_zero() {
            bail!("webhooks.{name} must be a whole number of seconds, at least 1s");
        }
        Ok(value)
    };
    let positive = |name: &str, value: Option<Duration>, default: Duration| -> anyhow::Result<Duration> {
        match value.unwrap_or(default) {
            value if value.is_zero() => bail!("webhooks.{name} must be longer than zero"),
            value => Ok(value),
        }
    };
    let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let retry_base = whole(
        "retry_base",
        section.retry_base,
        Duration::from_secs(defaults.retry.base_seconds as u64),
    )?;
    let retry_max_delay = whole(
        "retry_max_delay",
        section.retry_max_delay,
        Duration::from_secs(defaults.retry.max_delay_seconds as u64),
    )?;
    if retry_max_delay < retry_base {
        bail!("webhooks.retry_max_delay must not be shorter than webhooks.retry_base");
    }
    Ok(crate::webhooks::dispatcher::WebhookSettings {
        retry: crate::webhooks::schedule::RetryPolicy {
            base_seconds: seconds(retry_base),
            max_delay_seconds: seconds(retry_max_delay),
            max_attempts: match section.max_attempts.unwrap_or(defaults.retry.max_attempts) {
                0 => bail!("webhooks.max_attempts must be at least 1"),
                n => n,
            },
        },
        timeout: positive("timeout", section.timeout, defaults.timeout)?,
        poll_interval: positive("poll_interval", section.poll_interval, defaults.poll_interval)?,
        expiring_before: whole("expiring_before", section.expiring_before, defaults.expiring_before)?,
        expiry_check_interval: positive(
            "expiry_check_interval",
            section.expiry_check_interval,
            defaults.expiry_check_interval,
        )?,
    })
}

/// Resolves `[failed_auth]`: windows and the block time in whole seconds, at least one.
fn failed_auth(section: &FailedAuthSection) -> anyhow::Result<crate::auth::FailureLimits> {
    let defaults = crate::auth::FailureLimits::default();
    let seconds = |name: &str, value: Option<Duration>, default: u32| -> anyhow::Result<u32> {
        let Some(value) = value else { return Ok(default) };
        if value.subsec_nanos() != 0 || value.is_zero() {
            bail!("failed_auth.{name} must be a whole number of seconds, at least 1s");
        }
        u32::try_from(value.as_secs()).map_err(|_| anyhow::anyhow!("failed_auth.{name} is too long"))
    };
    let block = seconds("block", section.block, defaults.tokens.block_seconds)?;
    Ok(crate::auth::FailureLimits {
        tokens: crate::auth::FailurePolicy {
            burst: section.token_burst.unwrap_or(defaults.tokens.burst),
            window_seconds: seconds("token_window", section.token_window, defaults.tokens.window_seconds)?,
            block_seconds: block,
        },
        sign_in: crate::auth::FailurePolicy {
            burst: section.sign_in_burst.unwrap_or(defaults.sign_in.burst),
            window_seconds: seconds(
                "sign_in_window",
                section.sign_in_window,
                defaults.sign_in.window_seconds,
            )?,
            block_seconds: block,
        },
        reports: defaults.reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_auth_limits_have_defaults_and_can_be_changed() {
        assert_eq!(
            from_toml("").unwrap().failed_auth,
            crate::auth::FailureLimits::default()
        );
        let set = from_toml("[failed_auth]\ntoken_burst = 3\nsign_in_burst = 0\nblock = \"10m\"")
            .unwrap()
            .failed_auth;
        assert_eq!((set.tokens.burst, set.tokens.block_seconds), (3, 600));
        assert_eq!((set.sign_in.burst, set.sign_in.block_seconds), (0, 600));
        let error = from_toml("[failed_auth]\nblock = \"0s\"").unwrap_err().to_string();
        assert!(error.contains("failed_auth.block"), "{error}");
    }

    #[test]
    fn rate_limits_default_to_quables_and_can_be_changed_or_turned_off() {
        let defaults = from_toml("").unwrap().rate_limits;
        assert_eq!(defaults, crate::auth::RateLimits::default());
        assert_eq!((defaults.short_limit, defaults.short_seconds), (Some(6000), 600));
        assert_eq!((defaults.long_limit, defaults.long_seconds), (Some(300_000), 86_400));
        let set =
            from_toml("[rate_limits]\nshort_limit = 5\nshort_window = \"1m\"\nlong_limit = 50\nlong_window = \"1h\"")
                .unwrap()
                .rate_limits;
        assert_eq!((set.short_limit, set.short_seconds), (Some(5), 60));
        assert_eq!((set.long_limit, set.long_seconds), (Some(50), 3600));
        let off = from_toml("[rate_limits]\nenabled = false").unwrap().rate_limits;
        assert_eq!((off.short_limit, off.long_limit), (None, None));
        for (text, expected) in [
            ("[rate_limits]\nshort_limit = 0", "short_limit"),
            ("[rate_limits]\nshort_window = \"1500ms\"", "short_window"),
            ("[rate_limits]\nlong_window = \"5m\"", "long_window"),
            ("[rate_limits]\nburst = 3", "burst"),
        ] {
            let error = from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }

    fn from_toml(text: &str) -> anyhow::Result<Settings> {
        let config = FileConfig::deserialize(toml::Value::Table(text.parse()?))
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        Settings::resolve(config, Overrides::default())
    }

    #[test]
    fn webhook_settings_have_defaults_and_can_be_changed() {
        let defaults = from_toml("").unwrap().webhooks;
        assert_eq!(defaults, crate::webhooks::dispatcher::WebhookSettings::default());
        let set = from_toml(
            "[webhooks]\nexpiring_before = \"3d\"\nmax_attempts = 2\nretry_base = \"1s\"\ntimeout = \"500ms\"\npoll_interval = \"100ms\"",
        )
        .unwrap()
        .webhooks;
        assert_eq!(set.expiring_before, Duration::from_secs(3 * 86_400));
        assert_eq!((set.retry.max_attempts, set.retry.base_seconds), (2, 1));
        assert_eq!(set.timeout, Duration::from_millis(500));
        for (text, expected) in [
            ("[webhooks]\nmax_attempts = 0", "max_attempts"),
            ("[webhooks]\nretry_base = \"1500ms\"", "retry_base"),
            (
                "[webhooks]\nretry_base = \"1h\"\nretry_max_delay = \"1m\"",
                "retry_max_delay",
            ),
            ("[webhooks]\nsecret = \"x\"", "secret"),
        ] {
            let error = from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn defaults_are_least_surprising() {
        let settings = from_toml("").unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.token_prefix.as_str(), "pcl");
        assert!(settings.database.starts_with("sqlite://"));
        assert!(settings.database.ends_with("portcullis.db"));
    }

    #[test]
    fn a_full_file_is_read() {
        let settings = from_toml(
            "listen = \"0.0.0.0:9000\"\n[tokens]\nprefix = \"acme\"\nlast_used_flush_interval = \"2s\"\n[sessions]\nttl = \"1h\"\n[cache]\ncapacity = 10\nttl = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.token_prefix.as_str(), "acme");
        assert_eq!(settings.session_ttl, Duration::from_secs(3600));
        assert_eq!(settings.cache_capacity, 10);
    }

    #[test]
    fn the_postgres_section_sets_pool_and_listener_limits() {
        let defaults = from_toml("").unwrap().postgres;
        assert_eq!(defaults.max_connections, 10);
        assert_eq!(defaults.acquire_timeout, Duration::from_secs(2));
        assert_eq!(defaults.statement_timeout, Duration::from_secs(5));
        assert_eq!(defaults.listener_heartbeat, Duration::from_secs(1));
        let set = from_toml(
            "[postgres]\nmax_connections = 3\nacquire_timeout = \"500ms\"\nstatement_timeout = \"1s\"\nlistener_heartbeat = \"250ms\"\n",
        )
        .unwrap()
        .postgres;
        assert_eq!(set.max_connections, 3);
        assert_eq!(set.acquire_timeout, Duration::from_millis(500));
        assert_eq!(set.statement_timeout, Duration::from_secs(1));
        assert_eq!(set.listener_heartbeat, Duration::from_millis(250));
        for (text, expected) in [
            ("[postgres]\nmax_connections = 0", "max_connections"),
            ("[postgres]\nacquire_timeout = \"0s\"", "acquire_timeout"),
            ("[postgres]\npool = 3", "pool"),
        ] {
            let error = from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }

    #[test]
    fn bad_files_name_the_problem() {
        let cases = [
            ("colour = \"blue\"", "colour"),
            ("[tokens]\nprefx = \"x\"", "prefx"),
            ("[tokens]\nprefix = \"PCL\"", "tokens.prefix"),
            ("[tokens]\nprefix = \"pcs\"", "reserved"),
            ("[sessions]\nttl = \"soon\"", "soon"),
            ("database = \"mysql://x\"", "database"),
        ];
        for (text, expected) in cases {
            let error = from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
        }
    }
}
