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
    let mut events = Counters::default();
    events.add("opened", 3);
    openmetrics(&Inputs {
        snap: &snap,
        leaking: &HashSet::new(),
        counters: &events,
        top,
        took: Duration::from_millis(12),
        ok: true,
        collector: "sockdiag",
        ephemeral: 32768..=60999,
        fresh: &crate::model::Freshness::default(),
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

/// A host with 300 listeners (each held by its own process, 30 of them stopped) and
/// traffic on two of them.
fn crowded(top: usize) -> String {
    let (mut s, mut p) = (Vec::new(), Vec::new());
    for i in 0..300u16 {
        let pid = 1000 + u32::from(i);
        p.push(process(
            pid,
            &format!("srv{i}"),
            if i < 30 { 'T' } else { 'S' },
        ));
        s.push(sock(
            Proto::Tcp,
            &format!("127.0.0.1:{}", 20_000 + i),
            "0.0.0.0:0",
            State::Listen,
            u32::from(i) + 1,
            &[pid],
        ));
    }
    // Connections to the listeners on 20299 (three) and 20150 (one).
    for (n, port) in [(1, 20_299), (2, 20_299), (3, 20_299), (4, 20_150)] {
        s.push(sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{}", 50_000 + n),
            State::Estab,
            1000 + n,
            &[1299],
        ));
    }
    let snap = snapshot(0, Scope::All, s, &p);
    openmetrics(&Inputs {
        snap: &snap,
        leaking: &HashSet::new(),
        counters: &Counters::default(),
        top,
        took: Duration::from_millis(1),
        ok: true,
        collector: "fake",
        ephemeral: 32768..=60999,
        fresh: &crate::model::Freshness::default(),
    })
}

fn samples<'a>(om: &'a str, family: &str) -> Vec<&'a str> {
    let prefix = format!("{family}{{");
    om.lines().filter(|l| l.starts_with(&prefix)).collect()
}

fn value(line: &str) -> i64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn top_bounds_the_listener_families_and_counts_the_rest_in_other() {
    let om = crowded(10);
    let info = samples(&om, "sockscope_listener_info");
    assert_eq!(info.len(), 11, "{info:#?}");
    let other: Vec<&&str> = info
        .iter()
        .filter(|l| l.contains("port=\"other\""))
        .collect();
    assert_eq!(other.len(), 1);
    assert_eq!(value(other[0]), 290);
    // The busiest listeners are named: 20299 (3 connections), 20150 (1), then the
    // lowest ports.
    for port in ["20299", "20150", "20000", "20007"] {
        assert!(
            info.iter().any(|l| l.contains(&format!("port=\"{port}\""))),
            "{port} missing: {info:#?}"
        );
    }
    assert!(!info.iter().any(|l| l.contains("port=\"20008\"")));
    assert!(
        !om.contains("process=\"srv200\""),
        "no folded name anywhere"
    );
    for family in [
        "sockscope_listen_queue_length",
        "sockscope_listen_queue_limit",
    ] {
        let q = samples(&om, family);
        assert_eq!(q.len(), 11, "{q:#?}");
        assert!(q.iter().any(|l| l.contains("port=\"other\"")));
    }
    // 30 stopped holders, top 10: 10 named and one `other` of 20.
    let stopped = samples(&om, "sockscope_stopped_holder_sockets");
    assert_eq!(stopped.len(), 11, "{stopped:#?}");
    let other = stopped
        .iter()
        .find(|l| l.contains("process=\"other\""))
        .unwrap();
    assert_eq!(value(other), 20);
    for (dim, n) in [
        ("listener", 290),
        ("listen_port", 290),
        ("stopped_holder", 20),
    ] {
        let line = format!("sockscope_topn_folded_items{{dimension=\"{dim}\"}} {n}");
        assert!(om.contains(&line), "{line} missing");
    }
    // Under the limit nothing is folded.
    let all = crowded(500);
    assert_eq!(samples(&all, "sockscope_listener_info").len(), 300);
    assert!(
        !all.lines()
            .any(|l| !l.starts_with('#') && l.contains("port=\"other\"")),
        "{all}"
    );
}

