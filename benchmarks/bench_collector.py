"""Sustained audit events per second: SDK processes -> OTLP -> otelcol-audit -> file store.

Starts the built collector (collector/dist/otelcol-audit, shipped config) on
free loopback ports with a temporary data dir, starts P producer processes
that each configure audit-sdk with an OTLP exporter behind the SDK's
ReliableBatchProcessor, and on one signal lets them all emit as fast as they
can. The clock stops when every producer has shut down cleanly, i.e. when
the collector has acknowledged (and so written) every record. The store is
then counted: every record emitted (events, checkpoints and end records) must
be there, no stream may have a gap, and no producer may report a lost record.

    python benchmarks/bench_collector.py [--records N] [--processes P] [--protocol grpc|http]

Prints events/s against the target (10,000/s by default) and where the CPU
went: the producers' emitting thread (audit_event: validate, canonicalize,
sign, OTel LogRecord), their export thread (OTLP encoding and transport), and
the collector. `--profile` adds a cProfile breakdown of producer 0 (slower;
use it for shares, not for the rate). Exit 0 on pass, 1 when the target is
missed, 2 when a record is missing or lost.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BINARY = REPO / "collector" / "dist" / "otelcol-audit"
CONFIG = REPO / "collector" / "otelcol-audit.yaml"
QUIET_FOREIGN_CORES = 0.2  # a round is "quiet" when other processes used less CPU than this

# --- producer (one process per --processes) -----------------------------------


class TimedExporter:
    """Wraps the OTLP exporter: CPU time of the export thread, optionally profiled."""

    def __init__(self, inner: Any, profiler: cProfile.Profile | None) -> None:
        self.inner = inner
        self.profiler = profiler
        self.cpu = 0.0
        self.wall = 0.0
        self.calls = 0

    def export(self, batch: Any) -> Any:
        start = time.thread_time()
        wall_start = time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable()
        try:
            return self.inner.export(batch)
        finally:
            if self.profiler is not None:
                self.profiler.disable()
            self.cpu += time.thread_time() - start
            self.wall += time.perf_counter() - wall_start
            self.calls += 1

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def otlp_exporter(endpoint: str, protocol: str, encoding: str = "protobuf") -> Any:
    import audit_sdk

    if encoding == "json":  # OTEL_EXPORTER_OTLP_PROTOCOL=http/json
        return audit_sdk.OtlpHttpJsonLogExporter(f"http://{endpoint}/v1/logs", timeout=10)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc

        return Grpc(endpoint=f"http://{endpoint}", timeout=10)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

    return Http(endpoint=f"http://{endpoint}/v1/logs", timeout=10)


def worker(args: argparse.Namespace) -> int:
    import audit_sdk

    # CPU time of each thread, not wall time: a thread waiting for the GIL is not charged
    emit_profiler = cProfile.Profile(time.thread_time) if args.profile else None
    export_profiler = cProfile.Profile(time.thread_time) if args.profile else None
    exporter = TimedExporter(
        otlp_exporter(args.endpoint, args.protocol, args.encoding), export_profiler
    )
    processor = audit_sdk.ReliableBatchProcessor(
        exporter,  # type: ignore[arg-type]
        max_export_batch_size=args.batch_size,
        max_queue_size=max(8192, 4 * args.batch_size),
    )
    logger = audit_sdk.configure(
        service_name="bench-collector",
        keys=audit_sdk.HmacKeyRing.from_file(args.keys / "hmac-keys.json"),
        checkpoint_key=args.keys / "checkpoint-key.pem",
        processor=processor,
    )
    details = {"format": "csv", "rows": 1200}
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1

    started = time.perf_counter()
    process_cpu_started = time.process_time()
    cpu_started = time.thread_time()
    if emit_profiler is not None:
        emit_profiler.enable()
    for i in range(args.records):
        audit_sdk.audit_event(
            "user.data.export",
            action="EXPORT",
            actor="alice@example.com",
            actor_type="user",
            target=f"customer/{i % 1000}",
            target_type="customer",
            request_id=f"req-{i}",
            details=details,
        )
    if emit_profiler is not None:
        emit_profiler.disable()
    emit_cpu = time.thread_time() - cpu_started
    emitted_at = time.perf_counter()
    end = logger.close()  # end record; waits until the collector acknowledged everything
    audit_sdk.shutdown()
    finished = time.perf_counter()
    stats = processor.stats
    result: dict[str, Any] = {
        "stream_id": logger.stream_id,
        "emitted": args.records,
        "end_number": end.sequence_number if end else 0,
        "emit_seconds": emitted_at - started,
        "total_seconds": finished - started,
        "emit_thread_cpu": emit_cpu,
        "export_thread_cpu": exporter.cpu,
        "export_wall": exporter.wall,
        "export_calls": exporter.calls,
        "process_cpu": time.process_time() - process_cpu_started,
        "queued": stats.queued,
        "exported": stats.exported,
        "retries": stats.retries,
        "lost": stats.lost,
    }
    if emit_profiler is not None and export_profiler is not None:
        result["profile"] = {
            "emit": profile_summary(emit_profiler),
            "export": profile_summary(export_profiler),
        }
    print(json.dumps(result), flush=True)
    return 0


def category(filename: str, name: str) -> str:
    if "urandom" in name:  # record ids; wall time here is mostly waiting for the GIL back
        return "os.urandom (record ids)"
    if "recv_into" in name or "sendall" in name:
        return "socket (waiting for the collector)"
    if "/audit_sdk/" in filename:
        return "audit_sdk (validate, JCS, HMAC, chain)"
    if "opentelemetry/exporter/otlp/proto/common" in filename or "google/protobuf" in filename:
        return "OTLP protobuf encoding"
    if "opentelemetry/exporter" in filename:
        return "OTLP exporter (other)"
    if any(s in filename for s in ("requests/", "urllib3/", "http/client", "grpc/", "socket")):
        return "transport (HTTP/gRPC)"
    if "opentelemetry/sdk" in filename or "opentelemetry/attributes" in filename:
        return "OTel SDK (LogRecord, attributes, resource)"
    if "opentelemetry/" in filename:
        return "OTel API/context"
    return "other (stdlib, builtins)"


def profile_summary(profiler: cProfile.Profile, top: int = 12) -> dict[str, Any]:
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1e-9
    by_category: collections.Counter[str] = collections.Counter()
    rows = []
    for (filename, line, name), (_cc, _nc, tottime, cumtime, _callers) in raw.items():
        by_category[category(filename, name)] += tottime
        rows.append((tottime, cumtime, f"{Path(filename).name}:{line}({name})"))
    rows.sort(reverse=True)
    return {
        "total_s": total,
        "categories": {k: v / total for k, v in by_category.most_common()},
        "top": [(t, c, where) for t, c, where in rows[:top]],
    }


# --- the collector --------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """user + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Collector:
    def __init__(self, data_dir: Path, configs: list[Path]) -> None:
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
        env.update(
            AUDIT_DATA_DIR=str(data_dir),
            AUDIT_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{free_port()}",
            AUDIT_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{free_port()}",
            AUDIT_HEALTH_ENDPOINT=f"127.0.0.1:{free_port()}",
            AUDIT_METRICS_PORT=str(free_port()),
            AUDIT_LOG_LEVEL="warn",
        )
        self.env = env
        args = [str(BINARY)]
        for config in configs:
            args += ["--config", str(config)]
        self.log = data_dir.parent / "collector.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"collector exited at start:\n{self.log.read_text()[-4000:]}")
            with contextlib.suppress(OSError):
                url = f"http://{env['AUDIT_HEALTH_ENDPOINT']}/"
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.1)
        self.stop()
        raise SystemExit("collector not healthy after 30 s")

    def endpoint(self, protocol: str) -> str:
        return self.env[
            "AUDIT_OTLP_GRPC_ENDPOINT" if protocol == "grpc" else "AUDIT_OTLP_HTTP_ENDPOINT"
        ]

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def count_store(data_dir: Path) -> tuple[int, dict[str, set[int]]]:
    """(records in the audit store, sequence numbers per stream); all segments."""
    total = 0
    streams: dict[str, set[int]] = collections.defaultdict(set)
    for path in sorted((data_dir / "audit").glob("audit*.jsonl")):
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                for rl in json.loads(line)["resourceLogs"]:
                    for sl in rl["scopeLogs"]:
                        for lr in sl["logRecords"]:
                            total += 1
                            attrs = {a["key"]: a["value"] for a in lr["attributes"]}
                            stream = attrs["audit.sequence.stream_id"]["stringValue"]
                            streams[stream].add(int(attrs["audit.sequence.number"]["intValue"]))
    return total, streams


