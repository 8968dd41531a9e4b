"""A real MCP client for `sockscope mcp`: the official Python SDK (`mcp` from PyPI,
installed by `.ci/test`), driven by tests/mcp.rs.

    python3 tests/mcp_client.py SCENARIO SOCKSCOPE JSON_ARGS

starts `SOCKSCOPE mcp ...` through the SDK's stdio client (its default connect: a
`server/discover` probe, then the initialize handshake), runs the scenario, and prints
one JSON object on its last line: what it saw. The Rust test judges it. Every process
this script signals through the server is one the Rust test started and named in
JSON_ARGS; the only socket it makes itself is a listener for `wait_listen`.
"""

import asyncio
import json
import os
import socket
import sys
import time

from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

# Generous: the machine is small and shared.
CALL_TIMEOUT = 90.0
DEADLINE = 30.0


def client(exe, *args):
    params = StdioServerParameters(command=exe, args=["mcp", *args])
    return Client(params, read_timeout_seconds=CALL_TIMEOUT)


def doc(result):
    """A tool result as the test sees it."""
    text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    return {
        "is_error": bool(result.is_error),
        "structured": result.structured_content,
        "text": text,
    }


async def call(c, name, args):
    return doc(await c.call_tool(name, args))


async def rpc_error(c, name, args):
    """Calls a tool that must fail with a JSON-RPC error: its code and message."""
    try:
        r = await c.call_tool(name, args)
    except MCPError as e:
        return {"code": e.code, "message": e.message}
    return {"code": None, "result": doc(r)}


async def tools(c):
    listed = await c.list_tools()
    return {
        t.name: {
            "read_only": t.annotations.read_only_hint if t.annotations else None,
            "destructive": t.annotations.destructive_hint if t.annotations else None,
            "has_output_schema": t.output_schema is not None,
        }
        for t in listed.tools
    }


async def read_only(exe, a):
    seen = {}
    async with client(exe) as c:
        seen["protocol"] = c.protocol_version
        seen["server"] = c.server_info.name if c.server_info else None
        seen["tools"] = await tools(c)
        seen["why"] = await call(c, "why_port", {"port": a["held_port"]})
        seen["why_free"] = await call(c, "why_port", {"port": a["free_port"]})
        seen["free"] = await call(c, "free_port", {"count": 2, "near": a["near"]})
        seen["list"] = await call(c, "list_sockets", {"query": ":%d" % a["held_port"]})
        seen["list_all"] = await call(c, "list_sockets", {"all": True, "limit": 1})
        seen["bad_query"] = await call(c, "list_sockets", {"query": "state:nonsense"})
        seen["info"] = await call(c, "info", {})
        # The watch starts with the server: its first events come after its baseline.
        first = await call(c, "recent_events", {"limit": 1})
        cursor = first["structured"]["next_cursor"]

        # wait_listen on a port nobody listens on yet: the listener comes after the call.
        port = seen["free"]["structured"]["ports"][0]
        waiting = asyncio.create_task(
            c.call_tool("wait_listen", {"port": port, "timeout_s": 30})
        )
        await asyncio.sleep(2.0)
        assert not waiting.done(), "wait_listen returned before anything listened"
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4)
        seen["listen_port"] = port
        seen["my_pid"] = os.getpid()
        seen["wait_listen"] = doc(await waiting)

        # The listener's opening, from the server's own watch, after the cursor.
        end = time.monotonic() + DEADLINE
        events = []
        while time.monotonic() < end:
            r = await call(
                c, "recent_events", {"since_cursor": cursor, "query": ":%d" % port}
            )
            events += r["structured"]["events"]
            cursor = r["structured"]["next_cursor"]
            if any(e["event"] == "opened" for e in events):
                break
            await asyncio.sleep(0.2)
        seen["events"] = events
        seen["events_cursor"] = cursor
        s.close()
        seen["wait_free"] = await call(c, "wait_free", {"port": port, "timeout_s": 10})

        # Errors a client makes: JSON-RPC errors, and the session goes on.
        seen["unknown_tool"] = await rpc_error(c, "no_such_tool", {})
        seen["action_without_flag"] = await rpc_error(c, "kill_port", {"port": a["held_port"]})
        seen["wrong_type"] = await rpc_error(c, "why_port", {"port": "3000"})
        seen["out_of_range"] = await rpc_error(c, "wait_free", {"port": 1, "timeout_s": 600})
        seen["unknown_field"] = await rpc_error(c, "free_port", {"count": 1, "colour": "red"})
        seen["after_errors"] = await call(c, "why_port", {"port": a["held_port"]})
    return seen


async def actions(exe, a):
    seen = {}
    async with client(exe, "--allow-actions", "--token-ttl", "2s") as c:
        seen["tools"] = await tools(c)
        # Refused at the preview: another user's process.
        seen["other_user"] = await call(c, "kill_port", {"port": a["nobody_port"]})

        # Preview: the exact target and a token; nothing is sent.
        preview = await call(c, "kill_port", {"port": a["victim_port"]})
        seen["preview"] = preview
        token = preview["structured"]["token"]
        # An altered token is refused and does not spend the real one.
        altered = token[:-1] + ("0" if token[-1] != "0" else "1")
        seen["altered"] = await call(c, "kill_port", {"port": a["victim_port"], "token": altered})
        seen["done"] = await call(c, "kill_port", {"port": a["victim_port"], "token": token})
        seen["reused"] = await call(c, "kill_port", {"port": a["victim_port"], "token": token})

        # A token is bound to the preview's arguments.
        p2 = await call(c, "kill_port", {"port": a["spared_port"]})
        seen["preview2"] = p2
        seen["other_signal"] = await call(
            c,
            "kill_port",
            {"port": a["spared_port"], "signal": "KILL", "token": p2["structured"]["token"]},
        )
        # And expires (this server's tokens live 2 s).
        p3 = await call(c, "kill_port", {"port": a["spared_port"]})
        await asyncio.sleep(2.5)
        seen["expired"] = await call(
            c, "kill_port", {"port": a["spared_port"], "token": p3["structured"]["token"]}
        )
        seen["after"] = await call(c, "why_port", {"port": a["spared_port"]})
    return seen


async def close(exe, a):
    seen = {}
    async with client(exe, "--allow-actions") as c:
        q = ":%d state:time-wait" % a["port"]
        seen["listener_only"] = await call(
            c, "close_sockets", {"query": ":%d state:listen" % a["listener_port"]}
        )
        seen["free_word"] = await call(c, "close_sockets", {"query": "node"})
        preview = await call(c, "close_sockets", {"query": q})
        seen["preview"] = preview
        seen["done"] = await call(
            c, "close_sockets", {"query": q, "token": preview["structured"]["token"]}
        )
    return seen


SCENARIOS = {"read_only": read_only, "actions": actions, "close": close}


def main():
    scenario, exe, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    seen = asyncio.run(SCENARIOS[scenario](exe, args))
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
