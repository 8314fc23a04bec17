"""What every process role needs: the MCP server to talk to, the hub and the store."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import anyio

from webapp.bundled import ChildServer
from webapp.hub import Hub
from webapp.mcp_link import Target
from webapp.settings import Settings
from webapp.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    target: Target
    hub: Hub
    store: Store


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The MCP server (the bundled one, started here, unless --mcp-url names one), the hub and the store,
    for as long as the block runs."""
    async with contextlib.AsyncExitStack() as stack:
        url = settings.mcp_url
        if url is None:
            child = ChildServer()
            await anyio.to_thread.run_sync(child.start)
            # Stopped here, not after uvicorn.run(): uvicorn re-raises SIGTERM, so code after it never runs.
            stack.callback(child.stop)
            url = child.url
            log.info("bundled MCP server at %s", url)
        hub = Hub()
        store = await stack.enter_async_context(open_store(settings.db, hub))
        log.info("keeping jobs in %s", redact(settings.db))
        # What the process built to start (the SDK, the models, the templates) lives as long as it: out of the
        # collector's sight, a full collection no longer walks it all (measured: a 55 ms pause mid-job before).
        gc.freeze()
        yield Runtime(Target(url, settings.protocol), hub, store)


def redact(url: str) -> str:
    """A database URL fit for a log: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
