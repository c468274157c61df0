//! Reading the credential out of a request, exactly as DESIGN §3 and RFC 6750 §2.1 say.
//!
//! Only the `Authorization` header carries a token. The outcome is one of: no credential
//! (401 without error attribute), a malformed request (400 `invalid_request`), or a token
//! string to verify.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};

/// Longest token value considered at all; anything longer is a malformed request.
pub const MAX_CREDENTIAL_LEN: usize = 1024;

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header, or another scheme such as `Basic`.
    Missing,
    /// The request is malformed: the text is safe to show the client.
    InvalidRequest(&'static str),
}

/// Parses the `Authorization` header(s) of a request into the presented token string.
///
/// `query` is the raw query string: a token there (`access_token=`) is refused, as is a
/// form-encoded body, which the caller signals with `content_type`.
pub fn credential<'h>(headers: &'h HeaderMap, query: Option<&str>) -> Result<&'h str, BearerError> {
    refuse_query_token(query)?;
    if headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
    {
        return Err(BearerError::InvalidRequest(
            "form-encoded bodies are not accepted; tokens go in the Authorization header",
        ));
    }
    header_credential(headers)
}

/// Refuses a token in the raw query string (`access_token=`): 400 `invalid_request`.
pub fn refuse_query_token(query: Option<&str>) -> Result<(), BearerError> {
    if query.is_some_and(query_has_access_token) {
        return Err(BearerError::InvalidRequest(
            "tokens are accepted only in the Authorization header",
        ));
    }
    Ok(())
}

/// The token of the one `Authorization` header, without the query and body checks of
/// [`credential`]: for the gateway, whose upstreams may take form bodies of their own.
pub fn header_credential(headers: &HeaderMap) -> Result<&str, BearerError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(BearerError::Missing)?;
    if values.next().is_some() {
        return Err(BearerError::InvalidRequest("more than one Authorization header"));
    }
    parse_authorization(value.as_bytes())
}

/// Parses one `Authorization` value: `Bearer` (any case), one or more spaces, a b64token.
pub fn parse_authorization(value: &[u8]) -> Result<&str, BearerError> {
    let scheme_end = value
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        return Err(BearerError::Missing);
    }
    let rest = &value[scheme_end..];
    let token_start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    if rest.first() == Some(&b'\t') {
        return Err(BearerError::InvalidRequest(
            "the Bearer scheme and the token are separated by spaces, not tabs",
        ));
    }
    let token = &rest[token_start..];
    if token.is_empty() {
        return Err(BearerError::InvalidRequest("the Bearer credential is empty"));
    }
    if token.len() > MAX_CREDENTIAL_LEN {
        return Err(BearerError::InvalidRequest("the Bearer credential is too long"));
    }
    if !is_b64token(token) {
        return Err(BearerError::InvalidRequest(
            "the Bearer credential is not a valid token string",
        ));
    }
    // is_b64token admits ASCII only, so this cannot fail.
    std::str::from_utf8(token).map_err(|_| BearerError::InvalidRequest("the Bearer credential is not ASCII"))
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(bytes: &[u8]) -> bool {
    const BODY: [bool; 256] = crate::ascii::alphanumeric_and(b"-._~+/");
    let body_end = bytes.iter().position(|&b| b == b'=').unwrap_or(bytes.len());
    body_end > 0
        && bytes[..body_end].iter().all(|&b| BODY[usize::from(b)])
        && bytes[body_end..].iter().all(|&b| b == b'=')
}

fn query_has_access_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or("");
        key == "access_token" || key.eq_ignore_ascii_case("access%5Ftoken")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    #[test]
    fn authorization_values_are_classified_as_the_design_says() {
        use BearerError::*;
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        let cases: &[(&[u8], Result<&str, BearerError>)] = &[
            (b"Bearer abc", Ok("abc")),
            (b"bearer abc", Ok("abc")),
            (b"BEARER   abc", Ok("abc")),
            (b"Bearer abc==", Ok("abc==")),
            (b"Basic dXNlcjpwYXNz", Err(Missing)),
            (b"Token abc", Err(Missing)),
            (b"", Err(Missing)),
            (b"Bearerabc", Err(Missing)),
            (b"Bearer", Err(InvalidRequest("the Bearer credential is empty"))),
            (b"Bearer ", Err(InvalidRequest("the Bearer credential is empty"))),
            (
                b"Bearer\tabc",
                Err(InvalidRequest(
                    "the Bearer scheme and the token are separated by spaces, not tabs",
                )),
            ),
            (
                b"Bearer abc def",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                b"Bearer \"abc\"",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                b"Bearer ab\tc",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                b"Bearer abc ",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                b"Bearer =abc",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                b"Bearer ab=c",
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                "Bearer abcé".as_bytes(),
                Err(InvalidRequest("the Bearer credential is not a valid token string")),
            ),
            (
                long.as_bytes(),
                Err(InvalidRequest("the Bearer credential is too long")),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                &parse_authorization(value),
                expected,
                "value {:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_a_bad_request() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(matches!(
            credential(&headers, None),
            Err(BearerError::InvalidRequest(_))
        ));
    }

    #[test]
    fn tokens_in_the_query_or_a_form_body_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert!(credential(&headers, Some("page=1&access_token=x")).is_err());
        assert_eq!(credential(&headers, Some("page=1&not_access_token=x")), Ok("a"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(credential(&headers, None).is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(value in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_authorization(&value);
        }
    }
}