# --- the run ----------------------------------------------------------------------


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def run(args: argparse.Namespace) -> int:
    if not os.access(BINARY, os.X_OK):
        print(f"{BINARY} is missing: bash scripts/build-collector.sh", file=sys.stderr)
        return 2
    protocol = "grpc" if args.protocol == "grpc" else "http/protobuf"
    work = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    rates: list[float] = []
    quiet_rates: list[float] = []  # rounds the rest of the machine left alone
    try:
        subprocess.run(
            [sys.executable, "-m", "audit_sdk.cli", "keygen", str(work / "keys")],
            check=True,
            capture_output=True,
        )
        configs = args.config or [CONFIG]
        for round_number in range(1, args.repeat + 1):
            data = work / f"data{round_number}"
            data.mkdir()
            collector = Collector(data, configs)  # a fresh collector and store per round
            try:
                measured = produce(args, collector, protocol, work / "keys")
            finally:
                collector.stop()  # clean shutdown: files closed
            stored, streams = count_store(data)
            if args.repeat > 1:
                print(f"round {round_number} of {args.repeat}")
            accounted, rate = report(args, protocol, configs, measured, stored, streams)
            if not accounted:
                return 2
            rates.append(rate)
            foreign = max(0.0, measured["machine_busy"] - measured["ours"]) / measured["wall"]
            if foreign <= QUIET_FOREIGN_CORES:
                quiet_rates.append(rate)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    rate = statistics.median(rates)
    verdict = "PASS" if rate >= args.target else "FAIL"
    spread = f" (median of {len(rates)}: {', '.join(f'{r:,.0f}' for r in rates)})"
    if len(quiet_rates) < len(rates):
        quiet = (
            f"median of the others: {statistics.median(quiet_rates):,.0f} events/s"
            if quiet_rates
            else "no quiet round"
        )
        print(
            f"note: other processes used more than {QUIET_FOREIGN_CORES} cores in "
            f"{len(rates) - len(quiet_rates)} of {len(rates)} rounds; {quiet}"
        )
    print(
        f"{verdict}: {rate:,.0f} events/s sustained{spread if len(rates) > 1 else ''}, "
        f"every record stored; target {args.target:,.0f} events/s"
    )
    return 0 if verdict == "PASS" else 1


