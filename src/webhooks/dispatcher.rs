//! The server's webhook task. Every `poll_interval` it
//! 1. records expiry notices (every `expiry_check_interval`) as audit events,
//! 2. turns audit events not yet dispatched into deliveries (the outbox), and
//! 3. claims due deliveries and sends them, a few at a time, recording each attempt.
//!
//! Every step is a store transaction that is safe to run on several instances at once: an
//! event is dispatched once, a delivery is claimed by one sender at a time (its next attempt
//! time is moved past the attempt's timeout while it is being sent). A sender that dies
//! mid-attempt leaves the delivery to be sent again when that lease ends: delivery is
//! at-least-once, and receivers drop repeats by `Portcullis-Delivery`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::schedule::RetryPolicy;
use super::sender::{self, Attempt, Outcome};
use crate::clock::Clock;
use crate::store::{AttemptResult, Store, WebhookDelivery, WebhookEndpoint};

/// Attempts in flight at once per instance.
const CONCURRENCY: usize = 16;
/// How long finished deliveries stay in the log.
const KEEP_DELIVERIES_SECONDS: i64 = 30 * 86_400;
/// How long shutdown waits for attempts in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Audit events dispatched per transaction.
const BATCH: u32 = 200;

/// The `[webhooks]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// When failed deliveries are tried again, and how often.
    pub retry: RetryPolicy,
    /// Longest wait for an endpoint's answer.
    pub timeout: Duration,
    /// How often the outbox is looked at.
    pub poll_interval: Duration,
    /// How long before a token's expiry `token.expiring` is sent.
    pub expiring_before: Duration,
    /// How often tokens are checked for expiry notices.
    pub expiry_check_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            expiring_before: Duration::from_secs(7 * 86_400),
            expiry_check_interval: Duration::from_secs(60),
        }
    }
}

/// Runs until `stop` changes, then waits briefly for the attempts in flight.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut sends = JoinSet::new();
    let mut ticker = tokio::time::interval(settings.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_expiry_check = Instant::now();
    // While the store fails, the first failure is a warning and the rest are quiet, so an
    // outage does not flood the log; the recovery is reported.
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        while sends.try_join_next().is_some() {}
        let outcome = tick(&store, &clock, &settings, &permits, &mut sends, &mut next_expiry_check).await;
        match (outcome, failing) {
            (Ok(()), true) => {
                failing = false;
                tracing::info!("webhook dispatching recovered");
            }
            (Ok(()), false) => {}
            (Err(error), false) => {
                failing = true;
                tracing::warn!(
                    error = format!("{error:#}"),
                    "webhook dispatching failed; retrying quietly until it works"
                );
            }
            (Err(error), true) => tracing::debug!(error = format!("{error:#}"), "webhook dispatching still failing"),
        }
    }
    // Attempts in flight get a moment to finish; the rest are dropped and, their lease ended,
    // sent again by whichever instance runs next (at-least-once).
    let drain = async { while sends.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::info!("stopping webhook attempts still in flight; they will be retried");
        sends.abort_all();
    }
}

/// One round: expiry notices when due, the outbox, and sending what is due.
async fn tick(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    settings: &WebhookSettings,
    permits: &Arc<Semaphore>,
    sends: &mut JoinSet<()>,
    next_expiry_check: &mut Instant,
) -> Result<(), crate::store::StoreError> {
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let now = clock.now();
    if Instant::now() >= *next_expiry_check {
        let count = store
            .record_expiry_notices(now, now.saturating_add(secs(settings.expiring_before)))
            .await?;
        if count > 0 {
            tracing::info!(count, "recorded token expiry notices");
        }
        let pruned = store
            .prune_deliveries(now.saturating_sub(KEEP_DELIVERIES_SECONDS))
            .await?;
        if pruned > 0 {
            tracing::debug!(pruned, "deleted webhook deliveries older than 30 days");
        }
        *next_expiry_check = Instant::now() + settings.expiry_check_interval;
    }
    while store.dispatch_audit_events(now, BATCH).await? == u64::from(BATCH) {}
    let free = permits.available_permits();
    if free == 0 {
        return Ok(());
    }
    // The lease outlasts the attempt, with room for recording its outcome.
    let lease_until = now.saturating_add(secs(settings.timeout)).saturating_add(60);
    let claimed = store
        .claim_deliveries(now, lease_until, u32::try_from(free).unwrap_or(1))
        .await?;
    for (delivery, endpoint) in claimed {
        // Claimed no more than the free permits, and only this task takes them.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            break;
        };
        let (store, clock, settings) = (store.clone(), clock.clone(), settings.clone());
        sends.spawn(async move {
            deliver(store.as_ref(), clock.as_ref(), &settings, delivery, endpoint).await;
            drop(permit);
        });
    }
    Ok(())
}

/// Sends one delivery and records the attempt.
async fn deliver(
    store: &dyn Store,
    clock: &dyn Clock,
    settings: &WebhookSettings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
) {
    let sent_at = clock.now();
    let signature = endpoint.secret.signature_header(sent_at, delivery.payload.as_bytes());
    let outcome = sender::send(Attempt {
        url: &endpoint.url,
        headers: [
            ("portcullis-event", delivery.event_type.clone()),
            ("portcullis-delivery", format!("dlv_{}", delivery.id)),
            ("portcullis-signature", signature),
        ],
        body: delivery.payload.clone(),
        timeout: settings.timeout,
    })
    .await;
    let at = clock.now();
    let attempt = delivery.attempts.saturating_add(1);
    let (status_code, error) = match &outcome {
        Outcome::Delivered(status) => (Some(*status), None),
        Outcome::Refused(status) => (Some(*status), Some(format!("answered HTTP {status}"))),
        Outcome::Failed(why) => (None, Some(why.clone())),
    };
    let retry_at = error.as_ref().and_then(|_| settings.retry.next_attempt(attempt, at));
    match &error {
        None => tracing::info!(
            delivery = delivery.id,
            webhook = endpoint.id,
            event = %delivery.event_type,
            attempt,
            status = status_code,
            "webhook delivered"
        ),
        Some(why) => tracing::warn!(
            delivery = delivery.id,
            webhook = endpoint.id,
            event = %delivery.event_type,
            attempt,
            status = status_code,
            error = %why,
            will_retry = retry_at.is_some(),
            "webhook delivery failed"
        ),
    }
    let result = AttemptResult {
        at,
        status_code,
        error,
        retry_at,
    };
    if let Err(error) = store.record_attempt(delivery.id, result).await {
        // The lease ends and the delivery is sent again: at-least-once.
        tracing::warn!(
            error = format!("{error:#}"),
            delivery = delivery.id,
            "recording a webhook attempt"
        );
    }
}
