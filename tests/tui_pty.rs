//! The real binary in a real pseudo-terminal: find a listener the test started, filter
//! to it, kill it through the dialog, see the result; and terminal restoration on SIGTERM.

use crate::support::pty::Tui;
use crate::support::*;
use portable_pty::CommandBuilder;

#[test]
fn find_filter_and_kill_a_listener_through_the_dialog() {
    let mut kid = Kid::python(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &["pty-target"],
    );
    let port: u16 = kid.line().parse().unwrap();
    let pid = kid.pid();
    let mut tui = Tui::start(&["--interval", "250ms"]);
    let addr = format!("127.0.0.1:{port}");
    // The first screen may be full of the machine's own listeners: filter first.
    tui.wait_screen("the first snapshot", |s| {
        s.contains("Listeners") && s.contains("sockdiag")
    });
    // Exact enough to stay one row on a busy machine (ephemeral ports are reused).
    tui.keys(&format!("/lport:{port} tcp state:listen\r"));
    let screen = tui.wait_screen("the filter applied", |s| {
        s.contains(&format!("filter: lport:{port} tcp state:listen"))
            && s.contains("row 1/1 ")
            && s.contains(&format!("{pid}/python3"))
    });
    assert!(screen.contains(&addr));
    tui.keys("k");
    let screen = tui.wait_screen("the dialog, pinned", |s| {
        s.contains("send a signal") && s.contains("(pinned)")
    });
    assert!(screen.contains(&format!("{pid} python3")), "{screen}");
    assert!(
        screen.contains("▶ Cancel ◀") && screen.contains("SIGTERM"),
        "{screen}"
    );
    tui.keys("y");
    // The child we started gets SIGTERM and exits.
    let status = wait_for("the child to exit", || kid.child.try_wait().unwrap());
    assert!(!status.success());
    let screen = tui.wait_screen("the result line", |s| {
        s.contains(&format!("SIGTERM sent to {pid}/python3")) && s.contains("exited")
    });
    assert!(screen.contains(&format!("port {port}")), "{screen}");
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut tui = Tui::start(&[]);
    tui.wait_screen("the first frame", |s| {
        s.contains("sockscope") && s.contains("Listeners")
    });
    let pid = tui.child.process_id().expect("sockscope pid");
    // Our own child: the sockscope this test started.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = tui.wait_exit();
    assert!(status.success(), "SIGTERM is a clean quit: {status:?}");
    let after_last_enter = |t: &str| {
        t.rfind("\x1b[?1049h")
            .is_some_and(|i| t[i..].contains("\x1b[?1049l") && t[i..].contains("\x1b[?25h"))
    };
    let text = tui.wait_raw("the terminal restored", after_last_enter);
    let entered = text
        .rfind("\x1b[?1049h")
        .expect("entered the alternate screen");
    let rest = &text[entered..];
    assert!(rest.contains("\x1b[?1049l"), "left the alternate screen");
    assert!(rest.contains("\x1b[?25h"), "showed the cursor again");
    assert!(
        rest.contains("\x1b[?1000l") || rest.contains("\x1b[?1003l"),
        "mouse capture released"
    );
}

#[test]
fn q_quits_and_restores_from_every_view() {
    let mut tui = Tui::start(&["--view", "ports"]);
    tui.wait_screen("ports view", |s| s.contains("Port") && s.contains("Listen"));
    tui.keys("?");
    tui.wait_screen("help", |s| s.contains("help") && s.contains("Keys"));
    // A lone Esc must arrive alone, or it reads as Alt plus the next key.
    tui.keys("\x1b");
    tui.wait_screen("help closed", |s| !s.contains("Esc closes"));
    tui.keys("5");
    tui.wait_screen("events view", |s| s.contains("Time") && s.contains("Event"));
    tui.keys("q");
    assert!(tui.wait_exit().success());
    tui.wait_raw("the alternate screen left", |t| t.contains("\x1b[?1049l"));
}

