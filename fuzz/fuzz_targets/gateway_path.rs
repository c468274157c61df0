//! The gateway's path normaliser: never panics, and what it returns is normal (idempotent,
//! absolute, without dot segments or encoded slashes), so matching and forwarding agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::gateway::path::{normalise, normalise_strict};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(path) = normalise(raw) {
        assert_eq!(normalise(&path).as_ref(), Ok(&path), "idempotent");
        assert_eq!(normalise_strict(&path).as_ref(), Ok(&path));
        assert!(path.starts_with('/'));
        assert!(!path.contains("//"));
        assert!(path.split('/').all(|s| s != "." && s != ".."));
        assert!(!path.to_ascii_lowercase().contains("%2f"));
    }
    let _ = normalise_strict(raw);
});
