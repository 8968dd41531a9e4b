//! `sockscope mcp`: a Model Context Protocol server over stdio (rmcp), so that coding
//! agents get the port doctor: why a port is busy and what to do, the socket table, free
//! ports, waits, recent events; and, only with `--allow-actions`, `kill_port` and
//! `close_sockets` as preview + token + execute under every rule of `kill` and `close`.
//!
//! Thin: each tool calls what its command calls and returns the same document. What
//! lives here is the protocol: the transport ([`transport`]), the tool list
//! ([`tools`]), strict arguments ([`args`]), the watch behind `recent_events`
//! ([`events`]), the action tokens ([`tokens`]), and bounded results. The server ends
//! when stdin closes.

mod args;
#[cfg(target_os = "linux")]
mod close;
mod events;
mod kill;
mod read;
mod schema;
mod tokens;
mod tools;
pub mod transport;

use crate::collect::{self, CollectorKind};
use crate::error::{Error, Result};
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Content, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerInfo, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What `sockscope mcp` was asked for.
#[derive(Clone, Debug)]
pub struct McpOptions {
    pub collector: CollectorKind,
    /// `--config`, for the `info` tool.
    pub config: Option<PathBuf>,
    /// `--allow-actions`: list and serve `kill_port` and `close_sockets`.
    pub allow_actions: bool,
    /// The watch behind `recent_events`.
    pub interval: Duration,
    /// How long an action's token is good for (30 s; tests shorten it).
    pub token_ttl: Duration,
}

/// A tool's answer: its document, or why it could not give one (a refusal, a failure),
/// which the client gets as a result with `isError`.
pub type Reply = std::result::Result<serde_json::Value, String>;

/// The largest result sent, in bytes of JSON: a larger one is refused with a hint.
pub const MAX_RESULT: usize = 4 << 20;
/// Tool calls served at once; more wait for a turn.
const AT_ONCE: usize = 8;

/// Instructions the client may show its model.
const INSTRUCTIONS: &str = "sockscope is a port doctor. When a server fails with \
    EADDRINUSE or 'address already in use', call why_port with the port and follow its \
    first step (`steps[0].command`); use free_port for another port, wait_listen after \
    starting a server, and recent_events to see what changed. kill_port and close_sockets \
    exist only when the server was started with --allow-actions; each previews first and \
    acts only when called again with the preview's token.";

/// The server's state, shared by every call.
pub struct Server {
    kind: CollectorKind,
    config: Option<PathBuf>,
    actions: bool,
    tools: Vec<Tool>,
    recent: events::Recent,
    kills: Mutex<tokens::Tokens<kill::Pending>>,
    #[cfg(target_os = "linux")]
    closes: Mutex<tokens::Tokens<close::Pending>>,
    turns: tokio::sync::Semaphore,
}

/// A command's error as a tool's refusal.
fn said<T>(r: Result<T>) -> std::result::Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// Runs the server until stdin closes; the exit status.
pub fn run(opts: McpOptions) -> Result<u8> {
    let rt = super::tokio()?;
    // The watch behind recent_events starts with the server, so that it has seen what
    // happened before the first call.
    let started = collect::open(opts.collector).and_then(|c| {
        events::Recent::start(c, opts.interval).map_err(|source| Error::Start {
            what: "the collector thread",
            source,
        })
    });
    let (recent, worker) = match started {
        Ok((r, w)) => (r, Some(w)),
        Err(e) => (events::Recent::failed(e.to_string(), opts.interval), None),
    };
    let server = Server {
        kind: opts.collector,
        config: opts.config,
        actions: opts.allow_actions,
        tools: tools::all(opts.allow_actions),
        recent,
        kills: Mutex::new(tokens::Tokens::new(opts.token_ttl)),
        #[cfg(target_os = "linux")]
        closes: Mutex::new(tokens::Tokens::new(opts.token_ttl)),
        turns: tokio::sync::Semaphore::new(AT_ONCE),
    };
    let code = rt.block_on(serve(Handler(Arc::new(server))));
    drop(worker);
    // A tool still waiting on a blocking thread (a 60 s wait) must not hold up the exit.
    rt.shutdown_background();
    code
}

async fn serve(handler: Handler) -> Result<u8> {
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    let transport = transport::Lines::new(input, tokio::io::stdout());
    match rmcp::serve_server(handler, transport).await {
        Ok(running) => {
            let _ = running.waiting().await;
            Ok(crate::commands::EXIT_OK)
        }
        // Stdin closed before a session began: nothing to serve.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            Ok(crate::commands::EXIT_OK)
        }
        Err(e) => Err(Error::Usage(format!(
            "the MCP session failed to start: {e}"
        ))),
    }
}

