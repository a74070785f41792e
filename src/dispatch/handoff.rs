//! The hand-off: deliveries that this process's ingest writes go straight to its dispatcher.
//!
//! While an ingest transaction builds its deliveries, the dispatcher is asked for a place per
//! delivery: a slot (one of all attempts', one of its webhook's, as a claim takes), or, when its
//! webhook's slots are all taken, a place in that webhook's queue in memory. Each delivery that
//! gets one is written already leased to this dispatcher, and after the commit it is handed over
//! in memory with its body, so sending it needs no claim and no query. The outbox row stays the
//! source of truth: if the process dies before the attempt is recorded, the lease runs out and
//! any dispatcher claims the delivery. One that gets no place (the dispatcher saturated, its
//! webhook's queue full or its receiver slow, or the dispatcher stopping) is written due, and
//! claimed as usual.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::time::Instant;

use super::{Dispatcher, Handed, Place, Slots};
use crate::domain::WebhookId;
use crate::domain::time::{Millis, duration_ms};
use crate::store::{Claimed, LeaseOffer};

/// What ingest holds to hand deliveries to this process's dispatcher.
#[derive(Clone)]
pub struct Handoff {
    dispatcher: Arc<Dispatcher>,
}

impl Handoff {
    pub fn new(dispatcher: Arc<Dispatcher>) -> Self {
        Self { dispatcher }
    }

    /// Starts collecting places for one ingest transaction. Call it before the transaction
    /// starts: the leases it writes end no earlier than a lease from now.
    pub fn batch(&self) -> HandoffBatch<'_> {
        HandoffBatch {
            dispatcher: &self.dispatcher,
            lease_until: Instant::now() + self.dispatcher.lease,
            places: Vec::new(),
        }
    }
}

/// The places reserved for one ingest transaction's deliveries, in the order they were taken.
pub struct HandoffBatch<'a> {
    dispatcher: &'a Dispatcher,
    /// No later than the end of the leases this batch writes.
    lease_until: Instant,
    places: Vec<Place>,
}

impl LeaseOffer for HandoffBatch<'_> {
    fn owner(&self) -> &str {
        &self.dispatcher.owner
    }

    fn lease_ms(&self) -> Millis {
        duration_ms(self.dispatcher.lease)
    }

    /// Reserves a slot for a delivery to `webhook` if the dispatcher has one free, or else a
    /// place in the webhook's queue.
    fn take(&mut self, webhook: &WebhookId) -> bool {
        let dispatcher = self.dispatcher;
        if dispatcher.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let lane = dispatcher.lane(webhook);
        if let Ok(global) = dispatcher.global.clone().try_acquire_owned()
            && let Ok(webhook) = lane.slots.clone().try_acquire_owned()
        {
            self.places.push(Place::Running(Slots {
                _global: global,
                _webhook: webhook,
            }));
            return true;
        }
        if lane.slow.load(Ordering::Relaxed) {
            return false;
        }
        match lane.queue.clone().try_acquire_owned() {
            Ok(queued) => {
                self.places.push(Place::Waiting {
                    _queued: queued,
                    lease_until: self.lease_until,
                });
                true
            }
            Err(_) => false,
        }
    }
}

impl HandoffBatch<'_> {
    /// After the commit: gives each delivery leased by it to the dispatcher with the place
    /// reserved for it. Dropping the batch instead (the transaction failed) frees the places.
    pub fn send(self, leased: Vec<(Claimed, Bytes)>) {
        debug_assert_eq!(leased.len(), self.places.len());
        let dispatcher = self.dispatcher;
        dispatcher.hold(leased.iter().map(|(claimed, _)| claimed));
        for ((claimed, body), place) in leased.into_iter().zip(self.places) {
            // A dispatcher that has stopped gave back what it held; a lease still missed
            // runs out and the delivery is claimed again.
            let _ = dispatcher.handed.send(Handed {
                claimed,
                body,
                place,
            });
        }
    }
}
