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

pub fn run(args: &WaitListenArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open(kind)?;
    let start = Instant::now();
    loop {
        let snap = collector.snapshot(Scope::Listeners)?;
        let all = listeners(&snap, args.port);
        let fits: Vec<&Socket> = all
            .iter()
            .copied()
            .filter(|s| args.addr.is_none_or(|ip| s.accepts(ip)))
            .collect();
        if !fits.is_empty() {
            writeln!(io::stdout(), "{}", describe(&snap, args.port, &all))?;
            return Ok(super::EXIT_OK);
        }
        let left = args.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            let after = crate::model::time::fmt_interval(args.timeout);
            // Without --addr any listener would have ended the wait.
            let msg = match args.addr {
                Some(ip) if !all.is_empty() => format!(
                    "nothing takes connections to {} after {after}: {}",
                    std::net::SocketAddr::new(ip, args.port),
                    describe(&snap, args.port, &all)
                ),
                _ => format!("nothing listens on port {} after {after}", args.port),
            };
            super::warn(&msg);
            return Ok(super::EXIT_IN_USE);
        }
        std::thread::sleep(POLL.min(left).max(Duration::from_millis(1)));
    }
}

/// The host namespace's TCP listeners on `port`.
fn listeners(snap: &Snapshot, port: u16) -> Vec<&Socket> {
    snap.sockets
        .iter()
        .filter(|s| {
            s.proto.is_tcp()
                && s.state == State::Listen
                && s.local.port() == port
                && snap.netns.is_host(s.netns)
        })
        .collect()
}

/// "port 3000 is listening on 127.0.0.1:3000 only (not ::1): 4242/node".
pub fn describe(snap: &Snapshot, port: u16, all: &[&Socket]) -> String {
    let addrs: Vec<String> = all
        .iter()
        .map(|s| crate::model::socket::Endpoint(&s.local).to_string())
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
    let mut pids: Vec<u32> = all.iter().flat_map(|s| s.owners.iter().copied()).collect();
    pids.sort_unstable();
    pids.dedup();
    let by = if pids.is_empty() {
        String::new()
    } else {
        format!(": {}", snap.pids_text(&pids))
    };
    format!("port {port} is listening on {}{only}{by}", addrs.join(", "))
}