#[test]
fn bad_config_is_one_line_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("sockscope-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, "[general]\ninterval = \"soon\"\n").unwrap();
    let mut tui = Tui::start(&["--config", path.to_str().unwrap()]);
    let status = tui.wait_exit();
    let out = tui.wait_raw("the error line", |t| t.contains("bad config"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.exit_code(), 2);
    assert!(out.contains(":2: `soon` is not a duration"), "{out}");
    assert!(
        !out.contains("\x1b[?1049h"),
        "never entered the alternate screen"
    );
}

/// As `nobody`, with HOME still pointing at root's home (as `setpriv` and `sudo -u` leave
/// it): the default config path cannot even be looked at, which must not stop the view,
/// and root's listener shows with a hidden owner and the notice.
#[test]
fn unprivileged_view_starts_and_shows_hidden_owners() {
    assert!(
        is_root(),
        "this test switches to nobody: run the suite as root, as CI does"
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let b = NobodyBin::new("tui");
    let mut cmd = CommandBuilder::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    cmd.arg(&b.exe);
    cmd.args(["--filter", &format!("lport:{port}")]);
    cmd.env("HOME", "/root");
    cmd.env_remove("XDG_CONFIG_HOME");
    let mut tui = Tui::start_cmd(cmd);
    let addr = format!("127.0.0.1:{port}");
    let screen = tui.wait_screen("root's listener, hidden", |s| {
        s.contains(&addr) && s.contains("hidden: run as root")
    });
    let row = screen.lines().find(|l| l.contains(&addr)).unwrap();
    assert!(row.contains("(hidden)") && row.contains("HIDDEN"), "{row}");
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop(l);
}

/// Ctrl-Z hands the terminal back (alternate screen left, cursor shown) and stops the
/// process; SIGCONT brings the view back, redrawn.
#[test]
fn ctrl_z_suspends_and_sigcont_resumes() {
    let mut tui = Tui::start(&[]);
    tui.wait_screen("the first frame", |s| {
        s.contains("sockscope") && s.contains("Listeners")
    });
    let pid = tui.child.process_id().expect("sockscope pid");
    let before = tui.raw.lock().unwrap().len();
    tui.keys("\x1a");
    wait_for("sockscope to stop", || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        st[st.rfind(')')? + 2..].starts_with('T').then_some(())
    });
    let after: Vec<u8> = tui.raw.lock().unwrap()[before..].to_vec();
    let text = String::from_utf8_lossy(&after);
    assert!(
        text.contains("\x1b[?1049l") && text.contains("\x1b[?25h"),
        "terminal restored before stopping"
    );
    // Our own child: continue it, as `fg` would.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::CONT,
    )
    .unwrap();
    wait_for("the view to come back", || {
        let raw = tui.raw.lock().unwrap()[before..].to_vec();
        let t = String::from_utf8_lossy(&raw).into_owned();
        let back = t.rfind("\x1b[?1049h")? > t.find("\x1b[?1049l")?;
        back.then_some(())
    });
    tui.wait_screen("redrawn", |s| s.contains("Listeners"));
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// The header line of the table: the line after the view tabs.
fn table_header(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines.get(3).copied().unwrap_or_default().to_owned()
}

