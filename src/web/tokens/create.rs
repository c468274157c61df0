//! "New token": the form, creation, and the page that shows a secret once.

use super::controls::LimitFields;
use super::*;

#[derive(Deserialize)]
pub(super) struct NewToken {
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
    #[serde(flatten)]
    limits: LimitFields,
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
            limits: LimitFields::default(),
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

fn new_token_page(web: &Web, user: &SignedIn, form: &NewToken, error: Option<&str>) -> Response {
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
                (form.limits.render(&web.app.settings.rate_limits))
                div.buttons {
                    button.primary type="submit" { "Create token" }
                    a.button.quiet href="/admin/tokens" { "Cancel" }
                }
            }
        }
    };
    layout::page("New API token", user, Section::Tokens, body)
}

pub(super) async fn new_form(State(web): State<Web>, user: SignedIn) -> Result<Response, WebError> {
    user.require_admin()?;
    Ok(new_token_page(&web, &user, &NewToken::default(), None))
}

fn parse_new(form: &NewToken, now: UnixTime) -> Result<TokenRequest, String> {
    let field = |e: Invalid| crate::http::error::sentence(&e.to_string());
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
    let name = TokenName::parse(&form.name).map_err(field)?;
    let description = Description::parse(&form.description).map_err(field)?;
    let (rate_limit, allowed_ips) = form.limits.parse()?;
    Ok(TokenRequest {
        name,
        description,
        access,
        expires_at,
        rate_limit,
        allowed_ips,
    })
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
pub(super) fn secret_page(
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

pub(super) async fn create(
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
            let mut response = new_token_page(&web, &user, &form, Some(&message));
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
fn already_sent(user: &SignedIn, earlier: crate::web::SentForm) -> Response {
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" { a href="/admin/tokens" { "API tokens" } " / Already created" }
        section.card.form-card {
            h1 { "This form was already sent" }
            @match earlier {
                crate::web::SentForm::Created { token_id, .. } => {
                    p { "It created " a href={ "/admin/tokens/" (token_id) } { "this token" } ", and no second one. "
                        "Its secret was shown once and cannot be shown again; if you did not copy it, regenerate the token." }
                }
                crate::web::SentForm::Pending { .. } => {
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
