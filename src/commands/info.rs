//! `sockscope info [--json]`: what this host lets sockscope see and do, and the exact
//! command that lifts each limit. Thin: the probes are [`crate::collect::features`], the
//! privilege is [`crate::caps`], the counts come from one ordinary snapshot.

use crate::caps::{self, Privilege};
use crate::collect::features::{self, Answer};
use crate::collect::{self, CollectorKind};
use crate::error::Result;
use crate::model::Command;
use crate::model::Scope;
use serde::Serialize;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

/// Version of the JSON document.
pub const VERSION: u32 = 1;

/// The `info --json` document.
#[derive(Serialize)]
pub struct Info {
    version: u32,
    sockscope: &'static str,
    kernel: String,
    uid: u32,
    user: Option<String>,
    privilege: Privilege,
    collector: &'static str,
    sockets: usize,
    hidden_owners: usize,
    unreadable_processes: usize,
    other_netns: usize,
    netns_skipped: bool,
    cgroup: &'static str,
    config: Option<String>,
    checks: Vec<Check>,
}

/// One thing sockscope may or may not do here; `fix` lifts the limit when there is one.
#[derive(Serialize)]
pub struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    fix: Option<Command>,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>, fix: Option<Command>) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
        fix,
    }
}

fn sudo(program: &str, args: &[&str]) -> Command {
    Command::new(program, args.iter().copied()).run_as(Some("root".into()))
}

pub fn run(json: bool, config: Option<&Path>, kind: CollectorKind) -> Result<u8> {
    let info = gather(config, kind)?;
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = io::BufWriter::new(stdout.lock());
    if json {
        super::write_json(&mut out, &info, terminal)?;
    } else {
        write_text(&mut out, &info)?;
    }
    super::flushed(&mut out, super::EXIT_OK)
}

/// What `info` reports (its JSON document), from the probes and one snapshot;
/// `sockscope mcp`'s `info` tool returns it too.
pub fn gather(config: Option<&Path>, kind: CollectorKind) -> Result<Info> {
    let privilege = caps::current();
    let uid = rustix::process::getuid().as_raw();
    let snap = collect::open_once(kind)?.snapshot(Scope::All)?;
    let v = &snap.visibility;
    let mut checks = Vec::new();

    checks.push(match features::sock_diag() {
        Ok(()) => check(
            "collector",
            true,
            format!(
                "{}: sock_diag netlink, every TCP and UDP socket with queues and timers",
                snap.collector
            ),
            None,
        ),
        Err(e) => check(
            "collector",
            false,
            format!(
                "{}: sock_diag failed ({e}), so fewer columns",
                snap.collector
            ),
            None,
        ),
    });
    if !privilege.kept.is_empty() || !privilege.dropped.is_empty() {
        let mut detail = format!("kept {}", list_or_none(&privilege.kept));
        if !privilege.dropped.is_empty() {
            detail.push_str(&format!(
                "; dropped at start: {} (actions use your own rights)",
                privilege.dropped.join(", ")
            ));
        }
        checks.push(check("capabilities", true, detail, None));
    }
    // Where this binary is, for setcap (sanitised: whoever placed it chose the name).
    let exe = std::env::current_exe()
        .map(|p| crate::model::sanitize::sanitize_capped(&p.to_string_lossy(), 256))
        .unwrap_or_else(|_| "/usr/bin/sockscope".into());
    checks.push(if privilege.reads_all_processes() && v.unreadable_pids > 0 {
        // Root refused: a security module, or a non-dumpable process.
        let how = if privilege.root { "root" } else { "the capabilities" };
        let n = v.unreadable_pids;
        check(
            "owners",
            false,
            format!(
                "{n} process{} refused {how} the read of {} file descriptors: the owners of {} socket{} are hidden (a security module or a non-dumpable process; nothing sockscope can change)",
                if n == 1 { "" } else { "es" },
                if n == 1 { "its" } else { "their" },
                v.hidden_sockets,
                if v.hidden_sockets == 1 { "" } else { "s" },
            ),
            None,
        )
    } else if privilege.reads_all_processes() {
        let how = if privilege.root { "root" } else { "capabilities" };
        check("owners", true, format!("every process's sockets ({how})"), None)
    } else {
        let setcap = caps::VIEW_SETCAP;
        check(
            "owners",
            false,
            format!(
                "your own processes only: owners of {} of {} sockets hidden; root or the read-only capabilities show them",
                v.hidden_sockets,
                snap.sockets.len()
            ),
            Some(sudo("setcap", &[setcap, &exe])),
        )
    });
    checks.push(if v.netns_skipped {
        check(
            "namespaces",
            false,
            "this network namespace only: entering the others (containers, ip netns) needs root",
            Some(sudo("sockscope", &[])),
        )
    } else {
        check(
            "namespaces",
            true,
            format!(
                "every network namespace ({} besides this one)",
                snap.netns.others.len()
            ),
            None,
        )
    });
    checks.push(answer(
        "destroy_events",
        features::destroy_events(),
        "sockets freed between snapshots can be reported (sock_diag destroy groups)",
    ));
    checks.push(match (features::sock_destroy(), privilege.root) {
        (Ok(()), true) => check("close", true, "the kernel closes sockets on request (SOCK_DESTROY)", None),
        (Ok(()), false) => check(
            "close",
            false,
            "the kernel closes sockets on request (SOCK_DESTROY), for root only: it closes anyone's connections",
            Some(sudo("sockscope", &["close", "QUERY"])),
        ),
        (Err(e), _) => check("close", false, format!("no SOCK_DESTROY: {e}"), None),
    });
    checks.push(if privilege.root {
        check(
            "signals",
            true,
            "any process, after kill's safety checks",
            None,
        )
    } else {
        check(
            "signals",
            false,
            format!("your own processes only (uid {uid}); another user's need root or that user"),
            Some(sudo("sockscope", &["kill", "PORT"])),
        )
    });
    checks.push(answer(
        "pidfd",
        features::pidfd(),
        "signals go to the pinned process through a pidfd",
    ));
    let engine = features::engine();
    checks.push(match (&engine.socket, &engine.answer) {
        (None, _) => check(
            "containers",
            false,
            "no Docker or Podman socket: containers are known by id only (set DOCKER_HOST=unix:///PATH for another)",
            None,
        ),
        (Some(path), Ok(n)) => check(
            "containers",
            true,
            format!("{path} answers ({n} published ports): names, images and ports"),
            None,
        ),
        (Some(_), Err(e @ collect::containers::ApiError::Connect { source, .. }))
            if source.kind() == io::ErrorKind::PermissionDenied =>
        {
            check(
            "containers",
            false,
                format!("{e}; the docker group is as good as root"),
                Some(sudo("sockscope", &[])),
            )
        }
        (Some(_), Err(e)) => check("containers", false, e.to_string(), None),
    });
    let cgroup = features::cgroup_version();
    checks.push(check("cgroup", cgroup != "none", cgroup, None));
    let (config, config_check) = config_in_use(config);
    checks.push(config_check);

    let info = Info {
        version: VERSION,
        sockscope: env!("SOCKSCOPE_VERSION"),
        kernel: features::kernel_release(),
        uid,
        user: features::user_name(uid),
        privilege,
        collector: snap.collector,
        sockets: snap.sockets.len(),
        hidden_owners: v.hidden_sockets,
        unreadable_processes: v.unreadable_pids,
        other_netns: snap.netns.others.len(),
        netns_skipped: v.netns_skipped,
        cgroup,
        config,
        checks,
    };
    Ok(info)
}

