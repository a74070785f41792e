//! Text that can be stored. PostgreSQL's TEXT and JSONB cannot hold U+0000 (SQLite can), so
//! every text field and JSON document refuses it at the boundary, on both databases alike.

use serde_json::Value;

pub const NUL_MESSAGE: &str =
    "Remove the NUL character (U+0000, \\u0000): text and JSON strings may not contain it.";

pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// The path (`a.b[0].c`, as the JSON errors name fields) of the first string or key in `value`
/// that holds a NUL; `.` for the document itself.
pub fn nul_path(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> bool {
        match value {
            Value::String(text) => has_nul(text),
            Value::Array(items) => items.iter().enumerate().any(|(index, item)| {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\u0000"));
                let found = has_nul(key) || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| if path.is_empty() { ".".into() } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_string_or_key_with_a_nul() {
        assert_eq!(nul_path(&json!({ "name": "ok", "tags": ["a"] })), None);
        assert_eq!(
            nul_path(&json!({ "name": "ok", "message_types": [{ "name": "a\u{0}" }] })).as_deref(),
            Some("message_types[0].name")
        );
        assert_eq!(
            nul_path(&json!({ "payload": { "k\u{0}": 1 } })).as_deref(),
            Some("payload.k\\u0000")
        );
        assert_eq!(nul_path(&json!("\u{0}")).as_deref(), Some("."));
    }
}
