"""RFC 8785 JSON Canonicalization Scheme (JCS), exact and fast.

The exact path implements the RFC directly. The fast path hands the object to
orjson, whose output is byte-identical to JCS for objects without doubles and
without object keys beyond U+FFFF (orjson sorts keys by code point, JCS by
UTF-16 code unit, and writes doubles in its own format). Callers that build
the object know whether it holds such values and pick the path; `canonicalize`
also checks by itself when asked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from audit_sdk._errors import InvalidAuditEvent

__all__ = ["canonicalize", "canonicalize_fast", "format_double", "needs_exact_path"]

_OPT_SORT = orjson.OPT_SORT_KEYS
_MAX_SAFE_INT = 2**53 - 1  # ECMAScript Number.MAX_SAFE_INTEGER
_encode_str = json.JSONEncoder(ensure_ascii=False).encode  # JCS string escaping == json's


def format_double(value: float) -> str:
    """Serialize a double as ECMAScript Number.prototype.toString does (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise InvalidAuditEvent("value", f"{value!r} cannot be represented in JSON (NaN/Infinity)")
    if value == 0.0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_repr = repr(abs(value))  # shortest round-trip digits
    mantissa, _, exp_text = digits_repr.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = (int_part + frac_part).lstrip("0")
    # position of the decimal point relative to the start of `digits`
    leading_zeros = len(int_part + frac_part) - len((int_part + frac_part).lstrip("0"))
    point = len(int_part) - leading_zeros + exponent
    digits = digits.rstrip("0")
    k = len(digits)
    n = point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        exp = n - 1
        exp_str = f"e+{exp}" if exp >= 0 else f"e-{-exp}"
        out = (digits if k == 1 else digits[0] + "." + digits[1:]) + exp_str
    return sign + out


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise InvalidAuditEvent(
                "value",
                f"integer {value} exceeds 2^53-1, the largest exact JSON integer; send a string",
            )
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_double(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key in sorted(value, key=_check_key_utf16):
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise InvalidAuditEvent("value", f"{type(value).__name__} cannot be represented in JSON")


def _check_key_utf16(key: object) -> bytes:
    if not isinstance(key, str):
        raise InvalidAuditEvent("key", f"object keys must be strings, not {type(key).__name__}")
    return _utf16_key(key)


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value (exact path)."""
    out: list[str] = []
    _write(value, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidAuditEvent(
            "value", "string holds a lone surrogate (not valid Unicode)"
        ) from exc


def needs_exact_path(value: Any) -> bool:
    """True unless orjson's sorted output is certainly the JCS bytes of `value`.

    Only str, bool, None, ints within 2^53, and dicts/lists/tuples of those with
    keys up to U+FFFF qualify; anything else (doubles, other types that orjson
    would serialize on its own terms) goes through the exact path, which also
    raises the precise error for values JSON cannot hold.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        return not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return True
            if needs_exact_path(item):
                return True
        return False
    if kind is list or kind is tuple:
        return any(needs_exact_path(item) for item in value)
    return True


def canonicalize_fast(value: Any, exact: bool) -> bytes:
    """Canonical bytes, via orjson unless `exact` says the value needs the exact path."""
    if exact:
        return canonicalize(value)
    try:
        return orjson.dumps(value, option=_OPT_SORT)
    except orjson.JSONEncodeError:
        # lone surrogates, unsupported types: the exact path raises a precise error
        return canonicalize(value)
