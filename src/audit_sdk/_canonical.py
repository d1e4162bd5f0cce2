"""Canonical bytes, MAC and record hash of one log record (SPEC §2).

Shared by the SDK (which signs) and the verifier (which recomputes from the
OTLP-JSON that the file exporter wrote), so both sides agree by construction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from audit_sdk._jcs import canonicalize_fast, needs_exact_path
from audit_sdk._values import otlp_to_tagged

__all__ = [
    "INTEGRITY_PREFIX",
    "MacKey",
    "canonical_from_otlp",
    "compute_mac",
    "record_hash",
    "signing_object",
]

INTEGRITY_PREFIX = "audit.integrity."
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def signing_object(
    *,
    event_name: str,
    body: Any,
    timestamp: int,
    observed_timestamp: int,
    trace_id: str | None,
    span_id: str | None,
    tagged_attributes: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON object whose JCS bytes are signed. `body` is a str, a tagged value, or None."""
    obj: dict[str, Any] = {"attributes": tagged_attributes}
    if event_name:
        obj["event_name"] = event_name
    if body is not None:
        obj["body"] = body
    if timestamp:
        obj["timestamp"] = str(timestamp)
    if observed_timestamp:
        obj["observed_timestamp"] = str(observed_timestamp)
    if trace_id and trace_id != _ZERO_TRACE:
        obj["trace_id"] = trace_id
    if span_id and span_id != _ZERO_SPAN:
        obj["span_id"] = span_id
    return obj


def compute_mac(key: bytes, canonical: bytes) -> str:
    """Standard base64 of HMAC-SHA256 over the canonical bytes."""
    return base64.b64encode(hmac.digest(key, canonical, "sha256")).decode("ascii")


class MacKey:
    """HMAC-SHA256 with the key's inner and outer pad states computed once.

    Same bytes as `compute_mac`, at less than half the cost per record: OpenSSL 3
    makes a fresh HMAC context expensive, copying a hash state is cheap.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def __repr__(self) -> str:
        return "MacKey(<hidden>)"

    def mac(self, canonical: bytes) -> str:
        inner = self._inner.copy()
        inner.update(canonical)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return base64.b64encode(outer.digest()).decode("ascii")


def record_hash(canonical: bytes) -> str:
    """Lower-case hex SHA-256 of the canonical bytes: the next record's previous_hash."""
    return hashlib.sha256(canonical).hexdigest()


def _nanos(raw: object, field: str) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"{field} must be a decimal string")
    value = int(raw)
    if value < 0:
        raise ValueError(f"{field} must not be negative")
    return value


_HEX = re.compile(r"[0-9a-fA-F]+")


def _hex_id(raw: object, field: str, length: int) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) != length or not _HEX.fullmatch(raw):
        raise ValueError(f"{field} must be {length} hex digits")
    return raw.lower()


def canonical_from_otlp(log_record: Mapping[str, Any]) -> bytes:
    """Canonical bytes of one OTLP-JSON `logRecords` entry. Raises ValueError when malformed.

    Strict on purpose: an input that two readers could read differently (two
    value fields in one AnyValue, a map key given twice, a body that is not an
    AnyValue object) is refused rather than signed or verified one way.
    """
    try:
        return _canonical_from_otlp(log_record)
    except (AttributeError, TypeError) as exc:  # wrong JSON types deep inside
        raise ValueError(f"malformed log record: {exc}") from None


def _canonical_from_otlp(log_record: Mapping[str, Any]) -> bytes:
    raw_attrs = log_record.get("attributes") or []
    if not isinstance(raw_attrs, list):
        raise ValueError("attributes must be a list")
    tagged: dict[str, Any] = {}
    for entry in raw_attrs:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str):
            raise ValueError("each attribute must be an object with a string key")
        key = entry["key"]
        if key.startswith(INTEGRITY_PREFIX):
            continue
        if key in tagged:
            raise ValueError(f"attribute {key!r} appears twice")
        tagged[key] = otlp_to_tagged(entry.get("value") or {})
    body: Any = None
    raw_body = log_record.get("body")
    if raw_body is not None and not isinstance(raw_body, Mapping):
        raise ValueError("body must be an AnyValue object")
    if isinstance(raw_body, Mapping) and raw_body:
        body = otlp_to_tagged(raw_body)
        if isinstance(body, dict) and set(body) == {"stringValue"}:
            body = body["stringValue"]
    event_name = log_record.get("eventName") or ""
    if not isinstance(event_name, str):
        raise ValueError("eventName must be a string")
    obj = signing_object(
        event_name=event_name,
        body=body,
        timestamp=_nanos(log_record.get("timeUnixNano"), "timeUnixNano"),
        observed_timestamp=_nanos(log_record.get("observedTimeUnixNano"), "observedTimeUnixNano"),
        trace_id=_hex_id(log_record.get("traceId"), "traceId", 32),
        span_id=_hex_id(log_record.get("spanId"), "spanId", 16),
        tagged_attributes=tagged,
    )
    return canonicalize_fast(obj, exact=needs_exact_path(obj))
