//! `sockscope why PORT`: the verdict of SPEC §5 for one port.

use crate::cli::WhyArgs;
use crate::collect::{self, CollectorKind, procs};
use crate::diagnose::{CloseWaitTracker, Kind, Probe, verdict};
use crate::error::{Error, Result};
use crate::model::Scope;
use crate::output::why;
use std::io::{self, Write};

pub fn run(args: &WhyArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open(kind)?;
    let snap = collector.snapshot(Scope::All)?;
    let probe = Probe::run(args.port);
    let leaking = CloseWaitTracker::default().observe(&snap);
    let v = verdict(&snap, args.port, probe, &leaking);
    let inspections: Vec<_> = v.holders.iter().map(|&pid| procs::inspect(pid)).collect();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &why::document(&v, &snap, &inspections))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        why::write_text(&mut out, &v, &snap, &inspections)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if super::is_broken_pipe(&e) => {}
        Err(e) => return Err(Error::Output(e.to_string())),
    }
    Ok(if v.kind == Kind::Free {
        super::EXIT_OK
    } else {
        super::EXIT_IN_USE
    })
}
