"""Quantities: parse, canonical form (as apimachinery prints them), scaled values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.quantity import (
    canonical_quantity,
    format_quantity,
    int_value,
    milli_value,
    parse_quantity,
    parse_quantity_with_format,
)


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("0", Decimal(0), "0"),
        ("0.5", Decimal("0.5"), "500m"),
        ("250m", Decimal("0.25"), "250m"),
        ("1", Decimal(1), "1"),
        ("1000", Decimal(1000), "1k"),
        ("1500", Decimal(1500), "1500"),
        ("1000m", Decimal(1), "1"),
        ("1e3", Decimal(1000), "1e3"),
        ("1E3", Decimal(1000), "1e3"),
        ("1.5e3", Decimal(1500), "1500"),
        ("1e-3", Decimal("0.001"), "1e-3"),
        ("1e+20", Decimal("1e20"), "100e18"),
        ("100Mi", Decimal(100 * 2**20), "100Mi"),
        ("1.5Gi", Decimal(3 * 2**29), "1536Mi"),
        ("1024Mi", Decimal(2**30), "1Gi"),
        ("0.5Ki", Decimal(512), "512"),
        ("1.0001Ki", Decimal("1024.1024"), "1024102400u"),
        ("1Ki", Decimal(1024), "1Ki"),
        ("-1", Decimal(-1), "-1"),
        ("-1Gi", Decimal(-(2**30)), "-1Gi"),
        ("+2", Decimal(2), "2"),
        (".5", Decimal("0.5"), "500m"),
        ("5.", Decimal(5), "5"),
        ("1E", Decimal("1e18"), "1E"),
        ("2k", Decimal(2000), "2k"),
        ("2M", Decimal(2_000_000), "2M"),
        ("100n", Decimal("1e-7"), "100n"),
        ("0.1n", Decimal("1e-9"), "1n"),  # rounded up to the nanounit
        ("0.0000000001", Decimal("1e-9"), "1n"),
        ("12345678901234567890", Decimal("12345678901234567890"), "12345678901234567890"),
    ],
)
def test_parse_and_canonical(text: str, value: Decimal, canonical: str) -> None:
    assert parse_quantity(text) == value
    assert canonical_quantity(text) == canonical
    assert parse_quantity(canonical) == value  # the canonical form means the same amount


@pytest.mark.parametrize(
    ("number", "canonical"),
    [
        (1, "1"),
        (0, "0"),
        (0.5, "500m"),
        (2.25, "2250m"),
        (1e3, "1k"),
        (1e20, "100e18"),
        (-3, "-3"),
        (Decimal("0.1"), "100m"),
        (meta_pb2.Quantity(value="2Gi"), "2Gi"),
    ],
)
def test_numbers(number: Any, canonical: str) -> None:
    assert canonical_quantity(number) == canonical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "must not be empty"),
        ("1.0.0", "regular expression"),
        ("1Gx", "regular expression"),
        ("1K", "regular expression"),
        ("1gi", "regular expression"),
        (" 1", "regular expression"),
        ("1 ", "regular expression"),
        ("e3", "regular expression"),
        ("1e", "regular expression"),
        ("1e3.5", "regular expression"),
        ("--1", "regular expression"),
        ("abc", "regular expression"),
        ("1٣", "regular expression"),  # non-ASCII digits are not digits here
        ("1e101", "exponent out of range"),
        ("1e30", "too large"),
        ("999999999Ei", "too large"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, None, [], float("nan"), float("inf")])
def test_invalid_types(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_quantity(value)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("1", "DecimalSI"),
        ("1m", "DecimalSI"),
        ("1Ki", "BinarySI"),
        ("1e3", "DecimalExponent"),
        ("1E", "DecimalSI"),
    ],
)
def test_format_of_suffix(text: str, fmt: str) -> None:
    assert parse_quantity_with_format(text)[1] == fmt


@pytest.mark.parametrize(
    ("value", "like", "text"),
    [
        (Decimal(2**31), "1Gi", "2Gi"),
        (Decimal(1500), "1Gi", "1500"),
        (Decimal("0.1"), "", "100m"),
        (3000, "1e3", "3e3"),
        (Decimal(0), "1Gi", "0"),
        (Decimal(2048), "not a quantity", "2048"),
    ],
)
def test_format_quantity(value: Decimal, like: str, text: str) -> None:
    assert format_quantity(value, like) == text


@pytest.mark.parametrize(
    ("text", "milli", "integer"),
    [
        ("1", 1000, 1),
        ("250m", 250, 1),
        ("0.1m", 1, 1),
        ("1.5", 1500, 2),
        ("1Ki", 1024000, 1024),
        ("-1.5", -1500, -2),
        ("-0.1m", -1, -1),
        ("0", 0, 0),
        ("100Mi", 104857600000, 104857600),
    ],
)
def test_scaled_values_round_away_from_zero(text: str, milli: int, integer: int) -> None:
    assert milli_value(text) == milli
    assert int_value(text) == integer
