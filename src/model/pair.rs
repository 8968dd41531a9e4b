//! A socket row's two addresses in 12 bytes.

use std::fmt;

use super::addr::Addr;

/// A row's local and remote address in 12 bytes, where two [`Addr`] take 36. Two IPv4
/// addresses (IPv4-mapped ones included: the usual case) are kept inline with their
/// ports. Anything else (an IPv6 address on either side) is boxed, and both port slots
/// then hold `u16::MAX`; an IPv4 pair whose ports are both 65535 is boxed too, so that
/// mark is never a pair of real ports. At 500k sockets a table is 12 MB lighter; a row
/// with an IPv6 address weighs 48 bytes more, on the heap.
///
/// When boxed, `ips` is the address of a `Box<[Addr; 2]>` split into its low and high
/// halves.
pub struct AddrPair {
    ips: [u32; 2],
    ports: [u16; 2],
}

const BOXED: [u16; 2] = [u16::MAX, u16::MAX];

impl AddrPair {
    pub fn new(local: Addr, remote: Addr) -> AddrPair {
        match (local.v4_bits(), remote.v4_bits()) {
            (Some(l), Some(r)) if [local.port(), remote.port()] != BOXED => AddrPair {
                ips: [l, r],
                ports: [local.port(), remote.port()],
            },
            _ => {
                let addr = Box::into_raw(Box::new([local, remote])) as usize as u64;
                AddrPair {
                    ips: [addr as u32, (addr >> 32) as u32],
                    ports: BOXED,
                }
            }
        }
    }

    /// The boxed pair, when there is one.
    fn boxed(&self) -> Option<*mut [Addr; 2]> {
        (self.ports == BOXED).then(|| {
            (u64::from(self.ips[0]) | (u64::from(self.ips[1]) << 32)) as usize as *mut [Addr; 2]
        })
    }

    /// (local, remote).
    pub fn get(&self) -> (Addr, Addr) {
        match self.boxed() {
            // SAFETY: `ips` holds the address of a live `Box<[Addr; 2]>` that this value
            // owns (made in `new`, freed only by `Drop`); the borrow of `self` keeps it
            // alive and unchanged.
            Some(pair) => {
                let [l, r] = unsafe { *pair };
                (l, r)
            }
            None => (
                Addr::from_v4_bits(self.ips[0], self.ports[0]),
                Addr::from_v4_bits(self.ips[1], self.ports[1]),
            ),
        }
    }

    /// Both addresses are IPv4 (IPv4-mapped ones included).
    pub fn both_v4(&self) -> bool {
        match self.boxed() {
            None => true,
            Some(_) => {
                let (l, r) = self.get();
                l.v4_bits().is_some() && r.v4_bits().is_some()
            }
        }
    }

    pub fn local(&self) -> Addr {
        self.get().0
    }

    pub fn remote(&self) -> Addr {
        self.get().1
    }
}

impl Drop for AddrPair {
    fn drop(&mut self) {
        if let Some(pair) = self.boxed() {
            // SAFETY: the box was made by `Box::into_raw` in `new` and is owned by this
            // value alone; it is freed once, here (assignment drops the old value here).
            drop(unsafe { Box::from_raw(pair) });
        }
    }
}

impl Clone for AddrPair {
    fn clone(&self) -> AddrPair {
        let (l, r) = self.get();
        AddrPair::new(l, r)
    }
}

impl PartialEq for AddrPair {
    /// A pair has one form (inline exactly when it can be), so two inline pairs are
    /// equal when their bits are, and an inline pair never equals a boxed one.
    fn eq(&self, other: &Self) -> bool {
        match (self.boxed(), other.boxed()) {
            (None, None) => self.ips == other.ips && self.ports == other.ports,
            (Some(_), Some(_)) => self.get() == other.get(),
            _ => false,
        }
    }
}

impl Eq for AddrPair {}

impl fmt::Debug for AddrPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (l, r) = self.get();
        f.debug_tuple("AddrPair").field(&l).field(&r).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn addr((v6, bits, port): (bool, u128, u16)) -> Addr {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from_bits(bits))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(bits as u32))
        };
        Addr::new(ip, port)
    }

    proptest! {
        /// A pair gives back both addresses, inline or boxed, and so do its copies.
        #[test]
        fn a_pair_gives_back_its_addresses(
            a in any::<(bool, u128, u16)>(),
            b in any::<(bool, u128, u16)>(),
            max_ports in any::<bool>(),
        ) {
            let (mut l, mut r) = (addr(a), addr(b));
            if max_ports {
                l = Addr::new(l.ip(), u16::MAX);
                r = Addr::new(r.ip(), u16::MAX);
            }
            let p = AddrPair::new(l, r);
            prop_assert_eq!(p.get(), (l, r));
            let copy = p.clone();
            drop(p);
            prop_assert_eq!(copy.both_v4(), l.v4_bits().is_some() && r.v4_bits().is_some());
            prop_assert_eq!(copy.local(), l);
            prop_assert_eq!(copy.remote(), r);
            prop_assert_eq!(&copy, &AddrPair::new(l, r));
            // Equal exactly when both addresses are, whatever the forms.
            let (x, y) = (addr(b), addr(a));
            prop_assert_eq!(copy == AddrPair::new(x, y), (l, r) == (x, y));
            prop_assert_eq!(AddrPair::new(l, y) == AddrPair::new(l, r), y == r);
        }
    }

    #[test]
    fn ipv4_pairs_are_inline_and_the_rest_boxed() {
        let v4 = |p| Addr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p);
        let v6 = Addr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
        assert!(AddrPair::new(v4(80), v4(5000)).boxed().is_none());
        assert!(AddrPair::new(v4(u16::MAX), v4(5000)).boxed().is_none());
        assert!(AddrPair::new(v4(u16::MAX), v4(u16::MAX)).boxed().is_some());
        assert!(AddrPair::new(v4(80), v6).boxed().is_some());
        assert!(AddrPair::new(v6, v6).boxed().is_some());
        assert_eq!(std::mem::size_of::<AddrPair>(), 12);
    }
}
