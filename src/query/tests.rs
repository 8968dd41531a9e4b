use super::*;
use crate::model::Scope;
use crate::model::diff::tests::sock;
use proptest::prelude::*;

fn snap_with_node() -> Snapshot {
    let mut snap = Snapshot::empty(Scope::All);
    let mut node = crate::model::process::fixture(10, "node", 'S');
    node.cmdline = vec!["node".into(), "server.js".into(), "--Port=3000".into()];
    node.exe = None;
    snap.processes.insert(10, node);
    snap.users.insert(1000, "alice".into());
    snap
}

fn m(q: &str, s: &Socket) -> bool {
    parse(q)
        .unwrap()
        .matches_socket(s, &snap_with_node(), Flags::empty())
}

#[test]
fn ports_and_ranges() {
    let s = sock(3000, 51000, 1, State::Estab, 10);
    assert!(m(":3000", &s));
    assert!(m("port:51000", &s));
    assert!(m("port:2999-3001", &s));
    assert!(m("lport:3000", &s));
    assert!(!m("rport:3000", &s));
    assert!(m("rport:50000-52000", &s));
    assert!(m("port:80,3000", &s));
    assert!(!m("port:80,443", &s));
    // Port 0 is no port a person names: the same words as everywhere (1-65535).
    let e = crate::query::parse("rport:0").unwrap_err().to_string();
    assert!(e.contains("`0` is not a port (1-65535)"), "{e}");
    let e = crate::query::parse("port:+80").unwrap_err().to_string();
    assert!(e.contains("`+80` is not a port (1-65535)"), "{e}");
}

#[test]
fn states_protos_and_negation() {
    let l = sock(3000, 0, 2, State::Listen, 10);
    let tw = sock(3000, 4000, 0, State::TimeWait, 0);
    assert!(m("state:listen", &l));
    assert!(m("state:tw", &tw));
    assert!(m("state:listen,tw", &tw));
    assert!(m("!state:tw", &l));
    assert!(!m("!state:tw", &tw));
    assert!(m("tcp v4", &l));
    assert!(!m("udp", &l));
    assert!(!m("v6", &l));
    assert!(m("proto:tcp", &l));
    assert!(m("state:connected", &tw));
    assert!(!m("state:connected", &l));
}

#[test]
fn owners_users_and_words() {
    let s = sock(3000, 0, 2, State::Listen, 10);
    let k = sock(3000, 4000, 0, State::TimeWait, 0);
    assert!(m("pid:10", &s));
    assert!(m("pid:9,10", &s));
    assert!(!m("pid:11", &s));
    assert!(m("proc:NO", &s));
    assert!(!m("proc:node", &k));
    assert!(m("user:alice", &s));
    assert!(m("user:1000", &s));
    assert!(!m("user:bob", &s));
    assert!(m("SERVER.JS", &s));
    assert!(m("--port=3000", &s));
    assert!(m("127.0.0.1:3000", &s));
    assert!(!m("python", &s));
    assert!(m("node :3000 !state:tw", &s));
}

#[test]
fn flags_come_from_the_caller() {
    let s = sock(3000, 0, 2, State::Listen, 10);
    let q = parse("flag:stopped").unwrap();
    let snap = snap_with_node();
    assert!(!q.matches_socket(&s, &snap, Flags::empty()));
    assert!(q.matches_socket(&s, &snap, Flags::empty().with(Flag::Stopped)));
}

#[test]
fn errors_name_the_term_and_column() {
    let e = parse("tcp port:abc").unwrap_err();
    assert_eq!(e.column, 5);
    assert_eq!(e.term, "port:abc");
    assert!(
        e.to_string().contains("`abc` is not a port (1-65535)"),
        "{e}"
    );
    let e = parse("state:nope").unwrap_err();
    assert!(e.reason.contains("unknown state"), "{e}");
    let e = parse("colour:red").unwrap_err();
    assert!(e.reason.contains("unknown key `colour`"), "{e}");
    assert!(parse("port:").is_err());
    let e = parse("closed:").unwrap_err();
    assert!(
        e.reason
            .contains("needs a value (closed:any, closed:short or closed:seen)"),
        "{e}"
    );
    assert!(parse("!").is_err());
    assert!(parse("port:9-1").is_err());
    assert!(parse("port:70000").is_err());
    assert!(parse("flag:weird").is_err());
    assert!(parse("é port:x").unwrap_err().column == 3);
}

#[test]
fn addresses_are_words_not_keys() {
    assert_eq!(
        parse("::1").unwrap().terms()[0].test,
        Test::Word("::1".into())
    );
    assert_eq!(
        parse("[::1]:80").unwrap().terms()[0].test,
        Test::Word("[::1]:80".into())
    );
    // Hex that looks like a key: still an address.
    assert_eq!(
        parse("fd00::1").unwrap().terms()[0].test,
        Test::Word("fd00::1".into())
    );
    assert_eq!(
        parse("DEAD:beef::1").unwrap().terms()[0].test,
        Test::Word("dead:beef::1".into())
    );
    assert!(parse("").unwrap().is_empty());
    assert!(parse("   ").unwrap().is_empty());
}

