"""A throwaway PostgreSQL server for tests and benchmarks: its own cluster, port and directory, gone on stop.

    with TempPostgres() as pg:
        url = pg.create_database("jobs")  # postgresql://postgres@127.0.0.1:PORT/jobs

No database driver is needed: the server is driven with the `initdb`, `postgres`, `pg_isready` and `psql`
binaries of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout). PostgreSQL refuses to run as
root, so as root the cluster belongs to the `postgres` system user.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from webapp.bundled import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # a database name that needs no quoting


class PostgresError(RuntimeError):
    """The throwaway server could not be set up, started or used."""


def postgres_bin(name: str) -> Path:
    """The path of PostgreSQL binary `name`, from the highest version installed under /usr/lib/postgresql."""
    candidates = [d / "bin" / name for d in PG_ROOT.glob("*") if d.name.isdigit()] if PG_ROOT.is_dir() else []
    found = sorted((p for p in candidates if os.access(p, os.X_OK)), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise PostgresError(
            f"no PostgreSQL binary {name!r} under {PG_ROOT}/*/bin: install the server with "
            "`apt-get install postgresql` (the cluster it creates may stay stopped)"
        )
    return found[-1]


def poll(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Check `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: its wait is the pause between checks
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(interval)
    return True


class TempPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on a free loopback port.

    `fast=True` trades durability for speed (no fsync, no synchronous commit, no full-page writes): fine for
    tests, not for figures meant to describe a real deployment.
    """

    def __init__(self, *, fast: bool = False, start_timeout: float = 30.0) -> None:
        self.fast = fast
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_root = os.geteuid() == 0
        self._base: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        if self._base is None:
            raise PostgresError("the server has not been started")
        return self._base / "data"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def start(self) -> TempPostgres:
        # mkdtemp makes 0o700: opened to 0o755 so the postgres user can reach its data directory inside.
        self._base = Path(tempfile.mkdtemp(prefix="mcp-live-pg-", dir="/tmp"))
        self._base.chmod(0o755)
        self.data_dir.mkdir(mode=0o700)
        if self._as_root:
            user = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        try:
            self._initdb()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, *args: str | Path) -> list[str]:
        prefix = ["runuser", "-u", SYSTEM_USER, "--"] if self._as_root else []
        return [*prefix, *map(str, args)]

    def _initdb(self) -> None:
        command = self._command(postgres_bin("initdb"), "-D", self.data_dir, "-A", "trust", "-U", "postgres")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresError(f"initdb failed with status {done.returncode}:\n{done.stdout}{done.stderr}")

    def _launch(self) -> None:
        settings = ["listen_addresses=127.0.0.1"]
        if self.fast:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        options = [item for setting in settings for item in ("-c", setting)]
        command = self._command(
            postgres_bin("postgres"), "-D", self.data_dir, "-p", str(self.port), "-k", self.data_dir, *options
        )
        with self.log_file.open("wb") as log:
            # Its own session, so a last-resort kill reaches runuser and the postmaster together.
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not poll(self._ready, timeout=self.start_timeout, interval=0.1):
            raise PostgresError(f"PostgreSQL did not accept connections within {self.start_timeout:g} s:\n{self.log()}")

    def _ready(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise PostgresError(f"PostgreSQL exited with status {self._process.returncode}:\n{self.log()}")
        # Through the socket in our own directory: on 127.0.0.1 a stranger that took the port could answer. The
        # postmaster opens its TCP port before this socket, and exits if it cannot.
        check = [str(postgres_bin("pg_isready")), "-q", "-h", str(self.data_dir), "-p", str(self.port), "-t", "1"]
        return subprocess.run(check, capture_output=True, timeout=10, check=False).returncode == 0

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except (OSError, PostgresError):
            return "(no server log)"

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT to the postmaster), a SIGKILL if it takes longer than `timeout`; then clean up."""
        self.halt(timeout)
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def halt(self, timeout: float = 15.0) -> None:
        """Stop the server but keep its cluster, as a database restart does; `resume()` starts it again."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        pid = self._postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGINT)
        else:  # not far enough to have written its pid file: the child itself is all there is to stop
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def resume(self) -> None:
        """Start the halted server again: the same cluster, on the same port."""
        self._launch()

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def psql(self, sql: str, *, database: str = "postgres", timeout: float = 60.0) -> str:
        """Run `sql` with psql and return its unaligned, tuples-only output (fields separated by `|`)."""
        command = [str(postgres_bin("psql")), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        command += ["-d", self.database_url(database), "-c", sql]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise PostgresError(f"psql failed ({done.returncode}) on {sql!r}: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """Create an empty database `name` and return its URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"database names here are lower-case identifiers, not {name!r}")
        self.psql(f"CREATE DATABASE {name}")
        return self.database_url(name)


def main() -> None:
    """`python -m tests.postgres`: start a server, ask it one question, stop it."""
    began = time.monotonic()
    with TempPostgres() as pg:
        print(f"{pg.url} accepting connections after {time.monotonic() - began:.1f} s")
        url = pg.create_database("smoke")
        answer = subprocess.run(
            [str(postgres_bin("psql")), "-X", "-At", url, "-c", "select 1"], capture_output=True, text=True, check=True
        )
        print(f"psql {url} -c 'select 1' -> {answer.stdout.strip()}")
    print("stopped and removed")


if __name__ == "__main__":
    main()
