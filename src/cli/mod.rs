//! The command line of DESIGN §5. Every global option also reads `PORTCULLIS_<NAME>`.

mod output;
mod tokens;
mod transfer;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Overrides, Settings};
use crate::store::{self, Actor, AuditContext};

/// Self-hosted API tokens: issue, verify and guard.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the embedded database and other state [default: ./portcullis-data].
    #[arg(long, global = true, env = "PORTCULLIS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://… (default, inside the data directory) or postgres://….
    #[arg(long, global = true, env = "PORTCULLIS_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// Log filter, e.g. info, debug or portcullis=trace [default: info].
    #[arg(long, global = true, env = "PORTCULLIS_LOG", value_name = "FILTER")]
    log: Option<String>,
    /// Log line format [default: text].
    #[arg(long, global = true, env = "PORTCULLIS_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "PORTCULLIS_LISTEN", value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1); reloaded on SIGHUP.
        #[arg(long, env = "PORTCULLIS_TLS_CERT", value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate.
        #[arg(long, env = "PORTCULLIS_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Threads serving requests [default: one per CPU core]. 1 serves everything from one
        /// thread without work stealing: the fastest setting for an instance given one core.
        #[arg(long, env = "PORTCULLIS_THREADS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: Option<u16>,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Manage users.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Apply database migrations.
    Migrate,
    /// Check the configuration and that the database answers.
    Check,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  portcullis completions bash > /etc/bash_completion.d/portcullis\n  portcullis completions zsh > \"${fpath[1]}/_portcullis\"\n  portcullis completions fish > ~/.config/fish/completions/portcullis.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from this command line definition.
    #[command(after_help = "Example:\n  portcullis man > /usr/local/share/man/man1/portcullis.1")]
    Man,
}

const EXAMPLES: &str = "Examples:
  portcullis user create --admin --username ada --email ada@example.com
  portcullis serve --listen 0.0.0.0:8080
  portcullis token create --name \"nightly export\" --access read --expires 90d
  portcullis token list --all --json
  portcullis token revoke 3
  PORTCULLIS_DATA_DIR=/var/lib/portcullis portcullis check";

/// Runs the command line; the error is printed by `main` as one line.
impl Cli {
    /// The async runtime the command runs on: `serve --threads 1` gets a current-thread
    /// runtime, any other count that many workers; every other command the default.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let threads = match self.command {
            Command::Serve { threads, .. } => threads,
            _ => None,
        };
        match threads {
            Some(1) => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            Some(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(usize::from(n))
                .enable_all()
                .build(),
            None => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let (listen, tls_cert, tls_key) = match &cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            ..
        } => (*listen, tls_cert.clone(), tls_key.clone()),
        _ => (None, None, None),
    };
    let overrides = Overrides {
        data_dir: cli.data_dir,
        database: cli.database,
        listen,
        log: cli.log,
        log_format: cli.log_format,
        tls_cert,
        tls_key,
    };
    // These two need no configuration: they describe the command line itself.
    match &cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into a buffer first: the generator panics on write errors such as a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "portcullis", &mut script);
            return write_stdout(&script);
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            return write_stdout(&page);
        }
        _ => {}
    }
    let settings = Settings::load(cli.config.as_deref(), overrides)?;
    match cli.command {
        Command::Serve { .. } => {
            crate::telemetry::init(&settings.log, settings.log_format)?;
            crate::server::serve(settings).await
        }
        Command::Token(command) => tokens::run(command, &settings).await,
        Command::User(command) => users::run(command, &settings).await,
        Command::Migrate => {
            let store = store::open(&settings).await?;
            store.migrate().await.context("applying database migrations")?;
            store.close().await;
            println!("Database is up to date.");
            Ok(())
        }
        Command::Check => {
            let store = store::open(&settings).await?;
            store.ping().await.context("the database does not answer")?;
            store.close().await;
            println!(
                "Configuration is valid and the database answers ({}).",
                redact_url(&settings.database)
            );
            Ok(())
        }
        // Answered above, before any configuration is read.
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

/// Writes generated output; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Opens and migrates the store for a management command.
async fn open_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn store::Store>> {
    let store = store::open(settings).await?;
    store.migrate().await.context("applying database migrations")?;
    Ok(store)
}

/// The audit context of a CLI action.
fn cli_audit() -> AuditContext {
    AuditContext {
        actor: Actor::Cli,
        at: crate::clock::Clock::now(&crate::clock::SystemClock),
        client_ip: None,
    }
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/pc"),
            "postgres://app:***@db:5432/pc"
        );
        assert_eq!(
            redact_url("sqlite://./data/portcullis.db"),
            "sqlite://./data/portcullis.db"
        );
    }
}
