//! The tokens of the two-step actions: a preview names the exact targets and hands out a
//! random token; the execute call must bring it back, unaltered, within [`TTL`]. A token
//! is used once (whatever the execute call comes to), and only the server knows what it
//! stands for: the targets are never read back from the client.

use std::io::Read;
use std::time::{Duration, Instant};

/// How long a preview's token is good for.
pub const TTL: Duration = Duration::from_secs(30);
/// Previews waiting for their execute call, at most; the oldest give way.
const PENDING: usize = 16;
/// Random bytes in a token.
const BYTES: usize = 16;

/// What a token was issued for, `T`: the exact targets and the arguments of the preview.
pub struct Tokens<T> {
    pending: Vec<(String, Instant, T)>,
    ttl: Duration,
}

/// Why a token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Never issued, already used, altered, or given way to newer previews.
    Unknown,
    Expired,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Unknown => {
                "unknown token (it was never issued, was already used, or was altered): nothing was done; call the tool without a token for a new preview"
            }
            Refused::Expired => {
                "the token expired (a preview is good for 30 s): nothing was done; call the tool without a token for a new preview"
            }
        })
    }
}

impl<T> Tokens<T> {
    /// `ttl` is [`TTL`] or shorter.
    pub fn new(ttl: Duration) -> Tokens<T> {
        Tokens {
            pending: Vec::new(),
            ttl: ttl.min(TTL),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new token for `what`, good until `now + ttl`.
    pub fn issue(&mut self, what: T, now: Instant) -> std::io::Result<String> {
        let token = random_hex()?;
        self.pending
            .retain(|(_, at, _)| now.saturating_duration_since(*at) < self.ttl);
        if self.pending.len() >= PENDING {
            self.pending.remove(0);
        }
        self.pending.push((token.clone(), now, what));
        Ok(token)
    }

    /// What `token` was issued for; the token is spent either way.
    pub fn take(&mut self, token: &str, now: Instant) -> Result<T, Refused> {
        let i = self
            .pending
            .iter()
            .position(|(t, _, _)| same(t.as_bytes(), token.as_bytes()))
            .ok_or(Refused::Unknown)?;
        let (_, at, what) = self.pending.remove(i);
        if now.saturating_duration_since(at) >= self.ttl {
            return Err(Refused::Expired);
        }
        Ok(what)
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 16 bytes from the kernel's random source, in hex.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_once_for_thirty_seconds() {
        let t0 = Instant::now();
        let mut tokens = Tokens::new(Duration::from_secs(3600));
        assert_eq!(tokens.ttl(), TTL, "never longer than 30 s");
        let a = tokens.issue("a", t0).unwrap();
        let b = tokens.issue("b", t0).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(tokens.take(&a, t0 + Duration::from_secs(29)), Ok("a"));
        assert_eq!(tokens.take(&a, t0), Err(Refused::Unknown), "used once");
        assert_eq!(tokens.take(&b, t0 + TTL), Err(Refused::Expired));
        assert_eq!(
            tokens.take(&b, t0),
            Err(Refused::Unknown),
            "spent by the try"
        );
        // One character changed is another token.
        let c = tokens.issue("c", t0).unwrap();
        let mut altered = c.clone().into_bytes();
        altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(tokens.take(&altered, t0), Err(Refused::Unknown));
        assert_eq!(tokens.take(&c, t0), Ok("c"));
    }

    #[test]
    fn pending_previews_are_bounded() {
        let t0 = Instant::now();
        let mut tokens = Tokens::new(TTL);
        let first = tokens.issue(0, t0).unwrap();
        for i in 1..=PENDING {
            tokens.issue(i, t0).unwrap();
        }
        assert_eq!(tokens.pending.len(), PENDING);
        assert_eq!(tokens.take(&first, t0), Err(Refused::Unknown));
        // Expired ones go first.
        let later = t0 + TTL;
        tokens.issue(99, later).unwrap();
        assert_eq!(tokens.pending.len(), 1);
    }
}
