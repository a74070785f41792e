//! Account rules: email and password checks, argon2id hashing, and the token formats.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::validation::parse_name;
use crate::domain::{FieldErrors, random};
use crate::domain::{OrgId, Role};
use crate::store::{ApiToken, NewUser, Organization, Store, StoreResult, User, token_hash};

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 1024;
pub const API_TOKEN_PREFIX: &str = "biotz_";

/// A lower-cased email address: something@domain, at most 254 characters.
pub fn parse_email(text: &str) -> Result<String, String> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err("Enter an email address such as ada@example.com.".into())
    }
}

pub fn check_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < PASSWORD_MIN_CHARS {
        Err(format!(
            "Use at least {PASSWORD_MIN_CHARS} characters for the password."
        ))
    } else if length > PASSWORD_MAX_CHARS {
        Err(format!(
            "Use at most {PASSWORD_MAX_CHARS} characters for the password."
        ))
    } else {
        Ok(())
    }
}

pub fn parse_org_name(text: &str) -> Result<String, String> {
    parse_name(text, "organization", 100)
}

/// argon2id with the crate's default (OWASP-recommended) parameters and a random salt. Slow on
/// purpose: call it from a blocking thread.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))?;
    Ok(hash.to_string())
}

/// `hash_password` on a blocking thread, off the async workers.
pub async fn hash_password_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await?
}

/// `verify_password` on a blocking thread, off the async workers.
pub async fn verify_password_blocking(password: String, hash: String) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await?)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the email is unknown, so that a wrong email takes as long to
/// refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random::token()).expect("argon2 hashes a fresh token"))
}

/// A new API token: `biotz_` + 256 random bits. Returns (token, its hint for lists).
pub fn new_api_token() -> (String, String) {
    let token = format!("{API_TOKEN_PREFIX}{}", random::token());
    let hint = format!("{}…", &token[..API_TOKEN_PREFIX.len() + 4]);
    (token, hint)
}

/// What a new account needs, checked field by field.
pub struct AccountInput<'a> {
    pub org_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The password typed twice, where a form asks for it.
    pub confirm: Option<&'a str>,
}

pub struct CheckedAccount {
    pub org_name: String,
    pub email: String,
    pub password: String,
}

pub fn check_account(input: &AccountInput<'_>) -> Result<CheckedAccount, FieldErrors> {
    let mut errors = FieldErrors::new();
    let org_name = errors.check("organization", parse_org_name(input.org_name));
    let email = errors.check("email", parse_email(input.email));
    errors.check("password", check_password(input.password));
    if input
        .confirm
        .is_some_and(|confirm| confirm != input.password)
    {
        errors.add(
            "confirm",
            "The two passwords differ; type the same password twice.",
        );
    }
    errors.finish(|| CheckedAccount {
        org_name: org_name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        password: input.password.to_owned(),
    })
}

/// Creates a user (and the organization if new), hashing the password off the async threads.
pub async fn add_user(
    store: &Store,
    account: CheckedAccount,
    role: Role,
) -> anyhow::Result<StoreResult<(Organization, User, bool)>> {
    let hash = hash_password_blocking(account.password).await?;
    Ok(store
        .create_user(&NewUser {
            org_name: &account.org_name,
            email: &account.email,
            password_hash: &hash,
            role,
        })
        .await)
}

/// The user whose email and password these are, if any.
pub async fn authenticate(
    store: &Store,
    email: &str,
    password: &str,
) -> anyhow::Result<Option<User>> {
    let Ok(email) = parse_email(email) else {
        return Ok(None);
    };
    let found = store.credentials(&email).await?;
    let password = password.to_owned();
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, decoy_hash().to_owned()),
    };
    let valid = verify_password_blocking(password, hash).await?;
    Ok(user.filter(|_| valid))
}

pub fn parse_token_name(text: &str) -> Result<String, String> {
    parse_name(text, "token", 100)
}

/// Creates an API token for the organization under an already checked name; returns the stored
/// row and the token itself, which is shown once and never stored.
pub async fn create_api_token(
    store: &Store,
    org: &OrgId,
    name: &str,
) -> StoreResult<(ApiToken, String)> {
    let (token, hint) = new_api_token();
    let row = store
        .create_api_token(org, name, &token_hash(&token), &hint)
        .await?;
    Ok((row, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            parse_email(" Ada@Example.COM "),
            Ok("ada@example.com".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "ada@example.com.",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn account_errors_name_each_field() {
        let errors = check_account(&AccountInput {
            org_name: " ",
            email: "nope",
            password: "short",
            confirm: Some("other"),
        })
        .err()
        .unwrap();
        for field in ["organization", "email", "password", "confirm"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn api_tokens_are_long_and_hinted() {
        let (token, hint) = new_api_token();
        assert!(token.starts_with("biotz_"));
        assert_eq!(token.len(), 6 + 43);
        assert!(token.starts_with(hint.trim_end_matches('…')));
    }
}
