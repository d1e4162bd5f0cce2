"""Regenerate tests/vectors/records.json: byte-level test vectors for SPEC §2.

Independent of audit_sdk on purpose: the signed object is built here from the
OTLP-JSON record by a separate small function, and canonicalized by the
`rfc8785` package, so that the tests check the SDK against a second
implementation rather than against itself.

    python tests/vectors/generate.py            # rewrite records.json
    python tests/vectors/generate.py --check    # exit 1 if records.json is stale
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import rfc8785

HERE = Path(__file__).parent
OUT = HERE / "records.json"

KEYS = {
    "default": hashlib.sha256(b"audit-sdk test vector key: default").digest(),
    "2026-q4": hashlib.sha256(b"audit-sdk test vector key: 2026-q4").digest() * 2,
}
STREAM = "5f0c7a52-9d3e-4b8a-a1f2-3c4d5e6f7a8b"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
T0 = 1764859200123456789


def s(value: str) -> dict[str, Any]:
    return {"stringValue": value}


def attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def base_attrs(record_id: str, number: int, previous: str | None, **extra: str) -> list[Any]:
    out = [
        attr("audit.record.id", s(record_id)),
        attr("audit.actor.id", s(extra.get("actor", "alice@example.com"))),
        attr("audit.actor.type", s("user")),
        attr("audit.action", s(extra.get("action", "EXPORT"))),
        attr("audit.outcome", s("success")),
        attr("audit.schema.version", s("1")),
        attr("cloudevents.event_id", s(record_id)),
        attr("cloudevents.event_source", s("billing")),
        attr("cloudevents.event_spec_version", s("1.0")),
        attr("cloudevents.event_type", s(extra.get("event", "user.data.export"))),
        attr("audit.sequence.stream_id", s(STREAM)),
        attr("audit.sequence.number", {"intValue": str(number)}),
    ]
    if previous is not None:
        out.append(attr("audit.sequence.previous_hash", s(previous)))
        out.append(attr("audit.sequence.previous_record_id", s(f"prev-of-{record_id}")))
    return out


# -- the independent signed-object builder (SPEC §2, steps 1-2) ---------------


def tag(value: dict[str, Any]) -> Any:
    if "arrayValue" in value:
        return [tag(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {e["key"]: tag(e["value"]) for e in value["kvlistValue"].get("values", [])}
    if "intValue" in value:
        return {"intValue": str(int(value["intValue"]))}
    if "doubleValue" in value:
        return {"doubleValue": float(value["doubleValue"])}
    ((kind, raw),) = value.items()
    return {kind: raw}


def signed_object(record: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "attributes": {
            a["key"]: tag(a["value"])
            for a in record.get("attributes", [])
            if not a["key"].startswith("audit.integrity.")
        }
    }
    if record.get("eventName"):
        obj["event_name"] = record["eventName"]
    body = record.get("body")
    if body is not None:
        obj["body"] = body["stringValue"] if "stringValue" in body else tag(body)
    for field, name in (
        ("timeUnixNano", "timestamp"),
        ("observedTimeUnixNano", "observed_timestamp"),
    ):
        if int(record.get(field, "0")):
            obj[name] = str(int(record[field]))
    if record.get("traceId", "").strip("0"):
        obj["trace_id"] = record["traceId"].lower()
    if record.get("spanId", "").strip("0"):
        obj["span_id"] = record["spanId"].lower()
    return obj


def seal(name: str, record: dict[str, Any], key_id: str = "default") -> dict[str, Any]:
    key = KEYS[key_id]
    canonical = rfc8785.dumps(signed_object(record))
    mac = base64.b64encode(hmac.new(key, canonical, hashlib.sha256).digest()).decode()
    record["attributes"] = [
        *record["attributes"],
        attr("audit.integrity.value", s(mac)),
        attr("audit.integrity.signer", s("producer")),
        attr("audit.integrity.canonicalization", s("jcs")),
        attr("audit.integrity.key_id", s(key_id)),
    ]
    return {
        "name": name,
        "log_record": record,
        "key_b64": base64.b64encode(key).decode(),
        "canonical_b64": base64.b64encode(canonical).decode(),
        "mac_b64": mac,
        "hash_hex": hashlib.sha256(canonical).hexdigest(),
    }


def record(
    rid: str,
    number: int,
    previous: str | None = None,
    *,
    event: str = "user.data.export",
    extra: list[Any] | None = None,
    body: Any = None,
    trace: bool = False,
    **kw: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "timeUnixNano": str(T0 + number),
        "observedTimeUnixNano": str(T0 + number + 1000),
        "attributes": base_attrs(rid, number, previous, event=event, **kw) + (extra or []),
        "eventName": event,
    }
    if body is not None:
        out["body"] = body
    if trace:
        out["traceId"] = TRACE
        out["spanId"] = SPAN
        out["flags"] = 1
    return out


def build() -> list[dict[str, Any]]:
    v: list[dict[str, Any]] = []
    v.append(
        seal(
            "minimal: no body, no trace, first of stream",
            record("0b6f1c2e-0000-4000-8000-000000000001", 1),
        )
    )
    v.append(
        seal(
            "with trace and span ids",
            record("0b6f1c2e-0000-4000-8000-000000000002", 2, "ab" * 32, trace=True),
        )
    )
    v.append(
        seal(
            "body: canonical JSON details",
            record(
                "0b6f1c2e-0000-4000-8000-000000000003",
                3,
                "cd" * 32,
                body=s('{"format":"csv","rows":1200}'),
            ),
        )
    )
    v.append(
        seal(
            "empty body string (present, unlike no body)",
            record("0b6f1c2e-0000-4000-8000-000000000004", 4, "ef" * 32, body=s("")),
        )
    )
    v.append(
        seal(
            "unicode values: accents, CJK, emoji, RTL",
            record(
                "0b6f1c2e-0000-4000-8000-000000000005",
                5,
                "01" * 32,
                actor="zoë.müller@例え.jp",
                extra=[attr("note", s("שלום 😀 naïve café \u2028 end"))],
            ),
        )
    )
    v.append(
        seal(
            "astral-plane and high-BMP keys (UTF-16 key order)",
            record(
                "0b6f1c2e-0000-4000-8000-000000000006",
                6,
                "23" * 32,
                extra=[
                    attr("k\U0001f600", s("astral key")),
                    attr("k\ue000", s("private-use key")),
                    attr("k\ufb33", s("hebrew presentation form")),
                    attr("k\u00e9", s("e acute")),
                ],
            ),
        )
    )
    v.append(
        seal(
            "ints beyond 2^53 and the int64 limits",
            record(
                "0b6f1c2e-0000-4000-8000-000000000007",
                7,
                "45" * 32,
                extra=[
                    attr("n.big", {"intValue": "9007199254740993"}),
                    attr("n.max", {"intValue": "9223372036854775807"}),
                    attr("n.min", {"intValue": "-9223372036854775808"}),
                    attr("n.zero", {"intValue": "0"}),
                ],
            ),
        )
    )
    v.append(
        seal(
            "doubles: negative, fractional, exponents, extremes",
            record(
                "0b6f1c2e-0000-4000-8000-000000000008",
                8,
                "67" * 32,
                extra=[
                    attr("d.neg", {"doubleValue": -0.5}),
                    attr("d.frac", {"doubleValue": 0.1}),
                    attr("d.int", {"doubleValue": 100.0}),
                    attr("d.e21", {"doubleValue": 1e21}),
                    attr("d.small", {"doubleValue": 1e-7}),
                    attr("d.max", {"doubleValue": -1.7976931348623157e308}),
                    attr("d.tiny", {"doubleValue": 5e-324}),
                    attr("d.third", {"doubleValue": 333333333.3333333}),
                ],
            ),
        )
    )
    v.append(
        seal(
            "bools",
            record(
                "0b6f1c2e-0000-4000-8000-000000000009",
                9,
                "89" * 32,
                extra=[attr("b.t", {"boolValue": True}), attr("b.f", {"boolValue": False})],
            ),
        )
    )
    v.append(
        seal(
            "bytes (standard base64)",
            record(
                "0b6f1c2e-0000-4000-8000-000000000010",
                10,
                "ab" * 32,
                extra=[
                    attr("raw", {"bytesValue": base64.b64encode(bytes(range(256))).decode()}),
                    attr("raw.empty", {"bytesValue": ""}),
                ],
            ),
        )
    )
    nested = {
        "kvlistValue": {
            "values": [
                {
                    "key": "list",
                    "value": {
                        "arrayValue": {
                            "values": [
                                s("a"),
                                {"intValue": "1"},
                                {"boolValue": False},
                                {"doubleValue": 2.5},
                                {"arrayValue": {"values": [s("deep")]}},
                            ]
                        }
                    },
                },
                {
                    "key": "map",
                    "value": {
                        "kvlistValue": {
                            "values": [
                                {"key": "z", "value": s("last")},
                                {"key": "a", "value": s("first")},
                            ]
                        }
                    },
                },
                {"key": "empty.list", "value": {"arrayValue": {}}},
                {"key": "empty.map", "value": {"kvlistValue": {}}},
            ]
        }
    }
    v.append(
        seal(
            "nested maps and arrays (plain JSON arrays/objects of tagged values)",
            record(
                "0b6f1c2e-0000-4000-8000-000000000011",
                11,
                "cd" * 32,
                extra=[attr("nested", nested)],
                trace=True,
            ),
        )
    )
    v.append(
        seal(
            "escapes and control characters in strings",
            record(
                "0b6f1c2e-0000-4000-8000-000000000012",
                12,
                "ef" * 32,
                body=s('{"q":"\\"quoted\\" \\\\ back\\nslash"}'),
                extra=[
                    attr(
                        "ctl",
                        s("nul\u0000 bell\u0007 tab\t nl\n cr\r ff\f bs\b us\u001f del\u007f"),
                    )
                ],
            ),
        )
    )
    v.append(
        seal(
            "rotated key id",
            record("0b6f1c2e-0000-4000-8000-000000000013", 13, "01" * 32),
            key_id="2026-q4",
        )
    )
    checkpoint = record(
        "0b6f1c2e-0000-4000-8000-000000000014",
        14,
        "23" * 32,
        event="audit.checkpoint",
        actor="billing",
        action="CHECKPOINT",
        extra=[
            attr("audit.checkpoint.number", {"intValue": "13"}),
            attr("audit.checkpoint.hash", s("23" * 32)),
            attr(
                "audit.checkpoint.signature",
                s("c2lnbmF0dXJlIGlzIG5vdCBwYXJ0IG9mIHRoZSBNQUMgdGVzdA=="),
            ),
            attr("audit.checkpoint.key_id", s("ed25519:0123456789abcdef")),
            attr("audit.sequence.end", {"boolValue": True}),
        ],
    )
    for entry in checkpoint["attributes"]:
        if entry["key"] == "audit.actor.type":
            entry["value"] = s("system")
    v.append(seal("end record: a closing checkpoint, actor type system", checkpoint))
    return v


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print("records.json is stale: run python tests/vectors/generate.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(build())} vectors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
