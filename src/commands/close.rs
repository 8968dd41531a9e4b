//! `sockscope close QUERY... [--yes] [--dry-run] [--many N]`: close sockets with
//! SOCK_DESTROY (what `ss -K` does), each by the exact tuple and cookie of the snapshot
//! the user was shown. The query is parsed exactly here (addresses compare whole, free
//! words are refused); what may be closed is decided in [`crate::diagnose::close`].

use crate::cli::CloseArgs;
use crate::collect::{self, Collector as _, CollectorKind, linux::SockDiagCollector};
use crate::diagnose::close::{ClosePlan, Selection, plan};
use crate::diagnose::{CloseWaitTracker, Probe, row_flags};
use crate::error::Result;
use crate::model::socket::Endpoint;
use crate::model::{Flags, Scope, Snapshot, Socket, State};
use crate::query::{ExactError, Query, parse_exact};
use std::io::{self, Write};

pub fn run(args: &CloseArgs, kind: CollectorKind) -> Result<u8> {
    let query = match parse_exact(&args.query.join(" ")) {
        Ok(q) => q,
        Err(ExactError::Query(e)) => return Err(e.into()),
        Err(ExactError::FreeWord(w)) => {
            super::warn(&format!(
                "close does not take free words like `{w}`: name a port, pid, address (`addr:…`) or inode"
            ));
            return Ok(super::EXIT_ERROR);
        }
    };
    if kind == CollectorKind::Portable {
        super::warn(
            "close needs the sockdiag collector (Linux netlink): drop --collector portable",
        );
        return Ok(super::EXIT_ERROR);
    }
    if !args.dry_run && !collect::has_net_admin() {
        // Capabilities a non-root sockscope was given are dropped at start (crate::caps),
        // so this holds for root only.
        super::warn(
            "closing sockets needs root (CAP_NET_ADMIN): it closes anyone's connections, so sockscope closes only as root (`sudo sockscope close …`); nothing was closed",
        );
        return Ok(super::EXIT_ERROR);
    }
    let mut collector = SockDiagCollector::new()?.settling(collect::ONE_SHOT_SETTLE);
    let snap = collector.snapshot(Scope::All)?;
    let leaking = CloseWaitTracker::default().observe(&snap);
    let flags = row_flags(&snap, &leaking);
    let plan = match plan(&select(&query, &snap, &flags, args.many), &snap) {
        Ok(p) => p,
        Err(refusal) => {
            super::warn(&refusal.to_string());
            return Ok(super::EXIT_ERROR);
        }
    };
    if let Some(refusal) = &plan.blocked
        && !args.dry_run
    {
        super::warn(&format!("{refusal} (`--dry-run` lists them)"));
        return Ok(super::EXIT_ERROR);
    }
    let mut out = io::stdout();
    if plan.sockets.is_empty() {
        writeln!(out, "nothing matches: nothing to close")?;
        return Ok(super::EXIT_OK);
    }
    show(&snap, &plan, args.dry_run, &mut out)?;
    if args.dry_run {
        writeln!(out, "dry run: nothing was closed")?;
        if let Some(refusal) = &plan.blocked {
            out.flush()?;
            super::warn(&refusal.to_string());
            return Ok(super::EXIT_ERROR);
        }
        return Ok(super::EXIT_OK);
    }
    out.flush()?;
    let n = plan.sockets.len();
    if !args.yes && !super::confirm(&format!("close {n} socket{}?", plural(n)))? {
        return Ok(super::EXIT_ERROR);
    }
    if !destroy_all(&mut collector, &snap, &plan, &mut out)? {
        return Ok(super::EXIT_ERROR);
    }
    after(&mut collector, &snap, &plan, &mut out)
}

/// What will be closed, and what will not.
fn show(snap: &Snapshot, plan: &ClosePlan, dry_run: bool, out: &mut impl Write) -> Result<()> {
    let verb = if dry_run { "would close" } else { "will close" };
    let n = plan.sockets.len();
    writeln!(out, "{verb} {n} socket{}:", plural(n))?;
    for &i in &plan.sockets {
        writeln!(out, "  {}", describe(snap, &snap.sockets[i]))?;
    }
    if plan
        .sockets
        .iter()
        .any(|&i| is_connection(&snap.sockets[i]))
    {
        writeln!(
            out,
            "  (the owner of a closed connection gets ECONNABORTED on its next call, its peer a RST)"
        )?;
    }
    if !plan.listeners.is_empty() {
        let k = plan.listeners.len();
        writeln!(
            out,
            "not closing {k} listener{}: the port would stay bound; stop the holder instead (`sockscope kill`)",
            plural(k)
        )?;
    }
    Ok(())
}

