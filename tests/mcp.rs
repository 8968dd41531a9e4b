//! `sockscope mcp` against a client we did not write: the official Python SDK (`mcp`
//! from PyPI, pinned and installed by `.ci/test`) runs tests/mcp_client.py, which
//! starts the server through its stdio client and reports what it saw; the tests here
//! hold the ports, start every process that gets signalled, and judge the report. The
//! protocol errors are sent raw, byte for byte.

use crate::support::stack::fresh_port;
use crate::support::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The SDK version `.ci/test` installs.
const SDK: &str = "2.3.0";

/// How long one scenario of the Python client may take.
const SCENARIO: Duration = Duration::from_secs(180);

/// Runs a scenario of tests/mcp_client.py; the JSON object it printed last.
fn python_client(scenario: &str, args: Value) -> Value {
    let check = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('mcp'))",
        ])
        .output()
        .expect("python3");
    let version = String::from_utf8_lossy(&check.stdout).trim().to_owned();
    assert_eq!(
        version, SDK,
        "the MCP Python SDK {SDK} is needed: `python3 -m pip install 'mcp=={SDK}'` (.ci/test does it)"
    );
    let script = format!("{}/tests/mcp_client.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(script)
        .arg(scenario)
        .arg(bin())
        .arg(args.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        let _ = tx.send((o, e));
    });
    let (stdout, stderr) = match rx.recv_timeout(SCENARIO) {
        Ok(v) => v,
        Err(_) => {
            // Our own child; the server it started ends when its stdin closes.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python client took longer than {SCENARIO:?}");
        }
    };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the Python client failed: {stderr}\n{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// A listener on 127.0.0.1 in a child of ours: (child, port).
fn holder() -> (Kid, u16) {
    let mut kid = Kid::python(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &[],
    );
    let port = kid.line().parse().unwrap();
    (kid, port)
}

fn structured<'a>(seen: &'a Value, key: &str) -> &'a Value {
    let r = &seen[key];
    assert_eq!(r["is_error"], false, "{key}: {r:#}");
    &r["structured"]
}

fn refusal<'a>(seen: &'a Value, key: &str) -> &'a str {
    let r = &seen[key];
    assert_eq!(r["is_error"], true, "{key} must be refused: {r:#}");
    r["text"].as_str().unwrap()
}

