"""Drives sshgate's Tasks extension (io.modelcontextprotocol/tasks) with the MCP Python SDK's own
client-extension hook: a `ClientExtension` whose `ResultClaim` takes a `resultType: "task"` answer of
tools/call and polls `tasks/get` until the task has ended, as an application using the SDK would
write it (the SDK has no tasks support of its own). It runs a command as a task and reads its result
through `call_tool`; takes the handle of another with `allow_claimed=True`, cancels it with
`tasks/cancel` and sees its process gone; and, from a client without the extension, gets -32021.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from typing import Any, Literal

import anyio
import mcp.types as types
from mcp import ClientSession
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from mcp_types import RequestParams, Result
from mcp_types._types import Request

from all_tools import gone_within, present_within
from sshgate_interop import connect, era, run

TASKS = "io.modelcontextprotocol/tasks"


class TaskHandle(Result):
    """tools/call's CreateTaskResult: the task, flat, with `resultType: "task"`."""

    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class DetailedTask(Result):
    """tasks/get's answer: the task and, once completed, the tool's result."""

    result_type: str | None = None
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None


class Ack(Result):
    result_type: str | None = None


class TaskIdParams(RequestParams):
    task_id: str


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class CancelTask(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class SshgateTasks(ClientExtension):
    """Declares the extension on every request and resolves a task answer by polling it."""

    identifier = TASKS

    def __init__(self) -> None:
        self.handles: list[dict[str, Any]] = []
        self.polls = 0

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.resolve)]

    async def resolve(self, handle: TaskHandle, ctx: ClaimContext) -> types.CallToolResult:
        self.handles.append(
            {"tool": ctx.tool_name, "task_id": handle.task_id, "status": handle.status, "ttl_ms": handle.ttl_ms}
        )
        task = await self.get(ctx.session, handle.task_id)
        while task.status == "working":
            await anyio.sleep((task.poll_interval_ms or 1000) / 1000)
            task = await self.get(ctx.session, handle.task_id)
        if task.status != "completed" or task.result is None:
            raise RuntimeError(f"task {handle.task_id} ended {task.status}: {task.status_message}")
        return types.CallToolResult.model_validate(task.result)

    async def get(self, session: Any, task_id: str) -> DetailedTask:
        self.polls += 1
        task: DetailedTask = await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), DetailedTask)
        return task


async def error_code(request: Awaitable[Any]) -> int | None:
    """The JSON-RPC error code a request is answered with, or None when it succeeds."""
    try:
        await request
    except MCPError as err:
        return err.error.code
    return None


async def main(args: argparse.Namespace) -> dict[str, Any]:
    pattern = f"sleep 97{args.marker}"
    tasks = SshgateTasks()
    async with connect(args, extensions=[tasks]) as (client, protocol):
        assert not isinstance(client, ClientSession)
        connected_era = era(client)
        extensions = client.session.discover_result.capabilities.extensions if client.session.discover_result else None
        ran = await client.call_tool("ssh_run", {"alias": args.alias, "command": f"echo tasks {args.marker}"})

        claimed = await client.session.call_tool(
            "ssh_run", {"alias": args.alias, "command": pattern}, allow_claimed=True
        )
        if not isinstance(claimed, TaskHandle):
            raise TypeError(f"ssh_run answered {type(claimed).__name__}, not a task")
        present = await present_within(args.fleet_user, pattern)
        await client.session.send_request(CancelTask(params=TaskIdParams(task_id=claimed.task_id)), Ack)
        gone = await gone_within(args.fleet_user, pattern, 2.0)
        after = await tasks.get(client.session, claimed.task_id)
        unknown = await error_code(tasks.get(client.session, f"{args.alias}:0123456789ab:1"))

    async with connect(args) as (plain, _):
        session = plain if isinstance(plain, ClientSession) else plain.session
        get = GetTask(params=TaskIdParams(task_id=claimed.task_id))
        undeclared = await error_code(session.send_request(get, DetailedTask))

    return {
        "protocol": protocol,
        "era": connected_era,
        "extensions": extensions,
        "run": {
            "structured": ran.structured_content,
            "is_error": ran.is_error,
            "handles": tasks.handles,
            "polls": tasks.polls,
        },
        "cancel": {
            "task_id": claimed.task_id,
            "status": claimed.status,
            "present_before_cancel": present,
            "gone_after_cancel": gone,
            "status_after": after.status,
        },
        "unknown_id_code": unknown,
        "undeclared_code": undeclared,
    }


if __name__ == "__main__":
    run(main, "Run and cancel sshgate tasks through the Tasks extension with the MCP Python SDK's client.")
