//! The tools' arguments: parsed strictly (unknown fields and wrong types are refused),
//! then checked against the bounds their input schemas state. Either failure is a
//! JSON-RPC "invalid params" error naming the tool and the field.

use crate::model::signal::Sig;
use rmcp::model::{ErrorData, JsonObject};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Longest wait a tool call may ask for.
pub const MAX_WAIT_S: f64 = 60.0;
/// Most rows or events one call returns.
pub const MAX_LIMIT: usize = 500;
/// Rows or events returned without a `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Most ports `free_port` looks for.
pub const MAX_PORTS: usize = 100;
/// Longest query accepted, in bytes.
const MAX_QUERY: usize = 1024;

/// An invalid argument, as the JSON-RPC error the client gets.
pub type Invalid = ErrorData;

fn invalid(tool: &str, what: impl std::fmt::Display) -> Invalid {
    ErrorData::invalid_params(format!("{tool}: {what}"), None)
}

/// The raw arguments of `tool` as `T`: no unknown fields, every type right.
pub fn parse<T: DeserializeOwned>(tool: &str, args: Option<JsonObject>) -> Result<T, Invalid> {
    let v = serde_json::Value::Object(args.unwrap_or_default());
    serde_json::from_value(v).map_err(|e| invalid(tool, e))
}

fn port(tool: &str, p: u16) -> Result<u16, Invalid> {
    if p == 0 {
        return Err(invalid(tool, "`port` must be 1-65535"));
    }
    Ok(p)
}

fn query(tool: &str, q: Option<String>) -> Result<Option<String>, Invalid> {
    match q {
        Some(q) if q.len() > MAX_QUERY => Err(invalid(
            tool,
            format!("`query` is longer than {MAX_QUERY} bytes"),
        )),
        q => Ok(q),
    }
}

fn limit(tool: &str, l: Option<usize>) -> Result<usize, Invalid> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(_) => Err(invalid(tool, format!("`limit` must be 1-{MAX_LIMIT}"))),
    }
}

