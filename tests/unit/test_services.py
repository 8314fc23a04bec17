from __future__ import annotations

from typing import Any

import pytest

from webapp.mcp_link import ToolSpec
from webapp.services import InvalidJob, check_arguments


def test_arguments_that_do_not_fit_are_explained() -> None:
    spec = ToolSpec("t", "", {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    with pytest.raises(InvalidJob, match=r'input schema of .t.: n: "x" is not of type "integer"') as caught:
        check_arguments(spec, {"n": "x"})
    assert caught.value.status_code == 422
    check_arguments(spec, {"n": 3})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 5},
        {"$ref": "https://example.invalid/schema.json"},
        {"properties": {"s": {"type": "string", "pattern": "("}}},
    ],
    ids=["invalid schema", "unresolvable reference", "pattern that is no regex"],
)
def test_a_broken_schema_from_the_server_leaves_judging_to_the_server(schema: dict[str, Any]) -> None:
    check_arguments(ToolSpec("t", "", schema), {"s": "anything"})
