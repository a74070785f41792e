//! Input errors that name the field, the rule and what to do. The API answers them as
//! `{"error": {"code": "validation_failed", "fields": {…}}}`; forms show each beside its field.

use std::collections::BTreeMap;
use std::fmt;

/// Field name → what is wrong with it and what to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records the first problem found for a field; later ones for the same field are dropped
    /// so the user sees one clear message per field.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Adds every error of `other` (a field's first error wins).
    pub fn extend(&mut self, other: FieldErrors) {
        for (field, message) in other.0 {
            self.add(&field, message);
        }
    }

    /// Takes the value out of `result`, recording its error under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, message) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// A display name: trimmed, 1 to `max` characters, no control characters.
pub fn parse_name(text: &str, what: &str, max: usize) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err(format!("Enter a name for the {what}."));
    }
    let length = name.chars().count();
    if length > max {
        return Err(format!(
            "Use at most {max} characters for the {what}'s name (this one has {length})."
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("Remove the line breaks and other control characters from the name.".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_message_per_field() {
        let mut errors = FieldErrors::new();
        errors.add("url", "first");
        errors.add("url", "second");
        errors.add("name", "bad");
        assert_eq!(errors.get("url"), Some("first"));
        assert_eq!(errors.to_string(), "name: bad; url: first");
        assert!(errors.finish(|| ()).is_err());
        assert_eq!(FieldErrors::new().finish(|| 5), Ok(5));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Ops  ", "webhook", 100), Ok("Ops".into()));
        assert!(
            parse_name("   ", "webhook", 100)
                .unwrap_err()
                .contains("Enter a name")
        );
        assert!(
            parse_name(&"é".repeat(101), "webhook", 100)
                .unwrap_err()
                .contains("at most 100")
        );
        assert!(parse_name(&"é".repeat(100), "webhook", 100).is_ok());
        assert!(parse_name("a\nb", "webhook", 100).is_err());
    }
}
