//! Parser for the query language; errors name the bad term and its column.

use super::{AddrPat, Query, Side, Term, Test};
use crate::model::sanitize::{QUOTE_CHARS, quote, sanitize_capped};
use crate::model::socket::unmap;
use crate::model::{Flag, Proto, State};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

/// A query that does not parse: which term, where (1-based column), and why. The term
/// and the reason quote what was typed, sanitised and cut short.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad filter term `{term}` at column {column}: {reason}")]
pub struct QueryError {
    pub column: usize,
    pub term: String,
    pub reason: String,
}

/// Why a query cannot select sockets to act on ([`parse_exact`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExactError {
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A bare word that is not an address: a substring search, which must never pick
    /// what is acted on. Holds the word as typed, sanitised and cut short.
    #[error("free word `{0}`")]
    FreeWord(String),
}

const KEYS: &str = "port, lport, rport, addr, laddr, raddr, state, proto, pid, inode, proc, user, flag, netns, closed";

/// Parses a query; an empty string is the query that matches everything.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let mut terms = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut end = input.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                end = i;
                break;
            }
            chars.next();
        }
        let word = &input[start..end];
        let column = input[..start].chars().count() + 1;
        let err = |reason: String| QueryError {
            column,
            term: quote(word),
            reason: sanitize_capped(&reason, 2 * QUOTE_CHARS),
        };
        terms.push(parse_term(word).map_err(err)?);
    }
    Ok(Query { terms })
}

/// Parses a query that selects sockets to act on (SPEC §11, "selections are exact"): a
/// bare word that reads as an IP address or socket address becomes the exact `addr:`
/// test; any other bare word is refused; `proc:` names a whole process name.
pub fn parse_exact(input: &str) -> Result<Query, ExactError> {
    let mut q = parse(input)?;
    // `parse` splits on whitespace as `split_whitespace` does: term i is word i.
    for (term, typed) in q.terms.iter_mut().zip(input.split_whitespace()) {
        if let Test::Proc(name) = &term.test {
            term.test = Test::ProcName(name.clone());
        }
        if let Test::Word(w) = &term.test {
            let a = address(w).map_err(|_| {
                ExactError::FreeWord(quote(typed.strip_prefix('!').unwrap_or(typed)))
            })?;
            term.test = Test::Addr(Side::Either, vec![a]);
        }
    }
    Ok(q)
}

fn parse_term(word: &str) -> Result<Term, String> {
    let (negated, body) = match word.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    if body.is_empty() {
        return Err("`!` must be followed by a term, e.g. `!state:tw`".into());
    }
    Ok(Term {
        negated,
        test: parse_test(body)?,
    })
}

fn parse_test(body: &str) -> Result<Test, String> {
    // `:3000` is short for `port:3000`.
    if let Some(rest) = body.strip_prefix(':')
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return Ok(Test::Port(Side::Either, ports(rest)?));
    }
    // An address is a word, not a key: `fd00::1` is not the key `fd`.
    if address(body).is_ok() {
        return Ok(Test::Word(body.to_lowercase()));
    }
    if let Some((key, value)) = body.split_once(':')
        && !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphabetic())
    {
        return keyed(&key.to_ascii_lowercase(), value);
    }
    Ok(match body.to_ascii_lowercase().as_str() {
        "tcp" => Test::Proto(vec![Proto::Tcp, Proto::Tcp6]),
        "udp" => Test::Proto(vec![Proto::Udp, Proto::Udp6]),
        "tcp6" => Test::Proto(vec![Proto::Tcp6]),
        "udp6" => Test::Proto(vec![Proto::Udp6]),
        "v4" | "ipv4" => Test::V4,
        "v6" | "ipv6" => Test::V6,
        _ => Test::Word(body.to_lowercase()),
    })
}

