"""Attribute values in their three shapes: Python, OTLP-JSON AnyValue, and signed (type-tagged).

The signed shape is the signing processor's (SPEC §2): scalars are wrapped in a
one-key object naming their type, arrays and maps recurse as plain JSON arrays
and objects.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

from audit_sdk._errors import InvalidAuditEvent

__all__ = [
    "MAX_DEPTH",
    "frozen_value",
    "otlp_to_python",
    "otlp_to_tagged",
    "python_to_otlp",
    "tag_attributes",
    "tag_value",
]

MAX_DEPTH = 128
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _Exact:
    """Mutable flag: set when the tagged value needs the exact JCS path."""

    __slots__ = ("needed",)

    def __init__(self) -> None:
        self.needed = False


def _tag(value: object, field: str, depth: int, exact: _Exact) -> Any:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidAuditEvent(field, f"integer {value} is outside the int64 range of OTLP")
        return {"intValue": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidAuditEvent(
                field, f"{value!r} is not allowed (NaN and infinities are refused)"
            )
        exact.needed = True
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode("ascii")}
    if depth >= MAX_DEPTH:
        raise InvalidAuditEvent(field, f"nesting deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidAuditEvent(
                    field, f"map keys must be strings, not {type(key).__name__}"
                )
            if not key.isascii() and max(key) > "\uffff":
                exact.needed = True
            out[key] = _tag(item, f"{field}.{key}", depth + 1, exact)
        return out
    if isinstance(value, Sequence):
        return [_tag(item, f"{field}[{i}]", depth + 1, exact) for i, item in enumerate(value)]
    if value is None:
        raise InvalidAuditEvent(field, "None is not an attribute value (leave the attribute out)")
    raise InvalidAuditEvent(field, f"{type(value).__name__} cannot be an attribute value")


def tag_value(value: object, field: str = "value") -> tuple[Any, bool]:
    """Return (tagged value, whether the exact JCS path is needed)."""
    exact = _Exact()
    return _tag(value, field, 0, exact), exact.needed


def frozen_value(value: object) -> Any:
    """A copy of a (validated) attribute value that later changes to `value` cannot reach.

    The record is signed at emit time and exported later: a list the caller
    keeps and changes must not change what is exported. Sequences become
    tuples, maps fresh dicts, bytes-like values bytes.
    """
    if isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return {key: frozen_value(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return tuple(frozen_value(item) for item in value)
    return value


def tag_attributes(attributes: Mapping[str, object]) -> tuple[dict[str, Any], bool]:
    """Tag every attribute except `audit.integrity.*` (they are not signed)."""
    exact = _Exact()
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith("audit.integrity."):
            continue
        if type(value) is str:  # the common case, kept cheap
            out[key] = {"stringValue": value}
        else:
            out[key] = _tag(value, key, 0, exact)
        if not key.isascii() and max(key) > "\uffff":
            exact.needed = True
    return out, exact.needed


def python_to_otlp(value: object) -> dict[str, Any]:
    """Python attribute value -> OTLP-JSON AnyValue (ints as decimal strings)."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {
            "kvlistValue": {
                "values": [{"key": k, "value": python_to_otlp(v)} for k, v in value.items()]
            }
        }
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [python_to_otlp(v) for v in value]}}
    return {}


def _otlp_double(raw: object) -> float:
    if isinstance(raw, str):  # OTLP/JSON spells non-finite doubles as strings
        return float(raw)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    raise ValueError(f"doubleValue must be a number, got {type(raw).__name__}")


def _otlp_int(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"intValue must be a decimal string or integer, got {type(raw).__name__}")
    return int(raw)


_VALUE_FIELDS = frozenset(
    {
        "stringValue",
        "intValue",
        "boolValue",
        "doubleValue",
        "bytesValue",
        "arrayValue",
        "kvlistValue",
    }
)


def _check_any_value(value: object, depth: int) -> Mapping[str, Any]:
    """One AnyValue object with at most one value field: readers must not disagree on it."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels")
    if not isinstance(value, Mapping):
        raise ValueError(f"AnyValue must be an object, got {type(value).__name__}")
    if len(_VALUE_FIELDS.intersection(value)) > 1:
        raise ValueError(f"AnyValue has more than one value field: {sorted(value)}")
    return value


def _array_items(value: Mapping[str, Any]) -> list[Any]:
    holder = value["arrayValue"]
    if holder is not None and not isinstance(holder, Mapping):
        raise ValueError("arrayValue must be an object holding a values list")
    items = (holder or {}).get("values")
    if items is not None and not isinstance(items, list):
        raise ValueError("arrayValue.values must be a list")
    return items or []


def _kvlist_entries(value: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    holder = value["kvlistValue"]
    if holder is not None and not isinstance(holder, Mapping):
        raise ValueError("kvlistValue must be an object holding a values list")
    entries = (holder or {}).get("values")
    if entries is not None and not isinstance(entries, list):
        raise ValueError("kvlistValue.values must be a list")
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for entry in entries or []:
        key = _entry_key(entry)
        if key in seen:
            raise ValueError(f"map key {key!r} appears twice")
        seen.add(key)
        out.append((key, entry.get("value") or {}))
    return out


def otlp_to_tagged(value: Mapping[str, Any], depth: int = 0) -> Any:
    """OTLP-JSON AnyValue -> signed shape. Raises ValueError on malformed input."""
    value = _check_any_value(value, depth)
    if "stringValue" in value:
        raw = value["stringValue"]
        if not isinstance(raw, str):
            raise ValueError("stringValue must be a string")
        return {"stringValue": raw}
    if "intValue" in value:
        return {"intValue": str(_otlp_int(value["intValue"]))}
    if "boolValue" in value:
        raw = value["boolValue"]
        if not isinstance(raw, bool):
            raise ValueError("boolValue must be a boolean")
        return {"boolValue": raw}
    if "doubleValue" in value:
        return {"doubleValue": _otlp_double(value["doubleValue"])}
    if "bytesValue" in value:
        raw = value["bytesValue"]
        if not isinstance(raw, str):
            raise ValueError("bytesValue must be a base64 string")
        return {"bytesValue": base64.b64encode(base64.b64decode(raw, validate=True)).decode()}
    if "arrayValue" in value:
        return [otlp_to_tagged(item, depth + 1) for item in _array_items(value)]
    if "kvlistValue" in value:
        return {key: otlp_to_tagged(item, depth + 1) for key, item in _kvlist_entries(value)}
    return None


def otlp_to_python(value: Mapping[str, Any], depth: int = 0) -> Any:
    """OTLP-JSON AnyValue -> Python value (bytes stay bytes). Raises ValueError when malformed."""
    value = _check_any_value(value, depth)
    if "stringValue" in value:
        raw = value["stringValue"]
        if not isinstance(raw, str):
            raise ValueError("stringValue must be a string")
        return raw
    if "intValue" in value:
        return _otlp_int(value["intValue"])
    if "boolValue" in value:
        raw = value["boolValue"]
        if not isinstance(raw, bool):
            raise ValueError("boolValue must be a boolean")
        return raw
    if "doubleValue" in value:
        return _otlp_double(value["doubleValue"])
    if "bytesValue" in value:
        return base64.b64decode(str(value["bytesValue"]), validate=True)
    if "arrayValue" in value:
        return [otlp_to_python(item, depth + 1) for item in _array_items(value)]
    if "kvlistValue" in value:
        return {key: otlp_to_python(item, depth + 1) for key, item in _kvlist_entries(value)}
    return None


def _entry_key(entry: object) -> str:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str):
        raise ValueError("kvlist entry must be an object with a string key")
    return str(entry["key"])
