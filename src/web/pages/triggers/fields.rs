//! The trigger form's fields as typed, and how they become the service's input: the value is
//! typed as text and read as a JSON number, string or boolean by the chosen value type.

use serde::Deserialize;
use serde_json::Value;

use crate::alarms::setup::TriggerInput;
use crate::domain::FieldErrors;
use crate::domain::alarm::{ConditionInput, Op, Severity};
use crate::store::{DeviceType, Trigger};

/// The value types the form offers: (value, label).
pub const VALUE_TYPES: [(&str, &str); 3] = [
    ("number", "number"),
    ("text", "text"),
    ("bool", "true/false"),
];

/// The form's fields as typed (or as stored, for Edit).
#[derive(Deserialize)]
pub struct TriggerForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message_type: String,
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub value_type: String,
    #[serde(default)]
    pub severity: String,
    /// A checkbox: sent only when ticked.
    pub enabled: Option<String>,
}

impl TriggerForm {
    pub fn for_new(device_type: &DeviceType) -> Self {
        Self {
            name: String::new(),
            message_type: device_type
                .message_types
                .first()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            field: String::new(),
            op: Op::Gt.as_str().to_owned(),
            value: String::new(),
            value_type: "number".to_owned(),
            severity: Severity::Warning.as_str().to_owned(),
            enabled: Some("on".to_owned()),
        }
    }

    pub fn from_trigger(trigger: &Trigger) -> Self {
        let (value, value_type) = match &trigger.condition.value {
            Value::String(text) => (text.clone(), "text"),
            Value::Bool(flag) => (flag.to_string(), "bool"),
            other => (other.to_string(), "number"),
        };
        Self {
            name: trigger.name.clone(),
            message_type: trigger.message_type.clone(),
            field: trigger.condition.field.clone(),
            op: trigger.condition.op.as_str().to_owned(),
            value,
            value_type: value_type.to_owned(),
            severity: trigger.severity.as_str().to_owned(),
            enabled: trigger.enabled.then(|| "on".to_owned()),
        }
    }

    /// The service's input, and the value's own problem if it does not read as its type. Such
    /// a value goes to the service as `null`, which it refuses like any value that is not a
    /// number, string or boolean: every other field is still checked, and nothing is saved.
    pub fn to_input(&self) -> (TriggerInput, FieldErrors) {
        let mut unreadable = FieldErrors::new();
        let value = typed_value(&self.value, &self.value_type).unwrap_or_else(|message| {
            unreadable.add("condition.value", message);
            Value::Null
        });
        let input = TriggerInput {
            name: Some(self.name.clone()),
            message_type: Some(self.message_type.clone()),
            condition: Some(ConditionInput {
                field: self.field.clone(),
                op: self.op.clone(),
                value,
            }),
            severity: Some(self.severity.clone()),
            enabled: Some(self.enabled.is_some()),
            webhook_ids: None,
        };
        (input, unreadable)
    }
}

/// The condition's value as JSON, read as the chosen value type.
fn typed_value(text: &str, value_type: &str) -> Result<Value, String> {
    match value_type {
        "number" => serde_json::from_str::<serde_json::Number>(text.trim())
            .map(Value::Number)
            .map_err(|_| {
                "Enter a number, such as 80 or -12.5 (or choose text as the value type).".to_owned()
            }),
        "text" => Ok(Value::String(text.to_owned())),
        "bool" => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("Enter true or false (or choose another value type).".to_owned()),
        },
        _ => Err("Choose number, text or true/false as the value type.".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::typed_value;

    #[test]
    fn values_are_read_as_their_type() {
        assert_eq!(typed_value(" 80 ", "number"), Ok(json!(80)));
        assert_eq!(typed_value("-12.5", "number"), Ok(json!(-12.5)));
        assert!(typed_value("hot", "number").is_err());
        assert!(typed_value("", "number").is_err());
        assert_eq!(typed_value(" door ajar", "text"), Ok(json!(" door ajar")));
        assert_eq!(typed_value("TRUE", "bool"), Ok(json!(true)));
        assert!(typed_value("yes", "bool").is_err());
        assert!(typed_value("1", "colour").is_err());
    }
}
