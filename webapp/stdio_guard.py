"""`python stdio_guard.py PARENT_PID COMMAND [ARG...]`: runs a stdio MCP server's command, and ends it with the
dashboard that started it.

The dashboard starts this guard in a process group of its own, with the server's stdin, stdout and stderr.
Linux tells the guard when the dashboard dies, even by SIGKILL (PR_SET_PDEATHSIG), and the guard then ends the
server and everything it started: no orphan outlives the dashboard. The guard exits as the server did (the same
status, or the same signal), so the dashboard can say how the server ended.

Run as a script by path, not as a module: it needs the standard library only, whatever the server's cwd.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 2  # between asking the server to stop (SIGTERM) and killing its whole process group


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the dashboard died before the line above could take effect
        return 1
    try:
        server = subprocess.Popen(command)  # it inherits our stdin, stdout and stderr: the dashboard's pipes
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 127

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        server.terminate()
        signal.signal(signal.SIGALRM, kill_group)
        signal.alarm(GRACE_SECONDS)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = server.wait()
    if stopping:
        kill_group()  # what the server started goes too; this ends the guard as well
    if status < 0:  # ended by a signal: end the same way, so the dashboard sees which
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status  # (a signal whose default is not to end a process)
    return status


def kill_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
