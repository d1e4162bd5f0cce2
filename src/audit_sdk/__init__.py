"""audit-sdk: tamper-evident audit trails on OpenTelemetry.

    import audit_sdk

    audit_sdk.configure(service_name="billing")        # keys from AUDIT_SDK_* variables
    audit_sdk.audit_event("invoice.export", action="EXPORT", actor="alice", target="inv-1")

    @audit_sdk.audited("invoice.delete", action="DELETE", target="invoice_id")
    def delete_invoice(invoice_id: str) -> None: ...

Each call emits one OTel log record shaped as a CloudEvent and an OTel audit
record, HMAC-signed, hash-chained per stream and covered by Ed25519-signed
checkpoints (see SPEC.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from audit_sdk._configure import DEFAULT_TRAIL_PATH, configure, get_audit_logger, shutdown
from audit_sdk._context import AuditContext, bind_context, context, current_context, reset_context
from audit_sdk._decorator import audited
from audit_sdk._delivery import DeliveryStats, ReliableBatchProcessor
from audit_sdk._errors import (
    AuditConfigurationError,
    AuditDeliveryError,
    AuditError,
    AuditNotConfigured,
    InvalidAuditEvent,
    KeyConfigurationError,
    RecordTooLarge,
)
from audit_sdk._keys import (
    HmacKeyRing,
    load_checkpoint_private_key,
    load_checkpoint_public_key,
    write_key_files,
)
from audit_sdk._logger import ActorType, AuditLogger, AuditReceipt, Outcome
from audit_sdk._otlp_http_json import OtlpHttpJsonLogExporter
from audit_sdk._record import AuditRecord
from audit_sdk._sink import FsyncPolicy, OtlpJsonFileExporter
from audit_sdk.cloudevent import to_cloudevent

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TRAIL_PATH",
    "ActorType",
    "AuditConfigurationError",
    "AuditContext",
    "AuditDeliveryError",
    "AuditError",
    "AuditLogger",
    "AuditNotConfigured",
    "AuditReceipt",
    "AuditRecord",
    "DeliveryStats",
    "FsyncPolicy",
    "HmacKeyRing",
    "InvalidAuditEvent",
    "KeyConfigurationError",
    "OtlpHttpJsonLogExporter",
    "OtlpJsonFileExporter",
    "Outcome",
    "RecordTooLarge",
    "ReliableBatchProcessor",
    "audit_event",
    "audited",
    "bind_context",
    "configure",
    "context",
    "current_context",
    "get_audit_logger",
    "load_checkpoint_private_key",
    "load_checkpoint_public_key",
    "reset_context",
    "shutdown",
    "to_cloudevent",
    "write_key_files",
]


def audit_event(
    event_name: str,
    *,
    action: str,
    outcome: str | Outcome = Outcome.SUCCESS,
    actor: str | None = None,
    actor_type: str | ActorType | None = None,
    target: str | None = None,
    target_type: str | None = None,
    source: str | None = None,
    source_type: str | None = None,
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    timestamp: int | float | datetime | None = None,
    record_id: str | None = None,
    logger: AuditLogger | None = None,
) -> AuditReceipt:
    """Emit one signed, chained audit record and return its receipt.

    `event_name` is a dot-separated type ("user.data.export"); `action` an
    upper-case verb ("EXPORT"); `outcome` success | failure | unknown. Actor,
    source and request id default to `audit_sdk.context()`, then "anonymous".
    `details` becomes the record body (RFC 8785 JSON); `attributes` adds your
    own non-`audit.*` attributes. Raises InvalidAuditEvent, naming the field,
    before anything is emitted when the input is wrong.
    """
    return (logger or get_audit_logger()).emit(
        event_name,
        action=action,
        outcome=outcome,
        actor=actor,
        actor_type=actor_type,
        target=target,
        target_type=target_type,
        source=source,
        source_type=source_type,
        request_id=request_id,
        details=details,
        attributes=attributes,
        timestamp=timestamp,
        record_id=record_id,
    )
