"""A structlog processor that turns events marked `audit=True` into audit records.

    import structlog
    from audit_sdk.integrations.structlog_processor import AuditProcessor

    structlog.configure(processors=[
        structlog.contextvars.merge_contextvars,
        AuditProcessor(),                       # before the renderer
        structlog.processors.JSONRenderer(),
    ])
    log = structlog.get_logger()
    log.info("invoice.export", audit=True, action="EXPORT", target="inv-1",
             details={"format": "csv"})

The event (structlog's first argument) is the audit event name, so name
audit events like `invoice.export`. Mapping from the event dict:

| event dict key | audit_event argument |
|---|---|
| `event` (or `audit_event_name`, which wins) | `event_name` |
| `action` (required), `outcome` | `action`, `outcome` |
| `actor`, `actor_type`, `target`, `target_type`, `source`, `source_type`, `request_id` | the same |
| `details` (a mapping), plus the keys named in `detail_keys` | `details` |

A marker that is a mapping (`audit={"action": "EXPORT"}`) supplies or
overrides these keys without adding them to the log line. The marker is
removed from the event dict; everything else passes on unchanged, and the
record id is added under `record_id_key` (default `audit_record_id`).
Keys that `merge_contextvars` put in the event dict count like keys given in
the call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from audit_sdk._configure import get_audit_logger
from audit_sdk._errors import AuditError, InvalidAuditEvent
from audit_sdk._logger import AuditLogger
from audit_sdk.integrations._arguments import TEXT_ARGUMENTS

__all__ = ["AuditProcessor"]

_ARGUMENTS = TEXT_ARGUMENTS


class AuditProcessor:
    """structlog processor: emit an audit record for each event carrying the marker.

    `raise_errors=True` (the default) lets a refused event raise from the log
    call, as `audit_event()` would: a mistake in an audit call is not silently
    lost. With `raise_errors=False` the failure is counted in `errors`, and the
    event goes on with `audit_error` set to the reason.
    """

    def __init__(
        self,
        *,
        marker: str = "audit",
        detail_keys: Iterable[str] = (),
        record_id_key: str | None = "audit_record_id",
        raise_errors: bool = True,
        logger: AuditLogger | None = None,
    ) -> None:
        if isinstance(detail_keys, str):
            raise TypeError("detail_keys takes a list of keys, not one string")
        self.marker = marker
        self.detail_keys = tuple(detail_keys)
        self.record_id_key = record_id_key
        self.raise_errors = raise_errors
        self._logger = logger
        self._lock = threading.Lock()
        self.emitted = 0
        self.errors = 0

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        marker = event_dict.pop(self.marker, None)
        if not marker:
            return event_dict
        fields: dict[str, Any] = dict(event_dict)
        if isinstance(marker, Mapping):
            fields.update(marker)
        arguments = {name: fields[name] for name in _ARGUMENTS if fields.get(name) is not None}
        try:
            if "action" not in arguments:
                raise InvalidAuditEvent("action", "an audit=True event needs action=...")
            receipt = (self._logger or get_audit_logger()).emit(
                fields.get("audit_event_name") or fields.get("event"),  # type: ignore[arg-type]
                details=self._details(fields),
                **arguments,
            )
        except AuditError as exc:
            with self._lock:
                self.errors += 1
            if self.raise_errors:
                raise
            event_dict["audit_error"] = str(exc)
            return event_dict
        with self._lock:
            self.emitted += 1
        if self.record_id_key:
            event_dict[self.record_id_key] = receipt.record_id
        return event_dict

    def _details(self, fields: Mapping[str, Any]) -> Any:
        """The explicit `details` merged with the keys named in `detail_keys`."""
        details = fields.get("details")
        picked = {key: fields[key] for key in self.detail_keys if key in fields}
        if not picked or (details is not None and not isinstance(details, Mapping)):
            return details  # a non-mapping is refused by emit, which names the problem
        return {**(details or {}), **picked}
