//! JSON output of `sockscope list --json`. The schema is documented in docs/commands.md and
//! versioned: a field is never removed or changes meaning without bumping [`VERSION`].

use super::Row;
use crate::diagnose::{Supervisor, supervisor};
use crate::model::{Flags, OwnerStatus, Process, Snapshot, Socket, Timer};
use serde::Serialize;
use serde::ser::Error as _;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

/// Schema version of the `list` document. Version 2: `netns` on every socket; a
/// process's `container` is an object; every process has a `supervisor`. Version 3:
/// trust on containers and supervisors (`trust`, `why`); `stop` (argv beside the text);
/// a supervisor that is only claimed has no `stop_command`.
pub const VERSION: u32 = 3;

#[derive(Serialize)]
pub struct ListDoc<'a> {
    pub version: u32,
    /// Milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    pub collector: &'a str,
    /// `listeners` or `all`.
    pub scope: &'a str,
    pub euid: u32,
    pub hidden_sockets: usize,
    /// Other network namespaces could not be read (entering them needs root).
    pub netns_skipped: bool,
    /// Namespaces found and not read (more than sockscope reads).
    pub netns_unread: usize,
    pub sockets: Rows<'a>,
}

/// The socket array, serialised row by row so that no copy of the table is built.
pub struct Rows<'a> {
    rows: &'a [Row<'a>],
    snap: &'a Snapshot,
    /// The document is written indented: shared owner objects are indented to match.
    pretty: bool,
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Each owner's object is written once and spliced into every row it holds: a
        // process with 10,000 sockets is not serialised 10,000 times.
        let mut cache: HashMap<u32, Box<RawValue>> = HashMap::new();
        for row in self.rows {
            for p in self.snap.owners_of(row.socket) {
                if !port_dependent(p) && !cache.contains_key(&p.pid) {
                    let doc = process_doc(p, self.snap, None);
                    let text = if self.pretty {
                        // At the depth where owners sit in `list --json` (four levels,
                        // eight spaces), so the document reads as if written whole.
                        serde_json::to_string_pretty(&doc)
                            .map_err(S::Error::custom)?
                            .replace('\n', &format!("\n{OWNER_INDENT}"))
                    } else {
                        serde_json::to_string(&doc).map_err(S::Error::custom)?
                    };
                    let raw = RawValue::from_string(text).map_err(S::Error::custom)?;
                    cache.insert(p.pid, raw);
                }
            }
        }
        s.collect_seq(
            self.rows
                .iter()
                .map(|row| socket_doc_cached(row.socket, self.snap, row.flags, Some(&cache))),
        )
    }
}

/// The indentation of an owner object in the pretty `list --json` document.
const OWNER_INDENT: &str = "        ";

/// Whether a process's supervisor depends on the port asked about (systemd's socket
/// units), so that its object cannot be shared between rows.
fn port_dependent(p: &Process) -> bool {
    !p.origin.socket_units.is_empty()
}

/// An owner in a socket row: built for this row, or written once for the snapshot.
#[derive(Serialize)]
#[serde(untagged)]
pub enum OwnerDoc<'a> {
    Full(ProcessDoc<'a>),
    Shared(&'a RawValue),
}

#[derive(Serialize)]
pub struct Endpoint {
    /// The address as text, written straight into the output (no string per endpoint:
    /// a cold `list --all --json` writes 40,000 of them at 20k sockets).
    #[serde(serialize_with = "ip_text")]
    pub addr: std::net::IpAddr,
    pub port: u16,
}

/// An address as text, as `Display` writes it: IPv4 digit by digit into a buffer on the
/// stack (`fmt` took about 3 ms of a cold `list --all --json` at 20k sockets, for two
/// addresses a socket), IPv6 through `Display`.
fn ip_text<S: serde::Serializer>(ip: &std::net::IpAddr, s: S) -> Result<S::Ok, S::Error> {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut buf = [0u8; 15];
            let mut n = 0;
            for (i, &o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if o >= 100 {
                    buf[n] = b'0' + o / 100;
                    n += 1;
                }
                if o >= 10 {
                    buf[n] = b'0' + (o / 10) % 10;
                    n += 1;
                }
                buf[n] = b'0' + o % 10;
                n += 1;
            }
            s.serialize_str(std::str::from_utf8(&buf[..n]).map_err(S::Error::custom)?)
        }
        std::net::IpAddr::V6(_) => s.collect_str(ip),
    }
}