fn answer(name: &'static str, a: Answer, yes: &str) -> Check {
    match a {
        Ok(()) => check(name, true, yes, None),
        Err(e) => check(name, false, format!("not here: {e}"), None),
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The config file the live view would read, and whether it loads (read with the user's
/// own rights, as the live view reads it).
fn config_in_use(config: Option<&Path>) -> (Option<String>, Check) {
    let path = config
        .map(Path::to_path_buf)
        .or_else(crate::config::user_path);
    let shown = path
        .as_ref()
        .map(|p| crate::model::sanitize::sanitize_capped(&p.to_string_lossy(), 256));
    let exists = path
        .as_ref()
        .is_some_and(|p| caps::as_user(|| Ok(p.exists())).unwrap_or(false));
    let c = match crate::config::load(config) {
        Err(e) => check("config", false, e.to_string(), None),
        Ok(_) if exists => check(
            "config",
            true,
            format!("{} (the live view's)", shown.clone().unwrap_or_default()),
            None,
        ),
        Ok(_) => check(
            "config",
            true,
            format!(
                "built-in defaults; none at {}",
                shown.clone().unwrap_or_else(|| "$XDG_CONFIG_HOME".into())
            ),
            None,
        ),
    };
    (shown.filter(|_| exists), c)
}

fn write_text(out: &mut impl Write, info: &Info) -> Result<()> {
    let user = info.user.as_deref().unwrap_or("?");
    writeln!(
        out,
        "sockscope {} on Linux {} as {user} (uid {})",
        info.sockscope, info.kernel, info.uid
    )?;
    let netns = if info.netns_skipped {
        "not read".to_owned()
    } else {
        info.other_netns.to_string()
    };
    writeln!(
        out,
        "sockets {} · owners hidden {} · other network namespaces {netns} · cgroup {}",
        info.sockets, info.hidden_owners, info.cgroup
    )?;
    writeln!(out)?;
    for c in &info.checks {
        let mark = if c.ok { "ok" } else { "--" };
        writeln!(out, "{mark}  {:<15} {}", c.name, c.detail)?;
        if let Some(fix) = &c.fix {
            writeln!(out, "    {:<15} lift it: {}", "", fix.text())?;
        }
    }
    Ok(())
}
