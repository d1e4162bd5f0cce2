"""AuditRecord: one emitted audit record as data, whichever side it was read from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord

from audit_sdk import _names as n
from audit_sdk._canonical import signing_object
from audit_sdk._jcs import canonicalize
from audit_sdk._otlp_json import encode_attributes
from audit_sdk._values import otlp_to_python, tag_attributes

__all__ = ["AuditRecord"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An audit record's signed fields, its attributes and its Resource."""

    event_name: str
    timestamp: int
    observed_timestamp: int
    attributes: Mapping[str, Any]
    body: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def record_id(self) -> str:
        return str(self.attributes[n.RECORD_ID])

    @property
    def stream_id(self) -> str:
        return str(self.attributes[n.SEQ_STREAM_ID])

    @property
    def sequence_number(self) -> int:
        return int(self.attributes[n.SEQ_NUMBER])

    @property
    def actor(self) -> str:
        return str(self.attributes[n.ACTOR_ID])

    @property
    def action(self) -> str:
        return str(self.attributes[n.ACTION])

    @property
    def outcome(self) -> str:
        return str(self.attributes[n.OUTCOME])

    @property
    def details(self) -> Any:
        """The body parsed back from its canonical JSON; None when there is no body."""
        return None if self.body is None else json.loads(self.body)

    @property
    def is_checkpoint(self) -> bool:
        return self.event_name == n.CHECKPOINT_EVENT

    def canonical_bytes(self) -> bytes:
        """Canonical bytes per SPEC §2 (what the MAC and the record hash cover)."""
        tagged, _ = tag_attributes(self.attributes)  # leaves audit.integrity.* out itself
        return canonicalize(
            signing_object(
                event_name=self.event_name,
                body=self.body,
                timestamp=self.timestamp,
                observed_timestamp=self.observed_timestamp,
                trace_id=self.trace_id,
                span_id=self.span_id,
                tagged_attributes=tagged,
            )
        )

    @classmethod
    def from_readable(cls, record: ReadableLogRecord) -> AuditRecord:
        log = record.log_record
        body = log.body if isinstance(log.body, str) else None
        return cls(
            event_name=log.event_name or "",
            timestamp=log.timestamp or 0,
            observed_timestamp=log.observed_timestamp or 0,
            attributes=dict(log.attributes or {}),
            body=body,
            trace_id=format(log.trace_id, "032x") if log.trace_id else None,
            span_id=format(log.span_id, "016x") if log.span_id else None,
            resource=dict(record.resource.attributes),
        )

    @classmethod
    def from_otlp(
        cls, log_record: Mapping[str, Any], resource: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        """From one OTLP-JSON `logRecords` entry (as the file exporter writes it)."""
        attributes = {
            entry["key"]: otlp_to_python(entry.get("value") or {})
            for entry in log_record.get("attributes") or []
        }
        raw_body = log_record.get("body") or {}
        body = raw_body.get("stringValue") if isinstance(raw_body, Mapping) else None
        return cls(
            event_name=log_record.get("eventName") or "",
            timestamp=int(log_record.get("timeUnixNano") or 0),
            observed_timestamp=int(log_record.get("observedTimeUnixNano") or 0),
            attributes=attributes,
            body=body,
            trace_id=log_record.get("traceId") or None,
            span_id=log_record.get("spanId") or None,
            resource=dict(resource or {}),
        )

    def to_otlp(self) -> dict[str, Any]:
        """This record as one OTLP-JSON `logRecords` entry."""
        out: dict[str, Any] = {
            "timeUnixNano": str(self.timestamp),
            "observedTimeUnixNano": str(self.observed_timestamp),
        }
        if self.body is not None:
            out["body"] = {"stringValue": self.body}
        out["attributes"] = encode_attributes(self.attributes)
        if self.trace_id:
            out["traceId"] = self.trace_id
        if self.span_id:
            out["spanId"] = self.span_id
        if self.event_name:
            out["eventName"] = self.event_name
        return out
