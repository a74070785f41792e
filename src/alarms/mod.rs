//! From a device's message to the outbox: device types and triggers as users set them up, and
//! the ingest pipeline (token → schema check → trigger evaluation → alarm, event, deliveries).

pub mod cache;
pub mod devices;
pub mod ingest;
pub mod lifecycle;
pub mod schemas;
pub mod setup;
pub mod timers;
