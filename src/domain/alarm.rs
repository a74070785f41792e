//! Alarm triggers' rules: the condition `{field, op, value}` on a message, its evaluation, and the
//! check of a condition against the message type's JSON Schema.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FieldErrors;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub const ALL: [Op; 6] = [Op::Gt, Op::Ge, Op::Lt, Op::Le, Op::Eq, Op::Ne];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Op::ALL
            .into_iter()
            .find(|op| op.as_str() == text.trim())
            .ok_or_else(|| format!("Use one of > >= < <= == != (got '{text}')."))
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, Op::Eq | Op::Ne)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// Info below warning below critical.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| format!("Use info, warning or critical (got '{text}')."))
    }
}

/// What raises a trigger's alarm: a condition on a message, or a device's silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Threshold,
    NoData,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Threshold => "threshold",
            TriggerKind::NoData => "no_data",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "threshold" => Ok(TriggerKind::Threshold),
            "no_data" => Ok(TriggerKind::NoData),
            _ => Err(format!(
                "Use threshold (a condition on a message) or no_data (the device goes silent); got '{text}'."
            )),
        }
    }
}

/// The shortest and longest silence a `no_data` trigger waits for: 10 seconds to 30 days.
pub const SILENT_FOR_SECONDS: std::ops::RangeInclusive<i64> = 10..=30 * 86_400;

/// How long a device must stay silent before a `no_data` trigger raises its alarm.
pub fn parse_silent_for(value: &Value) -> Result<i64, String> {
    match value.as_i64() {
        Some(seconds) if SILENT_FOR_SECONDS.contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "Give a whole number of seconds from {} to {} (30 days).",
            SILENT_FOR_SECONDS.start(),
            SILENT_FOR_SECONDS.end()
        )),
    }
}

/// A comparison of one field of a message: `payload[field] op value`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// A JSON Pointer (RFC 6901) into the message payload, such as `/temperature`.
    pub field: String,
    pub op: Op,
    /// A number, a string or a boolean.
    pub value: Value,
}

/// A comparison as sent by a client, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonInput {
    pub field: String,
    pub op: String,
    pub value: Value,
}

impl Comparison {
    /// Checks each part, recording problems under `{at}.field`, `{at}.op` and `{at}.value`
    /// (`at` is `condition` for a trigger's single comparison).
    pub fn parse(input: &ComparisonInput, at: &str, errors: &mut FieldErrors) -> Option<Self> {
        let field = errors.check(&format!("{at}.field"), parse_pointer(&input.field));
        let op = errors.check(&format!("{at}.op"), Op::parse(&input.op));
        let value = match &input.value {
            Value::Number(_) | Value::String(_) | Value::Bool(_) => Some(input.value.clone()),
            _ => {
                errors.add(
                    &format!("{at}.value"),
                    "Compare with a number, a string, or true or false.",
                );
                None
            }
        };
        if let (Some(op), Some(Value::Bool(_))) = (op, &value)
            && !op.is_equality()
        {
            errors.add(
                &format!("{at}.op"),
                "A true/false value can only be compared with == or !=.",
            );
            return None;
        }
        Some(Self {
            field: field?,
            op: op?,
            value: value?,
        })
    }

    /// Whether the message makes the condition true. `None` when the message says nothing about
    /// it: the field is missing or holds another type of value than the condition compares with.
    /// Such a message leaves the alarm as it is.
    pub fn evaluate(&self, payload: &Value) -> Option<bool> {
        let actual = payload.pointer(&self.field)?;
        let ordering = match (actual, &self.value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?)?,
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            _ => return None,
        };
        Some(self.op.holds(ordering))
    }

    /// `/temperature > 80`
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.field, self.op, self.value)
    }
}

/// A JSON Pointer: empty (the whole payload is not a field) is refused; otherwise `/a/b`.
pub fn parse_pointer(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "Enter the field as a JSON Pointer, such as /temperature or /battery/level.".into(),
        );
    }
    if !text.starts_with('/') {
        return Err(format!(
            "Write the field as a JSON Pointer starting with /, such as /{text}."
        ));
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err("In a JSON Pointer, ~ must be written ~0 and / inside a name ~1.".into());
        }
    }
    if text.len() > 256 {
        return Err("Use a field pointer of at most 256 characters.".into());
    }
    Ok(text.to_owned())
}

