//! A Mosquitto broker of the test's own, on a free port, configured from
//! `examples/mosquitto/` (authentication and the device ACL) and stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

pub const BIOTZ_USER: &str = "biotz";
pub const BIOTZ_PASSWORD: &str = "biotz-broker-password";
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

fn spawn_mosquitto(config_file: &std::path::Path) -> Child {
    Command::new(MOSQUITTO)
        .arg("-c")
        .arg(config_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto starts (apt-get install mosquitto)")
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Broker {
    /// Starts a broker that knows the biotz user and these devices (user = device id).
    pub async fn start(devices: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let passwords = dir.path().join("biotz.passwd");
        std::fs::write(&passwords, "").unwrap();
        for (user, password) in [(BIOTZ_USER, BIOTZ_PASSWORD)].iter().chain(devices) {
            add_user(&passwords, user, password);
        }
        let acl = dir.path().join("biotz.acl");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mosquitto/biotz.acl"),
            &acl,
        )
        .unwrap();
        let port = free_port();
        let example = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/mosquitto/mosquitto.conf"
        ));
        let config: String = example
            .lines()
            .map(|line| match line.split_whitespace().next() {
                Some("listener") => format!("listener {port} 127.0.0.1"),
                Some("password_file") => format!("password_file {}", passwords.display()),
                Some("acl_file") => format!("acl_file {}", acl.display()),
                Some("persistence") => "persistence false".into(),
                Some("persistence_location") => String::new(),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config_file = dir.path().join("mosquitto.conf");
        std::fs::write(&config_file, config).unwrap();
        let child = spawn_mosquitto(&config_file);
        wait_listening(port).await;
        Self { port, dir, child }
    }

    /// `BIOTZ_MQTT_URL` for the biotz nodes.
    pub fn url(&self) -> String {
        format!(
            "mqtt://{BIOTZ_USER}:{BIOTZ_PASSWORD}@127.0.0.1:{}",
            self.port
        )
    }

    /// Connects as a device (user = its id) and returns a client to publish with.
    pub async fn device(&self, device_id: &str, password: &str) -> Device {
        let mut options = MqttOptions::new(format!("device-{device_id}"), "127.0.0.1", self.port);
        options.set_credentials(device_id, password);
        let (client, mut events) = AsyncClient::new(options, 64);
        let (acked, acks) = tokio::sync::mpsc::unbounded_channel();
        let (connected, mut connection) = tokio::sync::watch::channel(false);
        // Retries until the broker has read the device's password (after its SIGHUP).
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(rumqttc::v5::Incoming::ConnAck(_))) => {
                        let _ = connected.send(true);
                    }
                    Ok(Event::Incoming(rumqttc::v5::Incoming::PubAck(ack))) => {
                        let _ = acked.send(ack.pkid);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), connection.wait_for(|c| *c))
            .await
            .expect("the device connects to the broker")
            .unwrap();
        Device {
            client,
            acks,
            id: device_id.to_owned(),
        }
    }

    /// Stops the broker (as an outage would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the broker again on the same port with the same users.
    pub async fn restart(&mut self) {
        self.stop();
        self.child = spawn_mosquitto(&self.dir.path().join("mosquitto.conf"));
        wait_listening(self.port).await;
    }

    /// Adds a device user (user = device id); Mosquitto reads its password file again on SIGHUP.
    pub fn add_device(&self, device_id: &str, password: &str) {
        add_user(&self.dir.path().join("biotz.passwd"), device_id, password);
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_user(passwords: &std::path::Path, user: &str, password: &str) {
    let status = Command::new("mosquitto_passwd")
        .args(["-b", passwords.to_str().unwrap(), user, password])
        .status()
        .expect("mosquitto_passwd runs (apt-get install mosquitto)");
    assert!(status.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A device's MQTT connection.
pub struct Device {
    client: AsyncClient,
    acks: tokio::sync::mpsc::UnboundedReceiver<u16>,
    id: String,
}

impl Device {
    /// Publishes `payload` (QoS 1) as message type `message_type`, with an optional
    /// `message-id`, and waits for the broker's acknowledgement.
    pub async fn publish(&mut self, message_type: &str, payload: &[u8], message_id: Option<&str>) {
        self.publish_on(
            &format!("biotz/devices/{}/messages/{message_type}", self.id),
            payload,
            message_id,
        )
        .await;
    }

    pub async fn publish_on(&mut self, topic: &str, payload: &[u8], message_id: Option<&str>) {
        let properties = PublishProperties {
            user_properties: message_id
                .map(|id| vec![("message-id".to_owned(), id.to_owned())])
                .unwrap_or_default(),
            ..Default::default()
        };
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload.to_vec(), properties)
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.acks.recv())
            .await
            .expect("the broker acknowledges the publish")
            .unwrap();
    }
}
