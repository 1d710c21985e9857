from __future__ import annotations

import pytest
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.intstr import int_or_percent, int_or_string, value_of


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("100%", 7, False, 7),
        ("0%", 5, True, 0),
        ("33%", 3, True, 1),
        ("33%", 3, False, 0),
        ("150%", 4, True, 6),
        (1, 10, True, 1),
        (0, 10, False, 0),
        (5, 2, False, 5),
    ],
)
def test_int_or_percent(value: int | str, total: int, round_up: bool, expected: int) -> None:
    assert int_or_percent(int_or_string(value), total, round_up) == expected


@pytest.mark.parametrize(
    "value", [int_or_string("http"), int_or_string("x%"), int_or_string("%"), meta_pb2.IntOrString(), None]
)
def test_not_a_count(value: meta_pb2.IntOrString | None) -> None:
    with pytest.raises(ValueError):
        int_or_percent(value, 10, True)


def test_helpers() -> None:
    assert value_of(int_or_string("25%")) == "25%"
    assert value_of(int_or_string(0)) == 0
    assert int_or_string(0).WhichOneof("value") == "int_val"
    with pytest.raises(TypeError):
        int_or_string(True)
