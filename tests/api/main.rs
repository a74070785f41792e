//! Black-box tests: the real server on port 0 against a fresh database per test (SQLite, or
//! PostgreSQL when TEST_DATABASE_URL is set), driven over HTTP.

mod db;
mod helpers;
mod receiver;

mod accounts;
mod acknowledge;
mod alarms;
mod cli;
mod conditions;
mod cookies;
mod custom_headers;
mod database_away;
mod deliveries_ui;
mod devices;
mod dispatch;
mod failure_notice;
mod filters;
mod handoff;
mod health;
mod idempotency;
mod migrations;
mod mqtt;
mod nul_bytes;
mod offline;
mod openapi;
mod oversized;
mod processes;
mod rejected;
mod retention;
mod setup_ui;
mod sign_in_limits;
mod standard_signing;
mod team;
mod tenancy;
mod test_fire;
mod timers;
mod tokens;
mod triggers;
mod webhooks_api;
mod webhooks_ui;
