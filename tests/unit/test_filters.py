"""A log view's filters read from a query (issue 19): a wrong part is left out and said, the rest applies; min_level
in the view's link."""

from __future__ import annotations

from webapp.api import filter_query, read_filter
from webapp.store import EventFilter


def test_a_wrong_part_is_left_out_and_said_while_the_rest_applies() -> None:
    only, errors = read_filter(["error,loud"], ["log"], "demo", "(unclosed", True, "warning")
    assert only == EventFilter(("error",), ("log",), "demo", None, regex=False, min_level="warning")
    assert errors[0] == "levels: 'loud' is not one of debug, info, notice, warning, error, critical, alert, emergency."
    assert errors[1].startswith("q is not a regular expression this dashboard can run: missing )")


def test_an_unknown_min_level_is_said_and_not_applied() -> None:
    only, errors = read_filter([], [], "", "", False, "loud")
    assert not only and errors == [
        "min_level: 'loud' is not one of debug, info, notice, warning, error, critical, alert, emergency."
    ]


def test_min_level_is_kept_in_the_views_link_beside_the_other_filters() -> None:
    only, errors = read_filter(["error"], [], "", "time", False, "warning")
    assert errors == [] and filter_query(only) == "levels=error&q=time&min_level=warning"
    assert EventFilter(min_level="error").severe_enough == ("error", "critical", "alert", "emergency")
    assert bool(EventFilter(min_level="debug"))  # a filter, even one that lets every level through
