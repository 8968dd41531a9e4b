//! Supervisors found up the parent chain: supervisord, runit, s6, dev-server
//! reloaders, tmux and screen — believed when the kernel says the ancestor runs the real
//! program as root or as the holder's user.

use super::{Kind, Supervisor, exact, run_as, user_text};
use crate::model::process::interpreter;
use crate::model::{Ancestor, Command, Evidence, Process, Snapshot};

/// The basename of a command line's program, and for an interpreter its script.
fn program(cmdline: &[String]) -> Option<&str> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    let first = cmdline.first()?;
    let b = base(first);
    let interp = ["node", "python", "python3", "sh", "bash"]
        .iter()
        .any(|i| b == *i || b.starts_with("python3."));
    let pick = if interp {
        cmdline.iter().skip(1).find(|a| !a.starts_with('-'))?
    } else {
        first
    };
    Some(pick.rsplit('/').next().unwrap_or(pick))
}

/// Whether ancestor `a`, which says it is `tool`, is believed: it runs as root or as the
/// holder's user, and the kernel says it runs the real program (a root-owned file named
/// `tool`, or a root-owned interpreter running a root-owned script named so). `Err` says
/// why not.
fn real_tool(
    a: &Ancestor,
    holder: &Process,
    tool: &str,
    snap: &Snapshot,
) -> Result<String, String> {
    let prog = a.program();
    // An interpreter runs the tool's script: `python3 /usr/bin/supervisord`, argv[0]
    // naming the interpreter too (`exec -a supervisord python3` is not that).
    let argv0 = a.cmdline.first().map(|c| c.rsplit('/').next().unwrap_or(c));
    let script = interpreter(prog) && interpreter(argv0) && program(&a.cmdline) == Some(tool);
    if script && a.exe_root_owned {
        // Which script an interpreter runs is known from its argv only, which the process
        // wrote (and can rewrite; an option's value can look like a script): believed of
        // root's processes alone, and then only for a script only root controls.
        if a.uid != Some(0) {
            return Err(format!(
                "{} {} runs a script named {tool} as {}: a script's name is its own say, believed of root's only",
                a.pid,
                a.name,
                user_text(snap, a.uid)
            ));
        }
        if !a.script_root_owned {
            return Err(format!(
                "{} {} runs a script named {tool}, but {} is not a root-owned file in root's directories",
                a.pid,
                a.name,
                crate::model::process::script_arg(&a.cmdline).unwrap_or("(unknown)")
            ));
        }
    }
    let runs_it = prog == Some(tool) || script;
    if !runs_it || !a.exe_root_owned {
        return Err(format!(
            "{} {} calls itself {tool}, but its program {} is not a root-owned {tool}",
            a.pid,
            a.name,
            a.exe.as_deref().unwrap_or("(unreadable)")
        ));
    }
    if a.uid == Some(0) || (a.uid.is_some() && a.uid == holder.uid) {
        return Ok(format!(
            "{tool} {} ({}) is above it",
            a.pid,
            user_text(snap, a.uid)
        ));
    }
    Err(format!(
        "{tool} {} runs as {}, neither root nor its user",
        a.pid,
        user_text(snap, a.uid)
    ))
}

/// supervisord, runit's runsv, s6-supervise: an ancestor.
pub(super) fn service_manager(p: &Process, snap: &Snapshot) -> Option<Supervisor> {
    for a in &p.origin.ancestors {
        let said = program(&a.cmdline).unwrap_or(&a.name);
        let by_exe = a.program().unwrap_or("");
        let (kind, tool) = match (said, by_exe) {
            ("runsv", _) | (_, "runsv") => (Kind::Runit, "runsv"),
            ("s6-supervise", _) | (_, "s6-supervise") => (Kind::S6, "s6-supervise"),
            ("supervisord", _) | (_, "supervisord") => (Kind::Supervisord, "supervisord"),
            _ => continue,
        };
        let real = real_tool(a, p, tool, snap);
        let mut s = match (kind, real) {
            (_, Err(why)) => Supervisor::new(kind, said, Evidence::Claimed(why)),
            (Kind::Supervisord, Ok(why)) => supervisord(p, a, snap, why),
            (_, Ok(why)) => {
                // runsv and s6-supervise run in their service's directory.
                let dir = a.cwd.clone().filter(|d| exact(d) && d.starts_with('/'));
                let name = dir
                    .as_deref()
                    .and_then(|d| d.rsplit('/').next())
                    .unwrap_or("(its service)")
                    .to_owned();
                let stop = dir.and_then(|d| {
                    let cmd = if kind == Kind::Runit {
                        Command::new("sv", ["down", &d])
                    } else {
                        Command::new("s6-svc", ["-d", &d])
                    };
                    Some(cmd.run_as(run_as(snap, a.uid)?))
                });
                Supervisor::new(kind, name, Evidence::Verified(why)).stopped_by(stop)
            }
        };
        s.restarts = true;
        s.pid = Some(a.pid);
        s.uid = a.uid;
        return Some(s);
    }
    None
}

/// A supervisord program name it accepts: `[A-Za-z0-9._@+-]`, a group before one `:`.
fn valid_program(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
}

