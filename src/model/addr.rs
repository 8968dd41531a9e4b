//! A socket address in 18 bytes, and how it is printed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A port number a person typed (a filter term, an argument): digits only, 1-65535.
/// Every place that reads one says the same when it is not one ([`not_a_port`]).
pub fn port_number(s: &str) -> Option<u16> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p > 0)
}

/// The one error for a port that is not one: "`99999` is not a port (1-65535)".
pub fn not_a_port(s: &str) -> String {
    format!("`{}` is not a port (1-65535)", super::sanitize::quote(s))
}

/// Converts IPv4-mapped IPv6 (`::ffff:1.2.3.4`) to plain IPv4; leaves the rest alone.
pub fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An IP address and port in 18 bytes, where a `SocketAddr` takes 32: an IPv4 address is
/// kept IPv4-mapped (`::ffff:a.b.c.d`) and read back as IPv4. A socket row has two, so
/// at 500k sockets a table is 28 MB lighter. Orders, prints and parses as `SocketAddr`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Addr {
    ip: [u8; 16],
    port: u16,
}

impl Addr {
    pub fn new(ip: IpAddr, port: u16) -> Addr {
        let ip = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        Addr {
            ip: ip.octets(),
            port,
        }
    }

    /// The address; an IPv4-mapped one as IPv4.
    pub fn ip(&self) -> IpAddr {
        std::net::Ipv6Addr::from(self.ip).to_canonical()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn is_ipv4(&self) -> bool {
        self.ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    }

    /// The IPv4 address as bits (an IPv4-mapped one included); `None` for IPv6.
    pub(super) fn v4_bits(&self) -> Option<u32> {
        self.is_ipv4()
            .then(|| u32::from_be_bytes([self.ip[12], self.ip[13], self.ip[14], self.ip[15]]))
    }

    pub(super) fn from_v4_bits(bits: u32, port: u16) -> Addr {
        let [a, b, c, d] = bits.to_be_bytes();
        Addr {
            ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d],
            port,
        }
    }

    /// (family, bits): v4 before v6, as `IpAddr` orders them; sorts as [`Addr`]'s `Ord`
    /// without building an `IpAddr`.
    pub fn order_key(&self) -> (u8, u128) {
        (u8::from(!self.is_ipv4()), u128::from_be_bytes(self.ip))
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip(), self.port)
    }
}

impl From<SocketAddr> for Addr {
    fn from(a: SocketAddr) -> Addr {
        Addr::new(a.ip(), a.port())
    }
}

impl From<Addr> for SocketAddr {
    fn from(a: Addr) -> SocketAddr {
        a.socket_addr()
    }
}

impl PartialEq<SocketAddr> for Addr {
    fn eq(&self, other: &SocketAddr) -> bool {
        *self == Addr::from(*other)
    }
}

impl std::str::FromStr for Addr {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Addr, Self::Err> {
        s.parse::<SocketAddr>().map(Addr::from)
    }
}

impl PartialOrd for Addr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// As `SocketAddr`: IPv4 before IPv6, then the address, then the port.
impl Ord for Addr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.order_key(), self.port).cmp(&(other.order_key(), other.port))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.socket_addr(), f)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.socket_addr(), f)
    }
}

/// Formats `addr:port` the way ss does: `*` for wildcards, brackets around IPv6.
pub struct Endpoint<'a>(pub &'a Addr);

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.0;
        let text = match (a.ip().is_unspecified(), a.port()) {
            (true, 0) => "*:*".to_owned(),
            (true, p) => format!("*:{p}"),
            (false, 0) => match a.ip() {
                IpAddr::V4(ip) => format!("{ip}:*"),
                IpAddr::V6(ip) => format!("[{ip}]:*"),
            },
            (false, _) => a.to_string(),
        };
        f.pad(&text)
    }
}
