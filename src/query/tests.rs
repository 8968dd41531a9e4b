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
    // A listener's remote port 0 never matches a remote test.
    let l = sock(3000, 0, 2, State::Listen, 10);
    assert!(!m("rport:0", &l));
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
    assert!(e.to_string().contains("`abc` is not a port number"), "{e}");
    let e = parse("state:nope").unwrap_err();
    assert!(e.reason.contains("unknown state"), "{e}");
    let e = parse("colour:red").unwrap_err();
    assert!(e.reason.contains("unknown key `colour`"), "{e}");
    assert!(parse("port:").is_err());
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
