//! The dispatcher: claims due deliveries under a lease, sends each as a signed POST, and records
//! every attempt. No transaction is open while a request is in flight.
//!
//! Fairness: at most `per_webhook` attempts run at once for one webhook and `global` in all; a
//! claim takes at most `per_webhook` deliveries of one webhook and none of a webhook already at
//! its cap, and gives back at once any that find no free slot, so a receiver that hangs until
//! the timeout holds only its own slots, and no claimed delivery waits. Deliveries handed over by
//! this process's ingest may wait in their webhook's queue in memory (see `handoff`) while its
//! receiver answers fast; they start, in order, as its slots free, or are given back to the
//! outbox before their lease could run out during their attempt.

pub mod attempt;
pub mod client;
pub mod guard;
mod handoff;
pub mod metrics;
pub mod retry;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rand::RngExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use self::attempt::Outgoing;
use self::guard::AddressGuard;
pub use self::handoff::{Handoff, HandoffBatch};
use self::metrics::Metrics;
use crate::config::DispatchSettings;
use crate::domain::time::{Millis, duration_ms, now_ms};
use crate::domain::{DeliveryId, WebhookId, random};
use crate::store::{AttemptRecord, ClaimLimits, Claimed, Store, StoreResult};

/// The shortest wait between two claims that found less than they could take, unless a freed
/// slot lets a due delivery go.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How much the dispatcher does at once.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub global: usize,
    pub per_webhook: usize,
    pub batch: usize,
    /// How many handed-over deliveries may wait in memory for one webhook's slots.
    pub queued_per_webhook: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            global: 256,
            per_webhook: 8,
            batch: 128,
            queued_per_webhook: 128,
        }
    }
}

/// The slots a claimed delivery holds until its attempt ends: one of all attempts', one of its
/// webhook's.
struct Slots {
    _global: OwnedSemaphorePermit,
    _webhook: OwnedSemaphorePermit,
}

/// An attempt that took at least this long marks its webhook slow: its handed-over deliveries
/// go to the outbox instead of waiting in memory behind it, until an attempt is fast again.
const SLOW_ATTEMPT_MS: i64 = 1_000;

/// What a delivery handed over by ingest holds: the slots to start at once, or a place in its
/// webhook's queue.
enum Place {
    Running(Slots),
    Waiting {
        _queued: OwnedSemaphorePermit,
        /// No later than the end of its lease.
        lease_until: tokio::time::Instant,
    },
}

/// A delivery this process's ingest leased to its dispatcher.
struct Handed {
    claimed: Claimed,
    body: Bytes,
    place: Place,
}

/// A handed-over delivery waiting in its webhook's queue.
struct Waiting {
    claimed: Claimed,
    body: Bytes,
    _queued: OwnedSemaphorePermit,
    lease_until: tokio::time::Instant,
}

/// One webhook's share of the dispatcher.
struct Lane {
    /// Its attempts in flight: at most `per_webhook`.
    slots: Arc<Semaphore>,
    /// Its handed-over deliveries waiting for a slot: at most `queued_per_webhook`.
    queue: Arc<Semaphore>,
    /// Whether its last attempt took `SLOW_ATTEMPT_MS` or more.
    slow: AtomicBool,
}

/// A leased delivery with what it takes to send it.
struct Job {
    claimed: Claimed,
    url: String,
    body: Bytes,
    secrets: Arc<Vec<String>>,
    signing: crate::domain::webhook::Signing,
    headers: Vec<crate::domain::custom_header::CustomHeader>,
}

