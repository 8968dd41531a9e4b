//! `sockscope free-port [--near P] [--range A-B] [--count N] [--json]`: ports that bind
//! right now and that no socket holds in any state (see [`crate::diagnose::free`]).

use crate::cli::FreePortArgs;
use crate::collect::{self, CollectorKind};
use crate::diagnose::free::{Search, held_ports};
use crate::diagnose::probe::Probe;
use crate::error::Result;
use crate::model::Scope;
use std::io::{self, Write};

pub fn run(args: &FreePortArgs, kind: CollectorKind) -> Result<u8> {
    let snap = collect::open(kind)?.snapshot(Scope::All)?;
    let search = match &args.range {
        // A range the user gave is searched whole, ephemeral ports included.
        Some(r) => Search {
            near: args.near,
            range: r.clone(),
            skip: None,
            count: args.count,
        },
        None => Search::nearby(
            args.near,
            collect::ephemeral_range(),
            args.count,
            args.allow_ephemeral,
        ),
    };
    let ports = search.run(&held_ports(&snap), Probe::plain_free);
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
    let skipped = search
        .skip
        .as_ref()
        .filter(|_| search.skip_mattered(&ports))
        .map(|s| {
            format!(
                "the ephemeral range {}-{} was left out: outgoing connections take their ports there (--allow-ephemeral includes it)",
                s.start(),
                s.end()
            )
        });
    if ports.len() < args.count {
        let r = &search.range;
        let what = if ports.is_empty() {
            "no free port".to_owned()
        } else {
            format!("only {} free ports", ports.len())
        };
        let skipped = skipped.map(|s| format!("; {s}")).unwrap_or_default();
        super::warn(&format!("{what} in {}-{}{skipped}", r.start(), r.end()));
        return Ok(super::EXIT_IN_USE);
    }
    if let Some(s) = skipped {
        super::warn(&s);
    }
    Ok(super::EXIT_OK)
}
