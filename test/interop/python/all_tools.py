"""Drives every sshgate tool with the official MCP Python SDK's client and prints what it saw
as one JSON object: each tool's structuredContent, the outputSchema checks, tool errors as the
client reads them, progress notifications of an ssh_run, and an ssh_run cancelled by the client
while in flight (the SDK sends notifications/cancelled when the call's task is cancelled).

    .venv-interop/bin/python test/interop/python/all_tools.py --stdio '{"command": "node", ...}'
    .venv-interop/bin/python test/interop/python/all_tools.py --http URL --token-file FILE
"""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

import anyio

from sshgate_interop import CALL_TIMEOUT_SECONDS, Caller, connect, era, run

FINAL_STATES = {"succeeded", "failed", "cancelled", "timed_out", "lost"}


def pgrep(user: str, pattern: str) -> str:
    """The user's processes whose command line matches, as `pgrep -u USER -af` lists them."""
    return subprocess.run(["pgrep", "-u", user, "-af", pattern], capture_output=True, text=True).stdout.strip()


async def present_within(user: str, pattern: str, seconds: float = 30.0) -> bool:
    with anyio.move_on_after(seconds):
        while pgrep(user, pattern) == "":
            await anyio.sleep(0.05)
        return True
    return False


async def gone_within(user: str, pattern: str, seconds: float = 15.0) -> bool:
    with anyio.move_on_after(seconds):
        while pgrep(user, pattern) != "":
            await anyio.sleep(0.05)
        return True
    return False


async def final_state(c: Caller, task_id: str, seconds: float = 30.0) -> str:
    """The task's state once it has ended, or its state after `seconds`."""
    state = ""
    with anyio.move_on_after(seconds):
        while state not in FINAL_STATES:
            state = (await c.ok("ssh_get_task_status", {"task_id": task_id}))["state"]
            if state not in FINAL_STATES:
                await anyio.sleep(0.1)
    return state


async def read_all(c: Caller, task_id: str) -> dict[str, Any]:
    """Reads a task's output by cursor until `done`, every byte once."""
    stdout, stderr, cursor, reads = "", "", None, 0
    while True:
        part = await c.ok(
            "ssh_get_task_output", {"task_id": task_id, "wait_seconds": 10, **({"cursor": cursor} if cursor else {})}
        )
        stdout, stderr, cursor, reads = stdout + part["stdout"], stderr + part["stderr"], part["next_cursor"], reads + 1
        if part["done"]:
            return {"stdout": stdout, "stderr": stderr, "reads": reads, "last": part}
        if reads >= 100:
            raise RuntimeError(f"ssh_get_task_output of {task_id} not done after {reads} reads")


