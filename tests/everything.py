"""The real `@modelcontextprotocol/server-everything` (npm, the MCP reference server in TypeScript) as a child
process on a loopback port: the peer our tests did not write.

It is installed once per machine into a cache directory (`$MCP_LIVE_TEST_CACHE`, else ~/.cache/mcp-live/npm),
under a file lock so that test processes running at once neither install it twice nor see half an install.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Self

from webapp.bundled import ChildServer

PACKAGE = "@modelcontextprotocol/server-everything"
VERSION = "2026.8.31"
INSTALL_TIMEOUT = 300.0  # seconds for `npm install` on a slow network

Transport = Literal["streamableHttp", "sse"]
# The endpoint each transport serves (dist/transports/streamableHttp.js and sse.js of the package).
ENDPOINTS: dict[Transport, str] = {"streamableHttp": "/mcp", "sse": "/sse"}

# The package calls `app.listen(PORT)`: every interface. Tests must not open a port to the network, and the package
# has no host setting, so every `listen` of the process is pinned to loopback before the package loads.
LOOPBACK_PRELOAD = """\
"use strict";
// Written by tests/everything.py: pins every TCP listen of this process to 127.0.0.1.
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args[args.length - 1] === "function" ? [args.pop()] : [];
  const [first, ...rest] = args;
  if (first !== null && typeof first === "object" && "port" in first) {
    return listen.call(this, { ...first, host: "127.0.0.1" }, ...callback);
  }
  if (typeof first === "number" || (typeof first === "string" && /^\\d+$/.test(first))) {
    const backlog = rest.find((value) => typeof value === "number");
    const options = { port: Number(first), host: "127.0.0.1" };
    if (backlog !== undefined) options.backlog = backlog;
    return listen.call(this, options, ...callback);
  }
  return listen.call(this, first, ...rest, ...callback);  // a Unix socket or a handle: not a network port
};
"""


def cache_dir() -> Path:
    configured = os.environ.get("MCP_LIVE_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "mcp-live" / "npm"


def _command(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"`{name}` is not on PATH: the server-everything tests run the real npm package on Node.js 18 or later "
            "(Debian: apt-get install nodejs npm)"
        )
    return path


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        yield


def install(directory: Path | None = None) -> tuple[Path, Path]:
    """Install the package once; return its entry point and the loopback preload script.

    npm writes into a fresh directory that is renamed into place when complete, so an install cut short (a
    killed test run, a network error) never passes for a finished one; the next caller cleans it up.
    """
    root = directory or cache_dir()
    target = root / f"server-everything-{VERSION}"
    entry = target / "node_modules" / PACKAGE / "dist" / "index.js"
    preload = root / "listen-on-loopback.cjs"
    with _locked(root):
        if not preload.exists() or preload.read_text() != LOOPBACK_PRELOAD:
            fresh = preload.with_suffix(f".{os.getpid()}")
            fresh.write_text(LOOPBACK_PRELOAD)
            fresh.replace(preload)  # a node starting now reads the old file or the new one, never half of one
        if entry.exists():
            return entry, preload
        for stale in root.glob(f"{target.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=root))
        partial.chmod(0o755)  # mkdtemp makes it private; the cache may serve other users of the machine
        command = [_command("npm"), "install", "--prefix", str(partial), f"{PACKAGE}@{VERSION}"]
        command += ["--no-audit", "--no-fund"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise RuntimeError(f"`{' '.join(command)}` took more than {INSTALL_TIMEOUT:g} s") from exc
        if done.returncode != 0 or not (partial / entry.relative_to(target)).exists():
            shutil.rmtree(partial, ignore_errors=True)
            raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        partial.rename(target)
    return entry, preload


class EverythingServer(ChildServer):
    """`node dist/index.js TRANSPORT` of server-everything on `port` (a free one by default), loopback only;
    `url` is its endpoint: /mcp for streamable HTTP, /sse for the legacy SSE transport. Stopped with SIGTERM: it
    handles SIGINT only on streamable HTTP, and SIGTERM's default (exit at once) applies to both."""

    def __init__(self, transport: Transport = "streamableHttp", port: int | None = None) -> None:
        super().__init__("127.0.0.1", port)
        self.transport = transport
        self.url = f"http://{self.host}:{self.port}{ENDPOINTS[transport]}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 20.0) -> Self:
        entry, preload = install()
        command = [_command("node"), "--require", str(preload), str(entry), self.transport]
        # Its `get-env` tool answers with the server's whole environment: give it only what node needs.
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
        env["PORT"] = str(self.port)
        self.launch(command, what=f"server-everything ({self.transport})", timeout=timeout, env=env)
        return self

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
