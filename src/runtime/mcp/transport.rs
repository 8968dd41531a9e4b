//! JSON-RPC over stdio, one message a line, that survives a bad client: rmcp's own
//! stdio transport ends the session at the first line it cannot parse. Here a line that
//! is not JSON, not a JSON-RPC message, larger than [`MAX_LINE`], or a request before
//! `initialize` gets a JSON-RPC error and the session goes on. The end of stdin (or a
//! read error) ends it.

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

/// The largest request read, in bytes. Every tool's arguments fit in a few hundred; a
/// longer line is read past (never held) and answered with an error.
pub const MAX_LINE: usize = 1 << 20;

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;

/// The requests MCP defines for a client to send: rmcp knows each one's params.
const KNOWN: [&str; 17] = [
    "initialize",
    "ping",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/call",
    "tools/list",
    "tasks/list",
    "tasks/get",
    "tasks/result",
    "tasks/cancel",
];

/// One line of input, as read.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Data(Vec<u8>),
    /// Longer than [`MAX_LINE`]: read and dropped.
    TooLong(usize),
    Eof,
}

/// What to do with one line.
#[derive(Debug)]
enum Verdict {
    Pass(Box<ClientJsonRpcMessage>),
    /// Answer this error (`id`: the request's, or null when it cannot be told).
    Answer(Value),
    /// Say nothing: a notification or a response nobody asked for.
    Drop,
}

/// The server's end of a newline-delimited JSON-RPC stream.
pub struct Lines<R, W> {
    reader: R,
    writer: Arc<Mutex<W>>,
    /// An `initialize` request has gone through.
    initialized: bool,
}

impl<R, W> Lines<R, W>
where
    R: AsyncBufRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(reader: R, writer: W) -> Self {
        Lines {
            reader,
            writer: Arc::new(Mutex::new(writer)),
            initialized: false,
        }
    }

    /// The next line, never holding more than [`MAX_LINE`] bytes of it.
    async fn line(&mut self) -> std::io::Result<Line> {
        let mut buf = Vec::new();
        let mut skipped: Option<usize> = None;
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(match skipped {
                    Some(n) => Line::TooLong(n),
                    None if buf.is_empty() => Line::Eof,
                    None => Line::Data(buf),
                });
            }
            let (part, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], Some(i + 1)),
                None => (chunk, None),
            };
            match &mut skipped {
                Some(n) => *n += part.len(),
                None if buf.len() + part.len() > MAX_LINE => {
                    skipped = Some(buf.len() + part.len());
                    buf = Vec::new();
                }
                None => buf.extend_from_slice(part),
            }
            let used = end.unwrap_or(chunk.len());
            self.reader.consume(used);
            if end.is_some() {
                return Ok(match skipped {
                    Some(n) => Line::TooLong(n),
                    None => Line::Data(buf),
                });
            }
        }
    }

    /// Writes an error answer, as rmcp would write a response.
    fn answer(&self, error: Value) -> impl Future<Output = ()> + Send + 'static {
        let writer = self.writer.clone();
        async move {
            let mut text = error.to_string();
            text.push('\n');
            let mut w = writer.lock().await;
            // A client that stopped reading: the end of stdin will end the session.
            let _ = w.write_all(text.as_bytes()).await;
            let _ = w.flush().await;
        }
    }
}

