//! A trigger's condition: one comparison, or `{"all": […]}` / `{"any": […]}` of conditions,
//! nested at most three groups deep with at most ten comparisons in all (SPEC §6a).
//!
//! A message may say nothing about a comparison (the field is missing or of another type), so
//! evaluation is three-valued: `all` is false as soon as one part is false, `any` true as soon as
//! one part is true, and otherwise a part that says nothing makes the whole say nothing.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::FieldErrors;
use super::alarm::{Comparison, ComparisonInput, check_against_schema};

pub const MAX_GROUP_DEPTH: usize = 3;
pub const MAX_COMPARISONS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Comparison),
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

/// How a group combines its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    All,
    Any,
}

impl Combine {
    pub fn as_str(self) -> &'static str {
        match self {
            Combine::All => "all",
            Combine::Any => "any",
        }
    }
}

const SHAPE: &str = "Give a comparison {\"field\": \"/temperature\", \"op\": \">\", \"value\": 80}, \
                     or {\"all\": [...]} / {\"any\": [...]} of them.";

impl Condition {
    /// Checks a condition as sent, recording each problem under its path (`condition.field`,
    /// `condition.all[1].op`, …, with `at` as the root).
    pub fn parse(input: &Value, at: &str, errors: &mut FieldErrors) -> Option<Self> {
        let parsed = parse_node(input, at, 0, errors);
        if let Some(condition) = &parsed {
            let count = condition.comparisons().len();
            if count > MAX_COMPARISONS {
                errors.add(
                    at,
                    format!("Use at most {MAX_COMPARISONS} comparisons in one condition (this one has {count})."),
                );
                return None;
            }
        }
        parsed
    }

    /// A condition as stored: it was checked when saved.
    pub fn from_stored(value: &Value) -> Option<Self> {
        Self::parse(value, "condition", &mut FieldErrors::new())
    }

    pub fn group(combine: Combine, parts: Vec<Condition>) -> Self {
        match combine {
            Combine::All => Condition::All(parts),
            Combine::Any => Condition::Any(parts),
        }
    }

    /// Whether the message makes the condition true; `None` when it says nothing about it.
    pub fn evaluate(&self, payload: &Value) -> Option<bool> {
        match self {
            Condition::Compare(comparison) => comparison.evaluate(payload),
            Condition::All(parts) => combine(parts, payload, false),
            Condition::Any(parts) => combine(parts, payload, true),
        }
    }

    /// Every comparison with its path under `at`.
    pub fn comparisons_at(&self, at: &str) -> Vec<(String, &Comparison)> {
        match self {
            Condition::Compare(comparison) => vec![(at.to_owned(), comparison)],
            Condition::All(parts) | Condition::Any(parts) => {
                let key = if matches!(self, Condition::All(_)) {
                    "all"
                } else {
                    "any"
                };
                parts
                    .iter()
                    .enumerate()
                    .flat_map(|(i, part)| part.comparisons_at(&format!("{at}.{key}[{i}]")))
                    .collect()
            }
        }
    }

