"""How far each page has got (webapp/viewers.py, issue 18): acknowledgements that fit are kept, the others refused;
a viewer is known only while its stream is open, and their number is bounded."""

from __future__ import annotations

import pytest

from webapp import viewers
from webapp.viewers import AheadOfStream, UnknownViewer, Viewers


def test_a_viewer_is_known_while_its_stream_is_open_and_acks_only_what_it_was_sent() -> None:
    registry = Viewers()
    with registry.watching("page-0001", "job1", 10) as viewer:
        assert viewer is not None and viewer.acked == 10 and len(registry) == 1
        viewer.sent = 50
        registry.ack("job1", "page-0001", 40)
        assert viewer.acked == 40
        registry.ack("job1", "page-0001", 20)
        assert viewer.acked == 40  # never backwards
        with pytest.raises(AheadOfStream, match="seq 51 is ahead of what this viewer was sent"):
            registry.ack("job1", "page-0001", 51)
        with pytest.raises(UnknownViewer):
            registry.ack("job2", "page-0001", 1)  # another job's
    assert len(registry) == 0
    assert registry.ack("job1", "page-0001", 1) is None  # just ended: its last word may come after the end
    with pytest.raises(UnknownViewer, match="No open stream"):
        registry.ack("job1", "page-0002", 1)  # never seen
    with pytest.raises(UnknownViewer, match="No open stream"):
        registry.ack("job9", "page-0001", 1)  # another job's


def test_a_reconnect_takes_its_old_streams_place_and_a_stream_without_an_id_has_no_flow_control() -> None:
    registry = Viewers()
    with registry.watching(None, "job1", 0) as none:
        assert none is None and len(registry) == 0
    with registry.watching("page-0001", "job1", 0) as old:
        with registry.watching("page-0001", "job1", 5) as new:
            assert new is not None and new is not old
            registry.ack("job1", "page-0001", 5)
            assert new.acked == 5
        assert len(registry) == 0  # the newer stream ended: the old one, ending next, is not put back


def test_the_number_of_viewers_with_flow_control_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viewers, "MOST_VIEWERS", 2)
    registry = Viewers()
    with (
        registry.watching("page-0001", "j", 0),
        registry.watching("page-0002", "j", 0),
        registry.watching("page-0003", "j", 0) as third,
    ):
        assert third is None and len(registry) == 2
