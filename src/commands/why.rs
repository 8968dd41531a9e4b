//! `sockscope why PORT`: the verdict of SPEC §5 for one port.

use crate::cli::WhyArgs;
use crate::collect::{self, CollectorKind, procs};
use crate::diagnose::{CloseWaitTracker, Kind, Probe, verdict, verdict_udp};
use crate::error::Result;
use crate::model::Scope;
use crate::output::why;
use std::io::{self, IsTerminal};

pub fn run(args: &WhyArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open_once(kind)?;
    let snap = collector.snapshot(Scope::All)?;
    let mut v = if args.udp {
        verdict_udp(&snap, args.port, Probe::run_udp(args.port))
    } else {
        let leaking = CloseWaitTracker::default().observe(&snap);
        verdict(&snap, args.port, Probe::run(args.port), &leaking)
    };
    if v.kind != Kind::Free && !args.udp {
        v.free_nearby = nearby(&snap, args.port);
    }
    let inspections: Vec<_> = v.holders.iter().map(|&pid| procs::inspect(pid)).collect();
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let terminal = io::stdout().is_terminal();
        super::write_json(&mut out, &why::document(&v, &snap, &inspections), terminal)?;
    } else {
        why::write_text(&mut out, &v, &snap, &inspections)?;
    }
    let code = if v.kind == Kind::Free {
        super::EXIT_OK
    } else {
        super::EXIT_IN_USE
    };
    super::flushed(&mut out, code)
}

/// Two free ports nearest to `port`: the search `free-port --near PORT` makes.
fn nearby(snap: &crate::model::Snapshot, port: u16) -> Vec<u16> {
    use crate::diagnose::free::{Search, held_ports};
    let search = Search::nearby(Some(port), collect::ephemeral_range(), 2, false);
    search.run(&held_ports(snap), Probe::plain_free)
}
