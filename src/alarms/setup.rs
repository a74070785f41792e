//! Setting up device types (with their message types) and alarm triggers: every rule checked,
//! every problem reported against its field, then one store call.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::alarm::{Severity, TriggerKind, parse_silent_for};
use crate::domain::condition::Condition;
use crate::domain::device::{
    parse_description, parse_device_type_name, parse_message_type_name, parse_schema,
    parse_trigger_name,
};
use crate::domain::{DeviceTypeId, FieldErrors, OrgId, TriggerId, WebhookId};
use crate::error::Result;
use crate::store::{DeviceType, NewMessageType, Store, StoreError, Trigger, TriggerFields};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTypeInput {
    pub name: String,
    pub schema: Value,
}

/// A device type as sent: a PATCH leaves out what it does not change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTypeInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub message_types: Option<Vec<MessageTypeInput>>,
}

fn check_message_types(
    inputs: &[MessageTypeInput],
    errors: &mut FieldErrors,
) -> Vec<NewMessageType> {
    let mut checked = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let name = errors.check(
            &format!("message_types[{i}].name"),
            parse_message_type_name(&input.name),
        );
        let schema = errors.check(
            &format!("message_types[{i}].schema"),
            parse_schema(&input.schema),
        );
        if let Some(name) = &name
            && checked.iter().any(|m: &NewMessageType| &m.name == name)
        {
            errors.add(
                &format!("message_types[{i}].name"),
                format!("Two message types are named {name}; give each its own name."),
            );
        }
        if let (Some(name), Some(schema)) = (name, schema) {
            checked.push(NewMessageType { name, schema });
        }
    }
    checked
}

