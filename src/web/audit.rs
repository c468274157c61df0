//! The audit log: newest first, filtered by kind, a page at a time.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::Web;
use super::error::WebError;
use super::guard::SignedIn;
use super::layout::{self, Section};
use crate::store::{Actor, PageRequest, audit_kind};

const PAGE_SIZE: u32 = 25;

const KINDS: [&str; 19] = audit_kind::ALL;

pub fn router() -> Router<Web> {
    Router::new().route("/admin/audit", get(list))
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    kind: String,
    page: Option<String>,
}

fn actor(actor: &Actor) -> maud::Markup {
    match actor {
        Actor::User { username, .. } => html! { (username) },
        Actor::Token { name, .. } => html! { "token " em { (name) } },
        Actor::Cli => html! { span.muted { "command line" } },
        Actor::Anonymous => html! { span.muted { "anonymous" } },
        Actor::System => html! { span.muted { "Portcullis" } },
    }
}

fn kind_class(kind: &str) -> &'static str {
    if kind.ends_with("revoked") || kind.ends_with("failed") || kind.ends_with("deleted") {
        "kind bad"
    } else if kind.ends_with("created") || kind.ends_with("succeeded") {
        "kind good"
    } else {
        "kind"
    }
}

async fn list(State(web): State<Web>, user: SignedIn, Query(query): Query<AuditQuery>) -> Result<Response, WebError> {
    let kind = KINDS.iter().find(|k| **k == query.kind).map(|k| (*k).to_owned());
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let (events, total) = web
        .app
        .store
        .list_audit(kind.clone(), PageRequest { page, limit: PAGE_SIZE })
        .await?;
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let link = |p: u32| format!("/admin/audit?kind={}&page={p}", kind.as_deref().unwrap_or(""));
    let body = html! {
        div.page-head { div {
            h1 { "Audit log" }
            p.lead { "Every change to tokens and users, and every sign-in, newest first." }
        } }
        form.filters method="get" action="/admin/audit" {
            div.field {
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    option value="" selected[kind.is_none()] { "All kinds" }
                    @for k in KINDS { option value=(k) selected[kind.as_deref() == Some(k)] { (k) } }
                }
            }
            div.field.actions { button type="submit" { "Filter" } }
        }
        @if events.is_empty() {
            div.empty { h2 { "No events" } p { @if kind.is_some() { "No event of this kind yet." } @else { "Nothing has happened yet." } } }
        } @else {
            div.table-wrap {
                table.data #audit {
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "By" }
                        th scope="col" { "Target" } th scope="col" { "Client" } th scope="col" { "Details" }
                    } }
                    tbody {
                        @for event in &events {
                            tr {
                                td { (layout::time(Some(event.at), "")) }
                                td { span class=(kind_class(&event.kind)) { (event.kind) } }
                                td { (actor(&event.actor)) }
                                td { @if let Some(t) = &event.target { code { (t) } } }
                                td { @if let Some(ip) = &event.client_ip { (ip) } }
                                td.details { @if event.details.as_object().is_some_and(|o| !o.is_empty()) { code { (event.details.to_string()) } } }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if page > 1 { a.button href=(link(page - 1)) rel="prev" { "← Newer" } } @else { span {} }
                span.muted { "Page " (page) " of " (pages) " · " (total) " events" }
                @if u64::from(page) < pages { a.button href=(link(page + 1)) rel="next" { "Older →" } } @else { span {} }
            }
        }
    };
    Ok(layout::page("Audit log", &user, Section::Audit, body))
}
