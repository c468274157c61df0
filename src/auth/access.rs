//! The access decision of DESIGN §1 and §4: a pure function of credential, method and endpoint.

use axum::http::{HeaderMap, HeaderName, Method};

use crate::domain::Access;

/// The kind of credential a request authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token of the installation.
    Token(Access),
    /// A signed-in user's session.
    Session { admin: bool },
}

/// The protected endpoints, as the access rules distinguish them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/api/users`
    Users,
    /// `/api/users/{id}`
    User,
    /// `/api/token`: the presented credential itself.
    TokenSelf,
    /// `/api/tokens`
    Tokens,
    /// `/api/tokens/{id}`
    Token,
    /// `/api/tokens/{id}/regenerate`
    TokenRegenerate,
    /// `/api/sessions/current`
    SessionCurrent,
    /// `/api/webhooks` and everything under it.
    Webhooks,
    /// Any change that gives or takes the admin role or touches an admin user; handlers ask
    /// for it once they know what a request changes.
    AdminRights,
}

/// What a denied request would have needed: the `scope` of `insufficient_scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// A Full Access token (or an admin session).
    Full,
    /// A signed-in administrator.
    Admin,
    /// A user session (not an API token).
    Session,
}

impl Needed {
    /// The scope name on the wire.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Admin => "admin",
            Self::Session => "session",
        }
    }
}

/// Headers some frameworks honour to turn one method into another.
const METHOD_OVERRIDE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// Whether a request asks for another method than the one it uses: a method-override header,
/// or a `_method` parameter in its raw `query`.
pub fn has_method_override(headers: &HeaderMap, query: Option<&str>) -> bool {
    METHOD_OVERRIDE_HEADERS.iter().any(|name| headers.contains_key(name))
        || query.is_some_and(|q| q.split('&').any(|pair| pair.split('=').next() == Some("_method")))
}

/// Methods a Read Access token may use.
pub fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Decides whether `credential` may call `method` on `endpoint`.
///
/// `method_override` says whether the request carries a method-override header or `_method`
/// parameter; a read token's request that does is refused, whatever its method, because some
/// frameworks behind a gateway would honour it and turn a GET into a write.
pub fn decide(
    credential: Credential,
    method: &Method,
    endpoint: Endpoint,
    method_override: bool,
) -> Result<(), Needed> {
    use Credential::*;
    let admin_session = credential == Session { admin: true };
    match endpoint {
        // No token manages tokens or admin rights (promise 4). Webhooks see every token
        // change, so they are managed like tokens.
        Endpoint::Tokens | Endpoint::Token | Endpoint::TokenRegenerate | Endpoint::AdminRights | Endpoint::Webhooks => {
            if admin_session {
                Ok(())
            } else {
                Err(Needed::Admin)
            }
        }
        Endpoint::SessionCurrent => match credential {
            Session { .. } => Ok(()),
            Token(_) => Err(Needed::Session),
        },
        Endpoint::Users | Endpoint::User | Endpoint::TokenSelf => match credential {
            Token(Access::Read) if method_override || !is_read(method) => Err(Needed::Full),
            Session { admin: false } if !is_read(method) => Err(Needed::Admin),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    const CREDENTIALS: [(&str, Credential); 4] = [
        ("read token", Credential::Token(Access::Read)),
        ("full token", Credential::Token(Access::Full)),
        ("user session", Credential::Session { admin: false }),
        ("admin session", Credential::Session { admin: true }),
    ];

    /// One letter per method of [`METHODS`]: `.` allowed, `F` needs full, `A` needs an
    /// admin session, `S` needs a session.
    const TABLE: &[(Endpoint, [&str; 4])] = &[
        //                            read token  full token  user session admin session
        (Endpoint::Users, ["...FFFF", ".......", "...AAAA", "......."]),
        (Endpoint::User, ["...FFFF", ".......", "...AAAA", "......."]),
        (Endpoint::TokenSelf, ["...FFFF", ".......", "...AAAA", "......."]),
        (Endpoint::Tokens, ["AAAAAAA", "AAAAAAA", "AAAAAAA", "......."]),
        (Endpoint::Token, ["AAAAAAA", "AAAAAAA", "AAAAAAA", "......."]),
        (Endpoint::TokenRegenerate, ["AAAAAAA", "AAAAAAA", "AAAAAAA", "......."]),
        (Endpoint::SessionCurrent, ["SSSSSSS", "SSSSSSS", ".......", "......."]),
        (Endpoint::AdminRights, ["AAAAAAA", "AAAAAAA", "AAAAAAA", "......."]),
        (Endpoint::Webhooks, ["AAAAAAA", "AAAAAAA", "AAAAAAA", "......."]),
    ];

    fn letter(result: Result<(), Needed>) -> char {
        match result {
            Ok(()) => '.',
            Err(Needed::Full) => 'F',
            Err(Needed::Admin) => 'A',
            Err(Needed::Session) => 'S',
        }
    }

    #[test]
    fn every_cell_of_the_access_table_holds() {
        for (endpoint, row) in TABLE {
            for ((name, credential), expected) in CREDENTIALS.iter().zip(row) {
                let actual: String = METHODS
                    .iter()
                    .map(|m| letter(decide(*credential, m, *endpoint, false)))
                    .collect();
                assert_eq!(&actual, expected, "{name} on {endpoint:?} (methods {METHODS:?})");
            }
        }
    }

    #[test]
    fn a_method_override_makes_every_read_token_request_a_write() {
        for (endpoint, _) in TABLE {
            for method in &METHODS {
                let result = decide(Credential::Token(Access::Read), method, *endpoint, true);
                assert!(result.is_err(), "read token with override on {endpoint:?} {method}");
            }
        }
        // Full tokens and sessions are not affected: they may write anyway.
        assert_eq!(
            decide(Credential::Token(Access::Full), &Method::GET, Endpoint::Users, true),
            Ok(())
        );
    }
}
