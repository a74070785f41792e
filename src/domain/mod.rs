//! The product's vocabulary, parsed at the boundary so the rest of the code can trust it.

pub mod alarm;
pub mod condition;
pub mod custom_header;
pub mod device;
pub mod event;
pub mod event_filter;
pub mod ids;
pub mod message_key;
pub mod random;
pub mod role;
pub mod sample;
pub mod text;
pub mod time;
pub mod validation;
pub mod webhook;

pub use ids::*;
pub use role::Role;
pub use validation::FieldErrors;
