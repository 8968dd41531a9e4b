//! Diagnosis flags a row can carry (SPEC §5). The diagnosis itself lives in `diagnose`;
//! the set is data here so that queries (`flag:orphan`) and output can name them.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// A small bit set of [`Flag`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

/// One diagnosis flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "SCREAMING-KEBAB-CASE")]
pub enum Flag {
    Orphan,
    Stopped,
    Zombie,
    Backlog,
    CloseWaitLeak,
    DockerProxy,
    Hidden,
}

impl Flag {
    /// Every flag, in display order.
    pub fn all() -> impl Iterator<Item = Flag> {
        Flag::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a flag name case-insensitively; `-` and `_` are interchangeable.
    pub fn parse(s: &str) -> Option<Flag> {
        let norm = s.to_ascii_uppercase().replace('_', "-");
        Flag::iter().find(|f| f.as_str() == norm)
    }
}

impl Flags {
    pub const fn empty() -> Self {
        Flags(0)
    }
    pub fn with(self, f: Flag) -> Self {
        Flags(self.0 | (1 << f as u16))
    }
    /// The raw bits, for sorting.
    pub fn bits(self) -> u16 {
        self.0
    }
    pub fn union(self, other: Flags) -> Self {
        Flags(self.0 | other.0)
    }
    pub fn contains(self, f: Flag) -> bool {
        self.0 & (1 << f as u16) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::iter().filter(move |f| self.contains(*f))
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        self.union(other)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, other: Flags) {
        *self = self.union(other);
    }
}

impl From<Flag> for Flags {
    fn from(f: Flag) -> Flags {
        Flags::empty().with(f)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Flag::as_str).collect();
        f.pad(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_by_name() {
        for f in Flag::all() {
            assert_eq!(Flag::parse(&f.as_str().to_lowercase()), Some(f));
        }
        assert_eq!(Flag::parse("close_wait_leak"), Some(Flag::CloseWaitLeak));
        assert_eq!(Flag::parse("nope"), None);
        let set = Flags::empty().with(Flag::Orphan).with(Flag::Hidden);
        assert!(set.contains(Flag::Orphan) && !set.contains(Flag::Zombie));
        assert_eq!(set.to_string(), "ORPHAN,HIDDEN");
    }
}
