//! What a webhook is made of, parsed at the boundary: its name, its callback URL, its secret.

use std::fmt;

use serde::Serialize;

use super::validation::parse_name;
use super::{FieldErrors, random};

pub const NAME_MAX_CHARS: usize = 100;
pub const URL_MAX_CHARS: usize = 2048;
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest a regenerated secret's predecessor may keep signing.
pub const MAX_SECRET_OVERLAP_SECS: i64 = 7 * 24 * 3600;

/// A webhook's name: 1–100 characters, unique per organization ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookName(String);

impl WebhookName {
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_name(text, "webhook", NAME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form compared for uniqueness and searched by name.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An absolute `https://` URL with a host, no user-info and no fragment, ≤ 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CallbackUrl(String);

impl CallbackUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("Enter the callback URL that will receive the events.".into());
        }
        if text.chars().count() > URL_MAX_CHARS {
            return Err(format!(
                "Use a callback URL of at most {URL_MAX_CHARS} characters."
            ));
        }
        let url = url::Url::parse(text).map_err(|_| {
            "Enter an absolute URL such as https://example.com/webhooks.".to_owned()
        })?;
        if url.scheme() != "https" {
            return Err("Webhooks only support HTTPS URLs.".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(
                "Enter a URL with a host name, such as https://example.com/webhooks.".into(),
            );
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "Remove the user name and password from the URL; the signature authenticates requests."
                    .into(),
            );
        }
        if url.fragment().is_some() {
            return Err("Remove the #fragment: it is never sent to the server.".into());
        }
        let normalized = url.to_string();
        if normalized.chars().count() > URL_MAX_CHARS {
            return Err(format!(
                "Use a callback URL of at most {URL_MAX_CHARS} characters."
            ));
        }
        Ok(Self(normalized))
    }

    /// A URL already validated when it was stored.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a webhook's requests are signed (SPEC §2a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signing {
    /// `Biotz-IoT-Signature: t=…,v1=<hex>`.
    Biotz,
    /// The Standard Webhooks v1 headers `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
}

impl Signing {
    pub const ALL: [Signing; 2] = [Signing::Biotz, Signing::Standard];

    pub fn as_str(self) -> &'static str {
        match self {
            Signing::Biotz => "biotz",
            Signing::Standard => "standard",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Signing::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| format!("Choose the signing scheme biotz or standard (got '{text}')."))
    }

    /// Whether `secret` can sign under this scheme: any can under `biotz`; under `standard`
    /// only one whose part after `whsec_` is standard base64.
    pub fn accepts_secret(self, secret: &WebhookSecret) -> bool {
        match self {
            Signing::Biotz => true,
            Signing::Standard => biotz_signature::standard::is_valid_secret(secret.expose()),
        }
    }
}

impl fmt::Display for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read from the `signing` column, which a CHECK constraint keeps to the two names.
impl TryFrom<String> for Signing {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Signing::parse(&text)
    }
}

/// Why a webhook whose secret predates the standard scheme cannot switch to it yet.
pub const SECRET_NOT_STANDARD: &str = "This webhook's secret was made before the standard scheme \
    existed and is not standard base64, which Standard Webhooks libraries need: regenerate the \
    secret, then choose standard.";

/// A signing secret as shown to the user: `whsec_` + 256 random bits in standard base64, as
/// the Standard Webhooks scheme reads it (secrets made before were URL-safe base64; they still
/// sign under `biotz`). Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn generate() -> Self {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(random::bytes::<32>());
        Self(format!("{SECRET_PREFIX}{key}"))
    }

    /// A secret read back from storage after decryption.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// How long the previous secret keeps signing after a regeneration: 0 to 7 days.
pub fn parse_overlap_secs(seconds: i64) -> Result<i64, String> {
    if (0..=MAX_SECRET_OVERLAP_SECS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!(
            "Choose an overlap between 0 and {MAX_SECRET_OVERLAP_SECS} seconds (7 days)."
        ))
    }
}

/// A webhook's fields, checked together so that every problem is reported at once; no
/// signing scheme means the default, `biotz`.
pub fn check_fields(
    name: &str,
    url: &str,
    signing: Option<&str>,
) -> Result<(WebhookName, CallbackUrl, Signing), FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", WebhookName::parse(name));
    let url = errors.check("url", CallbackUrl::parse(url));
    let signing = errors.check(
        "signing",
        signing.map_or(Ok(Signing::Biotz), Signing::parse),
    );
    match (name, url, signing) {
        (Some(name), Some(url), Some(signing)) if errors.is_empty() => Ok((name, url, signing)),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_urls_with_a_host() {
        let url = CallbackUrl::parse(" https://Example.com/hooks?x=1 ").unwrap();
        assert_eq!(url.as_str(), "https://example.com/hooks?x=1");
        assert!(CallbackUrl::parse("https://127.0.0.1:8443/").is_ok());
        assert!(CallbackUrl::parse("https://[::1]/in").is_ok());
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        let message = |text: &str| CallbackUrl::parse(text).unwrap_err();
        assert_eq!(
            message("http://example.com/hooks"),
            "Webhooks only support HTTPS URLs."
        );
        assert_eq!(
            message("ftp://example.com/"),
            "Webhooks only support HTTPS URLs."
        );
        assert!(message("").contains("Enter the callback URL"));
        assert!(message("example.com/hooks").contains("absolute URL"));
        assert!(message("/hooks").contains("absolute URL"));
        assert!(message("https://user:pw@example.com/").contains("user name and password"));
        assert!(message("https://user@example.com/").contains("user name and password"));
        assert!(message("https://example.com/#top").contains("fragment"));
        let long = format!("https://example.com/{}", "a".repeat(2030));
        assert!(message(&long).contains("at most 2048"));
        let just_fits = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(CallbackUrl::parse(&just_fits).unwrap().as_str().len(), 2048);
    }

    #[test]
    fn names_compare_without_case() {
        let name = WebhookName::parse("  Ops Pager ").unwrap();
        assert_eq!(name.as_str(), "Ops Pager");
        assert_eq!(name.key(), "ops pager");
        assert!(WebhookName::parse("").is_err());
        assert!(WebhookName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn secrets_have_256_random_bits_and_never_print() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(a.expose().len(), 6 + 44);
        assert_eq!(format!("{a:?}"), "WebhookSecret(redacted)");
        assert!(
            Signing::Standard.accepts_secret(&a),
            "new secrets decode as standard base64"
        );
        let older =
            WebhookSecret::from_stored("whsec_2AcXk3y7Fq0o9GdQmR5tLw8ZbN1vJhPe4s-iYxKcT6E".into());
        assert!(!Signing::Standard.accepts_secret(&older));
        assert!(Signing::Biotz.accepts_secret(&older));
    }

    #[test]
    fn signing_schemes_parse_by_name() {
        assert_eq!(Signing::parse("standard"), Ok(Signing::Standard));
        assert_eq!(Signing::parse(" biotz "), Ok(Signing::Biotz));
        assert!(
            Signing::parse("svix")
                .unwrap_err()
                .contains("biotz or standard")
        );
    }

    #[test]
    fn overlap_is_at_most_seven_days() {
        assert_eq!(parse_overlap_secs(0), Ok(0));
        assert_eq!(parse_overlap_secs(604_800), Ok(604_800));
        assert!(parse_overlap_secs(604_801).is_err());
        assert!(parse_overlap_secs(-1).is_err());
    }
}
