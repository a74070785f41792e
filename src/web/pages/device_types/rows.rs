//! The message type rows of the device type form: read from the post, turned into the
//! service's input, and the service's `message_types[i]` errors put back on the row they came
//! from (blank rows are skipped, so `i` is not the row's position on the page).

use serde::Deserialize;
use serde_json::Value;

use crate::alarms::setup::{DeviceTypeInput, MessageTypeInput};
use crate::domain::FieldErrors;
use crate::domain::device::parse_schema_text;

/// One message type row of the form, as typed, with the problems found in it.
#[derive(Default)]
pub struct Row {
    pub name: String,
    pub schema: String,
    pub name_error: Option<String>,
    pub schema_error: Option<String>,
}

impl Row {
    pub fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.schema.trim().is_empty()
    }
}

/// The form as posted. Browsers send fields in document order, so the n-th `mt_name` and the
/// n-th `mt_schema` are the same row.
#[derive(Deserialize)]
pub struct DeviceTypeForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    mt_name: Vec<String>,
    #[serde(default)]
    mt_schema: Vec<String>,
    /// `add_row` for "Add another message type"; anything else saves.
    #[serde(default)]
    pub action: String,
}

impl DeviceTypeForm {
    pub fn rows(&self) -> Vec<Row> {
        let count = self.mt_name.len().max(self.mt_schema.len());
        (0..count)
            .map(|i| Row {
                name: self.mt_name.get(i).cloned().unwrap_or_default(),
                schema: self.mt_schema.get(i).cloned().unwrap_or_default(),
                ..Row::default()
            })
            .collect()
    }
}

/// The service's input from the non-blank rows, the row each input came from, and the schemas
/// that could not be read. A schema that is not JSON goes to the service as `null`, which it
/// refuses like any schema that is not an object: so every other field is still checked and
/// reported in the same answer, and nothing is saved.
pub fn to_input(form: &DeviceTypeForm, rows: &[Row]) -> (DeviceTypeInput, Vec<usize>, FieldErrors) {
    let mut unreadable = FieldErrors::new();
    let mut inputs = Vec::new();
    let mut row_of = Vec::new();
    for (r, row) in rows.iter().enumerate().filter(|(_, row)| !row.is_blank()) {
        let key = format!("message_types[{}].schema", inputs.len());
        let schema = if row.schema.trim().is_empty() {
            unreadable.add(
                &key,
                "Enter the JSON Schema of this message type, such as {\"type\": \"object\"}.",
            );
            Value::Null
        } else {
            parse_schema_text(&row.schema).unwrap_or_else(|message| {
                unreadable.add(&key, message);
                Value::Null
            })
        };
        inputs.push(MessageTypeInput {
            name: row.name.clone(),
            schema,
        });
        row_of.push(r);
    }
    let input = DeviceTypeInput {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        message_types: Some(inputs),
    };
    (input, row_of, unreadable)
}

/// Puts `message_types[i].name` / `.schema` errors on the row they came from; returns the rest.
pub fn place_errors(rows: &mut [Row], row_of: &[usize], errors: &FieldErrors) -> FieldErrors {
    let mut rest = FieldErrors::new();
    for (field, message) in errors.iter() {
        let placed = field
            .strip_prefix("message_types[")
            .and_then(|tail| tail.split_once("]."))
            .and_then(|(index, part)| {
                let row = rows.get_mut(*row_of.get(index.parse::<usize>().ok()?)?)?;
                let slot = match part {
                    "name" => &mut row.name_error,
                    "schema" => &mut row.schema_error,
                    _ => return None,
                };
                slot.get_or_insert_with(|| message.to_owned());
                Some(())
            });
        if placed.is_none() {
            rest.add(field, message);
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, schema: &str) -> Row {
        Row {
            name: name.into(),
            schema: schema.into(),
            ..Row::default()
        }
    }

    #[test]
    fn errors_land_on_the_row_they_came_from() {
        let form = DeviceTypeForm {
            name: "Freezer".into(),
            description: String::new(),
            mt_name: Vec::new(),
            mt_schema: Vec::new(),
            action: String::new(),
        };
        let mut rows = vec![
            row("a", "{}"),
            row(" ", ""),
            row("b", "{nope"),
            row("c", ""),
        ];
        let (input, row_of, unreadable) = to_input(&form, &rows);
        assert_eq!(
            input.message_types.map(|m| m.len()),
            Some(3),
            "the blank row is skipped"
        );
        assert_eq!(row_of, vec![0, 2, 3]);
        assert!(
            unreadable
                .get("message_types[1].schema")
                .is_some_and(|m| m.contains("not valid JSON"))
        );
        assert!(
            unreadable
                .get("message_types[2].schema")
                .is_some_and(|m| m.starts_with("Enter the JSON Schema"))
        );

        let mut errors = unreadable;
        errors.add("message_types[0].name", "taken");
        errors.add("message_types", "in use");
        errors.add("name", "too long");
        let rest = place_errors(&mut rows, &row_of, &errors);
        assert_eq!(rows[0].name_error.as_deref(), Some("taken"));
        assert!(rows[1].schema_error.is_none());
        assert!(rows[2].schema_error.is_some() && rows[3].schema_error.is_some());
        let rest: Vec<&str> = rest.iter().map(|(field, _)| field).collect();
        assert_eq!(rest, vec!["message_types", "name"]);
    }
}
