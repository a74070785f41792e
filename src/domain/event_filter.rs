//! Which events a webhook receives (SPEC §2a): a subset of the alarm event types (all when
//! empty) and a minimum severity. An event a webhook filters out makes no delivery for it.

use serde::Serialize;

use super::FieldErrors;
use super::alarm::Severity;
use super::event::{ALARM_ACKNOWLEDGED, ALARM_CLEARED, ALARM_RAISED};

/// The event types a webhook may choose among. Other events (`webhook.test`) are never filtered.
pub const FILTERABLE: [&str; 3] = [ALARM_RAISED, ALARM_CLEARED, ALARM_ACKNOWLEDGED];

/// The chosen event types, stored comma-separated; empty means every type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventTypes(pub Vec<String>);

impl EventTypes {
    pub fn stored(&self) -> String {
        self.0.join(",")
    }

    pub fn includes(&self, event_type: &str) -> bool {
        self.0.iter().any(|t| t == event_type)
    }
}

/// Read from the `event_types` column.
impl From<String> for EventTypes {
    fn from(text: String) -> Self {
        Self(
            text.split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

/// A webhook's filter, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub event_types: EventTypes,
    pub min_severity: Option<Severity>,
}

impl EventFilter {
    /// Checks the types (each one of `FILTERABLE`, no repeats) and the severity name.
    pub fn parse(event_types: &[String], min_severity: Option<&str>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut types: Vec<String> = Vec::new();
        for (i, event_type) in event_types.iter().enumerate() {
            let event_type = event_type.trim();
            if !FILTERABLE.contains(&event_type) {
                errors.add(
                    &format!("event_types[{i}]"),
                    format!(
                        "Choose among alarm.raised, alarm.cleared and alarm.acknowledged (got '{event_type}')."
                    ),
                );
            } else if !types.iter().any(|t| t == event_type) {
                types.push(event_type.to_owned());
            }
        }
        let min_severity = match min_severity.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => errors.check("min_severity", Severity::parse(text)),
        };
        // Every type chosen is the same as none: keep the stored form canonical.
        if types.len() == FILTERABLE.len() {
            types.clear();
        }
        errors.finish(|| Self {
            event_types: EventTypes(types),
            min_severity,
        })
    }

    /// Why an event of this type and severity is not sent, or `None` when it is.
    pub fn refuses(&self, event_type: &str, severity: Option<&str>) -> Option<String> {
        if !FILTERABLE.contains(&event_type) {
            return None;
        }
        if !self.event_types.0.is_empty() && !self.event_types.includes(event_type) {
            return Some(format!(
                "it receives only {}",
                self.event_types.0.join(", ")
            ));
        }
        let minimum = self.min_severity?;
        let severity = severity.and_then(|s| Severity::parse(s).ok())?;
        (severity.rank() < minimum.rank()).then(|| {
            format!(
                "it receives only alarms of severity {} or higher",
                minimum.as_str()
            )
        })
    }

    /// Read back from the webhook's columns.
    pub fn stored(event_types: EventTypes, min_severity: Option<&str>) -> Self {
        Self {
            event_types,
            min_severity: min_severity.and_then(|s| Severity::parse(s).ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn filters_are_checked_by_field() {
        let errors =
            EventFilter::parse(&types(&["alarm.raised", "alarm.exploded"]), Some("urgent"))
                .unwrap_err();
        assert!(
            errors
                .get("event_types[1]")
                .unwrap()
                .contains("alarm.exploded")
        );
        assert!(
            errors
                .get("min_severity")
                .unwrap()
                .contains("info, warning or critical")
        );
        let all = EventFilter::parse(
            &types(&[
                "alarm.raised",
                "alarm.cleared",
                "alarm.acknowledged",
                "alarm.raised",
            ]),
            Some(""),
        )
        .unwrap();
        assert_eq!(all, EventFilter::default(), "every type is no filter");
    }

    #[test]
    fn an_event_is_refused_by_type_or_by_severity_and_test_events_never() {
        let filter = EventFilter::parse(&types(&["alarm.raised"]), Some("warning")).unwrap();
        assert_eq!(filter.refuses("alarm.raised", Some("critical")), None);
        assert_eq!(filter.refuses("alarm.raised", Some("warning")), None);
        assert!(
            filter
                .refuses("alarm.raised", Some("info"))
                .unwrap()
                .contains("severity warning or higher")
        );
        assert!(
            filter
                .refuses("alarm.cleared", Some("critical"))
                .unwrap()
                .contains("only alarm.raised")
        );
        assert_eq!(filter.refuses("webhook.test", None), None);
        assert_eq!(
            EventFilter::default().refuses("alarm.cleared", Some("info")),
            None
        );
        assert_eq!(
            EventTypes::from("alarm.raised,alarm.cleared".to_owned()).stored(),
            "alarm.raised,alarm.cleared"
        );
    }
}
