"""Spool segment lines: framing, metadata and rebuilding exportable log records.

A segment is a file of lines. Each line is one byte of kind (`M` metadata,
`R` record), the CRC-32 of the payload in 8 lower-case hex digits, a space, the
payload (compact JSON without raw newlines) and `\\n`:

    M1c291ca3 {"v":1,"resource":{...},"scope":{...}}
    Rdeadbeef {"timeUnixNano":"...","attributes":[...],...}

An `R` payload is one OTLP-JSON `logRecords` entry exactly as the embedded sink
and the collector's file exporter write it; it belongs to the Resource and
scope of the last `M` line before it in the same segment (every segment starts
with one). A line without its newline is a torn write (the process died
mid-append) and is ignored; a complete line whose CRC does not match is corrupt
and is counted.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import TraceFlags

from audit_sdk._otlp_json import encode_attributes, encode_log_record
from audit_sdk._values import otlp_to_python

__all__ = [
    "FORMAT_VERSION",
    "KIND_META",
    "KIND_RECORD",
    "Line",
    "Meta",
    "decode_meta",
    "decode_record",
    "encode_meta",
    "encode_record",
    "frame",
    "iter_lines",
]

FORMAT_VERSION = 1
KIND_META = ord("M")
KIND_RECORD = ord("R")
_HEADER = 10  # kind + 8 hex digits + space


def frame(kind: bytes, payload: bytes) -> bytes:
    return b"%s%08x %s\n" % (kind, zlib.crc32(payload), payload)


def encode_record(record: Any) -> bytes:
    """One framed `R` line for a ReadWriteLogRecord or ReadableLogRecord."""
    return frame(b"R", orjson.dumps(encode_log_record(cast(ReadableLogRecord, record))))


def encode_meta(resource: Resource | None, scope: InstrumentationScope | None) -> bytes:
    meta: dict[str, Any] = {"v": FORMAT_VERSION}
    res: dict[str, Any] = {"attributes": encode_attributes(resource.attributes if resource else {})}
    if resource is not None and resource.schema_url:
        res["schemaUrl"] = resource.schema_url
    meta["resource"] = res
    if scope is not None:
        sc: dict[str, Any] = {"name": scope.name}
        if scope.version:
            sc["version"] = scope.version
        if scope.schema_url:
            sc["schemaUrl"] = scope.schema_url
        if scope.attributes:
            sc["attributes"] = encode_attributes(scope.attributes)
        meta["scope"] = sc
    return frame(b"M", orjson.dumps(meta))


@dataclass(frozen=True, slots=True)
class Line:
    """One complete line of a segment: its kind, payload and where it ends."""

    kind: int
    payload: bytes
    end: int  # offset just after the newline, relative to the segment start
    ok: bool  # False: complete but corrupt (bad CRC or kind)


def iter_lines(data: bytes, base: int = 0) -> Iterator[Line]:
    """The complete lines of `data` (which starts at segment offset `base`).

    Stops before a trailing partial line (no newline): the caller reads on from
    the last `end` when more data is there, or treats it as a torn write.
    """
    start = 0
    size = len(data)
    while start < size:
        nl = data.find(b"\n", start)
        if nl < 0:
            return
        line = data[start:nl]
        end = base + nl + 1
        ok = False
        if len(line) > _HEADER and line[0] in (KIND_META, KIND_RECORD) and line[9] == 0x20:
            payload = line[_HEADER:]
            try:
                ok = int(line[1:9], 16) == zlib.crc32(payload)
            except ValueError:
                ok = False
            yield Line(line[0], payload, end, ok)
        else:
            yield Line(line[0] if line else 0, b"", end, False)
        start = nl + 1


@dataclass(frozen=True, slots=True)
class Meta:
    resource: Resource
    scope: InstrumentationScope | None


def _attrs(entries: Any) -> dict[str, Any]:
    return {e["key"]: otlp_to_python(e.get("value") or {}) for e in entries or []}


def decode_meta(payload: bytes) -> Meta:
    """Raises ValueError (or KeyError/TypeError) when the payload is malformed."""
    meta = orjson.loads(payload)
    if not isinstance(meta, Mapping) or meta.get("v") != FORMAT_VERSION:
        raise ValueError("unsupported spool metadata version")
    res = meta.get("resource") or {}
    resource = Resource(_attrs(res.get("attributes")), res.get("schemaUrl"))
    sc = meta.get("scope")
    scope = None
    if sc is not None:
        scope = InstrumentationScope(
            sc["name"],
            sc.get("version"),
            sc.get("schemaUrl"),
            _attrs(sc.get("attributes")) or None,
        )
    return Meta(resource, scope)


def decode_record(payload: bytes, meta: Meta) -> ReadableLogRecord:
    """Rebuild the record so that exporters encode exactly the fields that were signed."""
    entry = orjson.loads(payload)
    body = entry.get("body")
    record = LogRecord(
        timestamp=int(entry["timeUnixNano"]) if "timeUnixNano" in entry else None,
        observed_timestamp=int(entry.get("observedTimeUnixNano") or 0),
        context=Context(),
        severity_text=entry.get("severityText"),
        severity_number=(
            SeverityNumber(entry["severityNumber"]) if "severityNumber" in entry else None
        ),
        body=None if body is None else otlp_to_python(body),
        attributes=_attrs(entry.get("attributes")),
        event_name=entry.get("eventName"),
    )
    if "traceId" in entry:
        record.trace_id = int(entry["traceId"], 16)
    if "spanId" in entry:
        record.span_id = int(entry["spanId"], 16)
    if "flags" in entry:
        record.trace_flags = TraceFlags(int(entry["flags"]))
    return ReadableLogRecord(
        log_record=record, resource=meta.resource, instrumentation_scope=meta.scope
    )


def observed_of(payload: bytes) -> int:
    """The record's observed timestamp (ns) without decoding the whole record."""
    key = b'"observedTimeUnixNano":"'
    at = payload.find(key)
    if at < 0:
        return 0
    start = at + len(key)
    end = payload.find(b'"', start)
    try:
        return int(payload[start:end])
    except ValueError:
        return 0
