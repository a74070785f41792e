//! The hand-off: deliveries that this process's ingest writes go straight to its dispatcher.
//!
//! While an ingest transaction builds its deliveries, the dispatcher is asked for a slot per
//! delivery (one of all attempts', one of its webhook's, as a claim takes). Each delivery that
//! gets one is written already leased to this dispatcher, and after the commit it is handed over
//! in memory with its body, so sending it needs no claim and no query. The outbox row stays the
//! source of truth: if the process dies before the attempt is recorded, the lease runs out and
//! any dispatcher claims the delivery. One that gets no slot (the dispatcher is saturated, its
//! webhook at its cap, or the dispatcher stopping) is written due, and claimed as usual.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{Dispatcher, Slots};
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

    /// Starts collecting slots for one ingest transaction.
    pub fn batch(&self) -> HandoffBatch<'_> {
        HandoffBatch {
            dispatcher: &self.dispatcher,
            slots: Vec::new(),
        }
    }
}

/// The slots reserved for one ingest transaction's deliveries, in the order they were taken.
pub struct HandoffBatch<'a> {
    dispatcher: &'a Dispatcher,
    slots: Vec<Slots>,
}

impl LeaseOffer for HandoffBatch<'_> {
    fn owner(&self) -> &str {
        &self.dispatcher.owner
    }

    fn lease_ms(&self) -> Millis {
        duration_ms(self.dispatcher.lease)
    }

    /// Reserves a slot for a delivery to `webhook`, if the dispatcher has one free.
    fn take(&mut self, webhook: &WebhookId) -> bool {
        let dispatcher = self.dispatcher;
        if dispatcher.stopping.load(Ordering::Relaxed) {
            return false;
        }
        let Ok(global) = dispatcher.global.clone().try_acquire_owned() else {
            return false;
        };
        let Ok(webhook) = dispatcher.webhook_slots(webhook).try_acquire_owned() else {
            return false;
        };
        self.slots.push(Slots {
            _global: global,
            _webhook: webhook,
        });
        true
    }
}

impl HandoffBatch<'_> {
    /// After the commit: gives each delivery leased by it to the dispatcher with the slot
    /// reserved for it. Dropping the batch instead (the transaction failed) frees the slots.
    pub fn send(self, leased: Vec<(Claimed, Bytes)>) {
        debug_assert_eq!(leased.len(), self.slots.len());
        let dispatcher = self.dispatcher;
        dispatcher.hold(leased.iter().map(|(claimed, _)| claimed));
        for ((claimed, body), slots) in leased.into_iter().zip(self.slots) {
            // A dispatcher that has stopped gave back what it held; a lease still missed
            // runs out and the delivery is claimed again.
            let _ = dispatcher.handed.send((claimed, body, slots));
        }
    }
}
