//! The fields of `/proc/PID/stat` and `/proc/PID/status` that matter here, and their
//! parsers. Pure: the bytes are read elsewhere (`procfs`).

/// `PF_KTHREAD` in the flags field.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The fields of `/proc/PID/stat` that sockscope uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    /// Process group (field 5). 0 when the group leader lives outside the pid namespace
    /// of the /proc mount: then it is unknown, never "group 0".
    pub pgrp: u32,
    /// Session id (field 6): the pid of the session leader, usually the login shell.
    pub session: u32,
    pub threads: u32,
    pub start_ticks: u64,
    pub kernel_thread: bool,
}

impl Stat {
    /// Exited and not reaped: nothing can kill it, only its parent can reap it.
    pub fn is_zombie(&self) -> bool {
        is_zombie(self.state, self.threads)
    }
}

/// The one test for "a zombie that cannot be killed": state Z with at most one thread. A
/// `Z` process with more threads is alive: only its main thread exited (`pthread_exit`),
/// the rest run on, hold its fds and can be signalled.
pub fn is_zombie(state: char, threads: u32) -> bool {
    state == 'Z' && threads <= 1
}

/// State Z with live threads: the main thread exited, the process did not.
pub fn main_thread_exited(state: char, threads: u32) -> bool {
    state == 'Z' && threads > 1
}

/// Parses `/proc/PID/stat`. The command name may hold spaces, `)` and newlines, so the
/// fields are read after the *last* `)`.
pub fn parse_stat(buf: &[u8]) -> Option<Stat> {
    let close = buf.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(buf.get(close + 1..)?).ok()?;
    // After ')': field 3 (state) is index 0, so field N is index N - 3.
    let f: Vec<&str> = rest.split_ascii_whitespace().take(20).collect();
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let small = |n: usize| num(n).and_then(|v| u32::try_from(v).ok());
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: small(4)?,
        pgrp: small(5)?,
        session: small(6)?,
        threads: small(20)?,
        start_ticks: num(22)?,
        kernel_thread: num(9)? & PF_KTHREAD != 0,
    })
}

/// The command name of a stat line: between the first `(` and the last `)`.
pub fn stat_comm(buf: &[u8]) -> Option<&[u8]> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    buf.get(open + 1..close)
}

/// The fields of `/proc/PID/status` that sockscope uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Real uid (`Uid:`, first field): a process cannot change it without privilege.
    pub real_uid: Option<u32>,
    /// Thread-group id (`Tgid:`): differs from the pid for a thread.
    pub tgid: Option<u32>,
    /// Effective capabilities (`CapEff:`, hexadecimal).
    pub cap_eff: Option<u64>,
}

/// Parses `/proc/PID/status`; a field that is missing or odd is `None`.
pub fn parse_status(text: &str) -> Status {
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name));
    Status {
        real_uid: field("Uid:")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok()),
        tgid: field("Tgid:").and_then(|v| v.trim().parse().ok()),
        cap_eff: field("CapEff:").and_then(|v| u64::from_str_radix(v.trim(), 16).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stat_parsing_survives_odd_names() {
        let line = b"4242 (evil) name\n) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10 18446744073709551615";
        let st = parse_stat(line).unwrap();
        assert_eq!(
            st,
            Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                session: 4242,
                threads: 3,
                start_ticks: 987654,
                kernel_thread: false
            }
        );
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0";
        assert!(parse_stat(kthread).unwrap().kernel_thread);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (x) S"), None);
    }

    #[test]
    fn zombies_and_exited_main_threads_differ() {
        assert!(is_zombie('Z', 1));
        assert!(is_zombie('Z', 0));
        assert!(!is_zombie('Z', 3));
        assert!(main_thread_exited('Z', 3));
        assert!(!main_thread_exited('S', 3));
        assert!(!is_zombie('S', 1));
    }

    #[test]
    fn status_fields_and_the_command_name() {
        let status =
            "Name:\tx\nTgid:\t4242\nPid:\t4243\nUid:\t1000\t0\t0\t0\nCapEff:\t0000000000001000\n";
        assert_eq!(
            parse_status(status),
            Status {
                real_uid: Some(1000),
                tgid: Some(4242),
                cap_eff: Some(0x1000)
            }
        );
        assert_eq!(parse_status("garbage"), Status::default());
        assert_eq!(
            stat_comm(b"4242 (evil) name\n) (x) S 1"),
            Some(&b"evil) name\n) (x"[..])
        );
        assert_eq!(stat_comm(b"no parens"), None);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_stat(&bytes);
        }

        #[test]
        fn any_name_round_trips(name in "\\PC{0,20}", start in any::<u64>(), threads in 1u32..1000) {
            let line = format!("77 ({name}) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 {threads} 0 {start} 0 0");
            let st = parse_stat(line.as_bytes()).unwrap();
            prop_assert_eq!(st.start_ticks, start);
            prop_assert_eq!(st.threads, threads);
            prop_assert_eq!(st.pgrp, 77);
        }
    }
}
