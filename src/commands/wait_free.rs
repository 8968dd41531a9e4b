//! `sockscope wait-free PORT`: block until a plain bind of the port would succeed; on
//! timeout, say what still holds it (the same verdict as `why`).

use crate::cli::WaitFreeArgs;
use crate::collect::{self, CollectorKind};
use crate::diagnose::{CloseWaitTracker, Kind, Probe, verdict};
use crate::error::Result;
use crate::model::Scope;
use std::io::{self, Write};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

/// How a wait for a free port ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waited {
    pub free: bool,
    /// "port 3000 is free", or what still holds it.
    pub message: String,
    /// The port's verdict when it was still not free (`None` when free).
    pub verdict: Option<Kind>,
}

/// Probes until a plain bind of `port` would succeed, for at most `timeout`; `stop` ends
/// the wait early (said as a timeout).
pub fn wait(
    port: u16,
    timeout: Duration,
    kind: CollectorKind,
    stop: &dyn Fn() -> bool,
) -> Result<Waited> {
    let start = Instant::now();
    loop {
        let p = Probe::run(port);
        if p.free() {
            return Ok(Waited {
                free: true,
                message: crate::diagnose::release::free_sentence(port, false),
                verdict: None,
            });
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() || stop() {
            let mut collector = collect::open_once(kind)?;
            let mut snap = collector.snapshot(Scope::All)?;
            collect::add_bound_holders(collector.as_mut(), &mut snap, port);
            let leaking = CloseWaitTracker::default().observe(&snap);
            let v = verdict(&snap, port, p, &leaking);
            return Ok(Waited {
                free: false,
                message: format!(
                    "still not free after {}: {}; `sockscope why {port}` says more",
                    crate::model::time::fmt_interval(timeout),
                    v.headline,
                ),
                verdict: Some(v.kind),
            });
        }
        std::thread::sleep(POLL.min(left).max(Duration::from_millis(1)));
    }
}

pub fn run(args: &WaitFreeArgs, kind: CollectorKind) -> Result<u8> {
    let w = wait(args.port, args.timeout, kind, &|| false)?;
    if w.free {
        writeln!(io::stdout(), "{}", w.message)?;
        Ok(super::EXIT_OK)
    } else {
        super::warn(&w.message);
        Ok(super::EXIT_IN_USE)
    }
}
