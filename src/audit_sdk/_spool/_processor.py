"""SpoolingProcessor: a write-ahead spool between `audit_event()` and the exporter.

`on_emit` appends the record to an append-only segment file in this
process's spool directory before it returns (and, with `fsync="always"`,
after an fdatasync shared by concurrent callers: group commit). A drain thread
reads what is not yet acknowledged, exports it with retry and backoff, writes
the acknowledged position to disk and deletes segments once fully
acknowledged. Directories left by processes that died are adopted and sent
again; the receiver and the verifier tolerate the exact duplicates this can
produce.

A record the spool refuses (durable / fail_closed) raises AuditDeliveryError
from `on_emit`, so the AuditLogger does not advance its chain: no gap. In
best_effort a record that cannot be spooled is dropped, counted, reported
(metric and warning) and shows as a gap in the chain. See docs/delivery.md.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import errno
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from opentelemetry import metrics
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from audit_sdk._errors import AuditConfigurationError, AuditDeliveryError
from audit_sdk._spool._format import (
    KIND_META,
    Meta,
    decode_meta,
    decode_record,
    encode_meta,
    encode_record,
    iter_lines,
)
from audit_sdk._spool._store import (
    AckPosition,
    ProcDir,
    fsync_dir,
    list_segments,
    other_proc_dirs,
    read_ack,
    scan_pending,
    segment_path,
)

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "MIN_SPOOL_MAX_BYTES",
    "DeliveryPolicy",
    "SpoolFsync",
    "SpoolStats",
    "SpoolingProcessor",
]

_log = logging.getLogger("audit_sdk")

DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
MIN_SPOOL_MAX_BYTES = 64 * 1024
_MAX_SEGMENT_BYTES = 16 * 1024 * 1024
_MIN_SEGMENT_BYTES = 16 * 1024
_READ_CHUNK = 4 * 1024 * 1024
_MAX_BATCH_BYTES = 4 * 1024 * 1024
_CACHE_MAX = 8192  # records kept in memory for the drain thread; beyond, it reads the disk
_INTERVAL_FSYNC_SECONDS = 1.0
_STATE_EVERY_SECONDS = 1.0
_WARN_EVERY_SECONDS = 10.0
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DeliveryPolicy(StrEnum):
    """What `audit_event()` promises about a record when it returns."""

    DURABLE = "durable"  # on disk; waits (bounded) when the spool or disk is full, then raises
    FAIL_CLOSED = "fail_closed"  # on disk; raises at once when it cannot be
    BEST_EFFORT = "best_effort"  # never raises or waits; what is lost is counted


class SpoolFsync(StrEnum):
    """When spooled records are forced to stable storage."""

    ALWAYS = "always"  # fdatasync before audit_event() returns; concurrent callers share one
    INTERVAL = "interval"  # the drain thread fdatasyncs about every second
    NEVER = "never"  # the OS writes back; survives a process crash, not a power cut


_DEFAULT_FSYNC = {
    DeliveryPolicy.DURABLE: SpoolFsync.ALWAYS,
    DeliveryPolicy.FAIL_CLOSED: SpoolFsync.ALWAYS,
    DeliveryPolicy.BEST_EFFORT: SpoolFsync.INTERVAL,
}


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """Counters of one processor since start (or since fork, in a child)."""

    policy: str
    spooled: int  # records appended to the spool
    sent: int  # records the exporter acknowledged (re-sends after a restart included)
    retried: int  # record export attempts that failed and were retried
    lost: int  # best_effort drops and corrupt spool lines: gaps in the chain
    refused: int  # records refused with AuditDeliveryError (never chained: no gap)
    queue_depth: int  # records spooled but not yet acknowledged (adopted ones included)
    spool_bytes: int  # this process's own segment bytes (what spool_max_bytes bounds)
    oldest_unsent_age: float  # seconds; 0 when nothing waits
    adopted_dirs: int  # directories of dead processes being sent

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Source:
    """One directory the drain thread sends from: this process's own, or an adopted one."""

    def __init__(self, proc: ProcDir, *, own: bool, cursor: AckPosition) -> None:
        self.proc = proc
        self.own = own
        self.cursor = cursor  # the next position to read; everything before is acknowledged
        self.pending: collections.deque[tuple[int, int, int]] = collections.deque()
        self.segments: list[int] = []  # adopted: segment numbers still on disk
        # own: the records themselves, so that the drain thread need not decode them from
        # disk; it holds every record written after `cache_from` (None: off after overflow)
        self.cache: collections.deque[tuple[int, int, ReadableLogRecord]] = collections.deque()
        self.cache_from: AckPosition | None = (0, 0) if own else None
        self.read_seg = -1
        self.read_fd: int | None = None
        self.meta: Meta | None = None  # the metadata in force at the cursor
        self.corrupt = 0

    def close_reader(self) -> None:
        if self.read_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.read_fd)
        self.read_fd = None
        self.read_seg = -1
        self.meta = None


