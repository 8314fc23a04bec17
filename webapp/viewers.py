"""How far each page has got (issue 18): flow control for a job's stream.

The browser buffers a stream while its page is busy, so the socket does not tell the server that a page is behind.
A page therefore says how far it has got: its stream carries a viewer id (`?viewer=`), and the page acknowledges
the last seq it has handled (drawn, or skipped behind a marker) with `POST /jobs/{id}/viewers/{viewer}/ack?seq=N`.
The stream sends a viewer at most its credit of lines beyond what it acknowledged; further behind than that, it
tells the page to skip (an SSE `skip` event) and goes on from the tail. Nothing is buffered per viewer: what a page
does not get stays in the store. A viewer is known only while its stream is open, in the web process that serves it.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

MOST_VIEWERS = 10_000  # viewers with flow control in one web process; beyond it, a stream goes without
RECENTLY_CLOSED = 1_000  # streams just ended, remembered: the page's last acknowledgement may come after the end


@dataclass(slots=True)
class Viewer:
    job_id: str
    acked: int  # the last seq the page said it has handled
    sent: int  # the last seq its stream has sent it


class UnknownViewer(LookupError):
    pass


class AheadOfStream(ValueError):
    pass


class Viewers:
    def __init__(self) -> None:
        self._viewers: dict[str, Viewer] = {}
        self._closed: OrderedDict[str, str] = OrderedDict()  # viewer id -> job id

    def __len__(self) -> int:
        return len(self._viewers)

    @contextlib.contextmanager
    def watching(self, viewer_id: str | None, job_id: str, start: int) -> Iterator[Viewer | None]:
        """The viewer for the length of its stream; None without an id (a script), or when there are too many. A
        reconnect under the same id takes the place of the stream before it."""
        if viewer_id is None or (viewer_id not in self._viewers and len(self._viewers) >= MOST_VIEWERS):
            yield None
            return
        viewer = self._viewers[viewer_id] = Viewer(job_id, start, start)
        try:
            yield viewer
        finally:
            if self._viewers.get(viewer_id) is viewer:
                del self._viewers[viewer_id]
                self._closed[viewer_id] = job_id
                while len(self._closed) > RECENTLY_CLOSED:
                    self._closed.popitem(last=False)

    def ack(self, job_id: str, viewer_id: str, seq: int) -> Viewer | None:
        """The page has handled every event up to `seq`. A seq it was never sent is refused: its stream then takes it
        for a page that never said how far it got. None: its stream has just ended (nothing to do)."""
        viewer = self._viewers.get(viewer_id)
        if viewer is None and self._closed.get(viewer_id) == job_id:
            return None
        if viewer is None or viewer.job_id != job_id:
            raise UnknownViewer(f"No open stream of job {job_id} for viewer {viewer_id!r} in this web process.")
        if seq > viewer.sent:
            raise AheadOfStream(f"seq {seq} is ahead of what this viewer was sent ({viewer.sent}).")
        viewer.acked = max(viewer.acked, seq)
        return viewer
