//! Device types, their message types with JSON Schemas, and devices.

use serde_json::Value;

use super::validation::parse_name;

pub const SCHEMA_MAX_BYTES: usize = 64 * 1024;

pub fn parse_device_type_name(text: &str) -> Result<String, String> {
    parse_name(text, "device type", 100)
}

pub fn parse_device_name(text: &str) -> Result<String, String> {
    parse_name(text, "device", 100)
}

pub fn parse_trigger_name(text: &str) -> Result<String, String> {
    parse_name(text, "alarm trigger", 100)
}

pub fn parse_description(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > 1000 {
        return Err("Use at most 1000 characters for the description.".into());
    }
    Ok(text.to_owned())
}

/// A message type's name, as devices send it in `message_type`: 1–64 letters, digits, `_`, `-`
/// or `.`; compared exactly.
pub fn parse_message_type_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err("Enter a name for the message type, such as telemetry.".into());
    }
    if name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(
            "Use 1 to 64 letters, digits, _, - or . for a message type name (devices send it as message_type)."
                .into(),
        );
    }
    Ok(name.to_owned())
}

/// A JSON Schema that compiles: an object, at most 64 KiB, every keyword valid for its draft,
/// no `$ref` to a remote document.
pub fn parse_schema(schema: &Value) -> Result<Value, String> {
    if !schema.is_object() {
        return Err("Give the schema as a JSON object, such as {\"type\": \"object\", \"properties\": {…}}.".into());
    }
    if schema.to_string().len() > SCHEMA_MAX_BYTES {
        return Err(format!(
            "Use a schema of at most {} KiB.",
            SCHEMA_MAX_BYTES / 1024
        ));
    }
    jsonschema::validator_for(schema).map_err(|error| schema_problem(&error))?;
    Ok(schema.clone())
}

/// A schema's meta-schema violation, saying where in the schema it is. The validator's own text
/// for a bad `type` ("not valid under any of the schemas listed in the 'anyOf' keyword") names
/// neither the place nor the fix, so that case gets its own sentence.
fn schema_problem(error: &jsonschema::ValidationError<'_>) -> String {
    let path = error.instance_path().to_string();
    let place = if path.is_empty() {
        "At the top of the schema".to_owned()
    } else {
        format!("At {path}")
    };
    if path.ends_with("/type") {
        return format!(
            "This is not a valid JSON Schema. {place}: {} is not a type; use string, number, \
             integer, boolean, object, array or null (or a list of them).",
            error.instance()
        );
    }
    format!("This is not a valid JSON Schema. {place}: {error}.")
}

/// Parses schema text typed into a form.
pub fn parse_schema_text(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|error| format!("The schema is not valid JSON: {error}."))?;
    parse_schema(&value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn message_type_names_are_identifiers() {
        assert_eq!(
            parse_message_type_name(" telemetry "),
            Ok("telemetry".into())
        );
        assert!(parse_message_type_name("status.v2-beta_1").is_ok());
        assert!(parse_message_type_name("has space").is_err());
        assert!(parse_message_type_name("").is_err());
        assert!(parse_message_type_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn schemas_must_compile() {
        assert!(
            parse_schema(&json!({ "type": "object", "properties": { "t": { "type": "number" } } }))
                .is_ok()
        );
        let bad_type = parse_schema(&json!({ "type": "nonsense" })).unwrap_err();
        assert!(
            bad_type.starts_with("This is not a valid JSON Schema"),
            "{bad_type}"
        );
        let nested =
            parse_schema(&json!({ "properties": { "t": { "type": "nubmer" } } })).unwrap_err();
        assert_eq!(
            nested,
            "This is not a valid JSON Schema. At /properties/t/type: \"nubmer\" is not a type; \
             use string, number, integer, boolean, object, array or null (or a list of them)."
        );
        assert!(parse_schema(&json!({ "minimum": "five" })).is_err());
        assert!(
            parse_schema(&json!([1, 2]))
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(parse_schema(&json!({ "$ref": "https://example.com/schema.json" })).is_err());
        assert!(
            parse_schema_text("{not json")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
