"""A server's questions for the person at the page (elicitation): asked, kept with the job, answered through the
page or the API, declined when no answer comes in time, withdrawn when the server takes them back.

Who writes what: the job's worker writes its questions (a field of the job, like its state), and the events that
say what was asked and answered; a web process writes an answer (the store's `answers`, first one wins) and wakes
the worker (`answer:<id>`), which sends it. So a question asked by a worker on one host is answered through a web
process on another, and a question still waiting when the dashboard stops is there again when it is back.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import anyio
import jsonschema_rs

from webapp.events import AnswerAction, Job, JobState, Question, clean_text
from webapp.hub import Hub, answer_topic
from webapp.mcp_link import Ask, Reply
from webapp.recorder import Recorder
from webapp.store import Answer, Store, StoreUnavailable

log = logging.getLogger(__name__)

MESSAGE_CHARS = 4000  # of a question's message kept for the page; the whole request is its event
SCHEMA_BYTES = 64 * 1024  # a requested schema bigger than this (as JSON) gets no form: decline or cancel it
MAX_QUESTIONS = 50  # questions one job may ask; more are declined at once
STORE_RETRY = 1.0
ELICITATION = "elicitation/create"
ACTIONS = ("accept", "decline", "cancel")


class Questions:
    """A job's questions on its worker's side: the `Asker` its connection hands each question to.

    `save` writes the job's fields (and whatever its recorder holds); `timeout`: seconds a question waits for an
    answer before it is declined (--input-timeout)."""

    def __init__(
        self,
        job: Job,
        recorder: Recorder,
        store: Store,
        hub: Hub,
        *,
        timeout: float,
        save: Callable[[], Awaitable[object]],
    ) -> None:
        self.job = job
        self._recorder = recorder
        self._store = store
        self._hub = hub
        self._timeout = timeout
        self._save = save
        self._asking: dict[str, anyio.Event] = {}  # questions being asked now, and what withdraws each
        self.keep_waiting = False  # the job is handed over to another worker: its questions go on waiting

    @property
    def asking(self) -> set[str]:
        return set(self._asking)

    async def ask(self, ask: Ask) -> Reply:
        """The answer to `ask`: a person's, or a decline when none came within the timeout. A question asked again
        (after a restart: the same server key, or the same words while one like it waits) is the one kept."""
        question = self._question_for(ask)
        if question is None:
            self._recorder.answer(ELICITATION, {"action": "decline"}, note=f"more than {MAX_QUESTIONS} questions")
            return Reply("decline")
        withdrawn = self._asking[question.key] = anyio.Event()
        try:
            self._set_state()
            await self._save()
            answer = await self._wait(question, withdrawn)
            if answer is None:
                self._settle(question, "withdrawn", None, "withdrawn: the server no longer waits for it")
                return Reply("cancel")
            note = (
                None if answer.by == "person" else f"declined: no answer within {self._timeout:g} s (--input-timeout)"
            )
            self._settle(question, "answered" if answer.by == "person" else "declined", answer, note)
            action = cast(AnswerAction, answer.action)
            return Reply(action, answer.content if action == "accept" else None)
        except anyio.get_cancelled_exc_class():
            if not self.keep_waiting:
                self._settle(question, "withdrawn", None, "withdrawn: the server took the question back")
            raise
        finally:
            del self._asking[question.key]
            self._set_state()
            with anyio.CancelScope(shield=True):
                await self._save()

    def withdraw(self, key: str) -> None:
        """The server moved on without this answer (its task no longer waits for input): stop waiting for it."""
        event = self._asking.get(key)
        if event is not None:
            event.set()

    def withdraw_the_rest(self, note: str) -> None:
        """Questions still waiting that no one is asking any more (the job ended, a task moved on after a restart)."""
        if self.keep_waiting:
            return
        for question in self.job.waiting_questions:
            if question.key not in self._asking:
                self._settle(question, "withdrawn", None, note)
        self._set_state()

    def _question_for(self, ask: Ask) -> Question | None:
        waiting = self.job.waiting_questions
        same = next((q for q in waiting if ask.server_key is not None and q.server_key == ask.server_key), None)
        same = same or next(
            (q for q in waiting if q.key not in self._asking and q.message == _preview(ask.message)), None
        )
        if same is not None:
            return same
        if len(self.job.questions) >= MAX_QUESTIONS:
            return None
        question = Question(
            key=f"q{len(self.job.questions) + 1}",
            message=_preview(ask.message),
            schema=_form_schema(ask.schema) if ask.mode == "form" else None,
            requested_at=time.time(),
            seq=self._recorder.question_seq(ask.params.get("message", ask.message)),
            mode=ask.mode,
            url=ask.url,
            server_key=ask.server_key,
        )
        self.job.questions.append(question)
        return question

    async def _wait(self, question: Question, withdrawn: anyio.Event) -> Answer | None:
        """The question's answer: a person's, or the decline stored when the timeout passed (first one wins); None
        when the server withdrew it."""
        deadline = question.requested_at + self._timeout
        job_id = self.job.id
        while True:
            news = self._hub.watch(answer_topic(job_id))
            try:
                answer = await self._store.answer_of(job_id, question.key)
                if answer is None and time.time() >= deadline:
                    await self._store.answer_question(
                        job_id, question.key, Answer("decline", None, time.time(), "timeout")
                    )
                    continue
            except StoreUnavailable as exc:
                log.warning("job %s: cannot read the answers right now: %s", job_id, exc)
                answer = None
                deadline = max(deadline, time.time() + STORE_RETRY)  # never declined for the store's sake
            if answer is not None:
                return answer
            if withdrawn.is_set():
                return None
            with anyio.move_on_after(max(deadline - time.time(), 0) or STORE_RETRY):
                async with anyio.create_task_group() as either:

                    async def wake_on(event: anyio.Event) -> None:
                        await event.wait()
                        either.cancel_scope.cancel()

                    either.start_soon(wake_on, news)
                    either.start_soon(wake_on, withdrawn)

    def _settle(self, question: Question, state: str, answer: Answer | None, note: str | None) -> None:
        if not question.waiting:
            return
        question.state = state  # type: ignore[assignment]
        question.action = answer.action if answer is not None else None
        question.settled_at = time.time()
        question.note = note
        data: dict[str, Any] = {"key": question.key, "action": question.action}
        if answer is not None and answer.content is not None and answer.action == "accept":
            data["content"] = answer.content
        self._recorder.answer(ELICITATION, data, note=note)

    def _set_state(self) -> None:
        """input_required while a question waits for a person; running again when none does."""
        if self.job.state in (JobState.RUNNING, JobState.INPUT_REQUIRED):
            self.job.state = JobState.INPUT_REQUIRED if self.job.waiting_questions else JobState.RUNNING


def _preview(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + "…"


def _form_schema(schema: Any) -> dict[str, Any] | None:
    """The requested schema, if the page can draw a form from it: an object, and not too big."""
    if not isinstance(schema, dict):
        return None
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError, RecursionError):
        return None
    return schema if size <= SCHEMA_BYTES else None


# ---- A person's answer, through a web process ----------------------------------------------------------------


class InvalidAnswer(Exception):
    """An answer that cannot be taken; `status_code` says why (404 no such question, 409 settled, 422 bad)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Waiting:
    """A question waiting for a person, as GET /api/jobs/{id}/input lists it."""

    question: Question

    def to_json(self) -> dict[str, Any]:
        q = self.question
        return {
            "key": q.key,
            "message": q.message,
            "schema": q.schema,
            "requested_at": q.to_json()["requested_at"],
            "mode": q.mode,
            "url": q.url,
            "seq": q.seq,
        }


