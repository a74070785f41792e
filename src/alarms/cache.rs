//! The lookups that every device message repeats (its device, its message type), kept in
//! bounded `moka` caches for a second: an edit made on another node shows within that second,
//! one made here at once (the functions that change a device or a device type drop what they
//! touched). What must be exact — that the device still has its token — is checked again by
//! the transaction that stores the message.

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::domain::{DeviceId, DeviceTypeId};
use crate::store::{Device, MessageType, Store, StoreError};

/// How long a device or message type found once is reused without asking the database.
const LOOKUP_TTL: Duration = Duration::from_secs(1);

/// One lookup: found values kept for a while, concurrent misses of a key loaded once, and
/// nothing kept for a key the database does not know (so a new device works at once).
pub struct Lookup<K, V> {
    found: Cache<K, V>,
}

/// Why a load kept nothing.
enum Miss {
    Absent,
    Failed(StoreError),
}

impl<K, V> Lookup<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            found: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
        }
    }

    /// The cached value, or `load`'s; every caller missing the same key meanwhile waits for
    /// this one load.
    pub async fn get_or_load(
        &self,
        key: K,
        load: impl Future<Output = Result<Option<V>, StoreError>>,
    ) -> Result<Option<V>, StoreError> {
        let loaded = self
            .found
            .try_get_with(key, async {
                match load.await {
                    Ok(Some(value)) => Ok(value),
                    Ok(None) => Err(Miss::Absent),
                    Err(error) => Err(Miss::Failed(error)),
                }
            })
            .await;
        match loaded {
            Ok(value) => Ok(Some(value)),
            Err(miss) => match Arc::try_unwrap(miss) {
                Ok(Miss::Absent) => Ok(None),
                Ok(Miss::Failed(error)) => Err(error),
                Err(shared) => match &*shared {
                    Miss::Absent => Ok(None),
                    Miss::Failed(error) => Err(shared_error(error)),
                },
            },
        }
    }

    /// Drops every entry `which` picks (applied to new reads at once).
    pub fn forget_if(&self, which: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        if let Err(error) = self.found.invalidate_entries_if(which) {
            // Only if the cache was built without invalidation closures: drop everything.
            tracing::warn!(%error, "dropping the whole lookup cache");
            self.found.invalidate_all();
        }
    }

    #[cfg(test)]
    async fn len(&self) -> u64 {
        self.found.run_pending_tasks().await;
        self.found.entry_count()
    }
}

/// The error a waiter that shared another caller's failed load gets: the same kind (so a
/// database that is away still reads as away), without the cause, which the loader logs.
fn shared_error(error: &StoreError) -> StoreError {
    if error.is_unavailable() {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    } else {
        StoreError::Database(sqlx::Error::Protocol(error.to_string()))
    }
}

/// The device of an ingest token (by the token's hash) and a device type's message types (by
/// name).
pub struct Lookups {
    devices: Lookup<String, Device>,
    message_types: Lookup<(DeviceTypeId, String), MessageType>,
}

impl Default for Lookups {
    fn default() -> Self {
        Self {
            devices: Lookup::new(100_000, LOOKUP_TTL),
            message_types: Lookup::new(10_000, LOOKUP_TTL),
        }
    }
}

impl Lookups {
    /// The device an ingest token belongs to.
    pub async fn device(
        &self,
        store: &Store,
        token_hash: &str,
    ) -> Result<Option<Device>, StoreError> {
        self.devices
            .get_or_load(token_hash.to_owned(), store.device_for_token(token_hash))
            .await
    }

    /// The device's type's message type called `name`.
    pub async fn message_type(
        &self,
        store: &Store,
        device: &Device,
        name: &str,
    ) -> Result<Option<MessageType>, StoreError> {
        let key = (device.device_type_id.clone(), name.to_owned());
        self.message_types
            .get_or_load(
                key,
                store.message_type_by_name(&device.org_id, &device.device_type_id, name),
            )
            .await
    }

    /// After the device's token changed or the device was deleted.
    pub fn forget_device(&self, id: &DeviceId) {
        let id = id.clone();
        self.devices.forget_if(move |_, device| device.id == id);
    }

