//! The verification cache: token digest → what the store said, for a bounded time.
//!
//! Every outcome is cached, including "unknown" and "revoked", so a repeated bad token costs
//! no store round trip. Entries are dropped wholesale when the store reports a change (a
//! revocation anywhere), so a cached entry is never more stale than the change poll interval.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::clock::UnixTime;
use crate::token::TokenDigest;

use super::verifier::Lookup;

/// A bounded map from digest to lookup result. A std `RwLock`: it is held for a hash-map
/// operation only, never across an await, so an async lock would add cost for nothing.
pub struct VerificationCache {
    entries: RwLock<HashMap<TokenDigest, (Lookup, UnixTime)>>,
    capacity: usize,
    ttl_seconds: i64,
    /// False while change detection is broken: then every verification asks the store.
    trusted: AtomicBool,
    /// Bumped by every [`clear`](Self::clear). A lookup that started before a clear may have
    /// read the store before the change; its result is not cached.
    generation: AtomicU64,
}

impl VerificationCache {
    /// A cache of at most `capacity` entries, each kept at most `ttl_seconds`.
    pub fn new(capacity: usize, ttl_seconds: i64) -> Self {
        Self {
            entries: RwLock::new(HashMap::with_capacity(capacity.min(4096))),
            capacity,
            ttl_seconds,
            trusted: AtomicBool::new(true),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached lookup for `digest`, if present, fresh and trusted.
    pub fn get(&self, digest: &TokenDigest, now: UnixTime) -> Option<Lookup> {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(digest)
            .filter(|(_, cached_at)| now - cached_at < self.ttl_seconds)
            .map(|(lookup, _)| lookup.clone())
    }

    /// The current generation; take it before reading the store, pass it to [`insert`](Self::insert).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a lookup read from the store during `generation`. A full cache is emptied
    /// first: simple, and a refill costs one store read per active token.
    pub fn insert(&self, digest: TokenDigest, lookup: Lookup, now: UnixTime, generation: u64) {
        if self.capacity == 0 || !self.trusted.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Checked under the write lock, which `clear` also takes, so no clear can slip between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.clear();
        }
        entries.insert(digest, (lookup, now));
    }

    /// Forgets everything: something changed in the store.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Stops (false) or resumes (true) using the cache, e.g. while change detection is down.
    pub fn set_trusted(&self, trusted: bool) {
        if !trusted {
            self.clear();
        }
        self.trusted.store(trusted, Ordering::Release);
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
