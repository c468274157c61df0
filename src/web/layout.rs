//! The page shell (head, top menu, footer) and the small pieces every page uses.

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;

use super::guard::SignedIn;
use crate::clock::UnixTime;

/// Which menu entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tokens,
    Users,
    Audit,
    Webhooks,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Portcullis" }
            link rel="stylesheet" href="/admin/assets/app.css";
            link rel="icon" href="data:,";
            script src="/admin/assets/app.js" defer {}
        }
    }
}

/// A page for a signed-in user, with the top menu.
pub fn page(title: &str, user: &SignedIn, section: Section, body: Markup) -> Response {
    let current = |s: Section| if s == section { Some("page") } else { None };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/admin/tokens" { span.logo aria-hidden="true" { "▦" } " Portcullis" }
                    nav.menu aria-label="Main" {
                        details.dropdown {
                            summary class=[(section != Section::Audit).then_some("active")] { "System" }
                            ul {
                                li { a href="/admin/tokens" aria-current=[current(Section::Tokens)] { "API tokens" } }
                                li { a href="/admin/users" aria-current=[current(Section::Users)] { "Users" } }
                                @if user.admin { li { a href="/admin/webhooks" aria-current=[current(Section::Webhooks)] { "Webhooks" } } }
                            }
                        }
                        a.navlink href="/admin/audit" aria-current=[current(Section::Audit)] { "Audit log" }
                        a.navlink href="/api/docs" { "API docs" }
                    }
                    div.me {
                        span.who { (user.username) @if user.admin { " " span.badge.admin { "Admin" } } }
                        form method="post" action="/admin/logout" {
                            (csrf(user))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page without the menu (setup, sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                header.topbar.plain {
                    a.brand href="/admin/tokens" { span.logo aria-hidden="true" { "▦" } " Portcullis" }
                }
                main #main { (body) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden CSRF field of a form.
pub fn csrf(user: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// A notice at the top of a page.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class={ "notice " (kind) } role=(if kind == "error" { "alert" } else { "status" }) { (text) } }
}

/// A timestamp as `2026-11-29 14:03 UTC`, with the exact time on hover.
pub fn time(at: Option<UnixTime>, none: &str) -> Markup {
    format_time(at, none, false)
}

/// A timestamp as its date only, with the exact time on hover (for narrow table columns).
pub fn date(at: Option<UnixTime>, none: &str) -> Markup {
    format_time(at, none, true)
}

fn format_time(at: Option<UnixTime>, none: &str, date_only: bool) -> Markup {
    match at.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()) {
        Some(t) => {
            let exact = crate::clock::rfc3339(t.unix_timestamp());
            let short = if date_only {
                t.format(time::macros::format_description!("[year]-[month]-[day]"))
            } else {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]"
                ))
            }
            .unwrap_or_else(|_| exact.clone());
            html! { time datetime=(exact) title=(exact) { (short) } }
        }
        None => html! { span.muted { (none) } },
    }
}