pub async fn create_device_type(
    store: &Store,
    org: &OrgId,
    input: &DeviceTypeInput,
) -> Result<DeviceType> {
    let mut errors = FieldErrors::new();
    let name = errors.check(
        "name",
        parse_device_type_name(input.name.as_deref().unwrap_or_default()),
    );
    let description = errors.check(
        "description",
        parse_description(input.description.as_deref().unwrap_or_default()),
    );
    let message_types = check_message_types(
        input.message_types.as_deref().unwrap_or_default(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (name, description) = (name.unwrap_or_default(), description.unwrap_or_default());
    Ok(store
        .create_device_type(org, &name, &description, &message_types)
        .await?)
}

/// Changes a device type. Removing a message type that a trigger uses, or changing a schema so
/// that a trigger's field no longer fits it, is refused and names the trigger.
pub async fn update_device_type(
    store: &Store,
    org: &OrgId,
    id: &DeviceTypeId,
    input: &DeviceTypeInput,
) -> Result<DeviceType> {
    store.device_type(org, id).await?;
    let mut errors = FieldErrors::new();
    let name = input
        .name
        .as_deref()
        .and_then(|n| errors.check("name", parse_device_type_name(n)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| errors.check("description", parse_description(d)));
    let message_types = input
        .message_types
        .as_deref()
        .map(|inputs| check_message_types(inputs, &mut errors));
    if let Some(wanted) = &message_types
        && errors.is_empty()
    {
        let triggers = store.list_triggers(org, id).await?;
        for trigger in &triggers {
            let Some(message_type) = &trigger.message_type else {
                continue;
            };
            match wanted.iter().position(|m| &m.name == message_type) {
                None => errors.add(
                    "message_types",
                    format!(
                        "The message type {} is used by the alarm trigger “{}”; keep it, or delete or change that trigger first.",
                        message_type, trigger.name
                    ),
                ),
                Some(i) => {
                    let mut problems = FieldErrors::new();
                    if let Some(condition) = &trigger.condition {
                        condition.check_against_schema("condition", &wanted[i].schema, &mut problems);
                    }
                    if let Some(clear) = &trigger.clear_condition {
                        clear.check_against_schema("clear_condition", &wanted[i].schema, &mut problems);
                    }
                    if let Some((_, message)) = problems.iter().next() {
                        errors.add(
                            &format!("message_types[{i}].schema"),
                            format!("The alarm trigger “{}” would no longer fit: {message}", trigger.name),
                        );
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(store
        .update_device_type(
            org,
            id,
            name.as_deref(),
            description.as_deref(),
            message_types.as_deref(),
        )
        .await?)
}

/// An alarm trigger as sent: a PATCH leaves out what it does not change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerInput {
    pub name: Option<String>,
    /// `threshold` (the default) or `no_data`; fixed once the trigger exists.
    pub kind: Option<String>,
    /// For `no_data`: `null` (or absent on create) counts every message type.
    #[serde(default, deserialize_with = "present")]
    pub message_type: Option<Value>,
    pub condition: Option<Value>,
    /// `null` removes the clear condition; absent leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    pub clear_condition: Option<Value>,
    pub for_seconds: Option<Value>,
    pub silent_for_seconds: Option<Value>,
    pub severity: Option<String>,
    pub enabled: Option<bool>,
    pub webhook_ids: Option<Vec<String>>,
}

/// A field that is present, even as `null` (which `Option` alone would read as absent).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

pub const MAX_FOR_SECONDS: i64 = 86_400;

fn parse_for_seconds(value: &Value) -> Result<i64, String> {
    match value.as_i64() {
        Some(seconds) if (0..=MAX_FOR_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "Give a whole number of seconds from 0 (raise at once) to {MAX_FOR_SECONDS} (a day)."
        )),
    }
}

/// Checks a whole trigger: fields not given are taken from `current` (for a change) or are
/// required (for a new one).
async fn check_trigger(
    store: &Store,
    org: &OrgId,
    device_type: &DeviceTypeId,
    input: &TriggerInput,
    current: Option<&Trigger>,
) -> Result<TriggerFields> {
    let device_type = store.device_type(org, device_type).await?;
    let mut errors = FieldErrors::new();
    let name = match (&input.name, current) {
        (Some(name), _) => errors.check("name", parse_trigger_name(name)),
        (None, Some(current)) => Some(current.name.clone()),
        (None, None) => errors.check("name", Err("Enter a name for the alarm trigger.".into())),
    };
    let kind = match (&input.kind, current) {
        (Some(kind), Some(current)) => match TriggerKind::parse(kind) {
            Ok(kind) if kind == current.kind => Some(kind),
            Ok(_) => errors.check("kind", Err("A trigger's kind cannot change; create a new trigger of the other kind and delete this one.".to_owned())),
            Err(message) => errors.check("kind", Err(message)),
        },
        (Some(kind), None) => errors.check("kind", TriggerKind::parse(kind)),
        (None, Some(current)) => Some(current.kind),
        (None, None) => Some(TriggerKind::Threshold),
    };
    let no_data = kind == Some(TriggerKind::NoData);
    // Outer None: a problem; inner None: no message type (every one counts, for no_data).
    let message_type_name: Option<Option<String>> = match (&input.message_type, current) {
        (Some(Value::String(name)), _) if !(no_data && name.trim().is_empty()) => {
            Some(Some(name.trim().to_owned()))
        }
        (Some(Value::String(_) | Value::Null), _) if no_data => Some(None),
        (Some(Value::Null), _) => None,
        (Some(_), _) => {
            errors.add("message_type", "Give the message type's name as a string.");
            Some(None)
        }
        (None, Some(current)) => Some(current.message_type.clone()),
        (None, None) if no_data => Some(None),
        (None, None) => None,
    };
    let message_type = match message_type_name {
        None => {
            errors.add(
                "message_type",
                "Choose the message type the condition applies to.",
            );
            None
        }
        Some(None) => Some(None),
        Some(Some(name)) => {
            let found = device_type.message_types.iter().find(|m| m.name == name);
            if found.is_none() {
                let known: Vec<&str> = device_type
                    .message_types
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect();
                errors.add(
                    "message_type",
                    if known.is_empty() {
                        format!("The device type {} has no message types yet; add one under Setup → Device Types.", device_type.name)
                    } else {
                        format!("The device type {} has no message type {name}; it has: {}.", device_type.name, known.join(", "))
                    },
                );
                None
            } else {
                Some(found)
            }
        }
    };
    let enabled = input.enabled.or(current.map(|c| c.enabled)).unwrap_or(true);
    let severity = match (&input.severity, current) {
        (Some(severity), _) => errors.check("severity", Severity::parse(severity)),
        (None, Some(current)) => Some(current.severity),
        (None, None) => Some(Severity::Warning),
    };
    if no_data {
        for (field, given) in [
            ("condition", input.condition.is_some()),
            (
                "clear_condition",
                matches!(&input.clear_condition, Some(v) if !v.is_null()),
            ),
            (
                "for_seconds",
                matches!(&input.for_seconds, Some(v) if v.as_i64() != Some(0)),
            ),
        ] {
            if given {
                errors.add(field, "A no_data trigger has no condition: it is raised when the device sends nothing for silent_for_seconds. Leave this out.");
            }
        }
        let silent_for_seconds = match (&input.silent_for_seconds, current) {
            (Some(value), _) => errors.check("silent_for_seconds", parse_silent_for(value)),
            (None, Some(current)) => current.silent_for_seconds,
            (None, None) => errors.check(
                "silent_for_seconds",
                Err("Give how long a device may stay silent, in seconds (at least 10).".to_owned()),
            ),
        };
        return match (name, message_type, silent_for_seconds, severity) {
            (Some(name), Some(message_type), Some(silent), Some(severity)) if errors.is_empty() => {
                Ok(TriggerFields {
                    name,
                    kind: TriggerKind::NoData,
                    message_type_id: message_type.map(|m| m.id.clone()),
                    condition: None,
                    clear_condition: None,
                    for_seconds: 0,
                    silent_for_seconds: Some(silent),
                    severity,
                    enabled,
                })
            }
            _ => Err(errors.into()),
        };
    }
    if input.silent_for_seconds.is_some() {
        errors.add(
            "silent_for_seconds",
            "Only a no_data trigger waits for silence; set kind to no_data, or leave this out.",
        );
    }
    let message_type = message_type.flatten();
    let condition = match (&input.condition, current) {
        (Some(input), _) => Condition::parse(input, "condition", &mut errors),
        (None, Some(current)) => current.condition.clone(),
        (None, None) => {
            errors.add("condition", "Give the condition as {\"field\": \"/temperature\", \"op\": \">\", \"value\": 80}.");
            None
        }
    };
    // Outer None: not checked (a field had a problem); inner None: no clear condition.
    let clear_condition = match (&input.clear_condition, current) {
        (Some(Value::Null), _) => Some(None),
        (Some(input), _) => Condition::parse(input, "clear_condition", &mut errors).map(Some),
        (None, Some(current)) => Some(current.clear_condition.clone()),
        (None, None) => Some(None),
    };
    if let Some(message_type) = message_type {
        if let Some(condition) = &condition {
            condition.check_against_schema("condition", &message_type.schema, &mut errors);
        }
        if let Some(Some(clear)) = &clear_condition {
            clear.check_against_schema("clear_condition", &message_type.schema, &mut errors);
        }
    }
    let for_seconds = match (&input.for_seconds, current) {
        (Some(value), _) => errors.check("for_seconds", parse_for_seconds(value)),
        (None, Some(current)) => Some(current.for_seconds),
        (None, None) => Some(0),
    };
    match (
        name,
        message_type,
        condition,
        clear_condition,
        for_seconds,
        severity,
    ) {
        (
            Some(name),
            Some(message_type),
            Some(condition),
            Some(clear_condition),
            Some(for_seconds),
            Some(severity),
        ) if errors.is_empty() => Ok(TriggerFields {
            name,
            kind: TriggerKind::Threshold,
            message_type_id: Some(message_type.id.clone()),
            condition: Some(condition),
            clear_condition,
            for_seconds,
            silent_for_seconds: None,
            severity,
            enabled,
        }),
        _ => Err(errors.into()),
    }
}

/// Parses webhook ids and checks that each is a webhook of the organization, naming the others.
async fn check_webhook_ids(store: &Store, org: &OrgId, ids: &[String]) -> Result<Vec<WebhookId>> {
    let mut parsed = Vec::new();
    let mut unknown = Vec::new();
    for text in ids {
        let Some(id) = WebhookId::parse(text.trim()) else {
            unknown.push(text.trim().to_owned());
            continue;
        };
        if parsed.contains(&id) {
            continue;
        }
        match store.webhook(org, &id).await {
            Ok(_) => parsed.push(id),
            Err(StoreError::NotFound) => unknown.push(id.to_string()),
            Err(error) => return Err(error.into()),
        }
    }
    if unknown.is_empty() {
        Ok(parsed)
    } else {
        Err(FieldErrors::one(
            "webhook_ids",
            format!(
                "Webhook not found: {}. Choose webhooks from Developer Tools → Webhooks.",
                unknown.join(", ")
            ),
        )
        .into())
    }
}

/// Sets a trigger's webhook list; ids that are not webhooks of the organization are refused
/// and nothing changes.
pub async fn set_webhooks(
    store: &Store,
    org: &OrgId,
    trigger: &TriggerId,
    ids: &[String],
) -> Result<Trigger> {
    store.trigger(org, trigger).await?;
    let ids = check_webhook_ids(store, org, ids).await?;
    write_webhooks(store, org, trigger, &ids).await?;
    Ok(store.trigger(org, trigger).await?)
}

/// Stores checked ids; a webhook deleted since the check is reported like an unknown one.
async fn write_webhooks(
    store: &Store,
    org: &OrgId,
    trigger: &TriggerId,
    ids: &[WebhookId],
) -> Result<()> {
    match store.set_trigger_webhooks(org, trigger, ids).await? {
        Ok(_) => Ok(()),
        Err(gone) => {
            let gone: Vec<String> = gone.iter().map(ToString::to_string).collect();
            Err(FieldErrors::one(
                "webhook_ids",
                format!("Webhook not found: {}.", gone.join(", ")),
            )
            .into())
        }
    }
}

pub async fn create_trigger(
    store: &Store,
    org: &OrgId,
    device_type: &DeviceTypeId,
    input: &TriggerInput,
) -> Result<Trigger> {
    let fields = check_trigger(store, org, device_type, input, None).await?;
    let webhooks = match &input.webhook_ids {
        Some(ids) => Some(check_webhook_ids(store, org, ids).await?),
        None => None,
    };
    let trigger = store.create_trigger(org, device_type, &fields).await?;
    if trigger.kind == TriggerKind::NoData {
        store.sync_offline_watches(org, &trigger.id).await?;
    }
    match webhooks {
        Some(ids) => {
            write_webhooks(store, org, &trigger.id, &ids).await?;
            Ok(store.trigger(org, &trigger.id).await?)
        }
        None => Ok(trigger),
    }
}

pub async fn update_trigger(
    store: &Store,
    org: &OrgId,
    id: &TriggerId,
    input: &TriggerInput,
) -> Result<Trigger> {
    let current = store.trigger(org, id).await?;
    let fields = check_trigger(store, org, &current.device_type_id, input, Some(&current)).await?;
    let webhooks = match &input.webhook_ids {
        Some(ids) => Some(check_webhook_ids(store, org, ids).await?),
        None => None,
    };
    store.update_trigger(org, id, &fields).await?;
    if fields.condition != current.condition || fields.for_seconds != current.for_seconds {
        // A clock started under the old rule is not evidence for the new one.
        store.stop_trigger_timers(org, id).await?;
    }
    if fields.kind == TriggerKind::NoData
        && (fields.silent_for_seconds != current.silent_for_seconds
            || fields.message_type_id != current.message_type_id
            || fields.enabled != current.enabled)
    {
        // What a device must send, or for how long, changed: every device counts from now.
        store.sync_offline_watches(org, id).await?;
    }
    if let Some(ids) = webhooks {
        write_webhooks(store, org, id, &ids).await?;
    }
    Ok(store.trigger(org, id).await?)
}
