//! Signed cookie values: `payload.tag`, the tag an HMAC-SHA256 over the cookie's name and payload
//! under a key derived from the master key, so a value cannot be forged or moved to another
//! cookie, and every node that shares the master key accepts it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::MasterKey;

pub struct CookieKey([u8; 32]);

impl CookieKey {
    pub fn derive(master: &MasterKey) -> Self {
        Self(master.derive("biotz cookie signing v1"))
    }

    fn mac(&self, name: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(name.as_bytes());
        mac.update(b"=");
        mac.update(payload.as_bytes());
        mac
    }

    pub fn sign(&self, name: &str, payload: &str) -> String {
        let tag = self.mac(name, payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The payload of a value this key signed for the cookie `name`.
    pub fn verify<'a>(&self, name: &str, value: &'a str) -> Option<&'a str> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(name, payload).verify_slice(&tag).ok()?;
        Some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_signed_by_the_key_for_the_cookie_verify() {
        let key = CookieKey::derive(&MasterKey::generate());
        let value = key.sign("flash", "-.hello");
        assert_eq!(key.verify("flash", &value), Some("-.hello"));
        assert_eq!(
            key.verify("csrf", &value),
            None,
            "bound to the cookie's name"
        );
        assert_eq!(key.verify("flash", &value.replace("hello", "hullo")), None);
        assert_eq!(key.verify("flash", "-.hello"), None);
        let other = CookieKey::derive(&MasterKey::generate());
        assert_eq!(other.verify("flash", &value), None);
    }
}
