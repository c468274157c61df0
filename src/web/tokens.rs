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

pub fn router() -> Router<Web> {
    Router::new()
        .route("/admin/tokens", get(list).post(create))
        .route("/admin/tokens/new", get(new_form))
        .route("/admin/tokens/{id}", get(show).post(edit))
        .route("/admin/tokens/{id}/revoke", get(confirm_revoke).post(revoke))
        .route(
            "/admin/tokens/{id}/regenerate",
            get(confirm_regenerate).post(regenerate),
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

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    done: String,
}

const SORTS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("access", "Access"),
    ("created", "Created"),
    ("expires", "Expires"),
    ("used", "Last used"),
    ("status", "Status"),
];

impl ListQuery {
    fn sort(&self) -> &str {
        SORTS
            .iter()
            .map(|(k, _)| *k)
            .find(|k| *k == self.sort)
            .unwrap_or("created")
    }

    fn descending(&self) -> bool {
        match self.dir.as_str() {
            "asc" => false,
            "desc" => true,
            _ => self.sort() == "created" || self.sort() == "used",
        }
    }

    /// The list's address with another sort order, keeping the filters.
    fn sort_link(&self, key: &str) -> String {
        let dir = if self.sort() == key && !self.descending() {
            "desc"
        } else {
            "asc"
        };
        let dir = if self.sort() != key && (key == "created" || key == "used") {
            "desc"
        } else {
            dir
        };
        format!(
            "/admin/tokens?q={}&status={}&access={}&sort={key}&dir={dir}",
            encode(&self.q),
            encode(&self.status),
            encode(&self.access)
        )
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn done_notice(done: &str) -> Option<Markup> {
    let text = match done {
        "revoked" => "The token was revoked. Requests with it are now refused.",
        "updated" => "The token was saved.",
        _ => return None,
    };
    Some(layout::notice("success", text))
}

async fn list(State(web): State<Web>, user: SignedIn, Query(query): Query<ListQuery>) -> Result<Response, WebError> {
    let now = web.app.clock.now();
    let all = all_tokens(&web).await?;
    let total = all.len();
    let needle = query.q.trim().to_lowercase();
    let mut tokens: Vec<TokenRecord> = all
        .into_iter()
        .filter(|t| {
            needle.is_empty()
                || t.name.to_lowercase().contains(&needle)
                || t.description.to_lowercase().contains(&needle)
                || t.hint.to_lowercase().contains(&needle)
        })
        .filter(|t| query.status.is_empty() || t.status(now).as_str() == query.status)
        .filter(|t| query.access.is_empty() || t.access.as_str() == query.access)
        .collect();
    match query.sort() {
        "name" => tokens.sort_by_key(|t| t.name.to_lowercase()),
        "access" => tokens.sort_by_key(|t| t.access.as_str()),
        "expires" => tokens.sort_by_key(|t| t.expires_at.unwrap_or(i64::MAX)),
        "used" => tokens.sort_by_key(|t| last_used(&web, t).unwrap_or(i64::MIN)),
        "status" => tokens.sort_by_key(|t| t.status(now).as_str()),
        _ => tokens.sort_by_key(|t| (t.created_at, t.id)),
    }
    if query.descending() {
        tokens.reverse();
    }
    let header_cell = |key: &str, label: &str| {
        let sorted = query.sort() == key;
        let aria = sorted.then(|| if query.descending() { "descending" } else { "ascending" });
        let arrow = if !sorted {
            ""
        } else if query.descending() {
            " ↓"
        } else {
            " ↑"
        };
        html! { th scope="col" aria-sort=[aria] { a href=(query.sort_link(key)) { (label) (arrow) } } }
    };
    let body = html! {
        div.page-head {
            div {
                h1 { "API tokens" }
                p.lead { "Bearer tokens for scripts and integrations. Read Access tokens can only read (GET, HEAD, OPTIONS); Full Access tokens can also write." }
            }
            @if user.admin {
                a.button.primary #new-token href="/admin/tokens/new" { "New token" }
            }
        }
        @if let Some(notice) = done_notice(&query.done) { (notice) }
        @if !user.admin {
            (layout::notice("info", "You can see the tokens, but only administrators can create, change or revoke them."))
        }
        form.filters method="get" action="/admin/tokens" role="search" {
            div.field {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(query.q) placeholder="Name, description or hint";
            }
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    @for (value, label) in [("", "Any status"), ("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")] {
                        option value=(value) selected[query.status == value] { (label) }
                    }
                }
            }
            div.field {
                label for="access" { "Access" }
                select #access name="access" {
                    @for (value, label) in [("", "Any access"), ("read", "Read Access"), ("full", "Full Access")] {
                        option value=(value) selected[query.access == value] { (label) }
                    }
                }
            }
            input type="hidden" name="sort" value=(query.sort());
            input type="hidden" name="dir" value=(if query.descending() { "desc" } else { "asc" });
            div.field.actions {
                button type="submit" { "Filter" }
                @if !query.q.is_empty() || !query.status.is_empty() || !query.access.is_empty() {
                    a.button.quiet href="/admin/tokens" { "Clear" }
                }
            }
        }
        @if total == 0 {
            div.empty {
                h2 { "No API tokens yet" }
                @if user.admin {
                    p { "Create a token for each script or integration, so each can be revoked on its own." }
                    a.button.primary href="/admin/tokens/new" { "Create the first token" }
                } @else {
                    p { "An administrator has not created any token yet." }
                }
            }
        } @else if tokens.is_empty() {
            div.empty {
                h2 { "No token matches" }
                p { "Nothing among " (total) " tokens matches these filters. " a href="/admin/tokens" { "Show all tokens" } }
            }
        } @else {
            div.table-wrap {
                table.data.cards #tokens {
                    caption.visually-hidden { "API tokens, " (tokens.len()) " of " (total) }
                    thead { tr {
                        (header_cell("name", "Name"))
                        (header_cell("access", "Access"))
                        th scope="col" { "Hint" }
                        (header_cell("created", "Created"))
                        th scope="col" { "Created by" }
                        (header_cell("expires", "Expires"))
                        (header_cell("used", "Last used"))
                        (header_cell("status", "Status"))
                        @if user.admin { th scope="col" { span.visually-hidden { "Actions" } } }
                    } }
                    tbody {
                        @for token in &tokens {
                            @let status = token.status(now);
                            tr data-token-id=(token.id) data-status=(status.as_str()) {
                                td.name {
                                    a href={ "/admin/tokens/" (token.id) } { (token.name) }
                                    @if !token.description.is_empty() { div.desc { (token.description) } }
                                }
                                td data-label="Access" { (access_badge(token.access)) }
                                td data-label="Hint" { code.hint { (token.hint) } }
                                td data-label="Created" { (layout::date(Some(token.created_at), "")) }
                                td data-label="Created by" { @match &token.created_by { Some(by) => (by.username), None => span.muted title="the command line" { "CLI" } } }
                                td data-label="Expires" { (layout::date(token.expires_at, "never")) }
                                td data-label="Last used" { (layout::time(last_used(&web, token), "never")) }
                                td data-label="Status" { (status_badge(status)) }
                                @if user.admin {
                                    td.row-actions {
                                        a href={ "/admin/tokens/" (token.id) } aria-label={ "Edit " (token.name) } { "Edit" }
                                        @if status == TokenStatus::Active {
                                            a href={ "/admin/tokens/" (token.id) "/regenerate" } aria-label={ "Regenerate " (token.name) } { "Regenerate" }
                                        }
                                        @if status != TokenStatus::Revoked {
                                            a.danger href={ "/admin/tokens/" (token.id) "/revoke" } aria-label={ "Revoke " (token.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted.count { "Showing " (tokens.len()) " of " (total) " tokens." }
        }
    };
    Ok(layout::page("API tokens", &user, Section::Tokens, body))
}

#[derive(Deserialize)]
struct NewToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    expires_on: String,
    /// A random id per rendered form, so sending the same form twice creates one token.
    #[serde(default)]
    form_id: String,
}

impl Default for NewToken {
    fn default() -> Self {
        let mut bytes = [0u8; 16];
        // Without randomness the form still works; it only loses its protection against
        // being sent twice, which `create` then does not check.
        let form_id = getrandom::getrandom(&mut bytes)
            .map(|()| hex::encode(bytes))
            .unwrap_or_default();
        Self {
            name: String::new(),
            description: String::new(),
            access: "read".into(),
            expiry: "30d".into(),
            expires_on: String::new(),
            form_id,
        }
    }
}

const EXPIRIES: [(&str, &str); 5] = [
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("date", "On a date…"),
    ("never", "Never"),
];

fn new_token_page(user: &SignedIn, form: &NewToken, error: Option<&str>) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / New token" }
        section.card.form-card {
            h1 { "New API token" }
            @if let Some(error) = error { (layout::notice("error", error)) }
            form.stack method="post" action="/admin/tokens" {
                (layout::csrf(user))
                input type="hidden" name="form_id" value=(form.form_id);
                label for="name" { "Name" }
                input #name name="name" required maxlength="100" value=(form.name) autofocus
                    placeholder="e.g. Nightly product export" aria-describedby="name-help";
                p.help #name-help { "Say what uses the token, so you know what breaks if you revoke it." }
                label for="description" { "Description " span.hint { "(optional)" } }
                textarea #description name="description" rows="2" maxlength="1000" { (form.description) }
                fieldset {
                    legend { "Access" }
                    label.choice {
                        input type="radio" name="access" value="read" checked[form.access != "full"];
                        span { strong { "Read Access" } " — GET, HEAD and OPTIONS only. Enough for exports and reports." }
                    }
                    label.choice {
                        input type="radio" name="access" value="full" checked[form.access == "full"];
                        span { strong { "Full Access" } " — can also create, change and delete data." }
                    }
                }
                div.row {
                    div.field {
                        label for="expiry" { "Expires" }
                        select #expiry name="expiry" {
                            @for (value, label) in EXPIRIES {
                                option value=(value) selected[form.expiry == value] { (label) }
                            }
                        }
                    }
                    div.field #expires-on-field {
                        label for="expires_on" { "Date " span.hint { "(when “On a date”)" } }
                        input #expires_on type="date" name="expires_on" value=(form.expires_on);
                    }
                }
                div.buttons {
                    button.primary type="submit" { "Create token" }
                    a.button.quiet href="/admin/tokens" { "Cancel" }
                }
            }
        }
    };
    layout::page("New API token", user, Section::Tokens, body)
}

async fn new_form(user: SignedIn) -> Result<Response, WebError> {
    user.require_admin()?;
    Ok(new_token_page(&user, &NewToken::default(), None))
}

fn parse_new(form: &NewToken, now: UnixTime) -> Result<TokenRequest, String> {
    let field = |e: Invalid| capitalised(&e.to_string());
    let access = Access::parse(&form.access).ok_or("Access: choose Read Access or Full Access.")?;
    let days = |d: i64| Some(now + d * 86_400);
    let expires_at = match form.expiry.as_str() {
        "7d" => days(7),
        "30d" => days(30),
        "90d" => days(90),
        "never" => None,
        "date" if form.expires_on.trim().is_empty() => return Err("Expires: pick a date.".into()),
        "date" => crate::issue::parse_expiry(form.expires_on.trim(), now).map_err(|e| format!("Expires: {e}."))?,
        _ => return Err("Expires: choose 7, 30 or 90 days, a date, or never.".into()),
    };
    Ok(TokenRequest {
        name: TokenName::parse(&form.name).map_err(field)?,
        description: Description::parse(&form.description).map_err(field)?,
        access,
        expires_at,
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| format!("{}{}.", c.to_uppercase(), chars.as_str()))
}

/// The address scripts reach this installation at, for the snippets.
fn base_url(web: &Web, headers: &HeaderMap) -> String {
    web.app.settings.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    })
}

/// The one page that shows a secret: never cached, never redirected to.
fn secret_page(
    web: &Web,
    user: &SignedIn,
    headers: &HeaderMap,
    token: &TokenRecord,
    secret: &TokenSecret,
    heading: &str,
) -> Response {
    let base = base_url(web, headers);
    let value = secret.expose();
    let curl = format!("curl -H \"Authorization: Bearer {value}\" \\\n  {base}/api/users");
    let python = format!(
        "import requests\n\nbearer_token = \"{value}\"\nheaders = {{\"Authorization\": f\"Bearer {{bearer_token}}\"}}\nresponse = requests.get(\"{base}/api/users\", headers=headers)\nif response.status_code == 200:\n    users = response.json()\nelse:\n    print(response.content)"
    );
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / " (token.name) }
        section.card.secret-card #token-created {
            h1 { (heading) }
            div.notice.warning role="alert" {
                strong { "Copy this token now — you won't see it again." }
                " Portcullis keeps only a digest of it. If it is lost, regenerate the token."
            }
            div.secret-box {
                label for="token-secret" { (token.name) " · " (access_badge(token.access)) }
                div.copy-row {
                    input #token-secret.secret readonly value=(value) spellcheck="false" autocomplete="off" aria-label="The new token";
                    button.primary type="button" data-copy="token-secret" { "Copy" }
                }
                p.muted { "Expires: " (layout::time(token.expires_at, "never")) }
            }
            h2 { "Use it" }
            div.snippet {
                div.snippet-head { span { "curl" } button type="button" data-copy="curl-snippet" { "Copy" } }
                pre { code #curl-snippet { (curl) } }
            }
            div.snippet {
                div.snippet-head { span { "Python (requests)" } button type="button" data-copy="python-snippet" { "Copy" } }
                pre { code #python-snippet { (python) } }
            }
            div.buttons { a.button href="/admin/tokens" #done { "Done, I copied it" } }
        }
    };
    let mut response = layout::page(heading, user, Section::Tokens, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

async fn create(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<NewToken>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let request = match parse_new(&form, web.app.clock.now()) {
        Ok(request) => request,
        Err(message) => {
            let mut response = new_token_page(&user, &form, Some(&message));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let now = web.app.clock.now();
    let form_id = form.form_id.as_str();
    if !form_id.is_empty() {
        if let Err(earlier) = web.web.claim_form(form_id, now) {
            return Ok(already_sent(&user, earlier));
        }
    }
    let created = api::create_token(&web.app, request, user.audit(&web, client)).await;
    if !form_id.is_empty() {
        web.web
            .settle_form(form_id, created.as_ref().ok().map(|(token, _)| token.id), now);
    }
    let (token, secret) = created?;
    let mut response = secret_page(&web, &user, &headers, &token, &secret, "Token created");
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// The answer to a "New token" form sent again (a reload of the "token created" page): no
/// second token, and a pointer to the first one, whose secret was shown once.
fn already_sent(user: &SignedIn, earlier: super::SentForm) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / Already created" }
        section.card.form-card {
            h1 { "This form was already sent" }
            @match earlier {
                super::SentForm::Created { token_id, .. } => {
                    p { "It created " a href={ "/admin/tokens/" (token_id) } { "this token" } ", and no second one. "
                        "Its secret was shown once and cannot be shown again; if you did not copy it, regenerate the token." }
                }
                super::SentForm::Pending { .. } => {
                    p { "It is still being handled; no second token was created. Look for it in the " a href="/admin/tokens" { "token list" } "." }
                }
            }
            div.buttons { a.button href="/admin/tokens/new" { "New token" } }
        }
    };
    let mut response = layout::page("Already created", user, Section::Tokens, body);
    *response.status_mut() = StatusCode::CONFLICT;
    response
}

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
struct EditToken {
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
    };
    layout::page(&token.name, user, Section::Tokens, body)
}

#[derive(Deserialize, Default)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn show(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    let token = web.app.store.token(parse_id(&id)?).await?;
    let notice = done_notice(&done.done);
    Ok(show_page(&web, &user, &token, None, notice))
}

async fn edit(
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
                Some((&form, &capitalised(&error.to_string()))),
                None,
            );
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    let changes = TokenChanges {
        name: Some(name),
        description: Some(description),
        expires_at: None,
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

async fn confirm_revoke(State(web): State<Web>, user: SignedIn, Path(id): Path<String>) -> Result<Response, WebError> {
    user.require_admin()?;
    let token = web.app.store.token(parse_id(&id)?).await?;
    Ok(confirm_page(&web, &user, &token, "revoke"))
}

async fn revoke(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    api::revoke_token(&web.app, parse_id(&id)?, user.audit(&web, client)).await?;
    Ok(Redirect::to("/admin/tokens?done=revoked").into_response())
}

async fn confirm_regenerate(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let token = web.app.store.token(parse_id(&id)?).await?;
    Ok(confirm_page(&web, &user, &token, "regenerate"))
}

async fn regenerate(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let (token, secret) = api::regenerate_token(&web.app, parse_id(&id)?, user.audit(&web, client)).await?;
    Ok(secret_page(&web, &user, &headers, &token, &secret, "Token regenerated"))
}
