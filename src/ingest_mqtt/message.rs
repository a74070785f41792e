//! One MQTT message through the ingest pipeline: the topic names the device and the message
//! type, the payload is the device's JSON payload, the `message-id` user property its id.

use std::sync::Arc;

use rumqttc::v5::mqttbytes::v5::Publish;
use serde_json::Value;

use crate::alarms::cache::Lookups;
use crate::alarms::ingest::{self, IngestError, IngestInput, IngestWriter};
use crate::alarms::schemas::SchemaCache;
use crate::domain::DeviceId;
use crate::store::{Ingested, Store, StoreError};

/// The MQTT 5 user property that carries the device's message id.
pub const MESSAGE_ID_PROPERTY: &str = "message-id";

/// What ingest needs, shared with the HTTP route (the same writer, caches and store).
pub struct Pipeline {
    pub store: Store,
    pub schemas: Arc<SchemaCache>,
    pub lookups: Arc<Lookups>,
    pub writer: IngestWriter,
}

/// Why a message was not ingested.
#[derive(Debug)]
pub enum Refused {
    /// The message can never be ingested: it is acknowledged and reported. `device` is the
    /// device to report it on, when the topic named one that exists.
    Invalid {
        device: Option<DeviceId>,
        reason: String,
    },
    /// The database could not take it now; it is tried again, and acknowledged only once stored.
    Unavailable(StoreError),
}

/// `biotz/devices/<device id>/messages/<message type>` → the device id and message type.
pub fn parse_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("biotz/devices/")?;
    let (device, rest) = rest.split_once('/')?;
    let message_type = rest.strip_prefix("messages/")?;
    (!device.is_empty() && !message_type.is_empty() && !message_type.contains('/'))
        .then_some((device, message_type))
}

impl Pipeline {
    /// Ingests one message: checked, stored and evaluated exactly as over HTTP.
    pub async fn ingest(&self, publish: &Publish) -> Result<Ingested, Refused> {
        let topic = String::from_utf8_lossy(&publish.topic);
        let invalid = |device: Option<&DeviceId>, reason: String| Refused::Invalid {
            device: device.cloned(),
            reason,
        };
        let Some((device_id, message_type)) = parse_topic(&topic) else {
            return Err(invalid(
                None,
                format!(
                    "the topic {topic} is not biotz/devices/<device id>/messages/<message type>"
                ),
            ));
        };
        let unknown = || {
            invalid(
                None,
                format!("no device has the id {device_id} (topic {topic})"),
            )
        };
        let id = DeviceId::parse(device_id).ok_or_else(unknown)?;
        let (device, token_hash) = self
            .store
            .device_by_id(&id)
            .await
            .map_err(Refused::Unavailable)?
            .ok_or_else(unknown)?;
        let payload: Value = serde_json::from_slice(&publish.payload).map_err(|error| {
            invalid(
                Some(&id),
                format!("the payload on {topic} is not JSON ({error}); publish the payload object itself"),
            )
        })?;
        // PostgreSQL cannot store NUL in text, and SQLite must not differ: refused alike on both
        // transports.
        if let Some(path) = crate::domain::text::nul_path(&payload) {
            return Err(invalid(
                Some(&id),
                format!(
                    "the payload on {topic} has a NUL character (\\u0000) at {path}; remove it"
                ),
            ));
        }
        let message_id = publish.properties.as_ref().and_then(|p| {
            p.user_properties
                .iter()
                .find(|(name, _)| name == MESSAGE_ID_PROPERTY)
                .map(|(_, value)| value.clone())
        });
        let input = IngestInput {
            message_type: message_type.to_owned(),
            payload,
            id: message_id,
        };
        let result = ingest::ingest(
            &self.store,
            &self.schemas,
            &self.lookups,
            &self.writer,
            device,
            token_hash,
            input,
        )
        .await;
        result.map_err(|error| match error {
            IngestError::Store(error) => Refused::Unavailable(error),
            IngestError::TokenRevoked => unknown(),
            IngestError::UnknownMessageType { name, known } => invalid(
                Some(&id),
                format!(
                    "the device's type has no message type {name} (topic {topic}); it has: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ),
            IngestError::Violations(violations) => invalid(
                Some(&id),
                format!(
                    "the payload on {topic} does not match the message type's schema: {}",
                    violations
                        .iter()
                        .map(|v| format!(
                            "{} {} ({})",
                            if v.pointer.is_empty() {
                                "/"
                            } else {
                                &v.pointer
                            },
                            v.message,
                            v.rule
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            IngestError::InvalidMessageId(message) => invalid(
                Some(&id),
                format!("the message-id property on {topic} is not valid: {message}"),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_topic;

    #[test]
    fn topics() {
        assert_eq!(
            parse_topic("biotz/devices/dev_1/messages/telemetry"),
            Some(("dev_1", "telemetry"))
        );
        assert_eq!(parse_topic("biotz/devices/dev_1/messages/"), None);
        assert_eq!(parse_topic("biotz/devices//messages/t"), None);
        assert_eq!(parse_topic("biotz/devices/dev_1/messages/a/b"), None);
        assert_eq!(parse_topic("other/devices/dev_1/messages/t"), None);
    }
}