/// A JSON-RPC error object for `id` (null when unknown).
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Judges one line of input; `initialized` says whether `initialize` went through.
fn judge(line: &[u8], initialized: bool) -> Verdict {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::Answer(error(
                Value::Null,
                PARSE_ERROR,
                &format!("parse error: not JSON ({e})"),
            ));
        }
    };
    let Some(obj) = value.as_object() else {
        let what = if value.is_array() {
            "batches are not supported: send one message a line"
        } else {
            "invalid request: a JSON-RPC message is an object"
        };
        return Verdict::Answer(error(Value::Null, INVALID_REQUEST, what));
    };
    // The id of a request, when it has a usable one.
    let id = obj
        .get("id")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
        .cloned();
    let method = obj.get("method").and_then(Value::as_str);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return match (id, method) {
            (None, Some(_)) if !obj.contains_key("id") => Verdict::Drop,
            (id, _) => Verdict::Answer(error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "invalid request: `jsonrpc` must be \"2.0\"",
            )),
        };
    }
    let is_request = obj.contains_key("id");
    match serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        // rmcp parses a known method whose params are wrong as a custom request, which
        // it would answer "method not found": the client gets "invalid params" instead.
        Ok(ClientJsonRpcMessage::Request(r)) if matches!(&r.request, ClientRequest::CustomRequest(c) if KNOWN.contains(&c.method.as_str())) =>
        {
            let method = method.unwrap_or_default();
            let why = match method {
                "tools/call" => obj
                    .get("params")
                    .cloned()
                    .map(serde_json::from_value::<rmcp::model::CallToolRequestParams>)
                    .and_then(|r| r.err())
                    .map_or_else(|| "missing or malformed".to_owned(), |e| e.to_string()),
                _ => "they do not match the method's schema".to_owned(),
            };
            Verdict::Answer(error(
                r.id.into_json_value(),
                INVALID_PARAMS,
                &format!("invalid params for {}: {why}", bounded(method)),
            ))
        }
        Ok(msg) => gate(msg, initialized),
        // A notification (no id) or a response nobody asked for: nothing may answer it.
        Err(_)
            if !is_request
                || (method.is_none()
                    && (obj.contains_key("result") || obj.contains_key("error"))) =>
        {
            Verdict::Drop
        }
        Err(e) => match (id, method) {
            (Some(id), Some(method)) => Verdict::Answer(error(
                id,
                INVALID_PARAMS,
                &format!("invalid params for {}: {e}", bounded(method)),
            )),
            (id, _) => Verdict::Answer(error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                &format!("invalid request: {e}"),
            )),
        },
    }
}

/// Before `initialize`, only `initialize` and `ping` are served: anything else is
/// answered with an error (a `server/discover` probe learns that this is a
/// handshake-era server, and the session goes on), and notifications are dropped.
fn gate(msg: ClientJsonRpcMessage, initialized: bool) -> Verdict {
    if initialized {
        return Verdict::Pass(Box::new(msg));
    }
    match msg {
        ClientJsonRpcMessage::Request(req) => match &req.request {
            ClientRequest::InitializeRequest(_) | ClientRequest::PingRequest(_) => {
                Verdict::Pass(Box::new(ClientJsonRpcMessage::Request(req)))
            }
            ClientRequest::CustomRequest(custom) => Verdict::Answer(error(
                req.id.into_json_value(),
                METHOD_NOT_FOUND,
                &format!(
                    "method not found: {} (this server speaks the initialize handshake)",
                    bounded(&custom.method)
                ),
            )),
            _ => Verdict::Answer(error(
                req.id.into_json_value(),
                INVALID_REQUEST,
                "the session is not initialized: send `initialize` first",
            )),
        },
        _ => Verdict::Drop,
    }
}

/// A method name as the client sent it, bounded and sanitised for an error message.
fn bounded(m: &str) -> String {
    crate::model::sanitize::sanitize_capped(m, 64)
}

