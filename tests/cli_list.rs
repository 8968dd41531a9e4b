//! `sockscope list` as a user runs it: the real binary, piped output.

use crate::support::*;
use std::process::{Command, Output};

fn list(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("list")
        .args(args)
        .output()
        .expect("run sockscope")
}

#[test]
fn plain_table_shows_our_listener() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = list(&[&format!("lport:{port} tcp")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("PROTO") && header.contains("PROCESS"),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].contains(&format!("127.0.0.1:{port}")));
    assert!(rows[0].contains("LISTEN"));
    assert!(
        rows[0].contains(&format!("{}/", std::process::id())),
        "{}",
        rows[0]
    );
}

#[test]
fn json_has_version_and_owner_objects() {
    let l = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = list(&["--json", &format!("lport:{port} tcp")]);
    assert!(out.status.success());
    // Piped, the document is one line (indented only for a terminal).
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema("list.schema.json", &doc);
    assert_eq!(doc["version"], 3);
    assert_eq!(doc["scope"], "listeners");
    // Ours: a test's IPv4 listener may have the same port number.
    let s = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["proto"] == "tcp6")
        .unwrap_or_else(|| panic!("our tcp6 listener: {doc}"));
    assert_eq!(s["proto"], "tcp6");
    assert_eq!(s["state"], "LISTEN");
    assert_eq!(s["local"]["addr"], "::1");
    assert_eq!(s["local"]["port"], port);
    assert_eq!(s["owner_status"], "known");
    let owner = &s["owners"][0];
    assert_eq!(owner["pid"], std::process::id());
    assert!(owner["cmdline"].is_array());
    assert!(owner["start_ticks"].as_u64().unwrap() > 0);
    assert_eq!(s["netns"]["name"], "host");
    assert!(owner["supervisor"].is_null() || owner["supervisor"].is_object());
}

#[test]
fn csv_has_a_header_and_quoted_rows() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = list(&["--csv", "--all", &format!("lport:{port} tcp state:listen")]);
    assert!(out.status.success());
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[0], "proto");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "LISTEN");
    assert_eq!(&rows[0][5], port.to_string().as_str());
}

