"""Runs the bundled demo MCP server as a child process on a loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from typing import Self


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_listening(
    host: str, port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once `host:port` accepts connections; raise if it does not in time or `process` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:g} s") from None
            time.sleep(0.05)


class ChildServer:
    """`python -m webapp.demo_server` (or another `module` that takes --host and --port) on `port`
    (a free one by default); `url` is its /mcp endpoint."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, module: str = "webapp.demo_server") -> None:
        self.module = module
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}/mcp"
        self._process: subprocess.Popen[bytes] | None = None
        self._output = tempfile.TemporaryFile()

    def start(self, timeout: float = 20.0) -> Self:
        command = [sys.executable, "-m", self.module, "--host", self.host, "--port", str(self.port)]
        self.launch(command, what=f"the MCP server {self.module}", timeout=timeout)
        return self

    def launch(self, command: list[str], *, what: str, timeout: float, env: dict[str, str] | None = None) -> None:
        """Run `command` and wait until it listens on the port; its output is kept for `output()`."""
        self._process = subprocess.Popen(command, stdout=self._output, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until_listening(self.host, self.port, timeout=timeout, process=self._process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{what} did not start: {exc}\n{self.output()}") from exc

    def kill(self) -> None:
        """SIGKILL, as a crash would: no goodbye to anyone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")
