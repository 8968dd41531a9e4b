//! Pure data: sockets, processes, snapshots, their diff and the event log. No OS, no
//! terminal; everything else reads these types.

pub mod addr;
pub mod budget;
pub mod cgroup;
pub mod command;
pub mod container;
pub mod diff;
pub mod events;
pub mod evidence;
pub mod flags;
pub mod fold;
pub mod fresh;
pub mod lifecycle;
pub mod narrow;
pub mod netns;
pub mod pair;
pub mod pids;
pub mod process;
pub mod sanitize;
pub mod services;
pub mod signal;
pub mod snapshot;
pub mod socket;
pub mod spare;
pub mod stat;
pub mod time;
pub mod traffic;

pub use budget::Budget;
pub use cgroup::Runtime;
pub use command::{Command, Step};
pub use container::Container;
pub use diff::{Delta, diff};
pub use events::{Event, EventKind, EventLog, FlagsOf, Folded, events};
pub use evidence::Evidence;
pub use flags::{Flag, Flags};
pub use fresh::{Counts, Fresh, Freshness, Sockstat};
pub use narrow::Narrow;
pub use netns::{Netns, NetnsKind, NetnsTable};
pub use process::{Ancestor, Origin, Pm2App, Process};
pub use signal::{Delivery, Refusal, Sent, Sig};
pub use snapshot::{Collected, Scope, Snapshot, Visibility};
pub use socket::{
    Addr, AddrPair, OwnerStatus, Pids, Proto, Socket, SocketKey, State, Timer, TimerKind,
};