/// Esc in the filter line puts back the filter from before the edit; Enter on a line
/// with an error keeps the line open with the error, and never applies a prefix of it.
#[test]
fn filter_editing_esc_restores_and_an_invalid_enter_stays_open() {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pb) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let first = format!("lport:{pa}");
    let mut tui = Tui::start(&["--interval", "250ms", "--filter", &first]);
    let only_a =
        |s: &str| s.contains(&format!("127.0.0.1:{pa}")) && !s.contains(&format!("127.0.0.1:{pb}"));
    tui.wait_screen("the first filter", |s| {
        only_a(s) && s.contains(&format!("filter: {first}"))
    });
    // An edit that parses is applied as it is typed: both ports' rows would show.
    tui.keys(&format!("/\x15lport:{pa},{pb}"));
    tui.wait_screen("the edit applied live", |s| {
        s.contains(&format!("127.0.0.1:{pb}")) && s.contains(&format!("127.0.0.1:{pa}"))
    });
    tui.keys("\x1b");
    let screen = tui.wait_screen("Esc: the filter from before", |s| {
        only_a(s) && s.contains(&format!("filter: {first}")) && !s.contains("Esc cancel")
    });
    assert!(!screen.contains(&format!("{pa},{pb}")), "{screen}");
    // An invalid line: Enter keeps it open with its error.
    tui.keys("/\x15flag:orphan port:abc\r");
    let screen = tui.wait_screen("the error, the line still open", |s| {
        s.contains("bad filter term `port:abc`") && s.contains("/flag:orphan port:abc")
    });
    assert!(
        !screen.contains("filter: flag:orphan port "),
        "a prefix was applied:\n{screen}"
    );
    tui.keys("\x1b");
    tui.wait_screen("Esc again: the first filter", |s| {
        only_a(s) && s.contains(&format!("filter: {first}")) && !s.contains("bad filter term")
    });
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// Every column of the Sockets view shows the sort arrow when it is the sort column, at
/// 160 columns where all of them fit: `s` walks through them, `S` flips the arrow.
#[test]
fn the_sort_arrow_shows_on_every_column() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut tui = Tui::start(&["--view", "sockets", "--filter", &format!("lport:{port}")]);
    let first = tui.wait_screen("the first snapshot", |s| {
        s.contains(&format!("127.0.0.1:{port}"))
    });
    // The columns on screen (NetNS shows while other namespaces have sockets).
    let header = table_header(&first).replace(['▲', '▼'], "");
    let titles: Vec<&str> = header.split_whitespace().collect();
    assert!(
        titles.contains(&"Process") && titles.contains(&"Recv-Q"),
        "{header}"
    );
    let mut seen = Vec::new();
    for _ in 0..titles.len() {
        let before = table_header(&tui.screen());
        tui.keys("s");
        let screen = tui.wait_screen("the next sort column", |s| table_header(s) != before);
        let header = table_header(&screen);
        assert_eq!(header.matches(['▲', '▼']).count(), 1, "one arrow: {header}");
        let title = titles
            .iter()
            .find(|t| header.contains(&format!("{t}▲")) || header.contains(&format!("{t}▼")))
            .unwrap_or_else(|| {
                panic!("the arrow follows a whole title: {header} (titles {titles:?})")
            });
        seen.push(*title);
        let arrow = if header.contains('▲') { '▼' } else { '▲' };
        tui.keys("S");
        tui.wait_screen("the arrow flipped", |s| {
            table_header(s).contains(&format!("{title}{arrow}"))
        });
    }
    seen.sort_unstable();
    let mut all = titles.clone();
    all.sort_unstable();
    assert_eq!(seen, all, "every column had the arrow");
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop(l);
}

