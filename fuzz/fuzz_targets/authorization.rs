//! The Authorization parser (DESIGN §3): any header value and query string gives a token or
//! an error, never a panic; a token found is a substring of the header.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis::auth::bearer::{credential, header_credential};

fuzz_target!(|data: &[u8]| {
    // The first line is the header value, the rest the query string.
    let (value, query) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let query = query.and_then(|q| std::str::from_utf8(q).ok());
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok(token) = credential(&headers, query) {
        let raw = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        assert!(raw.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    let _ = header_credential(&headers);
});
