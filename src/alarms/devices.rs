//! Devices and their ingest tokens.

use crate::domain::device::parse_device_name;
use crate::domain::{DeviceId, DeviceTypeId, FieldErrors, OrgId, random};
use crate::error::Result;
use crate::store::{Device, Store, StoreError, token_hash};

pub const DEVICE_TOKEN_PREFIX: &str = "bdt_";

/// A new ingest token: `bdt_` + 256 random bits, and its hint for lists.
pub fn new_device_token() -> (String, String) {
    let token = format!("{DEVICE_TOKEN_PREFIX}{}", random::token());
    let hint = format!("{}…", &token[..DEVICE_TOKEN_PREFIX.len() + 4]);
    (token, hint)
}

/// Creates a device; returns it with its ingest token, which is shown once and stored hashed.
pub async fn create_device(
    store: &Store,
    org: &OrgId,
    name: &str,
    device_type: &str,
) -> Result<(Device, String)> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", parse_device_name(name));
    let device_type = DeviceTypeId::parse(device_type.trim());
    if device_type.is_none() {
        errors.add(
            "device_type_id",
            "Choose a device type (an id dty_… from Setup → Device Types).",
        );
    }
    let (Some(name), Some(device_type)) = (name, device_type) else {
        return Err(errors.into());
    };
    let (token, hint) = new_device_token();
    let device = store
        .create_device(org, &device_type, &name, &token_hash(&token), &hint)
        .await
        .map_err(|error| match error {
            // Another organization's device type reads exactly like one that exists nowhere.
            StoreError::NotFound => FieldErrors::one(
                "device_type_id",
                format!(
                    "Device type not found: {device_type}. Choose one from Setup → Device Types."
                ),
            )
            .into(),
            other => crate::error::Error::from(other),
        })?;
    Ok((device, token))
}

pub async fn rename_device(
    store: &Store,
    org: &OrgId,
    id: &DeviceId,
    name: &str,
) -> Result<Device> {
    let name = parse_device_name(name).map_err(|m| FieldErrors::one("name", m))?;
    Ok(store.rename_device(org, id, &name).await?)
}

/// Replaces the device's ingest token: the old one stops working at once.
pub async fn regenerate_token(store: &Store, org: &OrgId, id: &DeviceId) -> Result<String> {
    let (token, hint) = new_device_token();
    store
        .replace_device_token(org, id, &token_hash(&token), &hint)
        .await?;
    Ok(token)
}
