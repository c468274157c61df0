//! System → Webhooks (administrators only): endpoints, their signing secret shown once at
//! creation or rotation, enabling and disabling, a test ping, deletion after a confirmation,
//! and each endpoint's delivery log. Changes go through the API's own functions.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::Web;
use super::error::WebError;
use super::guard::SignedIn;
use super::layout::{self, Section};
use super::tokens::parse_id;
use crate::http::error::ApiError;
use crate::http::extract::ClientIp;
use crate::http::webhooks as api;
use crate::store::{DeliveryStatus, PageRequest, WebhookEndpoint, WebhookEndpointChanges};
use crate::webhooks::EVENT_TYPES;

/// Deliveries shown on an endpoint's page.
const LOG_LENGTH: u32 = 50;

pub fn router() -> Router<Web> {
    Router::new()
        .route("/admin/webhooks", get(list).post(create))
        .route("/admin/webhooks/new", get(new_form))
        .route("/admin/webhooks/{id}", get(show))
        .route("/admin/webhooks/{id}/active", post(set_active))
        .route("/admin/webhooks/{id}/test", post(test))
        .route(
            "/admin/webhooks/{id}/rotate",
            get(|w, u, p| confirm(w, u, p, "rotate")).post(rotate),
        )
        .route(
            "/admin/webhooks/{id}/delete",
            get(|w, u, p| confirm(w, u, p, "delete")).post(delete),
        )
}

fn events_text(endpoint: &WebhookEndpoint) -> String {
    if endpoint.events.is_empty() {
        "all events".into()
    } else {
        endpoint.events.join(", ")
    }
}

fn active_badge(active: bool) -> Markup {
    if active {
        html! { span.badge.status-active { "active" } }
    } else {
        html! { span.badge.status-revoked { "disabled" } }
    }
}

fn delivery_badge(status: DeliveryStatus) -> Markup {
    let class = match status {
        DeliveryStatus::Succeeded => "status-active",
        DeliveryStatus::Pending => "status-expired",
        DeliveryStatus::Failed => "status-revoked",
    };
    html! { span class={ "badge " (class) } { (status.as_str()) } }
}

#[derive(Deserialize, Default)]
struct Done {
    #[serde(default)]
    done: String,
}

fn done_notice(done: &str) -> Option<Markup> {
    let text = match done {
        "deleted" => "The webhook was deleted.",
        "enabled" => "The webhook is active: it receives new events.",
        "disabled" => "The webhook is disabled: it receives nothing until enabled.",
        "test" => "A ping event was queued; it appears in the delivery log below.",
        _ => return None,
    };
    Some(layout::notice("success", text))
}

