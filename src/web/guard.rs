//! Who is signed in, and the checks every request passes: the session cookie (with idle
//! and absolute expiry), the CSRF token and Origin check on every POST, and the security
//! headers on every response.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Web;
use super::error::WebError;
use crate::auth::{Endpoint, Grant};
use crate::http::extract::{ClientIp, Principal};
use crate::store::AuditContext;

/// The cookie that carries the `pcs_…` session secret.
pub const COOKIE: &str = "portcullis_session";

/// Routes that take a POST before anyone is signed in (they still pass the Origin check).
const OPEN_POSTS: [&str; 2] = ["/setup", "/admin/login"];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every web admin response; pages are never cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Every POST must come from a page of this site (Origin, or failing that Referer), and
/// every POST but sign-in and setup must carry the CSRF token of the session it is sent with.
pub async fn check_post(State(web): State<Web>, request: Request, next: Next) -> Result<Response, WebError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    if !same_origin(request.headers(), web.app.settings.public_url.as_deref()) {
        return Err(WebError::Forbidden(
            "This form was sent from another site, so it was refused.".into(),
        ));
    }
    if OPEN_POSTS.contains(&request.uri().path()) {
        return Ok(next.run(request).await);
    }
    let Some(secret) = session_cookie(request.headers()) else {
        return Err(WebError::SignIn);
    };
    let expected = csrf_token(&secret);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_FORM_BYTES)
        .await
        .map_err(|_| WebError::BadForm("The form is too large.".into()))?;
    let sent = form_field(&bytes, "csrf").unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(WebError::Forbidden(
            "The form's security token is missing or out of date. Reload the page and try again.".into(),
        ));
    }
    Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
}

/// Whether the request's Origin (or, without one, its Referer) is this site: the public
/// URL's origin, or the origin of the Host the request was sent to.
fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let mut allowed = Vec::with_capacity(3);
    if let Some(url) = public_url {
        allowed.push(origin_of(url).to_ascii_lowercase());
    }
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        allowed.push(format!("http://{}", host.to_ascii_lowercase()));
        allowed.push(format!("https://{}", host.to_ascii_lowercase()));
    }
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        let origin = origin.to_ascii_lowercase();
        return allowed.contains(&origin);
    }
    match text(header::REFERER) {
        Some(referer) => allowed.iter().any(|a| {
            let referer = referer.to_ascii_lowercase();
            referer
                .strip_prefix(a.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        }),
        None => false,
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// The raw value of `name` in an `application/x-www-form-urlencoded` body. Only for fields
/// whose values need no decoding (the CSRF token is hex).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

/// The session secret from the request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The CSRF token of a session: a digest of its secret under a fixed label. Only someone who
/// holds the (HttpOnly) cookie can compute it, it needs no storage, and it changes with every
/// sign-in.
pub fn csrf_token(session_secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"portcullis web admin csrf v1\0");
    hasher.update(session_secret.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Set-Cookie` value that stores a session for `max_age` seconds.
pub fn set_cookie(secret: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| clear_cookie(false))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    HeaderValue::from_static(if secure {
        "portcullis_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
    } else {
        "portcullis_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    })
}

/// A signed-in user of the web admin.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: i64,
    pub username: String,
    pub admin: bool,
    /// The token every form of this session carries.
    pub csrf: String,
    grant: Grant,
}

impl SignedIn {
    /// The principal the API's rules judge.
    pub fn principal(&self) -> Principal {
        Principal(self.grant.clone())
    }

    /// Refuses users who are not administrators, by the API's own rule for managing tokens.
    pub fn require_admin(&self) -> Result<(), WebError> {
        self.principal()
            .require(&Method::POST, Endpoint::Tokens)
            .map_err(|_| WebError::Forbidden("Only administrators may do this.".into()))
    }

    /// The audit context of an action by this user now.
    pub fn audit(&self, web: &Web, client: ClientIp) -> AuditContext {
        client.audit(&self.principal(), &web.app)
    }
}

/// Reads the session from the cookie: `None` without a live one. A session unused for longer
/// than the idle timeout is ended in the store.
pub async fn current(parts: &Parts, web: &Web) -> Result<Option<SignedIn>, WebError> {
    let Some(secret) = session_cookie(&parts.headers) else {
        return Ok(None);
    };
    let grant = match web.app.verifier.verify(&secret).await {
        Ok(Ok(grant @ Grant::Session { .. })) => grant,
        Ok(_) => return Ok(None),
        Err(error) => return Err(WebError::Api(crate::http::error::ApiError::Unavailable(error.into()))),
    };
    let Grant::Session {
        id,
        user_id,
        ref username,
        admin,
        ..
    } = grant
    else {
        return Ok(None);
    };
    let now = web.app.clock.now();
    let idle = {
        let mut activity = web.web.activity.lock().unwrap_or_else(|e| e.into_inner());
        let idle = activity.get(&id).is_some_and(|last| now - last > web.web.idle_timeout);
        if idle {
            activity.remove(&id);
        } else {
            if activity.len() > 10_000 {
                let timeout = web.web.idle_timeout;
                activity.retain(|_, last| now - *last <= timeout);
            }
            activity.insert(id, now);
        }
        idle
    };
    if idle {
        web.app.store.revoke_session(id, now).await?;
        web.app.verifier.invalidate();
        return Ok(None);
    }
    Ok(Some(SignedIn {
        user_id,
        username: username.to_string(),
        admin,
        csrf: csrf_token(&secret),
        grant,
    }))
}

/// Forgets the idle clock of an ended session.
pub fn forget(web: &Web, session_id: i64) {
    web.web
        .activity
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&session_id);
}

impl FromRequestParts<Web> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        current(parts, web).await?.ok_or(WebError::SignIn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn posts_from_this_site_pass_the_origin_check() {
        let host = (header::HOST, "127.0.0.1:8080");
        let cases = [
            (
                vec![host.clone(), (header::ORIGIN, "http://127.0.0.1:8080")],
                None,
                true,
            ),
            (vec![host.clone(), (header::ORIGIN, "http://evil.example")], None, false),
            (vec![host.clone(), (header::ORIGIN, "null")], None, false),
            (vec![host.clone()], None, false),
            (
                vec![host.clone(), (header::REFERER, "http://127.0.0.1:8080/admin/tokens")],
                None,
                true,
            ),
            (
                vec![host.clone(), (header::REFERER, "http://127.0.0.1:8080.evil.example/")],
                None,
                false,
            ),
            (
                vec![
                    (header::HOST, "internal:8080"),
                    (header::ORIGIN, "https://tokens.example.com"),
                ],
                Some("https://tokens.example.com/"),
                true,
            ),
        ];
        for (pairs, public, expected) in cases {
            assert_eq!(same_origin(&headers(&pairs), public), expected, "{pairs:?} {public:?}");
        }
    }

    #[test]
    fn the_csrf_token_depends_on_the_session_and_is_found_in_forms() {
        let a = csrf_token("pcs_a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token("pcs_b"));
        assert_eq!(form_field(b"name=x&csrf=abc&y=1", "csrf").as_deref(), Some("abc"));
        assert_eq!(form_field(b"xcsrf=abc", "csrf"), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let map = headers(&[(header::COOKIE, "a=1; portcullis_session=pcs_x; b=2")]);
        assert_eq!(session_cookie(&map).as_deref(), Some("pcs_x"));
        assert_eq!(
            session_cookie(&headers(&[(header::COOKIE, "portcullis_session=")])),
            None
        );
    }
}