/// A holder under a shell loop that restarts it: `k` → `y` in the live view, and the
/// result line says the port was taken back by its parent, not that it is free.
#[test]
fn the_result_line_says_respawned_when_a_shell_loop_restarts_the_holder() {
    use std::os::unix::process::CommandExt;
    let port = crate::support::stack::fresh_port();
    let listener = format!(
        "{PY_LISTEN}\ns = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(16)\nprint(os.getpid(), flush=True)\nsys.stdin.read()"
    );
    // Our own shell loop, in a group of its own; each listener it starts reads the
    // shared stdin, so dropping the loop ends them too.
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        "while true; do python3 -u -c \"$0\" || true; sleep 0.2; done",
        &listener,
    ])
    .process_group(0);
    let mut shell = Kid::spawn(cmd);
    let first: u32 = shell.line().parse().unwrap();
    crate::support::stack::wait_listening(port);
    let mut tui = Tui::start(&["--interval", "250ms"]);
    tui.wait_screen("the first snapshot", |s| s.contains("sockdiag"));
    tui.keys(&format!("/lport:{port} tcp state:listen\r"));
    tui.wait_screen("the holder's row", |s| {
        s.contains("row 1/1 ") && s.contains(&format!("{first}/python3"))
    });
    tui.keys("k");
    tui.wait_screen("the dialog, pinned", |s| s.contains("(pinned)"));
    tui.keys("y");
    let second: u32 = shell.line().parse().unwrap();
    assert_ne!(first, second);
    let screen = tui.wait_screen("the result line saying respawned", |s| {
        s.contains(&format!("SIGTERM sent to {first}/python3")) && s.contains("respawned")
    });
    assert!(
        screen.contains(&format!("respawned by its parent {}/sh", shell.pid())),
        "{screen}"
    );
    assert!(
        !screen.contains(&format!("port {port} is free")),
        "{screen}"
    );
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// xterm's sequences for the keys the 80×24 tests press.
mod keys {
    pub const DOWN: &str = "\x1b[B";
    pub const END: &str = "\x1b[F";
    pub const HOME: &str = "\x1b[H";
    pub const F1: &str = "\x1bOP";
    pub const F10: &str = "\x1b[21~";
}

/// At 80×24 the tabs have short names and the footer ends in `? help  q quit`; F1 opens
/// the help, F1 closes it, F10 quits.
#[test]
fn at_80x24_the_tabs_and_footer_fit_and_f_keys_work() {
    let mut tui = Tui::start_sized(&["--interval", "250ms"], 80, 24);
    let screen = tui.wait_screen("the first snapshot", |s| s.contains("sockdiag"));
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[2].starts_with(" 1 Sock  2 Listen  3 Ports  4 Procs  5 Events"),
        "{screen}"
    );
    assert!(lines[23].trim_end().ends_with("? help  q quit"), "{screen}");
    tui.keys(keys::F1);
    tui.wait_screen("the help", |s| s.contains("help · ") && s.contains("Keys"));
    tui.keys(keys::F1);
    tui.wait_screen("the help closed", |s| !s.contains("help · "));
    tui.keys(keys::F10);
    assert!(tui.wait_exit().success());
}

/// The detail pane at 80×24: the selected listener's pane does not fit, says "more ↓",
/// scrolls with ↓ (the table stays on its row) and shows its last lines with End.
#[test]
fn at_80x24_the_detail_pane_scrolls_and_says_what_is_below() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let filter = format!("lport:{port} tcp state:listen");
    let mut tui = Tui::start_sized(&["--interval", "250ms", "--filter", &filter], 80, 24);
    // At 80 columns the tabs line keeps the filter whole (the other tabs show their
    // number only).
    tui.wait_screen("our listener", |s| {
        s.contains(&format!("127.0.0.1:{port}")) && s.contains(&format!("filter: {filter}"))
    });
    tui.keys("\r");
    let screen = tui.wait_screen("the pane, with more below", |s| {
        s.contains(" detail · ") && s.contains("more ↓")
    });
    assert!(screen.contains("next"), "what to do comes first: {screen}");
    tui.keys(keys::DOWN);
    let screen = tui.wait_screen("one line down", |s| s.contains("↑ 1 more"));
    assert!(
        screen.contains(&format!("127.0.0.1:{port}")),
        "the table kept its row: {screen}"
    );
    tui.keys(keys::END);
    let screen = tui.wait_screen("the last lines", |s| !s.contains("more ↓"));
    assert!(
        screen.contains("parents") || screen.contains("parent"),
        "{screen}"
    );
    tui.keys("\x1b");
    tui.wait_screen("the pane closed", |s| !s.contains(" detail · "));
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop(l);
}

