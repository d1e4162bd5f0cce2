"""Send signed, chained audit records to an OpenTelemetry Collector over OTLP.

    audit-sdk keygen keys/                       # hmac-keys.json, checkpoint-key.pem, .pub.pem
    collector/dist/otelcol-audit --config collector/otelcol-audit.yaml &
    python examples/otlp_app.py http://127.0.0.1:4318 --keys keys/ --records 1000
    python examples/otlp_app.py http://127.0.0.1:4317 --keys keys/ --protocol grpc

The app emits `--records` audit records, half through `@audited` functions and
half through `audit_event()`, then shuts the pipeline down cleanly: the stream's
end record is sent, every queued record is delivered (retried while the
collector is unreachable, up to the shutdown timeout), and the app prints one
summary line. Exit status 0 when every record was delivered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.sdk._logs.export import LogRecordExporter

import audit_sdk

PROTOCOLS = ("http/protobuf", "http/json", "grpc")


# --- the OTLP pipeline -------------------------------------------------------


def otlp_exporter(endpoint: str, protocol: str, timeout: float) -> LogRecordExporter:
    """An OTLP log exporter for `endpoint` ("http://host:port" or "host:port").

    `timeout` bounds one export call in seconds, including the exporter's own
    retries; audit-sdk's ReliableBatchProcessor retries failed calls after that.
    """
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc

        # "http://" means plaintext (use "https://" for TLS); the path is ignored.
        return Grpc(endpoint=endpoint, timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

    # The HTTP exporters take the full signal URL: add /v1/logs to a bare base URL.
    if urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/logs"
    if protocol == "http/json":  # audit-sdk's OTLP/HTTP-JSON exporter: no protobuf encoding
        return audit_sdk.OtlpHttpJsonLogExporter(endpoint, timeout=timeout)
    return Http(endpoint=endpoint, timeout=timeout)


def configure_audit(args: argparse.Namespace) -> audit_sdk.ReliableBatchProcessor:
    """Build the audit pipeline; returns its processor, whose `.stats` count deliveries."""
    processor = audit_sdk.ReliableBatchProcessor(
        otlp_exporter(args.endpoint, args.protocol, args.export_timeout),
        # queue full => audit_event() waits (back-pressure) rather than dropping
        enqueue_timeout=args.enqueue_timeout,
    )
    audit_sdk.configure(
        service_name=args.service_name,
        keys=audit_sdk.HmacKeyRing.from_file(args.keys / "hmac-keys.json"),
        checkpoint_key=args.keys / "checkpoint-key.pem",
        checkpoint_every=args.checkpoint_every,
        processor=processor,
    )
    return processor


# --- the "application": an audited function and an explicit event -------------


class ReportDenied(PermissionError):
    pass


@audit_sdk.audited(
    "report.export",
    action="EXPORT",
    target="report_id",
    target_type="report",
    record_args=["fmt"],
)
def export_report(report_id: str, fmt: str = "csv") -> int:
    """An audited operation: one record per call, outcome "failure" if it raises."""
    if report_id.endswith("7"):
        raise ReportDenied(f"{report_id} is restricted")
    return len(report_id)


def login(user: str, ok: bool) -> None:
    """An explicit audit event, with details in the body."""
    audit_sdk.audit_event(
        "user.session.login",
        action="LOGIN",
        outcome="success" if ok else "failure",
        target=f"session/{user}",
        details={"method": "password", "mfa": ok},
    )  # actor and request id come from audit_sdk.context()


def run(records: int, rate: float) -> int:
    """Emit `records` audit records, at about `rate` per second (0: as fast as possible)."""
    start = time.monotonic()
    for i in range(records):
        if rate > 0:  # pace against the start time so the rate stays steady
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        user = f"user-{i % 5}@example.com"
        with audit_sdk.context(actor=user, actor_type="user", request_id=f"req-{i}"):
            if i % 2 == 0:
                # a denied export raises; it is already audited with outcome "failure"
                with contextlib.suppress(ReportDenied):
                    export_report(f"report-{i}")
            else:
                login(user, ok=i % 11 != 0)
    return records


# --- command line -------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("endpoint", help="collector OTLP endpoint, e.g. http://127.0.0.1:4318")
    parser.add_argument(
        "--keys", type=Path, required=True, help="directory made by `audit-sdk keygen`"
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, default="http/protobuf")
    parser.add_argument("--records", type=int, default=100, help="audit records to emit")
    parser.add_argument("--rate", type=float, default=0.0, help="records per second (0: no limit)")
    parser.add_argument("--service-name", default="otlp-example")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument(
        "--export-timeout",
        type=float,
        default=10.0,
        help="seconds per OTLP export call, including the exporter's retries",
    )
    parser.add_argument(
        "--enqueue-timeout",
        type=float,
        default=30.0,
        help="seconds an emit may wait for room in a full queue",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args(argv)
    if args.protocol == "grpc" and args.endpoint.endswith("/v1/logs"):
        parser.error("a gRPC endpoint is host:port, without /v1/logs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    processor = configure_audit(args)
    logger = audit_sdk.get_audit_logger()
    started = time.monotonic()
    emitted = run(args.records, args.rate)
    # The end record (a signed, closing checkpoint), then flush and stop the pipeline.
    # audit_sdk.shutdown() does the same; logger.close() also returns the end record's receipt.
    end = logger.close()
    audit_sdk.shutdown()
    elapsed = time.monotonic() - started
    stats = processor.stats
    summary = {
        "emitted": emitted,
        "stream_id": logger.stream_id,
        "end_number": end.sequence_number if end else 0,
        "end_hash": end.record_hash if end else None,
        "protocol": args.protocol,
        "queued": stats.queued,
        "exported": stats.exported,
        "retries": stats.retries,
        "lost": stats.lost,
        "seconds": round(elapsed, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"emitted {emitted} audit records on stream {logger.stream_id} "
            f"({summary['end_number']} with checkpoints and end record) via {args.protocol} "
            f"in {elapsed:.2f}s: exported={stats.exported} retries={stats.retries} "
            f"lost={stats.lost}"
        )
    return 0 if stats.lost == 0 and stats.exported == stats.queued else 1


if __name__ == "__main__":
    sys.exit(main())
