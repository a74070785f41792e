//! A webhook's custom headers (SPEC §2a): name/value pairs sent with every attempt, such as an
//! API key or Basic auth for a gateway in front of the receiver. Values are stored sealed under
//! the master key, shown masked once saved, and never logged.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldErrors;

pub const MAX_HEADERS: usize = 20;
pub const NAME_MAX_CHARS: usize = 64;
pub const VALUE_MAX_CHARS: usize = 1024;
/// How a saved value is shown: never the value itself.
pub const MASK: &str = "••••••••";

/// Names the request or its signature depend on, and hop-by-hop headers.
const REFUSED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// One header with its value in the clear: only in memory, on its way to be sealed or sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHeader {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for CustomHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomHeader({}: redacted)", self.name)
    }
}

/// A header as a client sends it: without a value, the saved value of that name is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderInput {
    pub name: String,
    pub value: Option<String>,
}

/// A header as read back: its name and the mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedHeader {
    pub name: String,
    pub value: &'static str,
}

/// The names of a webhook's headers, as stored beside the sealed values (one per line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderNames(pub Vec<String>);

impl HeaderNames {
    pub fn of(headers: &[CustomHeader]) -> Self {
        Self(headers.iter().map(|h| h.name.clone()).collect())
    }

    pub fn stored(&self) -> String {
        self.0.join("\n")
    }

    pub fn masked(&self) -> Vec<MaskedHeader> {
        self.0
            .iter()
            .map(|name| MaskedHeader {
                name: name.clone(),
                value: MASK,
            })
            .collect()
    }
}

/// Read from the `header_names` column (sqlx's `try_from` takes it through `TryFrom`).
impl From<String> for HeaderNames {
    fn from(text: String) -> Self {
        Self(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

impl Serialize for HeaderNames {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.masked().serialize(serializer)
    }
}

fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Enter the header's name, such as X-Api-Key.".into());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(format!(
            "Use a header name of at most {NAME_MAX_CHARS} characters."
        ));
    }
    let is_token = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !is_token {
        return Err(
            "A header name is letters, digits and - (no spaces, colons or other signs).".into(),
        );
    }
    let lower = name.to_ascii_lowercase();
    if REFUSED.contains(&lower.as_str()) || lower.starts_with("biotz-iot-") {
        return Err(format!(
            "{name} is set by the sender itself (the request or its signature depend on it); \
             choose another name."
        ));
    }
    Ok(name.to_owned())
}

fn check_value(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("Enter the header's value.".into());
    }
    if value == MASK {
        return Err("This is the mask of a saved value: leave the value out to keep it.".into());
    }
    if value.chars().count() > VALUE_MAX_CHARS {
        return Err(format!(
            "Use a header value of at most {VALUE_MAX_CHARS} characters."
        ));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(
            "A header value is printable ASCII on one line (no line breaks or control characters)."
                .into(),
        );
    }
    Ok(value.to_owned())
}

/// The headers to keep, checked field by field (`headers[2].name`…). A header sent without a
/// value keeps the value saved under that name in `saved`.
pub fn check_headers(
    inputs: &[HeaderInput],
    saved: &[CustomHeader],
) -> Result<Vec<CustomHeader>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if inputs.len() > MAX_HEADERS {
        errors.add(
            "headers",
            format!("Send at most {MAX_HEADERS} custom headers."),
        );
        return Err(errors);
    }
    let mut headers: Vec<CustomHeader> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let name = errors.check(&format!("headers[{i}].name"), check_name(&input.name));
        let value = match &input.value {
            Some(value) => errors.check(&format!("headers[{i}].value"), check_value(value)),
            None => {
                let kept = name.as_ref().and_then(|name| {
                    saved
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| h.value.clone())
                });
                if kept.is_none() && name.is_some() {
                    errors.add(
                        &format!("headers[{i}].value"),
                        "Enter the header's value (no value is saved under this name).",
                    );
                }
                kept
            }
        };
        if let Some(name) = &name
            && headers.iter().any(|h| h.name.eq_ignore_ascii_case(name))
        {
            errors.add(
                &format!("headers[{i}].name"),
                format!("{name} is listed twice; keep one."),
            );
            continue;
        }
        if let (Some(name), Some(value)) = (name, value) {
            headers.push(CustomHeader { name, value });
        }
    }
    errors.finish(|| headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, value: Option<&str>) -> HeaderInput {
        HeaderInput {
            name: name.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn headers_are_checked_and_a_missing_value_keeps_the_saved_one() {
        let saved = vec![CustomHeader {
            name: "X-Api-Key".into(),
            value: "k-123".into(),
        }];
        let kept = check_headers(
            &[
                input("x-api-key", None),
                input("Authorization", Some(" Basic dTpw ")),
            ],
            &saved,
        )
        .unwrap();
        assert_eq!(kept[0].value, "k-123");
        assert_eq!(kept[0].name, "x-api-key");
        assert_eq!(kept[1].value, "Basic dTpw");
        assert_eq!(
            format!("{:?}", kept[1]),
            "CustomHeader(Authorization: redacted)"
        );
    }

    #[test]
    fn names_and_values_that_would_break_the_request_are_refused() {
        let errors = check_headers(
            &[
                input("Content-Type", Some("text/plain")),
                input("Biotz-IoT-Signature", Some("x")),
                input("webhook-signature", Some("x")),
                input("X Bad", Some("x")),
                input("X-Line", Some("a\r\nInjected: 1")),
                input("X-New", None),
                input("X-Mask", Some(MASK)),
                input("X-Dup", Some("1")),
                input("x-dup", Some("2")),
            ],
            &[],
        )
        .unwrap_err();
        for field in [
            "headers[0].name",
            "headers[1].name",
            "headers[2].name",
            "headers[3].name",
            "headers[4].value",
            "headers[5].value",
            "headers[6].value",
            "headers[8].name",
        ] {
            assert!(errors.get(field).is_some(), "{field}: {errors}");
        }
        assert!(errors.get("headers[7].name").is_none());
        let many: Vec<HeaderInput> = (0..21)
            .map(|i| input(&format!("X-{i}"), Some("v")))
            .collect();
        assert!(
            check_headers(&many, &[])
                .unwrap_err()
                .get("headers")
                .is_some()
        );
    }

    #[test]
    fn names_are_stored_one_a_line_and_read_back_masked() {
        let names = HeaderNames::from("X-A\nX-B".to_owned());
        assert_eq!(names.stored(), "X-A\nX-B");
        assert_eq!(
            serde_json::to_value(&names).unwrap(),
            serde_json::json!([{"name": "X-A", "value": MASK}, {"name": "X-B", "value": MASK}])
        );
        assert_eq!(HeaderNames::from(String::new()), HeaderNames::default());
    }
}
