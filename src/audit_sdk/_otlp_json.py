"""OTLP-JSON encoding of SDK log records, line for line what the collector's file exporter writes.

OTLP/JSON differs from protobuf's default JSON mapping: trace and span ids are
lower-case hex, 64-bit integers are decimal strings, enums are numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from audit_sdk._values import python_to_otlp

__all__ = ["encode_attributes", "encode_log_record", "encode_logs_line", "resource_logs"]


def encode_attributes(attributes: Mapping[str, object] | None) -> list[dict[str, Any]]:
    if not attributes:
        return []
    # BoundedAttributes takes a lock per item read; its plain dict does not
    items = getattr(attributes, "_dict", attributes).items()
    return [
        {"key": key, "value": {"stringValue": value}}
        if type(value) is str  # audit records are mostly strings: skip the general encoder
        else {"key": key, "value": python_to_otlp(value)}
        for key, value in items
    ]


def encode_log_record(record: ReadableLogRecord) -> dict[str, Any]:
    log = record.log_record
    out: dict[str, Any] = {}
    if log.timestamp:
        out["timeUnixNano"] = str(log.timestamp)
    if log.observed_timestamp:
        out["observedTimeUnixNano"] = str(log.observed_timestamp)
    if log.severity_number is not None and log.severity_number.value:
        out["severityNumber"] = log.severity_number.value
    if log.severity_text:
        out["severityText"] = log.severity_text
    body = log.body
    if body is not None:
        out["body"] = {"stringValue": body} if type(body) is str else python_to_otlp(body)
    attributes = encode_attributes(log.attributes)
    if attributes:
        out["attributes"] = attributes
    if log.trace_flags:
        out["flags"] = int(log.trace_flags)
    if log.trace_id:
        out["traceId"] = format(log.trace_id, "032x")
    if log.span_id:
        out["spanId"] = format(log.span_id, "016x")
    if log.event_name:
        out["eventName"] = log.event_name
    return out


def _scope(scope: InstrumentationScope | None) -> dict[str, Any]:
    if scope is None:
        return {}
    out: dict[str, Any] = {"name": scope.name}
    if scope.version:
        out["version"] = scope.version
    return out


def resource_logs(records: Iterable[ReadableLogRecord]) -> list[dict[str, Any]]:
    """Group records by Resource then scope, keeping their order within each group."""
    groups: dict[
        int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[Any]]]]
    ] = {}
    for record in records:
        res = record.resource
        _, scopes = groups.setdefault(id(res), (res, {}))
        scope = record.instrumentation_scope
        _, logs = scopes.setdefault(id(scope), (scope, []))
        logs.append(encode_log_record(record))
    out = []
    for res, scopes in groups.values():
        entry: dict[str, Any] = {"resource": {"attributes": encode_attributes(res.attributes)}}
        entry["scopeLogs"] = [
            {"scope": _scope(scope), "logRecords": logs} for scope, logs in scopes.values()
        ]
        if res.schema_url:
            entry["schemaUrl"] = res.schema_url
        out.append(entry)
    return out


def encode_logs_line(records: Sequence[ReadableLogRecord]) -> bytes:
    """One `{"resourceLogs": [...]}` line, newline-terminated."""
    return orjson.dumps({"resourceLogs": resource_logs(records)}) + b"\n"
