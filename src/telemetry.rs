//! Logging setup. Logs go to stderr so that stdout stays for command output and the
//! listening line. No secret is ever a field of a log event (see `token::TokenSecret`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber with a filter such as `info` or `portcullis=trace`.
pub fn init(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter `{filter}`: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