    pub fn comparisons(&self) -> Vec<&Comparison> {
        self.comparisons_at("")
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    /// The flat form of the condition: how its comparisons combine and the comparisons, or
    /// `None` when groups nest (which only the API writes).
    pub fn flat(&self) -> Option<(Combine, Vec<&Comparison>)> {
        let (combine, parts) = match self {
            Condition::Compare(comparison) => return Some((Combine::All, vec![comparison])),
            Condition::All(parts) => (Combine::All, parts),
            Condition::Any(parts) => (Combine::Any, parts),
        };
        let comparisons = parts
            .iter()
            .map(|part| match part {
                Condition::Compare(comparison) => Some(comparison),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some((combine, comparisons))
    }

    /// Checks every comparison's field against the message type's schema, under its path's
    /// `.field`.
    pub fn check_against_schema(&self, at: &str, schema: &Value, errors: &mut FieldErrors) {
        for (path, comparison) in self.comparisons_at(at) {
            if let Err(message) = check_against_schema(comparison, schema) {
                errors.add(&format!("{path}.field"), message);
            }
        }
    }

    /// `/temperature > 8 and (/door_open == true or /status == "open")`
    pub fn describe(&self) -> String {
        self.describe_nested(false)
    }

    fn describe_nested(&self, nested: bool) -> String {
        let (parts, word) = match self {
            Condition::Compare(comparison) => return comparison.describe(),
            Condition::All(parts) => (parts, " and "),
            Condition::Any(parts) => (parts, " or "),
        };
        let text = parts
            .iter()
            .map(|part| part.describe_nested(true))
            .collect::<Vec<_>>()
            .join(word);
        if nested && parts.len() > 1 {
            format!("({text})")
        } else {
            text
        }
    }
}

/// What a trigger's conditions decide for one message.
#[derive(Debug, Clone)]
pub struct Rule {
    pub condition: Condition,
    /// Hysteresis: when set, an active alarm clears only when this holds.
    pub clear_condition: Option<Condition>,
    /// How long the condition must hold before the alarm is raised (by a timer).
    pub for_seconds: i64,
}

/// What a message does to a duration trigger's timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerStep {
    Keep,
    /// The condition holds: start the clock unless it already runs.
    Start,
    /// The condition broke: stop the clock.
    Stop,
}

impl Rule {
    /// The alarm's change (as `change`) and, for a duration trigger, what happens to its timer:
    /// the alarm is then raised by the timer, not by the message.
    pub fn step(&self, active: bool, payload: &Value) -> (Option<bool>, TimerStep) {
        if self.for_seconds == 0 || active {
            return (self.change(active, payload), TimerStep::Keep);
        }
        match self.condition.evaluate(payload) {
            Some(true) => (None, TimerStep::Start),
            Some(false) => (None, TimerStep::Stop),
            None => (None, TimerStep::Keep),
        }
    }

    /// Whether the alarm is active after this message, when that changes (`active` is whether
    /// it is raised or acknowledged now). A message that says nothing changes nothing, and with a
    /// clear condition a reading between the two thresholds changes nothing either.
    pub fn change(&self, active: bool, payload: &Value) -> Option<bool> {
        if active {
            let clears = match &self.clear_condition {
                Some(clear) => clear.evaluate(payload)?,
                None => !self.condition.evaluate(payload)?,
            };
            clears.then_some(false)
        } else {
            self.condition.evaluate(payload)?.then_some(true)
        }
    }
}

fn combine(parts: &[Condition], payload: &Value, any: bool) -> Option<bool> {
    let mut unknown = false;
    for part in parts {
        match part.evaluate(payload) {
            Some(value) if value == any => return Some(any),
            Some(_) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(!any)
}

fn parse_node(
    input: &Value,
    at: &str,
    depth: usize,
    errors: &mut FieldErrors,
) -> Option<Condition> {
    let Some(object) = input.as_object() else {
        errors.add(at, SHAPE);
        return None;
    };
    let group = match (object.get("all"), object.get("any")) {
        (Some(parts), None) => Some((Combine::All, parts)),
        (None, Some(parts)) => Some((Combine::Any, parts)),
        (Some(_), Some(_)) => {
            errors.add(at, "Use either \"all\" or \"any\" in one group, not both; nest a group to combine them.");
            return None;
        }
        (None, None) => None,
    };
    let Some((combine, parts)) = group else {
        return match serde_json::from_value::<ComparisonInput>(input.clone()) {
            Ok(comparison) => Comparison::parse(&comparison, at, errors).map(Condition::Compare),
            Err(_) => {
                errors.add(at, SHAPE);
                None
            }
        };
    };
    let key = combine.as_str();
    if object.len() > 1 {
        errors.add(
            at,
            format!("A group has only \"{key}\"; remove the other keys."),
        );
        return None;
    }
    if depth >= MAX_GROUP_DEPTH {
        errors.add(
            at,
            format!(
                "Nest groups at most {MAX_GROUP_DEPTH} deep; flatten this one into its parent."
            ),
        );
        return None;
    }
    let parts = match parts.as_array() {
        Some(parts) if !parts.is_empty() => parts,
        _ => {
            errors.add(
                &format!("{at}.{key}"),
                format!("Give \"{key}\" a list of at least one condition."),
            );
            return None;
        }
    };
    let checked: Vec<Option<Condition>> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| parse_node(part, &format!("{at}.{key}[{i}]"), depth + 1, errors))
        .collect();
    let checked = checked.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Condition::group(combine, checked))
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Compare(comparison) => comparison.serialize(serializer),
            Condition::All(parts) | Condition::Any(parts) => {
                let key = if matches!(self, Condition::All(_)) {
                    "all"
                } else {
                    "any"
                };
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, parts)?;
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Condition, FieldErrors> {
        let mut errors = FieldErrors::new();
        let parsed = Condition::parse(&value, "condition", &mut errors);
        match parsed {
            Some(condition) if errors.is_empty() => Ok(condition),
            _ => Err(errors),
        }
    }

    fn cmp(field: &str, op: &str, value: Value) -> Value {
        json!({ "field": field, "op": op, "value": value })
    }

    #[test]
    fn groups_evaluate_in_three_valued_logic() {
        let hot_and_open =
            parse(json!({ "all": [cmp("/t", ">", json!(8)), cmp("/door", "==", json!(true))] }))
                .unwrap();
        assert_eq!(
            hot_and_open.evaluate(&json!({ "t": 9, "door": true })),
            Some(true)
        );
        assert_eq!(
            hot_and_open.evaluate(&json!({ "t": 9, "door": false })),
            Some(false)
        );
        assert_eq!(
            hot_and_open.evaluate(&json!({ "t": 1 })),
            Some(false),
            "one false part decides"
        );
        assert_eq!(
            hot_and_open.evaluate(&json!({ "t": 9 })),
            None,
            "a part that says nothing"
        );
        let either =
            parse(json!({ "any": [cmp("/t", ">", json!(8)), cmp("/door", "==", json!(true))] }))
                .unwrap();
        assert_eq!(
            either.evaluate(&json!({ "t": 9 })),
            Some(true),
            "one true part decides"
        );
        assert_eq!(
            either.evaluate(&json!({ "t": 1, "door": false })),
            Some(false)
        );
        assert_eq!(either.evaluate(&json!({ "t": 1 })), None);
        let nested = parse(json!({ "all": [cmp("/t", ">", json!(8)), { "any": [cmp("/a", "==", json!(1)), cmp("/b", "==", json!(1))] }] })).unwrap();
        assert_eq!(
            nested.evaluate(&json!({ "t": 9, "a": 0, "b": 1 })),
            Some(true)
        );
        assert_eq!(nested.describe(), "/t > 8 and (/a == 1 or /b == 1)");
        assert_eq!(
            serde_json::to_value(&nested).unwrap()["all"][1]["any"][0]["field"],
            "/a"
        );
    }

    #[test]
    fn a_single_comparison_keeps_its_shape() {
        let single = parse(cmp("/t", ">", json!(8))).unwrap();
        assert_eq!(
            serde_json::to_value(&single).unwrap(),
            cmp("/t", ">", json!(8))
        );
        assert_eq!(
            Condition::from_stored(&cmp("/t", ">", json!(8))),
            Some(single)
        );
    }

    #[test]
    fn limits_and_shapes_name_the_path() {
        let errors = parse(json!({ "all": [cmp("t", ">", json!(1)), cmp("/u", "=>", json!(1))] }))
            .unwrap_err();
        assert!(
            errors.get("condition.all[0].field").unwrap().contains("/t"),
            "{errors}"
        );
        assert!(errors.get("condition.all[1].op").is_some(), "{errors}");
        let deep =
            json!({ "all": [{ "any": [{ "all": [{ "any": [cmp("/t", ">", json!(1))] }] }] }] });
        let errors = parse(deep).unwrap_err();
        assert!(
            errors
                .get("condition.all[0].any[0].all[0]")
                .unwrap()
                .contains("at most 3 deep"),
            "{errors}"
        );
        let three = json!({ "all": [{ "any": [{ "all": [cmp("/t", ">", json!(1))] }] }] });
        assert!(parse(three).is_ok());
        let many: Vec<Value> = (0..11).map(|i| cmp("/t", ">", json!(i))).collect();
        let errors = parse(json!({ "any": many })).unwrap_err();
        assert!(
            errors.get("condition").unwrap().contains("at most 10"),
            "{errors}"
        );
        assert!(
            parse(json!({ "all": [] }))
                .unwrap_err()
                .get("condition.all")
                .is_some()
        );
        assert!(
            parse(json!({ "all": [], "any": [] }))
                .unwrap_err()
                .get("condition")
                .is_some()
        );
        assert!(
            parse(json!("hot"))
                .unwrap_err()
                .get("condition")
                .unwrap()
                .contains("\"all\"")
        );
        assert!(parse(json!({ "field": "/t", "op": ">", "value": 1, "x": 1 })).is_err());
    }

    #[test]
    fn a_clear_condition_holds_the_alarm_between_thresholds() {
        let rule = Rule {
            condition: parse(cmp("/t", ">", json!(8))).unwrap(),
            clear_condition: Some(parse(cmp("/t", "<", json!(6))).unwrap()),
            for_seconds: 0,
        };
        assert_eq!(rule.change(false, &json!({ "t": 7 })), None);
        assert_eq!(rule.change(false, &json!({ "t": 9 })), Some(true));
        assert_eq!(
            rule.change(true, &json!({ "t": 7 })),
            None,
            "between: stays raised"
        );
        assert_eq!(rule.change(true, &json!({ "t": 9 })), None);
        assert_eq!(rule.change(true, &json!({ "t": 5 })), Some(false));
        assert_eq!(rule.change(true, &json!({})), None);
        let plain = Rule {
            condition: parse(cmp("/t", ">", json!(8))).unwrap(),
            clear_condition: None,
            for_seconds: 0,
        };
        assert_eq!(plain.change(true, &json!({ "t": 7 })), Some(false));
        assert_eq!(plain.change(false, &json!({ "t": 7 })), None);
    }

    #[test]
    fn a_duration_starts_and_stops_a_timer_instead_of_raising() {
        let rule = Rule {
            condition: parse(cmp("/t", ">", json!(8))).unwrap(),
            clear_condition: None,
            for_seconds: 60,
        };
        assert_eq!(
            rule.step(false, &json!({ "t": 9 })),
            (None, TimerStep::Start)
        );
        assert_eq!(
            rule.step(false, &json!({ "t": 7 })),
            (None, TimerStep::Stop)
        );
        assert_eq!(rule.step(false, &json!({})), (None, TimerStep::Keep));
        assert_eq!(
            rule.step(true, &json!({ "t": 7 })),
            (Some(false), TimerStep::Keep),
            "clears at once"
        );
    }

    #[test]
    fn every_field_is_checked_against_the_schema() {
        let schema = json!({ "type": "object", "properties": { "t": { "type": "number" } }, "additionalProperties": false });
        let condition =
            parse(json!({ "any": [cmp("/t", ">", json!(1)), cmp("/x", ">", json!(1))] })).unwrap();
        let mut errors = FieldErrors::new();
        condition.check_against_schema("condition", &schema, &mut errors);
        assert!(
            errors
                .get("condition.any[1].field")
                .unwrap()
                .contains("no field /x"),
            "{errors}"
        );
        assert!(errors.get("condition.any[0].field").is_none());
    }
}
