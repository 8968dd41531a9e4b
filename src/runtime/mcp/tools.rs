//! What `tools/list` says: each tool's name, a description an agent can act on, its
//! input schema (the bounds [`super::args`] checks) and its output schema (the project's
//! own schemas, see [`super::schema`]). The two actions are listed only when the server
//! was started with `--allow-actions`.

use super::args::{DEFAULT_LIMIT, MAX_LIMIT, MAX_PORTS, MAX_WAIT_S};
use super::schema::{self, object, wrap};
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Value, json};
use std::sync::Arc;

/// The tools this server offers.
pub fn all(actions: bool) -> Vec<Tool> {
    let mut tools = vec![
        why_port(),
        list_sockets(),
        free_port(),
        wait_listen(),
        wait_free(),
        recent_events(),
        info(),
    ];
    if actions {
        tools.push(kill_port());
        #[cfg(target_os = "linux")]
        tools.push(close_sockets());
    }
    tools
}

fn port_schema(what: &str) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 65535, "description": what})
}

fn tool(
    name: &'static str,
    title: &str,
    description: &'static str,
    input: Value,
    output: serde_json::Map<String, Value>,
    action: bool,
) -> Tool {
    let mut t = Tool::new(name, description, Arc::new(object(input)));
    t.title = Some(title.to_owned());
    t.output_schema = Some(Arc::new(output));
    let a = ToolAnnotations::with_title(title).open_world(false);
    t.annotations = Some(if action {
        a.read_only(false).destructive(true).idempotent(false)
    } else {
        a.read_only(true).destructive(false).idempotent(true)
    });
    t
}

fn why_port() -> Tool {
    tool(
        "why_port",
        "Why is this port busy?",
        "Why a TCP (or UDP) port cannot be bound, and what to do: call this first when a \
         server fails with EADDRINUSE / 'address already in use'. Returns the verdict \
         (free, listener, time-wait, hidden, …), the holders (pid, command, user, parent \
         chain, working directory, what supervises them: PM2, systemd, a container, a dev \
         server reloader), a one-line headline, and `steps`: the next steps, each with its \
         command as argv and as shell text (`command.argv`, `command.text`, \
         `command.run_as`). Follow the first step; a supervised holder comes back when \
         killed, so its step stops the supervisor. `free_nearby` lists free ports to use \
         instead. `bindable` is the ground truth of a bind probe.",
        json!({
            "type": "object",
            "properties": {
                "port": port_schema("The port, e.g. 3000."),
                "udp": {"type": "boolean", "default": false, "description": "Judge the UDP port instead of the TCP one."}
            },
            "required": ["port"],
            "additionalProperties": false
        }),
        schema::document(schema::WHY),
        false,
    )
}

fn list_sockets() -> Tool {
    tool(
        "list_sockets",
        "List sockets",
        "The socket table, as `sockscope list --json`: listeners by default, every TCP and \
         UDP socket with `all`. Each row has its addresses, state, queues, inode, network \
         namespace, owners (pid, command, user, container, supervisor) and flags (ORPHAN, \
         STOPPED, ZOMBIE, BACKLOG, CLOSE-WAIT-LEAK, DOCKER-PROXY, HIDDEN). `query` filters \
         with the list language, terms ANDed: `:3000`, `port:3000-3999`, `state:listen,estab`, \
         `state:tw`, `proto:udp`, `pid:123`, `proc:node`, `user:alice`, `flag:orphan`, \
         `!term`, bare words match process names, command lines and addresses. At most \
         `limit` rows come back; `truncated` says when more matched.",
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 1024, "description": "Filter, e.g. `:3000` or `state:listen proc:node`."},
                "all": {"type": "boolean", "default": false, "description": "Every socket, not only listeners."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
            },
            "additionalProperties": false
        }),
        wrap(
            schema::LIST,
            "list",
            false,
            &[
                (
                    "matched",
                    json!({"type": "integer", "minimum": 0, "description": "Rows that matched, before the limit."}),
                ),
                (
                    "truncated",
                    json!({"type": "boolean", "description": "More rows matched than `limit`."}),
                ),
            ],
        ),
        false,
    )
}

