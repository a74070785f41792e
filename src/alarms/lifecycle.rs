//! What users do with alarms: list them by state, severity, device type and device, and
//! acknowledge a raised one with an optional note.

use crate::domain::alarm::Severity;
use crate::domain::{AlarmId, DeviceId, DeviceTypeId, EventId, FieldErrors, OrgId};
use crate::error::Result;
use crate::store::{Actor, AlarmFilter, MAX_NOTE_CHARS, Store};

pub const ALARM_STATES: [&str; 3] = ["raised", "acknowledged", "cleared"];

/// The filters as sent (query parameters or the page's filter form); empty means any.
#[derive(Debug, Default)]
pub struct FilterInput<'a> {
    pub state: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub device_type_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
}

fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

pub fn parse_filter(input: &FilterInput<'_>) -> std::result::Result<AlarmFilter, FieldErrors> {
    let mut errors = FieldErrors::new();
    let state = given(input.state).and_then(|state| {
        if ALARM_STATES.contains(&state) {
            Some(state.to_owned())
        } else {
            errors.add("state", "Filter by raised, acknowledged or cleared.");
            None
        }
    });
    let severity = given(input.severity).and_then(|text| {
        errors
            .check("severity", Severity::parse(text))
            .map(|s| s.as_str().to_owned())
    });
    let device_type = given(input.device_type_id).and_then(|text| {
        let parsed = DeviceTypeId::parse(text);
        if parsed.is_none() {
            errors.add(
                "device_type_id",
                "Give a device type id (dty_…), from Setup → Device Types.",
            );
        }
        parsed
    });
    let device = given(input.device_id).and_then(|text| {
        let parsed = DeviceId::parse(text);
        if parsed.is_none() {
            errors.add(
                "device_id",
                "Give a device id (dev_…), from Setup → Devices.",
            );
        }
        parsed
    });
    errors.finish(|| AlarmFilter {
        state,
        severity,
        device_type,
        device,
    })
}

/// A note as typed: trimmed, empty is none, at most 500 characters.
pub fn parse_note(note: Option<&str>) -> std::result::Result<Option<String>, String> {
    let Some(note) = given(note) else {
        return Ok(None);
    };
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(format!(
            "Keep the note to {MAX_NOTE_CHARS} characters (it has {chars})."
        ));
    }
    if note.contains('\0') {
        return Err("Remove the NUL character from the note.".into());
    }
    Ok(Some(note.to_owned()))
}

/// Acknowledges a raised alarm; its `alarm.acknowledged` event goes to the trigger's webhooks.
pub async fn acknowledge(
    store: &Store,
    org: &OrgId,
    id: &AlarmId,
    by: &Actor,
    note: Option<&str>,
) -> Result<EventId> {
    store.alarm(org, id).await?;
    let note = parse_note(note).map_err(|message| FieldErrors::one("note", message))?;
    Ok(store
        .acknowledge_alarm(org, id, by, note.as_deref())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_notes_are_checked() {
        let filter = parse_filter(&FilterInput {
            state: Some("acknowledged"),
            severity: Some(" critical "),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(filter.state.as_deref(), Some("acknowledged"));
        assert_eq!(filter.severity.as_deref(), Some("critical"));
        let errors = parse_filter(&FilterInput {
            state: Some("open"),
            severity: Some("loud"),
            device_type_id: Some("dev_x"),
            device_id: Some("x"),
        })
        .unwrap_err();
        for field in ["state", "severity", "device_type_id", "device_id"] {
            assert!(errors.get(field).is_some(), "{field}: {errors}");
        }
        assert_eq!(parse_note(Some("  ")), Ok(None));
        assert_eq!(
            parse_note(Some(&"é".repeat(500)))
                .unwrap()
                .unwrap()
                .chars()
                .count(),
            500
        );
        assert!(
            parse_note(Some(&"é".repeat(501)))
                .unwrap_err()
                .contains("500")
        );
    }
}
