//! Header rules of the gateway: what never crosses it (hop-by-hop headers, anything the
//! `Connection` header names, a client's `X-Portcullis-*`) and the identity headers it sets.

use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue};

use super::Identity;

/// The id of the token that was allowed.
pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-portcullis-token-id");
/// Its name, percent-encoded where it is not visible ASCII.
pub const TOKEN_NAME: HeaderName = HeaderName::from_static("x-portcullis-token-name");
/// `read` or `full`.
pub const ACCESS: HeaderName = HeaderName::from_static("x-portcullis-access");

/// Hop-by-hop headers of RFC 9110 §7.6.1, plus the old `Proxy-Connection` and `Keep-Alive`.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The protocol a request asks to switch to (`Connection: upgrade` with an `Upgrade` header).
pub fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes the hop-by-hop headers and every header the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip(headers, |_| false);
}

/// Removes the hop-by-hop headers, every header the `Connection` header names, and every
/// header `also` picks, in one pass over the names present instead of a lookup per name.
pub fn strip(headers: &mut HeaderMap, also: impl Fn(&HeaderName) -> bool) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    remove_where(headers, |name| {
        HOP_BY_HOP.contains(name) || named.contains(name) || also(name)
    });
}

/// Whether `name` is one of the `X-Portcullis-*` headers only Portcullis sets.
pub fn is_portcullis(name: &HeaderName) -> bool {
    name.as_str().starts_with("x-portcullis-")
}

fn remove_where(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    let names: Vec<HeaderName> = headers.keys().filter(|name| doomed(name)).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

/// Sets the identity headers of an allowed token.
pub fn insert_identity(headers: &mut HeaderMap, identity: &Identity) {
    headers.insert(TOKEN_ID, HeaderValue::from(identity.id));
    headers.insert(TOKEN_NAME, encode_name(&identity.name));
    headers.insert(ACCESS, HeaderValue::from_static(identity.access.as_str()));
}

/// A token name as a header value: visible ASCII and spaces as they are, everything else
/// (and `%`) percent-encoded, so any name fits and decodes back unambiguously.
fn encode_name(name: &str) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        if (byte == b' ' || byte.is_ascii_graphic()) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    let trimmed = out.trim();
    // Only visible ASCII and inner spaces are left, which every header value admits.
    HeaderValue::from_str(trimmed).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Access;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret , upgrade"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert_eq!(requested_upgrade(&headers), Some(HeaderValue::from_static("websocket")));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["accept"]);
    }

    #[test]
    fn client_sent_portcullis_headers_are_removed_and_ours_set() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCESS, HeaderValue::from_static("full"));
        headers.insert("x-portcullis-anything", HeaderValue::from_static("x"));
        strip(&mut headers, is_portcullis);
        assert!(headers.is_empty());
        let identity = Identity {
            id: 7,
            name: "CI runner – café 100%".into(),
            access: Access::Read,
            quota: None,
        };
        insert_identity(&mut headers, &identity);
        assert_eq!(headers[TOKEN_ID], "7");
        assert_eq!(headers[TOKEN_NAME], "CI runner %E2%80%93 caf%C3%A9 100%25");
        assert_eq!(headers[ACCESS], "read");
    }
}
