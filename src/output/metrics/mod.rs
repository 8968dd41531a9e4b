//! Prometheus metrics of a snapshot, for `sockscope serve`: built with prometheus-client
//! once per snapshot, encoded as OpenMetrics, and turned into the classic text format
//! (0.0.4) for clients that do not ask for OpenMetrics.
//!
//! Label sets stay bounded whatever the traffic and however many listeners a host has:
//! ports are labels only as listening (server) ports or as the remote service port of a
//! client connection that is not itself ephemeral; every family with a port or process
//! label keeps its top N series and folds the rest into `other` (listeners and their
//! accept queues too: they rank by the connections their port serves, then by port
//! number); remote addresses are never labels. Worst case per host: see docs/metrics.md.
//!
//! Series come out sorted by their labels, the same order at every scrape
//! (prometheus-client's `Family` keeps a `HashMap`, whose order changes from one
//! snapshot's registry to the next).

mod counters;
mod families;

pub use counters::{Counters, IDLE_SNAPSHOTS};

use crate::diagnose::row_flags;
use crate::model::{Flag, Snapshot, Socket, State};
use families::{
    listen_queues, listener_info, listeners, process_sockets, service_ports, stopped_holders,
    time_wait_makers,
};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub type Labels = Vec<(String, String)>;

/// One family's series in label order (a `BTreeMap` sorts them), so that every scrape
/// lists them alike.
#[derive(Debug)]
struct Sorted {
    kind: MetricType,
    rows: BTreeMap<Labels, i64>,
}

impl EncodeMetric for Sorted {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (l, v) in &self.rows {
            let mut e = encoder.encode_family(l)?;
            if self.kind == MetricType::Counter {
                e.encode_counter::<NoLabelSet, _, u64>(&v.unsigned_abs(), None)?;
            } else {
                e.encode_gauge(v)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }
}

/// Everything one exposition is built from.
pub struct Inputs<'a> {
    pub snap: &'a Snapshot,
    /// Pids flagged CLOSE-WAIT-LEAK (the tracker lives in the server).
    pub leaking: &'a HashSet<u32>,
    /// What the server counted across snapshots.
    pub counters: &'a Counters,
    pub top: usize,
    /// How long the snapshot took.
    pub took: Duration,
    /// Whether the last collection worked.
    pub ok: bool,
    pub collector: &'a str,
    pub ephemeral: RangeInclusive<u16>,
    /// How fresh the table is: under a CPU budget the full table is older than the
    /// listeners.
    pub fresh: &'a crate::model::Freshness,
}

fn state_label(s: State) -> String {
    s.to_string().to_ascii_lowercase().replace('-', "_")
}

fn family_proto(s: &Socket) -> &'static str {
    if s.proto.is_tcp() { "tcp" } else { "udp" }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Keeps the `top` keys with the largest totals; the rest become `other`. Returns the
/// mapping and how many keys were folded.
fn top_n<K: Ord + Clone + std::hash::Hash>(
    totals: &BTreeMap<K, u64>,
    top: usize,
) -> (HashSet<K>, usize) {
    let mut v: Vec<(&K, &u64)> = totals.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let kept: HashSet<K> = v.iter().take(top).map(|(k, _)| (*k).clone()).collect();
    let folded = totals.len().saturating_sub(kept.len());
    (kept, folded)
}

fn gauge_family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, i64)>,
) {
    let mut rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for (l, v) in values {
        *rows.entry(l).or_default() += v;
    }
    let kind = MetricType::Gauge;
    reg.register(name, help, Sorted { kind, rows });
}

fn counter_family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, i64)>,
) {
    let rows: BTreeMap<Labels, i64> = values.into_iter().collect();
    let kind = MetricType::Counter;
    reg.register(name, help, Sorted { kind, rows });
}