#[test]
fn read_only_tools_through_the_python_sdk() {
    let (holder, held) = holder();
    let near = fresh_port();
    let seen = python_client(
        "read_only",
        json!({"held_port": held, "free_port": fresh_port(), "near": near}),
    );
    assert!(
        seen["protocol"].as_str().unwrap().starts_with("20"),
        "{seen:#}"
    );
    assert_eq!(seen["server"], "sockscope");
    let tools = seen["tools"].as_object().unwrap();
    let names: Vec<&str> = tools.keys().map(String::as_str).collect();
    let mut want = vec![
        "why_port",
        "list_sockets",
        "free_port",
        "wait_listen",
        "wait_free",
        "recent_events",
        "info",
    ];
    want.sort_unstable();
    let mut got = names.clone();
    got.sort_unstable();
    assert_eq!(got, want, "no action tools without --allow-actions");
    for (name, t) in tools {
        assert_eq!(t["read_only"], true, "{name}");
        assert_eq!(t["destructive"], false, "{name}");
        assert_eq!(t["has_output_schema"], true, "{name}");
    }

    // why_port: the `why --json` document, naming our holder.
    let why = structured(&seen, "why");
    assert_schema("why.schema.json", why);
    assert_eq!(why["verdict"], "listener", "{why:#}");
    assert_eq!(why["bindable"], false);
    assert_eq!(why["holders"][0]["pid"], holder.pid(), "{why:#}");
    assert!(!why["steps"].as_array().unwrap().is_empty(), "{why:#}");
    assert!(!why["free_nearby"].as_array().unwrap().is_empty());
    let free = structured(&seen, "why_free");
    assert_eq!(
        (&free["verdict"], &free["bindable"]),
        (&json!("free"), &json!(true))
    );

    let ports = structured(&seen, "free")["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "{seen:#}");
    assert!(!ports.contains(&json!(held)));

    // list_sockets: rows as `list --json`, bounded.
    let list = structured(&seen, "list");
    assert_schema("list.schema.json", &list["list"]);
    assert_eq!(
        (&list["matched"], &list["truncated"]),
        (&json!(1), &json!(false))
    );
    let row = &list["list"]["sockets"][0];
    assert_eq!(row["local"]["port"], held);
    assert_eq!(row["owners"][0]["pid"], holder.pid());
    let all = structured(&seen, "list_all");
    assert_eq!(all["list"]["sockets"].as_array().unwrap().len(), 1);
    assert_eq!(all["truncated"], true, "limit 1 of every socket");
    assert!(all["matched"].as_u64().unwrap() > 1);
    assert!(refusal(&seen, "bad_query").contains("nonsense"));

    let info = structured(&seen, "info");
    assert_schema("info.schema.json", info);

    // wait_listen: the listener came two seconds after the call, and it was waited for
    // (a listener there from the start ends the wait at the first snapshot).
    let w = structured(&seen, "wait_listen");
    assert_eq!(w["listening"], true, "{w:#}");
    assert_eq!(w["port"], seen["listen_port"]);
    assert!(w["waited_ms"].as_u64().unwrap() >= 1000, "{w:#}");
    assert_eq!(w["pids"], json!([seen["my_pid"]]), "{w:#}");
    assert_eq!(structured(&seen, "wait_free")["free"], true);

    // recent_events: the listener's opening, from the server's own watch.
    let events = seen["events"].as_array().unwrap();
    for e in events {
        assert_schema("watch.schema.json", e);
        assert_eq!(
            e["local"]["port"], seen["listen_port"],
            "the query filtered"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "opened" && e["state"] == "LISTEN"),
        "{events:#?}"
    );

    // The client's mistakes are JSON-RPC errors, and the session goes on.
    for key in [
        "unknown_tool",
        "action_without_flag",
        "wrong_type",
        "out_of_range",
        "unknown_field",
    ] {
        assert_eq!(seen[key]["code"], -32602, "{key}: {:#}", seen[key]);
    }
    let msg = seen["action_without_flag"]["message"].as_str().unwrap();
    assert!(msg.contains("--allow-actions"), "{msg}");
    assert_eq!(structured(&seen, "after_errors")["verdict"], "listener");
    drop(holder);
}

#[test]
fn kill_port_previews_then_kills_exactly_the_previewed_process() {
    assert!(
        is_root(),
        "the test starts a process as nobody: run it as root, as CI does"
    );
    let (mut victim, victim_port) = holder();
    let (mut spared, spared_port) = holder();
    let cmd = crate::support::python_as_nobody(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &[],
    );
    let mut nobody = Kid::spawn(cmd);
    let nobody_port: u16 = nobody.line().parse().unwrap();

    let seen = python_client(
        "actions",
        json!({"victim_port": victim_port, "spared_port": spared_port, "nobody_port": nobody_port}),
    );
    let tools = &seen["tools"];
    for action in ["kill_port", "close_sockets"] {
        assert_eq!(tools[action]["destructive"], true, "{action}: {tools:#}");
        assert_eq!(tools[action]["read_only"], false, "{action}");
    }
    assert!(
        refusal(&seen, "other_user").contains("runs as user nobody"),
        "{seen:#}"
    );

    let preview = structured(&seen, "preview");
    assert_eq!(preview["stage"], "preview");
    let targets = preview["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{preview:#}");
    assert_eq!(targets[0]["pid"], victim.pid());
    let token = preview["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(targets[0]["start_ticks"].as_u64().unwrap() > 0);

    assert!(refusal(&seen, "altered").contains("unknown token"));
    let done = structured(&seen, "done");
    assert_eq!(done["stage"], "done", "{done:#}");
    assert_eq!(
        (&done["outcome"], &done["freed"]),
        (&json!("freed"), &json!(true)),
        "{done:#}"
    );
    let sent = done["sent"][0].as_str().unwrap();
    assert!(
        sent.contains("SIGTERM") && sent.contains(&victim.pid().to_string()),
        "{sent}"
    );
    let report = done["report"].as_array().unwrap();
    assert!(
        report.contains(&json!(format!("port {victim_port} is free"))),
        "{report:?}"
    );
    let status = wait_for("the victim's exit", || victim.child.try_wait().unwrap());
    assert_eq!(
        status.signal(),
        Some(15),
        "killed by the SIGTERM it was sent"
    );

    assert!(refusal(&seen, "reused").contains("unknown token"));
    assert!(refusal(&seen, "other_signal").contains("issued for SIGTERM"));
    assert!(refusal(&seen, "expired").contains("expired"));
    let after = structured(&seen, "after");
    assert_eq!(after["holders"][0]["pid"], spared.pid(), "{after:#}");
    assert!(
        spared.child.try_wait().unwrap().is_none(),
        "never signalled"
    );
    assert!(
        nobody.child.try_wait().unwrap().is_none(),
        "never signalled"
    );
}

/// `n` TIME-WAIT sockets on `port`, left by the server side closing first.
fn time_waits(port: u16, n: usize) {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, _) = l.accept().unwrap();
        drop(s);
        let mut b = [0u8; 1];
        let _ = c.read(&mut b);
    }
    drop(l);
    let mut c = collector();
    wait_for("the TIME-WAIT sockets", || {
        let snap =
            sockscope::collect::Collector::snapshot(&mut c, sockscope::model::Scope::All).unwrap();
        let k = snap
            .sockets
            .iter()
            .filter(|s| s.local().port() == port && s.state == sockscope::model::State::TimeWait)
            .count();
        (k >= n).then_some(())
    });
}

#[test]
fn close_sockets_closes_exactly_the_previewed_time_waits() {
    assert!(
        is_root(),
        "closing sockets needs root: run the suite as root, as CI does"
    );
    let port = fresh_port();
    time_waits(port, 3);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listener_port = listener.local_addr().unwrap().port();
    let seen = python_client(
        "close",
        json!({"port": port, "listener_port": listener_port}),
    );
    assert!(refusal(&seen, "listener_only").contains("port stays bound"));
    assert!(refusal(&seen, "free_word").contains("free words"));
    let preview = structured(&seen, "preview");
    let sockets = preview["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 3, "{preview:#}");
    for s in sockets {
        assert_eq!(s["state"], "TIME-WAIT");
        assert!(s["local"].as_str().unwrap().ends_with(&format!(":{port}")));
        assert!(s["cookie"].as_u64().unwrap() > 0);
    }
    let done = structured(&seen, "done");
    assert_eq!(
        (&done["closed"], &done["remaining"], &done["port_free"]),
        (&json!(3), &json!(0), &json!(true)),
        "{done:#}"
    );
    assert!(sockscope::diagnose::probe::Probe::plain_free(port));
    // The listener the refused query named still accepts.
    let _c = TcpStream::connect(("127.0.0.1", listener_port)).unwrap();
    let _ = listener.accept().unwrap();
}

/// The server on pipes, spoken to raw.
struct Raw {
    kid: Kid,
}

impl Raw {
    fn start(args: &[&str]) -> Raw {
        let mut all = vec!["mcp"];
        all.extend_from_slice(args);
        Raw {
            kid: Kid::sockscope(&all),
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.kid.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends one line and returns the one answer it gets.
    fn ask(&mut self, line: &str) -> Value {
        self.send_bytes(line.as_bytes());
        self.answer()
    }

    fn answer(&mut self) -> Value {
        let line = self.kid.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }
}

fn code(v: &Value) -> (Value, i64) {
    (v["id"].clone(), v["error"]["code"].as_i64().unwrap_or(0))
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

#[test]
fn malformed_requests_get_json_rpc_errors_and_the_server_goes_on() {
    let mut raw = Raw::start(&[]);
    // Before initialize: only initialize (and ping) are served.
    let early = raw.ask(r#"{"jsonrpc":"2.0","id":0,"method":"tools/list"}"#);
    assert_eq!(code(&early), (json!(0), -32600), "{early}");
    let init = raw.ask(INITIALIZE);
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "sockscope", "{init}");
    raw.send_bytes(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);

    let bad = raw.ask("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":");
    assert_eq!(code(&bad), (Value::Null, -32700), "{bad}");

    // 10 MB in one request: read past, never held, answered.
    let mut huge = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"why_port","arguments":{"port":1,"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(br#""}}}"#);
    raw.send_bytes(&huge);
    let big = raw.answer();
    assert_eq!(code(&big), (Value::Null, -32600), "{big}");
    assert!(
        big["error"]["message"]
            .as_str()
            .unwrap()
            .contains("over the limit")
    );

    let wrong = raw.ask(
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"why_port","arguments":{"port":"x"}}}"#,
    );
    assert_eq!(code(&wrong), (json!(4), -32602), "{wrong}");
    let unknown =
        raw.ask(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope"}}"#);
    assert_eq!(code(&unknown), (json!(5), -32602), "{unknown}");
    let params = raw.ask(r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":5}}"#);
    assert_eq!(code(&params), (json!(6), -32602), "{params}");
    let method = raw.ask(r#"{"jsonrpc":"2.0","id":7,"method":"no/such/method"}"#);
    assert_eq!(code(&method), (json!(7), -32601), "{method}");
    let batch = raw.ask("[]");
    assert_eq!(code(&batch), (Value::Null, -32600), "{batch}");

    // And it still answers.
    let list = raw.ask(r#"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"#);
    assert_eq!(
        list["result"]["tools"].as_array().unwrap().len(),
        7,
        "{list}"
    );
    let why = raw.ask(
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"why_port","arguments":{"port":1}}}"#,
    );
    assert_eq!(why["result"]["isError"], false, "{why}");
    assert_eq!(why["result"]["structuredContent"]["port"], 1);
}

#[test]
fn the_server_exits_when_stdin_closes_even_mid_wait() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let mut raw = Raw::start(&[]);
    raw.ask(INITIALIZE);
    raw.send_bytes(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    // A 60 s wait that will not end by itself: the port stays held.
    raw.send_bytes(
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"wait_free","arguments":{{"port":{port},"timeout_s":60}}}}}}"#
        )
        .as_bytes(),
    );
    // Let the call start: a second request is answered after it was read.
    let pong = raw.ask(r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#);
    assert_eq!(pong["id"], 3);
    let start = Instant::now();
    drop(raw.kid.stdin.take());
    let status = wait_for("the server's exit", || raw.kid.child.try_wait().unwrap());
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "it did not wait for the 60 s call"
    );
    drop(held);
}
