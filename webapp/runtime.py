"""What every process role needs: the MCP server to talk to, the hub and the store."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import anyio

from webapp.bundled import ChildServer
from webapp.hub import Hub
from webapp.mcp_link import HttpTarget, Target
from webapp.oauth import Sealer, ServerCredentials, SignIns
from webapp.servers import BUNDLED, SINGLE, load_config
from webapp.settings import Settings
from webapp.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    targets: tuple[Target, ...]  # the servers, by the config's order: the first is the default
    hub: Hub
    store: Store
    sign_ins: SignIns  # servers' sign-ins (issue 20), sealed in the store


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The MCP servers (those of --config, the one of --mcp-url, or the bundled one, started here), the hub and
    the store, for as long as the block runs."""
    async with contextlib.AsyncExitStack() as stack:
        if settings.config is not None:
            targets = tuple(load_config(settings.config, settings.protocol))
        elif settings.mcp_url is not None:
            targets = (HttpTarget(settings.mcp_url, settings.protocol, name=SINGLE),)
        else:
            child = ChildServer()
            await anyio.to_thread.run_sync(child.start)
            # Stopped here, not after uvicorn.run(): uvicorn re-raises SIGTERM, so code after it never runs.
            stack.callback(child.stop)
            targets = (HttpTarget(child.url, settings.protocol, name=BUNDLED),)
            log.info("bundled MCP server at %s", child.url)
        for target in targets:
            log.info("MCP server %s: %s (%s)", target.name, target.where, target.transport_name)
        hub = Hub()
        store = await stack.enter_async_context(open_store(settings.db, hub, pool_size=settings.db_pool_size))
        log.info("keeping jobs in %s", redact(settings.db))
        sign_ins = SignIns(store, Sealer(settings.secret_key))
        # Every URL server gets the store's sign-in for it: one that needs none never sees a token.
        targets = tuple(
            dataclasses.replace(t, credentials=ServerCredentials(t.name, sign_ins)) if isinstance(t, HttpTarget) else t
            for t in targets
        )
        # What the process built to start (the SDK, the models, the templates) lives as long as it: out of the
        # collector's sight, a full collection no longer walks it all (measured: a 55 ms pause mid-job before).
        gc.freeze()
        yield Runtime(targets, hub, store, sign_ins)


def redact(url: str) -> str:
    """A database URL fit for a log: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
