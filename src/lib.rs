//! Portcullis: a self-hosted API token service and authenticating gateway.
//!
//! It issues bearer tokens of two kinds, Full Access and Read Access, verifies them on every
//! request, protects its own REST API and guards other APIs as a gateway. The contract is `DESIGN.md` in the shared folder.
//!
//! # Layout
//!
//! - [`token`]: the token format: generation, checksum, digest, hint. Pure, no I/O.
//! - [`auth`]: reading the `Authorization` header ([`auth::bearer`]), verifying a token
//!   (checksum → cache → store, [`auth::verifier`]) and the access decision, a pure function
//!   of credential, method and endpoint ([`auth::access`]); per-token rate limits and
//!   failed-authentication limits.
//! - [`store`]: one [`store::Store`] trait and its backends: SQLite embedded by default,
//!   PostgreSQL (with LISTEN/NOTIFY change feed) for several instances.
//! - [`http`]: the axum router, the single error → response mapping, the API handlers, the
//!   OpenAPI document and the request log.
//! - [`gateway`]: guarding other APIs: forward-auth endpoints, the reverse proxy, the path
//!   normaliser and the framing guard against request smuggling.
//! - [`web`]: the web admin (server-rendered pages, cookie sessions, CSRF).
//! - [`webhooks`]: signed notifications of token events: the outbox dispatcher, signing,
//!   retries with backoff (docs/webhooks.md).
//! - [`metrics`]: Prometheus metrics. [`tls`]: HTTPS with certificate reload.
//! - [`issue`]: issuing secrets (tokens, sessions), shared by the API and the CLI.
//! - [`domain`]: validated values (`Username`, `Email`, `Access`, …). [`password`]: argon2id.
//! - [`cli`], [`config`], [`server`], [`telemetry`]: the thin outer layer.
//! - [`clock`]: time as a parameter, so expiry is tested without sleeping.
//! - [`ascii`]: byte classes as lookup tables, for the parsers on the request path.
#![forbid(unsafe_code)]

pub mod ascii;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod issue;
pub mod metrics;
pub mod password;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod token;
pub mod web;
pub mod webhooks;
