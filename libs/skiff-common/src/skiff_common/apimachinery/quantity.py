"""Kubernetes resource quantities ("250m", "1Gi", "1e3"): parse, canonical form, scaled integers.

A quantity is a decimal number with a suffix that also fixes how it prints:

* binary SI (Ki Mi Gi Ti Pi Ei): powers of 1024;
* decimal SI (n u m "" k M G T P E): powers of 1000;
* decimal exponent (e3, E-2): powers of ten.

Values are exact ``decimal.Decimal`` (never floats), rounded *up* to the nanounit like Kubernetes does
("if you ask for some resources you get some"). The canonical form follows apimachinery's
``Quantity.String()``: the format of the input is kept, trailing zeros are folded into the largest suffix
whose exponent is a multiple of three ("1000" -> "1k", "0.5" -> "500m", "1.5Gi" -> "1536Mi"), and a
binary value below 1024 or with a fraction prints as decimal SI. The converter stores this canonical
string, so a quantity reads back exactly as ``kubectl get -o yaml`` shows it.

Deviation: magnitudes are limited to below 10^24 and exponents to +-100 (Kubernetes accepts larger
numbers through arbitrary precision); nothing a resource could need lies outside, and the bound keeps
hostile input from costing time.
"""

from __future__ import annotations

import decimal
import functools
import re
from decimal import Decimal
from typing import Final, Literal

from skiff.api.meta.v1 import meta_pb2

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
QuantityLike = str | int | float | Decimal | meta_pb2.Quantity

_DECIMAL_SUFFIXES: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_BY_EXP10: Final = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER: Final = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_SYNTAX: Final = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(|[numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)")
_NANO: Final = Decimal("1e-9")
_MAX_ADJUSTED: Final = 23  # |value| < 10^24
_CONTEXT: Final = decimal.Context(prec=80, Emax=999, Emin=-999)
_REGEX_HELP: Final = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse_quantity(value: QuantityLike) -> Decimal:
    """The exact value of a quantity; ValueError with the reason when it is malformed."""
    return _parse(value)[0]


def parse_quantity_with_format(value: QuantityLike) -> tuple[Decimal, Format]:
    """The value and the format its suffix implies (numbers are decimal SI)."""
    return _parse(value)


def canonical_quantity(value: QuantityLike) -> str:
    """The form Kubernetes prints: canonical_quantity(0.5) == "500m", ("1024Mi") == "1Gi"."""
    if isinstance(value, str):
        return _canonical_str(value)
    number, fmt = _parse(value)
    return _format(number, fmt)


def format_quantity(value: Decimal | int, like: str = "") -> str:
    """Canonical text of ``value`` in the format of the example quantity ``like`` (default decimal SI):
    format_quantity(Decimal(2**31), like="1Gi") == "2Gi"."""
    fmt: Format = "DecimalSI"
    if like:
        try:
            fmt = _parse(like)[1]
        except ValueError:
            pass
    number = Decimal(value)
    _check_magnitude(number)
    return _format(_round_to_nano(number), fmt)


def milli_value(q: QuantityLike) -> int:
    """The value in thousandths, rounded away from zero: milli_value("0.1m") == 1."""
    return _ceil_away(parse_quantity(q) * 1000)


def int_value(q: QuantityLike) -> int:
    """The value as an integer, rounded away from zero: int_value("1.5") == 2."""
    return _ceil_away(parse_quantity(q))


def _ceil_away(number: Decimal) -> int:
    return int(number.to_integral_value(rounding=decimal.ROUND_UP, context=_CONTEXT))


def _parse(value: QuantityLike) -> tuple[Decimal, Format]:
    if isinstance(value, meta_pb2.Quantity):
        value = value.value
    if isinstance(value, str):
        return _parse_str(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"a quantity must be a string or a number, not {type(value).__name__}")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a quantity must be a finite number")
        return _parse_str(repr(value).replace("e+", "e"))
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("a quantity must be a finite number")
    _check_magnitude(number)
    return _round_to_nano(number), "DecimalSI"


@functools.lru_cache(maxsize=4096)
def _parse_str(text: str) -> tuple[Decimal, Format]:
    """Parse once per distinct string: the scheduler and controllers re-read the same few values."""
    match = _SYNTAX.fullmatch(text)
    if match is None:
        if not text:
            raise ValueError("a quantity must not be empty")
        raise ValueError(_REGEX_HELP)
    sign, digits, suffix = match.groups()
    number = Decimal(sign + digits)
    fmt: Format
    if suffix in _DECIMAL_SUFFIXES:
        fmt = "DecimalSI"
        number = number.scaleb(_DECIMAL_SUFFIXES[suffix], context=_CONTEXT)
    elif suffix in _BINARY_SUFFIXES:
        fmt = "BinarySI"
        number = _CONTEXT.multiply(number, 1 << _BINARY_SUFFIXES[suffix])
    else:
        fmt = "DecimalExponent"
        exponent = int(suffix[1:])
        if abs(exponent) > 100:
            raise ValueError("quantity exponent out of range")
        number = number.scaleb(exponent, context=_CONTEXT)
    _check_magnitude(number)
    return _round_to_nano(number), fmt


@functools.lru_cache(maxsize=4096)
def _canonical_str(text: str) -> str:
    return _format(*_parse_str(text))


def _check_magnitude(number: Decimal) -> None:
    if number and number.adjusted() > _MAX_ADJUSTED:
        raise ValueError("quantity too large")


def _round_to_nano(number: Decimal) -> Decimal:
    if not number:
        return Decimal(0)
    return number.quantize(_NANO, rounding=decimal.ROUND_UP, context=_CONTEXT).normalize(_CONTEXT)


def _format(number: Decimal, fmt: Format) -> str:
    if not number:
        return "0"
    if fmt == "BinarySI":
        if -1024 < number < 1024 or number != number.to_integral_value():
            fmt = "DecimalSI"
        else:
            return _format_binary(int(number))
    sign, digit_tuple, exponent = number.normalize(_CONTEXT).as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digit_tuple)))
    shift = exponent % 3  # largest multiple of three not above the exponent
    mantissa *= 10**shift
    exponent -= shift
    if fmt == "DecimalSI" and exponent > 18:  # beyond "E": spell the digits out
        mantissa *= 10 ** (exponent - 18)
        exponent = 18
    text = ("-" if sign else "") + str(mantissa)
    if fmt == "DecimalExponent":
        return text + (f"e{exponent}" if exponent else "")
    return text + _SUFFIX_BY_EXP10[exponent]


def _format_binary(value: int) -> str:
    power = 0
    while value % 1024 == 0 and power < len(_BINARY_BY_POWER) - 1:
        value //= 1024
        power += 1
    return f"{value}{_BINARY_BY_POWER[power]}"
