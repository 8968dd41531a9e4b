//! Pure data: sockets, processes, snapshots, their diff and the event log. No OS, no
//! terminal; everything else reads these types.

pub mod diff;
pub mod events;
pub mod flags;
pub mod process;
pub mod sanitize;
pub mod services;
pub mod signal;
pub mod snapshot;
pub mod socket;
pub mod stat;
pub mod time;

pub use diff::{Delta, diff};
pub use events::{Event, EventKind, EventLog, FlagsOf, events};
pub use flags::{Flag, Flags};
pub use process::Process;
pub use signal::{Delivery, Refusal, Sent, Sig};
pub use snapshot::{Collected, Scope, Snapshot, Visibility};
pub use socket::{OwnerStatus, Pids, Proto, Socket, SocketKey, State, Timer, TimerKind};
