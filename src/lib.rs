//! Biotz IoT Webhooks: the sender side of an IoT platform's webhooks.
//!
//! See ARCHITECTURE.md for a map of the code.

pub mod accounts;
pub mod alarms;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod ingest_mqtt;
pub mod receiver;
pub mod retention;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
