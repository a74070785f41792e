//! What a user of an organization may do.

use std::fmt;

use serde::Serialize;

/// `admin` may do everything; `viewer` may read every page and list but change nothing, and
/// never sees a webhook secret, a device token or an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text.trim())
            .ok_or_else(|| format!("Choose the role admin or viewer (got '{text}')."))
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read from the `role` column, which a CHECK constraint keeps to the two names.
impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Role::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_parse_by_name_only() {
        assert_eq!(Role::parse("viewer"), Ok(Role::Viewer));
        assert_eq!(Role::parse(" admin "), Ok(Role::Admin));
        assert!(
            Role::parse("Admin")
                .unwrap_err()
                .contains("admin or viewer")
        );
        assert!(Role::parse("owner").is_err());
    }
}
