//! `portcullis token export` / `token import`: tokens' metadata as JSON Lines, to move tokens
//! between installations (e.g. from SQLite to PostgreSQL). Digests travel, secrets never do:
//! imported tokens keep working with the secrets their holders already have.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::{cli_audit, open_store};
use crate::auth::TokenRateLimit;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::config::Settings;
use crate::domain::{Access, Description, TokenName};
use crate::store::{CreatedBy, NewToken, PageRequest, TokenFilter, TokenRecord};
use crate::token::TokenDigest;

/// One exported token.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Exported {
    name: String,
    description: String,
    access: Access,
    hint: String,
    /// SHA-256 of the secret, lowercase hex.
    digest: String,
    created_at: String,
    created_by: Option<CreatedBy>,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    /// Absent in exports made before per-token rate limits: the defaults.
    #[serde(default)]
    rate_limit: TokenRateLimit,
    /// Absent in older exports: anywhere.
    #[serde(default)]
    allowed_ips: Option<Vec<String>>,
}

impl From<&TokenRecord> for Exported {
    fn from(token: &TokenRecord) -> Self {
        Self {
            name: token.name.clone(),
            description: token.description.clone(),
            access: token.access,
            hint: token.hint.clone(),
            digest: token.digest.to_hex(),
            created_at: rfc3339(token.created_at),
            created_by: token.created_by.clone(),
            expires_at: token.expires_at.map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
            rate_limit: token.rate_limit,
            allowed_ips: token.allowed_ips.as_ref().map(crate::auth::Allowlist::entries),
        }
    }
}

/// A progress bar on stderr; hidden when stderr is not a terminal.
fn progress(length: u64, verb: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(&format!("{verb} {{pos}}/{{len}} tokens [{{bar:40}}] {{eta}}")) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Writes every token (revoked and expired ones too) to `output` or stdout.
pub async fn export(settings: &Settings, output: Option<PathBuf>) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let mut writer: Box<dyn Write> = match &output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let (_, total) = store
        .list_tokens(TokenFilter::All, PageRequest { page: 1, limit: 1 })
        .await?;
    let bar = progress(total, "Exporting");
    let mut written = 0u64;
    for page in 1.. {
        let (batch, _) = store
            .list_tokens(TokenFilter::All, PageRequest { page, limit: 100 })
            .await?;
        if batch.is_empty() {
            break;
        }
        for token in &batch {
            serde_json::to_writer(&mut writer, &Exported::from(token))?;
            writer.write_all(b"\n")?;
            written += 1;
            bar.inc(1);
        }
    }
    writer.flush()?;
    bar.finish_and_clear();
    store.close().await;
    if output.is_some() {
        eprintln!("Exported {written} tokens.");
    }
    Ok(())
}

/// Tokens written per transaction by `token import`.
const IMPORT_BATCH: usize = 1000;

/// Reads every line first (a bad line aborts before anything is written), then imports;
/// tokens whose digest already exists are skipped, so an interrupted import can be rerun.
pub async fn import(settings: &Settings, input: Option<PathBuf>) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = match &input {
        Some(path) => Box::new(BufReader::new(std::fs::File::open(path)?)),
        None => Box::new(BufReader::new(std::io::stdin().lock())),
    };
    let mut tokens = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = parse_line(&line).map_err(|e| anyhow::anyhow!("line {}: {e}", index + 1))?;
        tokens.push(parsed);
    }
    let store = open_store(settings).await?;
    let bar = progress(tokens.len() as u64, "Importing");
    let (mut imported, mut skipped) = (0u64, 0u64);
    // A transaction per batch, not per token: a million tokens import in minutes, not hours.
    for batch in tokens.chunks(IMPORT_BATCH) {
        let added = store.import_tokens(batch, cli_audit()).await?;
        imported += added;
        skipped += batch.len() as u64 - added;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    store.close().await;
    eprintln!("Imported {imported} tokens; skipped {skipped} already present.");
    Ok(())
}

fn parse_line(line: &str) -> anyhow::Result<(NewToken, Option<i64>)> {
    let exported: Exported = serde_json::from_str(line)?;
    let time =
        |field: &str, text: &str| parse_rfc3339(text).ok_or_else(|| anyhow::anyhow!("{field}: not an RFC 3339 time"));
    let digest =
        TokenDigest::from_hex(&exported.digest).ok_or_else(|| anyhow::anyhow!("digest: 64 hex digits expected"))?;
    let token = NewToken {
        digest,
        hint: exported.hint,
        name: TokenName::parse(&exported.name)?,
        description: Description::parse(&exported.description)?,
        access: exported.access,
        created_by: exported.created_by,
        expires_at: exported
            .expires_at
            .as_deref()
            .map(|t| time("expiresAt", t))
            .transpose()?,
        rate_limit: exported.rate_limit,
        allowed_ips: exported
            .allowed_ips
            .as_deref()
            .map(crate::auth::Allowlist::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("allowedIps: {e}"))?,
    };
    time("createdAt", &exported.created_at)?;
    let revoked_at = exported
        .revoked_at
        .as_deref()
        .map(|t| time("revokedAt", t))
        .transpose()?;
    Ok((token, revoked_at))
}
