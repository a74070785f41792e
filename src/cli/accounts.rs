//! `biotz user add` and `biotz token add`, for automation.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::accounts::{self, AccountInput};
use crate::config::{DatabaseArgs, DatabaseSettings};
use crate::domain::Role;
use crate::startup::open_store;
use crate::store::StoreError;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (and the organization if new); the password is read from stdin
    Add {
        #[arg(long)]
        email: String,
        /// The organization's name; created if no organization has it yet
        #[arg(long)]
        org: String,
        /// The user's role: admin (may change everything) or viewer (may read everything,
        /// change nothing, reveal no secret)
        #[arg(long, default_value = "admin", value_parser = Role::parse)]
        role: Role,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for an organization; the token is printed alone on the last line
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run_user(command: UserCommand) -> anyhow::Result<i32> {
    let UserCommand::Add {
        email,
        org,
        role,
        database,
    } = command;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let account = accounts::check_account(&AccountInput {
        org_name: &org,
        email: &email,
        password,
        confirm: None,
    })
    .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let store = open_store(&DatabaseSettings::from_args(&database)?).await?;
    let result = accounts::add_user(&store, account, role).await?;
    store.close().await;
    match result {
        Ok((org, user, created)) => {
            let org_note = if created { " (new organization)" } else { "" };
            println!(
                "created user {} ({}, {}) in organization {} ({}){org_note}",
                user.email, user.id, user.role, org.name, org.id
            );
            Ok(0)
        }
        Err(StoreError::Conflict { message, .. }) => bail!("{email}: {message}"),
        Err(error) => Err(error.into()),
    }
}

pub async fn run_token(command: TokenCommand) -> anyhow::Result<i32> {
    let TokenCommand::Add {
        org,
        name,
        database,
    } = command;
    let name = accounts::parse_token_name(&name).map_err(|m| anyhow::anyhow!("--name: {m}"))?;
    let store = open_store(&DatabaseSettings::from_args(&database)?).await?;
    let Some(organization) = store.organization_by_name(&org).await? else {
        store.close().await;
        bail!(
            "--org: no organization is named '{org}'; create it with `biotz user add --org '{org}' …` first"
        );
    };
    let created = accounts::create_api_token(&store, &organization.id, &name).await;
    store.close().await;
    match created {
        Ok((row, token)) => {
            println!(
                "created API token {} ({}) for organization {}",
                row.name, row.id, organization.name
            );
            println!("{token}");
            Ok(0)
        }
        Err(StoreError::Conflict { message, .. }) => bail!("--name: {message}"),
        Err(error) => Err(error.into()),
    }
}
