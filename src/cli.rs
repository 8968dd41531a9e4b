//! The command line: subcommands and options (clap derive).

use crate::collect::CollectorKind;
use crate::model::sanitize::quote;
use crate::model::signal::Sig;
use crate::model::time::{check_interval, check_timeout, parse_duration};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// htop for ports: a live socket monitor for the terminal.
///
/// Without a subcommand, opens the live view. Exit status: 0 on success, 2 on a usage
/// error, a bad query or config, or when the live view has no terminal.
#[derive(Debug, Parser)]
#[command(name = "sockscope", version = env!("SOCKSCOPE_VERSION"), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where sockets come from: sock_diag netlink (Linux) or netstat2 (portable).
    #[arg(long, global = true, value_enum, default_value_t = CollectorChoice::Auto)]
    pub collector: CollectorChoice,

    /// Time between snapshots, 250ms..60s (default from the config: 1s).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,

    /// CPU the live view, `watch` and `serve` may use, as a share of one core (e.g. 10%,
    /// the default, or from the config), or `off`: when a full snapshot costs more, the
    /// full table is read every few intervals and listeners (and the sockets of a
    /// filter by port or address) every interval.
    #[arg(long, global = true, value_name = "SHARE", value_parser = parse_budget)]
    pub budget: Option<crate::model::Budget>,

    /// View at start: sockets, listeners, ports, processes, events.
    #[arg(long, value_parser = parse_view)]
    pub view: Option<crate::app::View>,

    /// Start with this filter, e.g. `:3000` or `state:listen proc:node`.
    #[arg(long, value_name = "QUERY")]
    pub filter: Option<String>,

    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// Configuration file instead of $XDG_CONFIG_HOME/sockscope/config.toml. Every command
    /// but `info` refuses one that is missing, unreadable or invalid (exit 2; `info` reports
    /// it as a failed check); the live view, `watch`, `serve`, `mcp` and `info` read it,
    /// the other commands have no use for it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
}

/// `--collector`: where sockets come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CollectorChoice {
    /// sock_diag where available, else portable.
    #[default]
    Auto,
    /// Linux sock_diag netlink + /proc (full columns).
    Sockdiag,
    /// netstat2 + sysinfo (fewer columns: no queues, timers or UDP peers).
    Portable,
}

impl From<CollectorChoice> for CollectorKind {
    fn from(c: CollectorChoice) -> CollectorKind {
        match c {
            CollectorChoice::Auto => CollectorKind::Auto,
            CollectorChoice::Sockdiag => CollectorKind::Sockdiag,
            CollectorChoice::Portable => CollectorKind::Portable,
        }
    }
}

impl Cli {
    /// The collector the user chose.
    pub fn collector_kind(&self) -> CollectorKind {
        self.collector.into()
    }

    /// Whether the command reads the process table (and so keeps the read-only view's
    /// capabilities, when it was given them): all but `completions` and `man`.
    pub fn reads_processes(&self) -> bool {
        !matches!(
            self.command,
            Some(Command::Completions { .. } | Command::Man { .. })
        )
    }
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    check_interval(parse_duration(s)?)
}

fn parse_budget(s: &str) -> Result<crate::model::Budget, String> {
    crate::model::Budget::parse(s)
}