@dataclass(slots=True)
class _Batch:
    records: list[ReadableLogRecord]
    end: AckPosition  # cursor after this batch
    corrupt: int
    meta: Meta | None = None  # the metadata in force at `end` (when read from disk)


def _read_lines(fd: int, offset: int, limit: int | None) -> bytes:
    """Bytes from `offset` holding at least one complete line when there is one."""
    want = _READ_CHUNK if limit is None else min(_READ_CHUNK, limit - offset)
    data = os.pread(fd, want, offset)
    while b"\n" not in data and len(data) == want and (limit is None or offset + want < limit):
        want *= 2  # a line longer than the chunk
        if limit is not None:
            want = min(want, limit - offset)
        data = os.pread(fd, want, offset)
    return data


class SpoolingProcessor(LogRecordProcessor):
    """Write-ahead spool with at-least-once delivery; see the module docstring."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        spool_dir: str | os.PathLike[str],
        policy: DeliveryPolicy | str = DeliveryPolicy.DURABLE,
        max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
        fsync: SpoolFsync | str | None = None,
        block_timeout: float = 30.0,
        max_export_batch_size: int = 512,
        schedule_delay: float = 0.1,
        max_backoff: float = 5.0,
        shutdown_timeout: float = 10.0,
        adopt_interval: float = 5.0,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        try:
            self.policy = DeliveryPolicy(policy)
        except ValueError:
            raise AuditConfigurationError(
                f"delivery policy {policy!r} is not one of {[p.value for p in DeliveryPolicy]}"
            ) from None
        try:
            self.fsync = _DEFAULT_FSYNC[self.policy] if fsync is None else SpoolFsync(fsync)
        except ValueError:
            raise AuditConfigurationError(
                f"spool fsync {fsync!r} is not one of {[f.value for f in SpoolFsync]}"
            ) from None
        if max_bytes < MIN_SPOOL_MAX_BYTES:
            raise AuditConfigurationError(f"spool_max_bytes must be >= {MIN_SPOOL_MAX_BYTES}")
        if max_export_batch_size < 1:
            raise AuditConfigurationError("max_export_batch_size must be positive")
        if block_timeout < 0 or shutdown_timeout < 0:
            raise AuditConfigurationError("timeouts must not be negative")
        self.spool_dir = Path(spool_dir)
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditConfigurationError(
                f"cannot create the spool directory {self.spool_dir}: {exc.strerror}"
            ) from None
        if not os.access(self.spool_dir, os.W_OK | os.X_OK):
            raise AuditConfigurationError(f"the spool directory {self.spool_dir} is not writable")
        self._exporter = exporter
        self.max_bytes = max_bytes
        self._segment_bytes = max(_MIN_SEGMENT_BYTES, min(_MAX_SEGMENT_BYTES, max_bytes // 8))
        self._block_timeout = block_timeout
        self._batch_size = max_export_batch_size
        self._delay = schedule_delay
        self._max_backoff = max_backoff
        self._shutdown_timeout = shutdown_timeout
        self._adopt_interval = adopt_interval
        self._attrs = {"audit.delivery.policy": self.policy.value}
        self._closed = False
        self._register_metrics(meter_provider)
        self._init_state()  # starts the drain thread: last
        _PROCESSORS.add(self)

    # -- state ----------------------------------------------------------------

    def _init_state(self) -> None:
        self._pid = os.getpid()
        self._started = time.time()
        self._wlock = threading.Lock()
        self._space = threading.Condition(self._wlock)  # writers waiting for room
        self._sync_cond = threading.Condition(self._wlock)  # group commit
        self._progress = threading.Condition(self._wlock)  # force_flush waiting for acks
        self._wake = threading.Event()
        self._abort = threading.Event()
        self._closed = False
        self._stopping = False
        # writer state (under _wlock)
        self._proc: ProcDir | None = None
        self._own: _Source | None = None
        self._seg_no = 0
        self._seg_fd: int | None = None
        self._seg_size = 0
        self._own_segments: dict[int, int] = {}  # segment -> valid bytes
        self._own_bytes = 0
        self._meta_key: tuple[Resource | None, InstrumentationScope | None] | None = None
        self._meta_cache: tuple[object, object, bytes] | None = None
        self._written: AckPosition = (0, 0)
        self._synced: AckPosition = (0, 0)
        self._committed: AckPosition = (0, 0)  # what the drain thread may read
        self._syncing = False
        self._failed: list[tuple[AckPosition, AckPosition, str]] = []
        # drain state
        self._sources: list[_Source] = []
        self._rr = 0
        self._meta_by_payload: dict[bytes, Meta] = {}
        # counters
        self._spooled = self._sent = self._retried = self._lost = self._refused = 0
        self._last_warned = 0.0
        self._lost_warned = 0
        self._export_failing = 0
        self._state_key: tuple[int, ...] = ()
        self._worker = threading.Thread(target=self._run, name="audit-sdk-spool", daemon=True)
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        # Everything the parent holds stays the parent's: close the inherited fds
        # (never unlock: flock locks are shared with the parent) and start afresh.
        if self._seg_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._seg_fd)
        for source in self._sources:
            source.close_reader()
            source.proc.forget_in_child()
        if self._proc is not None:
            self._proc.forget_in_child()
        closed = self._closed
        _reset_exporter_after_fork(self._exporter)
        self._init_state()
        self._closed = closed

    @property
    def stats(self) -> SpoolStats:
        with self._wlock:
            return self._stats_locked()

    def _stats_locked(self) -> SpoolStats:
        return SpoolStats(
            policy=self.policy.value,
            spooled=self._spooled,
            sent=self._sent,
            retried=self._retried,
            lost=self._lost,
            refused=self._refused,
            queue_depth=self._depth_locked(),
            spool_bytes=self._own_bytes,
            oldest_unsent_age=self._oldest_age_locked(),
            adopted_dirs=sum(1 for s in self._sources if not s.own),
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def directory(self) -> Path | None:
        """This process's own spool subdirectory (created at the first record)."""
        proc = self._proc
        return None if proc is None else proc.path

    def _depth_locked(self) -> int:
        return sum(len(s.pending) for s in self._sources)

    def _oldest_age_locked(self) -> float:
        oldest = min((s.pending[0][2] for s in self._sources if s.pending), default=None)
        if oldest is None:
            return 0.0
        return max(0.0, (time.time_ns() - oldest) / 1e9)

    # -- metrics --------------------------------------------------------------

    def _register_metrics(self, meter_provider: MeterProvider | None) -> None:
        meter = (
            meter_provider.get_meter("audit_sdk", "0.1.0")
            if meter_provider is not None
            else metrics.get_meter("audit_sdk", "0.1.0")
        )
        ref = weakref.ref(self)

        def gauge(read: str) -> Any:
            def callback(_options: CallbackOptions) -> Iterable[Observation]:
                processor = ref()
                if processor is None or processor._closed:
                    return []
                # never wait long for the spool's lock from a metric reader's thread
                if not processor._wlock.acquire(timeout=0.5):
                    return []
                try:
                    stats = processor._stats_locked()
                finally:
                    processor._wlock.release()
                return [Observation(getattr(stats, read), processor._attrs)]

            return callback

        meter.create_observable_gauge(
            "audit.delivery.queue_depth",
            callbacks=[gauge("queue_depth")],
            unit="{record}",
            description="Audit records spooled but not yet acknowledged by the receiver",
        )
        meter.create_observable_gauge(
            "audit.delivery.oldest_unsent_age",
            callbacks=[gauge("oldest_unsent_age")],
            unit="s",
            description="Age of the oldest audit record not yet acknowledged",
        )
        meter.create_observable_gauge(
            "audit.delivery.spool_bytes",
            callbacks=[gauge("spool_bytes")],
            unit="By",
            description="Bytes of this process's audit spool segments",
        )
        self._m_sent = meter.create_counter(
            "audit.delivery.sent", unit="{record}", description="Audit records acknowledged"
        )
        self._m_retried = meter.create_counter(
            "audit.delivery.retried",
            unit="{record}",
            description="Audit record export attempts that failed and were retried",
        )
        self._m_lost = meter.create_counter(
            "audit.delivery.lost",
            unit="{record}",
            description="Audit records lost (best_effort drops, corrupt spool lines)",
        )
        self._m_refused = meter.create_counter(
            "audit.delivery.refused",
            unit="{record}",
            description="Audit records refused with AuditDeliveryError (not chained)",
        )

    # -- emitting -------------------------------------------------------------

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if self.policy is DeliveryPolicy.BEST_EFFORT:
            try:
                self._emit(log_record)
            except Exception as exc:  # best effort never raises into the application
                with self._wlock:
                    self._lose_locked(1, f"of an unexpected error ({exc!r})")
            return
        self._emit(log_record)

    def _emit(self, log_record: ReadWriteLogRecord) -> None:
        try:
            line = encode_record(log_record)
        except Exception as exc:
            self._refuse_or_lose(f"the record cannot be encoded for the spool ({exc})")
            return
        api_record = copy.copy(log_record.log_record)  # other processors keep theirs
        api_record.context = Context()  # do not hold on to the caller's context
        readable = ReadableLogRecord(
            log_record=api_record,
            resource=log_record.resource,  # type: ignore[arg-type]
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        with self._wlock:
            target = self._append_locked(line, readable)
        if target is not None and self.fsync is SpoolFsync.ALWAYS:
            self._await_durable(target)

    def _refuse_or_lose(self, reason: str) -> None:
        """Best effort: count the record as lost. Otherwise: refuse it (raise)."""
        if self.policy is DeliveryPolicy.BEST_EFFORT:
            with self._wlock:
                self._lose_locked(1, reason)
            return
        with self._wlock:
            self._refuse_locked(reason)

    def _lose_locked(self, count: int, reason: str) -> None:
        self._lost += count
        self._m_lost.add(count, self._attrs)
        now = time.monotonic()
        if now - self._last_warned >= _WARN_EVERY_SECONDS or not self._lost_warned:
            self._last_warned = now
            self._lost_warned = self._lost
            _log.warning(
                "audit delivery (%s): %d record(s) lost so far, the last because %s; "
                "they show as gaps in the chain",
                self.policy.value,
                self._lost,
                reason,
            )

    def _refuse_locked(self, reason: str) -> None:
        self._refused += 1
        self._m_refused.add(1, self._attrs)
        raise AuditDeliveryError(f"audit record not recorded: {reason}")

    def _append_locked(self, line: bytes, readable: ReadableLogRecord) -> AckPosition | None:
        resource, scope = readable.resource, readable.instrumentation_scope
        if self._closed:
            if self.policy is DeliveryPolicy.BEST_EFFORT:
                self._lose_locked(1, "the audit pipeline is shut down")
                return None
            self._refuse_locked("the audit pipeline is shut down")
        meta = self._meta_line(resource, scope)
        if len(line) + len(meta) > self.max_bytes:
            if self.policy is DeliveryPolicy.BEST_EFFORT:
                self._lose_locked(1, "it is larger than spool_max_bytes")
                return None
            self._refuse_locked(f"the record is larger than spool_max_bytes={self.max_bytes}")
        deadline: float | None = None
        while True:
            if self._own_bytes + len(line) + len(meta) <= self.max_bytes:
                try:
                    return self._write_locked(line, meta, readable)
                except OSError as exc:
                    reason = f"the spool cannot be written ({exc.strerror or exc})"
                    if exc.errno not in _DISK_FULL or self.policy is not DeliveryPolicy.DURABLE:
                        if self.policy is DeliveryPolicy.BEST_EFFORT:
                            self._lose_locked(1, reason)
                            return None
                        self._refuse_locked(reason)
            else:
                reason = (
                    f"the spool is full (spool_max_bytes={self.max_bytes}): "
                    "the receiver is down or not keeping up"
                )
            if self.policy is DeliveryPolicy.BEST_EFFORT:
                self._lose_locked(1, reason)
                return None
            if self.policy is DeliveryPolicy.FAIL_CLOSED:
                self._refuse_locked(reason)
            now = time.monotonic()
            if deadline is None:
                deadline = now + self._block_timeout
            if now >= deadline or self._closed:
                self._refuse_locked(f"{reason}; waited {self._block_timeout:g}s")
            self._space.wait(min(deadline - now, 0.25))

    def _meta_line(self, resource: Resource | None, scope: InstrumentationScope | None) -> bytes:
        cache = self._meta_cache
        if cache is not None and cache[0] is resource and cache[1] is scope:
            return cache[2]
        line = encode_meta(resource, scope)
        self._meta_cache = (resource, scope, line)
        return line

    def _write_locked(self, line: bytes, meta: bytes, readable: ReadableLogRecord) -> AckPosition:
        if self._proc is None:
            self._open_own_locked()
        if self._seg_fd is None or (
            self._seg_size and self._seg_size + len(line) > self._segment_bytes
        ):
            self._rotate_locked()
        fd = self._seg_fd
        assert fd is not None
        key = (readable.resource, readable.instrumentation_scope)
        new_meta = self._meta_key is None or (
            self._meta_key[0] is not key[0] or self._meta_key[1] is not key[1]
        )
        data = meta + line if new_meta else line
        before = self._seg_size
        try:
            _write_all(fd, data)
        except OSError as error:
            try:
                os.ftruncate(fd, before)
            except OSError as exc:
                # the partial line stays; later appends go to a new segment
                _log.error("audit spool: cannot undo a failed append (%s)", exc.strerror)
                self._close_segment_locked(sync=self.fsync is not SpoolFsync.NEVER)
            else:
                if error.errno in _DISK_FULL and before:
                    # close the segment so that, once acknowledged, it can be deleted and
                    # its space reused: the active segment never is
                    self._close_segment_locked(sync=self.fsync is not SpoolFsync.NEVER)
            raise
        if new_meta:
            self._meta_key = key
        self._seg_size = before + len(data)
        self._own_segments[self._seg_no] = self._seg_size
        self._own_bytes += len(data)
        position = (self._seg_no, self._seg_size)
        self._written = position
        own = self._own
        assert own is not None
        observed = readable.log_record.observed_timestamp or time.time_ns()
        own.pending.append((self._seg_no, self._seg_size, observed))
        if own.cache_from is not None:
            if len(own.cache) >= _CACHE_MAX:  # a backlog: read it back from disk
                own.cache.clear()
                own.cache_from = None
            else:
                own.cache.append((self._seg_no, self._seg_size, readable))
        if self.fsync is not SpoolFsync.ALWAYS:
            self._committed = position
        self._spooled += 1
        if len(own.pending) >= self._batch_size:
            self._wake.set()
        return position

    def _open_own_locked(self) -> None:
        proc = ProcDir.create(self.spool_dir, sync=self.fsync is not SpoolFsync.NEVER)
        self._proc = proc
        self._own = _Source(proc, own=True, cursor=(1, 0))
        self._sources.append(self._own)

    def _rotate_locked(self) -> None:
        proc = self._proc
        assert proc is not None
        if self._seg_fd is not None:
            self._close_segment_locked(sync=self.fsync is not SpoolFsync.NEVER)
        number = max(self._seg_no, max(self._own_segments, default=0)) + 1
        fd = os.open(
            segment_path(proc.path, number),
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
            0o640,
        )
        if self.fsync is SpoolFsync.ALWAYS:
            try:
                fsync_dir(proc.path)
            except OSError:
                os.close(fd)
                os.unlink(segment_path(proc.path, number))
                raise
        self._seg_no, self._seg_fd, self._seg_size = number, fd, 0
        self._own_segments[number] = 0
        self._meta_key = None

    def _close_segment_locked(self, *, sync: bool) -> None:
        fd = self._seg_fd
        if fd is None:
            return
        if sync and self._synced < (self._seg_no, self._seg_size):
            try:
                os.fdatasync(fd)
                self._mark_synced_locked((self._seg_no, self._seg_size))
            except OSError as exc:
                self._sync_failed_locked(self._seg_no, exc)
                if self._seg_fd is None:
                    return  # _sync_failed_locked cut and closed the segment
        with contextlib.suppress(OSError):
            os.close(fd)
        self._seg_fd = None
        self._wake.set()  # the drain may now read this segment to its end

    # -- group commit ---------------------------------------------------------

    def _await_durable(self, target: AckPosition) -> None:
        with self._wlock:
            while True:
                failure = self._failure_for(target)
                if failure is not None:
                    reason = f"the spool could not be made durable ({failure})"
                    if self.policy is DeliveryPolicy.BEST_EFFORT:
                        self._lose_locked(1, reason)
                        return
                    self._refuse_locked(reason)
                if target <= self._synced:
                    return
                if self._syncing:
                    self._sync_cond.wait()
                    continue
                if self._seg_fd is None or self._seg_no != target[0]:
                    # rotation synced (or failed) the target's segment; check again
                    self._sync_cond.wait(0.01)
                    continue
                self._syncing = True
                segment, upto = self._seg_no, self._seg_size
                error: OSError | None = None
                done = False
                try:
                    try:
                        fd = os.dup(self._seg_fd)
                    except OSError as exc:
                        fd, error = -1, exc
                    self._wlock.release()
                    try:
                        if error is None:
                            try:
                                os.fdatasync(fd)  # outside the lock: others append meanwhile
                            except OSError as exc:
                                error = exc
                            finally:
                                os.close(fd)
                    finally:
                        self._wlock.acquire()
                    done = True
                finally:  # even when interrupted: never leave the others waiting
                    self._syncing = False
                    if done and error is None:
                        self._mark_synced_locked((segment, upto))
                    elif done and error is not None:
                        self._sync_failed_locked(segment, error)
                    self._sync_cond.notify_all()

    def _failure_for(self, target: AckPosition) -> str | None:
        for low, high, reason in self._failed:
            if low < target <= high:
                return reason
        return None

    def _mark_synced_locked(self, position: AckPosition) -> None:
        if position > self._synced:
            self._synced = position
            if self.fsync is SpoolFsync.ALWAYS and position > self._committed:
                self._committed = min(position, self._written)

    def _sync_failed_locked(self, segment: int, error: OSError) -> None:
        """fdatasync failed: nothing written since the last good sync can be trusted."""
        if (segment, 0) < self._synced and segment != self._seg_no:
            return  # a later fdatasync (at rotation) already covered that segment
        low, high = self._synced, self._written
        reason = error.strerror or str(error)
        if self.fsync is not SpoolFsync.ALWAYS:
            # those records were already reported as spooled; they are probably still in
            # the page cache and will be sent, but a power cut now would lose them
            _log.error(
                "audit spool: fdatasync failed (%s); recent records may not survive a power cut",
                reason,
            )
            return
        _log.error(
            "audit spool: fdatasync failed (%s); refusing the records not yet synced", reason
        )
        self._failed.append((low, high, reason))
        own = self._own
        if own is not None:
            while own.pending and (own.pending[-1][0], own.pending[-1][1]) > low:
                own.pending.pop()
            while own.cache and (own.cache[-1][0], own.cache[-1][1]) > low:
                own.cache.pop()
        if segment == self._seg_no and self._seg_fd is not None:
            keep = low[1] if low[0] == segment else 0
            fd = self._seg_fd
            try:
                os.ftruncate(fd, keep)
            except OSError as exc:
                _log.error(
                    "audit spool: cannot truncate after a failed fdatasync (%s)", exc.strerror
                )
            with contextlib.suppress(OSError):
                os.close(fd)
            self._seg_fd = None
            self._own_bytes -= self._seg_size - keep
            self._seg_size = keep
            if keep:
                self._own_segments[segment] = keep
            else:
                self._own_segments.pop(segment, None)
                assert self._proc is not None
                with contextlib.suppress(OSError):
                    os.unlink(segment_path(self._proc.path, segment))
        self._written = low

    # -- drain thread ---------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        next_adopt = 0.0
        next_sync = next_state = time.monotonic()
        final_scan = False
        while not self._abort.is_set():
            now = time.monotonic()
            if (now >= next_adopt and not self._stopping) or (self._stopping and not final_scan):
                final_scan = self._stopping  # at shutdown, once more: dead workers' spools
                self._adopt_orphans()
                next_adopt = now + self._adopt_interval
            if self.fsync is SpoolFsync.INTERVAL and now >= next_sync:
                self._background_sync()
                next_sync = now + _INTERVAL_FSYNC_SECONDS
            if now >= next_state:
                self._write_states()
                next_state = now + _STATE_EVERY_SECONDS
            try:
                picked = self._next_batch()
                ok = True if picked is None else self._deliver(*picked)
            except Exception as exc:  # never let the drain thread die
                _log.error("audit spool: drain error: %r", exc)
                picked, ok = None, False
            if ok:
                if picked is not None and self._export_failing:
                    _log.warning(
                        "audit export recovered after %d failed attempt(s)", self._export_failing
                    )
                    self._export_failing = 0
                backoff = 0.0
                if picked is None and self._stopping:
                    return
                sent = 0 if picked is None else len(picked[1].records)
                if (picked is None or 0 < sent < self._batch_size) and not self._stopping:
                    self._wake.wait(self._delay)  # let a batch gather
                    self._wake.clear()
            else:
                backoff = min(self._max_backoff, max(0.05, backoff * 2))
                self._abort.wait(backoff * random.uniform(0.8, 1.2))

    def _next_batch(self) -> tuple[_Source, _Batch] | None:
        """Round robin over the sources: the next batch to deliver, or None when all are done."""
        with self._wlock:
            sources = list(self._sources)
        count = len(sources)
        for i in range(count):
            source = sources[(self._rr + i) % count]
            batch = self._read_batch(source)
            if batch is not None:
                self._rr = (self._rr + i + 1) % count
                return source, batch
        return None

    def _deliver(self, source: _Source, batch: _Batch) -> bool:
        if batch.records and not self._export(batch.records):
            with self._wlock:
                self._retried += len(batch.records)
            self._m_retried.add(len(batch.records), self._attrs)
            return False  # read again after the backoff
        if batch.corrupt:  # counted once: when the cursor moves past them
            source.corrupt += batch.corrupt
            _log.error(
                "audit spool %s: %d corrupt line(s) skipped", source.proc.path, batch.corrupt
            )
            with self._wlock:
                self._lose_locked(batch.corrupt, "of corrupt lines in the spool")
        self._acknowledge(source, batch)
        return True

    def _export(self, records: Sequence[ReadableLogRecord]) -> bool:
        try:
            ok = self._exporter.export(records) is LogRecordExportResult.SUCCESS
            reason = "the exporter reported failure"
        except Exception as exc:  # an exporter must not kill the drain thread
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            self._export_failing += 1
            if self._export_failing == 1:
                _log.warning("audit export failed (%s); retrying with backoff", reason)
        return ok

    def _acknowledge(self, source: _Source, batch: _Batch) -> None:
        old = source.cursor
        if batch.meta is not None and batch.end[0] == old[0]:
            source.meta = batch.meta
        else:  # a new segment, or records from memory: find the metadata when next read
            source.close_reader()
        with self._wlock:
            source.cursor = batch.end
            while source.pending and (source.pending[0][0], source.pending[0][1]) <= batch.end:
                source.pending.popleft()
            self._sent += len(batch.records)
            if source.own and source.cache_from is None and batch.end >= self._written:
                source.cache_from = self._written  # caught up: cache again
        if batch.records:
            self._m_sent.add(len(batch.records), self._attrs)
        try:
            source.proc.write_ack(batch.end, sync=False)  # lost: only re-sends
        except OSError as exc:  # only costs duplicates after a restart
            _log.warning("audit spool: cannot record the acknowledgement (%s)", exc.strerror)
        if batch.end[0] != old[0]:
            self._delete_segments_before(source, batch.end[0])
        with self._wlock:
            self._progress.notify_all()

    def _delete_segments_before(self, source: _Source, segment: int) -> None:
        if source.own:
            with self._wlock:
                done = [s for s in self._own_segments if s < segment]
                for number in done:
                    self._own_bytes -= self._own_segments.pop(number)
                self._space.notify_all()
        else:
            done = [s for s in source.segments if s < segment]
            source.segments = [s for s in source.segments if s >= segment]
        if source.read_seg in done:
            source.close_reader()
        for number in done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(segment_path(source.proc.path, number))

    def _finish_adopted(self, source: _Source) -> None:
        source.close_reader()
        with self._wlock:
            if source in self._sources:
                self._sources.remove(source)
        source.proc.remove()
        _log.info("audit spool: delivered everything left in %s", source.proc.path.name)

    def _read_batch(self, source: _Source) -> _Batch | None:
        """The next records after the cursor (never across segments); None: nothing to do."""
        segment, offset = source.cursor
        limit: int | None
        if source.own:
            with self._wlock:
                committed = self._committed
                active = self._seg_no if self._seg_fd is not None else None
                valid = self._own_segments.get(segment)
                later = sorted(s for s in self._own_segments if s > segment)
            next_segment = later[0] if later else None
            if valid is None:  # emptied after a failed sync
                return None if next_segment is None else _Batch([], (next_segment, 0), 0)
            if segment < committed[0]:
                limit = valid
            elif segment == committed[0]:
                limit = min(committed[1], valid)
            else:
                return None
            complete = segment != active and limit >= valid
            if offset >= limit:
                if complete:  # fully read and closed: move on, so that it gets deleted
                    return _Batch([], (next_segment or segment + 1, 0), 0)
                return None
            cached = self._from_cache(source, segment, offset, limit)
            if cached is not None:
                return cached
        else:
            if not source.segments:
                self._finish_adopted(source)
                return None
            if segment != source.segments[0]:
                segment, offset = source.segments[0], 0
                source.cursor = (segment, 0)
            next_segment = source.segments[1] if len(source.segments) > 1 else None
            limit, complete = None, True
        fd = self._reader(source, segment, offset)
        data = b"" if fd is None else _read_lines(fd, offset, limit)
        records: list[ReadableLogRecord] = []
        corrupt = size = 0
        end = offset
        meta = source.meta  # the cursor only moves once the batch is acknowledged
        for line in iter_lines(data, offset):
            if len(records) >= self._batch_size or size >= _MAX_BATCH_BYTES:
                break
            end = line.end
            if not line.ok:
                corrupt += 1
            elif line.kind == KIND_META:
                try:
                    meta = self._decode_meta(line.payload)
                except Exception:
                    corrupt += 1
                    meta = None
            elif meta is None:
                corrupt += 1
            else:
                try:
                    records.append(decode_record(line.payload, meta))
                    size += len(line.payload)
                except Exception:
                    corrupt += 1
        if end > offset:
            return _Batch(records, (segment, end), corrupt, meta)
        # no complete line after the cursor
        if not complete:
            return None
        if data:  # the process died mid-append: that record was never reported as spooled
            _log.warning(
                "audit spool %s: ignored a torn final line (%d bytes) in segment %d",
                source.proc.path.name,
                len(data),
                segment,
            )
        if next_segment is not None or source.own:
            return _Batch([], (next_segment or segment + 1, 0), 0)
        self._delete_segments_before(source, segment + 1)
        self._finish_adopted(source)
        return None

    def _from_cache(self, source: _Source, segment: int, offset: int, limit: int) -> _Batch | None:
        with self._wlock:
            if source.cache_from is None or (segment, offset) < source.cache_from:
                return None
            cache = source.cache
            while cache and (cache[0][0], cache[0][1]) <= (segment, offset):
                cache.popleft()
            records: list[ReadableLogRecord] = []
            end = offset
            for number, entry_end, record in cache:
                if number != segment or entry_end > limit or len(records) >= self._batch_size:
                    break
                records.append(record)
                end = entry_end
        return _Batch(records, (segment, end), 0) if records else None

    def _decode_meta(self, payload: bytes) -> Meta:
        meta = self._meta_by_payload.get(payload)
        if meta is None:
            meta = decode_meta(payload)
            if len(self._meta_by_payload) > 64:
                self._meta_by_payload.clear()
            self._meta_by_payload[payload] = meta
        return meta

    def _reader(self, source: _Source, segment: int, offset: int) -> int | None:
        if source.read_seg == segment and source.read_fd is not None:
            return source.read_fd
        source.close_reader()
        try:
            fd = os.open(segment_path(source.proc.path, segment), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        source.read_fd, source.read_seg = fd, segment
        if offset:
            # the records after the cursor belong to the last metadata line before it
            head = os.pread(fd, offset, 0)
            for line in iter_lines(head):
                if line.ok and line.kind == KIND_META:
                    with contextlib.suppress(Exception):
                        source.meta = self._decode_meta(line.payload)
        return fd

    def _adopt_orphans(self) -> None:
        own = self._proc.path if self._proc is not None else None
        with self._wlock:
            held = {s.proc.path for s in self._sources}
        for path in other_proc_dirs(self.spool_dir, own):
            if path in held:
                continue
            try:
                proc = ProcDir.try_adopt(path)
            except OSError as exc:
                _log.warning("audit spool: cannot adopt %s (%s)", path, exc.strerror)
                continue
            if proc is None:
                continue
            ack = read_ack(path)
            segments = list_segments(path)
            for number in [s for s in segments if s < ack[0]]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(segment_path(path, number))
            segments = [s for s in segments if s >= ack[0]]
            source = _Source(proc, own=False, cursor=ack)
            source.segments = segments
            if not segments:
                proc.remove()
                continue
            scan = scan_pending(path, ack, keep_entries=True)
            source.pending.extend(scan.entries)
            with self._wlock:
                self._sources.append(source)
            _log.warning(
                "audit spool: adopted %s, left by a process that is gone: %d record(s) to send",
                path.name,
                scan.records,
            )

    def _background_sync(self) -> None:
        with self._wlock:
            if self._seg_fd is None or self._synced >= self._written:
                return
            position = self._written
            try:
                fd = os.dup(self._seg_fd)
            except OSError:
                return
        try:
            os.fdatasync(fd)
            with self._wlock:
                self._mark_synced_locked(position)
        except OSError as exc:
            _log.error("audit spool: background fdatasync failed (%s)", exc.strerror)
        finally:
            os.close(fd)

    def _state(self) -> dict[str, Any]:
        stats = self.stats
        state = stats.to_dict()
        state.update(
            pid=self._pid,
            fsync=self.fsync.value,
            started_at=self._started,
            updated_at=time.time(),
            max_bytes=self.max_bytes,
        )
        return state

    def _write_states(self, *, force: bool = False) -> None:
        proc = self._proc
        if proc is None:
            return
        state = self._state()
        key = (state["spooled"], state["sent"], state["retried"], state["lost"], state["refused"])
        if key == self._state_key and not force and not state["queue_depth"]:
            return  # idle and unchanged
        with contextlib.suppress(OSError):  # disk full: status shows the last state written
            proc.write_state(state)
            self._state_key = key

    # -- flush and shutdown ---------------------------------------------------

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until everything spooled so far is acknowledged (False on timeout)."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._wake.set()
        with self._wlock:
            while self._depth_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.set()
                self._progress.wait(min(remaining, 0.05))
        return True

    def shutdown(self, timeout_millis: int | None = None) -> None:
        """Send what can be sent in time; what remains stays spooled for the next process."""
        if os.getpid() != self._pid:
            return
        with self._wlock:
            if self._closed:
                return
            self._closed = True
            self._space.notify_all()
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis / 1000
        self._stopping = True
        self._wake.set()
        self._worker.join(timeout)
        if self._worker.is_alive():
            self._abort.set()
            with contextlib.suppress(Exception):
                self._exporter.shutdown()  # type: ignore[no-untyped-call]
            self._worker.join(5.0)
        else:
            with contextlib.suppress(Exception):
                self._exporter.shutdown()  # type: ignore[no-untyped-call]
        with self._wlock:
            self._close_segment_locked(sync=self.fsync is not SpoolFsync.NEVER)
            remaining = self._depth_locked()
            left = [(s, len(s.pending)) for s in self._sources]
        self._write_states(force=True)
        for source, pending in left:
            source.close_reader()
            if source.own and pending == 0:
                source.proc.remove()
            else:
                source.proc.close()
        if remaining:
            _log.warning(
                "audit delivery: shut down with %d record(s) not yet acknowledged; they stay "
                "in %s and the next process using this spool sends them",
                remaining,
                self.spool_dir,
            )
        if self._lost:
            _log.warning(
                "audit delivery (%s): %d record(s) were lost in this process (gaps in the chain)",
                self.policy.value,
                self._lost,
            )


def _write_all(fd: int, data: bytes) -> None:
    """Append `data` (the tests replace this to simulate a full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _reset_exporter_after_fork(exporter: LogRecordExporter) -> None:
    """Drop pooled HTTP connections a forked child shares with its parent.

    The OTLP/HTTP exporter keeps keep-alive connections in a requests Session;
    a child using the parent's socket would interleave requests with it.
    Closing the pool in the child closes only the child's copies of the
    sockets; the session opens new connections when next used.
    """
    client = getattr(exporter, "_client", None)
    transport = getattr(client, "_transport", None)
    session = getattr(transport, "_session", None)
    close = getattr(session, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


_PROCESSORS: weakref.WeakSet[SpoolingProcessor] = weakref.WeakSet()


def _reinit_in_child() -> None:
    for processor in list(_PROCESSORS):
        processor._after_fork_in_child()


os.register_at_fork(after_in_child=_reinit_in_child)