    /// After a device type's message types changed or the device type was deleted.
    pub fn forget_device_type(&self, id: &DeviceTypeId) {
        let id = id.clone();
        self.message_types
            .forget_if(move |(device_type, _), _| *device_type == id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn counted(loads: &AtomicUsize, value: Option<u32>) -> Result<Option<u32>, StoreError> {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }

    #[tokio::test]
    async fn concurrent_misses_of_a_key_load_it_once() {
        const CALLERS: usize = 16;
        let lookup = Arc::new(Lookup::<String, u32>::new(100, Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        // The load finishes only once every caller has asked: on this single-threaded runtime
        // each caller runs into `get_or_load` as soon as it has counted itself.
        let (asked, asking) = tokio::sync::watch::channel(0);
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (lookup, loads, asked) = (lookup.clone(), loads.clone(), asked.clone());
                let mut everyone = asking.clone();
                tokio::spawn(async move {
                    asked.send_modify(|n| *n += 1);
                    let load = async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let _ = everyone.wait_for(|n| *n == CALLERS).await;
                        Ok(Some(7))
                    };
                    lookup.get_or_load("a".into(), load).await.unwrap()
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Some(7));
        }
        assert_eq!(*asking.borrow(), CALLERS);
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "one load for {CALLERS} misses"
        );
        let again = lookup.get_or_load("a".into(), counted(&loads, Some(8)));
        assert_eq!(again.await.unwrap(), Some(7), "then served from the cache");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn what_the_database_does_not_know_is_not_kept() {
        let lookup = Lookup::<String, u32>::new(100, Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let missing = lookup.get_or_load("new".into(), counted(&loads, None));
        assert_eq!(missing.await.unwrap(), None);
        let created = lookup.get_or_load("new".into(), counted(&loads, Some(1)));
        assert_eq!(created.await.unwrap(), Some(1));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_load_is_not_kept_and_keeps_its_kind() {
        let lookup = Lookup::<String, u32>::new(100, Duration::from_secs(60));
        let away = lookup
            .get_or_load("a".into(), async {
                Err(StoreError::Database(sqlx::Error::PoolTimedOut))
            })
            .await
            .unwrap_err();
        assert!(away.is_unavailable());
        let back = lookup.get_or_load("a".into(), async { Ok(Some(3)) });
        assert_eq!(back.await.unwrap(), Some(3));
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity() {
        let lookup = Lookup::<u32, u32>::new(50, Duration::from_secs(60));
        for key in 0..1_000 {
            lookup
                .get_or_load(key, async move { Ok(Some(key)) })
                .await
                .unwrap();
        }
        assert!(lookup.len().await <= 50, "{} entries", lookup.len().await);
    }

    #[tokio::test]
    async fn entries_expire_and_forgotten_ones_are_loaded_again() {
        let loads = AtomicUsize::new(0);
        let expiring = Lookup::<String, u32>::new(100, Duration::from_millis(1));
        expiring
            .get_or_load("a".into(), counted(&loads, Some(1)))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while loads.load(Ordering::SeqCst) < 2 {
            assert!(std::time::Instant::now() < deadline, "never expired");
            expiring
                .get_or_load("a".into(), counted(&loads, Some(2)))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2, "expired after its TTL");

        let lookup = Lookup::<(u32, String), u32>::new(100, Duration::from_secs(60));
        for (kind, name) in [(1, "a"), (1, "b"), (2, "a")] {
            lookup
                .get_or_load((kind, name.into()), async { Ok(Some(0)) })
                .await
                .unwrap();
        }
        lookup.forget_if(|(kind, _), _| *kind == 1);
        let reloaded = AtomicUsize::new(0);
        for (kind, name) in [(1, "a"), (1, "b"), (2, "a")] {
            lookup
                .get_or_load((kind, name.into()), counted(&reloaded, Some(1)))
                .await
                .unwrap();
        }
        assert_eq!(
            reloaded.load(Ordering::SeqCst),
            2,
            "only kind 1 was dropped"
        );
    }
}