async fn list(State(web): State<Web>, user: SignedIn, Query(done): Query<Done>) -> Result<Response, WebError> {
    user.require_admin()?;
    let (endpoints, _) = web.app.store.list_webhooks(PageRequest { page: 1, limit: 100 }).await?;
    let body = html! {
        div.page-head {
            div {
                h1 { "Webhooks" }
                p.lead { "Endpoints that receive signed notifications when tokens are created, revoked, regenerated, disabled, about to expire or expired. See docs/webhooks.md for verifying signatures." }
            }
            a.button.primary #new-webhook href="/admin/webhooks/new" { "New webhook" }
        }
        @if let Some(notice) = done_notice(&done.done) { (notice) }
        @if endpoints.is_empty() {
            p.muted #no-webhooks { "No webhook yet." }
        } @else {
            div.table-wrap {
                table.data #webhooks {
                    caption.visually-hidden { "Webhooks" }
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                    tbody {
                        @for e in &endpoints {
                            tr data-webhook-id=(e.id) {
                                td.name { a href={ "/admin/webhooks/" (e.id) } { (e.url) } @if !e.description.is_empty() { br; span.muted { (e.description) } } }
                                td { (events_text(e)) }
                                td { (active_badge(e.active)) }
                                td { (layout::time(Some(e.created_at), "")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Webhooks", &user, Section::Webhooks, body))
}

/// The "New webhook" form as sent: `url`, `description`, and one `events` per checked box.
#[derive(Default)]
struct NewWebhookForm {
    url: String,
    description: String,
    events: Vec<String>,
    /// A random id per rendered form, so sending the same form twice (a reload of the page
    /// that shows the secret) creates one webhook.
    form_id: String,
}

impl NewWebhookForm {
    fn blank() -> Self {
        let mut bytes = [0u8; 16];
        // Without randomness the form still works, unprotected against being sent twice.
        let form_id = getrandom::getrandom(&mut bytes)
            .map(|()| format!("webhook-{}", hex::encode(bytes)))
            .unwrap_or_default();
        Self {
            form_id,
            ..Self::default()
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "url" => form.url = value,
                "description" => form.description = value,
                "events" => form.events.push(value),
                // Only ids this page made: they cannot clash with the token form's.
                "form_id" if value.starts_with("webhook-") => form.form_id = value,
                _ => {}
            }
        }
        form
    }
}

fn new_webhook_page(user: &SignedIn, form: &NewWebhookForm, error: Option<&str>) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/webhooks" { "Webhooks" } " / New webhook" }
        section.card.form-card {
            h1 { "New webhook" }
            @if let Some(error) = error { (layout::notice("error", error)) }
            form.stack method="post" action="/admin/webhooks" {
                (layout::csrf(user))
                input type="hidden" name="form_id" value=(form.form_id);
                label for="url" { "URL " span.hint { "— http://, receives a POST per event" } }
                input #url name="url" required maxlength="2000" autocomplete="off" value=(form.url) placeholder="http://127.0.0.1:9000/hooks" autofocus;
                label for="description" { "Description " span.hint { "— optional" } }
                input #description name="description" maxlength="500" value=(form.description);
                fieldset {
                    legend { "Events " span.hint { "— none checked: all of them" } }
                    @for event in EVENT_TYPES {
                        label.choice {
                            input type="checkbox" name="events" value=(event) checked[form.events.iter().any(|e| e == event)];
                            span { code { (event) } }
                        }
                    }
                }
                div.buttons {
                    button.primary type="submit" #create-webhook { "Create webhook" }
                    a.button.quiet href="/admin/webhooks" { "Cancel" }
                }
            }
        }
    };
    layout::page("New webhook", user, Section::Webhooks, body)
}

async fn new_form(user: SignedIn) -> Result<Response, WebError> {
    user.require_admin()?;
    Ok(new_webhook_page(&user, &NewWebhookForm::blank(), None))
}

async fn create(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let form = NewWebhookForm::from_pairs(pairs);
    let fields = match api::parse_fields(Some(&form.url), Some(&form.description), Some(&form.events)) {
        Ok(fields) => fields,
        Err(ApiError::Unprocessable(why)) => {
            let mut response = new_webhook_page(&user, &form, Some(&crate::http::error::sentence(&why)));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
        Err(error) => return Err(error.into()),
    };
    let now = web.app.clock.now();
    let form_id = form.form_id.as_str();
    if !form_id.is_empty() {
        if let Err(earlier) = web.web.claim_form(form_id, now) {
            return Ok(already_sent(&user, earlier));
        }
    }
    let created = api::create_webhook(&web.app, fields, true, user.audit(&web, client)).await;
    if !form_id.is_empty() {
        web.web
            .settle_form(form_id, created.as_ref().ok().map(|endpoint| endpoint.id), now);
    }
    let endpoint = created?;
    let mut response = secret_page(&user, &endpoint, "Webhook created");
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// The answer to a "New webhook" form sent again: no second webhook, and a pointer to the
/// first one, whose secret was shown once.
fn already_sent(user: &SignedIn, earlier: crate::web::SentForm) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/webhooks" { "Webhooks" } " / Already created" }
        section.card.form-card {
            h1 { "This form was already sent" }
            @match earlier {
                // The form memory names what a form created by `token_id`; here a webhook.
                crate::web::SentForm::Created { token_id: id, .. } => {
                    p { "It created " a href={ "/admin/webhooks/" (id) } { "this webhook" } ", and no second one. "
                        "Its signing secret was shown once; if you did not copy it, rotate it." }
                }
                crate::web::SentForm::Pending { .. } => {
                    p { "It is still being handled; no second webhook was created." }
                }
            }
            div.buttons { a.button href="/admin/webhooks" { "Webhooks" } }
        }
    };
    let mut response = layout::page("Already created", user, Section::Webhooks, body);
    *response.status_mut() = StatusCode::CONFLICT;
    response
}

/// The one page that shows a signing secret: never cached, never redirected to.
fn secret_page(user: &SignedIn, endpoint: &WebhookEndpoint, heading: &str) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/webhooks" { "Webhooks" } " / " (endpoint.url) }
        section.card.secret-card #webhook-secret-shown {
            h1 { (heading) }
            div.notice.warning role="alert" {
                strong { "Copy this signing secret now — you won't see it again." }
                " Your receiver needs it to check the Portcullis-Signature header. If it is lost, rotate it."
            }
            div.secret-box {
                label for="webhook-secret" { (endpoint.url) }
                div.copy-row {
                    input #webhook-secret.secret readonly value=(endpoint.secret.expose()) spellcheck="false" autocomplete="off" aria-label="The signing secret";
                    button.primary type="button" data-copy="webhook-secret" { "Copy" }
                }
                p.muted { "Events: " (events_text(endpoint)) }
            }
            div.buttons { a.button href={ "/admin/webhooks/" (endpoint.id) } #done { "Done, I copied it" } }
        }
    };
    let mut response = layout::page(heading, user, Section::Webhooks, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

fn details(endpoint: &WebhookEndpoint) -> Markup {
    html! {
        dl.meta {
            dt { "URL" } dd { code { (endpoint.url) } }
            dt { "Events" } dd { (events_text(endpoint)) }
            dt { "Status" } dd { (active_badge(endpoint.active)) }
            dt { "Created" } dd { (layout::time(Some(endpoint.created_at), "")) " by " @match &endpoint.created_by { Some(by) => (by.username), None => "the command line" } }
        }
    }
}

async fn show(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    let endpoint = web.app.store.webhook(id).await?;
    let (deliveries, total) = web
        .app
        .store
        .list_deliveries(
            id,
            PageRequest {
                page: 1,
                limit: LOG_LENGTH,
            },
        )
        .await?;
    let action = |path: &str, label: &str, class: &str, button_id: &str| {
        html! {
            form method="post" action={ "/admin/webhooks/" (id) "/" (path) } {
                (layout::csrf(&user))
                button class=(class) type="submit" id=(button_id) { (label) }
            }
        }
    };
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/webhooks" { "Webhooks" } " / " (endpoint.url) }
        div.page-head {
            div { h1 { "Webhook " (id) } @if !endpoint.description.is_empty() { p.lead { (endpoint.description) } } }
            div.buttons {
                (action("test", "Send test event", "", "send-test"))
                @if endpoint.active { (action("active", "Disable", "", "toggle-active")) }
                @else { (action("active", "Enable", "primary", "toggle-active")) }
                a.button href={ "/admin/webhooks/" (id) "/rotate" } #rotate { "Rotate secret" }
                a.button.danger href={ "/admin/webhooks/" (id) "/delete" } #delete { "Delete" }
            }
        }
        @if let Some(notice) = done_notice(&done.done) { (notice) }
        section.card { h2 { "Details" } (details(&endpoint)) }
        section.card {
            h2 { "Delivery log" }
            @if deliveries.is_empty() {
                p.muted #no-deliveries { "Nothing sent yet." }
            } @else {
                @if total > u64::from(LOG_LENGTH) { p.muted { "The latest " (LOG_LENGTH) " of " (total) " deliveries (all of them: GET /api/webhooks/" (id) "/deliveries)." } }
                div.table-wrap {
                    table.data #deliveries {
                        caption.visually-hidden { "Delivery log" }
                        thead { tr {
                            th scope="col" { "Created" } th scope="col" { "Event" } th scope="col" { "Status" }
                            th scope="col" { "Attempts" } th scope="col" { "Response" } th scope="col" { "Next attempt" }
                        } }
                        tbody {
                            @for d in &deliveries {
                                tr data-delivery-id=(d.id) {
                                    td { (layout::time(Some(d.created_at), "")) }
                                    td { code { (d.event_type) } }
                                    td { (delivery_badge(d.status)) }
                                    td.attempts { (d.attempts) }
                                    td {
                                        @match d.last_status_code { Some(code) => { "HTTP " (code) }, None => {} }
                                        @if let Some(error) = &d.last_error { @if d.last_status_code.is_none() { span.muted { (error) } } }
                                        @if d.attempts == 0 { span.muted { "—" } }
                                    }
                                    td {
                                        @if d.status == DeliveryStatus::Pending { (layout::time(d.next_attempt_at, "")) }
                                        @else { span.muted { "—" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page("Webhook", &user, Section::Webhooks, body))
}

async fn set_active(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    let active = !web.app.store.webhook(id).await?.active;
    let changes = WebhookEndpointChanges {
        active: Some(active),
        ..Default::default()
    };
    web.app
        .store
        .update_webhook(id, changes, user.audit(&web, client))
        .await?;
    let done = if active { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/admin/webhooks/{id}?done={done}")).into_response())
}

async fn test(State(web): State<Web>, user: SignedIn, Path(id): Path<String>) -> Result<Response, WebError> {
    user.require_admin()?;
    let id = parse_id(&id)?;
    api::queue_ping(&web.app, id, web.app.clock.now()).await?;
    Ok(Redirect::to(&format!("/admin/webhooks/{id}?done=test")).into_response())
}

fn confirm_page(user: &SignedIn, endpoint: &WebhookEndpoint, action: &str) -> Response {
    let (title, text, button, class) = if action == "delete" {
        (
            "Delete this webhook?",
            "It receives nothing more, and its delivery log is deleted with it. This cannot be undone.",
            "Delete webhook",
            "danger",
        )
    } else {
        (
            "Rotate the signing secret?",
            "The webhook gets a new signing secret, shown once. Deliveries are signed with it at once, so update the receiver.",
            "Rotate secret",
            "primary",
        )
    };
    let body = html! {
        section.card.narrow.confirm {
            h1 { (title) }
            p { (text) }
            (details(endpoint))
            form method="post" action={ "/admin/webhooks/" (endpoint.id) "/" (action) } {
                (layout::csrf(user))
                div.buttons {
                    button class=(class) type="submit" #confirm { (button) }
                    a.button.quiet href={ "/admin/webhooks/" (endpoint.id) } { "Cancel" }
                }
            }
        }
    };
    layout::page(title, user, Section::Webhooks, body)
}

/// The confirmation page of `action` (delete, rotate) on the endpoint of the path; the router
/// binds one per action.
async fn confirm(
    State(web): State<Web>,
    user: SignedIn,
    Path(id): Path<String>,
    action: &'static str,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let endpoint = web.app.store.webhook(parse_id(&id)?).await?;
    Ok(confirm_page(&user, &endpoint, action))
}

async fn delete(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    web.app
        .store
        .delete_webhook(parse_id(&id)?, user.audit(&web, client))
        .await?;
    Ok(Redirect::to("/admin/webhooks?done=deleted").into_response())
}

async fn rotate(
    State(web): State<Web>,
    user: SignedIn,
    client: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    user.require_admin()?;
    let endpoint = web
        .app
        .store
        .rotate_webhook_secret(parse_id(&id)?, api::new_secret()?, user.audit(&web, client))
        .await?;
    Ok(secret_page(&user, &endpoint, "Signing secret rotated"))
}