/// rmcp's handle on the server.
#[derive(Clone)]
struct Handler(Arc<Server>);

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerInfo {
        let mut info = ServerInfo::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("sockscope", env!("SOCKSCOPE_VERSION"))
            .with_title("sockscope")
            .with_description("The port doctor: why a port is busy, who holds it, and what to do");
        info.instructions = Some(INSTRUCTIONS.to_owned());
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.0.tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, ErrorData> {
        let s = self.0.clone();
        let a = request.arguments;
        let ct = context.ct.clone();
        let stop = move || ct.is_cancelled();
        type Job = Box<dyn FnOnce() -> Reply + Send>;
        let job: Job = match request.name.as_ref() {
            "why_port" => {
                let a = args::why(a)?;
                Box::new(move || read::why(&s, a))
            }
            "list_sockets" => {
                let a = args::list(a)?;
                Box::new(move || read::list(&s, a))
            }
            "free_port" => {
                let a = args::free_port(a)?;
                Box::new(move || read::free_port(&s, a))
            }
            "wait_listen" => {
                let a = args::wait_listen(a)?;
                Box::new(move || read::wait_listen(&s, a, &stop))
            }
            "wait_free" => {
                let a = args::wait_free(a)?;
                Box::new(move || read::wait_free(&s, a, &stop))
            }
            "recent_events" => {
                let a = args::recent(a)?;
                Box::new(move || read::recent(&s.recent, a))
            }
            "info" => {
                args::none("info", a)?;
                Box::new(move || read::info(&s))
            }
            "kill_port" if s.actions => {
                let a = args::kill(a)?;
                Box::new(move || kill::kill(&s, a))
            }
            #[cfg(target_os = "linux")]
            "close_sockets" if s.actions => {
                let a = args::close(a)?;
                Box::new(move || close::close(&s, a))
            }
            other => return Err(unknown_tool(other, self.0.actions)),
        };
        let _turn = self
            .0
            .turns
            .acquire()
            .await
            .map_err(|_| ErrorData::internal_error("the server is shutting down", None))?;
        let reply = tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| ErrorData::internal_error(format!("the tool failed: {e}"), None))?;
        Ok(result(reply))
    }
}

/// An unknown tool is a JSON-RPC "invalid params" error (as MCP says); an action asked
/// of a server without `--allow-actions` says how to get it.
fn unknown_tool(name: &str, actions: bool) -> ErrorData {
    let name = crate::model::sanitize::quote(name);
    let msg = if !actions && (name == "kill_port" || name == "close_sockets") {
        format!("unknown tool `{name}`: actions are served only by `sockscope mcp --allow-actions`")
    } else {
        format!("unknown tool `{name}` (tools/list names them)")
    };
    ErrorData::invalid_params(msg, None)
}

/// A reply as the tool's result: the document as structured content and as text, or the
/// refusal as text with `isError`. A result over [`MAX_RESULT`], both copies counted as
/// they are sent, is refused with a hint.
fn result(reply: Reply) -> CallToolResult {
    match reply {
        Ok(doc) => {
            let text = doc.to_string();
            let mut r = CallToolResult::success(vec![Content::text(text)]);
            r.structured_content = Some(doc);
            let size = serde_json::to_vec(&r).map_or(usize::MAX, |v| v.len());
            if size > MAX_RESULT {
                return CallToolResult::error(vec![Content::text(format!(
                    "the result is {size} bytes, over the limit of {MAX_RESULT}: narrow the query or lower `limit`"
                ))]);
            }
            r
        }
        Err(why) => CallToolResult::error(vec![Content::text(why)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_bounded_and_refusals_are_errors() {
        let ok = result(Ok(serde_json::json!({"a": 1})));
        assert_eq!(ok.is_error, Some(false));
        assert_eq!(ok.structured_content, Some(serde_json::json!({"a": 1})));
        let big = result(Ok(serde_json::json!({"a": "x".repeat(MAX_RESULT)})));
        assert_eq!(big.is_error, Some(true));
        assert!(big.structured_content.is_none());
        // The text and the structured copy together: each under the limit, both over.
        let half = result(Ok(serde_json::json!({"a": "x".repeat(MAX_RESULT / 2)})));
        assert_eq!(half.is_error, Some(true));
        let no = result(Err("refusing".into()));
        assert_eq!(no.is_error, Some(true));
        let e = unknown_tool("kill_port", false);
        assert!(e.message.contains("--allow-actions"), "{}", e.message);
        assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    }
}