/// Closes each planned socket by its tuple and cookie; false when the kernel refused
/// one (said why already).
fn destroy_all(
    collector: &mut SockDiagCollector,
    snap: &Snapshot,
    plan: &ClosePlan,
    out: &mut impl Write,
) -> Result<bool> {
    let sockets: Vec<&Socket> = plan.sockets.iter().map(|&i| &snap.sockets[i]).collect();
    let d = destroy_each(collector, &sockets);
    writeln!(out, "{}", d.summary())?;
    if let Some(why) = &d.failed {
        super::warn(why);
        return Ok(false);
    }
    Ok(true)
}

/// What closing a list of sockets came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Destroyed {
    /// How many were asked for.
    pub asked: usize,
    pub closed: usize,
    /// Changed or gone since the snapshot: not touched.
    pub gone: usize,
    /// The kernel refused one, and nothing after it was tried: why.
    pub failed: Option<String>,
}

impl Destroyed {
    /// "closed 3 of 3 sockets", with the ones that had gone, or how far it got.
    pub fn summary(&self) -> String {
        let (closed, n) = (self.closed, self.asked);
        if self.failed.is_some() {
            return format!("closed {closed} of {n}");
        }
        let mut text = format!("closed {closed} of {n} socket{}", plural(n));
        if self.gone > 0 {
            text.push_str(&format!(
                "; {} had changed or gone since the snapshot and {} not touched",
                self.gone,
                if self.gone == 1 { "was" } else { "were" }
            ));
        }
        text
    }
}

/// Closes each socket by its exact tuple and cookie, in order, until the kernel refuses
/// one.
pub(crate) fn destroy_each(collector: &mut SockDiagCollector, sockets: &[&Socket]) -> Destroyed {
    let mut d = Destroyed {
        asked: sockets.len(),
        closed: 0,
        gone: 0,
        failed: None,
    };
    for s in sockets {
        match collector.destroy(s) {
            Ok(true) => d.closed += 1,
            Ok(false) => d.gone += 1,
            Err(e) => {
                let why = match e.raw_os_error() {
                    Some(1) => "needs root (CAP_NET_ADMIN)".to_owned(),
                    Some(95) => {
                        "this kernel cannot close sockets (CONFIG_INET_DIAG_DESTROY is off)"
                            .to_owned()
                    }
                    _ => e.to_string(),
                };
                d.failed = Some(format!("cannot close {}: {why}", Endpoint(&s.local())));
                return d;
            }
        }
    }
    d
}

/// What remains of the closed sockets, and for one port whether a server can bind it.
fn after(
    collector: &mut SockDiagCollector,
    snap: &Snapshot,
    plan: &ClosePlan,
    out: &mut impl Write,
) -> Result<u8> {
    let now = collector.snapshot(Scope::All)?;
    let sockets: Vec<&Socket> = plan.sockets.iter().map(|&i| &snap.sockets[i]).collect();
    let left = Remaining::of(&now, &sockets);
    for line in left.lines() {
        writeln!(out, "{line}")?;
    }
    Ok(if left.count > 0 {
        super::EXIT_IN_USE
    } else {
        super::EXIT_OK
    })
}

/// After closing: how many of the sockets `now` still has, and, when they were all on
/// one port, whether a plain bind of it works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remaining {
    pub count: usize,
    /// (the port, a plain bind works now).
    pub port: Option<(u16, bool)>,
}

impl Remaining {
    pub fn of(now: &Snapshot, closed: &[&Socket]) -> Remaining {
        let count = closed
            .iter()
            .filter(|c| {
                let key = c.key();
                now.sockets.iter().any(|s| s.key() == key)
            })
            .count();
        let mut ports: Vec<u16> = closed.iter().map(|s| s.local().port()).collect();
        ports.sort_unstable();
        ports.dedup();
        let port = match ports[..] {
            [port] => Some((port, Probe::run(port).free())),
            _ => None,
        };
        Remaining { count, port }
    }

    /// "2 of them still exist", "port 3000: a plain bind works now".
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.count > 0 {
            lines.push(format!("{} of them still exist", self.count));
        }
        if let Some((port, free)) = self.port {
            let verdict = if free {
                "a plain bind works now".to_owned()
            } else {
                format!("still in use: `sockscope why {port}` says by what")
            };
            lines.push(format!("port {port}: {verdict}"));
        }
        lines
    }
}

