//! `BIOTZ_MQTT_URL` and its companions, checked at start like every other setting.

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct MqttArgs {
    /// Ingest device messages from this MQTT broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT] or
    /// mqtts://… (TLS, verified)
    #[arg(long, env = "BIOTZ_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<String>,
    /// The broker user, when not in the URL
    #[arg(long, env = "BIOTZ_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// The broker password, when not in the URL
    #[arg(long, env = "BIOTZ_MQTT_PASSWORD", hide_env_values = true)]
    pub mqtt_password: Option<String>,
    /// This node's MQTT client id, the same across restarts so its session (and the messages
    /// it had not acknowledged) survives them; default biotz-<host name>-<listen port>
    #[arg(long, env = "BIOTZ_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
}

/// Where and how to reach the broker. The password never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
}

impl std::fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("client_id", &self.client_id)
            .finish()
    }
}

const URL_SETTING: &str = "BIOTZ_MQTT_URL (--mqtt-url)";

/// The settings, or `None` without `BIOTZ_MQTT_URL`; each problem as `(setting, message)`.
pub fn parse(args: &MqttArgs, listen_port: u16) -> Result<Option<MqttSettings>, Vec<String>> {
    let Some(text) = args
        .mqtt_url
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let url = match parse_url(text) {
        Ok(url) => Some(url),
        Err(message) => {
            problems.push(format!("{URL_SETTING}: {message}"));
            None
        }
    };
    let client_id = match &args.mqtt_client_id {
        Some(id) => parse_client_id(id)
            .map_err(|m| problems.push(format!("BIOTZ_MQTT_CLIENT_ID (--mqtt-client-id): {m}")))
            .ok(),
        None => Some(default_client_id(listen_port)),
    };
    let (Some((host, port, tls, url_user, url_password)), Some(client_id)) = (url, client_id)
    else {
        return Err(problems);
    };
    let username = match (url_user, &args.mqtt_username) {
        (Some(_), Some(_)) => {
            problems.push(
                "BIOTZ_MQTT_USERNAME (--mqtt-username): the URL already names a user; \
                 give it in one place only"
                    .into(),
            );
            None
        }
        (from_url, from_var) => from_url.or_else(|| from_var.clone()),
    };
    let password = match (url_password, &args.mqtt_password) {
        (Some(_), Some(_)) => {
            problems.push(
                "BIOTZ_MQTT_PASSWORD (--mqtt-password): the URL already has a password; \
                 give it in one place only"
                    .into(),
            );
            None
        }
        (from_url, from_var) => from_url.or_else(|| from_var.clone()),
    };
    if password.is_some() && username.is_none() {
        problems.push(
            "BIOTZ_MQTT_PASSWORD (--mqtt-password): a password needs a user; \
             set BIOTZ_MQTT_USERNAME or write mqtt://USER:PASSWORD@HOST"
                .into(),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(MqttSettings {
        host,
        port,
        tls,
        username,
        password,
        client_id,
    }))
}

type ParsedUrl = (String, u16, bool, Option<String>, Option<String>);

fn parse_url(text: &str) -> Result<ParsedUrl, String> {
    let example =
        "such as mqtt://biotz:PASSWORD@broker.example.com:1883 or mqtts://broker.example.com";
    let url = url::Url::parse(text).map_err(|_| format!("not a URL; write one {example}"))?;
    let tls = match url.scheme() {
        "mqtt" => false,
        "mqtts" => true,
        other => {
            return Err(format!(
                "the scheme {other}:// is not supported; use mqtt:// or mqtts://, {example}"
            ));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("the URL has no host; write one {example}"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "the URL must not have a path, query or fragment (the topics are fixed); write one {example}"
        ));
    }
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "the user or password in the URL is not UTF-8 once decoded".to_owned())
    };
    let user = match url.username() {
        "" => None,
        name => Some(decode(name)?),
    };
    let password = url.password().map(decode).transpose()?;
    Ok((host, port, tls, user, password))
}

fn parse_client_id(text: &str) -> Result<String, String> {
    let id = text.trim();
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "'{text}' is not a client id; use 1–64 letters, digits, '-', '_' or '.', different on each node, such as biotz-node-1"
        ));
    }
    Ok(id.to_owned())
}

/// `biotz-<host name>-<port>`: stable across restarts, different for two nodes on one machine.
fn default_client_id(listen_port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let host = if host.is_empty() { "node".into() } else { host };
    format!("biotz-{host}-{listen_port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> MqttArgs {
        MqttArgs {
            mqtt_url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn broker_urls() {
        assert_eq!(parse(&MqttArgs::default(), 8080), Ok(None));
        let plain = parse(&args("mqtt://broker:1884"), 8080).unwrap().unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls),
            ("broker", 1884, false)
        );
        assert!(plain.client_id.starts_with("biotz-") && plain.client_id.ends_with("-8080"));
        let secure = parse(&args("mqtts://biotz:p%40ss@broker"), 8080)
            .unwrap()
            .unwrap();
        assert_eq!((secure.port, secure.tls), (8883, true));
        assert_eq!(secure.username.as_deref(), Some("biotz"));
        assert_eq!(secure.password.as_deref(), Some("p@ss"));
        assert!(!format!("{secure:?}").contains("p@ss"));

        let problems = |a: &MqttArgs| parse(a, 8080).unwrap_err().join("\n");
        assert!(problems(&args("http://broker")).contains("use mqtt:// or mqtts://"));
        assert!(problems(&args("broker:1883")).contains("BIOTZ_MQTT_URL"));
        assert!(problems(&args("mqtt://broker/topic")).contains("path"));
        let mut both = args("mqtt://a:b@broker");
        both.mqtt_username = Some("c".into());
        assert!(problems(&both).contains("BIOTZ_MQTT_USERNAME"));
        let mut lonely = args("mqtt://broker");
        lonely.mqtt_password = Some("secret".into());
        assert!(problems(&lonely).contains("needs a user"));
        let mut named = args("mqtt://broker");
        named.mqtt_client_id = Some("no spaces please".into());
        assert!(problems(&named).contains("BIOTZ_MQTT_CLIENT_ID"));
    }
}
