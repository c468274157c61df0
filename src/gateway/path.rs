//! The request-path normaliser of the gateway: one pure function that turns the path a client
//! sent into the one path that is both checked and forwarded.
//!
//! Percent-escapes are decoded exactly once, dot-segments resolved and repeated slashes merged,
//! then the result is re-encoded in one canonical form. Anything an upstream could read in more
//! than one way is refused instead of guessed: an encoded slash or any backslash (they move
//! segment boundaries), NUL and other control bytes, escapes that still look like escapes after
//! one decoding (double encoding), bytes that are not UTF-8, and `..` above the root.

use std::borrow::Cow;
use std::fmt;

/// Why a path is refused (the gateway answers 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/` (absolute-form, `*`, or empty).
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F`: an encoded slash would move a segment boundary.
    EncodedSlash,
    /// `\` or `%5C`: some servers read it as a slash.
    Backslash,
    /// NUL or another control byte, raw or encoded.
    ControlByte,
    /// An escape that decodes into another escape (`%252e`).
    DoubleEncoding,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// `..` would climb above the root.
    AboveRoot,
    /// A `.` or `..` segment where none is accepted (see [`normalise_strict`]).
    DotSegment,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "the path must start with `/`",
            Self::BadEscape => "the path has a `%` that is not followed by two hex digits",
            Self::EncodedSlash => "the path has an encoded slash (%2F)",
            Self::Backslash => "the path has a backslash",
            Self::ControlByte => "the path has a NUL or control character",
            Self::DoubleEncoding => "the path is percent-encoded twice",
            Self::NotUtf8 => "the decoded path is not UTF-8",
            Self::AboveRoot => "the path climbs above the root with `..`",
            Self::DotSegment => "the path has a `.` or `..` segment",
        })
    }
}

impl std::error::Error for PathError {}

/// Normalises a request path (without its query): decodes once, resolves `.` and `..`,
/// merges `//`, and re-encodes canonically. The result starts with `/`, and normalising it
/// again gives it back unchanged.
pub fn normalise(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if already_normal(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    normalise_with(raw, true).map(Cow::Owned)
}

/// Like [`normalise`], but a `.` or `..` segment (encoded or not) is an error: for callers that
/// cannot know which prefix the path was matched against, such as forward-auth.
pub fn normalise_strict(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if already_normal(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    normalise_with(raw, false).map(Cow::Owned)
}

/// Whether `raw` is its own normal form, so the usual path costs one scan and no allocation:
/// only `pchar`s that need no escape and slashes, no empty segment but a trailing one, and no
/// `.` or `..` segment.
fn already_normal(raw: &str) -> bool {
    raw.starts_with('/')
        && !raw.contains("//")
        && raw.bytes().all(|b| b == b'/' || is_plain_pchar(b))
        && raw[1..].split('/').all(|segment| segment != "." && segment != "..")
}

/// An RFC 3986 `pchar` that is written as it is (not `%`, which starts an escape).
fn is_plain_pchar(byte: u8) -> bool {
    const PLAIN: [bool; 256] = crate::ascii::alphanumeric_and(b"-._~!$&'()*+,;=:@");
    PLAIN[usize::from(byte)]
}

fn normalise_with(raw: &str, allow_dots: bool) -> Result<String, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let mut segments: Vec<String> = Vec::new();
    let mut pieces = raw[1..].split('/').peekable();
    let mut trailing_slash = false;
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        let segment = decode_segment(piece)?;
        match segment.as_str() {
            "" => trailing_slash = last,
            "." | ".." if !allow_dots => return Err(PathError::DotSegment),
            "." => trailing_slash = last,
            ".." => {
                segments.pop().ok_or(PathError::AboveRoot)?;
                trailing_slash = last;
            }
            _ => {
                segments.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(raw.len());
    for segment in &segments {
        out.push('/');
        encode_segment(segment, &mut out);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Decodes one segment's escapes, refusing what would change its meaning.
fn decode_segment(piece: &str) -> Result<String, PathError> {
    let bytes = piece.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = if bytes[i] == b'%' {
            let high = bytes.get(i + 1).and_then(|b| hex(*b));
            let low = bytes.get(i + 2).and_then(|b| hex(*b));
            let (Some(high), Some(low)) = (high, low) else {
                return Err(PathError::BadEscape);
            };
            i += 3;
            let byte = high << 4 | low;
            if byte == b'/' {
                return Err(PathError::EncodedSlash);
            }
            byte
        } else {
            i += 1;
            bytes[i - 1]
        };
        if byte == b'\\' {
            return Err(PathError::Backslash);
        }
        if byte < 0x20 || byte == 0x7f {
            return Err(PathError::ControlByte);
        }
        decoded.push(byte);
    }
    if decoded
        .windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
    {
        return Err(PathError::DoubleEncoding);
    }
    String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Writes a decoded segment back in canonical form: RFC 3986 `pchar`s as they are, every
/// other byte (including `%`) as an upper-case escape.
fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in segment.as_bytes() {
        if is_plain_pchar(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

/// Whether `path` is `prefix` or lies below it, segment-wise: `/app` covers `/app` and
/// `/app/x` but not `/apple`. A prefix ending in `/` covers only what lies below it.
pub fn under_prefix(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return path.starts_with('/');
    }
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_normalise_as_expected() {
        use PathError::*;
        let cases: &[(&str, Result<&str, PathError>)] = &[
            ("/", Ok("/")),
            ("/a/b", Ok("/a/b")),
            ("/a/b/", Ok("/a/b/")),
            ("/a//b", Ok("/a/b")),
            ("//a", Ok("/a")),
            ("/a/./b", Ok("/a/b")),
            ("/a/b/..", Ok("/a/")),
            ("/a/b/../c", Ok("/a/c")),
            ("/a/%2e%2E/c", Ok("/c")),
            ("/a/.%2e/c", Ok("/c")),
            ("/%61pp/x", Ok("/app/x")),
            ("/a%20b", Ok("/a%20b")),
            ("/a b", Ok("/a%20b")),
            ("/caf%C3%A9", Ok("/caf%C3%A9")),
            ("/café", Ok("/caf%C3%A9")),
            ("/a%3Fb", Ok("/a%3Fb")),
            ("/a%25b", Ok("/a%25b")),
            ("/~user/x;y=1", Ok("/~user/x;y=1")),
            ("/..", Err(AboveRoot)),
            ("/a/../..", Err(AboveRoot)),
            ("/%2e%2e/etc", Err(AboveRoot)),
            ("/a%2Fb", Err(EncodedSlash)),
            ("/a%2fb", Err(EncodedSlash)),
            ("/a\\b", Err(Backslash)),
            ("/a%5cb", Err(Backslash)),
            ("/a%00b", Err(ControlByte)),
            ("/a\0b", Err(ControlByte)),
            ("/a%0d%0aX: y", Err(ControlByte)),
            ("/a%7F", Err(ControlByte)),
            ("/a%", Err(BadEscape)),
            ("/a%2", Err(BadEscape)),
            ("/a%zz", Err(BadEscape)),
            ("/%252e%252e/x", Err(DoubleEncoding)),
            ("/a%252Fb", Err(DoubleEncoding)),
            ("/%C3", Err(NotUtf8)),
            ("/%FF", Err(NotUtf8)),
            ("a/b", Err(NotAbsolute)),
            ("", Err(NotAbsolute)),
            ("*", Err(NotAbsolute)),
            ("http://x/a", Err(NotAbsolute)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                normalise(raw).as_deref().map_err(|e| *e),
                *expected,
                "normalise({raw:?})"
            );
        }
    }

    #[test]
    fn the_strict_form_refuses_every_dot_segment() {
        for raw in ["/a/./b", "/a/../b", "/a/%2e/b", "/a/%2E%2e", "/."] {
            assert_eq!(normalise_strict(raw), Err(PathError::DotSegment), "{raw:?}");
        }
        assert_eq!(normalise_strict("/a/b.c/..d").as_deref(), Ok("/a/b.c/..d"));
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under_prefix("/app", "/app"));
        assert!(under_prefix("/app/", "/app"));
        assert!(under_prefix("/app/x", "/app"));
        assert!(!under_prefix("/apple", "/app"));
        assert!(!under_prefix("/ap", "/app"));
        assert!(under_prefix("/app/x", "/app/"));
        assert!(!under_prefix("/app", "/app/"));
        assert!(under_prefix("/anything", "/"));
    }

    /// Path-ish strings: segments built from characters and escapes that matter.
    fn pathish() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("%2F".to_owned()),
            Just("%25".to_owned()),
            Just("%5C".to_owned()),
            Just("%00".to_owned()),
            Just("\\".to_owned()),
            Just("%".to_owned()),
            "[a-z0-9~;=]{1,3}",
            "%[0-9A-Fa-f]{2}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(atom, 0..24).prop_map(|atoms| format!("/{}", atoms.concat()))
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(raw in pathish()) {
            if let Ok(once) = normalise(&raw) {
                prop_assert_eq!(normalise(&once), Ok(once.clone()));
                prop_assert_eq!(normalise_strict(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn a_normal_path_has_nothing_ambiguous_left(raw in pathish()) {
            if let Ok(path) = normalise(&raw) {
                prop_assert!(path.starts_with('/'));
                prop_assert!(!path.contains("//"), "{}", path);
                prop_assert!(!path.contains('\\'), "{}", path);
                prop_assert!(path.is_ascii(), "{}", path);
                prop_assert!(!path.bytes().any(|b| b < 0x20 || b == 0x7f), "{}", path);
                for segment in path.split('/') {
                    prop_assert!(segment != "." && segment != "..", "{}", path);
                }
                let lower = path.to_ascii_lowercase();
                for escape in ["%2f", "%5c", "%00", "%2e"] {
                    prop_assert!(!lower.contains(escape), "{}", path);
                }
            }
        }

        #[test]
        fn the_shortcut_for_normal_paths_changes_no_answer(raw in pathish()) {
            prop_assert_eq!(normalise(&raw).map(Cow::into_owned), normalise_with(&raw, true));
            prop_assert_eq!(normalise_strict(&raw).map(Cow::into_owned), normalise_with(&raw, false));
        }

        #[test]
        fn normalising_never_panics(raw in "\\PC{0,64}") {
            let _ = normalise(&raw);
            let _ = normalise_strict(&raw);
        }
    }
}
