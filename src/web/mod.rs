//! The web admin: server-rendered pages (maud) for first-run setup, sign-in, API tokens,
//! users and the audit log, with one stylesheet and one small script embedded in the binary.
//!
//! Layout:
//! - `guard` — the signed-in user (session cookie, idle expiry), CSRF tokens and the
//!   Origin check every POST passes, and the security headers on every response.
//! - `throttle` — slowing down failed sign-ins per client address and per account.
//! - `layout` — the page shell, menu and small shared pieces (badges, times, pager).
//! - `error` — failures as HTML pages.
//! - `account` — `/setup`, sign-in and sign-out. `tokens`, `users`, `audit`, `webhooks` — the pages.
//!
//! The session cookie is read only here: `/api` authenticates with `Authorization` alone,
//! so a browser can never be tricked into calling the API (DESIGN §3).

mod account;
mod audit;
mod error;
mod guard;
mod layout;
mod throttle;
mod tokens;
mod users;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::clock::UnixTime;
use crate::http::AppState;

pub use throttle::Throttle;

/// Largest form the admin reads.
const MAX_FORM_BYTES: usize = 32 * 1024;

/// What the web admin keeps in memory besides the shared [`AppState`].
pub struct WebState {
    /// The one-time setup code printed at start while no user exists; taken when used.
    setup_code: Mutex<Option<String>>,
    /// Failed sign-ins per client address and per account.
    throttle: Throttle,
    /// Session id → last request, for idle expiry. Kept in memory: a restart starts the idle
    /// clock afresh, while the absolute expiry (`sessions.ttl`) is in the store.
    activity: Mutex<HashMap<i64, UnixTime>>,
    /// Seconds a session may sit unused.
    idle_timeout: i64,
    /// Whether cookies carry `Secure` (the public URL is https, or Portcullis serves TLS).
    secure_cookies: bool,
    /// "New token" forms already sent (form id → the token they created, once created), so a
    /// reload of the "token created" page cannot create a second token.
    sent_forms: Mutex<HashMap<String, SentForm>>,
}

/// What became of a sent "New token" form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentForm {
    /// Being handled right now.
    Pending { at: UnixTime },
    /// It created this token.
    Created { token_id: i64, at: UnixTime },
}

impl SentForm {
    fn at(self) -> UnixTime {
        match self {
            Self::Pending { at } | Self::Created { at, .. } => at,
        }
    }
}

/// How long a sent form is remembered.
const SENT_FORM_MEMORY: i64 = 3600;

impl WebState {
    /// The web admin's state for a server that printed `setup_code` (if any).
    pub fn new(app: &AppState, setup_code: Option<String>) -> Self {
        let secure_cookies = app
            .settings
            .public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
            || app.settings.tls.is_some();
        Self {
            setup_code: Mutex::new(setup_code),
            throttle: Throttle::default(),
            activity: Mutex::default(),
            idle_timeout: app.settings.session_idle_timeout.as_secs().max(1) as i64,
            secure_cookies,
            sent_forms: Mutex::default(),
        }
    }

    /// Claims a "New token" form id: `Ok` the first time, or what became of the earlier send.
    pub fn claim_form(&self, form_id: &str, now: UnixTime) -> Result<(), SentForm> {
        let mut sent = self.sent_forms.lock().unwrap_or_else(|p| p.into_inner());
        sent.retain(|_, form| now - form.at() < SENT_FORM_MEMORY);
        match sent.get(form_id) {
            Some(earlier) => Err(*earlier),
            None => {
                sent.insert(form_id.to_owned(), SentForm::Pending { at: now });
                Ok(())
            }
        }
    }

    /// Records what a claimed form created, or forgets the claim when it created nothing.
    pub fn settle_form(&self, form_id: &str, token_id: Option<i64>, now: UnixTime) {
        let mut sent = self.sent_forms.lock().unwrap_or_else(|p| p.into_inner());
        match token_id {
            Some(token_id) => sent.insert(form_id.to_owned(), SentForm::Created { token_id, at: now }),
            None => sent.remove(form_id),
        };
    }
}

/// The state of every web admin handler.
#[derive(Clone)]
pub struct Web {
    pub app: AppState,
    pub web: Arc<WebState>,
}

/// The web admin's routes, ready to merge into the application router.
pub fn router(app: AppState, web: WebState) -> Router {
    let state = Web {
        app,
        web: Arc::new(web),
    };
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/tokens") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/tokens") }))
        .route("/admin/assets/app.css", get(stylesheet))
        .route("/admin/assets/app.js", get(script))
        .merge(account::router())
        .merge(tokens::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .route(
            "/admin/{*rest}",
            get(|| async { error::WebError::Api(crate::http::error::ApiError::NotFound) }),
        )
        .layer(middleware::from_fn_with_state(state.clone(), guard::check_post))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(middleware::from_fn_with_state(
            state.app.clone(),
            crate::http::observe::observe,
        ))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../assets/app.css"))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../assets/app.js"))
}
