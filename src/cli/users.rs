//! `portcullis user …`: users from the command line, e.g. the first administrator.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use serde_json::json;

use super::output::{self, or_dash};
use super::{cli_audit, open_store};
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::domain::{Email, Password, PersonName, Username};
use crate::store::{NewUser, PageRequest, StoreError, User};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (with --admin: an administrator, who manages tokens).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password; their sessions end.
    SetPassword {
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "active": user.active,
        "admin": user.admin,
        "dateCreated": rfc3339(user.date_created),
        "dateModified": rfc3339(user.date_modified),
        "dateLogged": user.date_logged.map(rfc3339),
    })
}

/// Reads a new password: from stdin with `--password-stdin`, else from the terminal (twice).
/// `None` when there is neither, so the caller decides whether a password is required.
fn read_password(from_stdin: bool) -> anyhow::Result<Option<Password>> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            anyhow::bail!("the two passwords differ");
        }
        first
    } else {
        return Ok(None);
    };
    Ok(Some(Password::parse(text)?))
}

pub async fn run(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    // Validate everything, and read the password, before touching the store.
    let store = open_store(settings).await?;
    let result = match command {
        UserCommand::Create {
            username,
            email,
            first_name,
            last_name,
            admin,
            password_stdin,
            json,
        } => {
            let mut new = NewUser {
                username: Username::parse(&username)?,
                email: Email::parse(&email)?,
                first_name: PersonName::parse("first-name", &first_name)?,
                last_name: PersonName::parse("last-name", &last_name)?,
                active: true,
                admin,
                password_hash: None,
            };
            if let Some(password) = read_password(password_stdin)? {
                new.password_hash = Some(crate::password::hash(password).await?);
            }
            let has_password = new.password_hash.is_some();
            let user = store.create_user(new, cli_audit()).await.map_err(|e| match e {
                StoreError::Conflict(what) => anyhow::anyhow!("{what}"),
                other => other.into(),
            })?;
            if json {
                output::json(&user_json(&user))
            } else {
                let role = if user.admin { "administrator" } else { "user" };
                println!("Created {role} {} (id {}).", user.username, user.id);
                if !has_password {
                    println!(
                        "No password is set; set one with: portcullis user set-password {}",
                        user.username
                    );
                }
                Ok(())
            }
        }
        UserCommand::List { json } => {
            let mut users = Vec::new();
            for page in 1.. {
                let (batch, total) = store.list_users(PageRequest { page, limit: 100 }).await?;
                users.extend(batch);
                if users.len() as u64 >= total || total == 0 {
                    break;
                }
            }
            if json {
                output::json(&users.iter().map(user_json).collect::<Vec<_>>())
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.username.clone(),
                            u.email.clone(),
                            if u.admin { "admin" } else { "user" }.into(),
                            if u.active { "active" } else { "inactive" }.into(),
                            or_dash(u.date_logged.map(rfc3339)),
                        ]
                    })
                    .collect();
                output::table(&["ID", "USERNAME", "EMAIL", "ROLE", "STATE", "LAST SIGN-IN"], &rows);
                Ok(())
            }
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let (user, _) = store.user_for_login(&username).await.map_err(|e| match e {
                StoreError::NotFound => anyhow::anyhow!("user {username} not found"),
                other => other.into(),
            })?;
            let password = read_password(password_stdin)?
                .ok_or_else(|| anyhow::anyhow!("no terminal to ask for the password: pass it with --password-stdin"))?;
            let hash = crate::password::hash(password).await?;
            store.set_password_hash(user.id, hash, cli_audit()).await?;
            println!("Password of {} changed; their sessions have ended.", user.username);
            Ok(())
        }
    };
    store.close().await;
    result
}