fn free_port() -> Tool {
    tool(
        "free_port",
        "Find free ports",
        "Ports that are free right now: a plain bind (no SO_REUSEADDR) works on 0.0.0.0 and \
         [::], and no socket holds them in any state (TIME-WAIT included). Nearest to `near` \
         first; unprivileged ports outside the ephemeral range unless `range` (\"A-B\") says \
         otherwise. Racy by nature: when the program can report the port it got, binding \
         port 0 is better.",
        json!({
            "type": "object",
            "properties": {
                "near": port_schema("Nearest to this port first."),
                "range": {"type": "string", "pattern": "^[0-9]+-[0-9]+$", "description": "Look only here, e.g. \"3000-3999\" (ephemeral ports included)."},
                "count": {"type": "integer", "minimum": 1, "maximum": MAX_PORTS, "default": 1}
            },
            "additionalProperties": false
        }),
        object(json!({
            "type": "object",
            "required": ["ports", "count", "range", "shortfall"],
            "additionalProperties": false,
            "properties": {
                "ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                "count": {"type": "integer", "description": "How many were asked for."},
                "range": {"type": "string", "description": "The range searched."},
                "shortfall": {"type": ["string", "null"], "description": "Why fewer than `count` came back."}
            }
        })),
        false,
    )
}

fn wait_listen() -> Tool {
    tool(
        "wait_listen",
        "Wait for a listener",
        "Waits until a TCP listener on the port is in the kernel's table (sends no \
         traffic), e.g. after starting a dev server in the background. With `addr`, only a \
         listener that takes connections to that address counts (the classic trap: \
         `localhost` is ::1 but the server listens on 127.0.0.1 only). `message` says which \
         addresses listen, or what was seen when it timed out.",
        json!({
            "type": "object",
            "properties": {
                "port": port_schema("The port to wait for."),
                "timeout_s": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S, "default": 30},
                "addr": {"type": "string", "description": "An IP address the listener must take connections to: 127.0.0.1, ::1, …"}
            },
            "required": ["port"],
            "additionalProperties": false
        }),
        object(json!({
            "type": "object",
            "required": ["port", "listening", "message", "addresses", "pids", "waited_ms"],
            "additionalProperties": false,
            "properties": {
                "port": {"type": "integer"},
                "listening": {"type": "boolean"},
                "message": {"type": "string"},
                "addresses": {"type": "array", "items": {"type": "string"}},
                "pids": {"type": "array", "items": {"type": "integer"}},
                "waited_ms": {"type": "integer"}
            }
        })),
        false,
    )
}

fn wait_free() -> Tool {
    tool(
        "wait_free",
        "Wait for a port to be free",
        "Waits until a plain bind of the port would succeed (its holder exited, its \
         TIME-WAITs expired). On timeout, `message` says what still holds it; why_port says \
         more.",
        json!({
            "type": "object",
            "properties": {
                "port": port_schema("The port to wait for."),
                "timeout_s": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S, "default": 30}
            },
            "required": ["port"],
            "additionalProperties": false
        }),
        object(json!({
            "type": "object",
            "required": ["port", "free", "message", "verdict", "waited_ms"],
            "additionalProperties": false,
            "properties": {
                "port": {"type": "integer"},
                "free": {"type": "boolean"},
                "message": {"type": "string"},
                "verdict": {"type": ["string", "null"], "description": "The port's verdict (as why_port's) when it is still not free."},
                "waited_ms": {"type": "integer"}
            }
        })),
        false,
    )
}

