"""Kubernetes resource quantities ("100m", "1Gi", "1e3", "500Mi") as exact integers.

Upstream: staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go (ParseQuantity, MilliValue, Value).
A quantity is ``<signedNumber><suffix>`` where the suffix is a binary SI suffix (Ki Mi Gi Ti Pi Ei), a decimal SI
suffix (n u m "" k M G T P E) or a decimal exponent (e/E followed by a signed integer). Conversions round up, as
upstream's ``MilliValue()`` and ``Value()`` do.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from checker.errors import InputError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)", re.DOTALL)
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")
"""ASCII digits only, as upstream's parser (``"١٢"`` or ``"２"`` are no quantities; Python's ``\\d`` and ``int``
would take them)."""


MAX_EXPONENT = 100
"""The largest exponent read (``1e100``): far beyond int64, bounded so that ``1e999999999`` is refused at once."""


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity; raises ValueError when ``value`` is not one.

    YAML integers and floats are accepted as upstream's JSON unmarshalling accepts numbers.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    text = value if isinstance(value, str) else _number_text(value)
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    sign, whole, frac, suffix = match.groups()
    frac = frac or ""
    if not whole and not frac:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
    if sign == "-":
        number = -number
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exponent = _EXPONENT.fullmatch(suffix)
    if exponent is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    written = exponent.group(1)
    power = int(written) if len(written.lstrip("+-").lstrip("0")) <= 6 else MAX_EXPONENT + 1
    if abs(power) > MAX_EXPONENT:
        raise ValueError(f"{text[:40]!r}: an exponent beyond ±{MAX_EXPONENT} (Kubernetes quantities are int64 values)")
    return number * Fraction(10) ** power


def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return repr(value).replace("e+", "e")


def milli_value(value: object, where: str = "") -> int:
    """The quantity in thousandths, rounded up (CPU: ``"100m"`` -> 100, ``"1"`` -> 1000).

    Upstream: Quantity.MilliValue. ``where`` prefixes the InputError message.
    """
    return _checked(value, where, 1000)


def int_value(value: object, where: str = "") -> int:
    """The quantity as an integer, rounded up (``"1Ki"`` -> 1024, ``"1e3"`` -> 1000). Upstream: Quantity.Value."""
    return _checked(value, where, 1)


def _checked(value: object, where: str, scale: int) -> int:
    try:
        exact = parse_quantity(value)
    except ValueError as err:
        raise InputError(f"{where}: {err}" if where else str(err)) from None
    return math.ceil(exact * scale)


def format_milli_cpu(milli: int) -> str:
    """CPU for humans: ``1500`` -> ``"1500m"``, ``2000`` -> ``"2"``."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def format_bytes(value: int) -> str:
    """Bytes for humans, in the largest exact binary unit: ``1073741824`` -> ``"1Gi"``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)
