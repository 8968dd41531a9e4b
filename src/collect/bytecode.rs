//! sock_diag's filter bytecode (`INET_DIAG_REQ_BYTECODE`, as `ss` sends it; see
//! iproute2's `ssfilter_bytecompile` and the kernel's `inet_diag_bc_run`): a
//! [`Narrow`] compiled so that the kernel returns only the sockets it accepts and skips
//! the rest of a dump.
//!
//! A program is a chain of ops `{code: u8, yes: u8, no: u16}` run from the start: a test
//! that holds moves `yes` bytes on, one that fails moves `no` bytes on. The socket is
//! kept when the run ends exactly at the end of the program; a jump to its end + 4
//! rejects it. The kernel checks a program before it runs it (`inet_diag_bc_audit`):
//! every `yes` steps to the next op, and every `no` lands on an op of that chain, at
//! the end, or at the end + 4.

use crate::model::narrow::{Cond, End, Narrow};
use std::net::IpAddr;

const JMP: u8 = 1;
const S_GE: u8 = 2;
const S_LE: u8 = 3;
const D_GE: u8 = 4;
const D_LE: u8 = 5;
const S_COND: u8 = 7;
const D_COND: u8 = 8;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// One test, failing to `fail` (an index into the plan: a test, or the end).
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Port at or above (`ge`) / at or below the value.
    Port { end: End, ge: bool, port: u16 },
    Host {
        end: End,
        ip: IpAddr,
        port: Option<u16>,
    },
    /// Always jumps: past the rest of its clause (an alternative held).
    Jump,
}

impl Step {
    fn len(&self) -> usize {
        match self {
            Step::Port { .. } => 8,
            Step::Host { ip, .. } => 4 + 8 + if ip.is_ipv4() { 4 } else { 16 },
            Step::Jump => 4,
        }
    }
}

/// Where a step goes when its test fails (or, for a jump, always).
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The step at this index.
    Step(usize),
    /// Past the last step: the socket is kept (the end of the last clause).
    Accept,
    Reject,
}

/// The tests of one condition; empty when it holds for every socket.
fn steps(c: &Cond) -> Vec<Step> {
    match *c {
        Cond::Port { end, lo, hi } => {
            let mut v = Vec::new();
            if lo > 0 {
                v.push(Step::Port {
                    end,
                    ge: true,
                    port: lo,
                });
            }
            if hi < u16::MAX {
                v.push(Step::Port {
                    end,
                    ge: false,
                    port: hi,
                });
            }
            v
        }
        Cond::Addr { end, ip, port } => vec![Step::Host {
            end,
            ip: ip.to_canonical(),
            port,
        }],
    }
}

/// The program for `narrow`; `None` when every socket passes it (no clause tests
/// anything).
pub fn compile(narrow: &Narrow) -> Option<Vec<u8>> {
    // (step, where it fails to); each clause's fail targets are fixed once its end is known.
    let mut plan: Vec<(Step, Target)> = Vec::new();
    for clause in &narrow.clauses {
        let conds: Vec<Vec<Step>> = clause.iter().map(steps).collect();
        if conds.iter().any(Vec::is_empty) {
            // One alternative always holds: so does the clause.
            continue;
        }
        let start = plan.len();
        // Jumps to the clause's end, patched below.
        let mut jumps = Vec::new();
        for (i, cond) in conds.iter().enumerate() {
            let last = i + 1 == conds.len();
            let first = plan.len();
            for step in cond {
                plan.push((*step, Target::Reject));
            }
            if !last {
                jumps.push(plan.len());
                plan.push((Step::Jump, Target::Accept));
            }
            // Failing a test of this alternative tries the next one (after the jump).
            let next = if last {
                Target::Reject
            } else {
                Target::Step(plan.len())
            };
            for p in &mut plan[first..] {
                if !matches!(p.0, Step::Jump) {
                    p.1 = next;
                }
            }
        }
        let end = plan.len();
        for j in jumps {
            plan[j].1 = Target::Step(end);
        }
        debug_assert!(start < end);
    }
    if plan.is_empty() {
        return None;
    }
    let mut at = Vec::with_capacity(plan.len() + 1);
    let mut off = 0usize;
    for (s, _) in &plan {
        at.push(off);
        off += s.len();
    }
    let total = off;
    let mut out = Vec::with_capacity(total);
    for (i, (step, target)) in plan.iter().enumerate() {
        let here = at[i];
        let to = match *target {
            Target::Step(j) => at.get(j).copied().unwrap_or(total),
            Target::Accept => total,
            Target::Reject => total + 4,
        };
        let no = u16::try_from(to - here).ok()?;
        let yes = u8::try_from(step.len()).ok()?;
        match *step {
            Step::Port { end, ge, port } => {
                let code = match (end, ge) {
                    (End::Local, true) => S_GE,
                    (End::Local, false) => S_LE,
                    (End::Remote, true) => D_GE,
                    (End::Remote, false) => D_LE,
                };
                op(&mut out, code, yes, no);
                op(&mut out, 0, 0, port);
            }
            Step::Host { end, ip, port } => {
                let code = match end {
                    End::Local => S_COND,
                    End::Remote => D_COND,
                };
                op(&mut out, code, yes, no);
                // struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; __be32 addr[]; }
                let (family, bits) = match ip {
                    IpAddr::V4(_) => (AF_INET, 32u8),
                    IpAddr::V6(_) => (AF_INET6, 128u8),
                };
                out.extend_from_slice(&[family, bits, 0, 0]);
                let port = port.map_or(-1i32, i32::from);
                out.extend_from_slice(&port.to_ne_bytes());
                match ip {
                    IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                    IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
                }
            }
            Step::Jump => op(&mut out, JMP, yes, no),
        }
    }
    Some(out)
}