proptest! {
    #[test]
    fn parser_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_query_like_input(s in "[!:a-z0-9,\\- ]{0,40}") {
        if let Err(e) = parse(&s) {
            prop_assert!(e.column >= 1 && e.column <= s.chars().count());
            prop_assert!(s.contains(&e.term));
        }
    }
}

#[test]
fn namespaces_by_name_or_inode() {
    let mut snap = snap_with_node();
    snap.netns.host = 5;
    snap.netns.others.insert(
        9,
        crate::model::Netns {
            inode: 9,
            name: "barweb".into(),
            kind: crate::model::NetnsKind::Container,
        },
    );
    let mut s = sock(80, 0, 1, State::Listen, 100);
    let q = |t: &str, s: &Socket| parse(t).unwrap().matches_socket(s, &snap, Flags::empty());
    assert!(q("netns:host", &s));
    assert!(!q("netns:barweb", &s));
    s.netns = 9;
    assert!(q("netns:BarWeb", &s));
    assert!(q("netns:9", &s));
    assert!(q("!netns:host", &s));
}

/// A socket from `local` to `remote`, owned by the node process (10) whose command line
/// names 127.0.0.3.
fn at(local: &str, remote: &str) -> Socket {
    let mut s = sock(1, 1, 1, State::Estab, 10);
    s.set_local(local.parse().unwrap());
    s.set_remote(remote.parse().unwrap());
    if s.local().ip().is_ipv6() || local.starts_with("[::ffff:") {
        s.proto = crate::model::Proto::Tcp6;
    }
    s
}

fn snap_mentioning(addr: &str) -> Snapshot {
    let mut snap = snap_with_node();
    if let Some(p) = snap.processes.get_mut(&10) {
        p.cmdline.push(format!("--upstream={addr}"));
    }
    snap
}

#[test]
fn addr_terms_match_whole_addresses() {
    let snap = snap_mentioning("127.0.0.3");
    let m = |q: &str, s: &Socket| parse(q).unwrap().matches_socket(s, &snap, Flags::empty());
    let three = at("127.0.0.3:8000", "127.0.0.1:50000");
    let thirty_five = at("127.0.0.35:8000", "127.0.0.1:50001");
    let elsewhere = at("127.0.0.1:50002", "127.0.0.1:9000");
    let to_three = at("127.0.0.1:50003", "127.0.0.3:8000");
    for q in ["addr:127.0.0.3", "addr:127.0.0.3:8000", "laddr:127.0.0.3"] {
        assert!(m(q, &three), "{q}");
        assert!(!m(q, &thirty_five), "{q}: 127.0.0.35 is another address");
        assert!(!m(q, &elsewhere), "{q}: a command line is not an address");
    }
    assert!(!m("addr:127.0.0.3:8001", &three), "another port");
    assert!(m("addr:127.0.0.3", &to_three), "either end");
    assert!(m("raddr:127.0.0.3:8000", &to_three));
    assert!(!m("laddr:127.0.0.3", &to_three));
    assert!(!m("raddr:127.0.0.3", &three));
    assert!(m("addr:10.0.0.1,127.0.0.35", &thirty_five), "a list");
    assert!(m("!addr:127.0.0.3", &thirty_five));
    // The live view's bare words stay substring searches.
    assert!(m("127.0.0.3", &thirty_five));
    assert!(m("127.0.0.3", &elsewhere));
}

#[test]
fn addr_terms_read_mapped_v4_as_v4_and_v6_in_brackets() {
    let snap = snap_with_node();
    let m = |q: &str, s: &Socket| parse(q).unwrap().matches_socket(s, &snap, Flags::empty());
    let mapped = at("[::ffff:127.0.0.3]:8000", "[::ffff:127.0.0.1]:50000");
    assert!(m("addr:127.0.0.3", &mapped));
    assert!(m("addr:::ffff:127.0.0.3", &mapped));
    assert!(m("addr:[::ffff:127.0.0.3]:8000", &mapped));
    assert!(!m("addr:127.0.0.35", &mapped));
    let plain = at("127.0.0.3:8000", "127.0.0.1:50000");
    assert!(m("addr:[::ffff:127.0.0.3]:8000", &plain));
    let v6 = at("[fd00::3]:443", "[fd00::35]:50000");
    for q in [
        "addr:fd00::3",
        "addr:[fd00::3]",
        "addr:[fd00::3]:443",
        "raddr:fd00::35",
    ] {
        assert!(m(q, &v6), "{q}");
    }
    assert!(!m("addr:fd00::", &v6));
    assert!(!m("addr:[fd00::3]:80", &v6));
    assert!(!m("laddr:fd00::35", &v6));
    // An unconnected socket has no remote end: its 0.0.0.0 is not an address it talks to.
    let listener = at("127.0.0.3:8000", "0.0.0.0:0");
    assert!(!m("raddr:0.0.0.0", &listener));
    assert!(!m("addr:0.0.0.0", &listener));
    assert!(m("addr:127.0.0.3", &listener));
    let e = parse("addr:localhost").unwrap_err();
    assert!(e.reason.contains("`localhost` is not an address"), "{e}");
    assert!(parse("addr:127.0.0.3:99999").is_err());
    assert!(parse("laddr:").is_err());
}

