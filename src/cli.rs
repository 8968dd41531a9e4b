//! The command line: subcommands and options (clap derive).

use crate::collect::CollectorKind;
use clap::{Args, Parser, Subcommand};

/// htop for ports: a live socket monitor for the terminal.
///
/// Without a subcommand, opens the live view. Exit status: 0 on success, 2 on a usage
/// error, a bad query or config, or when the live view has no terminal.
#[derive(Debug, Parser)]
#[command(name = "sockscope", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where sockets come from: sock_diag netlink (Linux) or netstat2 (portable).
    #[arg(long, global = true, value_enum, default_value_t = CollectorKind::Auto)]
    pub collector: CollectorKind,

    /// Time between snapshots, 250ms..60s (default from the config: 1s).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,

    /// View at start: sockets, listeners, ports, processes, events.
    #[arg(long, value_parser = parse_view)]
    pub view: Option<crate::app::View>,

    /// Start with this filter, e.g. `:3000` or `state:listen proc:node`.
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,

    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// Configuration file instead of $XDG_CONFIG_HOME/sockscope/config.toml.
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::config::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration like 500ms or 2s"))?;
    crate::config::check_interval(d)
}

fn parse_view(s: &str) -> Result<crate::app::View, String> {
    crate::app::View::parse(s)
        .ok_or_else(|| format!("unknown view `{s}` (sockets, listeners, ports, processes, events)"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one snapshot: listeners by default, every socket with --all.
    ///
    /// Exit status: 0 on success (also when nothing matched), 2 on a bad query or error.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Filter, e.g. `:3000`, `state:listen,estab`, `proc:node`, `!udp` (terms are ANDed).
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Vec<String>,

    /// Every TCP and UDP socket, not only listeners.
    #[arg(short, long)]
    pub all: bool,

    /// JSON: one object with a `version` and a `sockets` array.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn list_takes_a_multi_word_query() {
        let cli =
            Cli::try_parse_from(["sockscope", "list", "--all", "state:listen", ":3000"]).unwrap();
        let Some(Command::List(args)) = cli.command else {
            panic!("not list")
        };
        assert!(args.all);
        assert_eq!(args.query, vec!["state:listen", ":3000"]);
        assert!(Cli::try_parse_from(["sockscope", "list", "--json", "--csv"]).is_err());
    }
}
