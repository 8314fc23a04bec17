"""The stdio transport: an MCP server run as a child process for one connection.

Why not the SDK's `stdio_client`: a job needs the server's stderr as lines of its own, its exit status when it
ends early, and no orphan when the dashboard is killed. The process is started through `stdio_guard`, which
Linux tells of the dashboard's death.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter

GUARD = Path(__file__).with_name("stdio_guard.py")
# Only these of the dashboard's environment reach a server, as in other MCP clients: its own secrets stay home.
INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR")
STDERR_TAIL = 5  # stderr lines quoted when the server ends early
CLOSE_GRACE = 2.0  # seconds a server has to exit once its stdin is closed, before it is told to stop
STOP_GRACE = 3.0  # seconds more, after SIGTERM, before its whole process group is killed
MAX_LINE = 64 * 1024 * 1024  # bytes of one stdout line: a bigger one ends the connection rather than memory


@dataclass
class StdioProcess:
    """What is known of the server process: how it ended, and its last words on stderr."""

    command: str
    returncode: int | None = None
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL))

    def describe_end(self) -> str:
        """Why the server is gone, for a job's error: its exit status and last stderr lines."""
        code = self.returncode
        if code is None:
            how = "stopped answering"
        elif code < 0:
            how = f"was killed by {_signal_name(-code)}"
        else:
            how = f"exited with status {code}"
        said = " | ".join(self.stderr_tail)
        return f"the server process ({self.command}) {how}" + (f"; its last lines on stderr: {said}" if said else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def server_environment(extra: Mapping[str, str]) -> dict[str, str]:
    return {key: os.environ[key] for key in INHERITED_ENV if key in os.environ} | dict(extra)


@contextlib.asynccontextmanager
async def stdio_transport(
    command: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    on_stderr: Callable[[str], None],
    process_info: StdioProcess,
) -> AsyncIterator[tuple[Any, Any]]:
    """Start the server and yield the (read, write) streams of its JSON-RPC messages; stop it at the end.

    Every line it writes to stderr goes to `on_stderr`; `process_info` learns how it ended.
    """
    process = await anyio.open_process(
        [sys.executable, str(GUARD), str(os.getpid()), command, *args],
        env=server_environment(env),
        cwd=cwd,
        start_new_session=True,  # a process group of its own: stopped as one, never by a Ctrl-C meant for us
    )
    incoming_writer, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_reader = anyio.create_memory_object_stream[SessionMessage](0)
    stderr_done = anyio.Event()

    async def read_stderr() -> None:
        assert process.stderr is not None
        try:
            async for line in _lines(TextReceiveStream(process.stderr, errors="replace")):
                process_info.stderr_tail.append(line)
                on_stderr(line)
        finally:
            stderr_done.set()

    async def read_stdout() -> None:
        assert process.stdout is not None
        async with incoming_writer:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                async for line in _lines(TextReceiveStream(process.stdout, errors="replace")):
                    if line.strip():
                        await incoming_writer.send(_parse(line))
            # The server closed stdout: it is ending. Learn how before the session hears the connection is gone.
            with anyio.move_on_after(CLOSE_GRACE):
                process_info.returncode = await process.wait()
                await stderr_done.wait()

    async def write_stdin() -> None:
        assert process.stdin is not None
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async with outgoing_reader:
                async for item in outgoing_reader:
                    text = item.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((text + "\n").encode())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read_stderr)
        tasks.start_soon(read_stdout)
        tasks.start_soon(write_stdin)
        try:
            yield incoming, outgoing
        finally:
            with anyio.CancelScope(shield=True):
                await outgoing.aclose()
                await _stop(process)
                process_info.returncode = process.returncode
            tasks.cancel_scope.cancel()


async def _lines(stream: TextReceiveStream) -> AsyncIterator[str]:
    buffer = ""
    async for chunk in stream:
        buffer += chunk
        if len(buffer) > MAX_LINE:
            raise anyio.BrokenResourceError(f"a line of more than {MAX_LINE} bytes")
        *lines, buffer = buffer.split("\n")
        for line in lines:
            yield line.rstrip("\r")
    if buffer:
        yield buffer.rstrip("\r")


def _parse(line: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # the session reports it; the connection goes on
        return exc


async def _stop(process: Process) -> None:
    """Close stdin, as a well-behaved server expects; then SIGTERM; then SIGKILL to its whole process group."""
    if process.stdin is not None:
        with contextlib.suppress(Exception):
            await process.stdin.aclose()
    with anyio.move_on_after(CLOSE_GRACE):
        await process.wait()
    if process.returncode is not None:
        _kill_group(process)  # whatever the server started and left behind
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()  # the guard stops the server, then its group
    with anyio.move_on_after(STOP_GRACE):
        await process.wait()
    _kill_group(process)
    with anyio.move_on_after(STOP_GRACE):
        await process.wait()


def _kill_group(process: Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