fn recent_events() -> Tool {
    tool(
        "recent_events",
        "Recent socket events",
        "Socket events since the server started (opened, closed, state and owner \
         changes), from a watch the server keeps, one snapshot a second; each event as a \
         `sockscope watch --json` line. Without `since_cursor`, the newest `limit` events; \
         with it, the first ones after it: pass the returned `next_cursor` to the next call \
         to see only what is new (`more` says to call again at once). `missed` counts \
         events after the cursor that the bounded log no longer holds. `query` filters as \
         in list_sockets, e.g. `:3000`.",
        json!({
            "type": "object",
            "properties": {
                "since_cursor": {"type": "integer", "minimum": 0},
                "query": {"type": "string", "maxLength": 1024},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
            },
            "additionalProperties": false
        }),
        wrap(
            schema::WATCH,
            "events",
            true,
            &[
                ("next_cursor", json!({"type": "integer", "minimum": 0})),
                ("more", json!({"type": "boolean"})),
                ("missed", json!({"type": "integer", "minimum": 0})),
                (
                    "unrecorded",
                    json!({"type": "integer", "minimum": 0, "description": "Events the watch never recorded since it started: it fell behind."}),
                ),
                ("snapshots", json!({"type": "integer", "minimum": 0})),
                ("watching_since_ms", json!({"type": "integer"})),
                ("interval_ms", json!({"type": "integer"})),
            ],
        ),
        false,
    )
}

fn info() -> Tool {
    tool(
        "info",
        "What sockscope sees here",
        "What this host lets sockscope see and do, as `sockscope info --json`: the \
         collector, the user and privileges, how many sockets' owners are hidden, network \
         namespaces, containers, and for each limit the command that lifts it.",
        json!({"type": "object", "properties": {}, "additionalProperties": false}),
        schema::document(schema::INFO),
        false,
    )
}

/// The output of an action tool: a preview with its token, the result of the execute
/// call, or nothing to do.
fn action_output(extra: Value) -> serde_json::Map<String, Value> {
    let mut v = json!({
        "type": "object",
        "required": ["stage"],
        "properties": {
            "stage": {"enum": ["preview", "done", "nothing"]},
            "token": {"type": "string", "description": "Preview only: bring it back to act, within expires_in_s."},
            "expires_in_s": {"type": "integer"},
            "next": {"type": "string"},
            "notes": {"type": "array", "items": {"type": "string"}},
            "message": {"type": "string"}
        }
    });
    if let (Some(props), Some(more)) = (v["properties"].as_object_mut(), extra.as_object()) {
        for (k, s) in more {
            props.insert(k.clone(), s.clone());
        }
    }
    object(v)
}

fn kill_port() -> Tool {
    tool(
        "kill_port",
        "Kill what holds a port",
        "Sends a signal (TERM by default) to the processes holding a TCP port's listeners \
         (UDP too with `udp`), as `sockscope kill :PORT`, in two calls. 1) Without `token`: \
         a preview of the exact targets (pid, start time, command, user, what supervises \
         them) and a token. Nothing is sent. 2) With the same port and that token, within \
         30 s: exactly those processes are signalled, each re-checked first (same start \
         time, still holding the socket; otherwise nothing is sent), then the port is \
         watched: `outcome` is freed, held, respawned (a supervisor brought it back: \
         `sentence` names the command that stops it for good) or taken. Refused, with the \
         reason: docker-proxy (stop the container), pid 1, this server's own process group, \
         kernel threads, zombies, processes of another user than the server's. Prefer the \
         step why_port gives for a supervised holder.",
        json!({
            "type": "object",
            "properties": {
                "port": port_schema("The port whose holders to signal."),
                "udp": {"type": "boolean", "default": false, "description": "Also the holders of UDP sockets on the port."},
                "signal": {"enum": ["TERM", "INT", "HUP", "QUIT", "KILL"], "default": "TERM"},
                "token": {"type": "string", "description": "The preview's token: sends the signal."}
            },
            "required": ["port"],
            "additionalProperties": false
        }),
        action_output(json!({
            "port": {"type": "integer"},
            "signal": {"type": "string"},
            "udp": {"type": "boolean"},
            "targets": {"type": "array", "items": {"type": "object"}},
            "sent": {"type": "array", "items": {"type": "string"}},
            "outcome": {"enum": ["freed", "held", "respawned", "taken", "exited"]},
            "freed": {"type": "boolean"},
            "sentence": {"type": "string"},
            "report": {"type": "array", "items": {"type": "string"}}
        })),
        true,
    )
}

