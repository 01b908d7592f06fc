"""Approves sshgate's ask commands from the MCP Python SDK's own client, as its user would: an
`elicitation_callback` shown the form (hosts, the exact command, the rule) that answers it. At the
SDK's default protocol (2026-07-28) the high-level `Client` fulfils sshgate's `input_required`
answer and retries the call itself; in legacy mode (2025-11-25) sshgate sends `elicitation/create`
and the same callback answers it. An accepted command runs once and the same call asks again; a
declined one is denied. Each run appends a line to a file on the host, which the test counts.
"""

from __future__ import annotations

import argparse
from typing import Any

import mcp.types as types
from mcp.client.context import ClientRequestContext

from sshgate_interop import Caller, connect, era, run


async def main(args: argparse.Namespace) -> dict[str, Any]:
    shown: list[dict[str, Any]] = []
    answer: dict[str, Any] = {"action": "accept", "content": {"approve": True}}

    async def approve(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        schema = getattr(params, "requested_schema", None)
        shown.append({"message": params.message, "required": (schema or {}).get("required")})
        return types.ElicitResult(**answer)

    async with connect(args, elicitation_callback=approve) as (connection, protocol):
        caller = Caller(connection)
        await caller.list_tools()
        # The files the approved commands append to, one line a run: unique to this run by its marker.
        file = f"/tmp/sshgate-interop-approvals-{args.marker}"
        accepted = f"echo ran >> {file}-accept"
        first = await caller.ok("ssh_run", {"alias": args.alias, "command": accepted})
        second = await caller.ok("ssh_run", {"alias": args.alias, "command": accepted})
        asked_after_accept = len(shown)
        answer.update(action="decline", content=None)
        declined = await caller.ok("ssh_run", {"alias": args.alias, "command": f"echo ran >> {file}-decline"})
        return {
            "protocol": protocol,
            "era": era(connection),
            "accepted": [pick(first), pick(second)],
            "asked_after_accept": asked_after_accept,
            "declined": pick(declined),
            "asked": len(shown),
            "shown": shown,
            "problems": caller.problems,
        }


def pick(result: dict[str, Any]) -> dict[str, Any]:
    """What the test asserts on of an ssh_run result."""
    return {
        "state": result.get("state"),
        "exit_code": result.get("exit_code"),
        "error_code": (result.get("error") or {}).get("code"),
        "approval_id": (result.get("approval") or {}).get("approval_id"),
    }


if __name__ == "__main__":
    run(main, "approve ask commands through the MCP Python SDK's elicitation callback")
