//! `sockscope wait-free PORT`: block until a plain bind of the port would succeed.

use crate::cli::WaitFreeArgs;
use crate::diagnose::Probe;
use crate::error::Result;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

pub fn run(args: &WaitFreeArgs) -> Result<u8> {
    let end = Instant::now() + args.timeout;
    loop {
        let p = Probe::run(args.port);
        if p.free() {
            println!("port {} is free", args.port);
            return Ok(super::EXIT_OK);
        }
        if Instant::now() >= end {
            eprintln!(
                "sockscope: port {} is still in use after {} (0.0.0.0: {}, [::]: {}); `sockscope why {}` says why",
                args.port,
                crate::model::time::fmt_interval(args.timeout),
                p.v4.as_str(),
                p.v6.as_str(),
                args.port
            );
            return Ok(super::EXIT_IN_USE);
        }
        std::thread::sleep(
            POLL.min(end.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
        );
    }
}
