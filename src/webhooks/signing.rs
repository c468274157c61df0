//! Signing secrets and the `Portcullis-Signature` header.
//!
//! The header reads `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the
//! timestamp is signed with the body, so a receiver that rejects old timestamps also rejects
//! replays of captured deliveries.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::UnixTime;
use crate::token::RandomSource;

/// The prefix of signing secrets, so they are recognisable (and scannable) where they leak.
pub const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing secret: `whsec_` and 64 hex digits of 32 random bytes. `Debug`
/// never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl SigningSecret {
    /// A fresh secret from `random` (the OS CSPRNG in production).
    pub fn generate(random: &mut impl RandomSource) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes)?;
        Ok(Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes))))
    }

    /// A secret as stored.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// The secret itself: for the store, signing, and the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Portcullis-Signature` header value for `body` sent at `timestamp`.
    pub fn signature_header(&self, timestamp: UnixTime, body: &[u8]) -> String {
        format!("t={timestamp},v1={}", hex::encode(self.mac(timestamp, body)))
    }

    fn mac(&self, timestamp: UnixTime, body: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()).expect("HMAC accepts any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// Whether `header` is a valid signature of `body` made within `tolerance` seconds of
    /// `now` (what a receiver does; used by the tests and the documentation's example).
    pub fn verify(&self, header: &str, body: &[u8], now: UnixTime, tolerance: i64) -> bool {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<UnixTime>().ok(),
                Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
                _ => {}
            }
        }
        let Some(timestamp) = timestamp else { return false };
        if (now - timestamp).abs() > tolerance {
            return false;
        }
        let expected = self.mac(timestamp, body);
        signatures.iter().any(|s| {
            use subtle::ConstantTimeEq;
            s.len() == expected.len() && bool::from(expected.as_slice().ct_eq(s))
        })
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl RandomSource for Fixed {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), getrandom::Error> {
            buf.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn secrets_have_a_prefix_and_never_print() {
        let secret = SigningSecret::generate(&mut Fixed(0xab)).unwrap();
        assert_eq!(secret.expose(), format!("whsec_{}", "ab".repeat(32)));
        assert_eq!(format!("{secret:?}"), "SigningSecret(<redacted>)");
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Independently computed with:
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let secret = SigningSecret::from_stored("whsec_test".into());
        let header = secret.signature_header(1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn verification_checks_body_secret_and_age() {
        let secret = SigningSecret::generate(&mut Fixed(7)).unwrap();
        let header = secret.signature_header(1000, b"body");
        assert!(secret.verify(&header, b"body", 1000, 300));
        assert!(secret.verify(&header, b"body", 1300, 300));
        assert!(!secret.verify(&header, b"body", 1301, 300), "too old");
        assert!(!secret.verify(&header, b"bodY", 1000, 300), "other body");
        let other = SigningSecret::generate(&mut Fixed(8)).unwrap();
        assert!(!other.verify(&header, b"body", 1000, 300), "other secret");
        assert!(!secret.verify("v1=00", b"body", 1000, 300), "no timestamp");
    }
}
