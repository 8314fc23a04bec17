"""The data model: jobs, their states, and the events the MCP server sends while a job runs.

Nothing here does I/O; every other module speaks in these types.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

# The eight syslog severities of MCP logging, least to most severe (RFC 5424 order).
LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LEVELS: tuple[str, ...] = get_args(LogLevel)

# log and progress: the call's own notifications/message and notifications/progress. notification: any other
# notification the server sends (resource updates, list changes, unknown methods, malformed logs). request: a
# request from the server (sampling, elicitation, roots), which the dashboard refuses. stderr: a line a stdio
# server wrote to its stderr (no JSON-RPC method).
EventKind = Literal["log", "progress", "notification", "request", "stderr"]
KINDS: tuple[str, ...] = get_args(EventKind)
# The JSON-RPC method of the kinds that have one method; the others keep theirs in `Event.method`.
KIND_METHODS: dict[str, str] = {"log": "notifications/message", "progress": "notifications/progress"}
REFUSED = "refused"  # the note of a server request: answered with an error, as no person is there to answer it


# The largest seq a cursor may name: SQLite's largest integer.
MAX_SEQ = 2**63 - 1


class JobState(enum.StrEnum):
    """Job states. The spelling is a public contract of the JSON API and the page."""

    QUEUED = "queued"  # waiting for a free worker
    STARTING = "starting"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT, JobState.INTERRUPTED}
)


class ProgressNote(enum.StrEnum):
    """Why a progress notification was recorded but not applied to the bar."""

    NOT_INCREASING = "not_increasing"
    MOVES_BAR_BACK = "moves_bar_back"  # larger progress, but a larger (or lost) total: a smaller percentage
    EXCEEDS_TOTAL = "exceeds_total"
    NOT_FINITE = "not_finite"  # NaN or infinity, kept as null
    AFTER_END = "after_end"
    OTHER_TOKEN = "other_token"  # progress of another request than the job's call


@dataclass(frozen=True, slots=True)
class Event:
    """One notification from the server, numbered in arrival order within its job (seq 1, 2, 3...)."""

    job_id: str
    seq: int
    kind: EventKind
    received_at: float
    level: str | None = None
    logger: str | None = None
    data: Any = None
    progress: float | None = None
    total: float | None = None
    message: str | None = None
    note: str | None = None
    data_bytes: int | None = None  # the data's size as sent, when it was cut to the limit; None: kept whole
    method: str | None = None  # the JSON-RPC method, for kinds that do not imply it (see KIND_METHODS)
    # The data's JSON text (json_text), when the recorder has made it already: the store keeps it as it is.
    data_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def rpc_method(self) -> str | None:
        """The JSON-RPC method the event came from."""
        return self.method or KIND_METHODS.get(self.kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "method": self.rpc_method,
            "level": self.level,
            "logger": self.logger,
            "data": self.data,
            "progress": self.progress,
            "total": self.total,
            "message": self.message,
            "note": self.note,
            "data_bytes": self.data_bytes,
            "received_at": iso_time(self.received_at),
        }


@dataclass(slots=True)
class Job:
    """A tool call on the MCP server and everything known about it."""

    id: str
    tool: str
    arguments: dict[str, Any]
    idle_timeout: float | None
    max_duration: float | None
    state: JobState = JobState.QUEUED
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    progress: float | None = None
    total: float | None = None
    message: str | None = None
    result: Any = None
    error: str | None = None
    last_seq: int = 0
    worker: str | None = None  # the worker that runs (or ran) the job
    # Asked for by any web process; the job's worker acts on it. Loaded jobs then read `cancelling`.
    cancel_requested: bool = False
    dropped_events: int = 0  # events beyond the limit of events kept: counted, not stored
    warnings: int = 0  # log lines kept at warning or worse (counted as they come: the jobs list shows it)
    log_level: LogLevel = "debug"  # the least severe level asked of the server (a server may ignore it)
    linger: float = 0.0  # seconds the connection stays open after the call, for what the server sends late
    lingering_until: float | None = None  # set from the call's end to the end of its linger
    server: str | None = None  # the configured server's name (None: a job from before servers had names)
    # Events kept, by kind, and log lines kept, by level: the filters' counts, without reading the events.
    kind_counts: dict[str, int] = field(default_factory=dict)
    level_counts: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Ended, and done listening: nothing more will be recorded for it."""
        return self.state.is_terminal and self.lingering_until is None

    @property
    def percent(self) -> float | None:
        """Progress as 0..100, or None while the total is unknown (an indeterminate bar)."""
        return percent_of(self.progress, self.total)

    def copy(self) -> Job:
        return dataclasses.replace(self, kind_counts=dict(self.kind_counts), level_counts=dict(self.level_counts))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"/jobs/{self.id}",
            "server": self.server,
            "tool": self.tool,
            "arguments": self.arguments,
            "state": str(self.state),
            "progress": self.progress,
            "total": self.total,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "created_at": iso_time(self.created_at),
            "finished_at": iso_time(self.finished_at) if self.finished_at is not None else None,
            "idle_timeout": self.idle_timeout,
            "max_duration": self.max_duration,
            "events": self.last_seq,
            "dropped_events": self.dropped_events,
            "warnings": self.warnings,
            "worker": self.worker,
            "log_level": self.log_level,
            "linger": self.linger,
            "lingering_until": iso_time(self.lingering_until) if self.lingering_until is not None else None,
        }


def percent_of(progress: float | None, total: float | None) -> float | None:
    """`progress` of `total` as 0..100 (clamped), or None when there is no usable total."""
    if total is None or total <= 0 or progress is None:
        return None
    return max(0.0, min(100.0, 100.0 * progress / total))


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities spelled as strings: JSON has no such numbers, but a server may send them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


def json_text(value: Any) -> str:
    """JSON text of server data; NaN and infinities (which JSON lacks) are kept as strings."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(json_safe(value), ensure_ascii=False)


def clean_text(text: str) -> str:
    """Server text as every part of the dashboard can keep and send it: lone surrogates (invalid Unicode,
    which no UTF-8 encoder takes) and NUL (which PostgreSQL refuses) become U+FFFD."""
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text.replace("\x00", "\ufffd")


MAX_DEPTH = 100  # levels of nesting kept in server data; deeper parts are replaced by DEEPER_CUT
DEEPER_CUT = f"(cut: nested deeper than {MAX_DEPTH} levels)"


def clean_data(value: Any, depth: int = 0) -> Any:
    """`value` (any JSON) as every part of the dashboard can keep it: every string valid Unicode (NUL may stay:
    JSON text escapes it), and at most MAX_DEPTH levels deep, so that nothing later runs out of stack on it."""
    if isinstance(value, str):
        return value if value.isascii() else _valid_unicode(value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return DEEPER_CUT
    if isinstance(value, dict):
        return {clean_data(key, depth): clean_data(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_data(item, depth + 1) for item in value]
    return value


def _valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def iso_time(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds: sortable, and what browsers parse."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
