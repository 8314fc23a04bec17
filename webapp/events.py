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
# request from the server: a question for the person at the page (elicitation), or one the dashboard refuses
# (sampling, roots). stderr: a line a stdio server wrote to its stderr (no JSON-RPC method). task: the job's MCP
# task changed status or status message (as tasks/get or notifications/tasks/status said). answer: what the
# dashboard answered a question with (a person's answer, or a decline when none came in time).
EventKind = Literal["log", "progress", "notification", "request", "stderr", "task", "answer"]
KINDS: tuple[str, ...] = get_args(EventKind)
# The JSON-RPC method of the kinds that have one method; the others keep theirs in `Event.method`.
KIND_METHODS: dict[str, str] = {"log": "notifications/message", "progress": "notifications/progress"}
REFUSED = "refused"  # the note of a server request: answered with an error, as no person is there to answer it
QUESTION = "question"  # the note of a server request that became a question for the person at the page


# The largest seq a cursor may name: SQLite's largest integer.
MAX_SEQ = 2**63 - 1


class JobState(enum.StrEnum):
    """Job states. The spelling is a public contract of the JSON API and the page."""

    QUEUED = "queued"  # waiting for a free worker
    STARTING = "starting"
    RUNNING = "running"
    INPUT_REQUIRED = "input_required"  # the server asked a question: it waits for the person at the page
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


TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
TASK_ENDS = ("completed", "failed", "cancelled")


@dataclass(slots=True)
class TaskInfo:
    """The MCP task a job's call runs as: what is shown of it, and what it takes to find it again after a restart
    (the revision it was made on, and on 2025-11-25 the session it belongs to)."""

    id: str
    revision: str  # the protocol version the task was made on: its wire shapes follow
    status: str = "working"
    status_message: str | None = None
    created_at: float | None = None  # as the server says (epoch seconds)
    ttl_ms: int | None = None  # the server's: after created_at + ttl it may forget the task
    poll_interval_ms: int | None = None  # the server's wish, clamped when used
    session_id: str | None = None  # 2025-11-25 over streamable HTTP: the Mcp-Session-Id the task belongs to

    @property
    def expires_at(self) -> float | None:
        if self.created_at is None or self.ttl_ms is None:
            return None
        return self.created_at + self.ttl_ms / 1000

    def to_json(self) -> dict[str, Any]:
        """The public shape (GET /api/jobs/{id}): no session id, which is the server's handle of a connection."""
        return {
            "id": self.id,
            "status": self.status,
            "status_message": self.status_message,
            "ttl_ms": self.ttl_ms,
            "poll_interval_ms": self.poll_interval_ms,
            "created_at": iso_time(self.created_at) if self.created_at is not None else None,
            "revision": self.revision,
        }

    def stored(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


QuestionState = Literal["waiting", "answered", "declined", "withdrawn"]
AnswerAction = Literal["accept", "decline", "cancel"]


@dataclass(slots=True)
class Question:
    """A server's question for the person at the page (an elicitation), kept with its job until the job ends.

    `key` is the dashboard's (q1, q2...: what the API and the page name it by); `server_key` the server's own, where
    it has one (a 2026-07-28 inputRequests key, which must never be answered twice). `message` is a bounded preview
    and `schema` is None when it was too big or not a form this dashboard can draw: the raw request is the event
    `seq`. `mode` url asks the person to open `url` (never opened by the dashboard itself)."""

    key: str
    message: str
    schema: dict[str, Any] | None
    requested_at: float
    seq: int | None = None  # the request's event in the job's log: its whole params
    mode: Literal["form", "url"] = "form"
    url: str | None = None
    server_key: str | None = None
    state: QuestionState = "waiting"
    action: str | None = None  # once settled: accept, decline or cancel
    settled_at: float | None = None
    note: str | None = None  # how it was settled when no person did: declined after the timeout, withdrawn

    @property
    def waiting(self) -> bool:
        return self.state == "waiting"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "message": self.message,
            "schema": self.schema,
            "requested_at": iso_time(self.requested_at),
            "mode": self.mode,
            "url": self.url,
            "state": self.state,
            "action": self.action,
            "seq": self.seq,
        }

    def stored(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    as_task: bool | None = None  # run as an MCP task where the tool lets us choose (None: the default, yes)
    task: TaskInfo | None = None  # the task the call runs as, once the server made one
    questions: list[Question] = field(default_factory=list)  # the server's questions for a person, in order

    @property
    def settled(self) -> bool:
        """Ended, and done listening: nothing more will be recorded for it."""
        return self.state.is_terminal and self.lingering_until is None

    @property
    def percent(self) -> float | None:
        """Progress as 0..100, or None while the total is unknown (an indeterminate bar)."""
        return percent_of(self.progress, self.total)

    @property
    def waiting_questions(self) -> list[Question]:
        return [question for question in self.questions if question.waiting]

    def question(self, key: str) -> Question | None:
        return next((question for question in self.questions if question.key == key), None)

    def copy(self) -> Job:
        return dataclasses.replace(
            self,
            kind_counts=dict(self.kind_counts),
            level_counts=dict(self.level_counts),
            task=None if self.task is None else dataclasses.replace(self.task),
            questions=[dataclasses.replace(question) for question in self.questions],
        )

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
            "as_task": self.as_task,
            "task": self.task.to_json() if self.task is not None else None,
            "waiting_questions": len(self.waiting_questions),
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
