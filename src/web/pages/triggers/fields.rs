//! The trigger form's fields as typed, and how they become the service's input: the value is
//! typed as text and read as a JSON number, string or boolean by the chosen value type.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::alarms::setup::TriggerInput;
use crate::domain::FieldErrors;
use crate::domain::alarm::{Op, Severity};
use crate::store::{DeviceType, Trigger};

/// The value types the form offers: (value, label).
pub const VALUE_TYPES: [(&str, &str); 3] = [
    ("number", "number"),
    ("text", "text"),
    ("bool", "true/false"),
];

/// The most comparison rows the form shows (the condition's limit).
pub const MAX_ROWS: usize = crate::domain::condition::MAX_COMPARISONS;

/// The form's fields as typed (or as stored, for Edit). The condition's comparisons are rows of
/// repeated `field`/`op`/`value`/`value_type` fields, combined by `combine` (all or any).
#[derive(Deserialize)]
pub struct TriggerForm {
    #[serde(default)]
    pub name: String,
    /// `threshold` or `no_data`: radio buttons, so the choice needs no script; the fields of
    /// the other kind are ignored.
    #[serde(default)]
    pub kind: String,
    /// Empty: every message type counts (no_data only).
    #[serde(default)]
    pub message_type: String,
    #[serde(default)]
    pub combine: String,
    #[serde(default)]
    pub field: Vec<String>,
    #[serde(default)]
    pub op: Vec<String>,
    #[serde(default)]
    pub value: Vec<String>,
    #[serde(default)]
    pub value_type: Vec<String>,
    /// The clear condition (hysteresis): one comparison; an empty field means none.
    #[serde(default)]
    pub clear_field: String,
    #[serde(default)]
    pub clear_op: String,
    #[serde(default)]
    pub clear_value: String,
    #[serde(default)]
    pub clear_value_type: String,
    #[serde(default)]
    pub for_seconds: String,
    #[serde(default)]
    pub silent_for_seconds: String,
    #[serde(default)]
    pub severity: String,
    /// A checkbox: sent only when ticked.
    pub enabled: Option<String>,
    /// The *Add a comparison* button: show one more row, save nothing.
    pub add_row: Option<String>,
    /// A row's *Remove* button, with the row's index: show the form without it, save nothing.
    pub remove_row: Option<String>,
    /// Editing a condition whose groups nest (written through the API), which the rows cannot
    /// show: its description; the stored condition is kept unless rows are sent.
    #[serde(skip)]
    pub nested: Option<String>,
}

/// One comparison row as shown.
pub struct Row {
    pub index: usize,
    /// "" for the first row (its inputs keep the plain ids), "-1", "-2", … for the others.
    pub suffix: String,
    pub field: String,
    pub op: String,
    pub value: String,
    pub value_type: String,
    /// Where the service reports this row's problems: `condition` or `condition.all[1]`.
    pub path: String,
}

impl TriggerForm {
    pub fn for_new(device_type: &DeviceType) -> Self {
        Self {
            name: String::new(),
            kind: "threshold".to_owned(),
            message_type: device_type
                .message_types
                .first()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            combine: "all".to_owned(),
            field: vec![String::new()],
            op: vec![Op::Gt.as_str().to_owned()],
            value: vec![String::new()],
            value_type: vec!["number".to_owned()],
            clear_field: String::new(),
            clear_op: Op::Lt.as_str().to_owned(),
            clear_value: String::new(),
            clear_value_type: "number".to_owned(),
            for_seconds: "0".to_owned(),
            silent_for_seconds: "900".to_owned(),
            severity: Severity::Warning.as_str().to_owned(),
            enabled: Some("on".to_owned()),
            add_row: None,
            remove_row: None,
            nested: None,
        }
    }

    pub fn from_trigger(trigger: &Trigger) -> Self {
        let mut form = Self {
            name: trigger.name.clone(),
            kind: trigger.kind.as_str().to_owned(),
            message_type: trigger.message_type.clone().unwrap_or_default(),
            for_seconds: trigger.for_seconds.to_string(),
            silent_for_seconds: trigger
                .silent_for_seconds
                .map_or_else(|| "900".to_owned(), |s| s.to_string()),
            severity: trigger.severity.as_str().to_owned(),
            enabled: trigger.enabled.then(|| "on".to_owned()),
            combine: "all".to_owned(),
            field: Vec::new(),
            op: Vec::new(),
            value: Vec::new(),
            value_type: Vec::new(),
            clear_field: String::new(),
            clear_op: Op::Lt.as_str().to_owned(),
            clear_value: String::new(),
            clear_value_type: "number".to_owned(),
            add_row: None,
            remove_row: None,
            nested: None,
        };
        let Some(condition) = &trigger.condition else {
            form.field.push(String::new());
            form.op.push(Op::Gt.as_str().to_owned());
            form.value.push(String::new());
            form.value_type.push("number".to_owned());
            return form;
        };
        match condition.flat() {
            Some((combine, comparisons)) => {
                form.combine = combine.as_str().to_owned();
                for comparison in comparisons {
                    let (value, value_type) = shown_value(&comparison.value);
                    form.field.push(comparison.field.clone());
                    form.op.push(comparison.op.as_str().to_owned());
                    form.value.push(value);
                    form.value_type.push(value_type.to_owned());
                }
            }
            None => form.nested = Some(condition.describe()),
        }
        let clear = trigger.clear_condition.as_ref().and_then(|c| c.flat());
        if let Some((_, comparisons)) = clear
            && let [comparison] = comparisons.as_slice()
        {
            let (value, value_type) = shown_value(&comparison.value);
            form.clear_field = comparison.field.clone();
            form.clear_op = comparison.op.as_str().to_owned();
            form.clear_value = value;
            form.clear_value_type = value_type.to_owned();
        }
        form
    }