fn timeout(tool: &str, t: Option<f64>, default: f64) -> Result<Duration, Invalid> {
    let t = t.unwrap_or(default);
    if !(0.0..=MAX_WAIT_S).contains(&t) {
        return Err(invalid(
            tool,
            format!("`timeout_s` must be 0-{MAX_WAIT_S} seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(t))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhyRaw {
    port: u16,
    #[serde(default)]
    udp: bool,
}

pub struct Why {
    pub port: u16,
    pub udp: bool,
}

pub fn why(a: Option<JsonObject>) -> Result<Why, Invalid> {
    const T: &str = "why_port";
    let r: WhyRaw = parse(T, a)?;
    Ok(Why {
        port: port(T, r.port)?,
        udp: r.udp,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRaw {
    query: Option<String>,
    #[serde(default)]
    all: bool,
    limit: Option<usize>,
}

pub struct List {
    pub query: Option<String>,
    pub all: bool,
    pub limit: usize,
}

pub fn list(a: Option<JsonObject>) -> Result<List, Invalid> {
    const T: &str = "list_sockets";
    let r: ListRaw = parse(T, a)?;
    Ok(List {
        query: query(T, r.query)?,
        all: r.all,
        limit: limit(T, r.limit)?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreePortRaw {
    near: Option<u16>,
    range: Option<String>,
    count: Option<usize>,
}

pub struct FreePort {
    pub near: Option<u16>,
    pub range: Option<RangeInclusive<u16>>,
    pub count: usize,
}

pub fn free_port(a: Option<JsonObject>) -> Result<FreePort, Invalid> {
    const T: &str = "free_port";
    let r: FreePortRaw = parse(T, a)?;
    let near = r.near.map(|p| port(T, p)).transpose()?;
    let range = r
        .range
        .map(|s| crate::cli::parse_range(&s).map_err(|e| invalid(T, e)))
        .transpose()?;
    let count = match r.count {
        None => 1,
        Some(n @ 1..=MAX_PORTS) => n,
        Some(_) => return Err(invalid(T, format!("`count` must be 1-{MAX_PORTS}"))),
    };
    Ok(FreePort { near, range, count })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitListenRaw {
    port: u16,
    timeout_s: Option<f64>,
    addr: Option<String>,
}

pub struct WaitListen {
    pub port: u16,
    pub timeout: Duration,
    pub addr: Option<IpAddr>,
}

pub fn wait_listen(a: Option<JsonObject>) -> Result<WaitListen, Invalid> {
    const T: &str = "wait_listen";
    let r: WaitListenRaw = parse(T, a)?;
    let addr = match r.addr {
        None => None,
        Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
            invalid(
                T,
                format!(
                    "`addr` `{}` is not an IP address (127.0.0.1, ::1)",
                    crate::model::sanitize::quote(&s)
                ),
            )
        })?),
    };
    Ok(WaitListen {
        port: port(T, r.port)?,
        timeout: timeout(T, r.timeout_s, 30.0)?,
        addr,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitFreeRaw {
    port: u16,
    timeout_s: Option<f64>,
}

pub struct WaitFree {
    pub port: u16,
    pub timeout: Duration,
}

pub fn wait_free(a: Option<JsonObject>) -> Result<WaitFree, Invalid> {
    const T: &str = "wait_free";
    let r: WaitFreeRaw = parse(T, a)?;
    Ok(WaitFree {
        port: port(T, r.port)?,
        timeout: timeout(T, r.timeout_s, 30.0)?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentRaw {
    since_cursor: Option<u64>,
    query: Option<String>,
    limit: Option<usize>,
}

pub struct Recent {
    pub since_cursor: Option<u64>,
    pub query: Option<String>,
    pub limit: usize,
}

pub fn recent(a: Option<JsonObject>) -> Result<Recent, Invalid> {
    const T: &str = "recent_events";
    let r: RecentRaw = parse(T, a)?;
    Ok(Recent {
        since_cursor: r.since_cursor,
        query: query(T, r.query)?,
        limit: limit(T, r.limit)?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoneRaw {}

pub fn none(tool: &str, a: Option<JsonObject>) -> Result<(), Invalid> {
    parse::<NoneRaw>(tool, a).map(drop)
}

/// The signals `kill_port` sends: those after which a process is expected to let go.
const SIGNALS: [Sig; 5] = [Sig::Term, Sig::Int, Sig::Hup, Sig::Quit, Sig::Kill];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillRaw {
    port: u16,
    #[serde(default)]
    udp: bool,
    signal: Option<String>,
    token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kill {
    pub port: u16,
    pub udp: bool,
    pub signal: Sig,
    pub token: Option<String>,
}

pub fn kill(a: Option<JsonObject>) -> Result<Kill, Invalid> {
    const T: &str = "kill_port";
    let r: KillRaw = parse(T, a)?;
    let signal = match r.signal {
        None => Sig::Term,
        Some(s) => Sig::parse(&s)
            .filter(|s| SIGNALS.contains(s))
            .ok_or_else(|| invalid(T, "`signal` must be TERM, INT, HUP, QUIT or KILL"))?,
    };
    Ok(Kill {
        port: port(T, r.port)?,
        udp: r.udp,
        signal,
        token: r.token,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseRaw {
    query: String,
    many: Option<usize>,
    token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub query: String,
    pub many: Option<usize>,
    pub token: Option<String>,
}

pub fn close(a: Option<JsonObject>) -> Result<Close, Invalid> {
    const T: &str = "close_sockets";
    let r: CloseRaw = parse(T, a)?;
    if r.many == Some(0) {
        return Err(invalid(T, "`many` must be 1 or more"));
    }
    Ok(Close {
        query: query(T, Some(r.query))?.unwrap_or_default(),
        many: r.many,
        token: r.token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Option<JsonObject> {
        v.as_object().cloned()
    }

    #[test]
    fn types_fields_and_bounds_are_checked() {
        assert!(why(obj(json!({"port": 3000}))).is_ok_and(|w| w.port == 3000 && !w.udp));
        for bad in [
            json!({"port": "3000"}),
            json!({"port": 0}),
            json!({"port": 70000}),
            json!({"port": 3000, "extra": 1}),
            json!({}),
        ] {
            let e = why(obj(bad.clone())).err().unwrap();
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{bad}");
            assert!(e.message.starts_with("why_port: "), "{}", e.message);
        }
        assert!(list(obj(json!({"limit": 501}))).is_err());
        assert_eq!(list(None).unwrap().limit, DEFAULT_LIMIT);
        assert!(wait_listen(obj(json!({"port": 1, "timeout_s": 61}))).is_err());
        assert!(wait_listen(obj(json!({"port": 1, "addr": "localhost"}))).is_err());
        assert_eq!(
            wait_free(obj(json!({"port": 1, "timeout_s": 0.5})))
                .unwrap()
                .timeout,
            Duration::from_millis(500)
        );
        assert!(free_port(obj(json!({"range": "3000-2000"}))).is_err());
        assert_eq!(
            free_port(obj(json!({"range": "3000-3999", "count": 2})))
                .unwrap()
                .range,
            Some(3000..=3999)
        );
        assert!(kill(obj(json!({"port": 80, "signal": "STOP"}))).is_err());
        assert_eq!(
            kill(obj(json!({"port": 80, "signal": "sigkill"})))
                .unwrap()
                .signal,
            Sig::Kill
        );
        assert!(none("info", obj(json!({"x": 1}))).is_err());
        assert!(none("info", None).is_ok());
        assert!(close(obj(json!({"query": ":80", "many": 0}))).is_err());
        assert!(recent(obj(json!({"since_cursor": -1}))).is_err());
    }
}
