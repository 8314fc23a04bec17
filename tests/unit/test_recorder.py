from __future__ import annotations

import math

import pytest

from webapp.events import LEVELS, Event, Job, ProgressNote
from webapp.recorder import Limits, Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(Job(id="j1", tool="t", arguments={}, idle_timeout=None, max_duration=None))


def take(recorder: Recorder) -> tuple[list[Event], Job]:
    """What a successful write does: take the pending events and say they are stored."""
    events, job = recorder.pending()
    recorder.committed(len(events))
    return events, job


def test_events_are_numbered_from_one_without_gaps_across_kinds(recorder: Recorder) -> None:
    recorder.log("info", "a", "one")
    recorder.progress(1, 3, "p1")
    recorder.log("error", None, {"k": 1})
    events, job = take(recorder)
    assert [(e.seq, e.kind) for e in events] == [(1, "log"), (2, "progress"), (3, "log")]
    assert job.last_seq == 3
    recorder.log("debug", "b", "four")
    more, _ = take(recorder)
    assert [e.seq for e in more] == [4]


def test_log_lines_at_warning_or_worse_are_counted_as_they_come(recorder: Recorder) -> None:
    for level in LEVELS:
        recorder.log(level, None, level)
    recorder.log("fatal", None, "a level outside the eight")
    recorder.progress(1, 2, "warning")
    recorder.notification("notifications/message", {"level": "error"})  # a malformed log: no level of its own
    assert recorder.job.warnings == 5  # warning, error, critical, alert, emergency
    _, job = take(recorder)
    assert job.warnings == 5  # in the snapshot the store writes


def test_events_are_counted_by_kind_and_log_lines_by_level_as_they_come(recorder: Recorder) -> None:
    recorder.log("debug", None, "a")
    recorder.log("error", "x", "b")
    recorder.log("error", "x", "c")
    recorder.progress(1, 2, None)
    recorder.notification("notifications/tools/list_changed", {})
    recorder.stderr("oops")
    job = recorder.job
    assert job.kind_counts == {"log": 3, "progress": 1, "notification": 1, "stderr": 1}
    assert job.level_counts == {"debug": 1, "error": 2}
    _, snapshot = recorder.pending()
    recorder.log("info", None, "d")  # the snapshot a write takes does not move on with the job
    assert snapshot.level_counts == {"debug": 1, "error": 2} and job.level_counts["info"] == 1


def test_lines_beyond_the_limit_of_events_are_not_counted_as_warnings() -> None:
    recorder = Recorder(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None), Limits(events=1))
    recorder.log("error", None, "kept")
    recorder.log("error", None, "dropped")
    assert (recorder.job.warnings, recorder.job.dropped_events) == (1, 1)


def test_committed_events_leave_the_queue_and_the_news_flag_is_reset(recorder: Recorder) -> None:
    recorder.log("info", None, "x")
    assert recorder.news.is_set()
    take(recorder)
    assert not recorder.news.is_set()
    assert recorder.pending()[0] == []


def test_events_stay_pending_until_committed_so_a_failed_write_loses_none(recorder: Recorder) -> None:
    recorder.log("info", None, "one")
    recorder.log("info", None, "two")
    first_try, _ = recorder.pending()  # the write of these fails: nothing is committed
    recorder.log("info", None, "three")  # arrives while the write is retried
    retry, job = recorder.pending()
    assert [e.seq for e in first_try] == [1, 2]
    assert [e.seq for e in retry] == [1, 2, 3] and job.last_seq == 3
    recorder.committed(len(retry))
    assert recorder.pending()[0] == [] and recorder.backlog == 0


def test_events_recorded_during_a_write_stay_pending_and_keep_the_news_flag(recorder: Recorder) -> None:
    recorder.log("info", None, "one")
    written, _ = recorder.pending()
    recorder.log("info", None, "two")  # arrives while the write of "one" is under way
    recorder.committed(len(written))
    assert [e.seq for e in recorder.pending()[0]] == [2]
    assert recorder.news.is_set()  # the writer goes round again


def test_snapshot_does_not_change_with_later_events(recorder: Recorder) -> None:
    recorder.progress(1, 10, "first")
    _, snapshot = take(recorder)
    recorder.progress(2, 10, "second")
    assert (snapshot.progress, snapshot.message, snapshot.last_seq) == (1, "first", 1)


def test_sane_progress_moves_the_job(recorder: Recorder) -> None:
    recorder.progress(1, 4, "a")
    recorder.progress(2.5, 4, None)
    assert (recorder.job.progress, recorder.job.total, recorder.job.message) == (2.5, 4, "a")


