//! One token: details, editing (with its rate limit and allowlist), and revocation,
//! regeneration (with an optional grace period), disabling and enabling after a confirmation.

use super::controls::{LimitFields, leak_notice, leak_reports, old_secret, rate_limit_text};
use super::*;
use crate::store::AuditEvent;

fn details(web: &Web, token: &TokenRecord) -> Markup {
    let now = web.app.clock.now();
    let limits = &web.app.settings.rate_limits;
    html! {
        dl.meta {
            dt { "Access" } dd { (access_badge(token.access)) }
            dt { "Status" } dd { (status_badge(token.status(now))) }
            dt { "Hint" } dd { code { (token.hint) } }
            dt { "Created" } dd { (layout::time(Some(token.created_at), "")) " by " @match &token.created_by { Some(by) => (by.username), None => "the command line" } }
            dt { "Expires" } dd { (layout::time(token.expires_at, "never")) }
            dt { "Last used" } dd { (layout::time(last_used(web, token), "never")) }
            @if token.revoked_at.is_some() { dt { "Revoked" } dd { (layout::time(token.revoked_at, "")) } }
            @if token.disabled_at.is_some() { dt { "Disabled" } dd { (layout::time(token.disabled_at, "")) } }
            dt { "Rate limit" } dd #rate-limit { (rate_limit_text(token.rate_limit, limits)) }
            dt { "Allowed addresses" }
            dd #allowed-ips {
                @match &token.allowed_ips {
                    Some(list) => { @for (i, entry) in list.entries().iter().enumerate() { @if i > 0 { ", " } code { (entry) } } }
                    None => "Anywhere",
                }
            }
            @if let Some((until, used)) = old_secret(web, token) {
                dt { "Old secret" }
                dd #old-secret {
                    "Works until " (layout::time(Some(until), ""))
                    @if let Some(used) = used {
                        " · " span.badge.status-expired { "old secret still in use" } " last " (layout::time(Some(used), ""))
                    } @else {
                        " · not used since the regeneration"
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EditToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(flatten)]
    limits: LimitFields,
}

fn show_page(
    web: &Web,
    user: &SignedIn,
    token: &TokenRecord,
    form: Option<(&EditToken, &str)>,
    notice: Option<Markup>,
    usage: Markup,
    leak: Option<&AuditEvent>,
) -> Response {
    let status = token.status(web.app.clock.now());
    let (name, description) = form.map_or((token.name.as_str(), token.description.as_str()), |(f, _)| {
        (f.name.as_str(), f.description.as_str())
    });
    let limits = form.map_or_else(|| LimitFields::of(token), |(f, _)| f.limits.clone());
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / " (token.name) }
        div.page-head {
            div { h1 { (token.name) } @if !token.description.is_empty() { p.lead { (token.description) } } }
            @if user.admin {
                div.buttons {
                    @if status == TokenStatus::Active {
                        a.button href={ "/admin/tokens/" (token.id) "/regenerate" } { "Regenerate" }
                    }
                    @if status == TokenStatus::Disabled {
                        a.button #enable href={ "/admin/tokens/" (token.id) "/enable" } { "Enable" }
                    } @else if status != TokenStatus::Revoked {
                        a.button #disable href={ "/admin/tokens/" (token.id) "/disable" } { "Disable" }
                    }
                    @if status != TokenStatus::Revoked {
                        a.button.danger href={ "/admin/tokens/" (token.id) "/revoke" } { "Revoke" }
                    }
                }
            }
        }
        @if let Some(notice) = notice { (notice) }
        @if let Some(leak) = leak { (leak_notice(leak)) }
        div.columns {
            div {
                section.card { h2 { "Details" } (details(web, token)) }
                (usage)
            }
            @if user.admin {
                section.card {
                    h2 { "Edit" }
                    @if let Some((_, error)) = form { (layout::notice("error", error)) }
                    form.stack method="post" action={ "/admin/tokens/" (token.id) } {
                        (layout::csrf(user))
                        label for="name" { "Name" }
                        input #name name="name" required maxlength="100" value=(name);
                        label for="description" { "Description" }
                        textarea #description name="description" rows="3" maxlength="1000" { (description) }
                        @if status != TokenStatus::Revoked { (limits.render(&web.app.settings.rate_limits)) }
                        div.buttons { button.primary type="submit" { "Save" } }
                    }
                }
            }
        }
    };
    layout::page(&token.name, user, Section::Tokens, body)
}

#[derive(Deserialize, Default)]
pub(super) struct Done {
    #[serde(default)]
    done: String,
}

pub(super) async fn show(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    let token = web.app.store.token(parse_id(&id)?).await?;
    let notice = done_notice(&done.done);
    let usage = usage_card(&web, token.id).await?;
    let leak = leak_of(&web, &token).await?;
    Ok(show_page(&web, &user, &token, None, notice, usage, leak.as_ref()))
}

/// The leak report that revoked `token`, if one did.
async fn leak_of(web: &Web, token: &TokenRecord) -> Result<Option<AuditEvent>, WebError> {
    if token.revoked_at.is_none() {
        return Ok(None);
    }
    Ok(leak_reports(web).await?.remove(&token.id))
}

pub(super) async fn edit(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
    Form(form): Form<EditToken>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    let token = web.app.store.token(id).await?;
    let parsed = TokenName::parse(&form.name)
        .and_then(|n| Ok((n, Description::parse(&form.description)?)))
        .map_err(|error| crate::http::error::sentence(&error.to_string()))
        .and_then(|(name, description)| {
            // A revoked token's limits no longer matter; its form does not show them.
            let limits = (token.revoked_at.is_none()).then(|| form.limits.parse()).transpose()?;
            Ok((name, description, limits))
        });
    let (name, description, limits) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let leak = leak_of(&web, &token).await?;
            let mut response = show_page(
                &web,
                &user,
                &token,
                Some((&form, &error)),
                None,
                usage_card(&web, id).await?,
                leak.as_ref(),
            );
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let changes = TokenChanges {
        name: Some(name),
        description: Some(description),
        rate_limit: limits.as_ref().map(|(rate_limit, _)| *rate_limit),
        allowed_ips: limits.map(|(_, allowed_ips)| allowed_ips),
        ..TokenChanges::default()
    };
    api::update_token(&web.app, id, changes, user.audit(&web, client)).await?;
    Ok(Redirect::to(&format!("/admin/tokens/{id}?done=updated")).into_response())
}

/// The grace periods the regeneration form offers (value, label).
const GRACE_PERIODS: [(&str, &str); 5] = [
    ("", "None — the old secret stops at once"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
];

/// What an action asks and does: title, explanation, button text and style.
fn action_text(token: &TokenRecord, action: &str) -> (String, &'static str, &'static str, &'static str) {
    match action {
        "revoke" => (
            format!("Revoke “{}”?", token.name),
            "Every request with this token is refused from now on. This cannot be undone.",
            "Revoke token",
            "danger",
        ),
        "disable" => (
            format!("Disable “{}”?", token.name),
            "Every request with this token is refused until it is enabled again. Its secret and settings are kept.",
            "Disable token",
            "danger",
        ),
        "enable" => (
            format!("Enable “{}”?", token.name),
            "Requests with this token are accepted again, under its access, limits and allowed addresses.",
            "Enable token",
            "primary",
        ),
        _ => (
            format!("Regenerate “{}”?", token.name),
            "The token gets a new secret, shown once. Update every script that uses it; the current secret stops working at once, or after the grace period you choose.",
            "Regenerate token",
            "primary",
        ),
    }
}

fn confirm_page(web: &Web, user: &SignedIn, token: &TokenRecord, action: &str, error: Option<&str>) -> Response {
    let (title, text, button, class) = action_text(token, action);
    let body = html! {
        section.card.narrow.confirm {
            h1 { (title) }
            @if let Some(error) = error { (layout::notice("error", error)) }
            p { (text) }
            (details(web, token))
            form.stack method="post" action={ "/admin/tokens/" (token.id) "/" (action) } {
                (layout::csrf(user))
                @if action == "regenerate" {
                    label for="grace" { "Old secret keeps working" }
                    select #grace name="grace" {
                        @for (value, label) in GRACE_PERIODS { option value=(value) { (label) } }
                    }
                }
                div.buttons {
                    button class=(class) type="submit" #confirm { (button) }
                    a.button.quiet href={ "/admin/tokens/" (token.id) } { "Cancel" }
                }
            }
        }
    };
    layout::page(&title, user, Section::Tokens, body)
}

/// The confirmation page of `action` (revoke, regenerate, disable, enable) on the token of
/// the path; the router binds one per action.
pub(super) async fn confirm(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    action: &'static str,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let token = web.app.store.token(parse_id(&id)?).await?;
    Ok(confirm_page(&web, &user, &token, action, None))
}

pub(super) async fn revoke(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    api::revoke_token(&web.app, parse_id(&id)?, user.audit(&web, client)).await?;
    Ok(Redirect::to("/admin/tokens?done=revoked").into_response())
}

pub(super) async fn disable(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    api::set_token_disabled(&web.app, id, true, user.audit(&web, client)).await?;
    Ok(Redirect::to(&format!("/admin/tokens/{id}?done=disabled")).into_response())
}

pub(super) async fn enable(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    api::set_token_disabled(&web.app, id, false, user.audit(&web, client)).await?;
    Ok(Redirect::to(&format!("/admin/tokens/{id}?done=enabled")).into_response())
}

#[derive(Deserialize, Default)]
pub(super) struct RegenerateForm {
    /// A grace period from [`GRACE_PERIODS`]; empty: none.
    #[serde(default)]
    grace: String,
}

pub(super) async fn regenerate(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RegenerateForm>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    let grace = match form.grace.trim() {
        "" => None,
        text => match api::grace_period(text) {
            Ok(grace) => Some(grace),
            Err(_) => {
                let token = web.app.store.token(id).await?;
                let mut response = confirm_page(
                    &web,
                    &user,
                    &token,
                    "regenerate",
                    Some("Grace period: choose one of the offered periods (at most 30 days)."),
                );
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                return Ok(response);
            }
        },
    };
    let (token, secret) = api::regenerate_token(&web.app, id, grace, user.audit(&web, client)).await?;
    Ok(secret_page(&web, &user, &headers, &token, &secret, "Token regenerated"))
}
