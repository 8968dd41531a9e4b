//! Whether something said about a process rests on facts it cannot forge (SPEC §11).
//!
//! A process controls its own environment, argv, comm and working directory, and a user
//! controls the names in a cgroup subtree they own; image labels come from whoever built
//! the image. Those are claims. Evidence is what a party at least as privileged as the
//! one who acts has set: the kernel (uids, namespaces, parentage, the file a process
//! runs), a root-owned supervisor above the process, the container engine's own answer,
//! the system cgroup hierarchy.

use serde::Serialize;

/// How much an attribution can be trusted, and why, in a few words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "trust", content = "why", rename_all = "lowercase")]
pub enum Evidence {
    /// Backed by facts the process cannot forge: the reason says which
    /// ("PM2 daemon 812 above it, same user").
    Verified(String),
    /// Only the process, its user or an image says so: the reason says what is missing
    /// ("no PM2 daemon above it"). Shown as a claim, never turned into a command or a
    /// pre-selected action.
    Claimed(String),
}

impl Evidence {
    pub fn verified(&self) -> bool {
        matches!(self, Evidence::Verified(_))
    }

    /// The reason, either way.
    pub fn why(&self) -> &str {
        match self {
            Evidence::Verified(w) | Evidence::Claimed(w) => w,
        }
    }
}
