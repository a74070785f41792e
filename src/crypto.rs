//! Encryption of webhook secrets at rest under the master key (XChaCha20-Poly1305).
//!
//! A sealed value is `nonce (24 bytes) || ciphertext+tag`. The row's id is the associated data,
//! so a sealed secret copied onto another row does not open.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};

use crate::domain::random;

const NONCE_LEN: usize = 24;

/// The 32-byte key that encrypts webhook secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "BIOTZ_MASTER_KEY must be 64 hexadecimal digits (32 bytes); got {0} characters. \
         Make one with `openssl rand -hex 32`."
    )]
    Malformed(usize),
    #[error("the master key file {path} could not be read or created: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error(
    "a stored secret could not be decrypted: the master key differs from the one it was \
     encrypted with, or the row was altered"
)]
pub struct OpenError;

impl MasterKey {
    pub fn parse_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let mut key = [0u8; 32];
        hex::decode_to_slice(text, &mut key).map_err(|_| KeyError::Malformed(text.len()))?;
        Ok(Self(key))
    }

    pub fn generate() -> Self {
        Self(random::bytes())
    }

    /// Reads the key file, or makes one (mode 0600) if there is none yet.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let file_error = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_hex(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(file_error)?;
                writeln!(file, "{}", hex::encode(key.0)).map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                Ok(key)
            }
            Err(error) => Err(file_error(error)),
        }
    }

    /// A key for another purpose, derived as HMAC-SHA256(master key, `purpose`): knowing it
    /// reveals nothing of the master key or of keys for other purposes.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, KeyInit as _, Mac};
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    pub fn seal(&self, plaintext: &[u8], associated: &str) -> Vec<u8> {
        let nonce = XNonce::from(random::bytes::<NONCE_LEN>());
        let payload = Payload {
            msg: plaintext,
            aad: associated.as_bytes(),
        };
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 encrypts any message this small");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], associated: &str) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
        let payload = Payload {
            msg: ciphertext,
            aad: associated.as_bytes(),
        };
        self.cipher()
            .decrypt(&nonce, payload)
            .map_err(|_| OpenError)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_row() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"whsec_abc", "whk_1");
        assert_ne!(&sealed[NONCE_LEN..], b"whsec_abc");
        assert_eq!(key.open(&sealed, "whk_1").unwrap(), b"whsec_abc");
        assert!(key.open(&sealed, "whk_2").is_err());
        assert!(MasterKey::generate().open(&sealed, "whk_1").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered, "whk_1").is_err());
        assert!(key.open(&sealed[..10], "whk_1").is_err());
        assert_ne!(
            key.seal(b"whsec_abc", "whk_1"),
            sealed,
            "a fresh nonce every time"
        );
    }

    #[test]
    fn parses_64_hex_digits_only() {
        assert!(MasterKey::parse_hex(&"ab".repeat(32)).is_ok());
        let error = MasterKey::parse_hex("abc").unwrap_err().to_string();
        assert!(error.contains("64 hexadecimal digits"), "{error}");
        assert!(MasterKey::parse_hex(&"zz".repeat(32)).is_err());
        assert_eq!(
            format!("{:?}", MasterKey::generate()),
            "MasterKey(redacted)"
        );
    }

    #[test]
    fn key_file_is_made_once_with_mode_0600() {
        let dir =
            std::env::temp_dir().join(format!("biotz-key-{}", crate::domain::random::token()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("biotz.key");
        let made = MasterKey::load_or_create(&path).unwrap();
        let read = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(made.0, read.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