#[derive(Serialize)]
pub struct SocketDoc<'a> {
    pub proto: &'static str,
    pub state: &'static str,
    pub local: Endpoint,
    pub remote: Endpoint,
    pub recv_q: u32,
    pub send_q: u32,
    pub timer: Option<Timer>,
    pub uid: u32,
    pub user: Option<&'a str>,
    pub inode: u64,
    pub netns: NetnsDoc<'a>,
    pub owner_status: OwnerStatus,
    pub owners: Vec<OwnerDoc<'a>>,
    /// Diagnosis flags (`STOPPED`, `ORPHAN`, …), empty when healthy.
    pub flags: Vec<&'static str>,
    /// For a TIME-WAIT: who made the connection it came from, when known.
    pub made_by: Option<&'a crate::model::lifecycle::Maker>,
    /// For a TCP connection: its `tcp_info`, when it was read (`list --all`).
    pub tcp: Option<TcpDoc>,
}

/// The network namespace of a socket: its inode and what it is called (`host`, an `ip
/// netns` name, a container's name, `comm[pid]`).
#[derive(Serialize)]
pub struct NetnsDoc<'a> {
    pub inode: u64,
    pub name: std::borrow::Cow<'a, str>,
}

/// A process as every document shows it: its fields, and what supervises it.
#[derive(Serialize)]
pub struct ProcessDoc<'a> {
    #[serde(flatten)]
    pub process: &'a Process,
    pub supervisor: Option<Supervisor>,
}

/// A process with its supervisor (judged for `port`, when the document is about one).
pub fn process_doc<'a>(p: &'a Process, snap: &Snapshot, port: Option<u16>) -> ProcessDoc<'a> {
    ProcessDoc {
        process: p,
        supervisor: supervisor(p, snap, port),
    }
}

fn endpoint(a: &crate::model::Addr) -> Endpoint {
    Endpoint {
        addr: a.ip(),
        port: a.port(),
    }
}

/// The `list` document; `pretty` when it is written indented.
pub fn document<'a>(rows: &'a [Row<'a>], snap: &'a Snapshot, pretty: bool) -> ListDoc<'a> {
    ListDoc {
        version: VERSION,
        taken_at_ms: snap
            .taken_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        collector: snap.collector,
        scope: match snap.scope {
            crate::model::Scope::Listeners | crate::model::Scope::Serving => "listeners",
            crate::model::Scope::All => "all",
        },
        euid: snap.visibility.euid,
        hidden_sockets: rows
            .iter()
            .filter(|r| r.socket.owner_status == crate::model::OwnerStatus::Hidden)
            .count(),
        netns_skipped: snap.visibility.netns_skipped,
        netns_unread: snap.netns.unread,
        sockets: Rows { rows, snap, pretty },
    }
}

/// One socket as in `list --json`.
pub fn socket_doc<'a>(s: &'a Socket, snap: &'a Snapshot, flags: Flags) -> SocketDoc<'a> {
    socket_doc_cached(s, snap, flags, None)
}

/// [`socket_doc`], taking owners' objects from `cache` when it has them.
fn socket_doc_cached<'a>(
    s: &'a Socket,
    snap: &'a Snapshot,
    flags: Flags,
    cache: Option<&'a HashMap<u32, Box<RawValue>>>,
) -> SocketDoc<'a> {
    SocketDoc {
        proto: s.proto.as_str(),
        state: s.state.as_str(),
        local: endpoint(&s.local()),
        remote: endpoint(&s.remote()),
        recv_q: s.recv_q,
        send_q: s.send_q,
        timer: s.timer,
        uid: s.uid,
        // A kernel-held socket's uid is always 0 and names nobody.
        user: if s.owner_status == OwnerStatus::Kernel {
            None
        } else {
            snap.user_name(s.uid)
        },
        inode: u64::from(s.inode),
        netns: NetnsDoc {
            inode: if s.netns == 0 {
                u64::from(snap.netns.host)
            } else {
                u64::from(s.netns)
            },
            name: snap.netns.name_ref(s.netns),
        },
        owner_status: s.owner_status,
        owners: snap
            .owners_of(s)
            .map(|p| match cache.and_then(|c| c.get(&p.pid)) {
                Some(raw) => OwnerDoc::Shared(raw),
                None => OwnerDoc::Full(process_doc(p, snap, Some(s.local().port()))),
            })
            .collect(),
        flags: flags.iter().map(|f| f.as_str()).collect(),
        made_by: snap.maker_of(s),
        tcp: snap.tcp_of(s).map(|t| TcpDoc::of(t, s.state)),
    }
}

