//! A sample payload built from a message type's JSON Schema, for a test-fired trigger when the
//! device type has no message yet: every declared property with a value of its type.

use serde_json::{Map, Value, json};

/// How deep nested objects are filled in.
const MAX_DEPTH: usize = 8;

pub fn sample_of(schema: &Value) -> Value {
    sample(schema, 0)
}

fn sample(schema: &Value, depth: usize) -> Value {
    if let Some(value) = schema.get("const").or_else(|| schema.get("default")) {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(examples) = schema.get("examples").and_then(Value::as_array)
        && let Some(first) = examples.first()
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ => None,
    };
    match kind {
        Some("number") | Some("integer") => schema
            .get("minimum")
            .or_else(|| schema.get("exclusiveMinimum"))
            .cloned()
            .unwrap_or(json!(0)),
        Some("string") => json!("sample"),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") if depth < MAX_DEPTH => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), sample(property, depth + 1));
                }
            }
            Value::Object(object)
        }
        Some("object") => json!({}),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_property_gets_a_value_of_its_type() {
        let schema = json!({ "type": "object", "properties": {
            "temperature": { "type": "number", "minimum": -40 },
            "status": { "type": "string", "enum": ["ok", "defrost"] },
            "door_open": { "type": "boolean" },
            "battery": { "type": "object", "properties": { "level": { "type": "integer" } } },
            "unit": { "const": "C" },
        } });
        assert_eq!(
            sample_of(&schema),
            json!({ "temperature": -40, "status": "ok", "door_open": false, "battery": { "level": 0 }, "unit": "C" })
        );
        assert_eq!(sample_of(&json!({})), Value::Null);
    }
}
