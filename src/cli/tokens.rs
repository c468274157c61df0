//! `portcullis token …`: API tokens from the command line of the server's machine.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::output::{self, or_dash};
use super::{cli_audit, open_store};
use crate::auth::{Allowlist, TokenRateLimit};
use crate::clock::{Clock, SystemClock, rfc3339};
use crate::config::Settings;
use crate::domain::{Access, Description, TokenName};
use crate::http::TokenView;
use crate::issue::{self, TokenRequest};
use crate::store::{PageRequest, StoreError, TokenChanges, TokenFilter, TokenRecord};
use crate::token::TokenSecret;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create(CreateArgs),
    /// List tokens (active ones unless --all).
    List {
        /// Include revoked and expired tokens.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one token.
    Show {
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token; it is refused from the next request on.
    Revoke { id: i64 },
    /// Set a token's rate limit: default, off, or SHORT,LONG (requests per short and long window).
    RateLimit {
        id: i64,
        #[arg(value_parser = TokenRateLimit::parse, value_name = "default|off|SHORT,LONG")]
        limit: TokenRateLimit,
    },
    /// Disable a token: refused until enabled again.
    Disable { id: i64 },
    /// Enable a disabled token.
    Enable { id: i64 },
    /// Set the networks a token may be used from (CIDR, e.g. 10.0.0.0/8), or --anywhere.
    AllowIps {
        id: i64,
        #[arg(value_name = "CIDR", required_unless_present = "anywhere")]
        networks: Vec<String>,
        /// Remove the allowlist: usable from anywhere.
        #[arg(long, conflicts_with = "networks")]
        anywhere: bool,
    },
    /// Show a token's allowed and denied requests per hour (the last 30 days by default).
    /// A running server writes its counts every few seconds (`last_used_flush_interval`).
    Usage {
        id: i64,
        /// Hours to show, ending with the current one (1–720).
        #[arg(long, default_value_t = crate::http::usage::MAX_HOURS,
            value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::http::usage::MAX_HOURS)))]
        hours: u32,
        /// Print JSON (the shape of `GET /api/tokens/{id}/usage`).
        #[arg(long)]
        json: bool,
    },
    /// Give a token a new secret, printed once; the old secret stops working.
    Regenerate {
        id: i64,
        /// Keep the old secret working this long (e.g. 24h, 7d; at most 30d).
        #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
        grace: Option<std::time::Duration>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every token's metadata and digest (never a secret) as JSON Lines.
    #[command(
        after_help = "Example:\n  portcullis token export --output tokens.jsonl\n  portcullis --database postgres://… token import --input tokens.jsonl"
    )]
    Export {
        /// File to write [default: standard output].
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Read tokens written by `token export`; they keep working with their existing secrets.
    Import {
        /// File to read [default: standard input].
        #[arg(long, value_name = "FILE")]
        input: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name saying who or what uses the token.
    #[arg(long)]
    name: String,
    /// read (GET, HEAD, OPTIONS) or full (every method).
    #[arg(long, value_parser = parse_access)]
    access: Access,
    /// What the token is for.
    #[arg(long, default_value = "")]
    description: String,
    /// never, a duration (30d, 12h), a date (2027-06-01) or an RFC 3339 time.
    #[arg(long, default_value = "never")]
    expires: String,
    /// default (the [rate_limits] of the configuration), off, or SHORT,LONG: requests per
    /// short window (10 minutes by default) and per long window (24 hours by default).
    #[arg(long, value_parser = TokenRateLimit::parse, default_value = "default", value_name = "default|off|SHORT,LONG")]
    rate_limit: TokenRateLimit,
    /// A network (CIDR, e.g. 10.0.0.0/8) the token may be used from; repeat for more.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    allow_ip: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_grace(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .ok()
        .filter(|g| *g <= issue::MAX_GRACE)
        .ok_or_else(|| format!("`{text}` is not a grace period: a duration such as 24h or 7d, at most 30d"))
}

fn parse_access(text: &str) -> Result<Access, String> {
    Access::parse(text).ok_or_else(|| format!("`{text}` is not an access level: use read or full"))
}

fn view(token: TokenRecord) -> Value {
    serde_json::to_value(TokenView::new(token, SystemClock.now(), None)).unwrap_or_default()
}

/// Prints a token with its one-time secret.
fn print_secret(token: TokenRecord, secret: &TokenSecret, json: bool, verb: &str) -> anyhow::Result<()> {
    if json {
        let mut value = view(token);
        value["token"] = secret.expose().into();
        return output::json(&value);
    }
    println!(
        "Token {} {verb}: \"{}\" ({} access).",
        token.id, token.name, token.access
    );
    println!("Copy it now; it will not be shown again:\n\n    {}\n", secret.expose());
    Ok(())
}

fn not_found(id: i64) -> impl FnOnce(StoreError) -> anyhow::Error {
    move |error| match error {
        StoreError::NotFound => anyhow::anyhow!("token {id} not found"),
        other => other.into(),
    }
}

pub async fn run(command: TokenCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let now = SystemClock.now();
    let result = match command {
        TokenCommand::Create(args) => {
            let request = TokenRequest {
                name: TokenName::parse(&args.name)?,
                description: Description::parse(&args.description)?,
                access: args.access,
                expires_at: issue::parse_expiry(&args.expires, now).map_err(anyhow::Error::msg)?,
                rate_limit: args.rate_limit,
                allowed_ips: if args.allow_ip.is_empty() {
                    None
                } else {
                    Some(Allowlist::parse(&args.allow_ip).map_err(|e| anyhow::anyhow!("--allow-ip: {e}"))?)
                },
            };
            issue::check_lifetime(request.expires_at, now, settings.token_max_lifetime).map_err(anyhow::Error::msg)?;
            let (token, secret) =
                issue::issue_token(store.as_ref(), &settings.token_prefix, request, None, cli_audit()).await?;
            print_secret(token, &secret, args.json, "created")
        }
        TokenCommand::List { all, json } => {
            let filter = if all {
                TokenFilter::All
            } else {
                TokenFilter::ActiveAt(now)
            };
            let mut tokens = Vec::new();
            for page in 1.. {
                let (batch, total) = store.list_tokens(filter, PageRequest { page, limit: 100 }).await?;
                tokens.extend(batch);
                if tokens.len() as u64 >= total || total == 0 {
                    break;
                }
            }
            if json {
                output::json(&tokens.into_iter().map(view).collect::<Vec<_>>())
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .into_iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            t.access.to_string(),
                            t.hint.clone(),
                            t.status(now).as_str().to_owned(),
                            rfc3339(t.created_at),
                            or_dash(t.expires_at.map(rfc3339)),
                            or_dash(t.last_used_at.map(rfc3339)),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "ID",
                        "NAME",
                        "ACCESS",
                        "HINT",
                        "STATUS",
                        "CREATED",
                        "EXPIRES",
                        "LAST USED",
                    ],
                    &rows,
                );
                Ok(())
            }
        }
        TokenCommand::Show { id, json } => {
            let token = store.token(id).await.map_err(not_found(id))?;
            let value = view(token);
            if json {
                output::json(&value)
            } else {
                if let Value::Object(fields) = value {
                    for (key, value) in fields {
                        let text = match value {
                            Value::String(s) => s,
                            Value::Null => "-".into(),
                            Value::Object(o) => match o.get("username").and_then(Value::as_str) {
                                Some(username) => username.to_owned(),
                                None => Value::Object(o).to_string(),
                            },
                            other => other.to_string(),
                        };
                        println!("{key:<12} {text}");
                    }
                }
                Ok(())
            }
        }
        TokenCommand::Revoke { id } => {
            let token = store.revoke_token(id, cli_audit()).await.map_err(not_found(id))?;
            println!("Token {id} (\"{}\") is revoked.", token.name);
            Ok(())
        }
        TokenCommand::Usage { id, hours, json } => {
            store.token(id).await.map_err(not_found(id))?;
            let (from, to) = crate::http::usage::window(SystemClock.now(), hours);
            let rows = store.token_usage(id, from, to).await?;
            if json {
                return output::json(&crate::http::usage::UsageView::new(id, from, to, rows));
            }
            let (allowed, denied) = rows.iter().fold((0, 0), |(a, d), r| (a + r.allowed, d + r.denied));
            let mut table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| vec![rfc3339(r.hour), r.allowed.to_string(), r.denied.to_string()])
                .collect();
            table.push(vec![
                format!("total ({hours} h)"),
                allowed.to_string(),
                denied.to_string(),
            ]);
            output::table(&["HOUR (UTC)", "ALLOWED", "DENIED"], &table);
            Ok(())
        }
        TokenCommand::Disable { id } | TokenCommand::Enable { id } => {
            let disable = matches!(command, TokenCommand::Disable { .. });
            let token = store
                .set_token_disabled(id, disable, cli_audit())
                .await
                .map_err(not_found(id))?;
            let state = if disable { "disabled" } else { "enabled" };
            println!("Token {id} (\"{}\") is {state}.", token.name);
            Ok(())
        }
        TokenCommand::AllowIps { id, networks, anywhere } => {
            let allowed = if anywhere {
                None
            } else {
                Some(Allowlist::parse(&networks).map_err(anyhow::Error::msg)?)
            };
            let changes = TokenChanges {
                allowed_ips: Some(allowed.clone()),
                ..TokenChanges::default()
            };
            store
                .update_token(id, changes, cli_audit())
                .await
                .map_err(not_found(id))?;
            match allowed {
                Some(list) => println!("Token {id} may be used from {} only.", list.entries().join(", ")),
                None => println!("Token {id} may be used from anywhere."),
            }
            Ok(())
        }
        TokenCommand::RateLimit { id, limit } => {
            let changes = TokenChanges {
                rate_limit: Some(limit),
                ..TokenChanges::default()
            };
            store
                .update_token(id, changes, cli_audit())
                .await
                .map_err(not_found(id))?;
            let text = match limit {
                TokenRateLimit::Default => "the configured defaults".to_owned(),
                TokenRateLimit::Off => "no rate limit".to_owned(),
                TokenRateLimit::Custom { short, long } => {
                    format!("{short} requests per short window, {long} per long window")
                }
            };
            println!("Token {id} now has {text}.");
            Ok(())
        }
        TokenCommand::Regenerate { id, grace, json } => {
            let token = store.token(id).await.map_err(not_found(id))?;
            if token.status(now) != crate::store::TokenStatus::Active {
                anyhow::bail!("token {id} is {} and cannot be regenerated", token.status(now).as_str());
            }
            let (token, secret) =
                issue::reissue_token(store.as_ref(), &settings.token_prefix, id, grace, cli_audit()).await?;
            print_secret(token, &secret, json, "regenerated")
        }
        TokenCommand::Export { output } => super::transfer::export(settings, output).await,
        TokenCommand::Import { input } => super::transfer::import(settings, input).await,
    };
    store.close().await;
    result
}
