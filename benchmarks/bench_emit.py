"""audit_event() cost beside a bare OTel Logger.emit of the same attributes, in one run.

Both go through OTel's BatchLogRecordProcessor to the SDK's InMemoryLogRecordExporter
inside an active span; records are counted after flush so nothing is silently
dropped from the measurement. Reports per-record times and the ratio.

    python benchmarks/bench_emit.py [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk


def _processor(exporter: InMemoryLogRecordExporter, records: int) -> BatchLogRecordProcessor:
    # queue large enough that the baseline never evicts: every record must be counted
    return BatchLogRecordProcessor(
        exporter, max_queue_size=records + 1, max_export_batch_size=512, schedule_delay_millis=50
    )


def run_bare(records: int, attributes: dict[str, Any], body: str, tracer: Any) -> float:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(_processor(exporter, records))
    logger = provider.get_logger("bench")
    gc.collect()
    with tracer.start_as_current_span("request"):
        start = time.perf_counter()
        for _ in range(records):
            logger.emit(
                timestamp=time.time_ns(),
                body=body,
                attributes=attributes,
                event_name="user.data.export",
            )
        elapsed = time.perf_counter() - start
    provider.force_flush()
    count = len(exporter.get_finished_logs())
    provider.shutdown()
    if count != records:
        raise SystemExit(f"baseline lost records: {count} of {records}")
    return elapsed


def run_audit(records: int, tracer: Any) -> tuple[float, dict[str, Any], str]:
    exporter = InMemoryLogRecordExporter()
    logger = audit_sdk.configure(
        service_name="bench",
        keys=audit_sdk.HmacKeyRing.generate(),
        checkpoint_key=Ed25519PrivateKey.generate(),
        processor=_processor(exporter, records + records // 1000 + 10),
        checkpoint_interval=None,
        set_default=False,
    )
    details = {"format": "csv", "rows": 1200}
    gc.collect()
    with tracer.start_as_current_span("request"):
        start = time.perf_counter()
        for _ in range(records):
            logger.emit(
                "user.data.export",
                action="EXPORT",
                actor="alice@example.com",
                target="customer/42",
                target_type="customer",
                details=details,
            )
        elapsed = time.perf_counter() - start
    logger.close()
    finished = exporter.get_finished_logs()
    events = [r for r in finished if r.log_record.event_name == "user.data.export"]
    if len(events) != records:
        raise SystemExit(f"audit_event lost records: {len(events)} of {records}")
    sample = events[0].log_record
    return elapsed, dict(sample.attributes or {}), str(sample.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tracer = TracerProvider().get_tracer("bench")
    bare_times, audit_times = [], []
    for _ in range(args.rounds):
        audit_elapsed, attributes, body = run_audit(args.records, tracer)
        audit_times.append(audit_elapsed)
        bare_times.append(run_bare(args.records, attributes, body, tracer))
    bare = statistics.median(bare_times) / args.records * 1e6
    audit = statistics.median(audit_times) / args.records * 1e6
    print(f"records per round: {args.records}, rounds: {args.rounds} (median)")
    print(f"bare Logger.emit, same {len(attributes)} attributes: {bare:7.2f} us/record")
    print(f"audit_event (signed, chained, in span):  {audit:7.2f} us/record")
    print(f"ratio audit/bare: {audit / bare:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
