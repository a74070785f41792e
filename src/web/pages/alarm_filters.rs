//! The Alarms list's filter form: state, severity, device type and device, as `<select>`s
//! that submit with GET, so a filtered list is a link.

use crate::alarms::lifecycle::ALARM_STATES;
use crate::domain::alarm::Severity;
use crate::store::{AlarmFilter, Page};
use crate::web::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{SignedIn, urlencode};
use crate::web::pages::device_types::{Choice, all_device_types};

/// How many devices the device filter offers.
const DEVICE_CHOICES: i64 = 200;

pub struct Filters {
    pub states: Vec<Choice>,
    pub severities: Vec<Choice>,
    pub device_types: Vec<Choice>,
    pub devices: Vec<Choice>,
    /// No filter is set: the page shows the overview.
    pub none_set: bool,
    /// The filters as a query string, for the pager's links.
    pub query: String,
}

impl Filters {
    pub async fn build(state: &AppState, user: &SignedIn, filter: &AlarmFilter) -> AppResult<Self> {
        let any = ("", "any");
        let chosen_state = filter.state.as_deref().unwrap_or_default();
        let states: Vec<(&str, &str)> = std::iter::once(any)
            .chain(ALARM_STATES.iter().map(|s| (*s, *s)))
            .collect();
        let chosen_severity = filter.severity.as_deref().unwrap_or_default();
        let severities: Vec<(&str, &str)> = std::iter::once(any)
            .chain(Severity::ALL.iter().map(|s| (s.as_str(), s.as_str())))
            .collect();
        let types = all_device_types(&state.store, user).await?;
        let chosen_type = filter
            .device_type
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default();
        let type_pairs: Vec<(String, String)> = types
            .iter()
            .map(|t| (t.id.to_string(), t.name.clone()))
            .collect();
        let devices = state
            .store
            .list_devices(
                user.org(),
                filter.device_type.as_ref(),
                &Page::first(DEVICE_CHOICES),
            )
            .await?
            .data;
        let chosen_device = filter
            .device
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let device_pairs: Vec<(String, String)> = devices
            .iter()
            .map(|d| (d.id.to_string(), d.name.clone()))
            .collect();
        let with_any = |pairs: &[(String, String)], chosen: &str| {
            let mut list = vec![(String::new(), "any".to_owned())];
            list.extend(pairs.iter().cloned());
            let borrowed: Vec<(&str, &str)> =
                list.iter().map(|(v, l)| (v.as_str(), l.as_str())).collect();
            Choice::list(&borrowed, chosen)
        };
        let query = [
            ("state", chosen_state),
            ("severity", chosen_severity),
            ("device_type_id", chosen_type.as_str()),
            ("device_id", chosen_device.as_str()),
        ]
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&");
        Ok(Self {
            states: Choice::list(&states, chosen_state),
            severities: Choice::list(&severities, chosen_severity),
            device_types: with_any(&type_pairs, &chosen_type),
            devices: with_any(&device_pairs, &chosen_device),
            none_set: query.is_empty(),
            query,
        })
    }
}