/// A port in the ephemeral range that only TIME-WAIT sockets hold (its server gone
/// before sockscope started) shows in the Ports view when the filter names it.
#[test]
fn the_ports_view_shows_a_filtered_ephemeral_time_wait_port() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let port = addr.port();
    assert!(
        sockscope::collect::ephemeral_range().contains(&port),
        "port 0 binds land in the ephemeral range"
    );
    // The server closes first: its side of each connection stays in TIME-WAIT.
    for _ in 0..5 {
        let c = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        drop(s);
        let mut buf = [0u8; 1];
        let _ = std::io::Read::read(&mut &c, &mut buf);
    }
    drop(l);
    let filter = format!("lport:{port}");
    let mut tui = Tui::start_sized(&["--view", "ports", "--filter", &filter], 80, 24);
    let screen = tui.wait_screen("the port's row", |s| {
        s.lines()
            .any(|l| l.trim_start().starts_with(&port.to_string()))
    });
    let row = screen
        .lines()
        .find(|l| l.trim_start().starts_with(&port.to_string()))
        .unwrap();
    let counts: Vec<&str> = row.split_whitespace().collect();
    // Port, Proto, Listen 0, Estab 0, TIME-WAIT 5 …
    assert_eq!(
        &counts[..5],
        &[port.to_string().as_str(), "tcp", "0", "0", "5"],
        "{row}"
    );
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// Column positions stay put at 80×24 when paging from the first row to the last.
#[test]
fn at_80x24_columns_stay_put_from_home_to_end() {
    let mut tui = Tui::start_sized(&["--view", "sockets", "--interval", "250ms"], 80, 24);
    tui.wait_screen("the first snapshot", |s| s.contains("sockdiag"));
    // Paused: the rows stay the same while paging.
    tui.keys(" ");
    tui.wait_screen("paused", |s| s.contains("[PAUSED]"));
    let top = table_header(&tui.screen());
    tui.keys(keys::END);
    let end = tui.wait_screen("the last row", |s| {
        s.lines()
            .nth(2)
            .is_some_and(|l| l.contains("row ") && !l.contains("row 1/"))
    });
    assert_eq!(table_header(&end), top, "{end}");
    tui.keys(keys::HOME);
    let home = tui.wait_screen("the first row", |s| {
        s.lines().nth(2).is_some_and(|l| l.contains("row 1/"))
    });
    assert_eq!(table_header(&home), top, "{home}");
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// The line of the screen that holds `text`, counting from 0.
fn line_of(screen: &str, text: &str) -> Option<usize> {
    screen.lines().position(|l| l.contains(text))
}

/// Stops or continues our own child, the sockscope this test started, and waits until
/// the kernel says it did.
fn stop_or_continue(tui: &Tui, stop: bool) {
    let pid = tui.child.process_id().expect("sockscope pid");
    let sig = if stop {
        rustix::process::Signal::STOP
    } else {
        rustix::process::Signal::CONT
    };
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), sig)
        .unwrap();
    wait_for("sockscope to stop or go on", || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let stopped = st[st.rfind(')')? + 2..].starts_with('T');
        (stopped == stop).then_some(())
    });
}

/// Enter on the filter line and a resize that reach the program together (it was busy
/// with a frame; here, to make it certain, stopped by the test): crossterm reports the
/// key and loses the resize, so the layout must come from the terminal's own size, not
/// from resize events. Every resize is followed: the footer goes to the new last line.
#[test]
fn a_resize_that_arrives_with_a_key_is_followed() {
    let mut tui = Tui::start_sized(&["--view", "sockets", "--interval", "250ms"], 80, 24);
    tui.wait_screen("the first frame at 80×24", |s| {
        line_of(s, "q quit") == Some(23)
    });
    tui.keys("/");
    tui.wait_screen("the filter line", |s| s.contains("Enter keep"));
    stop_or_continue(&tui, true);
    tui.keys("tcp\r");
    tui.resize(200, 50);
    stop_or_continue(&tui, false);
    let screen = tui.wait_screen("the layout at 200×50", |s| {
        s.contains("filter: tcp") && line_of(s, "q quit") == Some(49)
    });
    assert!(!screen.contains("Enter keep"), "{screen}");
    tui.keys("q");
    assert!(tui.wait_exit().success());
}
