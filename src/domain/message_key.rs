//! A device's own id for a message, which makes resending it harmless (idempotency).

/// The longest message id a device may send, in characters.
pub const MESSAGE_KEY_MAX_CHARS: usize = 100;

/// How long a message id is remembered: a repeat within this window is a duplicate.
pub const MESSAGE_KEY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A device's message id, as sent in `"id"`, `Idempotency-Key` or the MQTT `message-id`
/// property: 1–100 characters, none of them control characters; compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey(String);

impl MessageKey {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err(
                "The message id is empty; leave it out, or send the device's own id for the message \
                 (1–100 characters)."
                    .into(),
            );
        }
        let length = text.chars().count();
        if length > MESSAGE_KEY_MAX_CHARS {
            return Err(format!(
                "The message id has {length} characters; use at most {MESSAGE_KEY_MAX_CHARS}."
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(
                "The message id contains a control character; use printable characters only."
                    .into(),
            );
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_one_to_a_hundred_printable_characters() {
        assert_eq!(MessageKey::parse("m-1").unwrap().as_str(), "m-1");
        assert!(MessageKey::parse(&"é".repeat(100)).is_ok());
        assert!(
            MessageKey::parse(&"x".repeat(101))
                .unwrap_err()
                .contains("at most 100")
        );
        assert!(MessageKey::parse("").unwrap_err().contains("empty"));
        assert!(MessageKey::parse("a\nb").unwrap_err().contains("control"));
    }
}
