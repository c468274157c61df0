//! Authentication and authorisation: reading the bearer credential, verifying it, and
//! deciding what it may do.

pub mod access;
pub mod allowlist;
pub mod bearer;
pub mod cache;
pub mod failures;
pub mod rate_limit;
pub mod usage;
pub mod verifier;

pub use access::{Credential, Endpoint, Needed, decide};
pub use allowlist::Allowlist;
pub use bearer::{BearerError, credential};
pub use failures::{FailureLimits, FailurePolicy};
pub use rate_limit::{Limited, Quota, RateLimits, TokenRateLimit};
pub use verifier::{Grant, Rejection, Verifier};

impl Grant {
    /// The credential kind the access rules judge.
    pub fn credential(&self) -> Credential {
        match self {
            Grant::Token { access, .. } => Credential::Token(*access),
            Grant::Session { admin, .. } => Credential::Session { admin: *admin },
        }
    }

    /// The audit actor for actions taken with this grant.
    pub fn actor(&self) -> crate::store::Actor {
        match self {
            Grant::Token { id, name, .. } => crate::store::Actor::Token {
                id: *id,
                name: name.to_string(),
            },
            Grant::Session { user_id, username, .. } => crate::store::Actor::User {
                id: *user_id,
                username: username.to_string(),
            },
        }
    }
}
