"""Real parts for tests: the dashboard as its own process, and readers of its SSE stream."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from webapp.bundled import ChildServer, free_port, wait_until_listening

SEQ = re.compile(r'data-seq="(\d+)"')


class Dashboard:
    """`python -m webapp [ROLE]` as a user starts it: under uvicorn on a free loopback port, or (`role="worker"`)
    a worker process that serves no HTTP."""

    def __init__(
        self,
        db: Path | str,
        *,
        mcp_url: str | None,
        args: tuple[str, ...] = (),
        port: int | None = None,
        role: str | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """`command`: how to start it (default: this Python's `-m webapp`; an installed `mcp-live` takes the same
        arguments); `cwd`: where, when not here. With `cwd`, `env` is the whole environment."""
        self.db = db
        self.command = command or [sys.executable, "-m", "webapp"]
        self.cwd = cwd
        self.env = env or {}
        self.mcp_url = mcp_url
        self.args = args
        self.role = role
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._output = tempfile.TemporaryFile()

    def start(self) -> Dashboard:
        command = [*self.command, *([self.role] if self.role else [])]
        command += ["--port", str(self.port), "--db", str(self.db), *self.args]
        if self.mcp_url is not None:
            command += ["--mcp-url", self.mcp_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_LIVE_")} | self.env
        if self.cwd is not None:
            env = self.env
        self.process = subprocess.Popen(command, stdout=self._output, stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        try:
            if self.role == "worker":
                self._wait_for_worker()
            else:
                wait_until_listening("127.0.0.1", self.port, timeout=30, process=self.process)
        except (RuntimeError, TimeoutError, AssertionError) as exc:
            self.stop()
            raise RuntimeError(f"dashboard did not start: {exc}\n{self.output()}") from exc
        return self

    def _wait_for_worker(self) -> None:
        process = self.process
        assert process is not None

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited with status {process.returncode}")
            return "MCP Live worker" in self.output()

        wait_until(ready, what="the worker to be ready", timeout=30)

    @property
    def worker_id(self) -> str:
        """The id a worker process announced (`MCP Live worker ID on HOST ...`)."""
        found = re.search(r"MCP Live worker (\w+) on ", self.output())
        assert found is not None, self.output()
        return found.group(1)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@dataclass
class SseMessage:
    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return "\n".join(self.data_lines)

    @property
    def seqs(self) -> list[int]:
        return [int(s) for s in SEQ.findall(self.data)]


def read_sse(lines: Iterator[str]) -> Iterator[SseMessage]:
    """Parse an SSE body (LF separators) into messages; comments (pings) are skipped."""
    message = SseMessage()
    for line in lines:
        if line == "":
            if message.data_lines or message.event or message.id is not None:
                yield message
            message = SseMessage()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            message.data_lines.append(value)
        elif name == "event":
            message.event = value
        elif name == "id":
            message.id = value


def follow(
    client: httpx.Client,
    job_id: str,
    *,
    after: int | None = None,
    last_event_id: str | None = None,
    tail: int | None = None,
    timeout: float = 30,
) -> list[SseMessage]:
    """Read a job's SSE stream until it ends (`event: end`); every read is bounded by `timeout`."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    params = {name: value for name, value in (("after", after), ("tail", tail)) if value is not None}
    messages = []
    with client.stream("GET", f"/jobs/{job_id}/events", params=params, headers=headers, timeout=timeout) as response:
        response.raise_for_status()
        for message in read_sse(response.iter_lines()):
            messages.append(message)
            if message.event == "end":
                break
    return messages


def start_job(client: httpx.Client, tool: str = "run_job", **arguments: Any) -> str:
    response = client.post("/api/jobs", json={"tool": tool, "arguments": arguments})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def start_and_watch(client: httpx.Client, until_seq: int) -> str:
    """Start a long run_job and return its id once its stream has shown `until_seq` events."""
    job_id = start_job(client, steps=1000, delay=0.02)
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
        read_until(response.iter_lines(), until_seq)
    return job_id


def run_to_end(
    client: httpx.Client, tool: str = "run_job", limits: dict[str, float] | None = None, **arguments: Any
) -> dict[str, Any]:
    """Start a job (with optional time limits), follow its stream to the end, and return the job as the API shows it."""
    response = client.post("/api/jobs", json={"tool": tool, "arguments": arguments, **(limits or {})})
    assert response.status_code == 201, response.text
    follow(client, response.json()["id"])
    job: dict[str, Any] = client.get(f"/api/jobs/{response.json()['id']}").json()
    return job


def all_events(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/jobs/{job_id}/events", params={"after": len(events), "limit": 1000}).json()
        events += page["events"]
        if not page["more"]:
            return events


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Check `condition` until it holds; fail after `timeout` seconds. A bounded wait, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: `wait` is the pause between checks
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        pause.wait(interval)


def server_stats(server: ChildServer) -> dict[str, int]:
    """The bundled server's own count of running, finished and cancelled tool calls."""
    stats: dict[str, int] = httpx.get(f"http://{server.host}:{server.port}/stats", timeout=5).json()
    return stats


def read_until(lines: Iterator[str], last_seq: int) -> list[SseMessage]:
    """Read messages until one carries `last_seq` or later (the caller bounds the read with its timeout)."""
    messages = []
    for message in read_sse(lines):
        messages.append(message)
        if message.seqs and message.seqs[-1] >= last_seq:
            break
    return messages
