"""A stdlib `logging` handler that turns chosen log records into audit records.

    import logging
    from audit_sdk.integrations.logging_handler import AuditHandler

    logging.getLogger("billing").addHandler(AuditHandler())
    log = logging.getLogger("billing")
    log.info("invoice %s exported", "inv-1",
             extra={"audit": {"event": "invoice.export", "action": "EXPORT",
                              "target": "inv-1", "details": {"format": "csv"}}})

Only records carrying `extra={"audit": {...}}` are audited; every other
record is ignored. The `audit` mapping holds `audit_event()` arguments:

- `event` or `event_name` (required): the event name;
- `action` (required): the action;
- `outcome`: default `failure` when the record carries exc_info
  (`log.exception`), else `success`;
- `actor`, `actor_type`, `target`, `target_type`, `source`, `source_type`,
  `request_id`, `details`, `attributes`, `record_id`: the same arguments.

With exc_info, the exception's qualified class name is added as the
`error.type` attribute, as `@audited` does. `message_key="message"` also stores
the formatted log message in the details (off by default: free text may hold
personal data that no pseudonymizer can find).

The handler never raises into the application's logging: a refused or
failed record is counted in `errors` and reported through
`Handler.handleError` (stderr, with the reason). The audit record id is set on
the LogRecord as `audit_record_id` for handlers that run after this one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from audit_sdk import _names as n
from audit_sdk._configure import get_audit_logger
from audit_sdk._errors import InvalidAuditEvent, error_type_name
from audit_sdk._logger import AuditLogger
from audit_sdk.integrations._arguments import TEXT_ARGUMENTS

__all__ = ["AuditHandler"]

_ARGUMENTS = (*TEXT_ARGUMENTS, "details", "attributes", "record_id")
_KNOWN = frozenset(_ARGUMENTS) | {"event", "event_name"}




class AuditHandler(logging.Handler):
    """Emit one audit record for each log record carrying an `audit` mapping."""

    def __init__(
        self,
        level: int = logging.NOTSET,
        *,
        attribute: str = "audit",
        message_key: str | None = None,
        logger: AuditLogger | None = None,
    ) -> None:
        super().__init__(level)
        self.attribute = attribute
        self.message_key = message_key
        self._audit_logger = logger
        self._counts_lock = threading.Lock()
        self.emitted = 0
        self.errors = 0
        self.last_error: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        spec = getattr(record, self.attribute, None)
        if spec is None:
            return
        try:
            receipt = (self._audit_logger or get_audit_logger()).emit(
                **self._arguments(spec, record)
            )
        except Exception as exc:
            with self._counts_lock:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.handleError(record)
            return
        record.audit_record_id = receipt.record_id
        with self._counts_lock:
            self.emitted += 1

    def _arguments(self, spec: object, record: logging.LogRecord) -> dict[str, Any]:
        if not isinstance(spec, Mapping):
            raise InvalidAuditEvent(
                self.attribute, f"must be a mapping of audit_event arguments, got {spec!r}"
            )
        unknown = sorted(str(key) for key in spec if key not in _KNOWN)
        if unknown:
            raise InvalidAuditEvent(self.attribute, f"unknown keys {unknown}")
        event_name = spec.get("event_name", spec.get("event"))
        if event_name is None:
            raise InvalidAuditEvent(f"{self.attribute}.event", "is required")
        if spec.get("action") is None:
            raise InvalidAuditEvent(f"{self.attribute}.action", "is required")
        arguments: dict[str, Any] = {
            name: spec[name] for name in _ARGUMENTS if spec.get(name) is not None
        }
        arguments["event_name"] = event_name
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            arguments.setdefault("outcome", "failure")
            attributes = dict(arguments.get("attributes") or {})
            attributes.setdefault(n.ERROR_TYPE, error_type_name(exc))
            arguments["attributes"] = attributes
        if self.message_key:
            details = arguments.get("details")
            if details is not None and not isinstance(details, Mapping):
                raise InvalidAuditEvent(f"{self.attribute}.details", "must be a mapping")
            arguments["details"] = {**(details or {}), self.message_key: record.getMessage()}
        return arguments
