//! The verifier: checksum → cache → store, and the gathering of last-used times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, UnixTime};
use crate::domain::Access;
use crate::store::{Store, StoreResult};
use crate::token::{FormatError, PresentedToken};

use super::cache::VerificationCache;

/// What the store knows about a digest; cached as is, judged against the clock on each use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No token or live session has this digest.
    Unknown,
    /// An API token.
    Token {
        id: i64,
        name: Arc<str>,
        access: Access,
        expires_at: Option<UnixTime>,
        revoked: bool,
    },
    /// A live session of an active user.
    Session {
        id: i64,
        user_id: i64,
        username: Arc<str>,
        admin: bool,
        expires_at: UnixTime,
    },
}

/// A credential that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An API token.
    Token {
        id: i64,
        name: Arc<str>,
        access: Access,
        expires_at: Option<UnixTime>,
    },
    /// A signed-in user.
    Session {
        id: i64,
        user_id: i64,
        username: Arc<str>,
        admin: bool,
        expires_at: UnixTime,
    },
}

/// Why a well-formed request's token is refused (all answer 401 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not `<prefix>_<49 base62>`.
    Malformed,
    /// The checksum does not match: refused without a store lookup.
    BadChecksum,
    /// No such token or session.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked (or a session that was ended).
    Revoked,
}

impl Rejection {
    /// A description safe to show the client (it never includes the token).
    pub fn detail(self) -> &'static str {
        match self {
            Self::Malformed => "The token is not a Portcullis token.",
            Self::BadChecksum => "The token's checksum does not match; it was probably mistyped or truncated.",
            Self::Unknown => "The token is not known.",
            Self::Expired => "The token has expired.",
            Self::Revoked => "The token has been revoked.",
        }
    }
}

/// Verifies presented tokens. Shared by every request; cheap on a cache hit.
pub struct Verifier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache: VerificationCache,
    /// Token id → latest use, written to the store in batches by [`flush_usage`](Self::flush_usage).
    usage: Mutex<HashMap<i64, UnixTime>>,
}

impl Verifier {
    /// A verifier with a cache of `capacity` entries kept at most `ttl_seconds`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, capacity: usize, ttl_seconds: i64) -> Self {
        Self {
            store,
            clock,
            cache: VerificationCache::new(capacity, ttl_seconds),
            usage: Mutex::default(),
        }
    }

    /// Verifies a token string. `Err` only when the store could not answer: callers fail closed.
    pub async fn verify(&self, text: &str) -> StoreResult<Result<Grant, Rejection>> {
        let presented = match PresentedToken::parse(text) {
            Ok(presented) => presented,
            Err(FormatError::Malformed) => return Ok(Err(Rejection::Malformed)),
            Err(FormatError::BadChecksum) => return Ok(Err(Rejection::BadChecksum)),
        };
        let digest = presented.digest();
        let now = self.clock.now();
        let lookup = match self.cache.get(&digest, now) {
            Some(lookup) => lookup,
            None => {
                let generation = self.cache.generation();
                let lookup = self.lookup(&presented).await?;
                self.cache.insert(digest, lookup.clone(), now, generation);
                lookup
            }
        };
        Ok(self.judge(lookup, now))
    }

    async fn lookup(&self, presented: &PresentedToken<'_>) -> StoreResult<Lookup> {
        let digest = presented.digest();
        Ok(if presented.is_session() {
            self.store
                .session_by_digest(&digest)
                .await?
                .map_or(Lookup::Unknown, |s| Lookup::Session {
                    id: s.id,
                    user_id: s.user_id,
                    username: s.username.into(),
                    admin: s.admin,
                    expires_at: s.expires_at,
                })
        } else {
            self.store
                .token_by_digest(&digest)
                .await?
                .map_or(Lookup::Unknown, |t| Lookup::Token {
                    id: t.id,
                    name: t.name.into(),
                    access: t.access,
                    expires_at: t.expires_at,
                    revoked: t.revoked_at.is_some(),
                })
        })
    }

    fn judge(&self, lookup: Lookup, now: UnixTime) -> Result<Grant, Rejection> {
        match lookup {
            Lookup::Unknown => Err(Rejection::Unknown),
            Lookup::Token { revoked: true, .. } => Err(Rejection::Revoked),
            Lookup::Token {
                expires_at: Some(at), ..
            } if at <= now => Err(Rejection::Expired),
            Lookup::Session { expires_at, .. } if expires_at <= now => Err(Rejection::Expired),
            Lookup::Token {
                id,
                name,
                access,
                expires_at,
                revoked: false,
            } => {
                self.usage.lock().unwrap_or_else(|p| p.into_inner()).insert(id, now);
                Ok(Grant::Token {
                    id,
                    name,
                    access,
                    expires_at,
                })
            }
            Lookup::Session {
                id,
                user_id,
                username,
                admin,
                expires_at,
            } => Ok(Grant::Session {
                id,
                user_id,
                username,
                admin,
                expires_at,
            }),
        }
    }

    /// Forgets every cached lookup, e.g. after a revocation.
    pub fn invalidate(&self) {
        self.cache.clear();
    }

    /// The cache, for change detection to mark trusted or not.
    pub fn cache(&self) -> &VerificationCache {
        &self.cache
    }

    /// A use of token `id` seen but not yet written to the store.
    pub fn pending_use(&self, id: i64) -> Option<UnixTime> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).get(&id).copied()
    }

    /// Writes the gathered last-used times in one batch: at most one write per token per
    /// flush, whatever the request rate. On failure the times are kept for the next flush.
    pub async fn flush_usage(&self) -> StoreResult<usize> {
        let batch: Vec<(i64, UnixTime)> = std::mem::take(&mut *self.usage.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(error) = self.store.record_token_use(&batch).await {
            let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in batch {
                let entry = usage.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(error);
        }
        Ok(batch.len())
    }
}
