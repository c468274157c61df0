//! System → Users: the list, creating users, and (for administrators) activating,
//! deactivating, resetting passwords and giving or taking the admin role. Changes go through
//! the API's own rules (`http::users::change_user`), the last-admin rule among them.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::Web;
use super::error::WebError;
use super::guard::SignedIn;
use super::layout::{self, Section};
use super::tokens::parse_id;
use crate::domain::{Email, Invalid, Password, PersonName, Username};
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::http::users::change_user;
use crate::store::{NewUser, PageRequest, User, UserChanges};

pub fn router() -> Router<Web> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/new", get(new_form))
        .route("/admin/users/{id}", get(show))
        .route("/admin/users/{id}/active", post(set_active))
        .route("/admin/users/{id}/admin", post(set_admin))
        .route("/admin/users/{id}/password", post(set_password))
}

async fn all_users(web: &Web) -> Result<Vec<User>, WebError> {
    let mut all = Vec::new();
    for page in 1..=1000 {
        let (users, total) = web.app.store.list_users(PageRequest { page, limit: 100 }).await?;
        let done = users.len() < 100 || all.len() + users.len() >= total as usize;
        all.extend(users);
        if done {
            break;
        }
    }
    Ok(all)
}

fn full_name(user: &User) -> String {
    format!("{} {}", user.first_name, user.last_name).trim().to_owned()
}

fn role_badges(user: &User) -> Markup {
    html! {
        @if user.admin { span.badge.admin { "Admin" } } @else { span.badge.plain { "User" } }
        " "
        @if user.active { span.badge.status-active { "active" } } @else { span.badge.status-revoked { "inactive" } }
    }
}

#[derive(Deserialize, Default)]
struct Done {
    #[serde(default)]
    done: String,
}

fn done_notice(done: &str) -> Option<Markup> {
    let text = match done {
        "created" => "The user was created.",
        "activated" => "The user was activated.",
        "deactivated" => "The user was deactivated and signed out everywhere.",
        "promoted" => "The user is now an administrator.",
        "demoted" => "The user is no longer an administrator.",
        "password" => "The password was reset; the user's sessions were ended.",
        _ => return None,
    };
    Some(layout::notice("success", text))
}