/// The exposition as OpenMetrics text (ends with `# EOF`).
pub fn openmetrics(i: &Inputs<'_>) -> String {
    let snap = i.snap;
    let mut reg = Registry::with_prefix("sockscope");

    // Sockets by protocol and state (every namespace).
    let mut by_state: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for s in &snap.sockets {
        *by_state
            .entry((family_proto(s), state_label(s.state)))
            .or_default() += 1;
    }
    gauge_family(
        &mut reg,
        "sockets",
        "Sockets by protocol and state, every network namespace read",
        by_state
            .into_iter()
            .map(|((p, st), n)| (labels(&[("proto", p), ("state", &st)]), n)),
    );

    let listeners = listeners(snap, &i.ephemeral);
    let ports = service_ports(snap, &listeners, i);
    let (info, folded_listeners) = listener_info(snap, &listeners, &ports.served, i.top);
    gauge_family(
        &mut reg,
        "listener_info",
        "Listening sockets and who holds them (1 per listener; top N by the connections their port serves, the rest counted in port=\"other\")",
        info,
    );
    let queues = listen_queues(snap, &listeners, &ports.served, i.top);
    gauge_family(
        &mut reg,
        "listen_queue_length",
        "Connections waiting in the accept queues of a port's TCP listeners, by network namespace (top N, the rest summed in port=\"other\")",
        queues.length,
    );
    gauge_family(
        &mut reg,
        "listen_queue_limit",
        "Accept queue limits (the backlogs) of a port's TCP listeners, by network namespace (top N, the rest summed in port=\"other\")",
        queues.limit,
    );
    gauge_family(
        &mut reg,
        "port_sockets",
        "TCP connections by service port (the listening port for role=server, the remote port for role=client; top N, the rest in port=\"other\") and state",
        ports.rows,
    );
    let (proc_rows, folded_procs) = process_sockets(snap, i.top);
    gauge_family(
        &mut reg,
        "process_sockets",
        "Sockets by owning process name (top N by count, the rest in process=\"other\") and state",
        proc_rows,
    );
    let (stopped, folded_stopped) = stopped_holders(snap, &listeners, i.top);
    let (makers, folded_makers) = time_wait_makers(snap, i.top);
    gauge_family(
        &mut reg,
        "time_wait_sockets_by_maker",
        "TIME-WAIT sockets by who made their connection: a process name, uid:N when only the uid is known, unknown when no poll or event saw it (top N, the rest in maker=\"other\")",
        makers,
    );
    gauge_family(
        &mut reg,
        "topn_folded_items",
        "Items folded into \"other\" by the top-N limit",
        [
            ("port", ports.folded),
            ("process", folded_procs),
            ("listener", folded_listeners),
            ("listen_port", queues.folded),
            ("stopped_holder", folded_stopped),
            ("time_wait_maker", folded_makers),
        ]
        .map(|(d, n)| (labels(&[("dimension", d)]), n as i64)),
    );

    holder_families(&mut reg, i, stopped);
    meta_families(&mut reg, i);
    let mut out = String::with_capacity(8192);
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// Flags of the rows, listeners held by stopped or zombie processes, and sockets nobody
/// holds.
fn holder_families(reg: &mut Registry, i: &Inputs<'_>, stopped: BTreeMap<Labels, i64>) {
    let snap = i.snap;
    let flags = row_flags(snap, i.leaking);
    let mut flag_counts: BTreeMap<&str, i64> = Flag::all().map(|f| (flag_label(f), 0)).collect();
    for f in &flags {
        for flag in Flag::all().filter(|x| f.contains(*x)) {
            *flag_counts.entry(flag_label(flag)).or_default() += 1;
        }
    }
    gauge_family(
        reg,
        "holder_flags",
        "Sockets carrying each diagnosis flag (stopped, orphan, zombie, backlog, close_wait_leak, docker_proxy, hidden)",
        flag_counts
            .into_iter()
            .map(|(f, n)| (labels(&[("flag", f)]), n)),
    );
    gauge_family(
        reg,
        "stopped_holder_sockets",
        "Listeners held by stopped (T) or zombie processes: they hold the port and serve nothing (top N, the rest in process=\"other\",port=\"other\")",
        stopped,
    );

    let mut unowned: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.owners.is_empty() && s.state != State::TimeWait)
    {
        *unowned
            .entry((family_proto(s), state_label(s.state)))
            .or_default() += 1;
    }
    gauge_family(
        reg,
        "unowned_sockets",
        "Sockets no process was found to hold (kernel-held, hidden, or closing), TIME-WAIT aside",
        unowned
            .into_iter()
            .map(|((p, st), n)| (labels(&[("proto", p), ("state", &st)]), n)),
    );
}

