//! MQTT ingest: a persistent session on the broker (QoS 1, a shared subscription so many nodes
//! split the messages), each message through the same pipeline as HTTP ingest, and acknowledged
//! only once its transaction has committed, so a crash or a database outage loses nothing: the
//! broker sends what was not acknowledged again.

mod message;
pub mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use message::{MESSAGE_ID_PROPERTY, Pipeline, Refused, parse_topic};
pub use settings::{MqttArgs, MqttSettings};

use crate::domain::time::now_ms;
use crate::store::Rejection;

/// What the nodes subscribe to: `$share/biotz/` makes the broker give each message to one of them.
pub const SUBSCRIPTION: &str = "$share/biotz/biotz/devices/+/messages/+";

/// How many unacknowledged messages the broker may send at once (they share commits).
const IN_FLIGHT: u16 = 256;

/// How long the broker keeps this node's session (and its unacknowledged messages) while the
/// node is away.
const SESSION_EXPIRY_SECS: u32 = 7 * 86_400;

/// The broker connection's state and counters, for `/readyz` and `/metrics`.
#[derive(Default)]
pub struct MqttStatus {
    connected: AtomicBool,
    received: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    invalid: AtomicU64,
    retried: AtomicU64,
}

impl MqttStatus {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The Prometheus lines of MQTT ingest.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::from(
            "# HELP biotz_mqtt_messages_total MQTT messages received, by outcome.\n\
             # TYPE biotz_mqtt_messages_total counter\n",
        );
        for (outcome, counter) in [
            ("stored", &self.stored),
            ("duplicate", &self.duplicates),
            ("invalid", &self.invalid),
        ] {
            out.push_str(&format!(
                "biotz_mqtt_messages_total{{outcome=\"{outcome}\"}} {}\n",
                get(counter)
            ));
        }
        out.push_str(&format!(
            "# HELP biotz_mqtt_messages_received_total MQTT messages received (redeliveries included).\n\
             # TYPE biotz_mqtt_messages_received_total counter\n\
             biotz_mqtt_messages_received_total {}\n",
            get(&self.received)
        ));
        out.push_str(&format!(
            "# HELP biotz_mqtt_store_retries_total MQTT messages tried again because the database could not take them.\n\
             # TYPE biotz_mqtt_store_retries_total counter\n\
             biotz_mqtt_store_retries_total {}\n\
             # HELP biotz_mqtt_connected Whether this node is connected to the MQTT broker.\n\
             # TYPE biotz_mqtt_connected gauge\n\
             biotz_mqtt_connected {}\n",
            get(&self.retried),
            u8::from(self.is_connected())
        ));
        out
    }
}

fn options(settings: &MqttSettings, extra_ca_certs: Option<&[u8]>) -> anyhow::Result<MqttOptions> {
    let mut options = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
    options
        .set_clean_start(false)
        .set_session_expiry_interval(Some(SESSION_EXPIRY_SECS))
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_receive_maximum(Some(IN_FLIGHT))
        .set_max_packet_size(Some(crate::alarms::ingest::INGEST_BODY_LIMIT as u32 + 1024));
    if let Some(user) = &settings.username {
        options.set_credentials(user, settings.password.as_deref().unwrap_or_default());
    }
    if settings.tls {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(tls_config(extra_ca_certs)?)),
        ));
    }
    Ok(options)
}

/// Verified TLS: the system's roots plus `BIOTZ_EXTRA_CA_CERTS`.
fn tls_config(extra_ca_certs: Option<&[u8]>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    if let Some(pem) = extra_ca_certs {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        for certificate in CertificateDer::pem_slice_iter(pem) {
            roots.add(certificate?)?;
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Consumes the broker's messages until `stopping` turns true: connects (and reconnects with
/// backoff), subscribes, ingests each message in its own task and acknowledges them in the
/// order they came, each once it is stored or found invalid.
pub async fn run(
    settings: MqttSettings,
    extra_ca_certs: Option<Vec<u8>>,
    pipeline: Arc<Pipeline>,
    status: Arc<MqttStatus>,
    mut stopping: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let options = options(&settings, extra_ca_certs.as_deref())?;
    let (client, mut events) = AsyncClient::new(options, usize::from(IN_FLIGHT) * 2);
    let (to_ack, acks) = mpsc::channel(usize::from(IN_FLIGHT) * 4);
    let acker = tokio::spawn(acknowledge_in_order(client.clone(), acks));
    let mut backoff = Duration::from_millis(200);
    loop {
        let event = tokio::select! {
            _ = stopping.wait_for(|stop| *stop) => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(broker = %settings.host, port = settings.port, client_id = %settings.client_id, "connected to the MQTT broker");
                status.connected.store(true, Ordering::Relaxed);
                backoff = Duration::from_millis(200);
                // The session keeps the subscription; subscribing again is harmless and covers
                // a session the broker has dropped.
                if let Err(error) = client.try_subscribe(SUBSCRIPTION, QoS::AtLeastOnce) {
                    tracing::error!(%error, "subscribing to {SUBSCRIPTION} failed");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                status.received.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(handle(pipeline.clone(), status.clone(), publish));
                if to_ack.send(task).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                status.connected.store(false, Ordering::Relaxed);
                tracing::warn!(%error, retry_in = ?backoff, "the MQTT broker connection failed");
                tokio::select! {
                    _ = stopping.wait_for(|stop| *stop) => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    // Acknowledge what is already stored, then leave; the rest is sent again to this session.
    drop(to_ack);
    let drained = async {
        let mut acker = acker;
        loop {
            tokio::select! {
                _ = &mut acker => break,
                event = events.poll() => if event.is_err() { break },
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drained).await;
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while events.poll().await.is_ok() {}
    })
    .await;
    status.connected.store(false, Ordering::Relaxed);
    Ok(())
}

/// MQTT wants acknowledgements in the order the messages came; each waits for its message.
async fn acknowledge_in_order(client: AsyncClient, mut tasks: mpsc::Receiver<JoinHandle<Publish>>) {
    while let Some(task) = tasks.recv().await {
        let Ok(publish) = task.await else { continue };
        if let Err(error) = client.ack(&publish).await {
            tracing::warn!(%error, "acknowledging an MQTT message failed; the broker will send it again");
        }
    }
}

/// Ingests one message, trying again while the database cannot take it; returns it to be
/// acknowledged once it is stored, a duplicate, or invalid.
async fn handle(pipeline: Arc<Pipeline>, status: Arc<MqttStatus>, publish: Publish) -> Publish {
    let mut backoff = Duration::from_millis(100);
    loop {
        match pipeline.ingest(&publish).await {
            Ok(ingested) if ingested.duplicate => {
                status.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {
                status.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Invalid { device, reason }) => {
                tracing::info!(device_id = ?device, %reason, "an MQTT message was refused");
                let rejection = device.as_ref().map(|device| Rejection {
                    device,
                    transport: "mqtt",
                    status: None,
                    reason: &reason,
                    payload: &publish.payload,
                    at: now_ms(),
                });
                if let Some(rejection) = rejection
                    && let Err(error) = pipeline.store.record_rejected(&rejection).await
                {
                    tracing::warn!(%error, "keeping a device's last error failed");
                }
                status.invalid.fetch_add(1, Ordering::Relaxed);
            }
            Err(Refused::Unavailable(error)) => {
                status.retried.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, retry_in = ?backoff, "storing an MQTT message failed; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        return publish;
    }
}
