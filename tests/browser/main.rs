//! The guide's flows as a person clicks them, in headless Chromium driven over WebDriver: the
//! real server on port 0 against a fresh database per test (SQLite, or PostgreSQL when
//! TEST_DATABASE_URL is set) and real HTTPS receivers on 127.0.0.1.
//!
//! They need Debian's `chromium` and `chromium-driver`. Without them each test says so loudly
//! and passes, unless BIOTZ_BROWSER_TESTS=required (as CI sets), which makes it fail.

// The API suite's harness, shared rather than copied; this suite uses only part of it.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/receiver.rs"]
mod receiver;

mod browser;
mod checks;
mod delivery_page;
mod driver;
mod phone_menu;
mod reload;
mod scene;
mod search;
mod status_words;

mod alarms;
mod deliveries;
mod events_log;
mod first_run;
mod in_flight;
mod keyboard;
mod lifecycle;
mod lists;
mod live;
mod overview;
mod pages;
mod team;
mod triggers;
mod webhooks;
