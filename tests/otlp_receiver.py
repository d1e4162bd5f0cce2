"""A local OTLP/HTTP logs receiver for the delivery tests (a stand-in for the collector).

It decodes each ExportLogsServiceRequest (protobuf, as the SDK's OTLP/HTTP
exporter sends it) and appends it to a file as one OTLP-JSON line, the format
`audit-sdk verify` reads. It answers 200 only after the line is written, so a
200 means "acknowledged". It can be stopped and started again on the same
port (the collector is down, then back) and made to answer an error status.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)


def _hex_ids(document: dict[str, Any]) -> dict[str, Any]:
    # proto3 JSON spells bytes in base64; OTLP-JSON spells trace and span ids in hex
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for record in scope_logs.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if record.get(key):
                        record[key] = base64.b64decode(record[key]).hex()
    return document


class OtlpReceiver:
    def __init__(self, path: Path, port: int = 0) -> None:
        self.path = path
        self.port = port
        self.fail_with: int | None = None  # answer this status instead of accepting
        self.requests = 0
        self.records = 0
        self.refused = 0
        self.last_headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/logs"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.last_headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._accept(body)
                payload = b"" if status != 200 else ExportLogsServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _accept(self, body: bytes) -> int:
        with self._lock:
            self.requests += 1
            if self.fail_with is not None:
                self.refused += 1
                return self.fail_with
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            document = _hex_ids(MessageToDict(request, use_integers_for_enums=True))
            count = sum(
                len(scope.get("logRecords", []))
                for rl in document.get("resourceLogs", [])
                for scope in rl.get("scopeLogs", [])
            )
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(document, separators=(",", ":")) + "\n")
            self.records += count
            return 200
