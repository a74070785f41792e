//! The event envelope that receivers get (SPEC §2), serialised once when the event happens.

use serde_json::{Value, json};

use super::time::{Millis, rfc3339};
use super::{AlarmId, DeviceId, DeviceTypeId, EventId, MessageId, TriggerId};

pub const ALARM_RAISED: &str = "alarm.raised";
pub const ALARM_CLEARED: &str = "alarm.cleared";
pub const ALARM_ACKNOWLEDGED: &str = "alarm.acknowledged";
pub const WEBHOOK_TEST: &str = "webhook.test";
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";

/// Everything an alarm event tells: the alarm, its trigger, the device and the message.
pub struct AlarmEvent<'a> {
    pub event_id: &'a EventId,
    pub created_at: Millis,
    pub alarm_id: &'a AlarmId,
    pub raised: bool,
    pub severity: &'a str,
    pub raised_at: Millis,
    pub cleared_at: Option<Millis>,
    pub trigger_id: &'a TriggerId,
    pub trigger_name: &'a str,
    pub condition: Value,
    /// Set for a `no_data` trigger: the silence that raises it.
    pub silent_for_seconds: Option<i64>,
    pub device_type_id: &'a DeviceTypeId,
    pub device_type_name: &'a str,
    pub device_id: &'a DeviceId,
    pub device_name: &'a str,
    pub message_id: &'a MessageId,
    pub message_type: &'a str,
    pub received_at: Millis,
    pub payload: &'a Value,
}

impl AlarmEvent<'_> {
    pub fn event_type(&self) -> &'static str {
        if self.raised {
            ALARM_RAISED
        } else {
            ALARM_CLEARED
        }
    }

    /// The compact JSON body, fields in the SPEC's order.
    pub fn body(&self) -> Vec<u8> {
        let mut trigger = json!({
            "id": self.trigger_id,
            "name": self.trigger_name,
            "condition": self.condition,
        });
        if let Some(seconds) = self.silent_for_seconds {
            trigger["kind"] = json!("no_data");
            trigger["silent_for_seconds"] = json!(seconds);
        }
        let envelope = json!({
            "id": self.event_id,
            "type": self.event_type(),
            "created_at": rfc3339(self.created_at),
            "data": {
                "alarm": {
                    "id": self.alarm_id,
                    "state": if self.raised { "raised" } else { "cleared" },
                    "severity": self.severity,
                    "raised_at": rfc3339(self.raised_at),
                    "cleared_at": self.cleared_at.map(rfc3339),
                },
                "trigger": trigger,
                "device_type": { "id": self.device_type_id, "name": self.device_type_name },
                "device": { "id": self.device_id, "name": self.device_name },
                "message": {
                    "id": self.message_id,
                    "message_type": self.message_type,
                    "received_at": rfc3339(self.received_at),
                    "payload": self.payload,
                },
            },
        });
        serde_json::to_vec(&envelope).expect("a JSON value serialises")
    }
}

/// The body of a `webhook.test` event: lets a receiver check its signature handling end to end.
pub fn test_event_body(
    event_id: &EventId,
    created_at: Millis,
    webhook_id: &str,
    webhook_name: &str,
) -> Vec<u8> {
    let envelope = json!({
        "id": event_id,
        "type": WEBHOOK_TEST,
        "created_at": rfc3339(created_at),
        "data": {
            "webhook": { "id": webhook_id, "name": webhook_name },
            "message": "This is a test event from Biotz IoT Webhooks.",
        },
    });
    serde_json::to_vec(&envelope).expect("a JSON value serialises")
}

/// The body of a `webhook.disabled` event, sent to the organization's notify webhook when
/// another of its webhooks is disabled automatically.
pub fn disabled_event_body(
    event_id: &EventId,
    created_at: Millis,
    webhook_id: &str,
    webhook_name: &str,
    reason: &str,
) -> Vec<u8> {
    let envelope = json!({
        "id": event_id,
        "type": WEBHOOK_DISABLED,
        "created_at": rfc3339(created_at),
        "data": {
            "webhook": { "id": webhook_id, "name": webhook_name },
            "reason": reason,
            "disabled_at": rfc3339(created_at),
        },
    });
    serde_json::to_vec(&envelope).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_bodies_follow_the_envelope() {
        let (event_id, alarm_id, trigger_id) = (
            EventId::generate(),
            AlarmId::generate(),
            TriggerId::generate(),
        );
        let (device_type_id, device_id, message_id) = (
            DeviceTypeId::generate(),
            DeviceId::generate(),
            MessageId::generate(),
        );
        let payload = json!({ "temperature": 81.5, "unit": "°C" });
        let event = AlarmEvent {
            event_id: &event_id,
            created_at: 1_795_800_056_123,
            alarm_id: &alarm_id,
            raised: true,
            severity: "critical",
            raised_at: 1_795_800_056_123,
            cleared_at: None,
            trigger_id: &trigger_id,
            trigger_name: "Too hot",
            condition: json!({ "field": "/temperature", "op": ">", "value": 80 }),
            silent_for_seconds: None,
            device_type_id: &device_type_id,
            device_type_name: "Freezer",
            device_id: &device_id,
            device_name: "Freezer 7",
            message_id: &message_id,
            message_type: "telemetry",
            received_at: 1_795_800_056_100,
            payload: &payload,
        };
        let body = event.body();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.starts_with(&format!(r#"{{"id":"{event_id}","type":"alarm.raised","created_at":"2026-11-27T17:20:56.123Z","data":{{"alarm":"#)), "{text}");
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            serde_json::to_vec(&parsed).unwrap(),
            body,
            "compact, in a stable order"
        );
        assert_eq!(parsed["data"]["message"]["payload"], payload);
        assert_eq!(parsed["data"]["alarm"]["cleared_at"], Value::Null);
        assert_eq!(parsed["data"]["trigger"]["condition"]["op"], ">");
        assert_eq!(parsed["data"]["device"]["name"], "Freezer 7");
    }
}
