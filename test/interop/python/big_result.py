"""An ssh_run whose command prints 50 MB, received by the official MCP Python SDK's client: prints
what the result holds and how large the JSON-RPC message carrying it was.

The SDK hands over the parsed message, not its bytes, so the size is that of the response as JSON
(`{"jsonrpc", "id", "result"}` around the result as the SDK dumps it, by alias, without nulls,
UTF-8): the message on the wire, give or take whitespace.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sshgate_interop import Caller, connect, era, error_body, run

COMMAND = "head -c 50000000 /dev/zero | tr '\\0' 'x'"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with connect(args) as (connection, protocol):
        c = Caller(connection)
        await c.list_tools()
        plan = await c.ok("ssh_plan", {"alias": args.alias, "command": COMMAND})
        result = await c.call("ssh_run", {"alias": args.alias, "command": COMMAND})
        message = {"jsonrpc": "2.0", "id": 1, "result": result.model_dump(by_alias=True, exclude_none=True)}
        content = result.structured_content or {}
        return {
            "transport": "stdio" if args.stdio else "http",
            "protocol": protocol,
            "era": era(connection),
            "allowed": plan["allowed"],
            "is_error": result.is_error,
            "error": error_body(result) if result.is_error else None,
            "message_bytes": len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()),
            "stdout_chars": len(content.get("stdout", "")),
            "stderr_chars": len(content.get("stderr", "")),
            # Everything else the result says, the output itself left out.
            "fields": {k: v for k, v in content.items() if k not in ("stdout", "stderr")},
            "problems": c.problems,
        }


if __name__ == "__main__":
    run(main, "Receive a 50 MB ssh_run result with the MCP Python SDK's client.")
