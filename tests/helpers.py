"""Helpers shared by tests: reading OTLP-JSON trail files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_trail(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (logRecord, resource) of an OTLP-JSON lines file, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        document = json.loads(line)
        for resource_logs in document["resourceLogs"]:
            resource = resource_logs.get("resource", {})
            for scope_logs in resource_logs["scopeLogs"]:
                for log_record in scope_logs["logRecords"]:
                    out.append((log_record, resource))
    return out


def attributes_of(log_record: dict[str, Any]) -> dict[str, Any]:
    from audit_sdk._values import otlp_to_python

    return {a["key"]: otlp_to_python(a["value"]) for a in log_record.get("attributes", [])}


def check_chains(
    entries: list[tuple[dict[str, Any], dict[str, Any]]], key: bytes
) -> dict[str, int]:
    """Assert every stream in `entries` is contiguous from 1, chained and MAC-valid.

    A deliberately small, independent re-check for the SDK tests (the verifier
    has its own suite). Returns the record count per stream id.
    """
    from audit_sdk._canonical import canonical_from_otlp, compute_mac, record_hash

    streams: dict[str, dict[int, tuple[dict[str, Any], bytes]]] = {}
    for log_record, _ in entries:
        attrs = attributes_of(log_record)
        canonical = canonical_from_otlp(log_record)
        assert compute_mac(key, canonical) == attrs["audit.integrity.value"]
        numbers = streams.setdefault(attrs["audit.sequence.stream_id"], {})
        number = attrs["audit.sequence.number"]
        assert number not in numbers, f"duplicate number {number}"
        numbers[number] = (attrs, canonical)
    for stream_id, numbers in streams.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"gap in {stream_id}"
        for number in range(2, len(numbers) + 1):
            attrs, _ = numbers[number]
            previous_attrs, previous_canonical = numbers[number - 1]
            assert attrs["audit.sequence.previous_hash"] == record_hash(previous_canonical)
            assert attrs["audit.sequence.previous_record_id"] == previous_attrs["audit.record.id"]
    return {stream_id: len(numbers) for stream_id, numbers in streams.items()}
