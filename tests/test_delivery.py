"""ReliableBatchProcessor: back-pressure instead of eviction, retry instead of drop.

The exporters here are stand-ins named for what they do (FlakyExporter,
BlockingExporter): they record what they were given in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

import audit_sdk
from audit_sdk import ReliableBatchProcessor


class FlakyExporter(LogRecordExporter):
    """Fails the first `failures` exports (alternating a FAILURE result and an exception)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.records: list[str] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.calls += 1
        if self.calls <= self.failures:
            if self.calls % 2:
                raise ConnectionError("collector down")
            return LogRecordExportResult.FAILURE
        self.records.extend(str(r.log_record.attributes["audit.record.id"]) for r in batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class BlockingExporter(FlakyExporter):
    """Holds every export until `release` is set."""

    def __init__(self) -> None:
        super().__init__(0)
        self.release = threading.Event()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.release.wait(10)
        return super().export(batch)


def _logger(processor: ReliableBatchProcessor, keys: Any) -> audit_sdk.AuditLogger:
    return audit_sdk.configure(
        keys=keys,
        processor=processor,
        checkpoint_interval=None,
        checkpoint_every=10**6,
        set_default=False,
    )


def test_failed_exports_are_retried_until_delivered(keys: Any) -> None:
    exporter = FlakyExporter(failures=4)
    processor = ReliableBatchProcessor(exporter, schedule_delay=0.01, max_backoff=0.05)
    logger = _logger(processor, keys)
    receipts = [logger.emit("doc.read", action="READ") for _ in range(50)]
    assert processor.force_flush(10_000)
    assert exporter.records == [r.record_id for r in receipts]
    stats = processor.stats
    assert stats.retries == 4 and stats.lost == 0 and stats.exported == 50
    logger.close()


def test_full_queue_makes_callers_wait_instead_of_evicting(keys: Any) -> None:
    exporter = BlockingExporter()
    processor = ReliableBatchProcessor(
        exporter, max_queue_size=10, max_export_batch_size=5, schedule_delay=0.01
    )
    logger = _logger(processor, keys)
    done = threading.Event()

    def emit_many() -> None:
        for _ in range(30):
            logger.emit("doc.read", action="READ")
        done.set()

    thread = threading.Thread(target=emit_many)
    thread.start()
    deadline = time.monotonic() + 10
    while processor.stats.queue_depth < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert not done.is_set()  # blocked by back-pressure, nothing evicted
    assert processor.stats.queue_depth == 10
    exporter.release.set()
    thread.join(10)
    assert done.is_set()
    assert processor.force_flush(10_000)
    assert len(exporter.records) == 30 and processor.stats.lost == 0
    logger.close()


def test_queue_full_past_the_timeout_raises_and_uses_no_sequence_number(keys: Any) -> None:
    exporter = BlockingExporter()
    processor = ReliableBatchProcessor(
        exporter, max_queue_size=2, max_export_batch_size=2, schedule_delay=10, enqueue_timeout=0.1
    )
    logger = _logger(processor, keys)
    first = [logger.emit("doc.read", action="READ") for _ in range(2)]
    with pytest.raises(audit_sdk.AuditDeliveryError, match="queue full"):
        logger.emit("doc.read", action="READ")
    exporter.release.set()
    processor.force_flush(5000)
    assert logger.emit("doc.read", action="READ").sequence_number == first[-1].sequence_number + 1
    logger.close()


def test_shutdown_reports_what_could_not_be_delivered(keys: Any, caplog: Any) -> None:
    exporter = FlakyExporter(failures=10**9)
    processor = ReliableBatchProcessor(exporter, schedule_delay=0.01, max_backoff=0.02)
    for _ in range(7):
        _logger(processor, keys).emit("doc.read", action="READ")
    processor.shutdown(timeout_millis=300)
    assert processor.stats.lost == 7
    assert any("7 undelivered records" in m for m in caplog.messages)
    with pytest.raises(audit_sdk.AuditDeliveryError, match="shut down"):
        _logger(processor, keys).emit("doc.read", action="READ")


class SizeLimitedExporter(FlakyExporter):
    """Refuses any batch of more than `limit` records, as a receiver refuses a too-large message."""

    def __init__(self, limit: int) -> None:
        super().__init__(0)
        self.limit = limit
        self.refused = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if len(batch) > self.limit:
            self.refused += 1
            return LogRecordExportResult.FAILURE
        return super().export(batch)


def test_a_batch_refused_as_too_large_is_split_until_it_goes_through(keys: Any) -> None:
    exporter = SizeLimitedExporter(limit=30)
    processor = ReliableBatchProcessor(
        exporter, max_export_batch_size=256, schedule_delay=0.01, max_backoff=0.02
    )
    logger = _logger(processor, keys)
    receipts = [logger.emit("doc.read", action="READ") for _ in range(300)]
    assert processor.force_flush(20_000)
    assert exporter.records == [r.record_id for r in receipts]
    assert exporter.refused >= 2 and processor.stats.lost == 0
    assert logger.delivery_stats == processor.stats
    logger.close()
