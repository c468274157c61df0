//! First-run setup (`/setup?code=…`), sign-in and sign-out.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, extract::FromRequestParts};
use maud::{Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::Web;
use super::error::WebError;
use super::guard::{self, SignedIn};
use super::layout;
use super::throttle;
use crate::domain::{Email, Password, PersonName, Username};
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::http::sessions::password_sign_in;
use crate::store::{Actor, AuditContext, NewUser};

pub fn router() -> Router<Web> {
    Router::new()
        .route("/setup", get(setup_form).post(setup))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
}

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// Whether `code` is the unused setup code. Compared in constant time.
fn code_matches(web: &Web, code: &str) -> bool {
    let stored = web.web.setup_code.lock().unwrap_or_else(|e| e.into_inner());
    stored
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(code.as_bytes())))
}

fn setup_refused() -> Response {
    let body = html! {
        section.card.narrow {
            h1 { "Setup link not valid" }
            p { "This setup link is wrong, was already used, or Portcullis already has users. "
                "Sign in with an existing account, or create an administrator on the server with "
                code { "portcullis user create --admin" } "." }
            p { a.button href="/admin/login" { "Go to sign-in" } }
        }
    };
    (StatusCode::FORBIDDEN, layout::bare("Setup", body)).into_response()
}

#[derive(Deserialize, Default)]
struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

fn setup_page(form: &SetupForm, error: Option<&str>) -> Markup {
    html! {
        section.card.narrow {
            h1 { "Welcome to Portcullis" }
            p.lead { "Create the first administrator. This account manages API tokens and users." }
            @if let Some(error) = error { (layout::notice("error", error)) }
            form.stack method="post" action="/setup" {
                input type="hidden" name="code" value=(form.code);
                label for="username" { "Username" }
                input #username name="username" required autocomplete="username" autofocus value=(form.username);
                label for="email" { "Email" }
                input #email type="email" name="email" required autocomplete="email" value=(form.email);
                label for="password" { "Password" span.hint { " — at least 8 characters" } }
                input #password type="password" name="password" required minlength="8" autocomplete="new-password";
                label for="confirm" { "Repeat the password" }
                input #confirm type="password" name="confirm" required minlength="8" autocomplete="new-password";
                button.primary type="submit" { "Create administrator" }
            }
        }
    }
}

async fn setup_form(State(web): State<Web>, Query(query): Query<CodeQuery>) -> Result<Response, WebError> {
    if !code_matches(&web, &query.code) || web.app.store.count_users().await? > 0 {
        return Ok(setup_refused());
    }
    let form = SetupForm {
        code: query.code,
        ..SetupForm::default()
    };
    Ok(layout::bare("Set up", setup_page(&form, None)))
}

async fn setup(State(web): State<Web>, client: ClientIp, Form(form): Form<SetupForm>) -> Result<Response, WebError> {
    if !code_matches(&web, &form.code) || web.app.store.count_users().await? > 0 {
        return Ok(setup_refused());
    }
    let invalid = |message: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::bare("Set up", setup_page(&form, Some(&message))),
        )
            .into_response()
    };
    if form.password != form.confirm {
        return Ok(invalid("The two passwords differ.".into()));
    }
    let parsed = (|| {
        Ok::<_, crate::domain::Invalid>((
            Username::parse(form.username.trim())?,
            Email::parse(form.email.trim())?,
            Password::parse(form.password.clone())?,
        ))
    })();
    let (username, email, password) = match parsed {
        Ok(parsed) => parsed,
        Err(invalid_field) => return Ok(invalid(crate::http::error::sentence(&invalid_field.to_string()))),
    };
    let hash = crate::password::hash(password).await.map_err(ApiError::Unexpected)?;
    // Take the code before creating the user, so two racing requests cannot both use it.
    let code = {
        let mut stored = web.web.setup_code.lock().unwrap_or_else(|e| e.into_inner());
        match stored.as_deref() {
            Some(s) if bool::from(s.as_bytes().ct_eq(form.code.as_bytes())) => stored.take(),
            _ => None,
        }
    };
    if code.is_none() {
        return Ok(setup_refused());
    }
    let new = NewUser {
        username,
        email,
        first_name: PersonName::parse("firstName", "").map_err(ApiError::from)?,
        last_name: PersonName::parse("lastName", "").map_err(ApiError::from)?,
        active: true,
        admin: true,
        password_hash: Some(hash),
    };
    let audit = AuditContext {
        actor: Actor::Anonymous,
        at: web.app.clock.now(),
        client_ip: client.0,
    };
    if let Err(error) = web.app.store.create_user(new, audit).await {
        // Nothing was created: the code stays usable.
        *web.web.setup_code.lock().unwrap_or_else(|e| e.into_inner()) = code;
        return Err(error.into());
    }
    Ok(Redirect::to("/admin/login?welcome=1").into_response())
}