#[test]
fn exact_queries_turn_address_words_exact_and_refuse_free_words() {
    let snap = snap_mentioning("127.0.0.3");
    let m = |q: &str, s: &Socket| {
        parse_exact(q)
            .unwrap()
            .matches_socket(s, &snap, Flags::empty())
    };
    let three = at("127.0.0.3:8000", "127.0.0.1:50000");
    let thirty_five = at("127.0.0.35:8000", "127.0.0.1:50001");
    let elsewhere = at("127.0.0.1:50002", "127.0.0.1:9000");
    assert!(m("127.0.0.3", &three));
    assert!(!m("127.0.0.3", &thirty_five));
    assert!(
        !m("127.0.0.3", &elsewhere),
        "the command line names it: not selected"
    );
    assert!(m("127.0.0.3:8000 state:estab", &three));
    assert!(m("::ffff:127.0.0.3", &three));
    assert!(!m("!127.0.0.3", &three));
    assert_eq!(
        parse_exact("127.0.0.3").unwrap().terms()[0].test,
        Test::Addr(
            Side::Either,
            vec![AddrPat {
                ip: "127.0.0.3".parse().unwrap(),
                port: None
            }]
        )
    );
    assert!(parse_exact("[::1]:80 tcp").unwrap().narrows());
    assert!(
        !parse("[::1]:80 tcp").unwrap().narrows(),
        "a word narrows nothing"
    );
    assert_eq!(
        parse_exact(":22 Node"),
        Err(ExactError::FreeWord("Node".into()))
    );
    assert_eq!(
        parse_exact("!server.js"),
        Err(ExactError::FreeWord("server.js".into()))
    );
    assert!(matches!(
        parse_exact("port:x node"),
        Err(ExactError::Query(_))
    ));
    assert!(
        parse_exact("proc:node :22 tcp v6").is_ok(),
        "keyed terms are not free words"
    );
    // `proc:` names a whole process name where it acts: `nod` is not `node`.
    assert!(m("proc:NODE 127.0.0.3", &three));
    assert!(!m("proc:nod 127.0.0.3", &three));
    assert!(
        parse("proc:nod")
            .unwrap()
            .matches_socket(&three, &snap, Flags::empty())
    );
}

#[test]
fn udp_and_narrowing_are_read_from_positive_terms() {
    assert!(parse(":53 proto:udp").unwrap().names_udp());
    assert!(parse("udp").unwrap().names_udp());
    assert!(!parse("!udp :53").unwrap().names_udp());
    assert!(!parse("tcp").unwrap().names_udp());
    for q in [":3000", "pid:1", "inode:5", "laddr:10.0.0.1", "rport:80"] {
        assert!(parse(q).unwrap().narrows(), "{q}");
    }
    for q in ["state:estab", "!:3000", "tcp user:alice", "proc:node"] {
        assert!(!parse(q).unwrap().narrows(), "{q}");
    }
}

#[test]
fn closed_terms_match_the_connections_the_kernel_freed() {
    use crate::model::events::{Event, EventKind, Life};
    use crate::model::lifecycle::Maker;
    let snap = snap_with_node();
    let s = at("127.0.0.1:8080", "127.0.0.1:51000");
    let event = |short: Option<bool>| Event {
        at: std::time::SystemTime::UNIX_EPOCH,
        kind: EventKind::Closed,
        socket: s.key(),
        state: State::Unconn,
        owner_status: crate::model::OwnerStatus::Unknown,
        owners: Default::default(),
        names: "uid 33".into(),
        old_names: String::new(),
        flags: Flags::empty(),
        life: short.map(|short_lived| {
            Box::new(Life {
                by: Maker::Uid {
                    uid: 33,
                    user: None,
                },
                short_lived,
                tcp: None,
            })
        }),
        folded: None,
    };
    let m = |q: &str, e: &Event| parse(q).unwrap().matches(&Subject::event(e, &snap));
    let short = event(Some(true));
    let seen = event(Some(false));
    let plain = event(None);
    assert!(m("closed:short", &short) && !m("closed:short", &seen));
    assert!(m("closed:seen", &seen) && !m("closed:seen", &short));
    assert!(m("closed:any", &short) && m("closed:any", &seen));
    assert!(
        !m("closed:any", &plain),
        "the diff's closed events are not freed ones"
    );
    assert!(m("!closed:short", &plain));
    assert!(
        !parse("closed:any")
            .unwrap()
            .matches_socket(&s, &snap, Flags::empty())
    );
    let e = parse("closed:maybe").unwrap_err();
    assert!(e.reason.contains("closed:short"), "{e}");
}
