//! In-process verification cost: bad checksum, cache hit, and a cache-less SQLite lookup,
//! and the rate limiter's check, beside a bare SHA-256 of the token as the baseline measured in the same run.
//!
//! Run: `cargo bench --bench verify`

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::auth::{RateLimits, TokenRateLimit, Verifier};
use portcullis::clock::{Clock, SystemClock};
use portcullis::domain::{Access, Description, TokenName};
use portcullis::issue::{TokenRequest, issue_token};
use portcullis::store::{Actor, AuditContext, SqliteStore, Store};
use portcullis::token::{Prefix, TokenDigest};

fn verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, secret) = runtime.block_on(async {
        let store = SqliteStore::open(dir.path().join("bench.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let request = TokenRequest {
            name: TokenName::parse("bench").unwrap(),
            description: Description::parse("").unwrap(),
            access: Access::Full,
            expires_at: None,
            rate_limit: TokenRateLimit::Default,
            allowed_ips: None,
        };
        let audit = AuditContext {
            actor: Actor::Cli,
            at: SystemClock.now(),
            client_ip: None,
        };
        let (_, secret) = issue_token(store.as_ref(), &Prefix::default(), request, None, audit)
            .await
            .unwrap();
        (store, secret)
    });
    let token = secret.expose().to_owned();
    let mut bad = token.clone();
    bad.replace_range(8..9, if &bad[8..9] == "A" { "B" } else { "A" });

    let cached = Verifier::new(store.clone(), Arc::new(SystemClock), 1000, 3600);
    let uncached = Verifier::new(store.clone(), Arc::new(SystemClock), 0, 1);

    let mut group = c.benchmark_group("verify");
    group.bench_function("baseline_sha256_only", |b| {
        b.iter(|| TokenDigest::of(std::hint::black_box(&token)))
    });
    group.bench_function("bad_checksum", |b| {
        b.to_async(&runtime).iter(|| cached.verify(std::hint::black_box(&bad)))
    });
    group.bench_function("cache_hit", |b| {
        b.to_async(&runtime)
            .iter(|| cached.verify(std::hint::black_box(&token)))
    });
    group.bench_function("sqlite_lookup_no_cache", |b| {
        b.to_async(&runtime)
            .iter(|| uncached.verify(std::hint::black_box(&token)))
    });
    // The per-request cost of the rate limiter (issue 6), with limits no run reaches.
    let limiter = portcullis::auth::rate_limit::RateLimiter::new(RateLimits {
        short_limit: Some(u32::MAX),
        long_limit: Some(u32::MAX),
        ..RateLimits::default()
    });
    let now = SystemClock.now();
    group.bench_function("rate_limit_check", |b| {
        b.iter(|| limiter.check(std::hint::black_box(1), TokenRateLimit::Default, now))
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
