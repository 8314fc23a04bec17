"""Serving the app under uvicorn, with what uvicorn leaves out against slow and greedy clients.

- A header timeout: a connection that has not sent a request's headers within `--header-timeout` seconds is
  closed (uvicorn has none: a client that sends half a request holds its connection for ever, slowloris).
- The soft limit of open files raised to the hard one at start (a common soft limit is 1,024: each connection
  is a file, and past the limit no connection is accepted at all, the probes' included).
- A connection cap (`--max-connections`, kept below that limit): more are answered 503 by uvicorn.
- Proxy headers believed only from `--trusted-proxy` addresses (uvicorn believes any loopback peer by default,
  so a local program could pose as any client address).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from webapp.settings import Settings

log = logging.getLogger(__name__)
FILES_KEPT_FOR_THE_REST = 128  # open files left for the store, child processes and logs beside the connections


def header_timeout_protocol(timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take longer than `timeout` seconds."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _waited_in: object = None  # the request cycle that was the connection's last when the wait began

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._wait_for_headers()

        def data_received(self, data: bytes) -> None:
            # A kept-alive connection's next request starts its own wait for headers.
            if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._wait_for_headers()
            super().data_received(data)
            if self._header_timer is not None and self.cycle is not self._waited_in:
                self._header_timer.cancel()  # a request's headers are in: the app has it
                self._header_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _wait_for_headers(self) -> None:
            self._waited_in = self.cycle
            self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is self._waited_in and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard one; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # pragma: no cover - a platform that will not
            log.warning("could not raise the limit of open files from %d to %d: %s", soft, hard, exc)
    return soft


def connection_cap(settings: Settings, open_files: int) -> int:
    """`--max-connections`, or fewer when the process may not open that many files."""
    room = max(open_files - FILES_KEPT_FOR_THE_REST, 64)
    if settings.max_connections > room:
        log.warning(
            "at most %d connections at once (--max-connections %d is more than the %d open files this process may "
            "have; raise its limit, e.g. LimitNOFILE= in systemd or `ulimit -n`)",
            room,
            settings.max_connections,
            open_files,
        )
        return room
    return settings.max_connections


def serve(app: Any, settings: Settings) -> None:
    """Run `app` under uvicorn on the settings' host and port until SIGINT or SIGTERM."""
    open_files = raise_open_files_limit()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # the root logger's handler (webapp.operations.configure_logging): one format for all
        timeout_graceful_shutdown=5,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        http=header_timeout_protocol(settings.header_timeout),
        limit_concurrency=connection_cap(settings, open_files),
        proxy_headers=bool(settings.trusted_proxy),
        forwarded_allow_ips=settings.trusted_proxy or None,
    )
