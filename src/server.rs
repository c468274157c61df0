//! `portcullis serve`: opening the store, background tasks, and graceful shutdown.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Verifier;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::store::{self, Store};
use crate::token::{OsRandom, Prefix, TokenSecret};

/// Runs the server until SIGINT or SIGTERM, then finishes in-flight requests, writes the
/// gathered last-used times and closes the store.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = store::open(&settings).await?;
    store.migrate().await.context("applying database migrations")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let verifier = Arc::new(
        Verifier::new(
            store.clone(),
            clock.clone(),
            settings.cache_capacity,
            settings.cache_ttl.as_secs().max(1) as i64,
        )
        .with_rate_limits(settings.rate_limits)
        .with_failure_limits(settings.failed_auth),
    );
    let tls = match settings.tls.clone() {
        Some(files) => Some((crate::tls::load(&files)?, files)),
        None => None,
    };
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{address}"));
    let setup_code = announce(&public_url, store.as_ref()).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let flusher = tokio::spawn(flush_usage(
        verifier.clone(),
        settings.last_used_flush_interval,
        stop_rx.clone(),
    ));
    let sweeper = settings.disable_unused_after.map(|after| {
        tokio::spawn(disable_unused(
            store.clone(),
            verifier.clone(),
            clock.clone(),
            after,
            settings.unused_check_interval,
            stop_rx.clone(),
        ))
    });
    let webhooks = tokio::spawn(crate::webhooks::dispatcher::run(
        store.clone(),
        clock.clone(),
        settings.webhooks.clone(),
        stop_rx.clone(),
    ));
    let watcher = tokio::spawn(watch_changes(
        store.clone(),
        verifier.clone(),
        settings.change_poll_interval,
        stop_rx,
    ));

    let state = AppState {
        store: store.clone(),
        verifier: verifier.clone(),
        clock,
        settings: Arc::new(settings),
    };
    let web = crate::web::WebState::new(&state, setup_code);
    let proxy = crate::gateway::new_proxy(&state);
    let app = http::router(state.clone(), proxy.clone()).merge(crate::web::router(state.clone(), web));
    let runtime = tokio::runtime::Handle::current();
    let threads = match runtime.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "1 (current thread)".to_owned(),
        _ => runtime.metrics().num_workers().to_string(),
    };
    tracing::info!(%address, scheme, threads, "serving");
    match tls {
        Some((config, files)) => {
            crate::tls::serve(listener, state, app, proxy, files, config, shutdown_signal()).await?
        }
        None => http::serve::plain(listener, state, app, proxy, shutdown_signal()).await?,
    }

    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    let _ = flusher.await;
    let _ = webhooks.await;
    if let Some(sweeper) = sweeper {
        let _ = sweeper.await;
    }
    if let Err(error) = verifier.flush_usage().await {
        tracing::error!(error = format!("{error:#}"), "writing last-used times at shutdown");
    }
    store.close().await;
    Ok(())
}

/// Prints where the server listens, and the one-time setup link while no user exists.
/// Both go to stdout, not the log: the setup code is a secret and must not be logged.
/// Returns the setup code, which the web admin's `/setup` page accepts once.
async fn announce(public_url: &str, store: &dyn Store) -> anyhow::Result<Option<String>> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "Portcullis listening on {public_url}")?;
    let mut setup_code = None;
    if store.count_users().await? == 0 {
        let code = TokenSecret::generate(&Prefix::parse("setup").expect("valid prefix"), &mut OsRandom)
            .context("reading the OS random number generator")?;
        writeln!(
            out,
            "No user exists yet. Create the first administrator at this one-time link:"
        )?;
        writeln!(out, "  {public_url}/setup?code={}", code.expose())?;
        writeln!(
            out,
            "or on this machine: portcullis user create --admin --username NAME --email EMAIL"
        )?;
        setup_code = Some(code.expose().to_owned());
    }
    out.flush()?;
    Ok(setup_code)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Writes gathered last-used times every `interval`.
async fn flush_usage(verifier: Arc<Verifier>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(error) = verifier.flush_usage().await {
                    tracing::warn!(error = format!("{error:#}"), "writing last-used times; will retry");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Disables tokens unused for `after`, checking every `interval` (first at start-up). Uses
/// gathered in memory are written first, so a token in use is never disabled.
async fn disable_unused(
    store: Arc<dyn Store>,
    verifier: Arc<Verifier>,
    clock: Arc<dyn Clock>,
    after: Duration,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = verifier.flush_usage().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "writing last-used times before the unused-token check; will retry"
            );
            continue;
        }
        let now = clock.now();
        let audit = store::AuditContext {
            actor: store::Actor::System,
            at: now,
            client_ip: None,
        };
        let cutoff = now.saturating_sub(i64::try_from(after.as_secs()).unwrap_or(i64::MAX));
        match store.disable_unused_tokens(cutoff, audit).await {
            Ok(ids) if !ids.is_empty() => {
                verifier.invalidate();
                tracing::info!(
                    count = ids.len(),
                    ?ids,
                    "disabled tokens unused for {}",
                    humantime::format_duration(after)
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "disabling unused tokens; will retry"),
        }
    }
}

/// Applies the store's change feed (SQLite: polling every `interval`; PostgreSQL:
/// LISTEN/NOTIFY) to the verification cache. The cache is trusted only while the feed works:
/// untrusted from the start until the first subscription, and from any loss until the feed
/// has resubscribed and the cache was cleared, so a missed change can never be served.
async fn watch_changes(
    store: Arc<dyn Store>,
    verifier: Arc<Verifier>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    verifier.cache().set_trusted(false);
    let mut feed = store.changes(interval);
    let mut lost = false;
    loop {
        let change = tokio::select! {
            change = feed.next() => change,
            _ = stop.changed() => return,
        };
        match change {
            store::Change::Changed => verifier.invalidate(),
            store::Change::Subscribed => {
                // Cleared first: anything cached before the subscription may be stale.
                verifier.invalidate();
                verifier.cache().set_trusted(true);
                if std::mem::take(&mut lost) {
                    tracing::info!("change detection recovered; the verification cache is in use again");
                } else {
                    tracing::debug!("change detection is working; the verification cache is in use");
                }
            }
            store::Change::Lost(error) => {
                verifier.cache().set_trusted(false);
                lost = true;
                tracing::warn!(
                    error = format!("{error:#}"),
                    "change detection failed; verifying against the store until it recovers"
                );
            }
        }
    }
}
