"""Benchmark `audit-sdk verify`: records verified per second beside the parse floor.

    .venv/bin/python benchmarks/bench_verify.py                 # 1,000,000 records
    .venv/bin/python benchmarks/bench_verify.py --records 100000 --jobs 1 2

1. Writes a trail of about --records records over --streams streams (cached under
   benchmarks/out/ by size), exactly as the SDK would: the same attributes in
   the same order, the same canonical bytes, MACs, hash chain, a signed
   checkpoint every 1000 records and an end record per stream, one
   `{"resourceLogs": [...]}` line per export batch of 512 records, batches of
   the streams interleaved. Records are made by the SDK's own `AuditLogger`
   (validation, signing, chaining, checkpoints) over a stand-in for the OTel
   logger that keeps them as OTLP-JSON, which is what makes a million records
   quick to make; `tests/test_verify_bench.py` checks them against the
   embedded sink's output.
2. Times, in the same run and on the same file:
   - floor: read each line, `orjson.loads` it and SHA-256 the line: the least
     any verifier that parses its input must do;
   - floor+canonical: the floor plus, per record, the reference canonical
     bytes (`canonical_from_otlp`) and their SHA-256: the least a verifier
     that recomputes record hashes must do with the reference code;
   - verify with --jobs 1 with the compiled record scanner turned off
     (AUDIT_SDK_NO_CSCAN=1): the pure-Python path, the baseline of the C one;
   - verify with --jobs 1 (and every other --jobs value given).
   Each is run --repeat times, best time kept, with the garbage collector off
   (as `verify` itself runs), so that other load on the machine disturbs the
   figures as little as possible.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_sdk import _names as n
from audit_sdk._canonical import canonical_from_otlp, record_hash
from audit_sdk._keys import HmacKeyRing
from audit_sdk._logger import AuditLogger
from audit_sdk._otlp_json import encode_attributes
from audit_sdk._values import python_to_otlp
from audit_sdk._verify._scan import compiled_scanner
from audit_sdk.verify import verify

OUT = Path(__file__).resolve().parent / "out"
BATCH = 512
CHECKPOINT_EVERY = 1000
HMAC_KEY = b"benchmark-hmac-key-0123456789abcdef"  # fixed: the cached trail stays valid
CHECKPOINT_SEED = b"\x07" * 32
SERVICE = "bench-service"
RESOURCE = {
    "attributes": encode_attributes(
        {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.2",
            "service.name": SERVICE,
            n.INTEGRITY_ALGORITHM: "HMAC-SHA256",
        }
    )
}
SCOPE = {"name": "audit_sdk", "version": "0.1.0"}


def sdk_fingerprint() -> str:
    """Changes when the code that shapes records does: a cached trail is then made anew."""
    from audit_sdk import _canonical, _jcs, _logger, _otlp_json, _values

    sources = (_logger, _otlp_json, _canonical, _values, _jcs)
    digest = hashlib.sha256(b"".join(Path(str(m.__file__)).read_bytes() for m in sources))
    return digest.hexdigest()[:8]


def keys() -> tuple[HmacKeyRing, Ed25519PrivateKey]:
    return HmacKeyRing.single(HMAC_KEY), Ed25519PrivateKey.from_private_bytes(CHECKPOINT_SEED)


class _Collect:
    """Stands in for the OTel logger under `AuditLogger`: keeps each record as OTLP-JSON.

    The encoding is `_otlp_json.encode_log_record`'s for what the SDK sets (no
    severity, no trace context here), without building OTel SDK objects.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def emit(
        self,
        *,
        timestamp: int,
        observed_timestamp: int,
        body: Any,
        attributes: dict[str, Any],
        event_name: str,
        **_: Any,
    ) -> None:
        record: dict[str, Any] = {
            "timeUnixNano": str(timestamp),
            "observedTimeUnixNano": str(observed_timestamp),
        }
        if body is not None:
            record["body"] = python_to_otlp(body)
        record["attributes"] = encode_attributes(attributes)
        record["eventName"] = event_name
        self.records.append(record)


