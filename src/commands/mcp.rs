//! `sockscope mcp [--allow-actions]`: the Model Context Protocol server on stdio (in
//! [`crate::runtime::mcp`], where tokio lives). Its tools call the other commands'
//! functions and return their documents.

use crate::cli::McpArgs;
use crate::collect::CollectorKind;
use crate::error::Result;
use crate::runtime::mcp::{McpOptions, run as serve};
use std::path::Path;

pub fn run(args: &McpArgs, config: Option<&Path>, kind: CollectorKind) -> Result<u8> {
    serve(McpOptions {
        collector: kind,
        config: config.map(Path::to_path_buf),
        allow_actions: args.allow_actions,
        interval: args.interval,
        token_ttl: args.token_ttl,
    })
}
