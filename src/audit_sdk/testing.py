"""Helpers for your own tests: capture the audit records your code emits.

    from audit_sdk.testing import capture_audit_records

    def test_export_is_audited():
        with capture_audit_records() as audit:
            export_invoice("inv-1")
        [record] = audit.by_event("billing.invoice.export")
        assert record.outcome == "success"

Records are captured synchronously (no batching, no files, no network): the
capture exporter here stands in for the real exporter, and is named as such.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)

from audit_sdk._configure import configure, install_default
from audit_sdk._keys import HmacKeyRing
from audit_sdk._logger import AuditLogger
from audit_sdk._record import AuditRecord

__all__ = ["AuditCapture", "CaptureExporter", "capture_audit_records"]


class CaptureExporter(LogRecordExporter):
    """An in-memory stand-in exporter that keeps AuditRecords in emit order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        converted = [AuditRecord.from_readable(record) for record in batch]
        with self._lock:
            self._records.extend(converted)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    @property
    def records(self) -> list[AuditRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class AuditCapture:
    """What `capture_audit_records()` yields: the records, the logger, the keys."""

    def __init__(
        self,
        logger: AuditLogger,
        exporter: CaptureExporter,
        keys: HmacKeyRing,
        checkpoint_key: Ed25519PrivateKey,
    ) -> None:
        self.logger = logger
        self.keys = keys
        self.checkpoint_key = checkpoint_key
        self._exporter = exporter

    @property
    def records(self) -> list[AuditRecord]:
        """Every captured record, checkpoints included."""
        return self._exporter.records

    @property
    def events(self) -> list[AuditRecord]:
        """Captured records that your code emitted (checkpoints and end records left out)."""
        return [record for record in self.records if not record.is_checkpoint]

    def by_event(self, event_name: str) -> list[AuditRecord]:
        return [record for record in self.records if record.event_name == event_name]

    def clear(self) -> None:
        self._exporter.clear()


@contextmanager
def capture_audit_records(
    *,
    service_name: str = "test-service",
    keys: HmacKeyRing | None = None,
    checkpoint_key: Ed25519PrivateKey | None = None,
    make_default: bool = True,
    **configure_options: Any,
) -> Iterator[AuditCapture]:
    """Route audit records to memory for the block; the previous default logger is restored."""
    keys = keys or HmacKeyRing.generate()
    checkpoint_key = checkpoint_key or Ed25519PrivateKey.generate()
    exporter = CaptureExporter()
    configure_options.setdefault("checkpoint_interval", None)
    logger = configure(
        service_name=service_name,
        keys=keys,
        checkpoint_key=checkpoint_key,
        processor=SimpleLogRecordProcessor(exporter),
        set_default=False,
        **configure_options,
    )
    previous = install_default(logger) if make_default else None
    try:
        yield AuditCapture(logger, exporter, keys, checkpoint_key)
    finally:
        if make_default:
            install_default(previous)
        logger.close()
