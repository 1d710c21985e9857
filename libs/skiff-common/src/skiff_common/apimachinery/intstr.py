"""IntOrString helpers: the rolling-update arithmetic of maxSurge / maxUnavailable ("25%" or 1).

Percentages are scaled with integer arithmetic (no floats), rounding up or down as the caller asks:
Kubernetes rounds maxSurge up and maxUnavailable down, so "25%" of 10 pods is 3 surge and 2 unavailable.
"""

from __future__ import annotations

from skiff.api.meta.v1 import meta_pb2


def int_or_string(value: int | str) -> meta_pb2.IntOrString:
    """Build an IntOrString: int_or_string(1), int_or_string("25%"), int_or_string("http")."""
    if isinstance(value, bool):
        raise TypeError("IntOrString takes an int or a str, not a bool")
    if isinstance(value, int):
        return meta_pb2.IntOrString(int_val=value)
    return meta_pb2.IntOrString(str_val=value)


def value_of(value: meta_pb2.IntOrString) -> int | str:
    """The plain Python value (0 when unset)."""
    return value.str_val if value.WhichOneof("value") == "str_val" else value.int_val


def int_or_percent(value: meta_pb2.IntOrString | None, total: int, round_up: bool) -> int:
    """An absolute count: an int as is, "N%" as N percent of ``total`` (rounded up or down).

    ValueError for an unset value or a string that is not an integer percentage.
    """
    if value is None or value.WhichOneof("value") is None:
        raise ValueError("nil value for IntOrString")
    if value.WhichOneof("value") == "int_val":
        return value.int_val
    text = value.str_val
    if not text.endswith("%"):
        raise ValueError(f'invalid value for IntOrString: invalid type: string is not a percentage: "{text}"')
    try:
        percent = int(text[:-1])
    except ValueError:
        raise ValueError(f'invalid value for IntOrString: invalid value "{text}"') from None
    scaled = percent * total
    return -(-scaled // 100) if round_up else scaled // 100
