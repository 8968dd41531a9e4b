//! `sockscope free-port [--near P] [--range A-B] [--count N] [--json]`: ports that bind
//! right now and that no socket holds in any state (see [`crate::diagnose::free`]).

use crate::cli::FreePortArgs;
use crate::collect::{self, CollectorKind};
use crate::diagnose::free::{Search, held_ports};
use crate::diagnose::probe::Probe;
use crate::error::Result;
use crate::model::Scope;
use std::io::{self, Write};
use std::ops::RangeInclusive;

/// Where to look: a range the user gave is searched whole, ephemeral ports included;
/// otherwise the unprivileged ports around `near`, the ephemeral range left out unless
/// `near` is in it or `allow_ephemeral`.
pub fn search(
    near: Option<u16>,
    range: Option<RangeInclusive<u16>>,
    count: usize,
    allow_ephemeral: bool,
) -> Search {
    match range {
        Some(r) => Search {
            near,
            range: r,
            skip: None,
            count,
        },
        None => Search::nearby(near, collect::ephemeral_range(), count, allow_ephemeral),
    }
}

/// The free ports `search` finds on a fresh snapshot, nearest first.
pub fn find(search: &Search, kind: CollectorKind) -> Result<Vec<u16>> {
    let snap = collect::open(kind)?.snapshot(Scope::All)?;
    Ok(search.run(&held_ports(&snap), Probe::plain_free))
}

/// That the ephemeral range was left out, when leaving it out changed the answer.
pub fn skipped(search: &Search, found: &[u16]) -> Option<String> {
    let s = search
        .skip
        .as_ref()
        .filter(|_| search.skip_mattered(found))?;
    Some(format!(
        "the ephemeral range {}-{} was left out: outgoing connections take their ports there (--allow-ephemeral includes it)",
        s.start(),
        s.end()
    ))
}

/// Why fewer than `search.count` ports came back, or `None` when enough did.
pub fn shortfall(search: &Search, found: &[u16]) -> Option<String> {
    if found.len() >= search.count {
        return None;
    }
    let r = &search.range;
    let what = if found.is_empty() {
        "no free port".to_owned()
    } else {
        format!("only {} free ports", found.len())
    };
    let skipped = skipped(search, found)
        .map(|s| format!("; {s}"))
        .unwrap_or_default();
    Some(format!("{what} in {}-{}{skipped}", r.start(), r.end()))
}

pub fn run(args: &FreePortArgs, kind: CollectorKind) -> Result<u8> {
    let search = search(
        args.near,
        args.range.clone(),
        args.count,
        args.allow_ephemeral,
    );
    let ports = find(&search, kind)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            version: u32,
            ports: &'a [u16],
        }
        let doc = Doc {
            version: crate::output::json::VERSION,
            ports: &ports,
        };
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for p in &ports {
            writeln!(out, "{p}")?;
        }
    }
    out.flush()?;
    if let Some(short) = shortfall(&search, &ports) {
        super::warn(&short);
        return Ok(super::EXIT_IN_USE);
    }
    if let Some(s) = skipped(&search, &ports) {
        super::warn(&s);
    }
    Ok(super::EXIT_OK)
}
