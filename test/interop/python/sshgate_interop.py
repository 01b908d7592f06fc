"""What the interop drivers share: connecting to sshgate with the official MCP Python SDK's own
client, over stdio or Streamable HTTP, at the protocol version the SDK picks or at an older one;
checking results against the tools' output schemas; and the JSON summary the tests read.

A driver prints one JSON object on stdout and nothing else there; the server's log and the
driver's own notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import version as package_version
from typing import Any

import anyio
import httpx2
import jsonschema
import mcp.types as types
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.extension import ClientExtension
from mcp.client.session import ElicitationFnT
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.dispatcher import ProgressFnT

CLIENT_INFO = types.Implementation(name="sshgate-interop-python", version="1.0.0")
# Well above what any call here takes: a busy machine may be slow, and a slow call is not a failure.
CALL_TIMEOUT_SECONDS = 120.0


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--stdio",
        metavar="JSON",
        help='the server as a client config names it: {"command": ..., "args": [...], "env": {...}}',
    )
    where.add_argument("--http", metavar="URL", help="the server's Streamable HTTP endpoint, http://HOST:PORT/mcp")
    parser.add_argument("--token-file", help="with --http: the file holding the bearer token")
    parser.add_argument(
        "--protocol",
        default="sdk",
        help='"sdk": let the SDK negotiate (its default, 2026-07-28 where the server speaks it); "legacy": the'
        ' initialize handshake at its newest version; or a handshake-era version to offer, e.g. 2024-11-05',
    )
    parser.add_argument("--alias", default="h1", help="the host to run commands on")
    parser.add_argument("--tag", default="test", help="a tag every host of the fleet has")
    parser.add_argument(
        "--marker", default="57", help="digits that make this run's sleep commands unique on the machine"
    )
    parser.add_argument(
        "--fleet-user", default="sshgate-test", help="the fleet's login user, whose processes pgrep lists"
    )
    parser.add_argument(
        "--files-dir",
        default="/tmp/sshgate-interop-files",
        help="a directory on the hosts the policy's files: rule lets the file tools read and write",
    )
    args = parser.parse_args()
    if args.http and not args.token_file:
        parser.error("--http needs --token-file")
    return args


@asynccontextmanager
async def connect(
    args: argparse.Namespace,
    extensions: Sequence[ClientExtension] = (),
    elicitation_callback: ElicitationFnT | None = None,
) -> AsyncIterator[tuple[Client | ClientSession, str]]:
    """A connected client and the protocol version it negotiated; `extensions` go to `Client(...)`;
    with `elicitation_callback` the client declares form elicitation and answers with it (a 2025-era
    `elicitation/create`, or the embedded requests of a 2026-07-28 `input_required` result, which
    `Client` fulfils and retries itself).

    `--protocol sdk` is `Client(...)` as the SDK's documentation shows it: it first probes
    `server/discover` at the newest (stateless, 2026-07-28) revision and falls back to the
    `initialize` handshake when the server does not speak that era. `--protocol legacy` is
    `Client(..., mode="legacy")`: the handshake, at its newest version. The SDK's `initialize()` always
    offers its newest handshake version, so an older version is offered by sending the
    `initialize` request through the SDK's own session (`send_request`), then `adopt()` and
    `notifications/initialized`, as `initialize()` itself does.
    """
    async with AsyncExitStack() as stack:
        if args.stdio:
            server = json.loads(args.stdio)
            transport = stdio_client(
                StdioServerParameters(command=server["command"], args=server.get("args", []), env=server.get("env"))
            )
        else:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip()
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=httpx2.Timeout(30.0, read=300.0),
                )
            )
            transport = streamable_http_client(args.http, http_client=http)

        if args.protocol in ("sdk", "legacy"):
            options: dict[str, Any] = {"mode": "legacy"} if args.protocol == "legacy" else {}
            if extensions:
                options["extensions"] = list(extensions)
            if elicitation_callback is not None:
                options["elicitation_callback"] = elicitation_callback
            client = await stack.enter_async_context(
                Client(transport, client_info=CLIENT_INFO, read_timeout_seconds=CALL_TIMEOUT_SECONDS, **options)
            )
            yield client, client.protocol_version
            return

        read, write = await stack.enter_async_context(transport)
        session = await stack.enter_async_context(
            ClientSession(
                read,
                write,
                client_info=CLIENT_INFO,
                read_timeout_seconds=CALL_TIMEOUT_SECONDS,
                elicitation_callback=elicitation_callback,
            )
        )
        # This initialize is sent by hand, so it declares what the session would have declared.
        capabilities = (
            types.ClientCapabilities(elicitation=types.ElicitationCapability(form=types.FormElicitationCapability()))
            if elicitation_callback is not None
            else types.ClientCapabilities()
        )
        result = await session.send_request(
            types.InitializeRequest(
                params=types.InitializeRequestParams(
                    protocol_version=args.protocol, capabilities=capabilities, client_info=CLIENT_INFO
                )
            ),
            types.InitializeResult,
        )
        session.adopt(result)
        await session.send_notification(types.InitializedNotification())
        yield session, result.protocol_version


def era(connection: Client | ClientSession) -> str:
    """The era the connection is in: "modern" when `server/discover` set it up (2026-07-28 on), else "handshake"."""
    session = connection.session if isinstance(connection, Client) else connection
    return "modern" if session.discover_result is not None else "handshake"


class Caller:
    """Calls tools and keeps, for the summary, what each call returned and whether its
    structuredContent matched the tool's published outputSchema (checked here with `jsonschema`,
    besides the SDK's own check)."""

    def __init__(self, connection: Client | ClientSession) -> None:
        self.connection = connection
        self.schemas: dict[str, dict[str, Any]] = {}
        self.checked: dict[str, int] = {}
        self.problems: list[str] = []

    async def list_tools(self) -> list[types.Tool]:
        tools = (await self.connection.list_tools()).tools
        for tool in tools:
            if tool.output_schema is None:
                self.problems.append(f"{tool.name} publishes no outputSchema")
                continue
            validator = jsonschema.validators.validator_for(tool.output_schema)
            validator.check_schema(tool.output_schema)
            self.schemas[tool.name] = tool.output_schema
        return tools

    async def call(
        self, name: str, args: dict[str, Any] | None = None, progress: ProgressFnT | None = None
    ) -> types.CallToolResult:
        result = await self.connection.call_tool(name, args or {}, CALL_TIMEOUT_SECONDS, progress)
        if not isinstance(result, types.CallToolResult):
            raise TypeError(f"{name} returned {type(result).__name__}, not a CallToolResult")
        if not result.is_error:
            self.check(name, result)
        return result

    def check(self, name: str, result: types.CallToolResult) -> None:
        if result.structured_content is None:
            self.problems.append(f"{name}: a result without structuredContent")
            return
        schema = self.schemas.get(name)
        if schema is None:
            self.problems.append(f"{name}: no outputSchema to check the result against")
            return
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(result.structured_content)
        ]
        if errors:
            self.problems.append(f"{name}: structuredContent does not match outputSchema: {'; '.join(errors[:5])}")
        text = [c.text for c in result.content if isinstance(c, types.TextContent)]
        if not text or json.loads(text[0]) != result.structured_content:
            self.problems.append(f"{name}: the text content is not the same JSON as structuredContent")
        self.checked[name] = self.checked.get(name, 0) + 1

    async def ok(
        self, name: str, args: dict[str, Any] | None = None, progress: ProgressFnT | None = None
    ) -> dict[str, Any]:
        """Calls a tool that must succeed; its structuredContent."""
        result = await self.call(name, args, progress)
        if result.is_error:
            raise RuntimeError(f"{name} {json.dumps(args)} failed: {error_body(result)}")
        content: dict[str, Any] = result.structured_content
        return content

    async def fails(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Calls a tool that must fail; its error as the client sees it."""
        result = await self.call(name, args)
        if not result.is_error:
            raise RuntimeError(f"{name} {json.dumps(args)} succeeded: {result.structured_content}")
        return {"body": error_body(result), "has_structured_content": result.structured_content is not None}


def error_body(result: types.CallToolResult) -> Any:
    """The `{ code, message, hint }` of a tool error, from its JSON text."""
    text = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return json.loads(text[0]) if text else None


def run(main: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]], description: str) -> None:
    """Runs a driver and prints its summary; an exception becomes `{"fatal": ...}` and exit status 1."""
    args = arguments(description)
    summary: dict[str, Any] = {"sdk": {"mcp": package_version("mcp"), "jsonschema": package_version("jsonschema")}}
    try:
        summary.update(anyio.run(main, args))
        status = 0
    except BaseException as err:  # noqa: BLE001 - the summary says what went wrong, whatever it was
        traceback.print_exc()
        summary["fatal"] = describe(err)
        status = 1
    print(json.dumps(summary), flush=True)
    sys.exit(status)


def describe(err: BaseException) -> str:
    """An exception and, for an exception group, what it holds."""
    if isinstance(err, BaseExceptionGroup):
        return f"{type(err).__name__}: " + "; ".join(describe(e) for e in err.exceptions)
    return f"{type(err).__name__}: {err}"
