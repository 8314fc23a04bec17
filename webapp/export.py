"""A job's events as a file: JSON Lines (the API's event shape) or text (as a person reads a log file).

Streamed from the store a page at a time, so a job of a million lines is exported in flat memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Literal

from webapp.events import Event, Job, iso_time, json_safe
from webapp.rendering import number
from webapp.store import EventFilter, Store

ExportFormat = Literal["jsonl", "text"]
PAGE = 1000  # events read from the store at a time
MEDIA_TYPES: dict[ExportFormat, str] = {
    "jsonl": "application/jsonl; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
SUFFIXES: dict[ExportFormat, str] = {"jsonl": "jsonl", "text": "log"}


def file_name(job: Job, export_format: ExportFormat) -> str:
    """`<tool>-<job id>.<suffix>`, the tool's name (the server's words) reduced to characters safe in a file name."""
    tool = re.sub(r"[^A-Za-z0-9._-]+", "_", job.tool).strip("._") or "job"
    return f"{tool[:60]}-{job.id}.{SUFFIXES[export_format]}"


def as_json_line(event: Event) -> str:
    return json.dumps(json_safe(event.to_json()), ensure_ascii=False) + "\n"


def as_text_line(event: Event) -> str:
    """Time, level (or kind), logger (or method), data: one line per event; lines within data are indented, and
    control characters escaped (see `printable`)."""
    if event.kind == "log":
        what, source, body = (event.level or "").upper(), event.logger or "-", data_text(event)
    elif event.kind == "progress":
        done = number(event.progress) + ("" if event.total is None else f"/{number(event.total)}")
        body = done + (f" {event.message}" if event.message else "") + (f" ({event.note})" if event.note else "")
        what, source = "PROGRESS", "-"
    else:
        what, source = event.kind.upper(), event.rpc_method or "-"
        body = data_text(event) + (f" ({event.note})" if event.note else "")
    if event.data_bytes:
        body += f" [cut: {event.data_bytes} bytes were sent]"
    return printable(f"{iso_time(event.received_at)} {what:<9} {source} {body}").replace("\n", "\n    ") + "\n"


# C0 controls but tab and line feed, DEL, and C1 controls: a terminal acts on them (CR rewrites the line, ESC starts
# a colour or a cursor move, BEL rings), so server text could forge lines in a log someone `cat`s.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character a terminal would act on written as a visible escape, `\\x1b`."""
    return _CONTROLS.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def data_text(event: Event) -> str:
    if isinstance(event.data, str):
        return event.data
    return json.dumps(json_safe(event.data), ensure_ascii=False)


FORMATTERS: dict[ExportFormat, Callable[[Event], str]] = {"jsonl": as_json_line, "text": as_text_line}


async def export_lines(
    store: Store, job_id: str, export_format: ExportFormat, only: EventFilter | None = None
) -> AsyncIterator[bytes]:
    """Every event of the job (that `only` lets through), in order, formatted; read from the store PAGE events
    at a time."""
    line_of = FORMATTERS[export_format]
    after = 0
    while True:
        events = await store.events_after(job_id, after, PAGE, only)
        if not events:
            return
        yield "".join(line_of(event) for event in events).encode()
        after = events[-1].seq
