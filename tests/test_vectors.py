"""The committed test vectors (SPEC §2) recomputed by the SDK's own code."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audit_sdk._canonical import MacKey, canonical_from_otlp, compute_mac, record_hash

VECTORS_DIR = Path(__file__).parent / "vectors"
VECTORS = json.loads((VECTORS_DIR / "records.json").read_text(encoding="utf-8"))


def test_there_are_enough_vectors_covering_the_required_cases() -> None:
    assert len(VECTORS) >= 12
    names = " ".join(v["name"] for v in VECTORS)
    for topic in (
        "unicode",
        "astral",
        "2^53",
        "doubles",
        "bools",
        "bytes",
        "nested",
        "empty body",
        "no body",
        "trace",
    ):
        assert topic in names, topic


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_recomputes_byte_for_byte(vector: dict) -> None:
    canonical = canonical_from_otlp(vector["log_record"])
    assert canonical == base64.b64decode(vector["canonical_b64"])
    key = base64.b64decode(vector["key_b64"])
    assert compute_mac(key, canonical) == vector["mac_b64"]
    assert MacKey(key).mac(canonical) == vector["mac_b64"]
    assert record_hash(canonical) == vector["hash_hex"]
    carried = {a["key"]: a["value"] for a in vector["log_record"]["attributes"]}
    assert carried["audit.integrity.value"] == {"stringValue": vector["mac_b64"]}


def test_vectors_file_matches_its_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(VECTORS_DIR / "generate.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_any_change_to_a_signed_field_changes_the_canonical_bytes() -> None:
    vector = VECTORS[2]
    original = canonical_from_otlp(vector["log_record"])
    edited = json.loads(json.dumps(vector["log_record"]))
    edited["body"]["stringValue"] += " "
    assert canonical_from_otlp(edited) != original
    edited = json.loads(json.dumps(vector["log_record"]))
    edited["timeUnixNano"] = str(int(edited["timeUnixNano"]) + 1)
    assert canonical_from_otlp(edited) != original


def test_integrity_attributes_are_not_signed() -> None:
    vector = VECTORS[0]
    record = json.loads(json.dumps(vector["log_record"]))
    record["attributes"] = [
        a for a in record["attributes"] if not a["key"].startswith("audit.integrity.")
    ]
    assert canonical_from_otlp(record) == base64.b64decode(vector["canonical_b64"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["attributes"][0].update(value={"stringValue": "a", "intValue": "5"}),
            "more than one",
        ),
        (lambda r: r.update(body="plain string"), "body must be"),
        (lambda r: r.update(traceId="0x" + "a" * 30), "traceId"),
        (
            lambda r: r["attributes"].append(
                {
                    "key": "m",
                    "value": {
                        "kvlistValue": {
                            "values": [
                                {"key": "k", "value": {"stringValue": "1"}},
                                {"key": "k", "value": {"stringValue": "2"}},
                            ]
                        }
                    },
                }
            ),
            "appears twice",
        ),
        (
            lambda r: r["attributes"].append({"key": "b", "value": {"boolValue": "false"}}),
            "boolean",
        ),
        (lambda r: r["attributes"].append({"key": "l", "value": {"kvlistValue": []}}), "kvlist"),
        (
            lambda r: r["attributes"].append({"key": "a", "value": {"arrayValue": {"values": 3}}}),
            "list",
        ),
    ],
)
def test_records_that_readers_could_read_differently_are_refused(edit: Any, message: str) -> None:
    record = json.loads(json.dumps(VECTORS[0]["log_record"]))
    edit(record)
    with pytest.raises(ValueError, match=message):
        canonical_from_otlp(record)
