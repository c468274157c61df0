//! One token: details, editing, and revocation and regeneration after a confirmation.

use super::*;

fn details(web: &Web, token: &TokenRecord) -> Markup {
    let now = web.app.clock.now();
    html! {
        dl.meta {
            dt { "Access" } dd { (access_badge(token.access)) }
            dt { "Status" } dd { (status_badge(token.status(now))) }
            dt { "Hint" } dd { code { (token.hint) } }
            dt { "Created" } dd { (layout::time(Some(token.created_at), "")) " by " @match &token.created_by { Some(by) => (by.username), None => "the command line" } }
            dt { "Expires" } dd { (layout::time(token.expires_at, "never")) }
            dt { "Last used" } dd { (layout::time(last_used(web, token), "never")) }
            @if token.revoked_at.is_some() { dt { "Revoked" } dd { (layout::time(token.revoked_at, "")) } }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EditToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

fn show_page(
    web: &Web,
    user: &SignedIn,
    token: &TokenRecord,
    form: Option<(&EditToken, &str)>,
    notice: Option<Markup>,
    usage: Markup,
) -> Response {
    let status = token.status(web.app.clock.now());
    let (name, description) = form.map_or((token.name.as_str(), token.description.as_str()), |(f, _)| {
        (f.name.as_str(), f.description.as_str())
    });
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / " (token.name) }
        div.page-head {
            div { h1 { (token.name) } @if !token.description.is_empty() { p.lead { (token.description) } } }
            @if user.admin {
                div.buttons {
                    @if status == TokenStatus::Active {
                        a.button href={ "/admin/tokens/" (token.id) "/regenerate" } { "Regenerate" }
                    }
                    @if status != TokenStatus::Revoked {
                        a.button.danger href={ "/admin/tokens/" (token.id) "/revoke" } { "Revoke" }
                    }
                }
            }
        }
        @if let Some(notice) = notice { (notice) }
        div.columns {
            section.card { h2 { "Details" } (details(web, token)) }
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
                        div.buttons { button.primary type="submit" { "Save" } }
                    }
                }
            }
        }
        (usage)
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
    Ok(show_page(&web, &user, &token, None, notice, usage))
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
    let parsed = TokenName::parse(&form.name).and_then(|n| Ok((n, Description::parse(&form.description)?)));
    let (name, description) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let mut response = show_page(
                &web,
                &user,
                &token,
                Some((&form, &crate::http::error::sentence(&error.to_string()))),
                None,
                usage_card(&web, id).await?,
            );
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let changes = TokenChanges {
        name: Some(name),
        description: Some(description),
        ..TokenChanges::default()
    };
    api::update_token(&web.app, id, changes, user.audit(&web, client)).await?;
    Ok(Redirect::to(&format!("/admin/tokens/{id}?done=updated")).into_response())
}

fn confirm_page(web: &Web, user: &SignedIn, token: &TokenRecord, action: &str) -> Response {
    let (title, text, button, class) = if action == "revoke" {
        (
            format!("Revoke “{}”?", token.name),
            "Every request with this token is refused from now on. This cannot be undone.",
            "Revoke token",
            "danger",
        )
    } else {
        (
            format!("Regenerate “{}”?", token.name),
            "The token gets a new secret, shown once. The current secret stops working at once, so update every script that uses it.",
            "Regenerate token",
            "primary",
        )
    };
    let body = html! {
        section.card.narrow.confirm {
            h1 { (title) }
            p { (text) }
            (details(web, token))
            form method="post" action={ "/admin/tokens/" (token.id) "/" (action) } {
                (layout::csrf(user))
                div.buttons {
                    button class=(class) type="submit" #confirm { (button) }
                    a.button.quiet href="/admin/tokens" { "Cancel" }
                }
            }
        }
    };
    layout::page(&title, user, Section::Tokens, body)
}

pub(super) async fn confirm_revoke(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let token = web.app.store.token(parse_id(&id)?).await?;
    Ok(confirm_page(&web, &user, &token, "revoke"))
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

pub(super) async fn confirm_regenerate(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let token = web.app.store.token(parse_id(&id)?).await?;
    Ok(confirm_page(&web, &user, &token, "regenerate"))
}

pub(super) async fn regenerate(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let (token, secret) = api::regenerate_token(&web.app, parse_id(&id)?, None, user.audit(&web, client)).await?;
    Ok(secret_page(&web, &user, &headers, &token, &secret, "Token regenerated"))
}
