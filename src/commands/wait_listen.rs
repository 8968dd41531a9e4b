//! `sockscope wait-listen PORT [--timeout 30s] [--addr ADDR]`: block until a TCP listener
//! on the port is in the kernel's table. Sends no traffic. Says which addresses listen:
//! the classic trap is `localhost` resolving to `::1` while the server listens on
//! 127.0.0.1 only, or the other way round.

use crate::cli::WaitListenArgs;
use crate::collect::{self, CollectorKind};
use crate::error::Result;
use crate::model::{Scope, Snapshot, Socket, State};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

/// How a wait for a listener ended: the sentence says which addresses listen (or, on
/// timeout, what was seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waited {
    pub listening: bool,
    pub message: String,
    /// The host namespace's TCP listeners on the port when it ended, as `addr:port`.
    pub addresses: Vec<String>,
    /// Their owners.
    pub pids: Vec<u32>,
}

/// Polls the socket table until a TCP listener on `port` takes connections to `addr`
/// (any address without it), for at most `timeout`; `stop` ends the wait early (said
/// as a timeout).
pub fn wait(
    port: u16,
    timeout: Duration,
    addr: Option<IpAddr>,
    kind: CollectorKind,
    stop: &dyn Fn() -> bool,
) -> Result<Waited> {
    let mut collector = collect::open(kind)?;
    let start = Instant::now();
    loop {
        let snap = collector.snapshot(Scope::Listeners)?;
        let all = listeners(&snap, port);
        let fits = all.iter().any(|s| addr.is_none_or(|ip| s.accepts(ip)));
        let ended = |listening: bool, message: String| Waited {
            listening,
            message,
            addresses: all
                .iter()
                .map(|s| crate::model::socket::Endpoint(&s.local()).to_string())
                .collect(),
            pids: owners(&all),
        };
        if fits {
            return Ok(ended(true, describe(&snap, port, &all)));
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() || stop() {
            let after = crate::model::time::fmt_interval(timeout);
            // Without --addr any listener would have ended the wait.
            let msg = match addr {
                Some(ip) if !all.is_empty() => format!(
                    "nothing takes connections to {} after {after}: {}",
                    std::net::SocketAddr::new(ip, port),
                    describe(&snap, port, &all)
                ),
                _ => format!("nothing listens on port {port} after {after}"),
            };
            return Ok(ended(false, msg));
        }
        std::thread::sleep(POLL.min(left).max(Duration::from_millis(1)));
    }
}

pub fn run(args: &WaitListenArgs, kind: CollectorKind) -> Result<u8> {
    let w = wait(args.port, args.timeout, args.addr, kind, &|| false)?;
    if w.listening {
        writeln!(io::stdout(), "{}", w.message)?;
        Ok(super::EXIT_OK)
    } else {
        super::warn(&w.message);
        Ok(super::EXIT_IN_USE)
    }
}

/// The host namespace's TCP listeners on `port`.
fn listeners(snap: &Snapshot, port: u16) -> Vec<&Socket> {
    snap.sockets
        .iter()
        .filter(|s| {
            s.proto.is_tcp()
                && s.state == State::Listen
                && s.local().port() == port
                && snap.netns.is_host(s.netns)
        })
        .collect()
}

/// The owners of `all`, each once, in pid order.
fn owners(all: &[&Socket]) -> Vec<u32> {
    let mut pids: Vec<u32> = all.iter().flat_map(|s| s.owners.iter().copied()).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// "port 3000 is listening on 127.0.0.1:3000 only (not ::1): 4242/node".
pub fn describe(snap: &Snapshot, port: u16, all: &[&Socket]) -> String {
    let addrs: Vec<String> = all
        .iter()
        .map(|s| crate::model::socket::Endpoint(&s.local()).to_string())
        .collect();
    let v4 = all
        .iter()
        .any(|s| s.accepts(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let v6 = all
        .iter()
        .any(|s| s.accepts(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let only = match (v4, v6) {
        (true, true) => "",
        (true, false) => " only (not ::1)",
        (false, true) => " only (not 127.0.0.1)",
        (false, false) => " only (not 127.0.0.1 or ::1)",
    };
    let pids = owners(all);
    let by = if pids.is_empty() {
        String::new()
    } else {
        format!(": {}", snap.pids_folded(&pids))
    };
    format!("port {port} is listening on {}{only}{by}", addrs.join(", "))
}