class StreamWriter:
    """One stream made by the SDK's own `AuditLogger` (signing, chaining, checkpoints)."""

    def __init__(self, ring: HmacKeyRing, checkpoint_key: Ed25519PrivateKey, index: int) -> None:
        self.out = _Collect()
        self.index = index
        self.logger = AuditLogger(
            self.out,  # type: ignore[arg-type]
            keys=ring,
            service_name=SERVICE,
            event_source=SERVICE,
            checkpoint_key=checkpoint_key,
            checkpoint_every=CHECKPOINT_EVERY,
            checkpoint_interval=None,
        )

    def take(self) -> list[dict[str, Any]]:
        records, self.out.records = self.out.records, []
        return records

    def event(self, i: int) -> None:
        self.logger.emit(
            "report.export",
            action="EXPORT",
            actor=f"user-{i % 131}@example.com",
            target=f"report-{i % 977}",
            target_type="report",
            request_id=f"req-{i}",
            details={"format": "csv", "rows": i % 5000, "filters": {"region": "eu"}},
        )

    def checkpoint(self) -> list[dict[str, Any]]:
        self.logger.checkpoint()
        return self.take()

    def records(self, events: int) -> Iterator[dict[str, Any]]:
        """`events` user events with the checkpoints that come with them, the end record last."""
        for i in range(events):
            self.event(i)
            yield from self.take()
        self.logger.close()
        yield from self.take()


def line_of(records: list[dict[str, Any]]) -> bytes:
    document = {
        "resourceLogs": [
            {"resource": RESOURCE, "scopeLogs": [{"scope": SCOPE, "logRecords": records}]}
        ]
    }
    return orjson.dumps(document) + b"\n"


