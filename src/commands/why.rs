//! `sockscope why PORT`: the verdict of SPEC §5 for one port.

use crate::cli::WhyArgs;
use crate::collect::{self, CollectorKind, procs};
use crate::diagnose::{CloseWaitTracker, Kind, Probe, Verdict, verdict, verdict_udp};
use crate::error::Result;
use crate::model::process::Inspection;
use crate::model::{Scope, Snapshot};
use crate::output::why;
use std::io::{self, IsTerminal};

/// A port's verdict with what its document needs: the snapshot it was judged on and what
/// was read about each holder (cwd, parents). `why` prints it; `sockscope mcp` returns
/// its document.
pub struct Judged {
    pub verdict: Verdict,
    pub snap: Snapshot,
    pub inspections: Vec<Inspection>,
}

impl Judged {
    /// The `why --json` document.
    pub fn document(&self) -> why::WhyDoc<'_> {
        why::document(&self.verdict, &self.snap, &self.inspections)
    }

    /// `why`'s exit status: 0 free, 1 in use.
    pub fn status(&self) -> u8 {
        if self.verdict.kind == Kind::Free {
            super::EXIT_OK
        } else {
            super::EXIT_IN_USE
        }
    }
}

/// Judges `port` (TCP, or UDP with `udp`) on a fresh snapshot.
pub fn judge(port: u16, udp: bool, kind: CollectorKind) -> Result<Judged> {
    let mut collector = collect::open_once(kind)?;
    let mut snap = collector.snapshot(Scope::All)?;
    if !udp {
        collect::add_bound_holders(collector.as_mut(), &mut snap, port);
    }
    // Who made the TIME-WAITs: what a running sockscope knows, when it is believed.
    let traced = collect::statefile::dir()
        .is_some_and(|dir| collect::statefile::apply(&dir, &mut snap).is_ok());
    let mut v = if udp {
        verdict_udp(&snap, port, Probe::run_udp(port))
    } else {
        let leaking = CloseWaitTracker::default().observe(&snap);
        verdict(&snap, port, Probe::run(port), &leaking)
    };
    if v.kind != Kind::Free && !udp {
        v.free_nearby = nearby(&snap, port);
    }
    v.traced = traced;
    // Only the holders shown in full are inspected (see `model::fold`).
    let inspections: Vec<_> = v
        .holders
        .iter()
        .take(crate::model::fold::SHOWN)
        .map(|&pid| procs::inspect(pid))
        .collect();
    Ok(Judged {
        verdict: v,
        snap,
        inspections,
    })
}

pub fn run(args: &WhyArgs, kind: CollectorKind) -> Result<u8> {
    let j = judge(args.port, args.udp, kind)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let terminal = io::stdout().is_terminal();
        super::write_json(&mut out, &j.document(), terminal)?;
    } else {
        why::write_text(&mut out, &j.verdict, &j.snap, &j.inspections)?;
    }
    super::flushed(&mut out, j.status())
}

/// Two free ports nearest to `port`: the search `free-port --near PORT` makes.
fn nearby(snap: &Snapshot, port: u16) -> Vec<u16> {
    use crate::diagnose::free::{Search, held_ports};
    let search = Search::nearby(Some(port), collect::ephemeral_range(), 2, false);
    search.run(&held_ports(snap), Probe::plain_free)
}