/// Event counters, and what describes the host, the collection and the build.
fn meta_families(reg: &mut Registry, i: &Inputs<'_>) {
    let events = i
        .counters
        .events()
        .iter()
        .map(|(k, n)| {
            (
                labels(&[("event", k)]),
                i64::try_from(*n).unwrap_or(i64::MAX),
            )
        })
        .collect();
    reg.register(
        "events",
        "Socket events seen between snapshots (opened, closed, state_changed, owner_changed)",
        Sorted {
            kind: MetricType::Counter,
            rows: events,
        },
    );
    counter_family(
        reg,
        "process_traffic_bytes",
        "TCP payload bytes received (rx) and sent and acknowledged (tx) by process name, from tcp_info (loopback included, UDP not; no packet capture); connections closed between snapshots count toward their maker (at most N names, the rest in process=\"other\")",
        i.counters.traffic_rows(),
    );
    counter_family(
        reg,
        "closed_connections",
        "Connections the kernel freed (destroy events), by service port: the listening port for role=server, the remote port for role=client (port=\"ephemeral\" when that is an ephemeral port); at most N ports, the rest in port=\"other\"",
        i.counters.closed_rows(),
    );
    counter_family(
        reg,
        "destroy_events_lost",
        "Times the kernel's queue of destroy events overflowed (ENOBUFS): closed connections were missed, the table was resynced",
        [(
            Labels::new(),
            i64::try_from(i.counters.lost).unwrap_or(i64::MAX),
        )],
    );
    let eph = (u32::from(*i.ephemeral.end()) + 1).saturating_sub(u32::from(*i.ephemeral.start()));
    gauge_family(
        reg,
        "ephemeral_port_range_ports",
        "Size of net.ipv4.ip_local_port_range",
        [(Labels::new(), i64::from(eph))],
    );
    let took = Gauge::<f64, AtomicU64>::default();
    took.set(i.took.as_secs_f64());
    reg.register(
        "scrape_duration_seconds",
        "How long the snapshot served took to collect",
        took,
    );
    // Under a CPU budget the full table is read less often than the listeners: when
    // it was read, so that `time() - sockscope_full_table_timestamp_seconds` says how
    // old the sockets other than listeners may be, and how often it is read.
    let full_at = Gauge::<f64, AtomicU64>::default();
    full_at.set(
        i.fresh
            .full_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
    );
    reg.register(
        "full_table_timestamp_seconds",
        "When the last full socket table was read (Unix time); listeners are read every interval, the rest of the table at least this recently",
        full_at,
    );
    let period = Gauge::<f64, AtomicU64>::default();
    period.set(i.fresh.full_period().as_secs_f64());
    reg.register(
        "full_table_period_seconds",
        "How often the full socket table is read: the interval, or a multiple of it when the CPU budget (--budget) does not allow it every interval",
        period,
    );
    gauge_family(
        reg,
        "collector_success",
        "Whether the last collection worked (1) or failed (0)",
        [(labels(&[("collector", i.collector)]), i64::from(i.ok))],
    );
    gauge_family(
        reg,
        "build_info",
        "Build metadata (value always 1)",
        [(labels(&[("version", env!("CARGO_PKG_VERSION"))]), 1)],
    );
}

fn flag_label(f: Flag) -> &'static str {
    match f {
        Flag::Stopped => "stopped",
        Flag::Orphan => "orphan",
        Flag::Zombie => "zombie",
        Flag::Backlog => "backlog",
        Flag::CloseWaitLeak => "close_wait_leak",
        Flag::DockerProxy => "docker_proxy",
        Flag::Hidden => "hidden",
    }
}

/// The classic text format (0.0.4) from an OpenMetrics exposition: no `# EOF` or
/// `# UNIT`, and a counter's HELP and TYPE carry its sample name (`…_total`).
pub fn text_format(openmetrics: &str) -> String {
    let mut counters: HashMap<&str, ()> = HashMap::new();
    for l in openmetrics.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ")
            && let Some((name, "counter")) = rest.split_once(' ')
        {
            counters.insert(name, ());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for l in openmetrics.lines() {
        if l == "# EOF" || l.starts_with("# UNIT ") {
            continue;
        }
        let meta = l
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| l.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        if let Some((head, rest)) = meta
            && let Some((name, tail)) = rest.split_once(' ')
            && counters.contains_key(name)
        {
            out.push_str(&format!("{head}{name}_total {tail}\n"));
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
