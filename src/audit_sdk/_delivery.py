"""A batching log processor that never evicts or drops a record without saying so.

OpenTelemetry's BatchLogRecordProcessor evicts the oldest record when its queue
is full and drops a batch whose export fails. Here a full queue makes the
caller wait (back-pressure, bounded by `enqueue_timeout`), a failed export is
retried with exponential backoff until shutdown, and every record that still
cannot be delivered is counted in `stats` and reported through a warning.
"""

from __future__ import annotations

import collections
import copy
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from audit_sdk._errors import AuditDeliveryError

__all__ = ["DeliveryStats", "ReliableBatchProcessor"]

_log = logging.getLogger("audit_sdk")


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Counters of one processor since start (or since fork, in a child)."""

    queued: int
    exported: int
    retries: int
    lost: int
    queue_depth: int


class ReliableBatchProcessor(LogRecordProcessor):
    """Batches records to an exporter; back-pressure instead of eviction, retry instead of drop."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        max_queue_size: int = 8192,
        max_export_batch_size: int = 512,
        schedule_delay: float = 0.2,
        enqueue_timeout: float | None = 30.0,
        max_backoff: float = 10.0,
    ) -> None:
        if max_queue_size < 1 or max_export_batch_size < 1:
            raise ValueError("queue and batch sizes must be positive")
        self._exporter = exporter
        self._max_queue = max_queue_size
        self._batch_size = min(max_export_batch_size, max_queue_size)
        self._delay = schedule_delay
        self._enqueue_timeout = enqueue_timeout
        self._max_backoff = max_backoff
        self._init_state()
        _PROCESSORS.add(self)

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[ReadableLogRecord] = collections.deque()
        self._in_flight = 0
        self._shutdown = False
        self._queued = self._exported = self._retries = self._lost = 0
        self._pid = os.getpid()
        self._worker = threading.Thread(target=self._run, name="audit-sdk-export", daemon=True)
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        # The parent's queued records are the parent's to deliver; the child starts empty.
        self._init_state()

    @property
    def stats(self) -> DeliveryStats:
        with self._cond:
            return DeliveryStats(
                self._queued, self._exported, self._retries, self._lost, len(self._queue)
            )

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        # a shallow copy without the caller's context: other processors keep theirs
        api_record = copy.copy(log_record.log_record)
        api_record.context = Context()
        readable = ReadableLogRecord(
            log_record=api_record,
            resource=log_record.resource,  # type: ignore[arg-type]
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        with self._cond:
            if self._shutdown:
                self._lost += 1
                raise AuditDeliveryError(
                    "the audit pipeline is shut down; the record was not queued"
                )
            if len(self._queue) >= self._max_queue:
                deadline = (
                    None
                    if self._enqueue_timeout is None
                    else time.monotonic() + self._enqueue_timeout
                )
                while len(self._queue) >= self._max_queue and not self._shutdown:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        self._lost += 1
                        raise AuditDeliveryError(
                            f"export queue full ({self._max_queue} records) for "
                            f"{self._enqueue_timeout}s: the exporter is not keeping up or is down"
                        )
                    self._cond.wait(remaining)
            self._queue.append(readable)
            self._queued += 1
            if len(self._queue) >= self._batch_size:
                self._cond.notify_all()

    def _run(self) -> None:
        backoff = 0.0
        batch_limit = self._batch_size  # halved while a batch keeps failing (too large?)
        failures = 0
        while True:
            with self._cond:
                if backoff:
                    self._cond.wait(backoff)
                elif len(self._queue) < self._batch_size and not self._shutdown:
                    self._cond.wait(self._delay)
                if not self._queue:
                    if self._shutdown:
                        return
                    continue
                batch = [self._queue[i] for i in range(min(batch_limit, len(self._queue)))]
                self._in_flight = len(batch)
            ok = self._export(batch)
            with self._cond:
                if ok:
                    # shutdown() may have cleared the queue (and counted it) while we exported
                    for _ in range(min(len(batch), len(self._queue))):
                        self._queue.popleft()
                    self._exported += len(batch)
                    backoff = 0.0
                    failures = 0
                    batch_limit = min(self._batch_size, batch_limit * 2)
                else:
                    self._retries += 1
                    failures += 1
                    backoff = min(self._max_backoff, max(0.05, backoff * 2))
                    if failures >= 2 and batch_limit > 1:
                        # a receiver refusing a message as too large refuses it every time
                        batch_limit = max(1, len(batch) // 2)
                    if self._shutdown:
                        self._in_flight = 0
                        self._cond.notify_all()
                        return
                self._in_flight = 0
                self._cond.notify_all()

    def _export(self, batch: list[ReadableLogRecord]) -> bool:
        try:
            return self._exporter.export(batch) is LogRecordExportResult.SUCCESS
        except Exception as exc:  # an exporter must not kill the worker
            _log.warning("audit export failed (%s); will retry", type(exc).__name__)
            return False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            self._cond.notify_all()
            while self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
                self._cond.notify_all()
        return True

    def shutdown(self, timeout_millis: int = 30000) -> None:
        """Drain what can be drained in time; count and report the rest as lost."""
        if os.getpid() != self._pid:
            return
        self.force_flush(timeout_millis)
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
        self._worker.join(max(1.0, timeout_millis / 1000))
        with self._cond:
            remaining = len(self._queue)
            if remaining:
                self._lost += remaining
                self._queue.clear()
        if remaining:
            _log.warning(
                "audit pipeline shut down with %d undelivered records (see the chain gap)",
                remaining,
            )
        self._exporter.shutdown()  # type: ignore[no-untyped-call]


_PROCESSORS: weakref.WeakSet[ReliableBatchProcessor] = weakref.WeakSet()


def _reinit_processors_in_child() -> None:
    for processor in list(_PROCESSORS):
        processor._after_fork_in_child()


os.register_at_fork(after_in_child=_reinit_processors_in_child)