async def waiting_questions(store: Store, job: Job) -> list[Question]:
    """The job's questions that wait for a person: asked, and not answered yet (an answer its worker has not taken
    up yet counts as one)."""
    waiting = job.waiting_questions
    if not waiting:
        return []
    answered = await store.answered_keys(job.id)
    return [question for question in waiting if question.key not in answered]


async def answer(store: Store, job: Job, key: str, action: str, content: Any) -> Answer:
    """Keep a person's answer to the job's question `key`, checked first (nothing is kept when it is wrong)."""
    question = job.question(key)
    if question is None:
        raise InvalidAnswer(f"Job {job.id} has no question {key!r}.", 404)
    if not question.waiting or job.state.is_terminal:
        raise InvalidAnswer(f"Question {key} of job {job.id} is no longer waiting ({question.state}).", 409)
    if action not in ACTIONS:
        raise InvalidAnswer(f"action must be one of {', '.join(ACTIONS)}, not {action!r}.", 422)
    if action != "accept":
        content = None
    elif question.mode == "url":
        content = None  # accepting a URL question says the person has done what the page asked
    elif question.schema is None:
        raise InvalidAnswer(
            "This question's form is too big or too odd to be answered here: decline or cancel it "
            f"(its request is event {question.seq} of the job).",
            422,
        )
    else:
        content = checked_content(question.schema, content)
    kept = Answer(action, content, time.time())
    if not await store.answer_question(job.id, key, kept):
        raise InvalidAnswer(f"Question {key} of job {job.id} has been answered already.", 409)
    return kept


def checked_content(schema: dict[str, Any], content: Any) -> dict[str, Any]:
    """`content` if it is an object that fits `schema` (the server's: checked with a linear-time regex engine and no
    `$ref` fetched); InvalidAnswer (422) saying what does not fit, else."""
    if not isinstance(content, dict):
        raise InvalidAnswer("content must be an object of the question's fields.", 422)
    try:
        validator = jsonschema_rs.validator_for(
            schema, retriever=_refuse_to_fetch, pattern_options=jsonschema_rs.RegexOptions()
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        log.warning("cannot check an answer against a question's schema: %s", exc)
        return content
    error = next(validator.iter_errors(content), None)
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path) or "content"
        raise InvalidAnswer(f"The answer does not fit the question's form: {where}: {clean_text(error.message)}.", 422)
    return content


def _refuse_to_fetch(uri: str) -> Any:
    raise ValueError(f"{uri} is not fetched: a question's schema may only refer to itself")
