"""audit_event() cost per delivery policy beside the in-memory baseline, in one run.

Every variant signs and chains the same records inside an active span and
exports to the SDK's InMemoryLogRecordExporter, so the difference is the
delivery path alone:

- memory: today's ReliableBatchProcessor (in-memory queue, no durability): the baseline
- best_effort: spooled with write(2), background fdatasync about every second
- durable / fail_closed: spooled and fdatasync'd before audit_event() returns
- durable, fsync=never: spooled with write(2) only (survives a process crash, not a power cut)
- durable, 4 threads on 4 streams: concurrent callers share fdatasyncs (group commit);
  the figure is wall time per record over all threads

Rounds are interleaved (variant A, B, C, then again) so that machine noise
hits every variant alike; the median per variant is reported. Each round
checks afterwards that every record was delivered. fdatasync latency depends
on the disk under --spool-root (reported).

    python benchmarks/bench_delivery.py [--records N] [--rounds R] [--spool-root DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk
from audit_sdk.delivery import SpoolingProcessor

KEYS = audit_sdk.HmacKeyRing.generate()
CHECKPOINT_KEY = Ed25519PrivateKey.generate()
DETAILS = {"format": "csv", "rows": 1200}


def _emit_loop(logger: audit_sdk.AuditLogger, records: int, tracer: Any) -> float:
    with tracer.start_as_current_span("request"):
        start = time.perf_counter()
        for _ in range(records):
            logger.emit(
                "user.data.export",
                action="EXPORT",
                actor="alice@example.com",
                target="customer/42",
                target_type="customer",
                details=DETAILS,
            )
        return time.perf_counter() - start


def _check(exporter: InMemoryLogRecordExporter, expected: int, name: str) -> None:
    got = sum(
        1 for r in exporter.get_finished_logs() if r.log_record.event_name == "user.data.export"
    )
    if got != expected:
        raise SystemExit(f"{name}: delivered {got} of {expected} records")


def run_memory(records: int, tracer: Any, root: Path) -> float:
    exporter = InMemoryLogRecordExporter()
    processor = audit_sdk.ReliableBatchProcessor(exporter, max_queue_size=records + 100)
    logger = audit_sdk.configure(
        keys=KEYS,
        checkpoint_key=CHECKPOINT_KEY,
        processor=processor,
        checkpoint_interval=None,
        set_default=False,
    )
    gc.collect()
    elapsed = _emit_loop(logger, records, tracer)
    logger.close()
    _check(exporter, records, "memory")
    return elapsed


def _spool_variant(policy: str, fsync: str | None) -> Callable[[int, Any, Path], float]:
    def run(records: int, tracer: Any, root: Path) -> float:
        exporter = InMemoryLogRecordExporter()
        spool = Path(tempfile.mkdtemp(prefix="spool-", dir=root))
        processor = SpoolingProcessor(exporter, spool_dir=spool, policy=policy, fsync=fsync)
        logger = audit_sdk.configure(
            keys=KEYS,
            checkpoint_key=CHECKPOINT_KEY,
            processor=processor,
            checkpoint_interval=None,
            set_default=False,
        )
        gc.collect()
        elapsed = _emit_loop(logger, records, tracer)
        logger.close()
        _check(exporter, records, f"{policy}/{fsync}")
        if processor.stats.lost or os.listdir(spool):
            raise SystemExit(f"{policy}: lost {processor.stats.lost} or left records behind")
        shutil.rmtree(spool, ignore_errors=True)
        return elapsed

    return run


def run_group_commit(records: int, tracer: Any, root: Path, threads: int = 4) -> float:
    exporter = InMemoryLogRecordExporter()
    spool = Path(tempfile.mkdtemp(prefix="spool-", dir=root))
    processor = SpoolingProcessor(exporter, spool_dir=spool, policy="durable")
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    otel = provider.get_logger("audit_sdk")
    loggers = [
        audit_sdk.AuditLogger(
            otel,
            keys=KEYS,
            checkpoint_key=CHECKPOINT_KEY,
            service_name="bench",
            event_source="bench",
            checkpoint_interval=None,
        )
        for _ in range(threads)
    ]
    share = records // threads
    barrier = threading.Barrier(threads + 1)

    def work(logger: audit_sdk.AuditLogger) -> None:
        barrier.wait()
        _emit_loop(logger, share, tracer)

    workers = [threading.Thread(target=work, args=(lg,)) for lg in loggers]
    for worker in workers:
        worker.start()
    gc.collect()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    for logger in loggers:
        logger.close()
    provider.shutdown()
    _check(exporter, share * threads, "group commit")
    shutil.rmtree(spool, ignore_errors=True)
    return elapsed * records / (share * threads)


def _filesystem(path: Path) -> str:
    best = ("?", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                device, mount, kind = line.split()[:3]
                if str(path.resolve()).startswith(mount) and len(mount) >= len(best[1]):
                    best = (f"{kind} ({device})", mount)
    except OSError:
        pass
    return best[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spool-root", type=Path, default=None, help="where to put the spools")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-delivery-", dir=args.spool_root))
    tracer = TracerProvider().get_tracer("bench")
    variants: list[tuple[str, Callable[[int, Any, Path], float]]] = [
        ("memory (ReliableBatchProcessor, baseline)", run_memory),
        ("best_effort (fsync interval)", _spool_variant("best_effort", None)),
        ("durable (fsync always)", _spool_variant("durable", None)),
        ("fail_closed (fsync always)", _spool_variant("fail_closed", None)),
        ("durable, fsync=never", _spool_variant("durable", "never")),
        ("durable, 4 threads/4 streams (group commit)", run_group_commit),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    try:
        run_memory(200, tracer, root)  # warm up imports and caches
        for _ in range(args.rounds):
            for name, run in variants:
                times[name].append(run(args.records, tracer, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"records per round: {args.records}, rounds: {args.rounds} (median), interleaved")
    print(f"spool filesystem: {_filesystem(root.parent)}; every record delivered in every round")
    base = statistics.median(times[variants[0][0]]) / args.records * 1e6
    for name, _ in variants:
        us = statistics.median(times[name]) / args.records * 1e6
        print(f"{name:<46} {us:9.2f} us/record  {us / base:6.2f}x")


if __name__ == "__main__":
    main()
