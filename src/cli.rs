//! The command line: subcommands and options (clap derive).

use crate::collect::CollectorKind;
use clap::{Args, Parser, Subcommand};

/// htop for ports: a live socket monitor for the terminal.
#[derive(Debug, Parser)]
#[command(name = "sockscope", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where sockets come from: sock_diag netlink (Linux) or netstat2 (portable).
    #[arg(long, global = true, value_enum, default_value_t = CollectorKind::Auto)]
    pub collector: CollectorKind,
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
