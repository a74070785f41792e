//! The events log: every event of an organization, newest first, with what made it (device and
//! trigger, for alarm events) and how its deliveries went.

use super::{Page, Paged, Store, StoreResult, on_db};
use crate::domain::time::Millis;
use crate::domain::{DeviceId, EventId, OrgId, TriggerId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventLogRow {
    pub id: EventId,
    pub event_type: String,
    pub created_at: Millis,
    pub device_id: Option<DeviceId>,
    pub device_name: Option<String>,
    pub trigger_id: Option<TriggerId>,
    pub trigger_name: Option<String>,
    pub succeeded: i64,
    pub failed: i64,
    pub waiting: i64,
    pub skipped: i64,
}

/// Which events the log shows; every part optional.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// Part of the device's name, any case.
    pub device_name: Option<String>,
    /// Part of the trigger's name, any case.
    pub trigger_name: Option<String>,
}

impl Store {
    pub async fn list_events(
        &self,
        org: &OrgId,
        filter: &EventFilter,
        page: &Page,
    ) -> StoreResult<Paged<EventLogRow>> {
        let rows: Vec<EventLogRow> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT e.id, e.type AS event_type, e.created_at, dv.id AS device_id, dv.name AS device_name,
                        t.id AS trigger_id, t.name AS trigger_name,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'succeeded') AS succeeded,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'failed') AS failed,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending') AS waiting,
                        (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'skipped') AS skipped
                 FROM events e LEFT JOIN alarms al ON al.id = e.alarm_id
                      LEFT JOIN devices dv ON dv.id = al.device_id
                      LEFT JOIN alarm_triggers t ON t.id = al.trigger_id
                 WHERE e.org_id = $1 AND e.id < $2
                   AND ($4 IS NULL OR e.type = $4)
                   AND ($5 IS NULL OR dv.name_key LIKE $5 ESCAPE '\\')
                   AND ($6 IS NULL OR t.name_key LIKE $6 ESCAPE '\\')
                 ORDER BY e.id DESC LIMIT $3",
            )
            .bind(org)
            .bind(page.before())
            .bind(page.fetch_limit())
            .bind(&filter.event_type)
            .bind(filter.device_name.as_deref().map(super::deliveries::contains_pattern))
            .bind(filter.trigger_name.as_deref().map(super::deliveries::contains_pattern))
            .fetch_all(pool)
            .await?
        });
        Ok(page.finish(rows, |e| e.id.as_str()))
    }
}