def events_per_stream(total: int, streams: int) -> list[int]:
    """User events per stream so that, with checkpoints and end records, about `total` records."""
    per_stream = max(total // streams - 1, 1) * CHECKPOINT_EVERY // (CHECKPOINT_EVERY + 1)
    return [max(per_stream, 1)] * streams


def write_trail(path: Path, total: int, streams: int) -> None:
    """About `total` records over `streams` streams; batches of the streams interleaved."""
    ring, checkpoint_key = keys()
    generators = [
        StreamWriter(ring, checkpoint_key, s).records(events)
        for s, events in enumerate(events_per_stream(total, streams))
    ]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        while generators:
            for gen in list(generators):
                batch = [record for _, record in zip(range(BATCH), gen, strict=False)]
                if batch:
                    out.write(line_of(batch))
                if len(batch) < BATCH:
                    generators.remove(gen)
    os.replace(tmp, path)


def public_key_pem() -> bytes:
    _, checkpoint_key = keys()
    return checkpoint_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- measurements -------------------------------------------------------------------


def floor(path: Path) -> int:
    """Parse every line and hash it; returns the number of records seen."""
    count = 0
    loads = orjson.loads
    sha256 = hashlib.sha256
    with open(path, "rb") as handle:
        for line in handle:
            document = loads(line)
            sha256(line).digest()
            for rl in document["resourceLogs"]:
                for sl in rl["scopeLogs"]:
                    count += len(sl["logRecords"])
    return count


def floor_canonical(path: Path) -> int:
    """The floor, plus the reference canonical bytes of every record and their hash."""
    count = 0
    loads = orjson.loads
    with open(path, "rb") as handle:
        for line in handle:
            document = loads(line)
            hashlib.sha256(line).digest()
            for rl in document["resourceLogs"]:
                for sl in rl["scopeLogs"]:
                    for record in sl["logRecords"]:
                        record_hash(canonical_from_otlp(record))
                        count += 1
    return count


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result
    finally:
        if enabled:
            gc.enable()


def interleaved(
    repeat: int, measures: list[tuple[str, Callable[[], int]]]
) -> list[tuple[str, float, int]]:
    """Run the measures round-robin `repeat` times; keep each one's best time.

    Round-robin rather than one measure after the other, so that load that
    comes and goes on the machine affects them alike.
    """
    best: dict[str, tuple[float, int]] = {}
    for _ in range(repeat):
        for name, fn in measures:
            seconds, count = timed(fn)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, count)
    return [(name, *best[name]) for name, _ in measures]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trail", type=Path, help="trail file to use (made if missing)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--keys-out",
        type=Path,
        metavar="DIR",
        help="also write the trail's keys (hmac-keys.json, checkpoint-key.pub.pem) to DIR, "
        "to run `audit-sdk verify` on the trail by hand",
    )
    args = parser.parse_args(argv)

    path = (
        args.trail or OUT / f"bench-trail-{args.records}-{args.streams}-{sdk_fingerprint()}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        print(
            f"writing {args.records:,} records over {args.streams} streams to {path} ...",
            file=sys.stderr,
        )
        start = time.perf_counter()
        write_trail(path, args.records, args.streams)
        print(f"  done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    size = path.stat().st_size
    ring, checkpoint_key = keys()
    if args.keys_out:
        args.keys_out.mkdir(parents=True, exist_ok=True)
        ring.write_file(args.keys_out / "hmac-keys.json")
        (args.keys_out / "checkpoint-key.pub.pem").write_bytes(public_key_pem())
    public_key = checkpoint_key.public_key()

    def verify_with(jobs: int, compiled: bool = True) -> Callable[[], int]:
        def run() -> int:
            before = os.environ.pop("AUDIT_SDK_NO_CSCAN", None)
            if not compiled:
                os.environ["AUDIT_SDK_NO_CSCAN"] = "1"
            try:
                result = verify(
                    [path], keys=ring, public_keys=[public_key], jobs=jobs, require_closed=True
                )
            finally:
                os.environ.pop("AUDIT_SDK_NO_CSCAN", None)
                if before is not None:
                    os.environ["AUDIT_SDK_NO_CSCAN"] = before
            if not result.ok or result.warnings:
                raise SystemExit(f"the benchmark trail does not verify: {result.findings[:3]}")
            return result.records

        return run

    measures: list[tuple[str, Callable[[], int]]] = [
        ("floor: parse + hash each line", lambda: floor(path)),
        ("floor + canonical_from_otlp + hash per record", lambda: floor_canonical(path)),
    ]
    if compiled_scanner(None) is None:
        print("note: no compiled scanner here; verify runs in Python only", file=sys.stderr)
    else:
        measures.append(("verify --jobs 1, Python scanner only", verify_with(1, compiled=False)))
    for jobs in dict.fromkeys(args.jobs):
        measures.append((f"verify --jobs {jobs} (HMAC + checkpoints)", verify_with(jobs)))
    rows = interleaved(args.repeat, measures)

    floor_rate = rows[0][2] / rows[0][1]
    report = {
        "records": rows[0][2],
        "bytes": size,
        "cpus": os.cpu_count(),
        "rows": [
            {
                "what": what,
                "seconds": round(s, 3),
                "records_per_second": round(c / s),
                "ratio_to_floor": round(c / s / floor_rate, 3),
            }
            for what, s, c in rows
        ],
    }
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(
        f"trail: {path} ({size / 1e6:,.0f} MB, {rows[0][2]:,} records, {args.streams} streams), "
        f"{os.cpu_count()} CPUs, best of {args.repeat} interleaved rounds"
    )
    print(f"{'':52s} {'seconds':>8s} {'records/s':>11s} {'vs floor':>8s}")
    for row in report["rows"]:
        print(
            f"{row['what']:52s} {row['seconds']:8.2f} {row['records_per_second']:11,d} "
            f"{row['ratio_to_floor']:8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
