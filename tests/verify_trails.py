"""Trails for the verifier tests: made by the real SDK, then read, changed and rewritten.

A trail is kept as a list of items (resource, log record) in file order; the
writer batches items into OTLP-JSON lines the way the SDK's sink and the
collector's file exporter do (one `{"resourceLogs": [...]}` object per line).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk
from audit_sdk import _names as n
from audit_sdk._canonical import canonical_from_otlp, compute_mac, record_hash
from audit_sdk._checkpoint import sign_checkpoint
from audit_sdk._keys import HmacKeyRing, checkpoint_key_id
from audit_sdk._values import python_to_otlp

Item = tuple[dict[str, Any], dict[str, Any]]  # (resource, log record)
SCOPE = {"name": "audit_sdk", "version": "0.1.0"}
ATTACKER_HMAC = b"attacker-key-attacker-key-attacker-key!!"
ATTACKER_ED25519 = Ed25519PrivateKey.from_private_bytes(b"\x42" * 32)


@dataclass
class Trail:
    ring: HmacKeyRing
    checkpoint_key: Ed25519PrivateKey
    items: list[Item]

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.checkpoint_key.public_key()

    def copy_items(self) -> list[Item]:
        return [(resource, record) for resource, record in orjson.loads(orjson.dumps(self.items))]


def sdk_trail(
    directory: Path,
    *,
    sizes: Sequence[int] = (9, 14, 6),
    checkpoint_every: int = 4,
    ring: HmacKeyRing | None = None,
    checkpoint_key: Ed25519PrivateKey | None = None,
) -> Trail:
    """Streams of `sizes` user events each, made by `audit_sdk.configure()` into one file."""
    ring = ring or HmacKeyRing.generate()
    checkpoint_key = checkpoint_key or Ed25519PrivateKey.generate()
    path = directory / "sdk-trail.jsonl"
    tracer = TracerProvider().get_tracer("verify-tests")
    loggers = []
    for s, size in enumerate(sizes):
        logger = audit_sdk.configure(
            service_name=f"svc-{s}",
            keys=ring,
            checkpoint_key=checkpoint_key,
            checkpoint_every=checkpoint_every,
            checkpoint_interval=None,
            trail_path=path,
            set_default=False,
        )
        loggers.append(logger)
        for i in range(size):
            kwargs: dict[str, Any] = {
                "action": ["EXPORT", "READ", "DELETE"][i % 3],
                "actor": f"user-{i}@example.com",
                "outcome": ["success", "failure"][i % 2],
            }
            if i % 2 == 0:
                kwargs["target"] = f"doc-{s}-{i}"
            if i % 3 == 1:
                kwargs["details"] = {"rows": i, "ratio": i / 7, "tags": ["a", "b"], "ok": True}
            if i % 4 == 2:
                kwargs["attributes"] = {
                    "app.list": [1, 2, 3],
                    "app.map": {"k": "v", "n": 1.5},
                    "app.bytes": b"\x00\x01",
                    "app.flag": False,
                    "app.count": 2**40,
                    "app.ratio": 0.25,
                    "app.unicode": "Grüße 😀",
                }
            if i % 5 == 3:
                with tracer.start_as_current_span("work"):
                    logger.emit("doc.data.export", **kwargs)
            else:
                logger.emit("doc.data.export", **kwargs)
    for logger in loggers:
        logger.close()  # the end record, then flush
    return Trail(ring, checkpoint_key, read_items(path))


def read_items(path: Path) -> list[Item]:
    items: list[Item] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        document = json.loads(line)
        for rl in document["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    items.append((rl.get("resource", {}), record))
    return items


def write_items(
    path: Path, items: Iterable[Item], *, batch: int = 5, rng: random.Random | None = None
) -> Path:
    """One line per batch of consecutive items (random sizes with `rng`), grouped by resource."""
    items = list(items)
    lines = []
    i = 0
    while i < len(items):
        size = rng.randint(1, batch) if rng else batch
        chunk = items[i : i + size]
        i += size
        groups: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for resource, record in chunk:
            if groups and groups[-1][0] == resource:
                groups[-1][1].append(record)
            else:
                groups.append((resource, [record]))
        document = {
            "resourceLogs": [
                {"resource": resource, "scopeLogs": [{"scope": SCOPE, "logRecords": records}]}
                for resource, records in groups
            ]
        }
        lines.append(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# -- reading and changing OTLP-JSON records ----------------------------------------


def get_attr(record: dict[str, Any], key: str) -> Any:
    from audit_sdk._values import otlp_to_python

    for entry in record.get("attributes", []):
        if entry["key"] == key:
            return otlp_to_python(entry["value"])
    return None


def has_attr(record: dict[str, Any], key: str) -> bool:
    return any(entry["key"] == key for entry in record.get("attributes", []))


def set_attr(record: dict[str, Any], key: str, value: Any) -> None:
    """Set (or add) an attribute from a Python value; an OTLP dict value is used as is."""
    encoded = (
        value
        if isinstance(value, dict) and len(value) == 1 and str(next(iter(value))).endswith("Value")
        else python_to_otlp(value)
    )
    for entry in record.setdefault("attributes", []):
        if entry["key"] == key:
            entry["value"] = encoded
            return
    record["attributes"].append({"key": key, "value": encoded})


def del_attr(record: dict[str, Any], key: str) -> None:
    record["attributes"] = [e for e in record.get("attributes", []) if e["key"] != key]


def stream_of(record: dict[str, Any]) -> str:
    return str(get_attr(record, n.SEQ_STREAM_ID))


def number_of(record: dict[str, Any]) -> int:
    return int(get_attr(record, n.SEQ_NUMBER))


def streams_of(items: Sequence[Item]) -> dict[str, list[int]]:
    """Stream id -> item indexes in sequence order."""
    out: dict[str, list[int]] = {}
    for index, (_, record) in enumerate(items):
        out.setdefault(stream_of(record), []).append(index)
    for indexes in out.values():
        indexes.sort(key=lambda i: number_of(items[i][1]))
    return out


def canonical(record: dict[str, Any]) -> bytes:
    return canonical_from_otlp(record)


def sign(record: dict[str, Any], key: bytes = ATTACKER_HMAC, key_id: str = "default") -> None:
    """Re-MAC a record (an attacker does this with a key of their own)."""
    set_attr(record, n.INTEGRITY_VALUE, compute_mac(key, canonical_from_otlp(record)))
    set_attr(record, n.INTEGRITY_KEY_ID, key_id)


def link_after(record: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Make `record` claim `previous` as its predecessor (or none), as a forger would."""
    if previous is None:
        del_attr(record, n.SEQ_PREVIOUS_HASH)
        del_attr(record, n.SEQ_PREVIOUS_ID)
    else:
        set_attr(record, n.SEQ_PREVIOUS_HASH, record_hash(canonical_from_otlp(previous)))
        set_attr(record, n.SEQ_PREVIOUS_ID, get_attr(previous, n.RECORD_ID))


def sign_checkpoint_attrs(record: dict[str, Any], key: Ed25519PrivateKey, *, closed: bool) -> None:
    set_attr(
        record,
        n.CHECKPOINT_SIGNATURE,
        sign_checkpoint(
            key,
            stream_of(record),
            int(get_attr(record, n.CHECKPOINT_NUMBER)),
            str(get_attr(record, n.CHECKPOINT_HASH)),
            closed=closed,
        ),
    )
    set_attr(record, n.CHECKPOINT_KEY_ID, checkpoint_key_id(key.public_key()))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
