//! The token format of DESIGN §2: generation, parsing with checksum, digest and display hint.
//!
//! Pure: no I/O, randomness comes in through [`RandomSource`]. A token reads
//! `<prefix>_<43 base62 digits of 32 random bytes><6 base62 digits of CRC32>`, where the CRC32
//! covers `<prefix>_<body>`, so a typo or a truncated paste is caught without a store lookup.

mod base62;

use std::fmt;

use sha2::{Digest as _, Sha256};

pub use base62::{BODY_LEN, CHECKSUM_LEN};

/// Prefix of API tokens unless the installation configures another.
pub const DEFAULT_PREFIX: &str = "pcl";
/// Prefix of user session tokens; API tokens may not use it.
pub const SESSION_PREFIX: &str = "pcs";
/// Longest prefix the format allows.
pub const MAX_PREFIX_LEN: usize = 16;
/// Longest token string: a 16-character prefix, `_`, body and checksum.
pub const MAX_TOKEN_LEN: usize = MAX_PREFIX_LEN + 1 + BODY_LEN + CHECKSUM_LEN;

/// A token prefix: `[a-z][a-z0-9]{1,15}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prefix(String);

/// Why a prefix is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a token prefix is 2 to 16 characters: a lowercase letter, then lowercase letters or digits")]
pub struct InvalidPrefix;

impl Prefix {
    /// Parses a prefix.
    pub fn parse(text: &str) -> Result<Self, InvalidPrefix> {
        if is_valid_prefix(text.as_bytes()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidPrefix)
        }
    }

    /// The prefix of user session tokens.
    pub fn session() -> Self {
        Self(SESSION_PREFIX.to_owned())
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self(DEFAULT_PREFIX.to_owned())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_prefix(bytes: &[u8]) -> bool {
    (2..=MAX_PREFIX_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[1..].iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Where random bytes come from; the OS CSPRNG in production, fixed bytes in tests.
pub trait RandomSource {
    /// Fills `buf` with random bytes, or fails if the source cannot.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), getrandom::Error>;
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), getrandom::Error> {
        getrandom::getrandom(buf)
    }
}

/// A whole token string. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// Creates a fresh token with `prefix` from 32 random bytes.
    pub fn generate(prefix: &Prefix, random: &mut impl RandomSource) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes)?;
        Ok(Self::from_bytes(prefix, &bytes))
    }

    /// Builds the token for the given random bytes.
    pub fn from_bytes(prefix: &Prefix, bytes: &[u8; 32]) -> Self {
        let mut text = String::with_capacity(prefix.0.len() + 1 + BODY_LEN + CHECKSUM_LEN);
        text.push_str(&prefix.0);
        text.push('_');
        // base62 output is ASCII, so the conversions cannot fail.
        text.push_str(std::str::from_utf8(&base62::encode_body(bytes)).expect("base62 is ASCII"));
        let checksum = base62::encode_checksum(crc32fast::hash(text.as_bytes()));
        text.push_str(std::str::from_utf8(&checksum).expect("base62 is ASCII"));
        Self(text)
    }

    /// The secret itself, for the one response or output that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The parsed view of this token (always succeeds for generated tokens).
    pub fn parsed(&self) -> PresentedToken<'_> {
        PresentedToken::parse(&self.0).expect("generated tokens are well-formed")
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// Why a presented string is not a Portcullis token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not `<prefix>_<49 base62 characters>`.
    #[error("not a token of this format")]
    Malformed,
    /// The shape is right but the checksum does not match: a typo or a forgery.
    #[error("token checksum does not match")]
    BadChecksum,
}

/// A syntactically valid token with a correct checksum, borrowed from the request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresentedToken<'a> {
    text: &'a str,
    prefix_len: usize,
}

impl<'a> PresentedToken<'a> {
    /// Checks the format and the checksum; does no lookup.
    pub fn parse(text: &'a str) -> Result<Self, FormatError> {
        let bytes = text.as_bytes();
        let underscore = bytes
            .iter()
            .take(MAX_PREFIX_LEN + 1)
            .position(|&b| b == b'_')
            .ok_or(FormatError::Malformed)?;
        let (prefix, rest) = (&bytes[..underscore], &bytes[underscore + 1..]);
        if !is_valid_prefix(prefix)
            || rest.len() != BODY_LEN + CHECKSUM_LEN
            || !rest.iter().all(|&b| base62::is_digit(b))
        {
            return Err(FormatError::Malformed);
        }
        let (signed, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if base62::encode_checksum(crc32fast::hash(signed)) != checksum {
            return Err(FormatError::BadChecksum);
        }
        Ok(Self {
            text,
            prefix_len: underscore,
        })
    }

    /// The prefix, e.g. `pcl`.
    pub fn prefix(&self) -> &'a str {
        &self.text[..self.prefix_len]
    }

    /// Whether this is a user session token rather than an API token.
    pub fn is_session(&self) -> bool {
        self.prefix() == SESSION_PREFIX
    }

