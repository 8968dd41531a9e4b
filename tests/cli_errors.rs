//! The command line under misuse: bad options, odd values, closed pipes, full disks, a
//! config that never ends. Each gives one clear line and exit 2 (or a quiet exit 0 for a
//! closed pipe), never a panic or a hang.

use crate::support::*;
use std::process::{Command, Stdio};

/// No Rust panic message, and at most one line on stderr.
fn one_clean_line(err: &str) {
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.lines().count() <= 1, "{err}");
}

#[test]
fn unknown_options_are_errors_with_a_suggestion() {
    let (code, _, err) = run(&["watch", "--jsn"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--jsn") && err.contains("--json"), "{err}");
    let (code, _, err) = run(&["list", ":3000", "--cvs"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unexpected argument '--cvs'"), "{err}");
    // Options after the query are options: this is JSON, not a query for "--json".
    let (code, out, err) = run(&["list", ":1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], 3);
    let (code, _, err) = run(&["why", "+80"]);
    assert_eq!(code, 2);
    assert!(err.contains("`+80` is not a port"), "{err}");
}

#[test]
fn durations_that_overflow_are_one_line() {
    for args in [
        &["--interval", "18446744073709551615s"][..],
        &["kill", "pid:1", "--timeout", "20000000000000000000s"][..],
        &["wait-free", "1", "--timeout", "99999999999999999999999s"][..],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("error:"), "{err}");
    }
    let dir = std::env::temp_dir().join(format!("sockscope-bigint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, "[general]\ninterval = \"18446744073709551615s\"\n").unwrap();
    let mut tui = crate::support::pty::Tui::start(&["--config", cfg.to_str().unwrap()]);
    let status = tui.wait_exit();
    let out = tui.wait_raw("the error line", |t| t.contains("bad config"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.exit_code(), 2);
    assert!(
        out.contains(":2: interval of more than a year is outside 250ms..60s"),
        "{out}"
    );
}

/// User input quoted back in an error is sanitised and cut short.
#[test]
fn quoted_input_is_sanitised_and_short() {
    let (code, _, err) = run(&["list", "port:\x1b[2J"]);
    assert_eq!(code, 2);
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(err.contains("\\e[2J"), "{err}");
    let huge = format!("port:{}", "9".repeat(100_000));
    let (code, _, err) = run(&["list", &huge]);
    assert_eq!(code, 2);
    assert!(err.len() < 600, "{} bytes", err.len());
    one_clean_line(&err);
    // What the argument parser refuses is escaped and cut too: a terminal title, a
    // screen clear, a page-long option.
    for bad in [
        vec!["why", "\x1b]0;PWNED\x071"],
        vec!["free-port", "--near", "\x1b[2J1"],
        vec!["list", "--bogus\x1b[2J"],
    ] {
        let (code, _, err) = run(&bad);
        assert_eq!(code, 2, "{err}");
        assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
        assert!(err.contains("\\e"), "{err}");
    }
    let long = format!("--{}", "x".repeat(2000));
    let (code, _, err) = run(&["list", &long]);
    assert_eq!(code, 2);
    assert!(err.lines().all(|l| l.chars().count() <= 401), "{err}");
}

/// A reader that goes away ends the command quietly with status 0; a full disk is one
/// line and status 2. Never a panic.
#[test]
fn closed_pipes_and_full_disks() {
    let cases: &[&[&str]] = &[
        &["list", "--all", "--csv"],
        &["list", "--all", "--json"],
        &["list", "--all"],
        &["why", "1"],
        &["completions", "bash"],
        &["man"],
        &["kill", "pid:1", "--dry-run"],
        &["why", "1", "--json"],
        &["free-port", "--count", "2"],
        &["free-port", "--json"],
        &["close", ":1", "--dry-run"],
    ];
    for args in cases {
        // Closed pipe: stdout's reader is gone before anything is written.
        let (r, w) = rustix::pipe::pipe().unwrap();
        drop(r);
        let out = Command::new(bin())
            .args(*args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        // `why 1` exits 0 (free) or 1; `kill pid:1` refuses with 2: the status is the
        // command's own, the pipe changes nothing.
        if args[0] != "why" && args[0] != "kill" {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
        // Full disk.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(bin())
            .args(*args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(full))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // `list`'s notes on what it could not see (owners hidden, namespaces not read:
        // this machine's pid 1 refuses even root its fds) come before the one error.
        let errors: String = err
            .lines()
            .filter(|l| {
                !(l.contains(" hidden") || l.contains("not read") || l.contains("namespace only"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        one_clean_line(&errors);
        if args[0] != "kill" {
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("No space left on device"), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_config_that_never_ends_is_refused() {
    let mut tui = crate::support::pty::Tui::start(&["--config", "/dev/zero"]);
    let status = tui.wait_exit();
    let out = tui.wait_raw("the error line", |t| t.contains("bad config"));
    assert_eq!(status.exit_code(), 2);
    assert!(out.contains("larger than 1 MiB"), "{out}");
}

/// A bad `--budget` is one line naming the value and what would do, for every command
/// that takes it; a bad `budget` in the config stops `watch` with the file and line.
#[test]
fn a_bad_budget_is_one_clear_line() {
    for args in [
        &["watch", "--budget", "0", "port:1"][..],
        &["--budget", "200%", "serve"][..],
        &["--budget", "ten"][..],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("is not a CPU budget: give a share of one core from 0.1% to 100%"),
            "{args:?}: {err}"
        );
    }
    let dir = std::env::temp_dir().join(format!("sockscope-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, "[general]\nbudget = \"lots\"\n").unwrap();
    let (code, _, err) = run(&["--config", cfg.to_str().unwrap(), "watch", "--count", "0"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("config.toml:2:") && err.contains("CPU budget"),
        "{err}"
    );
}

/// `--help` of every subcommand (and `help SUB`) prints the whole long description: the
/// safety rules and exit status that the man page has, never a line cut short with "…".
/// `-h` may be shorter, but never cut.
#[test]
fn help_of_every_subcommand_is_whole() {
    use clap::CommandFactory;
    let squash = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let cmd = sockscope::cli::Cli::command();
    let mut checked = 0;
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        let Some(long) = sub.get_long_about().or(sub.get_about()) else {
            continue;
        };
        let long = squash(&long.to_string());
        for args in [vec![name, "--help"], vec!["help", name], vec![name, "-h"]] {
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{args:?}: {err}");
            for line in out.lines() {
                assert!(!line.trim_end().ends_with('…'), "{args:?} cut: {line}");
            }
            if args[1] == "-h" {
                continue;
            }
            assert!(
                squash(&out).contains(&long),
                "{args:?}:\n{out}\nwants:\n{long}"
            );
            if let Some(i) = long.to_lowercase().find("exit status") {
                assert!(
                    squash(&out).contains(&long[i..]),
                    "{args:?}: exit status whole"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} subcommands");
    let root = squash(
        &cmd.get_long_about()
            .or(cmd.get_about())
            .unwrap()
            .to_string(),
    );
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(squash(&out).contains(&root), "{out}");
}

/// `--config` names a file that must load, for every command: missing, a directory or
/// bad TOML is one line naming the file (and the line), exit 2, before anything is
/// done; a valid file is accepted by commands that have no use for it.
#[test]
fn a_bad_config_file_stops_every_command() {
    let dir = crate::support::stack::TempDir::new("cfg-all");
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[general]\ninterval = \"soon\"\n").unwrap();
    let good = dir.0.join("good.toml");
    std::fs::write(&good, "[general]\ninterval = \"2s\"\n").unwrap();
    let missing = dir.0.join("missing.toml");
    let (bad, good, missing, folder) = (
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
        dir.0.to_str().unwrap(),
    );
    // Each command would otherwise succeed quickly, or act (close, kill: nothing is done).
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", ":1", "--json"],
        &["why", "1"],
        &["free-port"],
        &["wait-free", "1", "--timeout", "1s"],
        &["wait-listen", "1", "--timeout", "250ms"],
        &["kill", "pid:1", "--dry-run"],
        &["close", "127.0.0.1:1", "--yes"],
        &["watch", "--count", "0"],
        &["completions", "bash"],
        &["man"],
    ];
    for cmd in commands {
        for (path, says) in [
            (bad, format!("{bad}:2: `soon` is not a duration")),
            (missing, format!("{missing}: No such file")),
            (folder, format!("bad config {folder}")),
        ] {
            let mut args = vec!["--config", path];
            args.extend_from_slice(cmd);
            let (code, out, err) = run(&args);
            assert_eq!(code, 2, "{args:?}: {err}");
            one_clean_line(&err);
            assert!(err.contains(&says), "{args:?}: {err}");
            assert!(err.contains("config"), "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: nothing done: {out}");
        }
    }
    for cmd in [&["list"][..], &["why", "1"], &["free-port"], &["info"]] {
        let mut args = vec!["--config", good];
        args.extend_from_slice(cmd);
        let (code, _, err) = run(&args);
        assert_ne!(code, 2, "{args:?}: {err}");
    }
}