async fn list(State(web): State<Web>, user: SignedIn, Query(done): Query<Done>) -> Result<Response, WebError> {
    let users = all_users(&web).await?;
    let body = html! {
        div.page-head {
            div {
                h1 { "Users" }
                p.lead { "People who sign in to this admin. Administrators manage tokens and users; API tokens never belong to a user." }
            }
            @if user.admin { a.button.primary #new-user href="/admin/users/new" { "New user" } }
        }
        @if let Some(notice) = done_notice(&done.done) { (notice) }
        div.table-wrap {
            table.data #users {
                caption.visually-hidden { "Users" }
                thead { tr {
                    th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Email" }
                    th scope="col" { "Role" } th scope="col" { "Last sign-in" } th scope="col" { "Created" }
                } }
                tbody {
                    @for u in &users {
                        tr data-user-id=(u.id) {
                            td.name { a href={ "/admin/users/" (u.id) } { (u.username) } @if u.id == user.user_id { " " span.muted { "(you)" } } }
                            td { (full_name(u)) }
                            td { (u.email) }
                            td { (role_badges(u)) }
                            td { (layout::time(u.date_logged, "never")) }
                            td { (layout::time(Some(u.date_created), "")) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Users", &user, Section::Users, body))
}

#[derive(Deserialize, Default)]
struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password: String,
    admin: Option<String>,
}

fn new_user_page(user: &SignedIn, form: &NewUserForm, error: Option<&str>) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/users" { "Users" } " / New user" }
        section.card.form-card {
            h1 { "New user" }
            @if let Some(error) = error { (layout::notice("error", error)) }
            form.stack method="post" action="/admin/users" {
                (layout::csrf(user))
                label for="username" { "Username" }
                input #username name="username" required maxlength="64" autocomplete="off" value=(form.username) autofocus;
                label for="email" { "Email" }
                input #email type="email" name="email" required value=(form.email);
                div.row {
                    div.field { label for="first_name" { "First name" } input #first_name name="first_name" value=(form.first_name); }
                    div.field { label for="last_name" { "Last name" } input #last_name name="last_name" value=(form.last_name); }
                }
                label for="password" { "Password " span.hint { "— at least 8 characters; share it safely" } }
                input #password type="password" name="password" required minlength="8" autocomplete="new-password";
                label.choice {
                    input type="checkbox" name="admin" value="on" checked[form.admin.is_some()];
                    span { strong { "Administrator" } " — may manage API tokens and users." }
                }
                div.buttons {
                    button.primary type="submit" { "Create user" }
                    a.button.quiet href="/admin/users" { "Cancel" }
                }
            }
        }
    };
    layout::page("New user", user, Section::Users, body)
}

async fn new_form(user: SignedIn) -> Result<Response, WebError> {
    user.require_admin()?;
    Ok(new_user_page(&user, &NewUserForm::default(), None))
}

async fn create(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Form(form): Form<NewUserForm>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let parsed = (|| {
        Ok::<_, Invalid>((
            Username::parse(form.username.trim())?,
            Email::parse(form.email.trim())?,
            PersonName::parse("firstName", &form.first_name)?,
            PersonName::parse("lastName", &form.last_name)?,
            Password::parse(form.password.clone())?,
        ))
    })();
    let (username, email, first_name, last_name, password) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let mut response = new_user_page(&user, &form, Some(&crate::http::error::sentence(&error.to_string())));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let new = NewUser {
        username,
        email,
        first_name,
        last_name,
        active: true,
        admin: form.admin.is_some(),
        password_hash: Some(crate::password::hash(password).await.map_err(ApiError::Unexpected)?),
    };
    match web.app.store.create_user(new, user.audit(&web, client)).await {
        Ok(_) => Ok(Redirect::to("/admin/users?done=created").into_response()),
        Err(crate::store::StoreError::Conflict(_)) => {
            let mut response = new_user_page(&user, &form, Some("This username is taken."));
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn show(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    let target = web.app.store.user(parse_id(&id)?).await?;
    let form_to = |action: &str| format!("/admin/users/{}/{action}", target.id);
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/users" { "Users" } " / " (target.username) }
        div.page-head { div { h1 { (target.username) } p.lead { (role_badges(&target)) } } }
        @if let Some(notice) = done_notice(&done.done) { (notice) }
        div.columns {
            section.card {
                h2 { "Details" }
                dl.meta {
                    dt { "Name" } dd { @if full_name(&target).is_empty() { span.muted { "—" } } @else { (full_name(&target)) } }
                    dt { "Email" } dd { (target.email) }
                    dt { "Created" } dd { (layout::time(Some(target.date_created), "")) }
                    dt { "Changed" } dd { (layout::time(Some(target.date_modified), "")) }
                    dt { "Last sign-in" } dd { (layout::time(target.date_logged, "never")) }
                }
            }
            @if user.admin {
                section.card {
                    h2 { "Manage" }
                    form.inline method="post" action=(form_to("active")) {
                        (layout::csrf(&user))
                        @if target.active {
                            input type="hidden" name="active" value="false";
                            button.danger type="submit" #deactivate { "Deactivate" }
                            span.help { "Signs the user out and blocks sign-in. Their tokens keep working." }
                        } @else {
                            input type="hidden" name="active" value="true";
                            button type="submit" #activate { "Activate" }
                        }
                    }
                    form.inline method="post" action=(form_to("admin")) {
                        (layout::csrf(&user))
                        @if target.admin {
                            input type="hidden" name="admin" value="false";
                            button type="submit" #demote { "Remove admin role" }
                        } @else {
                            input type="hidden" name="admin" value="true";
                            button type="submit" #promote { "Make administrator" }
                        }
                    }
                    form.stack method="post" action=(form_to("password")) {
                        (layout::csrf(&user))
                        label for="password" { "New password " span.hint { "— at least 8 characters" } }
                        input #password type="password" name="password" required minlength="8" autocomplete="new-password";
                        div.buttons { button type="submit" { "Reset password" } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&target.username, &user, Section::Users, body))
}

#[derive(Deserialize)]
struct Flag {
    #[serde(default)]
    active: String,
    #[serde(default)]
    admin: String,
}

async fn change(
    web: &Web,
    user: &SignedIn,
    client: ClientIp,
    id: &str,
    apply: impl FnOnce(&mut UserChanges),
) -> Result<i64, WebError> {
    user.require_admin()?;
    let current = web.app.store.user(parse_id(id)?).await?;
    let mut changes = UserChanges {
        username: Username::parse(&current.username).map_err(ApiError::from)?,
        email: Email::parse(&current.email).map_err(ApiError::from)?,
        first_name: PersonName::parse("firstName", &current.first_name).map_err(ApiError::from)?,
        last_name: PersonName::parse("lastName", &current.last_name).map_err(ApiError::from)?,
        active: current.active,
        admin: current.admin,
    };
    apply(&mut changes);
    let audit = user.audit(web, client);
    change_user(&web.app, &user.principal(), &Method::PATCH, &current, changes, audit).await?;
    Ok(current.id)
}

async fn set_active(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
    Form(flag): Form<Flag>,
) -> Result<Response, WebError> {
    let active = flag.active == "true";
    let id = change(&web, &user, client, &id, |c| c.active = active).await?;
    let done = if active { "activated" } else { "deactivated" };
    Ok(Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response())
}

async fn set_admin(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
    Form(flag): Form<Flag>,
) -> Result<Response, WebError> {
    let admin = flag.admin == "true";
    let id = change(&web, &user, client, &id, |c| c.admin = admin).await?;
    let done = if admin { "promoted" } else { "demoted" };
    Ok(Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

async fn set_password(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let target = web.app.store.user(parse_id(&id)?).await?;
    let password = Password::parse(form.password).map_err(ApiError::from)?;
    let hash = crate::password::hash(password).await.map_err(ApiError::Unexpected)?;
    web.app
        .store
        .set_password_hash(target.id, hash, user.audit(&web, client))
        .await?;
    web.app.verifier.invalidate();
    Ok(Redirect::to(&format!("/admin/users/{}?done=password", target.id)).into_response())
}