fn keyed(key: &str, value: &str) -> Result<Test, String> {
    if value.is_empty() {
        let values = match key {
            "closed" => " (closed:any, closed:short or closed:seen)",
            "state" => " (state:listen, state:estab, state:tw, …)",
            "proto" => " (proto:tcp, proto:udp, …)",
            _ => "",
        };
        return Err(format!("`{key}:` needs a value{values}"));
    }
    Ok(match key {
        "port" => Test::Port(Side::Either, ports(value)?),
        "lport" | "sport" => Test::Port(Side::Local, ports(value)?),
        "rport" | "dport" => Test::Port(Side::Remote, ports(value)?),
        "addr" => Test::Addr(Side::Either, list(value, address)?),
        "laddr" => Test::Addr(Side::Local, list(value, address)?),
        "raddr" => Test::Addr(Side::Remote, list(value, address)?),
        "state" => Test::State(list(value, states)?.into_iter().flatten().collect()),
        "proto" => Test::Proto(list(value, protos)?.into_iter().flatten().collect()),
        "pid" => Test::Pid(list(value, |v| {
            v.parse::<u32>()
                .map_err(|_| format!("pid must be a number, not `{v}`"))
        })?),
        "inode" => Test::Inode(list(value, |v| {
            v.parse::<u64>()
                .map_err(|_| format!("inode must be a number, not `{v}`"))
        })?),
        "proc" => Test::Proc(value.to_lowercase()),
        "user" => Test::User(value.to_owned()),
        "netns" => Test::Netns(value.to_lowercase()),
        "closed" => Test::Closed(match value.to_ascii_lowercase().as_str() {
            "any" | "all" => super::Freed::Any,
            "short" => super::Freed::Short,
            "seen" => super::Freed::Seen,
            _ => {
                return Err(format!(
                    "`closed:{value}`: one of closed:any, closed:short, closed:seen"
                ));
            }
        }),
        "flag" => Test::Flag(Flag::parse(value).ok_or_else(|| {
            let names: Vec<String> = Flag::all().map(|f| f.as_str().to_lowercase()).collect();
            format!("unknown flag `{value}` (one of: {})", names.join(", "))
        })?),
        _ => return Err(format!("unknown key `{key}` (keys: {KEYS})")),
    })
}

fn list<T>(value: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|v| {
            if v.is_empty() {
                Err("empty item in list".to_owned())
            } else {
                one(v)
            }
        })
        .collect()
}

fn ports(value: &str) -> Result<Vec<RangeInclusive<u16>>, String> {
    list(value, |v| {
        let port = |p: &str| {
            crate::model::addr::port_number(p).ok_or_else(|| crate::model::addr::not_a_port(p))
        };
        match v.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a)?, port(b)?);
                if a > b {
                    return Err(format!("range {a}-{b} is backwards"));
                }
                Ok(a..=b)
            }
            None => port(v).map(|p| p..=p),
        }
    })
}

/// `127.0.0.1`, `127.0.0.1:3000`, `::1`, `[::1]`, `[::1]:3000`; an IPv4-mapped IPv6
/// address is read as the IPv4 address (as sockets' addresses are).
fn address(v: &str) -> Result<AddrPat, String> {
    let bare = v.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Ok(a) = v.parse::<SocketAddr>() {
        Ok(AddrPat {
            ip: unmap(a.ip()),
            port: Some(a.port()),
        })
    } else if let Ok(ip) = v.parse::<IpAddr>() {
        Ok(AddrPat {
            ip: unmap(ip),
            port: None,
        })
    } else if let Some(ip) = bare.and_then(|b| b.parse::<Ipv6Addr>().ok()) {
        Ok(AddrPat {
            ip: unmap(IpAddr::V6(ip)),
            port: None,
        })
    } else {
        Err(format!(
            "`{v}` is not an address (e.g. 127.0.0.1, 127.0.0.1:3000, ::1, [::1]:3000)"
        ))
    }
}

fn states(v: &str) -> Result<Vec<State>, String> {
    let s = match v.to_ascii_lowercase().replace('_', "-").as_str() {
        "listen" | "listening" => State::Listen,
        "estab" | "established" | "est" => State::Estab,
        "tw" | "time-wait" | "timewait" => State::TimeWait,
        "cw" | "close-wait" | "closewait" => State::CloseWait,
        "syn-sent" | "synsent" => State::SynSent,
        "syn-recv" | "synrecv" | "syn-received" => State::SynRecv,
        "fin-wait-1" | "fw1" | "finwait1" => State::FinWait1,
        "fin-wait-2" | "fw2" | "finwait2" => State::FinWait2,
        "last-ack" | "lastack" => State::LastAck,
        "closing" => State::Closing,
        "unconn" | "close" | "closed" => State::Unconn,
        "connected" => {
            return Ok(State::ALL
                .into_iter()
                .filter(|s| !matches!(s, State::Listen | State::Unconn))
                .collect());
        }
        _ => {
            return Err(format!(
                "unknown state `{v}` (listen, estab, tw, cw, syn-sent, syn-recv, fin-wait-1, fin-wait-2, last-ack, closing, unconn, connected)"
            ));
        }
    };
    Ok(vec![s])
}

fn protos(v: &str) -> Result<Vec<Proto>, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "tcp" => vec![Proto::Tcp, Proto::Tcp6],
        "udp" => vec![Proto::Udp, Proto::Udp6],
        "tcp4" => vec![Proto::Tcp],
        "udp4" => vec![Proto::Udp],
        "tcp6" => vec![Proto::Tcp6],
        "udp6" => vec![Proto::Udp6],
        _ => {
            return Err(format!(
                "unknown protocol `{v}` (tcp, udp, tcp4, tcp6, udp4, udp6)"
            ));
        }
    })
}