    /// The SHA-256 digest under which the store keeps the token.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.text)
    }

    /// The display hint shown in lists: `pcl_…` and the last four characters.
    pub fn hint(&self) -> String {
        format!("{}_…{}", self.prefix(), &self.text[self.text.len() - 4..])
    }
}

impl fmt::Debug for PresentedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedToken({}_<redacted>)", self.prefix())
    }
}

/// SHA-256 of a token string: what the store keeps and looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// Digest of a token string.
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as `token export` writes it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenDigest {
    // A digest is not a secret, but a short form is all a log ever needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenDigest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Fixed([u8; 32]);
    impl RandomSource for Fixed {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), getrandom::Error> {
            buf.copy_from_slice(&self.0);
            Ok(())
        }
    }

    #[test]
    fn a_generated_token_has_the_documented_shape() {
        let token = TokenSecret::generate(&Prefix::default(), &mut OsRandom).unwrap();
        let text = token.expose();
        assert_eq!(text.len(), 4 + 43 + 6);
        assert!(text.starts_with("pcl_"));
        assert!(text[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn known_bytes_give_a_known_token() {
        let token = TokenSecret::generate(&Prefix::default(), &mut Fixed([0; 32])).unwrap();
        let body = "0".repeat(43);
        let signed = format!("pcl_{body}");
        let crc = crc32fast::hash(signed.as_bytes());
        let expected = format!(
            "{signed}{}",
            std::str::from_utf8(&base62::encode_checksum(crc)).unwrap()
        );
        assert_eq!(token.expose(), expected);
    }

    #[test]
    fn the_checksum_is_crc32_ieee_of_prefix_and_body() {
        // CRC32/IEEE("123456789") is 0xCBF43926: check the crate computes the IEEE variant.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn malformed_strings_are_told_apart_from_bad_checksums() {
        let token = TokenSecret::generate(&Prefix::default(), &mut Fixed([7; 32])).unwrap();
        let good = token.expose();
        let cases = [
            ("", FormatError::Malformed),
            ("pcl_", FormatError::Malformed),
            ("abc", FormatError::Malformed),
            (&good[..good.len() - 1], FormatError::Malformed),
            (
                "Pcl_0000000000000000000000000000000000000000000000000",
                FormatError::Malformed,
            ),
            (
                "p_00000000000000000000000000000000000000000000000000",
                FormatError::Malformed,
            ),
            (
                "pcl_000000000000000000000000000000000000000000000000-",
                FormatError::Malformed,
            ),
            (
                "pcl_0000000000000000000000000000000000000000000000000",
                FormatError::BadChecksum,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(PresentedToken::parse(input).err(), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn the_hint_shows_prefix_and_last_four_characters() {
        let token = TokenSecret::generate(&Prefix::default(), &mut Fixed([9; 32])).unwrap();
        let text = token.expose();
        assert_eq!(token.parsed().hint(), format!("pcl_…{}", &text[text.len() - 4..]));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let token = TokenSecret::generate(&Prefix::default(), &mut OsRandom).unwrap();
        let body = &token.expose()[4..20];
        assert!(!format!("{token:?}").contains(body));
        assert!(!format!("{:?}", token.parsed()).contains(body));
    }

    #[test]
    fn prefixes_follow_the_grammar() {
        for ok in ["pcl", "pcs", "a1", "abcdefghijklmnop"] {
            assert!(Prefix::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "1a", "Abc", "ab_c", "abcdefghijklmnopq", "ab-c"] {
            assert_eq!(Prefix::parse(bad), Err(InvalidPrefix), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_generated_token_parses(bytes in any::<[u8; 32]>(), prefix in "[a-z][a-z0-9]{1,15}") {
            let prefix = Prefix::parse(&prefix).unwrap();
            let token = TokenSecret::from_bytes(&prefix, &bytes);
            let parsed = PresentedToken::parse(token.expose()).unwrap();
            prop_assert_eq!(parsed.prefix(), prefix.as_str());
            prop_assert_eq!(parsed.digest(), TokenDigest::of(token.expose()));
        }

        #[test]
        fn any_single_character_change_is_refused_or_names_another_token(
            bytes in any::<[u8; 32]>(),
            position in 0usize..53,
            replacement in proptest::sample::select(base62::ALPHABET.to_vec()),
        ) {
            let token = TokenSecret::from_bytes(&Prefix::default(), &bytes);
            let mut changed = token.expose().as_bytes().to_vec();
            prop_assume!(changed[position] != replacement);
            changed[position] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            match PresentedToken::parse(&changed) {
                Err(_) => {}
                // CRC32 detects every burst error of up to 32 bits, so one changed character,
                // in the signed part or in the checksum itself, can never parse.
                Ok(_) => prop_assert!(false, "single change accepted: the store would be asked for {changed:?}"),
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = PresentedToken::parse(&text);
        }
    }
}
