"""Benchmark `audit-sdk verify`: records verified per second beside the parse floor.

    .venv/bin/python benchmarks/bench_verify.py                 # 1,000,000 records
    .venv/bin/python benchmarks/bench_verify.py --records 100000 --jobs 1 2

1. Writes a trail of --records records over --streams streams (cached under
   benchmarks/out/ by size), exactly as the SDK would: the same attributes in
   the same order, the same canonical bytes, MACs, hash chain, a signed
   checkpoint every 1000 records and an end record per stream, one
   `{"resourceLogs": [...]}` line per export batch of 512 records, batches of
   the streams interleaved. Records are signed directly with the SDK's own
   helpers (`_canonical`, `_values`, `_otlp_json`, `_checkpoint`) instead of
   through OpenTelemetry, which is what makes a million records quick to make;
   `tests/test_verify_bench.py` checks that they match what the SDK emits.
2. Times, in the same run and on the same file:
   - floor: read each line, `orjson.loads` it and SHA-256 the line: the least
     any verifier that parses its input must do;
   - floor+canonical: the floor plus, per record, the reference canonical
     bytes (`canonical_from_otlp`) and their SHA-256: the least a verifier
     that recomputes record hashes must do with the reference code;
   - verify with --jobs 1 (and every other --jobs value given).
   Each is run --repeat times, best time kept, with the garbage collector off
   (as `verify` itself runs), so that other load on the machine disturbs the
   figures as little as possible.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_sdk import _names as n
from audit_sdk._canonical import canonical_from_otlp, compute_mac, record_hash, signing_object
from audit_sdk._checkpoint import sign_checkpoint
from audit_sdk._jcs import canonicalize, canonicalize_fast
from audit_sdk._keys import HmacKeyRing, checkpoint_key_id
from audit_sdk._otlp_json import encode_attributes
from audit_sdk._values import tag_attributes
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


def keys() -> tuple[HmacKeyRing, Ed25519PrivateKey]:
    return HmacKeyRing.single(HMAC_KEY), Ed25519PrivateKey.from_private_bytes(CHECKPOINT_SEED)


class StreamWriter:
    """One stream signed as `AuditLogger` signs it (see src/audit_sdk/_logger.py)."""

    def __init__(self, ring: HmacKeyRing, checkpoint_key: Ed25519PrivateKey, index: int) -> None:
        self.ring = ring
        self.checkpoint_key = checkpoint_key
        self.checkpoint_key_id = checkpoint_key_id(checkpoint_key.public_key())
        self.id = str(uuid.UUID(int=index + 1, version=4))
        self.next_number = 1
        self.previous_hash: str | None = None
        self.previous_id: str | None = None
        self.clock = 1_760_000_000_000_000_000 + index * 1_000_000_000
        self.index = index

    def _record(self, event_name: str, attrs: dict[str, Any], body: str | None) -> dict[str, Any]:
        number = self.next_number
        attrs[n.SEQ_STREAM_ID] = self.id
        attrs[n.SEQ_NUMBER] = number
        if self.previous_hash is not None:
            attrs[n.SEQ_PREVIOUS_HASH] = self.previous_hash
            attrs[n.SEQ_PREVIOUS_ID] = self.previous_id
        tagged, exact = tag_attributes(attrs)
        self.clock += 1_000_003
        canonical = canonicalize_fast(
            signing_object(
                event_name=event_name,
                body=body,
                timestamp=self.clock,
                observed_timestamp=self.clock,
                trace_id=None,
                span_id=None,
                tagged_attributes=tagged,
            ),
            exact,
        )
        attrs[n.INTEGRITY_VALUE] = compute_mac(self.ring.active_key, canonical)
        attrs[n.INTEGRITY_SIGNER] = "producer"
        attrs[n.INTEGRITY_CANON] = "jcs"
        attrs[n.INTEGRITY_KEY_ID] = self.ring.active_id
        self.next_number = number + 1
        self.previous_hash = record_hash(canonical)
        self.previous_id = attrs[n.RECORD_ID]
        record: dict[str, Any] = {
            "timeUnixNano": str(self.clock),
            "observedTimeUnixNano": str(self.clock),
        }
        if body is not None:
            record["body"] = {"stringValue": body}
        record["attributes"] = encode_attributes(attrs)
        record["eventName"] = event_name
        return record

    def event(self, i: int) -> dict[str, Any]:
        record_id = str(
            uuid.UUID(bytes=hashlib.md5(f"{self.index}:{i}".encode()).digest(), version=4)
        )
        target = f"report-{i % 977}"
        attrs: dict[str, Any] = {
            n.RECORD_ID: record_id,
            n.ACTOR_ID: f"user-{i % 131}@example.com",
            n.ACTOR_TYPE: "user",
            n.ACTION: "EXPORT",
            n.OUTCOME: "success",
            n.TARGET_ID: target,
            n.TARGET_TYPE: "report",
            n.REQUEST_ID: f"req-{i}",
            n.SCHEMA_VERSION: n.SCHEMA_VERSION_VALUE,
            n.CE_ID: record_id,
            n.CE_SOURCE: SERVICE,
            n.CE_SPEC_VERSION: "1.0",
            n.CE_TYPE: "report.export",
            n.CE_SUBJECT: target,
        }
        body = canonicalize({"format": "csv", "rows": i % 5000, "filters": {"region": "eu"}})
        return self._record("report.export", attrs, body.decode("utf-8"))

    def checkpoint(self, closed: bool) -> dict[str, Any]:
        covered = self.next_number - 1
        record_id = str(uuid.UUID(int=(self.index << 64) | covered, version=4))
        previous_hash = self.previous_hash or ""
        attrs: dict[str, Any] = {
            n.RECORD_ID: record_id,
            n.ACTOR_ID: SERVICE,
            n.ACTOR_TYPE: "system",
            n.ACTION: "CHECKPOINT",
            n.OUTCOME: "success",
            n.SCHEMA_VERSION: n.SCHEMA_VERSION_VALUE,
            n.CE_ID: record_id,
            n.CE_SOURCE: SERVICE,
            n.CE_SPEC_VERSION: "1.0",
            n.CE_TYPE: n.CHECKPOINT_EVENT,
            n.CHECKPOINT_NUMBER: covered,
            n.CHECKPOINT_HASH: previous_hash,
            n.CHECKPOINT_SIGNATURE: sign_checkpoint(
                self.checkpoint_key, self.id, covered, previous_hash, closed=closed
            ),
            n.CHECKPOINT_KEY_ID: self.checkpoint_key_id,
        }
        if closed:
            attrs[n.SEQ_END] = True
        return self._record(n.CHECKPOINT_EVENT, attrs, None)

    def records(self, count: int) -> Iterator[dict[str, Any]]:
        """`count` records in all: events, a checkpoint after every 1000th, the end record last."""
        made = 0
        i = 0
        since_checkpoint = 0
        while made < count - 1:
            yield self.event(i)
            i += 1
            made += 1
            since_checkpoint += 1
            if since_checkpoint >= CHECKPOINT_EVERY and made < count - 1:
                yield self.checkpoint(closed=False)
                made += 1
                since_checkpoint = 0
        yield self.checkpoint(closed=True)


def line_of(records: list[dict[str, Any]]) -> bytes:
    document = {
        "resourceLogs": [
            {"resource": RESOURCE, "scopeLogs": [{"scope": SCOPE, "logRecords": records}]}
        ]
    }
    return orjson.dumps(document) + b"\n"


def write_trail(path: Path, total: int, streams: int) -> None:
    """`total` records over `streams` streams; batches of the streams interleaved."""
    ring, checkpoint_key = keys()
    per_stream = [total // streams + (1 if s < total % streams else 0) for s in range(streams)]
    generators = [
        StreamWriter(ring, checkpoint_key, s).records(count)
        for s, count in enumerate(per_stream)
        if count > 0
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


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    times = []
    result = 0
    for _ in range(repeat):
        enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        finally:
            if enabled:
                gc.enable()
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--trail", type=Path, help="trail file to use (made if missing)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    path = args.trail or OUT / f"bench-trail-{args.records}-{args.streams}.jsonl"
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
    public_key = checkpoint_key.public_key()

    rows: list[tuple[str, float, int]] = []
    seconds, count = best_of(args.repeat, lambda: floor(path))
    rows.append(("floor: parse + hash each line", seconds, count))
    seconds, count = best_of(args.repeat, lambda: floor_canonical(path))
    rows.append(("floor + canonical_from_otlp + hash per record", seconds, count))
    for jobs in dict.fromkeys(args.jobs):

        def run(jobs: int = jobs) -> int:
            result = verify(
                [path], keys=ring, public_keys=[public_key], jobs=jobs, require_closed=True
            )
            if not result.ok or result.warnings:
                raise SystemExit(f"the benchmark trail does not verify: {result.findings[:3]}")
            return result.records

        seconds, count = best_of(args.repeat, run)
        rows.append((f"verify --jobs {jobs} (HMAC + checkpoints)", seconds, count))

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
        f"{os.cpu_count()} CPUs, best of {args.repeat}"
    )
    print(f"{'':52s} {'seconds':>8s} {'records/s':>11s} {'vs floor':>8s}")
    for row in report["rows"]:
        print(
            f"{row['what']:52s} {row['seconds']:8.2f} {row['records_per_second']:11,d} "
            f"{row['ratio_to_floor']:8.2f}"
        )
    return 0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


if __name__ == "__main__":
    sys.exit(main())
