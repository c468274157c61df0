//! Black-box tests of Portcullis: each test starts the real `portcullis serve` on port 0 with
//! a fresh data directory and talks to it over HTTP and through the command line, as the
//! contract in DESIGN.md describes.
//!
//! Layout:
//! - `helpers` — the harness: `TestApp`, raw HTTP, problem assertions, token format checks.
//! - `auth` — DESIGN §3: the access rules on the wire, bad credentials, method overrides.
//! - `access_matrix` — every kind of credential against every endpoint and method.
//! - `users`, `tokens`, `sessions` — the REST resources of DESIGN §4.
//! - `representation` — Hydra JSON-LD versus plain JSON, pagination, content negotiation.
//! - `lifecycle` — health checks, routing errors, the setup link, graceful shutdown.
//! - `cli` — DESIGN §5, including a revoke by the CLI seen by a running server.
//! - `python_client` — the DESIGN §7 client example, run with `python3`.
//! - `observability` — metrics, request ids, structured request logs.
//! - `operations` — completions, man page, token export/import, deployment files.
//! - `tls` — HTTPS, HTTP/2, certificate reload.
//! - `logs` — no secret ever reaches the server's output, even at trace level.
//! - `backend` — which store the suite runs on: SQLite by default, PostgreSQL with
//!   `PORTCULLIS_TEST_BACKEND=postgres` (each test in its own fresh database).
//! - `multi_instance` — two servers on one PostgreSQL: revocation propagation, store outage.
//! - `token_lifecycle` — disable/enable, address allowlists, maximum lifetime, unused tokens.
//! - `size_limits` — 413 and 431 for oversized bodies and header sections.
//! - `leaks` — reporting leaked tokens for revocation.
//! - `rate_limits` — per-token rate limits on the API, forward-auth and proxy routes.
//! - `usage` — per-token hourly counts of allowed and denied requests, API and chart.
//! - `gateway_*` — the gateway: forward-auth, the reverse proxy, real nginx and Caddy in front
//!   of a recording upstream (`gateway_support`), one scenario for every front (`gateway_scenario`).
//! - `web`, `web_driver`, `web_http` — the web admin in headless Chromium, and over plain HTTP.
//! - `web_lifecycle` — the web admin's rate-limit, allowlist, disable, grace and leak controls.
//! - `webhooks` — signed token notifications: events, retries, expiry notices, management.

mod access_matrix;
mod api_docs;
mod auth;
mod backend;
mod cli;
mod gateway_forward;
mod gateway_proxy;
mod gateway_scenario;
mod gateway_support;
mod helpers;
mod leaks;
mod lifecycle;
mod logs;
mod multi_instance;
mod observability;
mod operations;
mod python_client;
mod rate_limits;
mod representation;
mod sessions;
mod size_limits;
mod tls;
mod token_lifecycle;
mod tokens;
mod usage;
mod users;
mod web;
mod web_driver;
mod web_http;
mod web_lifecycle;
mod webhooks;
