//! `sockscope watch [QUERY]`: a stream of socket events until interrupted or `--count`.
//! It runs on the live view's machinery (`runtime::watch`).

use crate::cli::WatchArgs;
use crate::collect::{self, CollectorKind};
use crate::error::Result;
use crate::query;
use crate::runtime::watch::{WatchOptions, run as watch};

pub fn run(args: &WatchArgs, kind: CollectorKind, budget: crate::model::Budget) -> Result<u8> {
    let query = query::parse(&args.query.join(" "))?;
    let collector = collect::open(kind)?;
    watch(
        collector,
        WatchOptions {
            query,
            json: args.json,
            count: args.count,
            interval: args.interval,
            budget,
        },
    )
}
