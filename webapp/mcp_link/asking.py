"""A server's questions for the person at the page (elicitation), as the SDK hands them to the client's callback:
a 2025 `elicitation/create` during a call or on a task's tasks/result stream, a 2026 call answered
`input_required`, a 2026 task's input requests. All come through one callback; the job's `Asker` answers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mcp.client.session import ClientRequestContext, ElicitationFnT
from mcp.types import ElicitRequestParams, ElicitRequestURLParams, ElicitResult, ErrorData

from webapp.events import clean_data, clean_text


@dataclass(frozen=True, slots=True)
class Ask:
    """A question as the server asked it. `server_key`: the server's own name for it (2026-07-28: a key of its
    input requests), None for a 2025 request."""

    message: str
    mode: Literal["form", "url"]
    schema: Any  # the requested schema, as sent (form mode)
    url: str | None
    server_key: str | None
    params: dict[str, Any]  # everything the server sent


@dataclass(frozen=True, slots=True)
class Reply:
    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None


class Asker(Protocol):
    async def ask(self, ask: Ask) -> Reply:
        """The person's answer (or a decline, when none comes in time). Cancelled when the server withdraws it."""


def elicitation_callback(asker: Asker, modern: Callable[[], bool]) -> ElicitationFnT:
    """The client's elicitation callback, declaring the capability (form and url mode) and asking `asker`.
    `modern`: whether the connection speaks 2026-07-28 (then the request's id is the server's key for it)."""

    async def on_elicit(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        raw = clean_data(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        server_key = str(context.request_id) if modern() else None
        if isinstance(params, ElicitRequestURLParams):
            ask = Ask(clean_text(params.message), "url", None, clean_text(params.url), server_key, raw)
        else:
            ask = Ask(clean_text(params.message), "form", raw.get("requestedSchema"), None, server_key, raw)
        reply = await asker.ask(ask)
        return ElicitResult(action=reply.action, content=reply.content)

    return on_elicit


class Declines:
    """The asker of a connection with no person behind it (the probe that lists tools): it declares what a job's
    connection declares, since servers offer tools by the client's capabilities, and declines any question."""

    async def ask(self, ask: Ask) -> Reply:
        return Reply("decline")
