//! Typed, prefixed identifiers (`whk_01jdq…`): a ULID after a prefix that names the kind of row.
//! ULIDs sort by creation time, so "newest first" and cursors are an ordering on the id alone.

use std::fmt;

/// An id type that can be read back from text (a URL path, a form field).
pub trait PrefixedId: Sized {
    fn parse_id(text: &str) -> Option<Self>;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id, unique and ordered by creation time.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::generate().to_string().to_ascii_lowercase()))
            }

            /// Accepts an id of this kind as found in a URL or a request body; anything else
            /// is `None`, which callers answer with 404 as for an id that does not exist.
            pub fn parse(text: &str) -> Option<Self> {
                let rest = text.strip_prefix($prefix)?.strip_prefix('_')?;
                let well_formed = rest.len() == 26 && rest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
                well_formed.then(|| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl PrefixedId for $name {
            fn parse_id(text: &str) -> Option<Self> {
                Self::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("not a {} id: expected {}_ followed by 26 characters", stringify!($name), $prefix))
                })
            }
        }
    )*};
}

ids! {
    OrgId = "org";
    UserId = "usr";
    TokenId = "tok";
    WebhookId = "whk";
    SecretId = "wsk";
    DeviceTypeId = "dty";
    MessageTypeId = "mty";
    DeviceId = "dev";
    MessageId = "msg";
    TriggerId = "trg";
    AlarmId = "alm";
    EventId = "evt";
    DeliveryId = "dlv";
    AttemptId = "att";
    HistoryId = "ahs";
    RejectedId = "rej";
    InvitationId = "inv";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_parse_back() {
        let id = WebhookId::generate();
        assert!(id.as_str().starts_with("whk_"));
        assert_eq!(id.as_str().len(), 30);
        assert_eq!(WebhookId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(DeviceId::parse(id.as_str()), None);
        assert_eq!(WebhookId::parse("whk_"), None);
        assert_eq!(WebhookId::parse("whk_../../etc/passwd00000000000"), None);
        assert_eq!(WebhookId::parse(&id.as_str().to_uppercase()), None);
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let first = EventId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = EventId::generate();
        assert!(first < second);
    }
}