#[cfg(target_os = "linux")]
fn close_sockets() -> Tool {
    tool(
        "close_sockets",
        "Close sockets",
        "Closes sockets as `sockscope close QUERY` (SOCK_DESTROY, like `ss -K`): clears \
         TIME-WAITs that block a bind, cuts stuck connections. Needs the server to run as \
         root. Two calls: 1) without `token`, a preview of the exact sockets and a token; \
         2) with the same query and that token, within 30 s, exactly those sockets are \
         closed (one that changed since is not touched). The query must name a port, pid, \
         address or inode (e.g. `:3000 state:time-wait`); addresses match whole, free \
         words are refused; more than one process or 64 sockets needs `many` of at least \
         the count; listeners are never closed (the port would stay bound: use kill_port); \
         UDP only with `proto:udp`. The owner of a closed connection gets ECONNABORTED, its \
         peer a RST.",
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 1024, "description": "Which sockets, e.g. `:3000 state:time-wait`."},
                "many": {"type": "integer", "minimum": 1, "description": "Consent to a broad selection of up to this many sockets."},
                "token": {"type": "string", "description": "The preview's token: closes the sockets."}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
        action_output(json!({
            "sockets": {"type": "array", "items": {"type": "object"}},
            "asked": {"type": "integer"},
            "closed": {"type": "integer"},
            "gone": {"type": "integer"},
            "remaining": {"type": "integer"},
            "port": {"type": ["integer", "null"]},
            "port_free": {"type": ["boolean", "null"]},
            "lines": {"type": "array", "items": {"type": "string"}}
        })),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_listed_only_when_allowed_and_marked_destructive() {
        let names = |a| {
            all(a)
                .into_iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
        };
        let read = names(false);
        assert_eq!(
            read,
            [
                "why_port",
                "list_sockets",
                "free_port",
                "wait_listen",
                "wait_free",
                "recent_events",
                "info"
            ]
        );
        let with = names(true);
        assert!(with.contains(&"kill_port".to_owned()));
        for t in all(true) {
            let a = t.annotations.as_ref().unwrap();
            let action = t.name == "kill_port" || t.name == "close_sockets";
            assert_eq!(a.read_only_hint, Some(!action), "{}", t.name);
            assert_eq!(a.destructive_hint, Some(action), "{}", t.name);
            assert_eq!(t.input_schema.get("type"), Some(&json!("object")));
            assert_eq!(
                t.output_schema.as_ref().unwrap().get("type"),
                Some(&json!("object"))
            );
        }
    }

    /// `assets/mcp/server.json` describes this server: its version, and the same tools
    /// with the same annotations.
    #[test]
    fn server_json_matches_the_server() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../assets/mcp/server.json")).unwrap();
        assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["description"].as_str().unwrap().len() <= 100);
        let meta = &doc["_meta"]["io.modelcontextprotocol.registry/publisher-provided"];
        assert_eq!(meta["args"], json!(["mcp"]));
        let described: Vec<(String, bool)> = meta["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["readOnly"].as_bool().unwrap(),
                )
            })
            .collect();
        let served: Vec<(String, bool)> = all(true)
            .iter()
            .map(|t| {
                let read_only = t.annotations.as_ref().unwrap().read_only_hint.unwrap();
                (t.name.to_string(), read_only)
            })
            .collect();
        assert_eq!(described, served);
    }
}
