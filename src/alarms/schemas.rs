//! Compiled JSON Schema validators, cached per message type. The cache key includes the message
//! type's `updated_at`, so an edit made through any node is picked up at the next message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[derive(Default)]
pub struct SchemaCache {
    validators: Mutex<HashMap<MessageTypeId, (Millis, Arc<Validator>)>>,
}

/// At most this many violations are listed for one message.
const MAX_VIOLATIONS: usize = 50;

impl SchemaCache {
    fn validator(&self, message_type: &MessageType) -> Result<Arc<Validator>, String> {
        let mut validators = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((updated_at, validator)) = validators.get(&message_type.id)
            && *updated_at == message_type.updated_at
        {
            return Ok(validator.clone());
        }
        let validator =
            Arc::new(jsonschema::validator_for(&message_type.schema).map_err(|e| e.to_string())?);
        validators.insert(
            message_type.id.clone(),
            (message_type.updated_at, validator.clone()),
        );
        Ok(validator)
    }

    /// Every way `payload` breaks the message type's schema (empty when it is valid).
    pub fn violations(&self, message_type: &MessageType, payload: &Value) -> Vec<Violation> {
        let validator = match self.validator(message_type) {
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