/// A TCP connection's `tcp_info` as `list --json` gives it (version 3).
#[derive(Serialize)]
pub struct TcpDoc {
    /// Smoothed round-trip time and its variation, µs.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Segments retransmitted over its life.
    pub retrans: u32,
    /// Payload bytes sent (each once), and received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Since the last data sent and received, ms.
    pub last_send_ms: u32,
    pub last_recv_ms: u32,
    /// The kernel's estimate of the delivery rate, bytes/s.
    pub delivery_rate: u64,
}

impl TcpDoc {
    pub fn of(t: &crate::model::lifecycle::TcpInfo, state: crate::model::State) -> TcpDoc {
        use crate::model::State as S;
        // The kernel counts a FIN like a byte: the peer's once received, ours once acked.
        let fin_in = matches!(state, S::CloseWait | S::LastAck | S::Closing | S::TimeWait);
        let fin_out = matches!(state, S::FinWait2 | S::TimeWait);
        TcpDoc {
            rtt_us: t.rtt_us,
            rttvar_us: t.rttvar_us,
            retrans: t.retrans,
            bytes_sent: t.sent(fin_out),
            bytes_received: t.received(fin_in),
            last_send_ms: t.last_send_ms,
            last_recv_ms: t.last_recv_ms,
            delivery_rate: t.delivery_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// An endpoint's address is written as `Display` writes it, IPv4 and IPv6.
        #[test]
        fn addresses_are_written_as_display_writes_them(bits in proptest::prelude::any::<u128>(), v6 in proptest::prelude::any::<bool>()) {
            let ip = if v6 {
                std::net::IpAddr::V6(std::net::Ipv6Addr::from_bits(bits))
            } else {
                std::net::IpAddr::V4(std::net::Ipv4Addr::from_bits(bits as u32))
            };
            let text = serde_json::to_string(&Endpoint { addr: ip, port: 1 }).unwrap();
            proptest::prop_assert_eq!(text, format!("{{\"addr\":\"{ip}\",\"port\":1}}"));
        }
    }
    use crate::app::testkit::{snapshot, table};
    use crate::model::Scope;

    /// Owners written once and spliced into every row give the same document as writing
    /// each row whole: indented alike when pretty, on one line when not.
    #[test]
    fn shared_owners_read_as_if_written_whole() {
        let (sockets, procs) = table();
        let snap = snapshot(5, Scope::All, sockets, &procs);
        let rows = super::super::rows(&snap, &crate::query::Query::default());
        assert!(
            rows.iter().filter(|r| !r.socket.owners.is_empty()).count() > 1,
            "the fixture must have owned rows"
        );
        let pretty = serde_json::to_string_pretty(&document(&rows, &snap, true)).unwrap();
        let compact = serde_json::to_string(&document(&rows, &snap, false)).unwrap();
        let whole: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(
            whole,
            serde_json::from_str::<serde_json::Value>(&compact).unwrap()
        );
        // Each line of the pretty document is indented by its depth.
        let mut depth = 0usize;
        for line in pretty.lines() {
            let text = line.trim_start();
            if text.starts_with(['}', ']']) {
                depth -= 1;
            }
            assert_eq!(line.len() - text.len(), 2 * depth, "{line:?}");
            if text.ends_with(['{', '[']) {
                depth += 1;
            }
        }
        assert_eq!(depth, 0);
        assert!(!compact.contains('\n'));
    }
}
