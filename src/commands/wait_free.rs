//! `sockscope wait-free PORT`: block until a plain bind of the port would succeed; on
//! timeout, say what still holds it (the same verdict as `why`).

use crate::cli::WaitFreeArgs;
use crate::collect::{self, CollectorKind};
use crate::diagnose::{CloseWaitTracker, Probe, verdict};
use crate::error::Result;
use crate::model::Scope;
use std::io::{self, Write};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

pub fn run(args: &WaitFreeArgs, kind: CollectorKind) -> Result<u8> {
    let start = Instant::now();
    loop {
        let p = Probe::run(args.port);
        if p.free() {
            let free = crate::diagnose::release::free_sentence(args.port, false);
            writeln!(io::stdout(), "{free}")?;
            return Ok(super::EXIT_OK);
        }
        let left = args.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            let snap = collect::open_once(kind)?.snapshot(Scope::All)?;
            let leaking = CloseWaitTracker::default().observe(&snap);
            let v = verdict(&snap, args.port, p, &leaking);
            super::warn(&format!(
                "still not free after {}: {}; `sockscope why {}` says more",
                crate::model::time::fmt_interval(args.timeout),
                v.headline,
                args.port
            ));
            return Ok(super::EXIT_IN_USE);
        }
        std::thread::sleep(POLL.min(left).max(Duration::from_millis(1)));
    }
}
