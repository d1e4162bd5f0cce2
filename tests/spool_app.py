"""A small application for the delivery fault tests, run as a real process.

    python tests/spool_app.py --progress FILE [--count N] [--interval S] [--close]

The pipeline comes from the environment, as in production:
AUDIT_SDK_DELIVERY, AUDIT_SDK_SPOOL_DIR, AUDIT_SDK_SPOOL_MAX_BYTES,
AUDIT_SDK_HMAC_KEY and OTEL_EXPORTER_OTLP_LOGS_ENDPOINT. After each
`audit_event()` that returned, the progress file gets a line
"ok SEQUENCE RECORD_ID"; a refused record (AuditDeliveryError) gets
"refused MESSAGE". With --fork K the process forks K workers after
configuring (gunicorn --preload style), each emitting --count records; worker
--kill-worker kills itself with SIGKILL half-way. At the end (--close) the
stream is closed and "STATS {json}" is printed. --flush-at I waits, before
record I, until the spool is drained.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import audit_sdk
from audit_sdk.delivery import SpoolingProcessor, processors


def _emit(
    progress: str, count: int, interval: float, kill_at: int | None, flush_at: int = -1
) -> int:
    refused = 0
    with open(progress, "a", buffering=1, encoding="utf-8") as out:
        for i in range(count):
            if kill_at is not None and i == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            if i == flush_at:  # wait until the spool is drained (the receiver is back)
                for processor in processors():
                    processor.force_flush(60_000)
            try:
                receipt = audit_sdk.audit_event(
                    "document.read",
                    action="READ",
                    actor=f"user-{i % 7}",
                    target=f"doc/{i}",
                    details={"i": i, "pid": os.getpid()},
                )
            except audit_sdk.AuditDeliveryError as exc:
                refused += 1
                out.write(f"refused {exc}\n")
            else:
                out.write(f"ok {receipt.sequence_number} {receipt.record_id}\n")
            if interval:
                time.sleep(interval)
    return refused


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--progress", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--fork", type=int, default=0)
    parser.add_argument("--kill-worker", type=int, default=-1)
    parser.add_argument("--flush-at", type=int, default=-1)
    args = parser.parse_args()

    if args.fork:
        # gunicorn --preload style: configure in the parent, fork workers
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        processor = SpoolingProcessor(
            OTLPLogExporter(timeout=2),
            spool_dir=os.environ["AUDIT_SDK_SPOOL_DIR"],
            policy=os.environ.get("AUDIT_SDK_DELIVERY", "durable"),
            adopt_interval=0.3,
            schedule_delay=0.05,
            max_backoff=0.5,
        )
        audit_sdk.configure(processor=processor, checkpoint_interval=None)
        children = []
        for worker in range(args.fork):
            pid = os.fork()
            if pid == 0:
                kill_at = args.count // 2 if worker == args.kill_worker else None
                _emit(f"{args.progress}.{worker}", args.count, args.interval, kill_at)
                audit_sdk.shutdown()
                os._exit(0)
            children.append(pid)
        codes = [os.waitpid(pid, 0)[1] for pid in children]
        _emit(args.progress, args.count, args.interval, None)
        time.sleep(1.0)  # time for the adoption scan to find the killed worker's spool
        audit_sdk.shutdown()
        print("CHILDREN " + json.dumps(codes), flush=True)
        print("STATS " + json.dumps(processor.stats.to_dict()), flush=True)
        return 0

    audit_sdk.configure(checkpoint_interval=None, checkpoint_every=50)
    (processor,) = processors()
    _emit(args.progress, args.count, args.interval, None, args.flush_at)
    if args.close:
        if args.flush_at >= 0:  # room for the end record, whatever the load
            processor.force_flush(60_000)
        audit_sdk.shutdown()
        print("STATS " + json.dumps(processor.stats.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
