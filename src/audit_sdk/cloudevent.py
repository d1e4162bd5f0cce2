"""Turn an audit record into a structured-mode CloudEvent 1.0 (cloudevents 2.2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from audit_sdk import _names as n
from audit_sdk._record import AuditRecord

__all__ = ["to_cloudevent", "to_structured_json"]

# CloudEvents extension names: lower-case alphanumerics, at most 20 characters.
_EXTENSIONS = {
    n.ACTOR_ID: "auditactor",
    n.ACTOR_TYPE: "auditactortype",
    n.ACTION: "auditaction",
    n.OUTCOME: "auditoutcome",
    n.SEQ_STREAM_ID: "auditstream",
    n.SEQ_NUMBER: "auditsequence",
}


def to_cloudevent(record: AuditRecord | Mapping[str, Any]) -> CloudEvent:
    """Map a record (AuditRecord, or an OTLP-JSON logRecords entry) to a CloudEvent.

    `data` holds every attribute and the parsed details; `traceparent` (the
    Distributed Tracing extension) is set when the record carries a trace.
    """
    if not isinstance(record, AuditRecord):
        record = AuditRecord.from_otlp(record)
    attrs = record.attributes
    ts = record.timestamp
    ce_attributes: dict[str, Any] = {
        "id": str(attrs.get(n.CE_ID) or attrs[n.RECORD_ID]),
        "source": str(attrs[n.CE_SOURCE]),
        "type": str(attrs.get(n.CE_TYPE) or record.event_name),
        "specversion": "1.0",
        "time": datetime.fromtimestamp(ts // 1_000_000_000, tz=UTC).replace(
            microsecond=(ts % 1_000_000_000) // 1000
        ),
        "datacontenttype": "application/json",
    }
    if attrs.get(n.CE_SUBJECT):
        ce_attributes["subject"] = str(attrs[n.CE_SUBJECT])
    for attribute, extension in _EXTENSIONS.items():
        if attribute in attrs:
            ce_attributes[extension] = str(attrs[attribute])
    if record.trace_id and record.span_id:
        ce_attributes["traceparent"] = f"00-{record.trace_id}-{record.span_id}-01"
    data: dict[str, Any] = {
        "attributes": {k: _json_safe(v) for k, v in attrs.items()},
    }
    if record.body is not None:
        data["details"] = record.details
    return CloudEvent(ce_attributes, data)


def to_structured_json(record: AuditRecord | Mapping[str, Any]) -> bytes:
    """The structured-mode JSON bytes (`application/cloudevents+json`) of a record."""
    return JSONFormat().write(to_cloudevent(record))


def _json_safe(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