def produce(
    args: argparse.Namespace, collector: Collector, protocol: str, keys: Path
) -> dict[str, Any]:
    """Run the producers against `collector`; their results and the CPU accounting."""
    shares = [
        args.records // args.processes + (1 if i < args.records % args.processes else 0)
        for i in range(args.processes)
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AUDIT_"))}
    producers = []
    for i, share in enumerate(shares):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--endpoint",
            collector.endpoint(protocol),
            "--protocol",
            protocol,
            "--records",
            str(share),
            "--keys",
            str(keys),
            "--batch-size",
            str(args.batch_size),
            "--encoding",
            args.encoding,
        ]
        if args.profile and i == 0:
            cmd.append("--profile")
        producers.append(
            subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    for p in producers:  # all imported and configured before the clock starts
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"producer did not start: {line!r}")
    cpu_before = collector.cpu()
    busy_before, total_before = machine_busy()
    started = time.perf_counter()
    for p in producers:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results: list[dict[str, Any]] = [{} for _ in producers]

    def collect(i: int, p: subprocess.Popen[str]) -> None:
        out, _ = p.communicate()
        results[i] = json.loads(out.strip().splitlines()[-1]) if p.returncode == 0 else {}

    threads = [threading.Thread(target=collect, args=(i, p)) for i, p in enumerate(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    collector_cpu = collector.cpu() - cpu_before
    busy_after, total_after = machine_busy()
    if not all(results):
        raise SystemExit("a producer failed (see its stderr above)")
    return {
        "results": results,
        "wall": wall,
        "collector_cpu": collector_cpu,
        "machine_busy": busy_after - busy_before,
        "machine_cpu": total_after - total_before,
    }


def report(
    args: argparse.Namespace,
    protocol: str,
    configs: list[Path],
    measured: dict[str, Any],
    stored: int,
    streams: dict[str, set[int]],
) -> tuple[bool, float]:
    """Print one round; (every record accounted for, events/s)."""
    results: list[dict[str, Any]] = measured["results"]
    wall: float = measured["wall"]
    collector_cpu: float = measured["collector_cpu"]
    events = sum(r["emitted"] for r in results)
    records = sum(r["end_number"] for r in results)  # events + checkpoints + end records
    lost = sum(r["lost"] for r in results)
    missing = 0
    for r in results:
        numbers = streams.get(r["stream_id"], set())
        missing += len(set(range(1, r["end_number"] + 1)) - numbers)
    unique = sum(len(v) for v in streams.values())
    rate = events / wall
    emit_cpu = sum(r["emit_thread_cpu"] for r in results)
    export_cpu = sum(r["export_thread_cpu"] for r in results)
    sdk_cpu = sum(r["process_cpu"] for r in results)
    us = 1e6 / records

    config_names = " + ".join(c.name for c in configs)
    print(
        f"otelcol-audit via {protocol} ({args.encoding}): {args.processes} producer process(es), "
        f"batch {args.batch_size}, {os.cpu_count()} CPUs, config {config_names}"
    )
    print(
        f"  emitted {events} events ({records} records with checkpoints and end records) "
        f"in {wall:.2f} s, all acknowledged"
    )
    print(
        f"  store: {stored} records, {unique} unique, {stored - unique} duplicates, "
        f"{missing} missing; producers report {lost} lost, "
        f"{sum(r['retries'] for r in results)} retried exports"
    )
    for i, r in enumerate(results):
        print(
            f"  producer {i}: emit loop {r['emitted'] / r['emit_seconds']:,.0f} ev/s "
            f"(back-pressure included), done after {r['total_seconds']:.2f} s; "
            f"{r['export_calls']} exports took {r['export_wall']:.2f} s "
            f"({r['export_thread_cpu']:.2f} s CPU)"
        )
    print(
        f"  CPU per record: producer emit thread {emit_cpu * us:.0f} us, "
        f"export thread {export_cpu * us:.0f} us, producer total {sdk_cpu * us:.0f} us; "
        f"collector {collector_cpu * us:.0f} us"
    )
    ours = measured["ours"] = sdk_cpu + collector_cpu
    others = max(0.0, measured["machine_busy"] - ours)
    print(
        f"  CPU used: producers {sdk_cpu:.1f} s + collector {collector_cpu:.1f} s "
        f"= {ours / wall:.2f} of {os.cpu_count()} cores; other processes on the machine: "
        f"{others / wall:.2f} cores"
    )
    for r in results:
        if "profile" in r:
            for phase in ("emit", "export"):
                prof = r["profile"][phase]
                shares = ", ".join(f"{k} {v:.0%}" for k, v in prof["categories"].items())
                print(
                    f"  profile of producer 0, {phase} thread ({prof['total_s']:.1f} s): {shares}"
                )
                for tottime, cumtime, where in prof["top"][:8]:
                    print(f"      {tottime:7.2f} s self {cumtime:7.2f} s cum  {where}")

    accounted = not missing and not lost and unique == records
    if not accounted:
        print(f"FAIL: records not accounted for ({missing} missing, {lost} lost)")
    print(f"  {rate:,.0f} events/s")
    return accounted, rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=60000, help="events in total")
    parser.add_argument("--processes", type=int, default=2, help="producer processes")
    parser.add_argument("--protocol", choices=["grpc", "http", "http/protobuf"], default="http")
    parser.add_argument("--batch-size", type=int, default=512, help="max records per export")
    parser.add_argument(
        "--encoding",
        choices=["protobuf", "json"],
        default="protobuf",
        help="json: audit-sdk's OTLP/HTTP-JSON exporter (OTEL_EXPORTER_OTLP_PROTOCOL=http/json, "
        "http only) instead of OTel's protobuf encoder",
    )
    parser.add_argument("--target", type=float, default=10000.0, help="events/s to pass")
    parser.add_argument("--profile", action="store_true", help="cProfile producer 0")
    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        help="collector config(s) instead of the shipped one",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the verdict uses the median")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and keys")
    # internal: one producer process
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.records < 1 or args.processes < 1:
        parser.error("--records and --processes must be positive")
    if args.encoding == "json" and args.protocol == "grpc":
        parser.error("--encoding json is OTLP/HTTP only")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
