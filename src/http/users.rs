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
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User, example = json!({
    "id": 1, "username": "ada", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
    "active": true, "admin": true, "dateCreated": "2026-11-29T13:39:17Z", "dateModified": "2026-11-29T13:39:17Z",
    "dateLogged": null
}))]
pub(super) struct UserView {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    active: bool,
    admin: bool,
    #[schema(format = DateTime)]
    date_created: String,
    #[schema(format = DateTime)]
    date_modified: String,
    #[schema(format = DateTime)]
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

/// List users (Hydra collection in JSON-LD, plain array in JSON).
#[utoipa::path(get, path = "/api/users", tag = "Users", params(super::representation::PageQuery),
    description = "Any valid credential: a Read Access token suffices.",
    security(("bearer" = [])),
    responses((status = 200, description = "A page of users",
        content((super::openapi::UserCollection = "application/ld+json"), (Vec<UserView> = "application/json")))))]
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

/// One user.
#[utoipa::path(get, path = "/api/users/{id}", tag = "Users", params(("id" = i64, Path, description = "User id")),
    description = "Any valid credential: a Read Access token suffices.",
    security(("bearer" = [])),
    responses((status = 200, description = "The user",
        content((super::openapi::UserItem = "application/ld+json"), (UserView = "application/json")))))]
async fn show(State(state): State<AppState>, format: Format, Id(id): Id) -> Result<Response, ApiError> {
    Ok(respond(format, StatusCode::OK, state.store.user(id).await?))
}

/// A new user. `admin: true` needs a signed-in administrator.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"username": "grace", "email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper"}))]
pub(super) struct CreateUser {
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    username: String,
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    active: Option<bool>,
    admin: Option<bool>,
    password: Option<String>,
}

/// Create a user.
#[utoipa::path(post, path = "/api/users", tag = "Users", request_body = CreateUser,
    description = "Needs a Full Access token or an administrator's session; `admin: true` needs an administrator's session.",
    security(("bearer" = [])),
    responses((status = 201, description = "Created",
        content((super::openapi::UserItem = "application/ld+json"), (UserView = "application/json"))),
        (status = 409, description = "The username is taken", body = super::openapi::Problem, content_type = "application/problem+json")))]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"firstName": "Grace", "active": false}))]
pub(super) struct UserBody {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    active: Option<bool>,
    admin: Option<bool>,
}

/// Replace a user's editable fields.
#[utoipa::path(put, path = "/api/users/{id}", tag = "Users", request_body = UserBody, params(("id" = i64, Path, description = "User id")),
    description = "Needs a Full Access token or an administrator's session; changing `admin` or an administrator needs an administrator's session. `username` and `email` are required.",
    security(("bearer" = [])),
    responses((status = 200, description = "The changed user",
        content((super::openapi::UserItem = "application/ld+json"), (UserView = "application/json"))),
        (status = 409, description = "The username is taken, or this is the last active administrator", body = super::openapi::Problem, content_type = "application/problem+json")))]
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

/// Change some of a user's fields.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "Users", request_body = UserBody, params(("id" = i64, Path, description = "User id")),
    description = "Needs a Full Access token or an administrator's session; changing `admin` or an administrator needs an administrator's session.",
    security(("bearer" = [])),
    responses((status = 200, description = "The changed user",
        content((super::openapi::UserItem = "application/ld+json"), (UserView = "application/json"))),
        (status = 409, description = "The username is taken, or this is the last active administrator", body = super::openapi::Problem, content_type = "application/problem+json")))]
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

/// Delete a user. Their sessions end; tokens they created stay.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "Users", params(("id" = i64, Path, description = "User id")),
    description = "Needs a Full Access token or an administrator's session; deleting an administrator needs an administrator's session.",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "This is the last active administrator", body = super::openapi::Problem, content_type = "application/problem+json")))]
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
