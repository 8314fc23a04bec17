"""The one TLS context of the process, for every HTTP client it opens to a server (MCP or OAuth)."""

from __future__ import annotations

import functools
import ssl

import httpx2


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates (or SSL_CERT_FILE / SSL_CERT_DIR), loaded once.

    Loading them blocks the event loop for tens of milliseconds, and an HTTP client left to itself loads them again:
    every job's connection and every probe of a server would stall every other job's lines that long (make bench's
    latency scenario found it: its p99 was that stall). An SSL context is meant to be shared.
    """
    return httpx2.create_ssl_context()