@pytest.mark.parametrize(
    ("second", "total", "note"),
    [(2, 10, ProgressNote.NOT_INCREASING), (1, 10, ProgressNote.NOT_INCREASING), (11, 10, ProgressNote.EXCEEDS_TOTAL)],
)
def test_insane_progress_is_kept_but_never_moves_the_bar(
    recorder: Recorder, second: float, total: float, note: ProgressNote
) -> None:
    recorder.progress(2, 10, "ok")
    recorder.progress(second, total, "odd")
    events, job = take(recorder)
    assert [e.note for e in events] == [None, note]
    assert (job.progress, job.total, job.message) == (2, 10, "ok")


@pytest.mark.parametrize(
    ("second", "total"),
    [(6, 100), (6, None)],
    ids=["a larger total lowers the percentage", "the total is lost"],
)
def test_progress_that_would_move_the_bar_back_is_kept_but_not_applied(
    recorder: Recorder, second: float, total: float | None
) -> None:
    recorder.progress(5, 10, "half")
    recorder.progress(second, total, "odd")
    events, job = take(recorder)
    assert events[1].note == ProgressNote.MOVES_BAR_BACK
    assert (job.progress, job.total, job.percent) == (5, 10, 50)


def test_negative_progress_below_a_zero_bar_is_not_called_backwards(recorder: Recorder) -> None:
    recorder.progress(-5, 10, "before the start")
    recorder.progress(-4, 10, "still before")
    events, _ = take(recorder)
    assert [e.note for e in events] == [None, None]


def test_a_total_that_grows_while_the_percentage_grows_is_fine(recorder: Recorder) -> None:
    recorder.progress(5, 10, "half")
    recorder.progress(60, 100, "more work, but further along")
    events, job = take(recorder)
    assert events[1].note is None
    assert job.percent == 60


@pytest.mark.parametrize(("value", "total"), [(float("nan"), 10.0), (1.0, float("inf")), (float("-inf"), None)])
def test_non_finite_progress_is_kept_as_null_and_marked(recorder: Recorder, value: float, total: float | None) -> None:
    recorder.progress(value, total, "weird")
    events, job = take(recorder)
    assert events[0].note == ProgressNote.NOT_FINITE
    assert events[0].progress == (value if math.isfinite(value) else None)
    assert events[0].total == (total if total is not None and math.isfinite(total) else None)
    assert job.progress is None


@pytest.mark.parametrize("note", [ProgressNote.AFTER_END, ProgressNote.OTHER_TOKEN])
def test_progress_the_link_marks_is_kept_once_and_never_moves_the_bar(recorder: Recorder, note: ProgressNote) -> None:
    recorder.progress(5, 10, "marked", note=note)
    events, job = take(recorder)
    assert [e.note for e in events] == [note]
    assert job.progress is None


def test_other_notifications_and_server_requests_are_lines_with_their_method(recorder: Recorder) -> None:
    recorder.log("info", "a", "one")
    recorder.notification("notifications/tools/list_changed", {})
    recorder.request("sampling/createMessage", {"messages": []})
    recorder.notification("notifications/x" * 100, "y" * 10_000)
    events, _ = take(recorder)
    assert [(e.seq, e.kind, e.rpc_method) for e in events[:3]] == [
        (1, "log", "notifications/message"),
        (2, "notification", "notifications/tools/list_changed"),
        (3, "request", "sampling/createMessage"),
    ]
    assert events[2].note == "refused" and events[2].data == {"messages": []}
    assert events[1].to_json()["method"] == "notifications/tools/list_changed"
    assert len(events[3].method or "") == 200  # a method name is cut like a logger's
    assert recorder.job.last_seq == 4


def test_after_the_calls_end_every_line_is_marked_so(recorder: Recorder) -> None:
    recorder.log("info", "a", "in time")
    recorder.after_end = True
    recorder.log("info", "a", "late")
    recorder.progress(5, 10, "late progress")
    recorder.notification("notifications/tools/list_changed", {})
    recorder.request("roots/list", {})
    events, job = take(recorder)
    assert [e.note for e in events] == [None, "after_end", "after_end", "after_end", "refused"]
    assert job.progress is None  # late progress never moves the bar


def test_with_a_rate_a_burst_is_kept_and_the_rest_is_counted_not_recorded() -> None:
    job = Job(id="server", tool="", arguments={}, idle_timeout=None, max_duration=None)
    recorder = Recorder(job, Limits(per_second=2.0))  # a burst of 20
    for n in range(50):
        recorder.log("info", None, n)
    events, _ = recorder.pending()
    assert [e.data for e in events] == list(range(20))
    assert (job.last_seq, job.dropped_events) == (20, 30)
