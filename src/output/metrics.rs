//! Prometheus metrics of a snapshot, for `sockscope serve`: built with prometheus-client
//! once per snapshot, encoded as OpenMetrics, and turned into the classic text format
//! (0.0.4) for clients that do not ask for OpenMetrics.
//!
//! Label sets stay bounded whatever the traffic: ports are labels only as listening
//! (server) ports or as the remote service port of a client connection that is not
//! itself ephemeral; ports and process names beyond the top N fold into `other`; remote
//! addresses are never labels. Worst case per host: see the README.

use crate::diagnose::row_flags;
use crate::model::{Flag, Snapshot, Socket, State};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub type Labels = Vec<(String, String)>;

/// Event counters kept across snapshots by the server.
#[derive(Clone, Debug, Default)]
pub struct EventCounters {
    pub family: Family<Labels, Counter>,
}

impl EventCounters {
    /// Counts one snapshot's events: `opened`, `closed`, `state_changed`,
    /// `owner_changed`.
    pub fn add(&self, kind: &str, n: u64) {
        self.family
            .get_or_create(&vec![("event".to_owned(), kind.to_owned())])
            .inc_by(n);
    }
}

/// Everything one exposition is built from.
pub struct Inputs<'a> {
    pub snap: &'a Snapshot,
    /// Pids flagged CLOSE-WAIT-LEAK (the tracker lives in the server).
    pub leaking: &'a HashSet<u32>,
    pub events: &'a EventCounters,
    pub top: usize,
    /// How long the snapshot took.
    pub took: Duration,
    /// Whether the last collection worked.
    pub ok: bool,
    pub collector: &'a str,
    pub ephemeral: RangeInclusive<u16>,
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
    let f = Family::<Labels, Gauge>::default();
    for (l, v) in values {
        f.get_or_create(&l).inc_by(v);
    }
    reg.register(name, help, f);
}