    /// The rows to show: as sent, after an *Add* or *Remove*, at least one.
    pub fn rows(&self) -> Vec<Row> {
        let count = self.field.len().clamp(1, MAX_ROWS);
        let nth = |list: &[String], i: usize, default: &str| {
            list.get(i).cloned().unwrap_or_else(|| default.to_owned())
        };
        let single = count == 1;
        let combine = if self.combine == "any" { "any" } else { "all" };
        (0..count)
            .map(|index| Row {
                index,
                suffix: if index == 0 {
                    String::new()
                } else {
                    format!("-{index}")
                },
                field: nth(&self.field, index, ""),
                op: nth(&self.op, index, ">"),
                value: nth(&self.value, index, ""),
                value_type: nth(&self.value_type, index, "number"),
                path: if single {
                    "condition".to_owned()
                } else {
                    format!("condition.{combine}[{index}]")
                },
            })
            .collect()
    }

    /// Applies an *Add a comparison* or *Remove* press; `true` when one was pressed (then the
    /// form is shown again and nothing is saved).
    pub fn edit_rows(&mut self) -> bool {
        if self.add_row.take().is_some() {
            if self.field.len() < MAX_ROWS {
                let rows = self.field.len().max(1);
                for (list, default) in [
                    (&mut self.field, ""),
                    (&mut self.op, ">"),
                    (&mut self.value, ""),
                    (&mut self.value_type, "number"),
                ] {
                    list.resize(rows, default.to_owned());
                    list.push(default.to_owned());
                }
            }
            return true;
        }
        if let Some(index) = self.remove_row.take() {
            if let Ok(index) = index.parse::<usize>()
                && index < self.field.len()
                && self.field.len() > 1
            {
                for list in [
                    &mut self.field,
                    &mut self.op,
                    &mut self.value,
                    &mut self.value_type,
                ] {
                    if index < list.len() {
                        list.remove(index);
                    }
                }
            }
            return true;
        }
        false
    }

    /// The service's input, and each value's own problem if it does not read as its type. Such
    /// a value goes to the service as `null`, which it refuses like any value that is not a
    /// number, string or boolean: every other field is still checked, and nothing is saved.
    pub fn to_input(&self) -> (TriggerInput, FieldErrors) {
        let mut unreadable = FieldErrors::new();
        let rows = self.rows();
        let comparisons: Vec<Value> = rows
            .iter()
            .map(|row| {
                let value = typed_value(&row.value, &row.value_type).unwrap_or_else(|message| {
                    unreadable.add(&format!("{}.value", row.path), message);
                    Value::Null
                });
                json!({ "field": row.field, "op": row.op, "value": value })
            })
            .collect();
        let condition = match (comparisons.len(), &self.nested) {
            // An Edit of a nested condition that sent no rows keeps the stored condition.
            (_, Some(_)) if self.field.is_empty() => None,
            (1, _) => comparisons.into_iter().next(),
            _ => {
                let key = if self.combine == "any" { "any" } else { "all" };
                Some(json!({ key: comparisons }))
            }
        };
        let clear_condition = if self.clear_field.trim().is_empty() {
            Value::Null
        } else {
            let value =
                typed_value(&self.clear_value, &self.clear_value_type).unwrap_or_else(|message| {
                    unreadable.add("clear_condition.value", message);
                    Value::Null
                });
            json!({ "field": self.clear_field, "op": self.clear_op, "value": value })
        };
        let for_seconds = match self.for_seconds.trim() {
            "" => json!(0),
            text => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.to_owned())),
        };
        if self.kind == "no_data" {
            let text = self.silent_for_seconds.trim();
            let silent = text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.to_owned()));
            let input = TriggerInput {
                name: Some(self.name.clone()),
                kind: Some(self.kind.clone()),
                message_type: Some(Value::String(self.message_type.clone())),
                silent_for_seconds: Some(silent),
                severity: Some(self.severity.clone()),
                enabled: Some(self.enabled.is_some()),
                ..TriggerInput::default()
            };
            return (input, FieldErrors::new());
        }
        let input = TriggerInput {
            name: Some(self.name.clone()),
            kind: (!self.kind.is_empty()).then(|| self.kind.clone()),
            silent_for_seconds: None,
            message_type: Some(Value::String(self.message_type.clone())),
            condition,
            clear_condition: Some(clear_condition),
            for_seconds: Some(for_seconds),
            severity: Some(self.severity.clone()),
            enabled: Some(self.enabled.is_some()),
            webhook_ids: None,
        };
        (input, unreadable)
    }
}

/// A stored value as the form shows it, with its value type.
fn shown_value(value: &Value) -> (String, &'static str) {
    match value {
        Value::String(text) => (text.clone(), "text"),
        Value::Bool(flag) => (flag.to_string(), "bool"),
        other => (other.to_string(), "number"),
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
