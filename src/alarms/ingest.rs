//! Ingest: a device's message is checked against its message type's schema, then stored and
//! evaluated against the triggers in a transaction it shares with the other messages that
//! arrived meanwhile (a group commit: see `IngestWriter` and `Store::ingest_batch`).

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::cache::Lookups;
use super::schemas::{SchemaCache, Violation};
use crate::dispatch::Handoff;
use crate::domain::message_key::MessageKey;
use crate::store::{Device, Ingested, LeaseOffer, MessageType, NewMessage, Store, StoreError};

/// The largest message body accepted.
pub const INGEST_BODY_LIMIT: usize = 64 * 1024;

/// The most messages one transaction takes.
const BATCH: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestInput {
    pub message_type: String,
    pub payload: Value,
    /// The device's own id for the message (see `MessageKey`).
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the device type has no message type {name}")]
    UnknownMessageType { name: String, known: Vec<String> },
    #[error("the payload does not match the message type's schema")]
    Violations(Vec<Violation>),
    #[error("{0}")]
    InvalidMessageId(String),
    /// The device was deleted, or its token replaced, while the message was on its way.
    #[error("the device's token is no longer valid")]
    TokenRevoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A checked message waiting for its transaction.
struct Job {
    device: Device,
    token_hash: String,
    message_type: MessageType,
    payload: Value,
    key: Option<MessageKey>,
    reply: oneshot::Sender<Result<Option<Ingested>, String>>,
}

/// Writes messages in batches: whatever arrived while the previous transaction ran goes into
/// the next one, so concurrent messages share a commit instead of queueing for one each. With
/// this process's dispatcher's `handoff`, the deliveries a batch writes go straight to it (see
/// `dispatch::Handoff`).
#[derive(Clone)]
pub struct IngestWriter {
    jobs: mpsc::Sender<Job>,
}

impl IngestWriter {
    pub fn spawn(store: Store, handoff: Option<Handoff>) -> Self {
        let (jobs, mut queue) = mpsc::channel::<Job>(BATCH * 16);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while queue.recv_many(&mut batch, BATCH).await > 0 {
                let messages: Vec<NewMessage<'_>> = batch
                    .iter()
                    .map(|job| NewMessage {
                        device: &job.device,
                        token_hash: &job.token_hash,
                        message_type: &job.message_type,
                        payload: &job.payload,
                        key: job.key.as_ref(),
                    })
                    .collect();
                let mut slots = handoff.as_ref().map(Handoff::batch);
                let offer = slots.as_mut().map(|batch| batch as &mut dyn LeaseOffer);
                let written = store.ingest_batch(&messages, offer).await;
                drop(messages);
                match written {
                    Ok((results, leased)) => {
                        if let Some(slots) = slots {
                            slots.send(leased);
                        }
                        for (job, result) in batch.drain(..).zip(results) {
                            let _ = job.reply.send(Ok(result));
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, messages = batch.len(), "storing a batch of messages failed");
                        for job in batch.drain(..) {
                            let _ = job.reply.send(Err(error.to_string()));
                        }
                    }
                }
            }
        });
        Self { jobs }
    }

    async fn write(
        &self,
        job: Job,
        reply: oneshot::Receiver<Result<Option<Ingested>, String>>,
    ) -> Result<Ingested, IngestError> {
        let gone = || IngestError::Store(StoreError::Database(sqlx::Error::PoolClosed));
        self.jobs.send(job).await.map_err(|_| gone())?;
        match reply.await.map_err(|_| gone())? {
            Ok(Some(ingested)) => Ok(ingested),
            Ok(None) => Err(IngestError::TokenRevoked),
            Err(message) => Err(IngestError::Store(StoreError::Database(
                sqlx::Error::Protocol(message),
            ))),
        }
    }
}

/// Checks the message against its type's schema and stores it.
pub async fn ingest(
    store: &Store,
    schemas: &SchemaCache,
    lookups: &Lookups,
    writer: &IngestWriter,
    device: Device,
    token_hash: String,
    input: IngestInput,
) -> Result<Ingested, IngestError> {
    let key = input
        .id
        .as_deref()
        .map(MessageKey::parse)
        .transpose()
        .map_err(IngestError::InvalidMessageId)?;
    let name = input.message_type.trim();
    let Some(message_type) = lookups.message_type(store, &device, name).await? else {
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
    let violations = schemas.violations(&message_type, &input.payload).await;
    if !violations.is_empty() {
        return Err(IngestError::Violations(violations));
    }
    let (reply, answer) = oneshot::channel();
    let job = Job {
        device,
        token_hash,
        message_type,
        payload: input.payload,
        key,
        reply,
    };
    writer.write(job, answer).await
}