fn op(out: &mut Vec<u8>, code: u8, yes: u8, no: u16) {
    out.push(code);
    out.push(yes);
    out.extend_from_slice(&no.to_ne_bytes());
}

/// Runs a program on a socket the way the kernel does (`inet_diag_bc_run`), for tests:
/// whether it keeps the socket.
#[cfg(test)]
pub fn run(bc: &[u8], s: &crate::model::Socket) -> bool {
    let mut pc = 0usize;
    let len = bc.len();
    while pc < len {
        let code = bc[pc];
        let yes_len = usize::from(bc[pc + 1]);
        let no_len = usize::from(u16::from_ne_bytes([bc[pc + 2], bc[pc + 3]]));
        let arg = || usize::from(u16::from_ne_bytes([bc[pc + 6], bc[pc + 7]])) as u16;
        let (sp, dp) = (s.local().port(), s.remote().port());
        let yes = match code {
            JMP => false,
            S_GE => sp >= arg(),
            S_LE => sp <= arg(),
            D_GE => dp >= arg(),
            D_LE => dp <= arg(),
            S_COND | D_COND => {
                let a = if code == S_COND {
                    &s.local()
                } else {
                    &s.remote()
                };
                let family = bc[pc + 4];
                let port = i32::from_ne_bytes([bc[pc + 8], bc[pc + 9], bc[pc + 10], bc[pc + 11]]);
                let ip: IpAddr = if family == AF_INET {
                    let o = &bc[pc + 12..pc + 16];
                    IpAddr::from([o[0], o[1], o[2], o[3]])
                } else {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&bc[pc + 12..pc + 28]);
                    IpAddr::from(o)
                };
                (port == -1 || port == i32::from(a.port())) && a.ip() == ip
            }
            _ => panic!("unknown op {code}"),
        };
        pc += if yes { yes_len } else { no_len };
    }
    pc == len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::tests::sock;
    use crate::model::socket::State;
    use proptest::prelude::*;

    fn port(end: End, lo: u16, hi: u16) -> Cond {
        Cond::Port { end, lo, hi }
    }

    /// The layout of `sport = :80 or dport = :80`, op by op.
    #[test]
    fn an_alternative_jumps_past_the_rest_of_its_clause() {
        let n = Narrow::new(vec![vec![
            port(End::Local, 80, 80),
            port(End::Remote, 80, 80),
        ]])
        .unwrap();
        let bc = compile(&n).unwrap();
        // S_GE, S_LE (fail → D_GE at 20), JMP (→ the end, 36), D_GE, D_LE (fail → 40: reject).
        let ops: Vec<(u8, u8, u16)> = [0, 8, 16, 20, 28]
            .iter()
            .map(|&i| (bc[i], bc[i + 1], u16::from_ne_bytes([bc[i + 2], bc[i + 3]])))
            .collect();
        assert_eq!(
            ops,
            vec![
                (S_GE, 8, 20),
                (S_LE, 8, 12),
                (JMP, 4, 20),
                (D_GE, 8, 20),
                (D_LE, 8, 12)
            ]
        );
        assert_eq!(bc.len(), 36);
        // A condition on every port is no condition.
        assert!(compile(&Narrow::new(vec![vec![port(End::Local, 0, 65535)]]).unwrap()).is_none());
    }

    proptest! {
        /// The program keeps exactly the sockets the narrowing accepts.
        #[test]
        fn the_program_keeps_what_the_narrowing_accepts(
            clauses in proptest::collection::vec(
                proptest::collection::vec((any::<bool>(), 0u16..12, 0u16..12, any::<bool>(), proptest::option::of(0u16..12)), 1..4),
                1..4),
            sport in 0u16..12, dport in 0u16..12, v6 in any::<bool>(), lo_ip in any::<bool>(),
        ) {
            let ips: [IpAddr; 2] = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
            let clauses: Vec<Vec<Cond>> = clauses.into_iter().map(|c| c.into_iter().map(|(local, a, b, addr, p)| {
                let end = if local { End::Local } else { End::Remote };
                if addr {
                    Cond::Addr { end, ip: ips[usize::from(a % 2)], port: p }
                } else {
                    Cond::Port { end, lo: a.min(b), hi: a.max(b) }
                }
            }).collect()).collect();
            let n = Narrow::new(clauses).unwrap();
            let mut s = sock(sport, dport, 1, State::Estab, 0);
            let ip = if v6 { ips[1] } else if lo_ip { ips[0] } else { "10.0.0.1".parse().unwrap() };
            s.set_local(crate::model::Addr::new(ip, sport));
            s.set_remote(crate::model::Addr::new(ip, dport));
            match compile(&n) {
                Some(bc) => prop_assert_eq!(run(&bc, &s), n.accepts(&s)),
                None => prop_assert!(n.accepts(&s)),
            }
        }
    }
}