impl<R, W> Transport<RoleServer> for Lines<R, W>
where
    R: AsyncBufRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        async move {
            let mut text = serde_json::to_vec(&item)?;
            text.push(b'\n');
            let mut w = writer.lock().await;
            w.write_all(&text).await?;
            w.flush().await
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            let line = match self.line().await {
                Ok(Line::Data(line)) => line,
                Ok(Line::TooLong(n)) => {
                    let msg = format!(
                        "invalid request: {n} bytes is over the limit of {MAX_LINE} bytes a message"
                    );
                    self.answer(error(Value::Null, INVALID_REQUEST, &msg)).await;
                    continue;
                }
                Ok(Line::Eof) | Err(_) => return None,
            };
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match judge(line, self.initialized) {
                Verdict::Pass(msg) => {
                    if let ClientJsonRpcMessage::Request(r) = msg.as_ref()
                        && matches!(r.request, ClientRequest::InitializeRequest(_))
                    {
                        self.initialized = true;
                    }
                    return Some(*msg);
                }
                Verdict::Answer(e) => self.answer(e).await,
                Verdict::Drop => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.lock().await.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: &Verdict) -> Option<(Value, i64)> {
        match v {
            Verdict::Answer(e) => Some((e["id"].clone(), e["error"]["code"].as_i64()?)),
            _ => None,
        }
    }

    const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

    #[test]
    fn what_each_line_gets() {
        assert_eq!(
            code(&judge(b"{not json", true)),
            Some((Value::Null, PARSE_ERROR))
        );
        assert_eq!(
            code(&judge(b"[1,2]", true)),
            Some((Value::Null, INVALID_REQUEST))
        );
        assert_eq!(
            code(&judge(b"42", true)),
            Some((Value::Null, INVALID_REQUEST))
        );
        assert_eq!(
            code(&judge(br#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#, true)),
            Some((json!(7), INVALID_REQUEST))
        );
        // A known method whose params do not parse: its id, invalid params.
        let bad = br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":5}}"#;
        let got = code(&judge(bad, true));
        assert!(
            matches!(&got, Some((id, c)) if *id == json!("a") && *c == INVALID_PARAMS),
            "{got:?}"
        );
        let e = match judge(bad, true) {
            Verdict::Answer(e) => e,
            v => panic!("{v:?}"),
        };
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tools/call"),
            "{e}"
        );
        let no_params = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call"}"#;
        assert_eq!(
            code(&judge(no_params, true)),
            Some((json!(8), INVALID_PARAMS))
        );
        // An unknown method goes through: rmcp answers "method not found".
        let odd = br#"{"jsonrpc":"2.0","id":9,"method":"sockscope/odd"}"#;
        assert!(matches!(judge(odd, true), Verdict::Pass(_)));
        // A broken notification is never answered.
        assert!(matches!(
            judge(
                br#"{"jsonrpc":"2.0","method":"notifications/x","params":5}"#,
                true
            ),
            Verdict::Drop | Verdict::Pass(_)
        ));
        assert!(matches!(judge(INIT.as_bytes(), false), Verdict::Pass(_)));
        assert!(matches!(
            judge(br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#, true),
            Verdict::Pass(_)
        ));
    }

    #[test]
    fn before_initialize_only_initialize_and_ping() {
        let list = br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
        assert_eq!(code(&judge(list, false)), Some((json!(3), INVALID_REQUEST)));
        let discover = br#"{"jsonrpc":"2.0","id":4,"method":"server/discover","params":{}}"#;
        assert_eq!(
            code(&judge(discover, false)),
            Some((json!(4), METHOD_NOT_FOUND))
        );
        let ping = br#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
        assert!(matches!(judge(ping, false), Verdict::Pass(_)));
        let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert!(matches!(judge(note, false), Verdict::Drop));
    }

    #[test]
    fn lines_are_bounded_and_the_stream_goes_on() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut input = Vec::new();
            input.extend_from_slice(b"garbage\n");
            input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
            input.push(b'\n');
            input.extend_from_slice(INIT.as_bytes());
            input.extend_from_slice(b"\r\n\n");
            input.extend_from_slice(br#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#);
            let (out_w, mut out_r) = tokio::io::duplex(1 << 16);
            let reader = tokio::io::BufReader::with_capacity(4096, &input[..]);
            let mut t = Lines::new(reader, out_w);
            let first = t.receive().await.unwrap();
            assert!(matches!(
                first,
                ClientJsonRpcMessage::Request(ref r) if matches!(r.request, ClientRequest::InitializeRequest(_))
            ));
            let second = t.receive().await.unwrap();
            assert!(matches!(
                second,
                ClientJsonRpcMessage::Request(ref r) if matches!(r.request, ClientRequest::PingRequest(_))
            ));
            assert!(t.receive().await.is_none(), "end of input ends the session");
            drop(t);
            let mut said = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut out_r, &mut said)
                .await
                .unwrap();
            let errors: Vec<Value> = said
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let codes: Vec<i64> = errors
                .iter()
                .map(|e| e["error"]["code"].as_i64().unwrap())
                .collect();
            assert_eq!(codes, vec![PARSE_ERROR, INVALID_REQUEST]);
            assert!(
                errors[1]["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&(MAX_LINE + 10).to_string()),
                "{said}"
            );
        });
    }
}