fn parse_view(s: &str) -> Result<crate::app::View, String> {
    crate::app::View::parse(s).ok_or_else(|| {
        format!(
            "unknown view `{}` (sockets, listeners, ports, processes, events)",
            quote(s)
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one snapshot: listeners by default, every socket with --all.
    ///
    /// Exit status: 0 on success (also when nothing matched), 2 on a bad query or error.
    List(ListArgs),

    /// Why can't I bind this port? The verdict, the evidence and the next step.
    ///
    /// Exit status: 0 when nothing holds the port (a plain bind succeeds), 1 when it is
    /// in use (including TIME-WAIT only), 2 on error.
    Why(WhyArgs),

    /// Send a signal to what holds a port (or to one pid), safely, and report whether the
    /// port was freed.
    ///
    /// Targets are pinned by pid, start time and a pidfd; pid 1, sockscope itself, its
    /// process group, kernel threads and thread ids are refused. Without --yes it asks on
    /// a terminal and refuses without one. A target that a supervisor (PM2, systemd, a
    /// container's restart policy, a reloader) will probably restart is named before; after
    /// the signal the port is watched, and a holder that comes back under the same
    /// supervisor, container or parent is reported with the command that stops it for
    /// good. Exit status: 0 when the port was freed (or only TIME-WAIT remains, or the pid
    /// exited), 1 when it is still held or was taken back, 2 on error or refusal.
    Kill(KillArgs),

    /// Wait until a plain bind of the port would succeed.
    ///
    /// Exit status: 0 when it would, 1 on timeout, 2 on error.
    WaitFree(WaitFreeArgs),

    /// Close sockets, as `ss -K` does: free a port held by TIME-WAIT, cut a stuck
    /// connection.
    ///
    /// The query (the `list` language) must name a port, pid, address or inode; an
    /// address matches exactly (`127.0.0.3` is not `127.0.0.35`) and other free words are
    /// refused. A selection of more than one process or more than 64 sockets needs
    /// `--many N` (N at least the count shown). Each socket is closed by its exact tuple
    /// and cookie from the snapshot; one that changed since is not touched. Listeners are
    /// never closed (the port would stay bound: stop the holder), UDP only when the query
    /// says `proto:udp`. The owner of a closed connection gets ECONNABORTED, its peer a
    /// RST. Needs root (CAP_NET_ADMIN). Without --yes it asks on a terminal. Exit status:
    /// 0 when every socket was closed, 1 when some remain, 2 on error or refusal.
    Close(CloseArgs),

    /// Serve Prometheus metrics over HTTP: /metrics, /healthz, and a landing page.
    ///
    /// Listens on 127.0.0.1 unless --listen says otherwise: process names, ports and
    /// container names are in the metrics. One snapshot per --interval is shared by every
    /// scrape. Ends with status 0 on SIGTERM, SIGINT or SIGHUP; 2 when it cannot start.
    Serve(ServeArgs),

    /// Print ports that are free right now, nearest to --near first.
    ///
    /// Free means a plain bind (no SO_REUSEADDR) works now on 0.0.0.0 and [::], and no
    /// socket holds the port in any state, TIME-WAIT included. Unprivileged ports outside
    /// the ephemeral range unless --range says otherwise. Racy: another process can take
    /// the port before yours does; when your program can report its port, bind port 0.
    /// Exit status: 0 when --count ports were found, 1 when fewer, 2 on error.
    FreePort(FreePortArgs),

    /// Wait until a TCP listener on the port is in the kernel's table.
    ///
    /// Reads the socket table; sends no traffic. With --addr, only a listener that takes
    /// connections to that address counts (its own address, the wildcard of its family,
    /// or a dual-stack [::]). Exit status: 0 once listening, 1 on timeout (saying what it
    /// saw), 2 on error.
    WaitListen(WaitListenArgs),

    /// Print socket events (opened, closed, state and owner changes) as they happen.
    ///
    /// One line per event, or NDJSON with --json. Stops on Ctrl-C, SIGTERM or after
    /// --count events. Exit status: 0, or 2 on error.
    Watch(WatchArgs),

    /// What this host lets sockscope see and do, and the command that lifts each limit.
    ///
    /// The collector and kernel features (sock_diag, destroy events, SOCK_DESTROY,
    /// pidfd), the user and capabilities, how many owners are hidden, network
    /// namespaces, the Docker or Podman socket, the cgroup version and the config file.
    /// Exit status: 0, or 2 on error.
    Info(InfoArgs),

    /// Serve the port doctor to coding agents: a Model Context Protocol server on stdio.
    ///
    /// Read-only tools by default: why_port, list_sockets, free_port, wait_listen,
    /// wait_free, recent_events (from a watch the server keeps) and info. With
    /// --allow-actions also kill_port and close_sockets, each in two calls: a preview of
    /// the exact targets with a token, then the same call with the token within 30 s,
    /// under every rule of `kill` and `close`. Runs until stdin closes; exit status 0, or
    /// 2 when it cannot start.
    Mcp(McpArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) to stdout: `sockscope man | man -l -`; with a
    /// command, that command's own page (`sockscope man why` is sockscope-why(1)).
    Man {
        /// A command whose page to print, e.g. `why`.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// Digits only: Rust's integer parsing accepts `+80`, which is not how anyone writes a
/// port or a pid.
fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A port number as typed: `3000` or `:3000`.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let d = s.strip_prefix(':').unwrap_or(s);
    crate::model::addr::port_number(d).ok_or_else(|| crate::model::addr::not_a_port(s))
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    check_timeout(parse_duration(s)?)
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The port, e.g. 3000 or :3000.
    #[arg(value_parser = parse_port)]
    pub port: u16,
    /// Judge the UDP port instead of the TCP one.
    #[arg(long)]
    pub udp: bool,
    /// JSON (schema: assets/schema/*.schema.json, docs/commands.md; version field).
    #[arg(long)]
    pub json: bool,
}

/// What `kill` aims at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillTarget {
    Port(u16),
    Pid(u32),
}

fn parse_kill_target(s: &str) -> Result<KillTarget, String> {
    if let Some(pid) = s.strip_prefix("pid:") {
        return digits::<u32>(pid)
            .map(KillTarget::Pid)
            .ok_or_else(|| format!("`{}` is not a pid", quote(pid)));
    }
    parse_port(s).map(KillTarget::Port).map_err(|_| {
        format!(
            "`{}` is not a port (3000, :3000) or a pid (pid:4242)",
            quote(s)
        )
    })
}

fn parse_signal(s: &str) -> Result<Sig, String> {
    Sig::parse(s).ok_or_else(|| {
        format!(
            "unknown signal `{}` (TERM, INT, HUP, QUIT, KILL, STOP, CONT, USR1, USR2)",
            quote(s)
        )
    })
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// PORT, :PORT, or pid:PID.
    #[arg(value_parser = parse_kill_target)]
    pub target: KillTarget,
    /// Signal to send.
    #[arg(short, long, default_value = "TERM", value_parser = parse_signal)]
    pub signal: Sig,
    /// Also target the holders of UDP sockets on the port. Without it, `kill :PORT`
    /// targets TCP listeners only: a UDP socket on the same number never blocks a TCP
    /// server's bind.
    #[arg(long)]
    pub udp: bool,
    /// Do not ask.
    #[arg(short, long)]
    pub yes: bool,
    /// Show what would be signalled and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the port to be freed.
    #[arg(long, default_value = "5s", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Send KILL if the targets still hold the port after the timeout.
    #[arg(long)]
    pub escalate: bool,
    /// Stop the container that holds or publishes the port, through the container
    /// engine's API (`docker stop`), instead of signalling a process.
    #[arg(long, conflicts_with_all = ["signal", "udp", "escalate"])]
    pub container: bool,
}

/// `A-B`, both ends included.
pub fn parse_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let bad = || format!("`{}` is not a port range (3000-3999)", quote(s));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a = digits::<u16>(a).filter(|p| *p > 0).ok_or_else(bad)?;
    let b = digits::<u16>(b).filter(|p| *p > 0).ok_or_else(bad)?;
    if a > b {
        return Err(format!("`{}`: the range ends before it starts", quote(s)));
    }
    Ok(a..=b)
}

fn parse_count(s: &str) -> Result<usize, String> {
    digits::<usize>(s)
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| format!("`{}` is not a count (1-1000)", quote(s)))
}

fn parse_top(s: &str) -> Result<usize, String> {
    digits::<usize>(s)
        .filter(|n| (1..=500).contains(n))
        .ok_or_else(|| format!("`{}` is not a top-N size (1-500)", quote(s)))
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but loopback exposes process names,
    /// ports and container names to whoever can reach it.
    #[arg(long, default_value = "127.0.0.1:9947")]
    pub listen: std::net::SocketAddr,
    /// How often to take a snapshot (250ms..60s).
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Every family keeps its N largest series (ports, process names, listeners and
    /// their accept queues, stopped holders); the rest are summed as `other`.
    #[arg(long, default_value = "20", value_parser = parse_top)]
    pub top: usize,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Which sockets, e.g. `:3000 state:time-wait`, `pid:4242 state:close-wait`,
    /// `addr:10.0.0.5:443`, `inode:81234`. Must name a port, pid, address or inode; an
    /// address matches exactly, and other free words are refused.
    #[arg(value_name = "QUERY", required = true)]
    pub query: Vec<String>,
    /// Do not ask.
    #[arg(short, long)]
    pub yes: bool,
    /// Show what would be closed and close nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a selection of more than one process or more than 64 sockets, of at most
    /// N sockets (the count a refusal or --dry-run shows).
    #[arg(long, value_name = "N", value_parser = parse_many)]
    pub many: Option<usize>,
}

fn parse_many(s: &str) -> Result<usize, String> {
    digits::<usize>(s)
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("`{}` is not a count of sockets (1 or more)", quote(s)))
}

#[derive(Debug, Args)]
pub struct FreePortArgs {
    /// Nearest to this port first.
    #[arg(long, value_parser = parse_port)]
    pub near: Option<u16>,
    /// Look only here (A-B); the ephemeral range is searched only when this includes it.
    #[arg(long, value_parser = parse_range)]
    pub range: Option<std::ops::RangeInclusive<u16>>,
    /// How many ports.
    #[arg(long, default_value = "1", value_parser = parse_count)]
    pub count: usize,
    /// Search the ephemeral range too (left out unless --near is in it: outgoing
    /// connections take their ports there).
    #[arg(long)]
    pub allow_ephemeral: bool,
    /// JSON: `{"version": 2, "ports": [...]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WaitListenArgs {
    /// The port, e.g. 3000 or :3000.
    #[arg(value_parser = parse_port)]
    pub port: u16,
    /// Give up after this long.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Only a listener that takes connections to this address (127.0.0.1, ::1, …).
    #[arg(long)]
    pub addr: Option<std::net::IpAddr>,
}

#[derive(Debug, Args)]
pub struct WaitFreeArgs {
    /// The port, e.g. 3000 or :3000.
    #[arg(value_parser = parse_port)]
    pub port: u16,
    /// Give up after this long.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only events about sockets that match, e.g. `:3000` or `state:listen`. A word that
    /// starts with `-` goes after `--`.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// NDJSON: one JSON object per line (schema: assets/schema/watch.schema.json; version field).
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Time between snapshots, 250ms..60s.
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Also offer kill_port and close_sockets (preview, then execute with its token).
    #[arg(long)]
    pub allow_actions: bool,
    /// Time between the snapshots of the watch behind recent_events (250ms..60s).
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// How long a preview's token is good for: at most 30s (for tests).
    #[arg(long, default_value = "30s", value_parser = parse_token_ttl, hide = true)]
    pub token_ttl: std::time::Duration,
}

fn parse_token_ttl(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() || d > std::time::Duration::from_secs(30) {
        return Err(format!("`{}`: a token lives 1ms..30s", quote(s)));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// JSON: one object with a `version`, the counts, and a `checks` array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Filter, e.g. `:3000`, `state:listen,estab`, `proc:node`, `!udp` (terms are ANDed).
    /// Options may follow the query; a word that starts with `-` goes after `--`.
    #[arg(value_name = "QUERY")]
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

/// Ends the process on a command line clap refused (or `--help`, `--version`). A
/// refusal quotes what was typed: shown as clap writes it when that is plain and short,
/// else as plain text with every control character escaped and each line cut at 400
/// characters (an argument can hold escape sequences, or be a page long). Help and the
/// version are our own text, never what was typed: shown whole (a paragraph of `--help`
/// is one line, longer than 400 characters, and its end holds the exit status).
pub fn exit_on(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let ours = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let plain = e.render().to_string();
    if ours || safe_message(&plain) {
        e.exit()
    }
    use std::io::Write;
    let code = e.exit_code();
    let mut out: Box<dyn Write> = if e.use_stderr() {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let _ = out.write_all(safe_text(&plain).as_bytes());
    let _ = out.flush();
    std::process::exit(code)
}

/// Longest line of a refused command line's message that is shown whole.
const MESSAGE_LINE: usize = 400;

fn safe_message(text: &str) -> bool {
    text.lines().all(|l| {
        l.chars().count() <= MESSAGE_LINE && !l.chars().any(crate::model::sanitize::is_unsafe_char)
    })
}

fn safe_text(text: &str) -> String {
    text.lines()
        .map(|l| crate::model::sanitize::sanitize_capped(l, MESSAGE_LINE) + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_argument_is_a_value_or_an_error(t in "\\PC{0,30}") {
            let _ = parse_port(&t);
            let _ = parse_kill_target(&t);
            let _ = parse_range(&t);
            let _ = parse_count(&t);
            let _ = parse_top(&t);
            let _ = parse_signal(&t);
            let _ = parse_view(&t);
        }

        #[test]
        fn ports_and_targets_round_trip(p in 1u16.., pid in 1u32..) {
            prop_assert_eq!(parse_port(&p.to_string()), Ok(p));
            prop_assert_eq!(parse_port(&format!(":{p}")), Ok(p));
            prop_assert_eq!(parse_kill_target(&format!(":{p}")), Ok(KillTarget::Port(p)));
            prop_assert_eq!(parse_kill_target(&format!("pid:{pid}")), Ok(KillTarget::Pid(pid)));
            prop_assert_eq!(parse_range(&format!("{p}-{p}")), Ok(p..=p));
            let plus = format!("+{p}");
            prop_assert!(parse_port(&plus).is_err());
        }
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Only commands that read the process table keep the view's capabilities.
    #[test]
    fn completions_and_man_need_no_capabilities() {
        let reads = |args: &[&str]| Cli::try_parse_from(args).unwrap().reads_processes();
        assert!(!reads(&["sockscope", "completions", "bash"]));
        assert!(!reads(&["sockscope", "man"]));
        assert!(!reads(&["sockscope", "man", "why"]));
        assert!(reads(&["sockscope"]));
        assert!(reads(&["sockscope", "list"]));
        assert!(reads(&["sockscope", "info"]));
        assert!(reads(&["sockscope", "serve"]));
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

    #[test]
    fn kill_targets_and_ports() {
        let cli = Cli::try_parse_from(["sockscope", "kill", ":3000", "--signal", "KILL", "--yes"])
            .unwrap();
        let Some(Command::Kill(k)) = cli.command else {
            panic!()
        };
        assert_eq!(k.target, KillTarget::Port(3000));
        assert_eq!(k.signal, Sig::Kill);
        let cli = Cli::try_parse_from(["sockscope", "kill", "pid:42"]).unwrap();
        let Some(Command::Kill(k)) = cli.command else {
            panic!()
        };
        assert_eq!(k.target, KillTarget::Pid(42));
        assert_eq!(k.timeout, std::time::Duration::from_secs(5));
        assert!(Cli::try_parse_from(["sockscope", "kill", "pid:x"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "why", "0"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "why", "70000"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "kill", ":80", "--signal", "BOGUS"]).is_err());
        // What was typed comes back escaped and cut when clap quotes it.
        let e = Cli::try_parse_from(["sockscope", "why", "\u{1b}]0;PWNED\u{7}1"]).unwrap_err();
        let plain = e.render().to_string();
        assert!(!safe_message(&plain));
        let shown = safe_text(&plain);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown}"
        );
        assert!(shown.contains("PWNED"), "{shown}");
        let long = format!("--{}", "x".repeat(1000));
        let e = Cli::try_parse_from(["sockscope", "list", &long]).unwrap_err();
        let shown = safe_text(&e.render().to_string());
        assert!(
            shown.lines().all(|l| l.chars().count() <= MESSAGE_LINE + 1),
            "{shown}"
        );
        let e = Cli::try_parse_from(["sockscope", "why", "0"]).unwrap_err();
        assert!(
            safe_message(&e.render().to_string()),
            "a plain message stays clap's"
        );
        assert!(Cli::try_parse_from(["sockscope", "why", "+80"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "kill", "pid:+42"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "kill", "pid:-1"]).is_err());
    }

    /// Options after query words are options, and an unknown one is an error.
    #[test]
    fn options_may_follow_the_query() {
        let cli = Cli::try_parse_from(["sockscope", "list", ":3000", "--json"]).unwrap();
        let Some(Command::List(a)) = cli.command else {
            panic!()
        };
        assert!(a.json);
        assert_eq!(a.query, vec![":3000"]);
        let cli = Cli::try_parse_from(["sockscope", "list", ":3000", "--all"]).unwrap();
        let Some(Command::List(a)) = cli.command else {
            panic!()
        };
        assert!(a.all);
        let cli =
            Cli::try_parse_from(["sockscope", "watch", ":3000", "--count", "2", "--json"]).unwrap();
        let Some(Command::Watch(w)) = cli.command else {
            panic!()
        };
        assert_eq!(
            (w.count, w.json, w.query.as_slice()),
            (Some(2), true, &[":3000".to_owned()][..])
        );
        let e = Cli::try_parse_from(["sockscope", "watch", "--jsn"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(e.to_string().contains("--json"), "{e}");
        assert!(Cli::try_parse_from(["sockscope", "list", "--cvs"]).is_err());
        let cli = Cli::try_parse_from(["sockscope", "list", "--", "-x"]).unwrap();
        let Some(Command::List(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.query, vec!["-x"]);
    }

    #[test]
    fn durations_that_overflow_are_errors() {
        for args in [
            &["sockscope", "--interval", "18446744073709551615s"][..],
            &[
                "sockscope",
                "kill",
                ":80",
                "--timeout",
                "20000000000000000000s",
            ][..],
            &[
                "sockscope",
                "wait-free",
                "80",
                "--timeout",
                "9999999999999s",
            ][..],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{e}");
        }
    }
}
