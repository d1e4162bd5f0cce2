"""Durable delivery: a write-ahead spool between `audit_event()` and the exporter (issue 5)."""

from __future__ import annotations

from audit_sdk._spool._config import DeliveryOptions, resolve_delivery
from audit_sdk._spool._processor import (
    DEFAULT_SPOOL_MAX_BYTES,
    DeliveryPolicy,
    SpoolFsync,
    SpoolingProcessor,
    SpoolStats,
)
from audit_sdk._spool._store import ProcDirStatus, SpoolStatus, read_status

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "DeliveryOptions",
    "DeliveryPolicy",
    "ProcDirStatus",
    "SpoolFsync",
    "SpoolStats",
    "SpoolStatus",
    "SpoolingProcessor",
    "read_status",
    "resolve_delivery",
]