/// What the query selects in `snap`, for [`plan`].
pub(crate) fn select(
    q: &Query,
    snap: &Snapshot,
    flags: &[Flags],
    many: Option<usize>,
) -> Selection {
    Selection {
        matched: snap
            .sockets
            .iter()
            .enumerate()
            .filter(|(i, s)| q.matches_socket(s, snap, flags.get(*i).copied().unwrap_or_default()))
            .map(|(i, _)| i)
            .collect(),
        narrowed: q.narrows(),
        names_udp: q.names_udp(),
        many,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn is_connection(s: &Socket) -> bool {
    s.proto.is_tcp() && !matches!(s.state, State::Listen | State::TimeWait)
}

/// `tcp  TIME-WAIT  127.0.0.1:3000 → 127.0.0.1:51000  (kernel)`.
pub(crate) fn describe(snap: &Snapshot, s: &Socket) -> String {
    let owners = if s.owners.is_empty() {
        format!("({})", s.owner_status.as_str())
    } else {
        snap.pids_folded(&s.owners)
    };
    let ns = if snap.netns.is_host(s.netns) {
        String::new()
    } else {
        format!("  in {}", snap.netns.name(s.netns))
    };
    format!(
        "{:<5} {:<11} {} → {}  {owners}{ns}",
        s.proto.as_str(),
        s.state.to_string(),
        Endpoint(&s.local()),
        Endpoint(&s.remote()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{process, snapshot, sock};
    use crate::diagnose::close::CloseRefusal;
    use crate::model::Proto;

    /// Connections on 127.0.0.3, 127.0.0.35, its v4-mapped form and a v6 address; curl's
    /// command line names 127.0.0.3 but its connection is elsewhere.
    fn snap() -> Snapshot {
        let est = |proto, local, remote, inode, pid| {
            sock(proto, local, remote, State::Estab, inode, &[pid])
        };
        let sockets = vec![
            est(Proto::Tcp, "127.0.0.3:8000", "127.0.0.1:50000", 1, 20),
            est(Proto::Tcp, "127.0.0.35:8000", "127.0.0.1:50001", 2, 20),
            est(Proto::Tcp, "127.0.0.1:50002", "127.0.0.1:9000", 3, 10),
            est(
                Proto::Tcp6,
                "[::ffff:127.0.0.3]:8001",
                "[::ffff:127.0.0.1]:50003",
                4,
                20,
            ),
            est(Proto::Tcp6, "[fd00::3]:443", "[fd00::35]:50004", 5, 20),
            est(Proto::Tcp, "127.0.0.1:50005", "127.0.0.3:8000", 6, 30),
        ];
        let mut curl = process(10, "curl", 'S');
        curl.cmdline = vec!["curl".into(), "http://127.0.0.3:8000/".into()];
        let procs = [curl, process(20, "server", 'S'), process(30, "client", 'S')];
        snapshot(0, crate::model::Scope::All, sockets, &procs)
    }

    fn selected(q: &str, many: Option<usize>) -> (Vec<usize>, Option<CloseRefusal>) {
        let snap = snap();
        let flags = vec![Flags::default(); snap.sockets.len()];
        let sel = select(&parse_exact(q).unwrap(), &snap, &flags, many);
        let p = plan(&sel, &snap).unwrap();
        (p.sockets, p.blocked)
    }

    #[test]
    fn an_address_selects_that_address_only() {
        // 127.0.0.3 as either end (v4-mapped too); not 127.0.0.35, not curl's.
        let (sockets, blocked) = selected("127.0.0.3 state:estab", None);
        assert_eq!(sockets, vec![0, 3, 5]);
        assert!(
            matches!(
                blocked,
                Some(CloseRefusal::Many {
                    count: 3,
                    processes: 2,
                    ..
                })
            ),
            "{blocked:?}"
        );
        assert_eq!(selected("laddr:127.0.0.3", None), (vec![0, 3], None));
        assert_eq!(selected("127.0.0.35", None), (vec![1], None));
        assert_eq!(selected("127.0.0.3:8000 pid:20", None), (vec![0], None));
        assert_eq!(selected("[::ffff:127.0.0.3]:8001", None), (vec![3], None));
        assert_eq!(selected("fd00::3", None), (vec![4], None));
        assert_eq!(selected("addr:[fd00::35]:50004", None), (vec![4], None));
        assert_eq!(selected("fd00::", None), (vec![], None));
        assert_eq!(selected("127.0.0.3 state:estab", Some(3)).1, None);
    }
}
