//! Ingest: a device's message is checked against its message type's schema, stored, and
//! evaluated against the triggers in the same transaction (see `Store::ingest`).

use serde::Deserialize;
use serde_json::Value;

use super::schemas::{SchemaCache, Violation};
use crate::store::{Device, Ingested, Store, StoreError};

/// The largest message body accepted.
pub const INGEST_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestInput {
    pub message_type: String,
    pub payload: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the device type has no message type {name}")]
    UnknownMessageType { name: String, known: Vec<String> },
    #[error("the payload does not match the message type's schema")]
    Violations(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn ingest(
    store: &Store,
    schemas: &SchemaCache,
    device: &Device,
    input: &IngestInput,
) -> Result<Ingested, IngestError> {
    let name = input.message_type.trim();
    let Some(message_type) = store
        .message_type_by_name(&device.org_id, &device.device_type_id, name)
        .await?
    else {
        let device_type = store
            .device_type(&device.org_id, &device.device_type_id)
            .await?;
        return Err(IngestError::UnknownMessageType {
            name: name.to_owned(),
            known: device_type
                .message_types
                .into_iter()
                .map(|m| m.name)
                .collect(),
        });
    };
    let violations = schemas.violations(&message_type, &input.payload);
    if !violations.is_empty() {
        return Err(IngestError::Violations(violations));
    }
    Ok(store.ingest(device, &message_type, &input.payload).await?)
}
