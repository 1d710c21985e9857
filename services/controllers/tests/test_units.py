"""Pure pieces: controller selection (the kit's own pieces are tested in libs/skiff-client/tests)."""

from __future__ import annotations

import pytest
from skiff_controllers.registry import CONTROLLERS, select


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], list(CONTROLLERS)),
        (["*"], list(CONTROLLERS)),
        (["namespace"], ["namespace"]),
        (["*", "-replicaset"], [n for n in CONTROLLERS if n != "replicaset"]),
    ],
)
def test_select(names: list[str], expected: list[str]) -> None:
    assert select(names) == expected


def test_select_unknown_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown controller 'deploy'"):
        select(["deploy"])
