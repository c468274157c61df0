//! `/api/users`: Quable-compatible user resources.

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, Id, Principal};
use super::representation::{Format, Kind, Pagination};
use crate::auth::Endpoint;
use crate::clock::rfc3339;
use crate::domain::{Email, Password, PersonName, Username};
use crate::store::{NewUser, User, UserChanges};

/// JSON-LD identity of users.
pub const USERS: Kind = Kind {
    type_name: "User",
    path: "/api/users",
};

/// The routes, each behind the authentication layer for its endpoint.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/users",
            get(list).post(create).route_layer(state.guard(Endpoint::Users)),
        )
        .route(
            "/api/users/{id}",
            get(show)
                .put(replace)
                .patch(update)
                .delete(remove)
                .route_layer(state.guard(Endpoint::User)),
        )
}

/// A user as the API shows it; never a password hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    active: bool,
    admin: bool,
    date_created: String,
    date_modified: String,
    date_logged: Option<String>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            active: user.active,
            admin: user.admin,
            date_created: rfc3339(user.date_created),
            date_modified: rfc3339(user.date_modified),
            date_logged: user.date_logged.map(rfc3339),
        }
    }
}

fn respond(format: Format, status: StatusCode, user: User) -> Response {
    let id = user.id;
    USERS.item(
        format,
        status,
        id,
        serde_json::to_value(UserView::from(user)).unwrap_or_default(),
    )
}

async fn list(
    State(state): State<AppState>,
    format: Format,
    Pagination(page): Pagination,
) -> Result<Response, ApiError> {
    let (users, total) = state.store.list_users(page).await?;
    let members = users
        .into_iter()
        .map(|u| (u.id, serde_json::to_value(UserView::from(u)).unwrap_or_default()))
        .collect();
    Ok(USERS.collection(format, page, total, members))
}

async fn show(State(state): State<AppState>, format: Format, Id(id): Id) -> Result<Response, ApiError> {
    Ok(respond(format, StatusCode::OK, state.store.user(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateUser {
    username: String,
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    active: Option<bool>,
    admin: Option<bool>,
    password: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    let admin = body.admin.unwrap_or(false);
    if admin {
        principal.require(&Method::POST, Endpoint::AdminRights)?;
    }
    let password = body.password.map(Password::parse).transpose()?;
    let new = NewUser {
        username: Username::parse(&body.username)?,
        email: Email::parse(&body.email)?,
        first_name: PersonName::parse("firstName", &body.first_name)?,
        last_name: PersonName::parse("lastName", &body.last_name)?,
        active: body.active.unwrap_or(true),
        admin,
        password_hash: match password {
            Some(password) => Some(crate::password::hash(password).await.map_err(ApiError::Unexpected)?),
            None => None,
        },
    };
    let user = state.store.create_user(new, client.audit(&principal, &state)).await?;
    Ok(respond(format, StatusCode::CREATED, user))
}

/// Fields of PUT (all editable fields; `active` and `admin` keep their value when left out)
/// and PATCH (any subset).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UserBody {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    active: Option<bool>,
    admin: Option<bool>,
}

async fn replace(
    state: State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    id: Id,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Response, ApiError> {
    if body.username.is_none() || body.email.is_none() {
        return Err(ApiError::Unprocessable(
            "PUT replaces the user: `username` and `email` are required.".into(),
        ));
    }
    let body = UserBody {
        first_name: Some(body.first_name.unwrap_or_default()),
        last_name: Some(body.last_name.unwrap_or_default()),
        ..body
    };
    apply(state, principal, client, format, id, Method::PUT, body).await
}

async fn update(
    state: State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    id: Id,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Response, ApiError> {
    apply(state, principal, client, format, id, Method::PATCH, body).await
}

async fn apply(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    format: Format,
    Id(id): Id,
    method: Method,
    body: UserBody,
) -> Result<Response, ApiError> {
    let current = state.store.user(id).await?;
    let changes = UserChanges {
        username: Username::parse(body.username.as_deref().unwrap_or(&current.username))?,
        email: Email::parse(body.email.as_deref().unwrap_or(&current.email))?,
        first_name: PersonName::parse("firstName", body.first_name.as_deref().unwrap_or(&current.first_name))?,
        last_name: PersonName::parse("lastName", body.last_name.as_deref().unwrap_or(&current.last_name))?,
        active: body.active.unwrap_or(current.active),
        admin: body.admin.unwrap_or(current.admin),
    };
    let audit = client.audit(&principal, &state);
    let user = change_user(&state, &principal, &method, &current, changes, audit).await?;
    Ok(respond(format, StatusCode::OK, user))
}

/// Applies `changes` to `current` under the rules the API and the web admin share: touching
/// an admin or the admin role needs an admin session, and the last active admin stays one.
pub(crate) async fn change_user(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    current: &User,
    changes: UserChanges,
    audit: crate::store::AuditContext,
) -> Result<User, ApiError> {
    if current.admin || changes.admin != current.admin {
        principal.require(method, Endpoint::AdminRights)?;
    }
    if current.admin && current.active && !(changes.admin && changes.active) {
        ensure_another_admin(state).await?;
    }
    let user = state.store.update_user(current.id, changes, audit).await?;
    state.verifier.invalidate();
    Ok(user)
}

async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientIp,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    let current = state.store.user(id).await?;
    if current.admin {
        principal.require(&Method::DELETE, Endpoint::AdminRights)?;
        if current.active {
            ensure_another_admin(&state).await?;
        }
    }
    state.store.delete_user(id, client.audit(&principal, &state)).await?;
    state.verifier.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses to remove the last active administrator: nobody could manage tokens afterwards.
pub(crate) async fn ensure_another_admin(state: &AppState) -> Result<(), ApiError> {
    if state.store.count_active_admins().await? <= 1 {
        return Err(ApiError::Conflict(
            "this is the last active administrator; make another user an administrator first".into(),
        ));
    }
    Ok(())
}
