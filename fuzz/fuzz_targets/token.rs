//! The token parser: any text is accepted or refused without a panic, and an accepted token
//! yields a digest and a hint that never contains the whole secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::token::PresentedToken;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(token) = PresentedToken::parse(text) {
        let _ = token.digest();
        let _ = token.is_session();
        let hint = token.hint();
        assert!(hint.len() < text.len(), "the hint is shorter than the token");
    }
});