pub struct Dispatcher {
    store: Store,
    client: reqwest::Client,
    guard: AddressGuard,
    settings: DispatchSettings,
    capacity: Capacity,
    lease: Duration,
    /// This process's name on its leases.
    owner: String,
    metrics: Arc<Metrics>,
    global: Arc<Semaphore>,
    per_webhook: Mutex<HashMap<WebhookId, Arc<Lane>>>,
    /// Deliveries claimed and not yet recorded: what a shutdown gives back.
    held: Mutex<HashSet<DeliveryId>>,
    /// Rings when an attempt finishes, so the loop can claim again.
    freed: Notify,
    /// Set on shutdown: deliveries still waiting for a slot are not started.
    stopping: AtomicBool,
    /// Deliveries that this process's ingest leased to this dispatcher, with their slots.
    handed: mpsc::UnboundedSender<Handed>,
    handed_rx: Mutex<Option<mpsc::UnboundedReceiver<Handed>>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        settings: DispatchSettings,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        Self::with_capacity(store, settings, metrics, Capacity::default())
    }

    pub fn with_capacity(
        store: Store,
        settings: DispatchSettings,
        metrics: Arc<Metrics>,
        capacity: Capacity,
    ) -> anyhow::Result<Self> {
        let guard = AddressGuard::new(settings.allow_private_targets.clone());
        let client = client::build(&settings, &guard)?;
        let (handed, handed_rx) = mpsc::unbounded_channel();
        Ok(Self {
            handed,
            handed_rx: Mutex::new(Some(handed_rx)),
            store,
            client,
            guard,
            lease: settings.lease,
            stopping: AtomicBool::new(false),
            owner: format!("node-{}-{}", std::process::id(), &random::token()[..8]),
            metrics,
            global: Arc::new(Semaphore::new(capacity.global)),
            per_webhook: Mutex::new(HashMap::new()),
            held: Mutex::new(HashSet::new()),
            freed: Notify::new(),
            capacity,
            settings,
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn lane(&self, webhook: &WebhookId) -> Arc<Lane> {
        let mut lanes = self.per_webhook.lock().unwrap_or_else(|e| e.into_inner());
        if lanes.len() > 4096 {
            let (slots, queue) = (self.capacity.per_webhook, self.capacity.queued_per_webhook);
            lanes.retain(|_, lane| {
                lane.slots.available_permits() < slots || lane.queue.available_permits() < queue
            });
        }
        lanes
            .entry(webhook.clone())
            .or_insert_with(|| {
                Arc::new(Lane {
                    slots: Arc::new(Semaphore::new(self.capacity.per_webhook)),
                    queue: Arc::new(Semaphore::new(self.capacity.queued_per_webhook)),
                    slow: AtomicBool::new(false),
                })
            })
            .clone()
    }

    fn busy_webhooks(&self) -> Vec<WebhookId> {
        let lanes = self.per_webhook.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .iter()
            .filter(|(_, lane)| lane.slots.available_permits() == 0)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Claims up to `limit` due deliveries with a global slot and a slot of its webhook each,
    /// with what sending them takes. Deliveries of a webhook whose slots are all taken are given
    /// back at once, so a claimed delivery never waits and its lease only has to cover its own
    /// attempt. Returns the jobs and whether the claim took as many as it could.
    async fn claim(&self, limit: usize) -> StoreResult<(Vec<(Job, Slots)>, bool)> {
        let Ok(mut global) = self.global.clone().try_acquire_many_owned(limit as u32) else {
            return Ok((Vec::new(), false));
        };
        let limits = ClaimLimits {
            total: limit as i64,
            per_webhook: self.capacity.per_webhook as i64,
            lease_ms: duration_ms(self.lease),
        };
        let claimed = self
            .store
            .claim_due(&self.owner, limits, &self.busy_webhooks())
            .await?;
        let full = claimed.len() == limit;
        if claimed.is_empty() {
            return Ok((Vec::new(), false));
        }
        self.hold(claimed.iter().map(|(c, _)| c));
        let mut slotted = Vec::with_capacity(claimed.len());
        let mut saturated = Vec::new();
        for (claimed, body) in claimed {
            match self
                .lane(&claimed.webhook_id)
                .slots
                .clone()
                .try_acquire_owned()
            {
                Ok(webhook) => {
                    let global = global
                        .split(1)
                        .expect("one global slot per claimed delivery");
                    let slots = Slots {
                        _global: global,
                        _webhook: webhook,
                    };
                    slotted.push((claimed, body, slots));
                }
                Err(_) => saturated.push(claimed.id),
            }
        }
        if !saturated.is_empty() {
            self.store.release_claimed(&self.owner, &saturated).await?;
            self.forget(&saturated);
        }
        self.metrics.record_arrived(0, slotted.len());
        Ok((self.prepare(slotted).await?, full || !saturated.is_empty()))
    }

    /// Turns leased deliveries into jobs with their webhook's target, from memory. Those of a
    /// webhook disabled (or deleted) since their event are marked skipped.
    async fn prepare(
        &self,
        leased: Vec<(Claimed, Bytes, Slots)>,
    ) -> StoreResult<Vec<(Job, Slots)>> {
        let mut webhooks: Vec<WebhookId> =
            leased.iter().map(|(c, ..)| c.webhook_id.clone()).collect();
        webhooks.sort();
        webhooks.dedup();
        let targets = self.store.targets(&webhooks).await?;
        let now = now_ms();
        let secrets: HashMap<&WebhookId, Arc<Vec<String>>> = targets
            .iter()
            .map(|(id, target)| (id, Arc::new(target.secrets_at(now))))
            .collect();
        let mut jobs = Vec::with_capacity(leased.len());
        let mut skipped = Vec::new();
        for (claimed, body, slots) in leased {
            match targets.get(&claimed.webhook_id) {
                Some(target) if target.enabled && !secrets[&claimed.webhook_id].is_empty() => {
                    let job = Job {
                        url: target.url.clone(),
                        body,
                        secrets: secrets[&claimed.webhook_id].clone(),
                        signing: target.signing,
                        headers: target.headers.clone(),
                        claimed,
                    };
                    jobs.push((job, slots));
                }
                _ => skipped.push(claimed.id),
            }
        }
        if !skipped.is_empty() {
            self.store.skip_claimed(&self.owner, &skipped).await?;
            self.metrics.record_skipped(skipped.len());
            self.forget(&skipped);
        }
        Ok(jobs)
    }

    fn hold<'a>(&self, deliveries: impl Iterator<Item = &'a Claimed>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.extend(deliveries.map(|c| c.id.clone()));
    }

    fn forget(&self, ids: &[DeliveryId]) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            held.remove(id);
        }
    }

    /// Sends one claimed delivery while holding its slots. `None` when the dispatcher began
    /// stopping first.
    async fn attempt(&self, job: Job, _slots: Slots) -> Option<AttemptRecord> {
        if self.stopping.load(Ordering::Relaxed) {
            return None;
        }
        let number = job.claimed.attempts + 1;
        let span = tracing::info_span!(
            "attempt",
            delivery_id = %job.claimed.id,
            webhook_id = %job.claimed.webhook_id,
            attempt = number
        );
        let outgoing = Outgoing {
            url: &job.url,
            body: job.body.clone(),
            secrets: &job.secrets,
            signing: job.signing,
            headers: &job.headers,
            event_id: job.claimed.event_id.as_str(),
            delivery_id: job.claimed.id.as_str(),
            attempt: number,
        };
        let outcome = attempt::send(&self.client, &self.guard, &outgoing)
            .instrument(span.clone())
            .await;
        self.lane(&job.claimed.webhook_id)
            .slow
            .store(outcome.duration_ms >= SLOW_ATTEMPT_MS, Ordering::Relaxed);
        let jitter = rand::rng().random_range(-1.0..=1.0);
        let next = retry::next_step(
            &retry::Tried {
                succeeded: outcome.succeeded(),
                gone: outcome.gone(),
                attempt: number,
                queued_attempts: job.claimed.queued_attempts,
                retry_after: outcome.retry_after,
            },
            &self.settings.retry_schedule,
            jitter,
            now_ms(),
        );
        span.in_scope(|| match &outcome.error_kind {
            None => tracing::debug!(status = outcome.response_status, "delivered"),
            Some(kind) => tracing::info!(
                kind = kind.as_str(),
                error = outcome.error_message.as_deref(),
                "attempt failed"
            ),
        });
        self.metrics.record(next, outcome.duration_ms);
        Some(AttemptRecord {
            attempt: number,
            started_at: outcome.started_at,
            duration_ms: outcome.duration_ms,
            signature_t: outcome.signature_t,
            response_status: outcome.response_status.map(i64::from),
            response_body: outcome.response_body,
            error_kind: outcome.error_kind.map(attempt::ErrorKind::as_str),
            error_message: outcome.error_message,
            request_headers: Some(outcome.request_headers),
            response_headers: outcome.response_headers,
            next,
            delivery: job.claimed,
        })
    }

    async fn record(&self, records: &[AttemptRecord]) -> StoreResult<()> {
        self.store
            .record_attempts(
                &self.owner,
                records,
                duration_ms(self.settings.disable_after),
            )
            .await?;
        let ids: Vec<DeliveryId> = records.iter().map(|r| r.delivery.id.clone()).collect();
        self.forget(&ids);
        Ok(())
    }

    /// One step, for tests and tools: claims one batch, sends it, records the attempts, and
    /// returns how many deliveries were attempted.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let free = self.global.available_permits().min(self.capacity.batch);
        let (jobs, _) = self.claim(free).await?;
        let attempts = jobs
            .into_iter()
            .map(|(job, slots)| self.attempt(job, slots));
        let records: Vec<AttemptRecord> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .flatten()
            .collect();
        self.record(&records).await?;
        Ok(records.len())
    }

    /// Runs until `shutdown` turns true; then stops claiming, waits up to `grace` for the
    /// attempts in flight, records what finished and gives back every other lease.
    ///
    /// Deliveries arrive two ways: handed over by this process's ingest, already leased with
    /// their bodies (the common case, which needs no query), and claimed from the outbox. A
    /// claim is made only when something may be due: after a wake-up (deliveries written for
    /// any dispatcher, here or on another node), when the next retry or lease end comes, or
    /// while the last claim found more than it could take.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let wake = self.store.dispatcher_wake();
        let listener = self.store.listen_for_deliveries();
        let mut handed = self
            .handed_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("a dispatcher runs once");
        let (results, recorder) = self.clone().spawn_recorder();
        let mut attempts = JoinSet::new();
        tracing::info!(owner = %self.owner, "dispatcher started");
        // Claims are worth their queries only when they can take a good share of a batch.
        let threshold = self.capacity.batch.min(self.capacity.global / 4).max(1);
        let spawn = |attempts: &mut JoinSet<()>, job: Job, slots: Slots| {
            let this = self.clone();
            let results = results.clone();
            attempts.spawn(async move {
                if let Some(record) = this.attempt(job, slots).await {
                    let _ = results.send(record);
                }
                this.freed.notify_one();
            });
        };
        let (mut look, mut blocked) = (true, false);
        let mut look_at = tokio::time::Instant::now();
        let mut arrived = Vec::new();
        let mut waiting: HashMap<WebhookId, VecDeque<Waiting>> = HashMap::new();
        while !*shutdown.borrow() {
            while attempts.try_join_next().is_some() {}
            let mut ready = Vec::new();
            self.metrics.record_arrived(arrived.len(), 0);
            for handed in arrived.drain(..) {
                let Handed {
                    claimed,
                    body,
                    place,
                } = handed;
                match place {
                    Place::Running(slots) => ready.push((claimed, body, slots)),
                    Place::Waiting {
                        _queued,
                        lease_until,
                    } => waiting
                        .entry(claimed.webhook_id.clone())
                        .or_default()
                        .push_back(Waiting {
                            claimed,
                            body,
                            _queued,
                            lease_until,
                        }),
                }
            }
            if !waiting.is_empty() {
                let stale = self.start_waiting(&mut waiting, &mut ready);
                if !stale.is_empty() {
                    // Due again at once, for a claim (theirs or another node's).
                    if let Err(error) = self.store.release_claimed(&self.owner, &stale).await {
                        tracing::error!(error = %error, "giving back waiting deliveries failed; their leases run out");
                    }
                    self.forget(&stale);
                }
            }
            if !ready.is_empty() {
                match self.prepare(ready).await {
                    Ok(jobs) => {
                        for (job, slots) in jobs {
                            spawn(&mut attempts, job, slots);
                        }
                    }
                    Err(error) => {
                        // Their leases run out and they are claimed again.
                        tracing::error!(error = %error, "preparing handed-over deliveries failed")
                    }
                }
            }
            if tokio::time::Instant::now() >= look_at {
                look = true;
            }
            let free = self.global.available_permits().min(self.capacity.batch);
            if look && free > 0 && (free >= threshold || attempts.is_empty()) {
                match self.claim(free).await {
                    Ok((jobs, more)) => {
                        for (job, slots) in jobs {
                            spawn(&mut attempts, job, slots);
                        }
                        look = more;
                        if !more {
                            // What is due now but was not taken waits for a slot of its
                            // webhook: a freed slot wakes the loop (`blocked`). Otherwise the
                            // next claim is when the next delivery falls due.
                            let pause = self.pause().await;
                            blocked = pause.is_zero();
                            look_at = tokio::time::Instant::now() + pause.max(MIN_PAUSE);
                        }
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "claiming deliveries failed; retrying shortly");
                        look = false;
                        look_at = tokio::time::Instant::now() + Duration::from_secs(1);
                    }
                }
                if look && self.global.available_permits() >= threshold {
                    continue;
                }
            }
            // The first waiting delivery to give back if no slot frees for it before then.
            let give_back_at = waiting
                .values()
                .filter_map(VecDeque::front)
                .map(|w| w.lease_until - self.start_margin())
                .min();
            tokio::select! {
                () = wake.notified() => look = true,
                () = sleep_until_some(give_back_at) => {}
                () = self.freed.notified() => look |= blocked,
                _ = handed.recv_many(&mut arrived, self.capacity.batch) => {}
                () = tokio::time::sleep_until(look_at), if !look => {}
                _ = shutdown.changed() => {}
            }
        }
        self.stopping.store(true, Ordering::Relaxed);
        handed.close();
        tracing::info!(in_flight = attempts.len(), "dispatcher stopping");
        let _ = tokio::time::timeout(grace, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
        attempts.abort_all();
        drop(results);
        let _ = recorder.await;
        if let Some(listener) = listener {
            listener.abort();
        }
        let unfinished: Vec<DeliveryId> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        if let Err(error) = self.store.release_claimed(&self.owner, &unfinished).await {
            tracing::error!(error = %error, "releasing leases failed; they return when they expire");
        }
        tracing::info!(released = unfinished.len(), "dispatcher stopped");
    }

    /// How long before its lease ends an attempt must start at the latest.
    fn start_margin(&self) -> Duration {
        self.settings.delivery_timeout + Duration::from_secs(1)
    }

    /// Starts waiting deliveries, oldest first in each webhook's queue, while slots are free.
    /// Returns those whose lease could run out during their attempt, to give back instead.
    fn start_waiting(
        &self,
        waiting: &mut HashMap<WebhookId, VecDeque<Waiting>>,
        ready: &mut Vec<(Claimed, Bytes, Slots)>,
    ) -> Vec<DeliveryId> {
        let latest = tokio::time::Instant::now() + self.start_margin();
        let mut stale = Vec::new();
        for (webhook, queue) in waiting.iter_mut() {
            let lane = self.lane(webhook);
            while let Some(next) = queue.front() {
                if next.lease_until < latest {
                    stale.extend(queue.pop_front().map(|w| w.claimed.id));
                    continue;
                }
                let Ok(global) = self.global.clone().try_acquire_owned() else {
                    break;
                };
                let Ok(slot) = lane.slots.clone().try_acquire_owned() else {
                    break;
                };
                let Some(next) = queue.pop_front() else { break };
                let slots = Slots {
                    _global: global,
                    _webhook: slot,
                };
                ready.push((next.claimed, next.body, slots));
            }
        }
        waiting.retain(|_, queue| !queue.is_empty());
        stale
    }

    /// How long to wait before looking again: until the next delivery is due, at most a second.
    async fn pause(&self) -> Duration {
        let poll = Duration::from_secs(1);
        match self.store.next_due().await {
            Ok(Some(at)) => {
                Duration::from_millis((at - now_ms()).clamp(0, duration_ms(poll)) as u64)
            }
            Ok(None) => poll,
            Err(_) => poll,
        }
    }

    /// A task that writes attempt results in batches, retrying while the database is away so
    /// no result is dropped.
    fn spawn_recorder(
        self: Arc<Self>,
    ) -> (
        mpsc::UnboundedSender<AttemptRecord>,
        tokio::task::JoinHandle<()>,
    ) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<AttemptRecord>();
        let handle = tokio::spawn(async move {
            let mut batch = Vec::new();
            while receiver.recv_many(&mut batch, 512).await > 0 {
                let mut backoff = Duration::from_millis(100);
                while let Err(error) = self.record(&batch).await {
                    tracing::error!(error = %error, records = batch.len(), "recording attempts failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                batch.clear();
            }
        });
        (sender, handle)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// Sleeps until `at`, or forever when there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// For tests: when the next delivery is due, in milliseconds from now.
pub async fn due_in(store: &Store) -> StoreResult<Option<Millis>> {
    Ok(store.next_due().await?.map(|at| at - now_ms()))
}
