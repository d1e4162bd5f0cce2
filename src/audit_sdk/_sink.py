"""The embedded default sink: an append-only file of OTLP-JSON lines (SPEC §5)."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from audit_sdk._otlp_json import encode_logs_line

__all__ = ["FsyncPolicy", "OtlpJsonFileExporter"]

_log = logging.getLogger("audit_sdk")


class FsyncPolicy(StrEnum):
    """When the sink forces written lines to disk."""

    EVERY_EXPORT = "every_export"  # each batch is on disk before export() reports success
    NEVER = "never"  # the OS decides; a power cut can lose the last seconds


class OtlpJsonFileExporter(LogRecordExporter):
    """Appends each exported batch as one line; safe across threads and processes (flock)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy | str = FsyncPolicy.EVERY_EXPORT,
    ) -> None:
        self.path = Path(path)
        self.fsync = FsyncPolicy(fsync)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
        )

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if not batch:
            return LogRecordExportResult.SUCCESS
        line = encode_logs_line(batch)
        with self._lock:
            fd = self._fd
            if fd is None:
                _log.error(
                    "audit file sink %s is closed; %d records not written", self.path, len(batch)
                )
                return LogRecordExportResult.FAILURE
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    view = memoryview(line)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    if self.fsync is FsyncPolicy.EVERY_EXPORT:
                        os.fsync(fd)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError as exc:
                _log.error("audit file sink %s: write failed (%s)", self.path, exc.strerror)
                return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