async def progress_of_a_run(c: Caller, alias: str) -> dict[str, Any]:
    """An ssh_run called with a progress token: the notifications the SDK hands the callback."""
    notes: list[dict[str, Any]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append({"progress": progress, "total": total, "message": message})

    result = await c.ok("ssh_run", {"alias": alias, "command": "echo tick 1; sleep 2; echo tick 2"}, on_progress)
    return {"result": result, "notifications": notes}


async def cancel_in_flight(c: Caller, args: argparse.Namespace) -> dict[str, Any]:
    """An ssh_run whose call the client abandons: cancelling the anyio scope around `call_tool`
    makes the SDK send notifications/cancelled. The call is cancelled once its output has arrived
    as progress, so the command is surely running; then the task must end `cancelled` and its
    process go away while the session is still open."""
    pattern = f"sleep {args.marker}1"
    notes: list[str] = []
    running = anyio.Event()
    outcome: dict[str, Any] = {"pattern": pattern, "call": "pending"}

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message or "")
        if message and "started" in message:
            running.set()

    async def call() -> None:
        try:
            result = await c.call("ssh_run", {"alias": args.alias, "command": f"echo started; {pattern}"}, on_progress)
            outcome["call"] = "returned"
            outcome["returned"] = result.structured_content
        except anyio.get_cancelled_exc_class():
            outcome["call"] = "cancelled by the client"
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        with anyio.fail_after(CALL_TIMEOUT_SECONDS):
            await running.wait()
        outcome["present_before_cancel"] = await present_within(args.fleet_user, pattern)
        tg.cancel_scope.cancel()

    task_id = notes[0].removeprefix("task_id ") if notes and notes[0].startswith("task_id ") else None
    outcome["task_id"] = task_id
    outcome["progress_messages"] = notes
    if task_id is not None:
        outcome["state_after"] = await final_state(c, task_id)
        outcome["status_after"] = await c.ok("ssh_get_task_status", {"task_id": task_id})
    outcome["gone_while_connected"] = await gone_within(args.fleet_user, pattern)
    return outcome


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with connect(args) as (connection, protocol):
        c = Caller(connection)
        tools = await c.list_tools()
        r: dict[str, Any] = {}
        r["ssh_list_hosts"] = await c.ok("ssh_list_hosts")
        r["ssh_describe_host"] = await c.ok("ssh_describe_host", {"alias": args.alias})
        r["ssh_plan"] = await c.ok("ssh_plan", {"alias": args.alias, "command": "uptime; reboot"})
        r["ssh_plan_tag"] = await c.ok("ssh_plan", {"tag": args.tag, "command": "echo hi"})
        r["ssh_run"] = await c.ok("ssh_run", {"alias": args.alias, "command": "echo interop; echo oops >&2; exit 3"})

        started = await c.ok(
            "ssh_run_async", {"alias": args.alias, "command": "echo async one; sleep 1; echo async two"}
        )
        r["ssh_run_async"] = started
        r["ssh_get_task_output"] = await read_all(c, started["task_id"])
        r["ssh_get_task_status"] = await c.ok("ssh_get_task_status", {"task_id": started["task_id"]})
        r["ssh_list_tasks"] = await c.ok("ssh_list_tasks", {"limit": 10})
        r["ssh_run_on_tag"] = await c.ok("ssh_run_on_tag", {"tag": args.tag, "command": "echo on tag"})

        pattern = f"sleep {args.marker}2"
        doomed = await c.ok("ssh_run_async", {"alias": args.alias, "command": pattern})
        seen = await present_within(args.fleet_user, pattern)
        r["ssh_cancel"] = await c.ok("ssh_cancel", {"task_id": doomed["task_id"]})
        r["ssh_cancel_processes"] = {
            "pattern": pattern,
            "present_before": seen,
            "gone_after": await gone_within(args.fleet_user, pattern),
        }

        r["ssh_reload_config"] = await c.ok("ssh_reload_config")
        r["ssh_ping"] = await c.ok("ssh_ping", {"alias": args.alias})
        r["ssh_ping_all"] = await c.ok("ssh_ping")

        # The file tools, on a file of this run's own in the directory the policy's files: rule allows.
        path = f"{args.files_dir}/{args.marker}.conf"
        r["ssh_write_file"] = await c.ok("ssh_write_file", {"alias": args.alias, "path": path, "content": "listen 80;\n"})
        r["ssh_read_file"] = await c.ok("ssh_read_file", {"alias": args.alias, "path": path})
        r["ssh_edit_file"] = await c.ok(
            "ssh_edit_file",
            {
                "alias": args.alias,
                "path": path,
                "old": "80",
                "new": "8080",
                "expected_sha256": r["ssh_read_file"]["sha256"],
            },
        )
        r["ssh_list_dir"] = await c.ok("ssh_list_dir", {"alias": args.alias, "path": args.files_dir})
        # Transfers, between the server's transfer root (it holds payload.txt) and the host.
        sent = f"{args.files_dir}/{args.marker}-sent.txt"
        r["ssh_put_file"] = await c.ok("ssh_put_file", {"alias": args.alias, "local": "payload.txt", "path": sent})
        r["ssh_get_file"] = await c.ok(
            "ssh_get_file", {"alias": args.alias, "path": sent, "local": f"back-{args.marker}.txt"}
        )

        errors = {
            "unknown_host": await c.fails("ssh_describe_host", {"alias": "no-such-host"}),
            "policy_denied": await c.fails("ssh_run", {"alias": args.alias, "command": "reboot"}),
            "not_found": await c.fails("ssh_get_task_status", {"task_id": f"{args.alias}:000000000000:1"}),
            "invalid_input": await c.fails("ssh_run", {"alias": args.alias, "command": "true", "bogus": 1}),
        }
        progress = await progress_of_a_run(c, args.alias)
        cancel = await cancel_in_flight(c, args)
        return {
            "transport": "stdio" if args.stdio else "http",
            "protocol_requested": args.protocol,
            "protocol": protocol,
            "era": era(connection),
            "tools": sorted(t.name for t in tools),
            "annotations": {
                t.name: t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None
                for t in tools
            },
            "results": r,
            "errors": errors,
            "progress": progress,
            "cancel": cancel,
            "schema_checked": c.checked,
            "problems": c.problems,
        }


if __name__ == "__main__":
    run(main, "Drive every sshgate tool with the MCP Python SDK's client.")