/// CSV and JSON write the wildcard address the same way: `0.0.0.0` / `::`, no `*`.
#[test]
fn csv_and_json_write_the_wildcard_alike() {
    let l = std::net::TcpListener::bind("[::]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let q = format!("lport:{port} tcp6 state:listen");
    let out = list(&["--csv", &q]);
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let row = r.records().next().unwrap().unwrap();
    let out = list(&["--json", &q]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let json = &doc["sockets"][0];
    assert_eq!(&row[4], "::");
    assert_eq!(json["local"]["addr"], "::");
    assert_eq!(&row[6], json["remote"]["addr"].as_str().unwrap());
}

#[test]
fn bad_query_is_one_line_and_exit_2() {
    let out = list(&["port:abc"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("port:abc") && err.contains("column 1"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bare_sockscope_points_to_list_when_not_a_tty() {
    let out = Command::new(bin()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sockscope list"));
}

/// A child whose argv[0] and comm carry terminal escapes and a bidi override: plain output
/// must show them escaped, never raw.
#[test]
fn hostile_process_names_never_reach_the_terminal_raw() {
    let script = format!(
        r#"{PY_LISTEN}
import ctypes
ctypes.CDLL(None).prctl(15, b"ev\x1b[31mil\x07", 0, 0, 0)
s = listen()
print(s.getsockname()[1])
sys.stdin.read()
"#
    );
    // exec -a sets argv[0] to ESC ] 0 ; x BEL, U+202E. It needs the real interpreter, not
    // a wrapper script (pyenv shims exec python again with their own argv[0]).
    let py = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let py = String::from_utf8(py.stdout).unwrap().trim().to_owned();
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        "exec -a $'\\x1b]0;x\\x07\\u202eevil' \"$1\" -u -c \"$0\"",
        &script,
        &py,
    ]);
    let mut kid = Kid::spawn(cmd);
    let port: u16 = kid.line().parse().unwrap();
    for args in [
        vec![format!(":{port}")],
        vec!["--json".into(), format!(":{port}")],
        vec!["--csv".into(), format!(":{port}")],
    ] {
        let out = Command::new(bin())
            .arg("list")
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&port.to_string()), "{text}");
        assert!(
            !text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}'),
            "{text:?}"
        );
        assert!(
            text.contains("\\e") || text.contains("\\\\e"),
            "escape shown visibly: {text}"
        );
        assert!(
            text.contains("u{202e}"),
            "bidi override shown visibly: {text}"
        );
    }
}

#[test]
fn listeners_by_default_everything_with_all() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _s = l.accept().unwrap();
    let count = |args: &[&str]| {
        let out = list(args);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().lines().count() - 1
    };
    let q = format!("port:{port} tcp pid:{}", std::process::id());
    assert_eq!(count(&[&q]), 1);
    // listener + client end + server end
    assert_eq!(count(&["--all", &q]), 3);
    assert_eq!(count(&["--all", &q, "!state:listen"]), 2);
}

/// `list --all --json` gives each TCP connection its tcp_info: a transfer of a known
/// size is counted to the byte at both ends (payload only: the SYN is not).
#[test]
fn list_json_counts_a_connections_bytes_each_way() {
    use std::io::{Read, Write};
    const N: usize = 123_456;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut a, _) = l.accept().unwrap();
    c.write_all(&vec![1u8; N]).unwrap();
    let mut got = vec![0u8; N];
    a.read_exact(&mut got).unwrap();
    let client = c.local_addr().unwrap().port();
    // Acknowledged by the time the reader has it all; poll for the kernel's counters.
    let doc = wait_for("the counters", || {
        let (code, out, _) = run(&["list", "--all", "--json", &format!("port:{port}")]);
        assert_eq!(code, 0);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let sent = doc["sockets"]
            .as_array()?
            .iter()
            .find(|s| s["local"]["port"] == client)?["tcp"]["bytes_sent"]
            .as_u64()?;
        (sent == N as u64).then_some(doc)
    });
    assert_schema("list.schema.json", &doc);
    let server = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"]["port"] == port && s["state"] == "ESTAB")
        .unwrap();
    assert_eq!(server["tcp"]["bytes_received"], N as u64, "{server:#}");
    assert_eq!(server["tcp"]["bytes_sent"], 0, "{server:#}");
    assert!(server["tcp"]["rtt_us"].as_u64().unwrap() > 0);
    // Listeners-only output carries none.
    let (_, out, _) = run(&["list", "--json", &format!("port:{port}")]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["tcp"].is_null())
    );
}

/// A listener whose process holds 40 CLOSE-WAIT sockets is flagged CLOSE-WAIT-LEAK by
/// `list` (listeners only) as by `list --all`: the same flags whatever the scope.
#[test]
fn a_leaking_listener_is_flagged_whatever_the_scope() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let addr = l.local_addr().unwrap();
    // Accepted and never closed: when each client goes, our side stays in CLOSE-WAIT.
    let mut accepted = Vec::new();
    for _ in 0..40 {
        let c = std::net::TcpStream::connect(addr).unwrap();
        accepted.push(l.accept().unwrap().0);
        drop(c);
    }
    let query = format!("lport:{port}");
    wait_for("40 CLOSE-WAIT sockets", || {
        let out = list(&["--all", &query, "state:close-wait"]);
        let n = String::from_utf8(out.stdout).unwrap().lines().count();
        (n > 40).then_some(())
    });
    let listeners = String::from_utf8(list(&[&query]).stdout).unwrap();
    let rows: Vec<&str> = listeners.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "only the listener is listed: {listeners}");
    assert!(
        rows[0].contains("LISTEN") && rows[0].contains("CLOSE-WAIT-LEAK"),
        "{listeners}"
    );
    let all = String::from_utf8(list(&["--all", &query, "state:listen"]).stdout).unwrap();
    assert!(all.contains("CLOSE-WAIT-LEAK"), "{all}");
    // JSON: the listener only, flagged, and no hidden CLOSE-WAIT counted.
    let out = list(&["--json", &query]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["scope"], "listeners");
    assert_eq!(doc["sockets"].as_array().unwrap().len(), 1);
    assert_eq!(doc["sockets"][0]["flags"][0], "CLOSE-WAIT-LEAK");
    drop(accepted);
}