/// Under a real supervisord: the program its environment names is believed only from a
/// process of supervisord's own user (another user could name any program).
fn supervisord(p: &Process, sd: &Ancestor, snap: &Snapshot, why: String) -> Supervisor {
    let status = || Command::new("supervisorctl", ["status"]);
    let Some(prog) = &p.origin.supervisord else {
        return Supervisor::new(
            Kind::Supervisord,
            "(unknown program)",
            Evidence::Claimed(format!(
                "{why}, but no program name is in its environment: `{}` lists which program has pid {}",
                status(),
                p.pid
            )),
        );
    };
    let full = match &prog.group {
        Some(g) if g != &prog.name => format!("{g}:{}", prog.name),
        _ => prog.name.clone(),
    };
    let valid = valid_program(&prog.name) && prog.group.as_deref().is_none_or(valid_program);
    if !valid {
        return Supervisor::new(
            Kind::Supervisord,
            full,
            Evidence::Claimed(format!(
                "{why}, but the program name in its environment is not one supervisord accepts"
            )),
        );
    }
    if p.uid.is_none() || p.uid != sd.uid {
        return Supervisor::new(
            Kind::Supervisord,
            full,
            Evidence::Claimed(format!(
                "{why}, but the program name comes from its own environment and it runs as {}: `{}` lists which program has pid {}",
                user_text(snap, p.uid),
                status(),
                p.pid
            )),
        );
    }
    let stop =
        run_as(snap, sd.uid).map(|who| Command::new("supervisorctl", ["stop", &full]).run_as(who));
    Supervisor::new(Kind::Supervisord, full, Evidence::Verified(why)).stopped_by(stop)
}

/// Dev-server reloaders: they restart the server when files change (and some when it
/// dies); stopping the server alone does not stop them.
pub(super) fn reloader(p: &Process) -> Option<Supervisor> {
    // The process itself may be the reloader's parent half (uvicorn --reload holds the
    // socket in both), so look at it too.
    let me = Ancestor {
        pid: p.pid,
        name: p.name.clone(),
        cmdline: p.cmdline.clone(),
        uid: p.uid,
        exe: p.exe.clone(),
        exe_root_owned: p.exe_root_owned,
        ..Ancestor::default()
    };
    for a in p.origin.ancestors.iter().chain(std::iter::once(&me)) {
        let joined = a.cmdline.join(" ");
        let prog = program(&a.cmdline).unwrap_or(&a.name);
        let name = match prog {
            "nodemon" | "nodemon.js" => "nodemon",
            "ts-node-dev" => "ts-node-dev",
            "cargo-watch" => "cargo watch",
            "next" if joined.contains(" dev") => "next dev",
            "uvicorn" if joined.contains("--reload") => "uvicorn --reload",
            "flask" if joined.contains("--reload") || joined.contains("--debug") => {
                "flask's reloader"
            }
            _ if a.name == "node" && a.cmdline.iter().any(|x| x == "--watch") => "node --watch",
            _ if a.name == "cargo" && a.cmdline.get(1).is_some_and(|x| x == "watch") => {
                "cargo watch"
            }
            _ => continue,
        };
        if a.pid == p.pid && name != "uvicorn --reload" {
            continue;
        }
        // Its argv names it; believed when it runs as the holder's user or root and the
        // kernel says it runs a program root installed.
        let evidence = if !a.exe_root_owned {
            Evidence::Claimed(format!(
                "{} says it is {name}, but its program {} is not a root-owned file",
                a.pid,
                a.exe.as_deref().unwrap_or("(unreadable)")
            ))
        } else if a.uid == Some(0) || (a.uid.is_some() && a.uid == p.uid) {
            Evidence::Verified(format!(
                "{} ({name}) is its ancestor, same user or root",
                a.pid
            ))
        } else {
            Evidence::Claimed(format!("{} ({name}) runs as another user", a.pid))
        };
        let mut s =
            Supervisor::new(Kind::Reloader, format!("{name} ({})", a.pid), evidence).stopped_by(
                Some(Command::sockscope(["kill", &format!("pid:{}", a.pid)])),
            );
        // It waits for a file to change, not for the server to die.
        s.pid = Some(a.pid);
        s.uid = a.uid;
        return Some(s);
    }
    None
}

/// tmux or screen, as its environment says: believed when a tmux (screen) of its own user
/// or root is above it. Nothing to stop either way.
pub(super) fn mux(p: &Process) -> Option<Supervisor> {
    let (kind, session) = p.origin.mux.as_ref()?;
    let (kind, tool) = if kind == "screen" {
        (Kind::Screen, "screen")
    } else {
        (Kind::Tmux, "tmux")
    };
    let above = p.origin.ancestors.iter().find(|a| {
        a.program() == Some(tool) && (a.uid == Some(0) || (a.uid.is_some() && a.uid == p.uid))
    });
    let evidence = match above {
        Some(a) => Evidence::Verified(format!("{tool} {} is its ancestor", a.pid)),
        None => Evidence::Claimed(format!(
            "its environment says so, but no {tool} is above it"
        )),
    };
    let mut s = Supervisor::new(kind, session.clone(), evidence);
    s.uid = p.uid;
    Some(s)
}