/// Checks a condition against the message type's schema where the schema says enough: the field
/// must exist in it, and where the schema gives the field a type, the value must be of that type.
pub fn check_against_schema(condition: &Comparison, schema: &Value) -> Result<(), String> {
    let tokens: Vec<String> = condition
        .field
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    match lookup(schema, &tokens) {
        Lookup::Missing(at) => Err(format!(
            "The message type's schema has no field {} (it declares its properties, and this is not one of them).",
            at
        )),
        Lookup::Unknown => Ok(()),
        Lookup::Found(sub) => {
            let Some(types) = declared_types(sub) else {
                return Ok(());
            };
            let wanted = match &condition.value {
                Value::Number(_) => ["number", "integer"].as_slice(),
                Value::String(_) => &["string"],
                Value::Bool(_) => &["boolean"],
                _ => return Ok(()),
            };
            if types.iter().any(|t| wanted.contains(&t.as_str())) {
                Ok(())
            } else {
                Err(format!(
                    "The schema says {} is {}; compare it with a value of that type.",
                    condition.field,
                    types.join(" or ")
                ))
            }
        }
    }
}

enum Lookup<'a> {
    Found(&'a Value),
    /// The schema declares the properties at this level and the field is not among them.
    Missing(String),
    /// The schema does not say (no `properties`, a `$ref`, open `additionalProperties`…).
    Unknown,
}

fn lookup<'a>(schema: &'a Value, tokens: &[String]) -> Lookup<'a> {
    let Some((first, rest)) = tokens.split_first() else {
        return Lookup::Found(schema);
    };
    // A field found in any branch of a combination counts as present.
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let mut missing = None;
            for branch in branches {
                match lookup(branch, tokens) {
                    Lookup::Missing(at) => missing = Some(at),
                    found_or_unknown => return found_or_unknown,
                }
            }
            if let Some(at) = missing
                && schema.get("properties").is_none()
            {
                return Lookup::Missing(at);
            }
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        if let Some(sub) = properties.get(first.as_str()) {
            return match lookup(sub, rest) {
                Lookup::Missing(at) => Lookup::Missing(format!("/{first}{at}")),
                other => other,
            };
        }
        let open = schema.get("patternProperties").is_some()
            || schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false));
        return if open {
            Lookup::Unknown
        } else {
            Lookup::Missing(format!("/{first}"))
        };
    }
    if first.parse::<usize>().is_ok()
        && let Some(items) = schema.get("items")
    {
        return lookup(items, rest);
    }
    Lookup::Unknown
}

