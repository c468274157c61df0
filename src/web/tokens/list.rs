//! The token list: sorting, filtering and the table.

use super::controls::{leak_reports, old_secret};
use super::*;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
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

pub(super) fn done_notice(done: &str) -> Option<Markup> {
    let text = match done {
        "revoked" => "The token was revoked. Requests with it are now refused.",
        "updated" => "The token was saved.",
        "disabled" => "The token was disabled. Requests with it are refused until it is enabled again.",
        "enabled" => "The token was enabled. Requests with it are accepted again.",
        _ => return None,
    };
    Some(layout::notice("success", text))
}

pub(super) async fn list(
    State(web): State<Web>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let now = web.app.clock.now();
    let all = all_tokens(&web).await?;
    let leaks = leak_reports(&web).await?;
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
                    @for (value, label) in [("", "Any status"), ("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked"), ("disabled", "Disabled")] {
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
                                td data-label="Status" {
                                    (status_badge(status))
                                    @if status == TokenStatus::Revoked && leaks.contains_key(&token.id) {
                                        " " span.badge.leaked { "reported as leaked" }
                                    }
                                    @if old_secret(&web, token).is_some_and(|(_, used)| used.is_some()) {
                                        " " span.badge.status-expired { "old secret still in use" }
                                    }
                                }
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
