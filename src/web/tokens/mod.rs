//! System → API tokens: the list with sorting and filters, creation (the secret shown once),
//! editing, regeneration and revocation. Changes go through the same functions as the API.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::Web;
use super::error::WebError;
use super::guard::SignedIn;
use super::layout::{self, Section};
use crate::clock::UnixTime;
use crate::domain::{Access, Description, Invalid, TokenName};
use crate::http::extract::ClientIp;
use crate::http::tokens as api;
use crate::issue::TokenRequest;
use crate::store::{PageRequest, TokenChanges, TokenFilter, TokenRecord, TokenStatus};
use crate::token::TokenSecret;

mod controls;
mod create;
mod list;
mod manage;
mod usage;

use create::{create, new_form, secret_page};
use list::{done_notice, list};
use manage::{confirm, disable, edit, enable, regenerate, revoke, show};
use usage::usage_card;

pub fn router() -> Router<Web> {
    Router::new()
        .route("/admin/tokens", get(list).post(create))
        .route("/admin/tokens/new", get(new_form))
        .route("/admin/tokens/{id}", get(show).post(edit))
        .route(
            "/admin/tokens/{id}/revoke",
            get(|w, u, p| confirm(w, u, p, "revoke")).post(revoke),
        )
        .route(
            "/admin/tokens/{id}/regenerate",
            get(|w, u, p| confirm(w, u, p, "regenerate")).post(regenerate),
        )
        .route(
            "/admin/tokens/{id}/disable",
            get(|w, u, p| confirm(w, u, p, "disable")).post(disable),
        )
        .route(
            "/admin/tokens/{id}/enable",
            get(|w, u, p| confirm(w, u, p, "enable")).post(enable),
        )
}

/// A path id that is not a positive integer names no token.
pub fn parse_id(text: &str) -> Result<i64, WebError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(WebError::Api(crate::http::error::ApiError::NotFound))
}

/// Every token, page by page (an installation has tens or hundreds of them, not millions).
async fn all_tokens(web: &Web) -> Result<Vec<TokenRecord>, WebError> {
    let mut all = Vec::new();
    for page in 1..=1000 {
        let (tokens, total) = web
            .app
            .store
            .list_tokens(TokenFilter::All, PageRequest { page, limit: 100 })
            .await?;
        let done = tokens.len() < 100 || all.len() + tokens.len() >= total as usize;
        all.extend(tokens);
        if done {
            break;
        }
    }
    Ok(all)
}

fn access_badge(access: Access) -> Markup {
    match access {
        Access::Full => html! { span.badge.full { "Full Access" } },
        Access::Read => html! { span.badge.read { "Read Access" } },
    }
}

fn status_badge(status: TokenStatus) -> Markup {
    html! { span class={ "badge status-" (status.as_str()) } { (status.as_str()) } }
}

fn last_used(web: &Web, token: &TokenRecord) -> Option<UnixTime> {
    token.last_used_at.max(web.app.verifier.pending_use(token.id))
}
