//! `sockscope why PORT`: the verdict of SPEC §5 for one port.

use crate::cli::WhyArgs;
use crate::collect::{self, CollectorKind, procs};
use crate::diagnose::{CloseWaitTracker, Kind, Probe, verdict};
use crate::error::Result;
use crate::model::Scope;
use crate::output::why;
use std::io::{self, Write};

pub fn run(args: &WhyArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open_once(kind)?;
    let snap = collector.snapshot(Scope::All)?;
    let probe = Probe::run(args.port);
    let leaking = CloseWaitTracker::default().observe(&snap);
    let v = verdict(&snap, args.port, probe, &leaking);
    let inspections: Vec<_> = v.holders.iter().map(|&pid| procs::inspect(pid)).collect();
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &why::document(&v, &snap, &inspections))?;
        writeln!(out)?;
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
