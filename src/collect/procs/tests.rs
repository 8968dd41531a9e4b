use super::*;
use crate::procfs::fake::{FakeProc, FakeProcs};
use std::sync::Arc;

#[test]
fn reads_our_own_process() {
    let me = std::process::id();
    let mut procs = Procs::new().unwrap();
    let got = procs.refresh(&[me]);
    let p = &got[&me];
    assert_eq!(p.pid, me);
    assert!(p.start_ticks > 0);
    assert!(!p.cmdline.is_empty());
    assert!(p.exe.is_some());
    assert_eq!(p.uid, Some(rustix::process::getuid().as_raw()));
    // Second refresh reuses the cached identity.
    let again = procs.refresh(&[me, u32::MAX - 1]);
    assert_eq!(again[&me].start_ticks, p.start_ticks);
    assert!(!again.contains_key(&(u32::MAX - 1)));
}

/// The details of a made-up process: what it says (name, argv, environment) and what
/// the kernel says (uid, program, state, parent); a known identity keeps its details
/// and gets its state anew, a reused pid is read again, an exited one is left out.
#[test]
fn details_over_a_fake() {
    let mut init = FakeProc::new(1, 0, 1, "systemd");
    init.uid = 0;
    let mut server = FakeProc::new(300, 1, 7000, "node");
    server.cmdline = vec![
        "node".into(),
        "server.js".into(),
        String::new(),
        "\x1b[2J".into(),
    ];
    server.exe = Some((
        "/usr/bin/node (deleted)".into(),
        crate::procfs::FileMeta {
            uid: 1000,
            mode: 0o100_755,
        },
    ));
    server.environ = vec![("name".into(), "api".into()), ("pm_id".into(), "2".into())];
    server.stat.session = 1;
    let procs = FakeProcs::new([(1, init), (300, server)]);
    let mut reader = Procs::with_source(Arc::new(procs.clone())).unwrap();

    let got = reader.refresh(&[300]);
    let p = &got[&300];
    assert_eq!(p.name, "node");
    assert_eq!(p.cmdline, vec!["node", "server.js", "\\e[2J"]);
    assert_eq!(p.exe.as_deref(), Some("/usr/bin/node"));
    assert!(!p.exe_root_owned, "uid 1000's program");
    assert_eq!(
        (p.uid, p.ppid, p.state, p.start_ticks),
        (Some(1000), Some(1), 'S', 7000)
    );
    assert!(p.session_leader_alive);
    assert_eq!(p.parent_state, Some('S'));
    assert_eq!(p.origin.pm2.as_ref().map(|a| a.name.as_str()), Some("api"));
    assert_eq!(
        p.origin.ancestors.iter().map(|a| a.pid).collect::<Vec<_>>(),
        vec![1]
    );

    // Same identity: the state is read anew, the command line is not.
    procs.change(300, |p| {
        p.stat.state = 'T';
        p.cmdline = vec!["changed".into()];
    });
    let got = reader.refresh(&[300]);
    assert_eq!(
        (got[&300].state, got[&300].cmdline[0].as_str()),
        ('T', "node")
    );

    // The pid is another process now: read in full.
    procs.add(300, FakeProc::new(300, 1, 9000, "python3"));
    let got = reader.refresh(&[300]);
    assert_eq!(
        (got[&300].name.as_str(), got[&300].start_ticks),
        ("python3", 9000)
    );

    procs.remove(300);
    assert!(reader.refresh(&[300]).is_empty());
}
