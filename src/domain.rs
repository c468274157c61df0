//! Validated values of the domain. Each newtype's constructor is the only way in, so an
//! invalid username, email or token name cannot exist past the edge of the program.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an API token may do: read (GET/HEAD/OPTIONS) or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// HTTP `GET`, `HEAD` and `OPTIONS` only.
    Read,
    /// Every method.
    Full,
}

impl Access {
    /// The stored and wire name: `read` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Full => "full",
        }
    }

    /// Parses `read` or `full`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value was rejected; the message says what is expected and is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The field, as named on the wire.
    pub field: &'static str,
    /// What is expected.
    pub message: &'static str,
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// 1–64 characters of letters, digits, `.`, `_`, `-` and `@`.
    Username
);
text_newtype!(
    /// An email address, as the `email_address` crate accepts it, at most 254 characters.
    Email
);
text_newtype!(
    /// A first or last name: at most 100 characters, no control characters.
    PersonName
);
text_newtype!(
    /// A token's name: 1–100 characters, no control characters, not only spaces.
    TokenName
);
text_newtype!(
    /// A token's description: at most 1000 characters, no control characters but newlines.
    Description
);

impl Username {
    /// Parses a username.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let ok =
            (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        ok.then(|| Self(text.to_owned())).ok_or(Invalid {
            field: "username",
            message: "1 to 64 characters: letters, digits, '.', '_', '-' or '@'",
        })
    }
}

impl Email {
    /// Parses an email address.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let ok = text.len() <= 254
            && email_address::EmailAddress::parse_with_options(
                text,
                email_address::Options::default().without_display_text(),
            )
            .is_ok_and(|e| e.domain().contains('.'));
        ok.then(|| Self(text.to_owned())).ok_or(Invalid {
            field: "email",
            message: "a valid email address such as ada@example.com",
        })
    }
}

fn printable(text: &str, allow_newlines: bool) -> bool {
    text.chars()
        .all(|c| !c.is_control() || (allow_newlines && (c == '\n' || c == '\r')))
}

impl PersonName {
    /// Parses a first or last name for `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, Invalid> {
        let ok = text.chars().count() <= 100 && printable(text, false);
        ok.then(|| Self(text.trim().to_owned())).ok_or(Invalid {
            field,
            message: "at most 100 characters, no control characters",
        })
    }
}

impl TokenName {
    /// Parses a token name.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let trimmed = text.trim();
        let ok = !trimmed.is_empty() && trimmed.chars().count() <= 100 && printable(trimmed, false);
        ok.then(|| Self(trimmed.to_owned())).ok_or(Invalid {
            field: "name",
            message: "1 to 100 characters, no control characters",
        })
    }
}

impl Description {
    /// Parses a token description.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let ok = text.chars().count() <= 1000 && printable(text, true);
        ok.then(|| Self(text.trim().to_owned())).ok_or(Invalid {
            field: "description",
            message: "at most 1000 characters",
        })
    }
}

/// A new password in clear text. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Accepts 8 to 1024 characters (NIST SP 800-63B: length over composition rules).
    pub fn parse(text: String) -> Result<Self, Invalid> {
        let len = text.chars().count();
        if (8..=1024).contains(&len) {
            Ok(Self(text))
        } else {
            Err(Invalid {
                field: "password",
                message: "8 to 1024 characters",
            })
        }
    }

    /// The clear text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_accept_the_documented_alphabet_only() {
        for ok in ["ada", "ada.lovelace", "a_b-c@d", &"x".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "with space", "tab\t", "é", &"x".repeat(65), "semi;colon"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "Ada <ada@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_names_are_trimmed_and_must_not_be_blank() {
        assert_eq!(TokenName::parse("  ci job ").unwrap().as_str(), "ci job");
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse("bell\u{7}").is_err());
    }

    #[test]
    fn passwords_are_redacted_in_debug_output() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        assert!(Password::parse("short".into()).is_err());
    }
}
