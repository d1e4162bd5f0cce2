"""OTLP/HTTP with a JSON body (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`).

OTel Python ships gRPC and HTTP/protobuf log exporters only. Encoding protobuf
in Python costs more per record than `audit_event()` itself; this exporter
sends the OTLP-JSON that the SDK already writes to its file sink (orjson), which
the collector's OTLP receiver accepts on `/v1/logs` as `application/json`.
It does not retry by itself: the SDK's delivery processor retries and splits.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Mapping, Sequence

import orjson
import requests
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from audit_sdk._otlp_json import resource_logs

__all__ = ["OtlpHttpJsonLogExporter"]

_log = logging.getLogger("audit_sdk")


class OtlpHttpJsonLogExporter(LogRecordExporter):
    """POSTs each batch as one OTLP-JSON `ExportLogsServiceRequest`."""

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        certificate_file: str | None = None,
        compression: str | None = None,
    ) -> None:
        if compression not in (None, "", "none", "gzip"):
            raise ValueError(f"compression {compression!r} is not supported (use gzip or none)")
        self._endpoint = endpoint
        self._timeout = 10.0 if timeout is None else timeout
        self._gzip = compression == "gzip"
        self._session = requests.Session()
        self._session.headers.update(dict(headers or {}))
        self._session.headers["Content-Type"] = "application/json"
        if self._gzip:
            self._session.headers["Content-Encoding"] = "gzip"
        if certificate_file:
            self._session.verify = certificate_file
        self._closed = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if self._closed:
            return LogRecordExportResult.FAILURE
        body = orjson.dumps({"resourceLogs": resource_logs(batch)})
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        try:
            response = self._session.post(self._endpoint, data=body, timeout=self._timeout)
        except requests.RequestException as exc:
            _log.warning(
                "OTLP/HTTP-JSON export to %s failed: %s", self._endpoint, type(exc).__name__
            )
            return LogRecordExportResult.FAILURE
        if response.status_code != 200:
            _log.warning(
                "OTLP/HTTP-JSON export to %s answered %d", self._endpoint, response.status_code
            )
            return LogRecordExportResult.FAILURE
        self._report_partial_success(response.content, len(batch))
        return LogRecordExportResult.SUCCESS

    def _report_partial_success(self, content: bytes, sent: int) -> None:
        """A receiver may accept the request yet reject records in it: say so, loudly."""
        if not content:
            return
        try:
            partial = orjson.loads(content).get("partialSuccess") or {}
            rejected = int(partial.get("rejectedLogRecords") or 0)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return
        if rejected:
            _log.error(
                "receiver %s rejected %d of %d audit records: %s",
                self._endpoint,
                rejected,
                sent,
                partial.get("errorMessage", ""),
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        self._closed = True
        self._session.close()