fn declared_types(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(field: &str, op: &str, value: Value) -> Comparison {
        let mut errors = FieldErrors::new();
        let parsed = Comparison::parse(
            &ComparisonInput {
                field: field.into(),
                op: op.into(),
                value,
            },
            "condition",
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors}");
        parsed.unwrap()
    }

    #[test]
    fn every_operator_on_numbers() {
        let payload = json!({ "t": 80 });
        let cases = [
            (">", 79, true),
            (">", 80, false),
            (">=", 80, true),
            (">=", 81, false),
            ("<", 81, true),
            ("<", 80, false),
            ("<=", 80, true),
            ("<=", 79, false),
            ("==", 80, true),
            ("==", 81, false),
            ("!=", 81, true),
            ("!=", 80, false),
        ];
        for (op, value, expected) in cases {
            assert_eq!(
                condition("/t", op, json!(value)).evaluate(&payload),
                Some(expected),
                "80 {op} {value}"
            );
        }
        assert_eq!(
            condition("/t", ">", json!(79.5)).evaluate(&json!({ "t": 79.75 })),
            Some(true)
        );
        assert_eq!(
            condition("/t", "==", json!(80)).evaluate(&json!({ "t": 80.0 })),
            Some(true)
        );
    }

    #[test]
    fn strings_compare_exactly_and_in_order() {
        let payload = json!({ "status": "open" });
        assert_eq!(
            condition("/status", "==", json!("open")).evaluate(&payload),
            Some(true)
        );
        assert_eq!(
            condition("/status", "==", json!("Open")).evaluate(&payload),
            Some(false)
        );
        assert_eq!(
            condition("/status", "!=", json!("closed")).evaluate(&payload),
            Some(true)
        );
        assert_eq!(
            condition("/status", ">", json!("a")).evaluate(&payload),
            Some(true)
        );
        assert_eq!(
            condition("/status", "<=", json!("a")).evaluate(&payload),
            Some(false)
        );
    }

    #[test]
    fn booleans_compare_with_equality_only() {
        let payload = json!({ "door": { "open": true } });
        assert_eq!(
            condition("/door/open", "==", json!(true)).evaluate(&payload),
            Some(true)
        );
        assert_eq!(
            condition("/door/open", "!=", json!(true)).evaluate(&payload),
            Some(false)
        );
        let mut errors = FieldErrors::new();
        let input = ComparisonInput {
            field: "/door/open".into(),
            op: ">".into(),
            value: json!(true),
        };
        assert!(Comparison::parse(&input, "condition", &mut errors).is_none());
        assert!(errors.get("condition.op").unwrap().contains("== or !="));
    }

    #[test]
    fn a_missing_field_or_another_type_says_nothing() {
        let c = condition("/t", ">", json!(80));
        assert_eq!(c.evaluate(&json!({})), None);
        assert_eq!(c.evaluate(&json!({ "t": "hot" })), None);
        assert_eq!(c.evaluate(&json!({ "t": null })), None);
        assert_eq!(
            condition("/s", "!=", json!("x")).evaluate(&json!({ "s": 1 })),
            None
        );
        assert_eq!(
            condition("/a/0", "==", json!(1)).evaluate(&json!({ "a": [1] })),
            Some(true)
        );
        assert_eq!(
            condition("/a~1b", "==", json!(1)).evaluate(&json!({ "a/b": 1 })),
            Some(true)
        );
    }

    #[test]
    fn bad_conditions_name_each_part() {
        let mut errors = FieldErrors::new();
        let input = ComparisonInput {
            field: "temperature".into(),
            op: "=>".into(),
            value: json!([1]),
        };
        assert!(Comparison::parse(&input, "condition", &mut errors).is_none());
        assert!(
            errors
                .get("condition.field")
                .unwrap()
                .contains("/temperature")
        );
        assert!(
            errors
                .get("condition.op")
                .unwrap()
                .contains("> >= < <= == !=")
        );
        assert!(
            errors
                .get("condition.value")
                .unwrap()
                .contains("number, a string")
        );
        assert!(parse_pointer("").is_err());
        assert!(parse_pointer("/a~2").is_err());
    }

    #[test]
    fn conditions_are_checked_against_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "temperature": { "type": "number" },
                "status": { "type": "string" },
                "battery": { "type": "object", "properties": { "level": { "type": "integer" } } },
                "tags": { "type": "array", "items": { "type": "string" } },
                "extra": {}
            },
            "additionalProperties": false
        });
        assert!(check_against_schema(&condition("/temperature", ">", json!(80)), &schema).is_ok());
        assert!(
            check_against_schema(&condition("/battery/level", "<", json!(10)), &schema).is_ok()
        );
        assert!(check_against_schema(&condition("/tags/0", "==", json!("x")), &schema).is_ok());
        assert!(check_against_schema(&condition("/extra", "==", json!(true)), &schema).is_ok());
        let missing =
            check_against_schema(&condition("/temprature", ">", json!(80)), &schema).unwrap_err();
        assert!(missing.contains("no field /temprature"), "{missing}");
        let nested =
            check_against_schema(&condition("/battery/volts", "<", json!(3)), &schema).unwrap_err();
        assert!(nested.contains("/battery/volts"), "{nested}");
        let wrong =
            check_against_schema(&condition("/status", ">", json!(5)), &schema).unwrap_err();
        assert!(wrong.contains("/status is string"), "{wrong}");
        let open = json!({ "type": "object" });
        assert!(check_against_schema(&condition("/anything", ">", json!(1)), &open).is_ok());
        let combined = json!({ "allOf": [{ "properties": { "a": { "type": "number" } } }, { "properties": { "b": {} } }] });
        assert!(check_against_schema(&condition("/b", "==", json!(1)), &combined).is_ok());
        assert!(check_against_schema(&condition("/c", "==", json!(1)), &combined).is_err());
    }
}