/// The exposition as OpenMetrics text (ends with `# EOF`).
pub fn openmetrics(i: &Inputs<'_>) -> String {
    let snap = i.snap;
    let mut reg = Registry::with_prefix("sockscope");
    let host = |s: &Socket| snap.netns.is_host(s.netns);

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

    // Listeners: TCP LISTEN, and UDP bound outside the ephemeral range (a UDP socket on
    // an ephemeral port is a client's).
    let is_listener = |s: &Socket| {
        s.state == State::Listen
            || (!s.proto.is_tcp() && s.is_listener() && !i.ephemeral.contains(&s.local.port()))
    };
    let listeners: Vec<&Socket> = snap.sockets.iter().filter(|s| is_listener(s)).collect();
    let info = listeners.iter().map(|s| {
        let p = s.owners.first().and_then(|pid| snap.processes.get(pid));
        let process = p.map_or_else(
            || format!("({})", s.owner_status.as_str()),
            |p| p.name.clone(),
        );
        // The name, or the short id: never the explanation `label()` adds.
        let container = p
            .and_then(|p| p.container.as_ref())
            .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()))
            .unwrap_or_default();
        let addr = s.local.ip().to_string();
        let port = s.local.port().to_string();
        let netns = snap.netns.name(s.netns);
        (
            labels(&[
                ("proto", family_proto(s)),
                ("addr", &addr),
                ("port", &port),
                ("process", &process),
                ("container", &container),
                ("netns", &netns),
            ]),
            1,
        )
    });
    // Two listeners can share every label (v4 and v6 on one port): still 1.
    let info: BTreeMap<Labels, i64> = info.collect();
    gauge_family(
        &mut reg,
        "listener_info",
        "Listening sockets and who holds them (value always 1)",
        info,
    );

    let mut queue: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for s in listeners
        .iter()
        .filter(|s| s.state == State::Listen && host(s))
    {
        let e = queue.entry(s.local.port().to_string()).or_default();
        e.0 += i64::from(s.recv_q);
        e.1 += i64::from(s.send_q);
    }
    gauge_family(
        &mut reg,
        "listen_queue_length",
        "Connections waiting in the accept queues of a port's TCP listeners",
        queue
            .iter()
            .map(|(p, (len, _))| (labels(&[("proto", "tcp"), ("port", p)]), *len)),
    );
    gauge_family(
        &mut reg,
        "listen_queue_limit",
        "Accept queue limits (the backlogs) of a port's TCP listeners",
        queue
            .iter()
            .map(|(p, (_, lim))| (labels(&[("proto", "tcp"), ("port", p)]), *lim)),
    );

    // Connections by service port: the local port when it is listened on (server), else
    // the remote port (client), never an ephemeral one.
    let listening: HashSet<u16> = listeners
        .iter()
        .filter(|s| s.state == State::Listen)
        .map(|s| s.local.port())
        .collect();
    let mut conns: BTreeMap<(&str, u16), BTreeMap<String, u64>> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.state != State::Listen)
    {
        let (role, port) = if listening.contains(&s.local.port()) {
            ("server", s.local.port())
        } else if !i.ephemeral.contains(&s.remote.port()) {
            ("client", s.remote.port())
        } else {
            ("client", 0)
        };
        *conns
            .entry((role, port))
            .or_default()
            .entry(state_label(s.state))
            .or_default() += 1;
    }
    let totals: BTreeMap<(&str, u16), u64> = conns
        .iter()
        .filter(|((_, p), _)| *p != 0)
        .map(|(k, v)| (*k, v.values().sum()))
        .collect();
    let (kept, folded_ports) = top_n(&totals, i.top);
    let mut port_rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for ((role, port), states) in &conns {
        let port = if kept.contains(&(*role, *port)) {
            port.to_string()
        } else {
            "other".to_owned()
        };
        for (st, n) in states {
            *port_rows
                .entry(labels(&[
                    ("proto", "tcp"),
                    ("role", role),
                    ("port", &port),
                    ("state", st),
                ]))
                .or_default() += *n as i64;
        }
    }
    gauge_family(
        &mut reg,
        "port_sockets",
        "TCP connections by service port (the listening port for role=server, the remote port for role=client; top N, the rest in port=\"other\") and state",
        port_rows,
    );

    // Sockets by owning process name.
    let mut procs: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for s in &snap.sockets {
        for pid in &s.owners {
            let name = snap
                .processes
                .get(pid)
                .map_or_else(|| pid.to_string(), |p| p.name.clone());
            *procs
                .entry(name)
                .or_default()
                .entry(state_label(s.state))
                .or_default() += 1;
        }
    }
    let totals: BTreeMap<String, u64> = procs
        .iter()
        .map(|(k, v)| (k.clone(), v.values().sum()))
        .collect();
    let (kept, folded_procs) = top_n(&totals, i.top);
    let mut proc_rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for (name, states) in &procs {
        let name = if kept.contains(name) {
            name.as_str()
        } else {
            "other"
        };
        for (st, n) in states {
            *proc_rows
                .entry(labels(&[("process", name), ("state", st)]))
                .or_default() += *n as i64;
        }
    }
    gauge_family(
        &mut reg,
        "process_sockets",
        "Sockets by owning process name (top N by count, the rest in process=\"other\") and state",
        proc_rows,
    );
    gauge_family(
        &mut reg,
        "topn_folded_items",
        "Items folded into \"other\" by the top-N limit",
        [
            (labels(&[("dimension", "port")]), folded_ports as i64),
            (labels(&[("dimension", "process")]), folded_procs as i64),
        ],
    );

    // Flags of the rows, and listeners held by stopped or zombie processes.
    let flags = row_flags(snap, i.leaking);
    let mut flag_counts: BTreeMap<&str, i64> = Flag::all().map(|f| (flag_label(f), 0)).collect();
    for f in &flags {
        for flag in Flag::all().filter(|x| f.contains(*x)) {
            *flag_counts.entry(flag_label(flag)).or_default() += 1;
        }
    }
    gauge_family(
        &mut reg,
        "holder_flags",
        "Sockets carrying each diagnosis flag (stopped, orphan, zombie, backlog, close_wait_leak, docker_proxy, hidden)",
        flag_counts
            .into_iter()
            .map(|(f, n)| (labels(&[("flag", f)]), n)),
    );
    let mut stopped: BTreeMap<Labels, i64> = BTreeMap::new();
    for s in listeners.iter().filter(|s| s.state == State::Listen) {
        for p in s.owners.iter().filter_map(|pid| snap.processes.get(pid)) {
            let st = if p.is_stopped() {
                "stopped"
            } else if p.is_zombie() {
                "zombie"
            } else {
                continue;
            };
            *stopped
                .entry(labels(&[
                    ("process", &p.name),
                    ("port", &s.local.port().to_string()),
                    ("proc_state", st),
                ]))
                .or_default() += 1;
        }
    }
    gauge_family(
        &mut reg,
        "stopped_holder_sockets",
        "Listeners held by stopped (T) or zombie processes: they hold the port and serve nothing",
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
        &mut reg,
        "unowned_sockets",
        "Sockets no process was found to hold (kernel-held, hidden, or closing), TIME-WAIT aside",
        unowned
            .into_iter()
            .map(|((p, st), n)| (labels(&[("proto", p), ("state", &st)]), n)),
    );

    reg.register(
        "events",
        "Socket events seen between snapshots (opened, closed, state_changed, owner_changed)",
        i.events.family.clone(),
    );
    let eph = (u32::from(*i.ephemeral.end()) + 1).saturating_sub(u32::from(*i.ephemeral.start()));
    gauge_family(
        &mut reg,
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
    gauge_family(
        &mut reg,
        "collector_success",
        "Whether the last collection worked (1) or failed (0)",
        [(labels(&[("collector", i.collector)]), i64::from(i.ok))],
    );
    gauge_family(
        &mut reg,
        "build_info",
        "Build metadata (value always 1)",
        [(labels(&[("version", env!("CARGO_PKG_VERSION"))]), 1)],
    );
    let mut out = String::with_capacity(8192);
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
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
mod tests {
    use super::*;
    use crate::app::testkit::{process, snapshot, sock, table};
    use crate::model::{Proto, Scope};

    fn exposition(top: usize) -> String {
        let (mut s, mut p) = table();
        // A suspended holder of a listener, and 30 client connections to 30 services.
        let mut stopped = process(700, "paused", 'T');
        stopped.ppid = Some(1);
        p.push(stopped);
        s.push(sock(
            Proto::Tcp,
            "0.0.0.0:9000",
            "0.0.0.0:0",
            State::Listen,
            70,
            &[700],
        ));
        for i in 0..30u16 {
            s.push(sock(
                Proto::Tcp,
                &format!("10.0.0.1:{}", 40_000 + i),
                &format!("10.0.0.9:{}", 5000 + i),
                State::Estab,
                100 + u32::from(i),
                &[100],
            ));
        }
        let snap = snapshot(0, Scope::All, s, &p);
        let events = EventCounters::default();
        events.add("opened", 3);
        openmetrics(&Inputs {
            snap: &snap,
            leaking: &HashSet::new(),
            events: &events,
            top,
            took: Duration::from_millis(12),
            ok: true,
            collector: "sockdiag",
            ephemeral: 32768..=60999,
        })
    }

    #[test]
    fn the_exposition_has_every_family_and_bounded_labels() {
        let om = exposition(20);
        for name in [
            "sockscope_sockets{",
            "sockscope_listener_info{",
            "sockscope_listen_queue_length{",
            "sockscope_listen_queue_limit{",
            "sockscope_port_sockets{",
            "sockscope_process_sockets{",
            "sockscope_holder_flags{",
            "sockscope_unowned_sockets{",
            "sockscope_events_total{event=\"opened\"} 3",
            "sockscope_scrape_duration_seconds 0.012",
            "sockscope_collector_success{collector=\"sockdiag\"} 1",
            "sockscope_build_info{",
            "sockscope_stopped_holder_sockets{process=\"paused\",port=\"9000\",proc_state=\"stopped\"} 1",
        ] {
            assert!(om.contains(name), "{name} missing:\n{om}");
        }
        assert!(om.ends_with("# EOF\n"));
        // 30 client services, top 20: the rest are folded, and no remote address and no
        // ephemeral port is a label.
        let client_ports = om
            .lines()
            .filter(|l| l.starts_with("sockscope_port_sockets{") && l.contains("role=\"client\""))
            .count();
        assert!(client_ports <= 21, "{client_ports}");
        assert!(om.contains("port=\"other\""));
        let folded: i64 = om
            .lines()
            .find_map(|l| l.strip_prefix("sockscope_topn_folded_items{dimension=\"port\"} "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(folded >= 10, "{folded}");
        assert!(!om.contains("10.0.0.9"), "no remote addresses");
        assert!(!om.contains("port=\"40000\""), "no ephemeral ports");
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let text = text_format(&exposition(5));
        assert!(!text.contains("# EOF"));
        assert!(
            text.contains("# TYPE sockscope_events_total counter"),
            "{text}"
        );
        assert!(text.contains("# HELP sockscope_events_total "), "{text}");
        assert!(text.contains("# TYPE sockscope_sockets gauge"));
    }
}