#[test]
fn series_come_out_in_the_same_order_at_every_render() {
    // Every render builds a new registry; a HashMap would order it anew each time.
    let first = crowded(500);
    for _ in 0..5 {
        assert_eq!(crowded(500), first);
    }
    let info = samples(&first, "sockscope_listener_info");
    let mut sorted = info.clone();
    sorted.sort_unstable();
    assert_eq!(info, sorted);
}

fn render(snap: &crate::model::Snapshot) -> String {
    openmetrics(&Inputs {
        snap,
        leaking: &HashSet::new(),
        counters: &Counters::default(),
        top: 20,
        took: Duration::from_millis(1),
        ok: true,
        collector: "fake",
        ephemeral: 32768..=60999,
        fresh: &crate::model::Freshness::default(),
    })
}

/// Container web1 published by docker-proxy, and its own listener on 8080 in its
/// network namespace, which the namespace table calls `table_name` (the engine's
/// file name at first, the container's name later).
fn containers(access: crate::model::container::Access, table_name: &str) -> crate::model::Snapshot {
    let mut snap = crate::app::testkit::docker_published();
    if let Some(c) = snap
        .processes
        .get_mut(&710)
        .and_then(|p| p.container.as_mut())
    {
        c.access = access;
    }
    let mut inner = sock(
        Proto::Tcp,
        "0.0.0.0:8080",
        "0.0.0.0:0",
        State::Listen,
        88,
        &[710],
    );
    inner.netns = 501;
    inner.recv_q = 3;
    snap.sockets.push(inner);
    snap.netns.others.insert(
        501,
        crate::model::Netns {
            inode: 501,
            name: table_name.into(),
            kind: crate::model::NetnsKind::Container,
        },
    );
    snap
}

/// A docker-proxy's listener names the container the engine says it publishes; the
/// container's own listener has its accept queue counted, under its namespace; and its
/// labels are the same from the first series on.
#[test]
fn container_listeners_are_labelled_by_the_engine_and_keep_their_labels() {
    use crate::model::container::Access;
    let om = render(&containers(Access::Known, "sandbox0a1b2c"));
    let info = samples(&om, "sockscope_listener_info");
    let proxy = info.iter().find(|l| l.contains("port=\"32768\"")).unwrap();
    assert!(
        proxy.contains("process=\"docker-proxy\"") && proxy.contains("container=\"web1\""),
        "{proxy}"
    );
    assert!(proxy.contains("netns=\"host\""), "{proxy}");
    let inner = info.iter().find(|l| l.contains("port=\"8080\"")).unwrap();
    assert!(
        inner.contains("container=\"web1\"") && inner.contains("netns=\"web1\""),
        "{inner}"
    );
    let queue = samples(&om, "sockscope_listen_queue_length");
    assert!(
        queue.contains(
            &"sockscope_listen_queue_length{proto=\"tcp\",port=\"8080\",netns=\"web1\"} 3"
        ),
        "{queue:#?}"
    );
    // Later the table names the namespace after the container: nothing changes.
    assert_eq!(render(&containers(Access::Known, "web1")), om);
    // While the engine has not answered, the container's listener waits (no series
    // with a name that is about to change).
    let early = render(&containers(Access::Pending, "sandbox0a1b2c"));
    let info = samples(&early, "sockscope_listener_info").join("\n");
    assert!(!info.contains("port=\"8080\""), "{info}");
    // A proxy started a moment ago whose port the engine's list lacks yet waits too,
    // then (the engine knows nothing of it: another engine's) it is container="".
    let mut young = containers(Access::Known, "web1");
    young.published.clear();
    let now = young
        .taken_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    young.processes.get_mut(&700).unwrap().start_time = now.as_secs() - 2;
    let info = samples(&render(&young), "sockscope_listener_info").join("\n");
    assert!(!info.contains("port=\"32768\""), "{info}");
    young.processes.get_mut(&700).unwrap().start_time = now.as_secs() - 60;
    let info = samples(&render(&young), "sockscope_listener_info").join("\n");
    let unknown = "port=\"32768\",process=\"docker-proxy\",container=\"\"";
    assert!(info.contains(unknown), "{info}");
    // The engine's list has the container before its inspection names it: wait.
    let mut listed = containers(Access::Known, "web1");
    for e in &mut listed.published {
        e.container.name = None;
        e.container.access = Access::Pending;
    }
    let info = samples(&render(&listed), "sockscope_listener_info").join("\n");
    assert!(!info.contains("port=\"32768\""), "{info}");
}