#[derive(Deserialize)]
struct LoginQuery {
    welcome: Option<String>,
    ended: Option<String>,
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn login_page(username: &str, notice: Option<(&str, &str)>) -> Markup {
    html! {
        section.card.narrow {
            h1 { "Sign in" }
            p.lead { "Manage the API tokens of this Portcullis installation." }
            @if let Some((kind, text)) = notice { (layout::notice(kind, text)) }
            form.stack method="post" action="/admin/login" {
                label for="username" { "Username" }
                input #username name="username" required autocomplete="username" autofocus value=(username);
                label for="password" { "Password" }
                input #password type="password" name="password" required autocomplete="current-password";
                button.primary type="submit" { "Sign in" }
            }
        }
    }
}

async fn login_form(
    State(web): State<Web>,
    Query(query): Query<LoginQuery>,
    request: axum::extract::Request,
) -> Result<Response, WebError> {
    let (mut parts, _) = request.into_parts();
    if SignedIn::from_request_parts(&mut parts, &web).await.is_ok() {
        return Ok(Redirect::to("/admin/tokens").into_response());
    }
    let notice = if query.welcome.is_some() {
        Some(("success", "The administrator was created. Sign in with it."))
    } else if query.ended.is_some() {
        Some(("info", "You were signed out."))
    } else {
        None
    };
    Ok(layout::bare("Sign in", login_page("", notice)))
}

async fn login(
    State(web): State<Web>,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let now = web.app.clock.now();
    let keys = throttle::keys(client.0.as_deref(), &form.username);
    if let Err(wait) = web.web.throttle.check(&keys, now) {
        let text = format!("Too many failed sign-ins. Try again in {wait} s.");
        let page = layout::bare("Sign in", login_page(&form.username, Some(("error", &text))));
        let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
        if let Ok(value) = wait.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let result = password_sign_in(&web.app, form.username.trim(), form.password, client.0.clone()).await;
    let (user, secret, expires_at) = match result {
        Ok(signed_in) => signed_in,
        Err(ApiError::LoginFailed) => {
            web.web.throttle.failed(&keys, now);
            let page = layout::bare(
                "Sign in",
                login_page(&form.username, Some(("error", "The username or password is wrong."))),
            );
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    web.web.throttle.succeeded(&user.username);
    // A fresh session at every sign-in: a session the browser already had is ended.
    end_session(&web, &headers).await?;
    let mut response = Redirect::to("/admin/tokens").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        guard::set_cookie(secret.expose(), expires_at - now, web.web.secure_cookies),
    );
    Ok(response)
}

/// Ends the session the request's cookie names, if it is live.
async fn end_session(web: &Web, headers: &HeaderMap) -> Result<(), WebError> {
    let Some(secret) = guard::session_cookie(headers) else {
        return Ok(());
    };
    if let Ok(Ok(crate::auth::Grant::Session { id, .. })) = web.app.verifier.verify(&secret).await {
        web.app.store.revoke_session(id, web.app.clock.now()).await?;
        web.app.verifier.invalidate();
        guard::forget(web, id);
    }
    Ok(())
}

async fn logout(State(web): State<Web>, headers: HeaderMap) -> Result<Response, WebError> {
    end_session(&web, &headers).await?;
    let mut response = Redirect::to("/admin/login?ended=1").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, guard::clear_cookie(web.web.secure_cookies));
    Ok(response)
}
