//! Compiled JSON Schema validators, cached per message type in a bounded `moka` cache. The key
//! includes the message type's `updated_at`, so an edit made through any node is picked up at
//! the next message; the version it replaced is no longer asked for and ages out.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use jsonschema::Validator;
use serde::Serialize;
use serde_json::Value;

use crate::domain::MessageTypeId;
use crate::domain::time::Millis;
use crate::store::MessageType;

/// One way a payload breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Where in the payload (JSON Pointer; empty for the payload itself).
    pub pointer: String,
    /// The schema keyword that failed, such as `type` or `required`.
    pub rule: String,
    pub message: String,
}

/// A compiled schema, or why it does not compile (kept too, so a broken schema is not compiled
/// again for every message).
type Compiled = Result<Arc<Validator>, Arc<str>>;

pub struct SchemaCache {
    validators: Cache<(MessageTypeId, Millis), Compiled>,
}

impl Default for SchemaCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

/// At most this many violations are listed for one message.
const MAX_VIOLATIONS: usize = 50;

/// A validator no message asked for this long (its message type gone or edited) is dropped.
const UNUSED_FOR: Duration = Duration::from_secs(3600);

impl SchemaCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            validators: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(UNUSED_FOR)
                .build(),
        }
    }

    /// The message type's validator, compiled once however many messages ask at the same
    /// time, and outside any lock the other message types' messages need.
    async fn validator(&self, message_type: &MessageType) -> Compiled {
        self.compiled(message_type, || {
            jsonschema::validator_for(&message_type.schema)
                .map(Arc::new)
                .map_err(|e| e.to_string().into())
        })
        .await
    }

    async fn compiled(
        &self,
        message_type: &MessageType,
        compile: impl FnOnce() -> Compiled,
    ) -> Compiled {
        let key = (message_type.id.clone(), message_type.updated_at);
        self.validators.get_with(key, async { compile() }).await
    }

    /// Every way `payload` breaks the message type's schema (empty when it is valid).
    pub async fn violations(&self, message_type: &MessageType, payload: &Value) -> Vec<Violation> {
        let validator = match self.validator(message_type).await {
            Ok(validator) => validator,
            Err(error) => {
                return vec![Violation {
                    pointer: String::new(),
                    rule: "schema".into(),
                    message: format!(
                        "The message type's schema no longer compiles ({error}); fix it under Setup → Device Types."
                    ),
                }];
            }
        };
        validator
            .iter_errors(payload)
            .take(MAX_VIOLATIONS)
            .map(|error| Violation {
                pointer: error.instance_path().to_string(),
                rule: error.kind().keyword().to_owned(),
                message: error.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::domain::DeviceTypeId;

    fn message_type(schema: Value, updated_at: Millis) -> MessageType {
        MessageType {
            id: MessageTypeId::generate(),
            device_type_id: DeviceTypeId::generate(),
            name: "telemetry".into(),
            schema,
            updated_at,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_messages_of_a_type_compile_its_schema_once() {
        let cache = Arc::new(SchemaCache::default());
        let telemetry = Arc::new(message_type(json!({"type": "object"}), 1));
        let compiles = Arc::new(AtomicUsize::new(0));
        let messages: Vec<_> = (0..32)
            .map(|_| {
                let (cache, telemetry, compiles) =
                    (cache.clone(), telemetry.clone(), compiles.clone());
                tokio::spawn(async move {
                    cache
                        .compiled(&telemetry, || {
                            compiles.fetch_add(1, Ordering::SeqCst);
                            jsonschema::validator_for(&telemetry.schema)
                                .map(Arc::new)
                                .map_err(|e| e.to_string().into())
                        })
                        .await
                        .is_ok()
                })
            })
            .collect();
        for message in messages {
            assert!(message.await.unwrap());
        }
        assert_eq!(compiles.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_edited_schema_applies_at_the_next_message() {
        let cache = SchemaCache::default();
        let mut telemetry = message_type(json!({"type": "object"}), 1);
        assert!(cache.violations(&telemetry, &json!({})).await.is_empty());
        telemetry.schema = json!({"type": "object", "required": ["temperature"]});
        telemetry.updated_at = 2;
        let violations = cache.violations(&telemetry, &json!({})).await;
        assert_eq!(violations[0].rule, "required");
        telemetry.schema = json!({"type": "nonsense"});
        telemetry.updated_at = 3;
        let broken = cache.violations(&telemetry, &json!({})).await;
        assert_eq!(broken[0].rule, "schema");
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity() {
        let cache = SchemaCache::new(20);
        for version in 0..500 {
            let telemetry = message_type(json!({"type": "object"}), version);
            assert!(cache.violations(&telemetry, &json!({})).await.is_empty());
        }
        cache.validators.run_pending_tasks().await;
        assert!(cache.validators.entry_count() <= 20);
    }
}
