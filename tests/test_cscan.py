"""`audit_sdk._cscan.Scanner` gives exactly the Python path's results, or declines.

The C scanner reads a whole OTLP-JSON line and, per plain log record, computes
the canonical bytes, their hash, the MAC check, the wanted attribute values,
the event name and the timestamp. Whenever it returns a list, each item must
be what `_scan.extract` / `record_hash` / `compute_mac` give for the record
that `orjson.loads` reads; whenever anything is unusual it must return None
(the whole line) or None for the record. Hypothesis writes OTLP-JSON text with
random escaping and whitespace, plain and irregular records and lines, and
mutations of valid lines.

For a record about which `_scan._check_record` has nothing to report, the
scanner does those checks itself and returns the 8-tuple that `_scan._place`
takes: it must do so exactly for those records (but for numbers beyond int64,
which it leaves to Python), and placing that tuple must give the stream parts
that the Python path gives. Trails of SPEC records, each clean or broken in one
of many ways, are checked record by record and as a whole, through
`_check_scanned` and `scan_chunk` against the pure Python path.

Skipped when the extension is not built, unless AUDIT_SDK_REQUIRE_CSCAN=1.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.util
import os
import random
import re
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit_sdk
from audit_sdk import _names as n
from audit_sdk._canonical import canonical_from_otlp, compute_mac, record_hash
from audit_sdk._verify._reader import Chunk
from audit_sdk._verify._scan import (
    _CHECKPOINT_NAMES,
    _NEEDED,
    F_CHECKPOINT,
    F_END,
    F_MAC_OK,
    NO_INDEX,
    Entry,
    RawFinding,
    StreamPart,
    _check_record,
    _check_scanned,
    _place,
    _records_of,
    _scan_record,
    extract,
    scan_chunk,
)

try:
    from audit_sdk._cscan import Scanner
except ImportError as exc:  # pragma: no cover - depends on the build
    if os.environ.get("AUDIT_SDK_REQUIRE_CSCAN") == "1":
        raise ImportError(
            f"AUDIT_SDK_REQUIRE_CSCAN=1 but audit_sdk._cscan cannot be imported: {exc}"
        ) from exc
    pytest.skip(f"audit_sdk._cscan is not built ({exc})", allow_module_level=True)

KEY_DEFAULT = b"cscan-test-key-0123456789"
KEY_LONG = bytes(range(100))  # longer than a SHA-256 block: hashed first, per HMAC
RINGS: list[dict[str, bytes] | None] = [
    {"default": KEY_DEFAULT, "k2": KEY_LONG},
    None,
    {},
    {"k2": KEY_LONG, "é": KEY_DEFAULT, "7": KEY_LONG},  # "7": an intValue key id is no key id
]
INTEGRITY = (n.INTEGRITY_VALUE, n.INTEGRITY_SIGNER, n.INTEGRITY_CANON, n.INTEGRITY_KEY_ID)
WANTED = (
    n.SEQ_STREAM_ID,
    n.SEQ_NUMBER,
    n.RECORD_ID,
    n.INTEGRITY_VALUE,
    n.INTEGRITY_KEY_ID,
    n.CE_ID,
    n.CE_TYPE,
    n.CE_SUBJECT,
    n.TARGET_ID,
    n.SEQ_PREVIOUS_HASH,
    n.SEQ_PREVIOUS_ID,
    n.SEQ_END,
    n.CHECKPOINT_NUMBER,
    n.CHECKPOINT_HASH,
    "a",
    "é",
    "a\nb",
    "",
)


# -- the Python reference ------------------------------------------------------


def _str(value: Any) -> str | None:
    if type(value) is dict and type(value.get("stringValue")) is str:
        return str(value["stringValue"])
    return None


def python_mac_ok(values: dict[str, Any], canonical: bytes, keys: dict[str, bytes] | None) -> bool:
    """What `_scan._scan_record` decides about the MAC."""
    if keys is None:
        return False
    mac = _str(values.get(n.INTEGRITY_VALUE))
    raw_key_id = values.get(n.INTEGRITY_KEY_ID)
    key_id = "default" if raw_key_id is None else _str(raw_key_id)
    key = keys.get(key_id) if key_id is not None else None
    if mac is None or key is None:
        return False
    return mac.isascii() and hmac.compare_digest(compute_mac(key, canonical), mac)


_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]{0,18}")


def expected_plain(record: Any) -> bool:
    """The scanner's definition of a plain record, written independently of the C code."""
    if type(record) is not dict or type(record.get("attributes")) is not list:
        return False
    seen: set[str] = set()
    for entry in record["attributes"]:
        if type(entry) is not dict or type(entry.get("key")) is not str:
            return False
        value = entry.get("value")
        if type(value) is not dict or len(value) != 1:
            return False
        ((kind, inner),) = value.items()
        if kind == "stringValue":
            ok = type(inner) is str
        elif kind == "intValue":
            ok = type(inner) is str and _PLAIN_INT.fullmatch(inner) is not None
        elif kind == "boolValue":
            ok = type(inner) is bool
        else:
            ok = False
        key = entry["key"]
        if not ok or key in seen or any(ord(c) > 0xFFFF for c in key):
            return False
        if key.startswith("audit.integrity.") and key not in INTEGRITY:
            return False
        seen.add(key)
    body = record.get("body")
    if body is not None:
        if type(body) is not dict:
            return False
        if body and (len(body) != 1 or type(body.get("stringValue")) is not str):
            return False
    event_name = record.get("eventName")
    if event_name is not None and type(event_name) is not str:
        return False
    for field, length in (("traceId", 32), ("spanId", 16)):
        ident = record.get(field)
        if ident is None or ident == "":
            continue
        if type(ident) is not str or not re.fullmatch(f"[0-9a-f]{{{length}}}", ident):
            return False
    for field in ("timeUnixNano", "observedTimeUnixNano"):
        nanos = record.get(field)
        if nanos is None:
            continue
        if not (type(nanos) is str and nanos.isascii() and nanos.isdigit()):
            return False
        if int(nanos) >= 2**64:
            return False
    return True


def check_line(
    scanner: Any,
    keys: dict[str, bytes] | None,
    wanted: tuple[str, ...],
    line: bytes,
    regular: bool = False,
) -> list[Any] | None:
    """Scan `line` and compare every result with the Python path.

    `regular`: the line has nothing that makes the whole line fall back, so the
    scanner must return a list, with None exactly for the records that are not
    plain.
    """
    result = scanner.scan(line)
    if result is None:
        assert not regular, "the scanner declined a regular line"
        return None
    assert type(result) is list
    document = orjson.loads(line)  # the scanner accepted it: so must orjson
    problems: list[str] = []
    records = _records_of(document, problems.append)
    assert not problems
    assert len(result) == len(records)
    for item, record in zip(result, records, strict=True):
        if regular:
            assert (item is not None) == expected_plain(record), record
        if item is None:
            continue
        assert expected_plain(record), record
        canonical, values, event_name, timestamp = extract(record)
        # what the Python checks make of the record, on their own
        py_streams: dict[str, StreamPart] = {}
        py_last: dict[str, Entry] = {}
        py_findings: list[RawFinding] = []
        _check_record(
            canonical, None, False, values, event_name, timestamp,
            7, keys, py_streams, py_last, py_findings,
        )  # fmt: skip
        checked = not py_findings and not beyond_int64(values, event_name)
        assert type(item) is tuple and len(item) == (8 if checked else 6), (item, py_findings)
        if checked:
            digest, sid, num, rid, previous, flags, checkpoint, c_timestamp = item
            assert digest == record_hash(canonical)
            assert type(sid) is str and type(num) is int and type(rid) is str
            assert type(flags) is int and type(c_timestamp) is int
            assert previous is None or (type(previous) is tuple and len(previous) == 2)
            assert checkpoint is None or (type(checkpoint) is tuple and len(checkpoint) == 4)
            assert bool(flags & F_MAC_OK) is python_mac_ok(values, canonical, keys)
            c_streams: dict[str, StreamPart] = {}
            c_last: dict[str, Entry] = {}
            _place(
                sid, num, digest, rid, previous, 7, flags, checkpoint, c_timestamp,
                c_streams, c_last,
            )  # fmt: skip
            assert_same_parts(c_streams, py_streams)
            assert repr(c_last) == repr(py_last)
            continue
        c_canonical, c_digest, c_mac_ok, c_values, c_event_name, c_timestamp = item
        assert type(c_canonical) is bytes and c_canonical == canonical
        assert c_canonical == canonical_from_otlp(record)
        assert c_digest == record_hash(canonical) == hashlib.sha256(canonical).hexdigest()
        assert c_mac_ok is python_mac_ok(values, canonical, keys)
        assert c_values == {k: v for k, v in values.items() if k in wanted}
        for value in c_values.values():
            ((kind, inner),) = value.items()
            assert type(inner) is (bool if kind == "boolValue" else str)
        assert type(c_event_name) is str and c_event_name == event_name
        assert type(c_timestamp) is int and c_timestamp == timestamp
    return result


def beyond_int64(values: dict[str, Any], event_name: str) -> bool:
    """A number the checks read that does not fit in int64: the scanner leaves it to Python."""
    names = [n.SEQ_NUMBER]
    if event_name == n.CHECKPOINT_EVENT:
        names.append(n.CHECKPOINT_NUMBER)
    for name in names:
        value = values.get(name)
        if (
            type(value) is dict
            and set(value) == {"intValue"}
            and type(value["intValue"]) is str
            and not -(2**63) <= int(value["intValue"]) < 2**63
        ):
            return True
    return False


def part_state(part: StreamPart) -> tuple[Any, ...]:
    return (
        list(part.entries.items()),
        dict(part.variants),
        part.dups,
        part.seen,
        part.tmin,
        part.tmax,
        part.ends,
        part.cps,
    )


def assert_same_parts(mine: dict[str, StreamPart], theirs: dict[str, StreamPart]) -> None:
    """The same stream parts, down to the types (repr tells True from 1) and the order."""
    ours = [(sid, part_state(part)) for sid, part in mine.items()]
    reference = [(sid, part_state(part)) for sid, part in theirs.items()]
    assert ours == reference
    assert repr(ours) == repr(reference)


# -- writing JSON text ----------------------------------------------------------


class Obj:
    """A JSON object as written: members in order, a name may repeat."""

    def __init__(self, *members: tuple[str, Any]) -> None:
        self.members = list(members)


class Raw:
    """JSON text written as it is (numbers with fractions, broken text)."""

    def __init__(self, text: str) -> None:
        self.text = text


_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Writer:
    """Writes JSON text with random escaping of characters and random whitespace."""

    def __init__(self, rnd: random.Random, escape: float, space: float, escape_names: bool) -> None:
        self.rnd = rnd
        self.escape = escape
        self.space = space
        self.escape_names = escape_names

    def ws(self) -> str:
        if self.rnd.random() >= self.space:
            return ""
        return self.rnd.choice([" ", "\n", "\t", "\r", "  ", " \r\n\t "])

    def _u(self, code: int) -> str:
        text = f"{code:04x}"
        return "\\u" + (text.upper() if self.rnd.random() < 0.3 else text)

    def string(self, text: str, name: bool = False) -> str:
        out = ['"']
        escape = self.escape if (not name or self.escape_names) else 0.0
        for char in text:
            code = ord(char)
            if char in '"\\' or code < 0x20 or (escape and self.rnd.random() < escape):
                pick = self.rnd.random()
                if char in _SHORT and pick < 0.6:
                    out.append(_SHORT[char])
                elif char == "/" and pick < 0.6:
                    out.append("\\/")
                elif code > 0xFFFF:
                    code -= 0x10000
                    out.append(self._u(0xD800 + (code >> 10)) + self._u(0xDC00 + (code & 0x3FF)))
                else:
                    out.append(self._u(code))
            else:
                out.append(char)
        out.append('"')
        return "".join(out)

    def value(self, value: Any) -> str:
        ws = self.ws
        if isinstance(value, Obj):
            if not value.members:
                return "{" + ws() + "}"
            parts = [
                ws() + self.string(name, name=True) + ws() + ":" + ws() + self.value(item) + ws()
                for name, item in value.members
            ]
            return "{" + ",".join(parts) + "}"
        if isinstance(value, dict):
            return self.value(Obj(*value.items()))
        if isinstance(value, list):
            if not value:
                return "[" + ws() + "]"
            return "[" + ",".join(ws() + self.value(item) + ws() for item in value) + "]"
        if isinstance(value, Raw):
            return value.text
        if isinstance(value, str):
            return self.string(value)
        if value is True:
            return "true"
        if value is False:
            return "false"
        if value is None:
            return "null"
        if isinstance(value, int):
            return str(value)
        raise TypeError(type(value))

    def line(self, document: Any) -> bytes:
        text = self.ws() + self.value(document) + self.ws()
        return text.encode("utf-8") + self.rnd.choice([b"\n", b"", b"\r\n"])


def to_python(value: Any) -> Any:
    """What orjson reads from the written value (the last of repeated names wins)."""
    if isinstance(value, Obj):
        return {name: to_python(item) for name, item in value.members}
    if isinstance(value, dict):
        return {name: to_python(item) for name, item in value.items()}
    if isinstance(value, list):
        return [to_python(item) for item in value]
    if isinstance(value, Raw):
        return orjson.loads(value.text)
    return value


# -- strategies ------------------------------------------------------------------
#
# Records are mostly plain, each with a chance of one deviation (an odd value, an
# odd body, a wrong id, ...); lines mostly regular, with a chance of one thing that
# makes the whole line fall back. Choices are drawn from a seeded random.Random,
# strings from Hypothesis text strategies.

SPECIAL_CHARS = ['"', "\\", "/", "\x00", "\x1f", "\x08", "\n", "\x7f", "\u2028", "é", "€"]
SPECIAL_CHARS += ["\ud7ff", "\ue000", "\uffff", "😀", "\U0010ffff", "a", "A", " "]
texts = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=10),
    st.lists(st.sampled_from(SPECIAL_CHARS), max_size=6).map("".join),
    st.sampled_from(["", "report.export", "user-1@example.com", "EXPORT", "0"]),
)
PLAIN_KEYS = [
    *WANTED,
    n.ACTOR_ID,
    n.ACTION,
    "b",
    "ab",
    "B",
    "é",
    "\uffff",
    "\x00",
    'q"',
    "\\",
    "audit.integrityvalue",
    "audit.integrit",
]
ODD_KEYS = ["😀", "a😀", "audit.integrity.other", "audit.integrity.", "audit.integrity.Value"]

# (value, whether it makes the whole line irregular)
ODD_VALUES: list[tuple[Any, bool]] = [
    (Obj(("intValue", "007")), False),
    (Obj(("intValue", "-0")), False),
    (Obj(("intValue", "+5")), False),
    (Obj(("intValue", "")), False),
    (Obj(("intValue", "-")), False),
    (Obj(("intValue", "1" * 20)), False),
    (Obj(("intValue", "-" + "1" * 20)), False),
    (Obj(("intValue", "12a")), False),
    (Obj(("intValue", 5)), False),
    (Obj(("intValue", None)), False),
    (Obj(("boolValue", "true")), False),
    (Obj(("boolValue", None)), False),
    (Obj(("stringValue", None)), False),
    (Obj(("stringValue", 5)), False),
    (Obj(("stringValue", ["a"])), False),
    (Obj(("doubleValue", 2)), False),
    (Obj(("doubleValue", Raw("1.5"))), True),
    (Obj(("doubleValue", Raw("1e3"))), True),
    (Obj(("bytesValue", "aGk=")), False),
    (Obj(("arrayValue", Obj(("values", [Obj(("stringValue", "x"))])))), False),
    (Obj(("kvlistValue", Obj(("values", [Obj(("key", "k"), ("value", Obj()))])))), False),
    (Obj(), False),
    (Obj(("stringValue", "a"), ("intValue", "1")), False),
    (Obj(("stringValue", "a"), ("extra", 1)), False),
    (Obj(("other", "a")), False),
    (Obj(("stringValue", "a"), ("stringValue", "b")), True),
    (Obj(("boolValue", True), ("boolValue", True)), True),
    ("a string", False),
    (None, False),
    ([Obj(("stringValue", "a"))], False),
    (5, False),
    (Obj(("stringValue", Raw("12345678901234567890"))), True),
]
ODD_JSON = [9, "INFO", 1, None, True, Obj(("y", [True, -3, "é"])), [], Obj(), -12345678]
HEX = "0123456789abcdef"


def plain_value(draw: st.DrawFn, rnd: random.Random) -> Obj:
    pick = rnd.random()
    if pick < 0.6:
        return Obj(("stringValue", draw(texts)))
    if pick < 0.75:
        return Obj(("intValue", str(rnd.randint(-(2**63), 2**63 - 1))))
    if pick < 0.85:
        return Obj(
            ("intValue", str(rnd.randint(-(10**19) + 1, 10**19 - 1) // 10 ** rnd.randint(0, 19)))
        )
    return Obj(("boolValue", rnd.random() < 0.5))


def plain_key(draw: st.DrawFn, rnd: random.Random) -> str:
    if rnd.random() < 0.6:
        return rnd.choice(PLAIN_KEYS)
    key = "".join(c if ord(c) <= 0xFFFF else "x" for c in draw(texts))
    return "k" + key if key.startswith("audit.integrity.") else key


def entry(key: Any, value: Any, rnd: random.Random) -> Obj:
    pick = rnd.random()
    if pick < 0.8:
        return Obj(("key", key), ("value", value))
    if pick < 0.9:
        return Obj(("value", value), ("key", key))
    return Obj(("key", key), ("note", rnd.choice(ODD_JSON)), ("value", value))


def odd_entry(draw: st.DrawFn, rnd: random.Random, keys: list[str]) -> tuple[Any, bool]:
    """An attributes item that makes the record not plain (or the line irregular)."""
    key = plain_key(draw, rnd)
    value = plain_value(draw, rnd)
    pick = rnd.randrange(9)
    if pick == 0:
        odd, irregular = rnd.choice(ODD_VALUES)
        return entry(key, odd, rnd), irregular
    if pick == 1 and keys:
        return entry(rnd.choice(keys), value, rnd), False  # a key given twice
    if pick == 2:
        return entry(rnd.choice(ODD_KEYS), value, rnd), False
    if pick == 3:
        return rnd.choice([value, None, 5, "key", []]), False
    if pick == 4:
        return rnd.choice([Obj(("key", key)), Obj(("value", value))]), False
    if pick == 5:
        return Obj(("key", rnd.choice([5, None, True])), ("value", value)), False
    if pick == 6:
        return Obj(("key", key), ("value", rnd.choice(["a", 5, None, [value]]))), False
    if pick == 7:
        return Obj(("key", key), ("value", value), ("key", key)), True
    return Obj(("key", key), ("x", 1), ("value", value), ("x", 1)), True


def integrity_entries(rnd: random.Random, record: Obj) -> list[Any]:
    """audit.integrity.* attributes: a MAC made with the right key, the wrong one, or none."""
    try:
        canonical: bytes | None = extract(to_python(record))[0]
    except Exception:
        canonical = None
    mac_kind = rnd.choice(["default"] * 4 + ["k2", "k2", "wrong-key", "garbage", "int", "none"])
    key_id: Any = rnd.choice([None, "default"] if mac_kind == "default" else [None, "k2", "é", 7])
    if mac_kind == "k2" and rnd.random() < 0.7:
        key_id = "k2"
    key = {"k2": KEY_LONG, "wrong-key": b"another key"}.get(mac_kind, KEY_DEFAULT)
    entries: list[Any] = []
    if mac_kind in ("default", "k2", "wrong-key") and canonical is not None:
        mac: Any = Obj(("stringValue", compute_mac(key, canonical)))
    elif mac_kind == "garbage":
        mac = Obj(("stringValue", rnd.choice(["", "x" * 44, "é" * 44, "AAAA"])))
    elif mac_kind == "int":
        mac = Obj(("intValue", "44"))
    else:
        mac = None
    if mac is not None:
        entries.append(entry(n.INTEGRITY_VALUE, mac, rnd))
    if isinstance(key_id, str):
        entries.append(entry(n.INTEGRITY_KEY_ID, Obj(("stringValue", key_id)), rnd))
    elif key_id is not None:
        entries.append(entry(n.INTEGRITY_KEY_ID, Obj(("intValue", "7")), rnd))
    if rnd.random() < 0.5:
        entries.append(entry(n.INTEGRITY_SIGNER, Obj(("stringValue", "producer")), rnd))
        entries.append(entry(n.INTEGRITY_CANON, Obj(("stringValue", "jcs")), rnd))
    return entries


ASPECTS = ["attributes", "entry", "entry", "body", "eventName", "ids", "nanos", "twice"]


@st.composite
def log_record(draw: st.DrawFn) -> tuple[Any, bool]:
    """(record, whether it makes the line irregular): plain, or with one deviation."""
    rnd = draw(st.randoms(use_true_random=True))
    aspect = rnd.choice(ASPECTS) if rnd.random() < 0.3 else None
    irregular = False
    keys: list[str] = []
    entries: list[Any] = []
    for _ in range(rnd.randint(0, 10)):
        key = plain_key(draw, rnd)
        if key not in keys:
            keys.append(key)
            entries.append(entry(key, plain_value(draw, rnd), rnd))
    if aspect == "entry":
        odd, irregular = odd_entry(draw, rnd, keys)
        entries.insert(rnd.randint(0, len(entries)), odd)
    members: list[tuple[str, Any]] = []
    if aspect != "attributes":
        members.append(("attributes", entries))
    elif rnd.random() < 0.8:
        members.append(("attributes", rnd.choice([None, Obj(), "x", 5, Obj(("a", 1))])))

    body_choices: list[Any] = [..., None, Obj(), Obj(("stringValue", draw(texts)))] * 2
    if aspect == "body":
        body_choices = [
            Obj(("intValue", "5")),
            Obj(("boolValue", True)),
            Obj(("stringValue", "a"), ("x", 1)),
            Obj(("stringValue", None)),
            Obj(("kvlistValue", Obj(("values", [])))),
            "text",
            5,
            [],
        ]
    event_choices: list[Any] = [..., None, "", draw(texts), draw(texts)]
    if aspect == "eventName":
        event_choices = [5, False, True, [], Obj()]
    choices: dict[str, list[Any]] = {"body": body_choices, "eventName": event_choices}
    odd_id = rnd.choice(["traceId", "spanId"]) if aspect == "ids" else None
    for field, length in (("traceId", 32), ("spanId", 16)):
        ident = "".join(rnd.choice(HEX) for _ in range(length))
        choices[field] = [..., None, "", ident, ident, "0" * length]
        if field == odd_id:
            upper = ident.upper() if ident.upper() != ident else "A" + ident[1:]
            choices[field] = [upper, ident[1:], ident + "0", "g" + ident[1:], 5, False, []]
    odd_nanos = rnd.choice(["timeUnixNano", "observedTimeUnixNano"]) if aspect == "nanos" else None
    for field in ("timeUnixNano", "observedTimeUnixNano"):
        nanos = str(rnd.randint(0, 2**64 - 1) // 10 ** rnd.randint(0, 19))
        choices[field] = [..., None, nanos, nanos, nanos, "0", "000", "007", "00" + nanos]
        choices[field].append(str(2**64 - 1))
        if field == odd_nanos:
            choices[field] = [str(2**64), "", "-1", " 5", "5 ", "٣", "1e3", 12345, True, 0]
    for field, options in choices.items():
        value = rnd.choice(options)
        if value is not ...:
            members.append((field, value))
    for _ in range(rnd.randint(0, 2)):
        name = rnd.choice(["severityNumber", "severityText", "flags", "x", "é", ""])
        if name not in (m for m, _ in members):
            members.append((name, rnd.choice(ODD_JSON)))
    rnd.shuffle(members)
    record = Obj(*members)

    if rnd.random() < 0.7:
        for item in integrity_entries(rnd, record):
            entries.insert(rnd.randint(0, len(entries)), item)
    if aspect == "twice" and members:  # a member given twice
        record.members.append(rnd.choice(record.members))
        irregular = True
    return record, irregular


TROUBLE: list[Callable[[Obj, list[Any]], Obj]] = [
    lambda doc, rls: Obj(*doc.members, ("resourceLogs", [])),
    lambda doc, rls: Obj(*doc.members, ("deep", Raw("[" * 70 + "]" * 70))),
    lambda doc, rls: Obj(*doc.members, ("big", Raw("1234567890123456789"))),
    lambda doc, rls: Obj(*doc.members, ("float", Raw("-0.5"))),
    lambda doc, rls: Obj(("resourceLogs", [*rls, Obj(("scopeLogs", Obj()))])),
    lambda doc, rls: Obj(("resourceLogs", [*rls, 5])),
    lambda doc, rls: Obj(("resourceLogs", Obj())),
    lambda doc, rls: Obj(("resourcelogs", rls)),
    lambda doc, rls: Obj(("resourceLogs", [*rls, Obj(("scopeLogs", [Obj(("logRecords", [5]))]))])),
    lambda doc, rls: Obj(("resourceLogs", [*rls, Obj(("scopeLogs", [Obj(("logRecords", "x"))]))])),
    lambda doc, rls: Obj(("resourceLogs", [*rls, Obj(("scopeLogs", [[]]))])),
    lambda doc, rls: Obj(*doc.members, ("x", 1), ("x", 1)),
]


@st.composite
def otlp_line(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(line, regular): a regular line must be read by the scanner."""
    rnd = draw(st.randoms(use_true_random=True))
    irregular = False
    resource_logs: list[Any] = []
    for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
        scope_logs: list[Any] = []
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
            records: list[Any] = []
            for _ in range(rnd.randint(0, 5)):
                record, bad = draw(log_record())
                irregular |= bad
                records.append(record)
            pick = rnd.random()
            if pick < 0.05:
                scope_logs.append(Obj(("scope", Obj(("name", "s")))))
            elif pick < 0.1:
                scope_logs.append(Obj(("logRecords", None)))
            elif pick < 0.2:
                scope_logs.append(Obj(("logRecords", records), ("schemaUrl", "u")))
            else:
                scope_logs.append(Obj(("scope", Obj(("name", "s"))), ("logRecords", records)))
        resource = Obj(("attributes", [Obj(("key", "service.name"), ("value", Obj()))]))
        pick = rnd.random()
        if pick < 0.05:
            resource_logs.append(Obj(("resource", resource)))
        elif pick < 0.1:
            resource_logs.append(Obj(("scopeLogs", None), ("resource", resource)))
        else:
            resource_logs.append(Obj(("resource", resource), ("scopeLogs", scope_logs)))
    document = Obj(("resourceLogs", resource_logs))
    if rnd.random() < 0.2:
        document.members.insert(0, ("extra", Obj(("a", [1, "é", None, -0, Obj()]))))
    if rnd.random() < 0.1:
        document = rnd.choice(TROUBLE)(document, resource_logs)
        irregular = True
    escape_names = rnd.random() < 0.1
    writer = Writer(
        rnd,
        escape=rnd.choice([0.0, 0.0, 0.05, 0.3, 1.0]),
        space=rnd.choice([0.0, 0.0, 0.1, 0.5]),
        escape_names=escape_names,
    )
    line = writer.line(document)
    # escaped member names in the objects the scanner reads make it decline
    return line, not (irregular or (escape_names and writer.escape > 0))


@st.composite
def attributes_line(draw: st.DrawFn) -> bytes:
    """Records of many plain attributes with keys and values of any text."""
    rnd = draw(st.randoms(use_true_random=True))
    records = []
    for _ in range(rnd.randint(1, 4)):
        entries = [
            entry(draw(texts), plain_value(draw, rnd), rnd) for _ in range(rnd.randint(0, 40))
        ]
        records.append(Obj(("attributes", entries)))
    escape = rnd.choice([0.0, 0.2, 1.0])
    return _line(*records, writer=Writer(rnd, escape=escape, space=0.2, escape_names=False))


# -- tests -----------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=otlp_line(), ring=st.sampled_from(RINGS), wanted=st.sampled_from([WANTED, ()]))
def test_scanner_matches_the_python_path(
    line: tuple[bytes, bool], ring: dict[str, bytes] | None, wanted: tuple[str, ...]
) -> None:
    text, regular = line
    check_line(Scanner(ring, wanted), ring, wanted, text, regular)


@settings(max_examples=200, deadline=None)
@given(line=attributes_line())
def test_attribute_keys_and_values(line: bytes) -> None:
    for ring in RINGS[:2]:
        check_line(Scanner(ring, WANTED), ring, WANTED, line)


def _line(*records: Any, writer: Writer | None = None) -> bytes:
    document = Obj(("resourceLogs", [Obj(("scopeLogs", [Obj(("logRecords", list(records)))]))]))
    writer = writer or Writer(random.Random(0), escape=0.0, space=0.0, escape_names=False)
    return writer.line(document)


def _plain(**extra: Any) -> Obj:
    attributes = [
        Obj(("key", n.RECORD_ID), ("value", Obj(("stringValue", "r-1")))),
        Obj(("key", n.SEQ_NUMBER), ("value", Obj(("intValue", "12")))),
        Obj(("key", n.SEQ_END), ("value", Obj(("boolValue", True)))),
    ]
    members: list[tuple[str, Any]] = [
        ("timeUnixNano", "1700000000000000001"),
        ("attributes", attributes),
        ("eventName", "doc.read"),
    ]
    for name, value in extra.items():
        members = [(m, v) for m, v in members if m != name]
        if value is not ...:
            members.append((name, value))
    return Obj(*members)


def test_plain_edge_cases_are_read_in_c() -> None:
    records = [
        _plain(),
        _plain(attributes=[]),
        _plain(timeUnixNano="007", observedTimeUnixNano="18446744073709551615"),
        _plain(timeUnixNano="0", observedTimeUnixNano=None),
        _plain(timeUnixNano=...),
        _plain(traceId="0" * 32, spanId="0" * 16),
        _plain(traceId="", spanId=None),
        _plain(traceId="0123456789abcdef" * 2, spanId="fedcba9876543210"),
        _plain(body=None),
        _plain(body=Obj()),
        _plain(body=Obj(("stringValue", ""))),
        _plain(body=Obj(("stringValue", 'x"\\/\x00\x1f\x7f\u2028é😀'))),
        _plain(eventName=""),
        _plain(eventName=None),
        _plain(eventName="\x00\n\"'"),
        _plain(severityNumber=9, severityText="INFO", flags=1, droppedAttributesCount=0),
        _plain(
            attributes=[
                Obj(("key", key), ("value", value), ("extra", [1, Obj(("k", None))]))
                for key, value in [
                    ("b", Obj(("stringValue", "\b\t\n\f\r\x01"))),
                    ("a", Obj(("intValue", "-9223372036854775808"))),
                    ("ab", Obj(("intValue", "9999999999999999999"))),
                    ("B", Obj(("intValue", "0"))),
                    ("é", Obj(("boolValue", False))),
                    ("\uffff", Obj(("stringValue", "😀"))),
                    ("", Obj(("stringValue", ""))),
                    ("\x00", Obj(("stringValue", "\x00"))),
                    ('"', Obj(("stringValue", "\\"))),
                    (n.INTEGRITY_SIGNER, Obj(("intValue", "1"))),
                    (n.INTEGRITY_CANON, Obj(("boolValue", True))),
                    (n.INTEGRITY_VALUE, Obj(("stringValue", "not a mac"))),
                ]
            ]
        ),
    ]
    for escape in (0.0, 0.5, 1.0):
        writer = Writer(random.Random(1), escape=escape, space=0.5, escape_names=False)
        line = _line(*records, writer=writer)
        for ring in RINGS:
            result = check_line(Scanner(ring, WANTED), ring, WANTED, line, regular=True)
            assert result is not None and None not in result


def _keyed(attributes: list[tuple[str, Any]]) -> Obj:
    return Obj(("attributes", [Obj(("key", k), ("value", Obj(v))) for k, v in attributes]))


def test_attribute_order_and_repeats_from_record_to_record() -> None:
    # the scanner first tries the previous record's sort order: it must notice changes
    a, b, c = ("a", ("stringValue", "1")), ("b", ("intValue", "2")), ("c", ("boolValue", True))
    records = [
        _keyed([a, b, c]),
        _keyed([c, a, b]),
        _keyed([a, a, b]),
        _keyed([b, a, c]),
        _keyed([b, a, c]),
        _keyed([b, b, c]),
        _keyed([a, b, ("a", ("stringValue", "x"))]),
        _keyed([(f"k{i:03}", ("intValue", str(i))) for i in range(100, 0, -1)]),
        _keyed([(f"k{i:03}", ("intValue", str(i))) for i in range(100)]),
        _keyed([(f"k{i % 99:03}", ("intValue", str(i))) for i in range(100)]),
        _keyed([("ab", ("intValue", "1")), ("a", ("intValue", "2")), ("a\x00", ("intValue", "3"))]),
        _keyed([("é", ("intValue", "1")), ("\uffff", ("intValue", "2")), ("z", ("intValue", "3"))]),
    ]
    line = _line(*records)
    result = check_line(Scanner(None, ("a", "k007")), None, ("a", "k007"), line, regular=True)
    assert result is not None
    declined = [item is None for item in result]
    assert declined == [
        False,
        False,
        True,
        False,
        False,
        True,
        True,
        False,
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 200])
def test_mac_with_keys_of_any_length(length: int) -> None:
    key = bytes((i * 7 + 3) % 256 for i in range(length))
    record = _plain()
    canonical = extract(to_python(record))[0]
    attributes = record.members[[m for m, _ in record.members].index("attributes")][1]
    attributes.append(
        Obj(
            ("key", n.INTEGRITY_VALUE), ("value", Obj(("stringValue", compute_mac(key, canonical))))
        )
    )
    attributes.append(Obj(("key", n.INTEGRITY_KEY_ID), ("value", Obj(("stringValue", "kid")))))
    line = _line(record)
    for keys, ok in (({"kid": key}, True), ({"kid": key + b"x"}, False), ({"default": key}, False)):
        result = check_line(Scanner(keys, WANTED), keys, WANTED, line, regular=True)
        assert result is not None and result[0] is not None and result[0][2] is ok


@pytest.mark.parametrize(
    "change",
    [
        {"attributes": ...},
        {"attributes": None},
        {"attributes": Obj()},
        {"attributes": [5]},
        {"attributes": [Obj(("key", "a"))]},
        {"attributes": [Obj(("value", Obj(("stringValue", "a"))))]},
        {"attributes": [Obj(("key", 1), ("value", Obj(("stringValue", "a"))))]},
        {"attributes": [Obj(("key", "a"), ("value", None))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("doubleValue", 2))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("bytesValue", "aGk="))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("arrayValue", Obj()))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("kvlistValue", Obj()))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj()))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("stringValue", "a"), ("x", 1))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", "1"), ("boolValue", True))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", "007"))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", "-0"))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", "+1"))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", "1" * 20))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("intValue", 1))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("boolValue", "true"))))]},
        {"attributes": [Obj(("key", "a"), ("value", Obj(("stringValue", None))))]},
        {"attributes": [Obj(("key", "😀"), ("value", Obj(("stringValue", "a"))))]},
        {"attributes": [Obj(("key", "audit.integrity.x"), ("value", Obj(("stringValue", "a"))))]},
        {
            "attributes": [
                Obj(("key", "a"), ("value", Obj(("stringValue", "a")))),
                Obj(("key", "a"), ("value", Obj(("stringValue", "b")))),
            ]
        },
        {
            "attributes": [
                Obj(("key", n.INTEGRITY_VALUE), ("value", Obj(("stringValue", "a")))),
                Obj(("key", n.INTEGRITY_VALUE), ("value", Obj(("stringValue", "a")))),
            ]
        },
        {"attributes": [Obj(("key", n.INTEGRITY_VALUE), ("value", Obj(("doubleValue", 1))))]},
        {"body": Obj(("intValue", "1"))},
        {"body": Obj(("stringValue", "a"), ("x", 1))},
        {"body": Obj(("stringValue", 1))},
        {"body": "text"},
        {"body": []},
        {"eventName": 5},
        {"eventName": False},
        {"eventName": Obj()},
        {"traceId": "0123456789ABCDEF" * 2},
        {"traceId": "0" * 31},
        {"traceId": 0},
        {"spanId": "g" * 16},
        {"spanId": False},
        {"timeUnixNano": 1700000000},
        {"timeUnixNano": ""},
        {"timeUnixNano": "-1"},
        {"timeUnixNano": " 1"},
        {"timeUnixNano": "1_0"},
        {"timeUnixNano": "18446744073709551616"},
        {"observedTimeUnixNano": "٣"},
        {"observedTimeUnixNano": 0},
    ],
)
def test_records_that_are_not_plain_are_left_to_python(change: dict[str, Any]) -> None:
    line = _line(_plain(), _plain(**change), _plain())
    for ring in RINGS[:2]:
        result = check_line(Scanner(ring, WANTED), ring, WANTED, line, regular=True)
        assert result is not None
        assert result[0] is not None and result[1] is None and result[2] is not None


_GOOD = _line(_plain(), _plain(body=Obj(("stringValue", "b"))))
_REC = b'{"attributes":[{"key":"a","value":{"stringValue":"x"}}]}'


def _wrap(record: bytes) -> bytes:
    return b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + record + b"]}]}]}\n"


IRREGULAR = {
    "empty": b"",
    "newline": b"\n",
    "whitespace": b" \t\r\n ",
    "truncated": _GOOD[: len(_GOOD) // 2],
    "truncated at the end": _GOOD.rstrip()[:-1],
    "garbage after": _GOOD.rstrip() + b" x\n",
    "two documents": _GOOD.rstrip() + b"{}",
    "trailing comma": b'{"resourceLogs":[],}',
    "trailing comma in array": _wrap(_REC + b","),
    "single quotes": b"{'resourceLogs':[]}",
    "BOM": b"\xef\xbb\xbf" + _GOOD,
    "form feed": b"\x0c" + _GOOD,
    "vertical tab": _GOOD.rstrip() + b"\x0b",
    "NUL after": _GOOD.rstrip() + b"\x00",
    "invalid UTF-8": _wrap(_REC.replace(b'"x"', b'"\xff"')),
    "overlong UTF-8": _wrap(_REC.replace(b'"x"', b'"\xc0\xaf"')),
    "overlong 3-byte": _wrap(_REC.replace(b'"x"', b'"\xe0\x80\xaf"')),
    "UTF-8 surrogate": _wrap(_REC.replace(b'"x"', b'"\xed\xa0\x80"')),
    "above U+10FFFF": _wrap(_REC.replace(b'"x"', b'"\xf4\x90\x80\x80"')),
    "cut UTF-8": _wrap(_REC.replace(b'"x"', b'"\xe2\x82"')),
    "lone continuation": _wrap(_REC.replace(b'"x"', b'"\x80"')),
    "invalid UTF-8 in a skipped member": _wrap(b'{"x":"\xfe",' + _REC[1:]),
    "invalid UTF-8 in a member name": _wrap(b'{"\xc3":1,' + _REC[1:]),
    "lone high surrogate": _wrap(_REC.replace(b'"x"', b'"\\ud800"')),
    "lone low surrogate": _wrap(_REC.replace(b'"x"', b'"\\udc00"')),
    "high surrogate then letter": _wrap(_REC.replace(b'"x"', b'"\\ud800x"')),
    "high surrogate then BMP escape": _wrap(_REC.replace(b'"x"', b'"\\ud800\\u0041"')),
    "two high surrogates": _wrap(_REC.replace(b'"x"', b'"\\ud800\\ud800"')),
    "lone surrogate in a skipped member": _wrap(b'{"s":"\\udfff",' + _REC[1:]),
    "bad escape": _wrap(_REC.replace(b'"x"', b'"\\x"')),
    "upper U escape": _wrap(_REC.replace(b'"x"', b'"\\U0041"')),
    "short u escape": _wrap(_REC.replace(b'"x"', b'"\\u12"')),
    "bad hex": _wrap(_REC.replace(b'"x"', b'"\\u12G4"')),
    "raw control character": _wrap(_REC.replace(b'"x"', b'"\x01"')),
    "raw newline in a string": _wrap(_REC.replace(b'"x"', b'"\n"')),
    "raw tab in a string": _wrap(_REC.replace(b'"x"', b'"\t"')),
    "unterminated string": b'{"resourceLogs":[{"x":"abc',
    "duplicate resourceLogs": b'{"resourceLogs":[],"resourceLogs":[]}',
    "duplicate scopeLogs": b'{"resourceLogs":[{"scopeLogs":[],"scopeLogs":[]}]}',
    "duplicate logRecords": _wrap(_REC).replace(
        b'"logRecords":[', b'"logRecords":[],"logRecords":['
    ),
    "duplicate top-level member": b'{"a":1,"resourceLogs":[],"a":2}',
    "duplicate resource": b'{"resourceLogs":[{"resource":{},"resource":{}}]}',
    "duplicate record member": _wrap(b'{"x":1,' + _REC[1:-1] + b',"x":2}'),
    "duplicate attributes": _wrap(_REC[:-1] + b',"attributes":[]}'),
    "duplicate body": _wrap(b'{"body":{},"body":null,' + _REC[1:]),
    "duplicate entry key": _wrap(_REC.replace(b'"key":"a"', b'"key":"a","key":"b"')),
    "duplicate entry member": _wrap(_REC.replace(b'"key":"a"', b'"key":"a","z":1,"z":1')),
    "duplicate value member": _wrap(_REC.replace(b'"x"}', b'"x","stringValue":"y"}')),
    "duplicate body member": _wrap(b'{"body":{"stringValue":"a","stringValue":"b"},' + _REC[1:]),
    "escaped duplicate": _wrap(_REC.replace(b'"key":"a"', b'"key":"a","k\\u0065y":"b"')),
    "float": _wrap(b'{"severityNumber":9.0,' + _REC[1:]),
    "exponent": _wrap(b'{"severityNumber":9e0,' + _REC[1:]),
    "negative exponent": _wrap(b'{"severityNumber":1E-2,' + _REC[1:]),
    "float in a skipped member": b'{"x":[0.5],"resourceLogs":[]}',
    "float in an int value": _wrap(_REC.replace(b'{"stringValue":"x"}', b'{"intValue":1.0}')),
    "19 digits": _wrap(b'{"flags":1234567890123456789,' + _REC[1:]),
    "huge number": b'{"resourceLogs":[],"n":-123456789012345678901234567890}',
    "leading zero": b'{"resourceLogs":[],"n":01}',
    "minus alone": b'{"resourceLogs":[],"n":-}',
    "plus sign": b'{"resourceLogs":[],"n":+1}',
    "NaN": b'{"resourceLogs":[],"n":NaN}',
    "Infinity": b'{"resourceLogs":[],"n":Infinity}',
    "bad literal": b'{"resourceLogs":[],"n":tru}',
    "long literal": b'{"resourceLogs":[],"n":nulll}',
    "deep nesting": b'{"resourceLogs":[],"d":' + b"[" * 80 + b"]" * 80 + b"}",
    "top-level array": b'[{"resourceLogs":[]}]',
    "top-level string": b'"resourceLogs"',
    "no resourceLogs": b'{"resource":[]}',
    "resourceLogs null": b'{"resourceLogs":null}',
    "resourceLogs object": b'{"resourceLogs":{}}',
    "resourceLogs item not an object": b'{"resourceLogs":[[]]}',
    "scopeLogs object": b'{"resourceLogs":[{"scopeLogs":{}}]}',
    "scopeLogs false": b'{"resourceLogs":[{"scopeLogs":false}]}',
    "scopeLogs item not an object": b'{"resourceLogs":[{"scopeLogs":[5]}]}',
    "logRecords string": b'{"resourceLogs":[{"scopeLogs":[{"logRecords":"x"}]}]}',
    "logRecords item not an object": _wrap(b"null"),
    "escaped member name": b'{"resource\\u004cogs":[]}',
    # policy: more than 32 members of unknown names in an object the scanner reads
    "33 unknown members": _wrap(b"{" + b"".join(b'"m%d":0,' % i for i in range(33)) + _REC[1:]),
    "escaped record member name": _wrap(b'{"b\\u006fdy":null,' + _REC[1:]),
}


@pytest.mark.parametrize("name", sorted(IRREGULAR))
def test_irregular_lines_fall_back(name: str) -> None:
    for ring in RINGS[:2]:
        assert Scanner(ring, WANTED).scan(IRREGULAR[name]) is None


def test_the_irregular_examples_start_from_valid_lines() -> None:
    for ring in RINGS[:2]:
        assert check_line(Scanner(ring, WANTED), ring, WANTED, _GOOD, regular=True)
        assert check_line(Scanner(ring, WANTED), ring, WANTED, _wrap(_REC), regular=True)
    assert Scanner(None, ()).scan(b' {"resourceLogs":[]} \r\n') == []
    assert Scanner(None, ()).scan(b'{"resourceLogs":[{},{"scopeLogs":null}]}') == []
    deep = b'{"resourceLogs":[],"d":' + b"[" * 50 + b"]" * 50 + b"}"
    assert Scanner(None, ()).scan(deep) == []
    many = _wrap(b"{" + b"".join(b'"m%d":0,' % i for i in range(32)) + _REC[1:])
    assert check_line(Scanner(None, WANTED), None, WANTED, many, regular=True)


# -- realistic records: made by the SDK ------------------------------------------


def _ring_dict(ring: audit_sdk.HmacKeyRing) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for key_id in ring.key_ids:
        key = ring.get(key_id)
        assert key is not None
        keys[key_id] = key
    return keys


def test_sdk_records_are_read_in_c(tmp_path: Path, checkpoint_key: Any, tracer: Any) -> None:
    ring = audit_sdk.HmacKeyRing.generate()
    path = tmp_path / "audit.jsonl"
    logger = audit_sdk.configure(
        service_name="cscan",
        keys=ring,
        checkpoint_key=checkpoint_key,
        checkpoint_every=3,
        checkpoint_interval=None,
        trail_path=path,
        set_default=False,
    )
    with tracer.start_as_current_span("request"):
        for i in range(12):
            logger.emit(
                "report.export",
                action="EXPORT",
                actor=f"user-{i}@example.com",
                target=f"report-{i}",
                target_type="report",
                request_id=f"req-{i}",
                details={"format": "csv", "rows": i, "note": 'quote " é 😀 \n', "ok": True},
                attributes={"app.count": i, "app.flag": i % 2 == 0, "app.name": "naïve ☃ 😀"},
            )
    for _ in range(5):
        logger.emit("doc.read", action="READ", actor="svc", actor_type="service", details=None)
    logger.close()
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines
    keys = _ring_dict(ring)
    items: list[Any] = []
    for line in lines:
        result = check_line(Scanner(keys, WANTED), keys, WANTED, line, regular=True)
        assert result is not None
        items.extend(result)
    # checkpoints after every third event, and the end record: all checked in C
    assert len(items) == 12 + 5 + 5 + 1
    assert all(item is not None and len(item) == 8 and item[5] & F_MAC_OK for item in items)
    checkpoints = [item[6] for item in items if item[5] & F_CHECKPOINT]
    assert len(checkpoints) == 5 + 1  # the end record is a checkpoint too
    assert items[-1][5] == F_MAC_OK | F_CHECKPOINT | F_END
    assert all(type(cp[2]) is str and type(cp[3]) is str for cp in checkpoints)
    assert [item[2] for item in items if item[5] & F_END] == [len(items)]
    assert all(item[4] is not None for item in items if item[2] > 1)
    assert compare_paths(lines, keys) == items
    assert all(item is not None and len(item) == 8 for item in compare_paths(lines, None))
    wrong = Scanner({"default": b"x" * 32, **{k: b"y" for k in keys}}, WANTED)
    for line in lines:
        result = wrong.scan(line)
        assert result is not None
        assert all(item is not None and len(item) == 6 and item[2] is False for item in result)
    compare_paths(lines, {"default": b"x" * 32, **{k: b"y" for k in keys}})


def _bench_module() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_verify.py"
    spec = importlib.util.spec_from_file_location("bench_verify_for_cscan", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_trail_is_read_in_c(tmp_path: Path) -> None:
    bench = _bench_module()
    path = tmp_path / "bench.jsonl"
    bench.write_trail(path, 1100, 2)
    keys = {"default": bench.HMAC_KEY}
    scanner = Scanner(keys, WANTED)
    lines = path.read_bytes().splitlines(keepends=True)
    assert max(len(line) for line in lines) > 100_000  # batches of 512 records
    for line in lines:
        result = check_line(scanner, keys, WANTED, line, regular=True)
        assert result is not None
        assert all(item is not None and len(item) == 8 and item[5] & F_MAC_OK for item in result)
    items = compare_paths(lines, keys)
    assert len(items) == sum(bench.events_per_stream(1100, 2)) + 2  # and an end record each
    ends = [item for item in items if item[5] & F_END]
    assert len(ends) == 2 and all(item[5] & F_CHECKPOINT and item[6] for item in ends)
    assert all(len(item) == 8 for item in compare_paths(lines, None))


# -- the checks done in C: records of the SPEC -------------------------------------
#
# A record starts as the SDK would make it (every mirror right, a place in a
# stream, a MAC, a chain link, checkpoint attributes on checkpoints) and is
# then changed in one of the ways in MUTATIONS, each noting whether the
# scanner checks the record in C (8-tuple) or leaves the findings to Python.

CHECKED_WANTED = _NEEDED + _CHECKPOINT_NAMES  # what the verifier asks the scanner for
ODD_TEXT = 'é"\\\n😀\x00/ '
Result = tuple[dict[str, StreamPart], dict[str, Entry], list[RawFinding]]


def sv(text: str) -> Obj:
    return Obj(("stringValue", text))


def iv(number: int) -> Obj:
    return Obj(("intValue", str(number)))


def bv(flag: bool) -> Obj:
    return Obj(("boolValue", flag))


def _text(value: Any) -> str | None:
    if isinstance(value, Obj) and len(value.members) == 1:
        kind, inner = value.members[0]
        if kind == "stringValue" and type(inner) is str:
            return inner
    return None


class Draft:
    """A SPEC record before it is written: attribute values by key, event name, how to sign."""

    def __init__(self, attrs: dict[str, Any], event: Any, time: Any) -> None:
        self.attrs = attrs
        self.event = event  # str, None (null) or ... (no eventName member)
        self.time = time
        self.mac = "default"


def spec_draft(
    rnd: random.Random, sid: str, num: int, event: str, previous: tuple[str, str] | None
) -> Draft:
    rid = f"r-{rnd.getrandbits(48):012x}"
    attrs: dict[str, Any] = {
        n.ACTION: sv("EXPORT"),
        n.ACTOR_ID: sv("user-1@example.com"),
        n.RECORD_ID: sv(rid),
        n.SEQ_NUMBER: iv(num),
        n.SEQ_STREAM_ID: sv(sid),
        n.TARGET_ID: sv("report-7"),
        n.CE_ID: sv(rid),
        n.CE_SUBJECT: sv("report-7"),
        n.CE_TYPE: sv(event),
    }
    if previous is not None:
        attrs[n.SEQ_PREVIOUS_HASH] = sv(previous[0])
        attrs[n.SEQ_PREVIOUS_ID] = sv(previous[1])
    if event == n.CHECKPOINT_EVENT:
        attrs[n.CHECKPOINT_NUMBER] = iv(num - 1)
        attrs[n.CHECKPOINT_HASH] = sv(previous[0] if previous is not None else "0" * 64)
        attrs[n.CHECKPOINT_SIGNATURE] = sv("c2lnbmF0dXJl")
        attrs[n.CHECKPOINT_KEY_ID] = sv("cp-1")
    if rnd.random() < 0.3:
        items = list(attrs.items())
        rnd.shuffle(items)
        attrs = dict(items)
    return Draft(attrs, event, str(1_700_000_000_000_000_000 + num))


MAC_KEYS = {
    "default": KEY_DEFAULT,
    "default with its key id": KEY_DEFAULT,
    "k2": KEY_LONG,
    "k2 without key id": KEY_LONG,
    "another key": b"another key",
    "key id an int": KEY_DEFAULT,
    "key id unknown": KEY_DEFAULT,
}
MAC_KEY_IDS = {
    "default with its key id": sv("default"),
    "k2": sv("k2"),
    "key id an int": iv(7),
    "key id unknown": sv("nope"),
}
MAC_OTHER = {"garbage": sv("x" * 44), "empty": sv(""), "an int": iv(44), "a bool": bv(True)}


def build(draft: Draft, rnd: random.Random) -> tuple[Obj, str]:
    """The record as written, and its record hash."""
    entries = [entry(key, value, rnd) for key, value in draft.attrs.items()]
    members: list[tuple[str, Any]] = [("attributes", entries)]
    if draft.event is not ...:
        members.append(("eventName", draft.event))
    if draft.time is not ...:
        members.append(("timeUnixNano", draft.time))
    if rnd.random() < 0.5:
        members.append(("body", sv('{"rows":3,"note":"é"}')))
    rnd.shuffle(members)
    record = Obj(*members)
    canonical = extract(to_python(record))[0]
    integrity: list[tuple[str, Any]] = []
    if draft.mac in MAC_KEYS:
        integrity.append((n.INTEGRITY_VALUE, sv(compute_mac(MAC_KEYS[draft.mac], canonical))))
    elif draft.mac in MAC_OTHER:
        integrity.append((n.INTEGRITY_VALUE, MAC_OTHER[draft.mac]))
    if draft.mac in MAC_KEY_IDS:
        integrity.append((n.INTEGRITY_KEY_ID, MAC_KEY_IDS[draft.mac]))
    if rnd.random() < 0.5:
        integrity.append((n.INTEGRITY_SIGNER, sv("producer")))
        integrity.append((n.INTEGRITY_CANON, sv("jcs")))
    for key, value in integrity:
        entries.insert(rnd.randint(0, len(entries)), entry(key, value, rnd))
    return record, record_hash(canonical)


Mutation = Callable[[Draft], None]


def _set(*changes: tuple[str, Any]) -> Mutation:
    """Set attribute values; ... removes the attribute."""

    def apply(draft: Draft) -> None:
        for key, value in changes:
            if value is ...:
                draft.attrs.pop(key, None)
            else:
                draft.attrs[key] = value

    return apply


def _rid_based(key: str, change: Callable[[str], str]) -> Mutation:
    def apply(draft: Draft) -> None:
        draft.attrs[key] = sv(change(_text(draft.attrs.get(n.RECORD_ID)) or ""))

    return apply


_KEEP = object()


def _event(event: Any, ce_type: Any = _KEEP) -> Mutation:
    """Another event name (... no member, None null), and cloudevents.event_type."""

    def apply(draft: Draft) -> None:
        draft.event = event
        if ce_type is not _KEEP:
            _set((n.CE_TYPE, ce_type))(draft)

    return apply


def _mac(how: str) -> Mutation:
    def apply(draft: Draft) -> None:
        draft.mac = how

    return apply


# name: (mutation, whether the scanner checks the record itself: "yes", "no", "cp-no"
# (yes, but no on a checkpoint record), "keys-no" (yes without keys, no with keys))
MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "unchanged": (_set(), "yes"),
    # audit.record.id and its mirror cloudevents.event_id
    "record id absent": (_set((n.RECORD_ID, ...)), "no"),
    "record id an int": (_set((n.RECORD_ID, iv(5))), "no"),
    "record id and event id absent": (_set((n.RECORD_ID, ...), (n.CE_ID, ...)), "no"),
    "record id and event id the same int": (_set((n.RECORD_ID, iv(5)), (n.CE_ID, iv(5))), "no"),
    "record id and event id true": (_set((n.RECORD_ID, bv(True)), (n.CE_ID, bv(True))), "no"),
    "record id and event id empty": (_set((n.RECORD_ID, sv("")), (n.CE_ID, sv(""))), "yes"),
    "record id and event id odd text": (
        _set((n.RECORD_ID, sv(ODD_TEXT)), (n.CE_ID, sv(ODD_TEXT))),
        "yes",
    ),
    "event id absent": (_set((n.CE_ID, ...)), "no"),
    "event id longer": (_rid_based(n.CE_ID, lambda rid: rid + "x"), "no"),
    "event id shorter": (_rid_based(n.CE_ID, lambda rid: rid[:-1]), "no"),
    "event id in upper case": (_rid_based(n.CE_ID, str.upper), "no"),
    "event id empty": (_set((n.CE_ID, sv(""))), "no"),
    "event id an int": (_set((n.CE_ID, iv(5))), "no"),
    "event id a bool": (_set((n.CE_ID, bv(False))), "no"),
    # cloudevents.event_type and the event name
    "event type absent": (_set((n.CE_TYPE, ...)), "no"),
    "event type another string": (_set((n.CE_TYPE, sv("report.exporT"))), "no"),
    "event type empty": (_set((n.CE_TYPE, sv(""))), "no"),
    "event type an int": (_set((n.CE_TYPE, iv(1))), "no"),
    "event type a bool": (_set((n.CE_TYPE, bv(True))), "no"),
    "no event name, event type empty": (_event(..., sv("")), "yes"),
    "event name null, event type empty": (_event(None, sv("")), "yes"),
    "event name empty, event type empty": (_event("", sv("")), "yes"),
    "no event name, no event type": (_event(..., ...), "no"),
    "event name empty, no event type": (_event("", ...), "no"),
    "no event name, event type kept": (_event(...), "no"),
    "event name empty, event type kept": (_event(""), "no"),
    "another event name, event type kept": (_event("doc.read"), "no"),
    "odd event name, mirrored": (_event(ODD_TEXT, sv(ODD_TEXT)), "yes"),
    "near checkpoint event name, mirrored": (
        _event("audit.checkpoint.", sv("audit.checkpoint.")),
        "yes",
    ),
    # cloudevents.event_subject and audit.target.id
    "subject absent": (_set((n.CE_SUBJECT, ...)), "no"),
    "target absent": (_set((n.TARGET_ID, ...)), "no"),
    "subject and target absent": (_set((n.CE_SUBJECT, ...), (n.TARGET_ID, ...)), "yes"),
    "subject and target differ": (_set((n.CE_SUBJECT, sv("report-8"))), "no"),
    "subject an int, target its string": (
        _set((n.CE_SUBJECT, iv(5)), (n.TARGET_ID, sv("5"))),
        "no",
    ),
    "subject a string, target a bool": (
        _set((n.CE_SUBJECT, sv("true")), (n.TARGET_ID, bv(True))),
        "no",
    ),
    "subject and target the same int": (_set((n.CE_SUBJECT, iv(-5)), (n.TARGET_ID, iv(-5))), "yes"),
    "subject and target other ints": (_set((n.CE_SUBJECT, iv(5)), (n.TARGET_ID, iv(50))), "no"),
    "subject and target true": (_set((n.CE_SUBJECT, bv(True)), (n.TARGET_ID, bv(True))), "yes"),
    "subject and target false": (_set((n.CE_SUBJECT, bv(False)), (n.TARGET_ID, bv(False))), "yes"),
    "subject true, target false": (_set((n.CE_SUBJECT, bv(True)), (n.TARGET_ID, bv(False))), "no"),
    "subject and target empty": (_set((n.CE_SUBJECT, sv("")), (n.TARGET_ID, sv(""))), "yes"),
    "subject empty, target absent": (_set((n.CE_SUBJECT, sv("")), (n.TARGET_ID, ...)), "no"),
    "subject and target odd text": (
        _set((n.CE_SUBJECT, sv(ODD_TEXT)), (n.TARGET_ID, sv(ODD_TEXT))),
        "yes",
    ),
    # audit.sequence.stream_id and audit.sequence.number
    "stream id empty": (_set((n.SEQ_STREAM_ID, sv(""))), "no"),
    "stream id an int": (_set((n.SEQ_STREAM_ID, iv(1))), "no"),
    "stream id a bool": (_set((n.SEQ_STREAM_ID, bv(True))), "no"),
    "stream id absent": (_set((n.SEQ_STREAM_ID, ...)), "no"),
    "another stream id": (_set((n.SEQ_STREAM_ID, sv("s-" + ODD_TEXT))), "yes"),
    "number 1": (_set((n.SEQ_NUMBER, iv(1))), "yes"),
    "number 0": (_set((n.SEQ_NUMBER, iv(0))), "no"),
    "number -1": (_set((n.SEQ_NUMBER, iv(-1))), "no"),
    "number int64 min": (_set((n.SEQ_NUMBER, iv(-(2**63)))), "no"),
    "number below int64": (_set((n.SEQ_NUMBER, iv(-(2**63) - 1))), "no"),
    "number int64 max": (_set((n.SEQ_NUMBER, iv(2**63 - 1))), "yes"),
    "number 2**63": (_set((n.SEQ_NUMBER, iv(2**63))), "no"),  # Python: no finding
    "number 10**19 - 1": (_set((n.SEQ_NUMBER, iv(10**19 - 1))), "no"),  # likewise
    "number a string": (_set((n.SEQ_NUMBER, sv("5"))), "no"),
    "number a bool": (_set((n.SEQ_NUMBER, bv(True))), "no"),
    "number absent": (_set((n.SEQ_NUMBER, ...)), "no"),
    "number and stream id absent": (_set((n.SEQ_NUMBER, ...), (n.SEQ_STREAM_ID, ...)), "no"),
    # the checkpoint attributes: read on checkpoint records only
    "covered number absent": (_set((n.CHECKPOINT_NUMBER, ...)), "cp-no"),
    "covered number a string": (_set((n.CHECKPOINT_NUMBER, sv("5"))), "cp-no"),
    "covered number a bool": (_set((n.CHECKPOINT_NUMBER, bv(True))), "cp-no"),
    "covered number 0": (_set((n.CHECKPOINT_NUMBER, iv(0))), "yes"),
    "covered number negative": (_set((n.CHECKPOINT_NUMBER, iv(-7))), "yes"),
    "covered number int64 min": (_set((n.CHECKPOINT_NUMBER, iv(-(2**63)))), "yes"),
    "covered number int64 max": (_set((n.CHECKPOINT_NUMBER, iv(2**63 - 1))), "yes"),
    "covered number 2**63": (_set((n.CHECKPOINT_NUMBER, iv(2**63))), "cp-no"),
    "covered number below int64": (_set((n.CHECKPOINT_NUMBER, iv(-(2**63) - 1))), "cp-no"),
    "covered hash absent": (_set((n.CHECKPOINT_HASH, ...)), "cp-no"),
    "covered hash an int": (_set((n.CHECKPOINT_HASH, iv(3))), "cp-no"),
    "covered hash a bool": (_set((n.CHECKPOINT_HASH, bv(False))), "cp-no"),
    "covered hash empty": (_set((n.CHECKPOINT_HASH, sv(""))), "yes"),
    "covered hash odd text": (_set((n.CHECKPOINT_HASH, sv(ODD_TEXT))), "yes"),
    "signature absent": (_set((n.CHECKPOINT_SIGNATURE, ...)), "yes"),
    "signature an int": (_set((n.CHECKPOINT_SIGNATURE, iv(1))), "yes"),
    "signature a bool": (_set((n.CHECKPOINT_SIGNATURE, bv(True))), "yes"),
    "checkpoint key id absent": (_set((n.CHECKPOINT_KEY_ID, ...)), "yes"),
    "checkpoint key id an int": (_set((n.CHECKPOINT_KEY_ID, iv(2))), "yes"),
    "checkpoint key id empty": (_set((n.CHECKPOINT_KEY_ID, sv(""))), "yes"),
    "signature and checkpoint key id absent": (
        _set((n.CHECKPOINT_SIGNATURE, ...), (n.CHECKPOINT_KEY_ID, ...)),
        "yes",
    ),
    "checkpoint attributes absent": (
        _set(*((name, ...) for name in _CHECKPOINT_NAMES)),
        "cp-no",
    ),
    "checkpoint attributes on any record": (
        _set(
            (n.CHECKPOINT_NUMBER, iv(3)), (n.CHECKPOINT_HASH, sv("h")), (n.CHECKPOINT_KEY_ID, iv(1))
        ),
        "yes",
    ),
    # audit.sequence.end
    "end true": (_set((n.SEQ_END, bv(True))), "yes"),
    "end false": (_set((n.SEQ_END, bv(False))), "yes"),
    "end a string": (_set((n.SEQ_END, sv("true"))), "yes"),
    "end an int": (_set((n.SEQ_END, iv(1))), "yes"),
    # the chain link
    "previous hash only": (_set((n.SEQ_PREVIOUS_ID, ...)), "yes"),
    "previous record id only": (_set((n.SEQ_PREVIOUS_HASH, ...)), "yes"),
    "previous hash an int": (_set((n.SEQ_PREVIOUS_HASH, iv(1))), "yes"),
    "previous record id a bool": (_set((n.SEQ_PREVIOUS_ID, bv(True))), "yes"),
    "previous both ints": (_set((n.SEQ_PREVIOUS_HASH, iv(1)), (n.SEQ_PREVIOUS_ID, iv(2))), "yes"),
    "previous both wrong": (
        _set((n.SEQ_PREVIOUS_HASH, sv("ff" * 32)), (n.SEQ_PREVIOUS_ID, sv("r-x"))),
        "yes",
    ),
    "previous empty": (_set((n.SEQ_PREVIOUS_HASH, sv("")), (n.SEQ_PREVIOUS_ID, sv(""))), "yes"),
    "no previous": (_set((n.SEQ_PREVIOUS_HASH, ...), (n.SEQ_PREVIOUS_ID, ...)), "yes"),
    # the MAC (rings: RINGS[0] holds "default" and "k2")
    "MAC with its key id": (_mac("default with its key id"), "yes"),
    "MAC by k2 with its key id": (_mac("k2"), "yes"),
    "MAC by k2 without key id": (_mac("k2 without key id"), "keys-no"),
    "MAC by another key": (_mac("another key"), "keys-no"),
    "MAC key id an int": (_mac("key id an int"), "keys-no"),
    "MAC key id unknown": (_mac("key id unknown"), "keys-no"),
    "MAC garbage": (_mac("garbage"), "keys-no"),
    "MAC empty": (_mac("empty"), "keys-no"),
    "MAC an int": (_mac("an int"), "no"),
    "MAC a bool": (_mac("a bool"), "no"),
    "no MAC": (_mac("none"), "no"),
}


def expected_checked(code: str, checkpoint: bool, keyed: bool) -> bool:
    return (
        code == "yes" or (code == "cp-no" and not checkpoint) or (code == "keys-no" and not keyed)
    )


def _python_line(line: bytes, line_src: int, keys: dict[str, bytes] | None, result: Result) -> None:
    """What `scan_chunk` does with a line in Python."""
    streams, last, findings = result
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        findings.append(("not JSON", "", "", None, None, None, line_src))
        return

    def problem(message: str) -> None:
        findings.append(("malformed_line", "error", message, None, None, None, line_src | NO_INDEX))

    for index, record in enumerate(_records_of(document, problem)):
        _scan_record(record, line_src | index, keys, streams, last, findings)


def compare_paths(lines: list[bytes], keys: dict[str, bytes] | None) -> list[Any]:
    """Lines through the scanner and `_check_scanned`, and through Python alone: the same.

    Returns the scanner's items.
    """
    scanner = Scanner(keys, CHECKED_WANTED)
    ours: Result = ({}, {}, [])
    reference: Result = ({}, {}, [])
    items: list[Any] = []
    for number, line in enumerate(lines):
        line_src = number << 20
        scanned = scanner.scan(line)
        if scanned is None:
            _python_line(line, line_src, keys, ours)
        else:
            items.extend(scanned)
            _check_scanned(scanned, line, line_src, keys, *ours)
        _python_line(line, line_src, keys, reference)
    assert_same_parts(ours[0], reference[0])
    assert ours[1] == reference[1] and repr(ours[1]) == repr(reference[1])
    assert ours[2] == reference[2]
    return items


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_records_checked_in_c(name: str) -> None:
    """Each change of a SPEC record: checked in C exactly when Python finds nothing."""
    mutate, code = MUTATIONS[name]
    rnd = random.Random(name)
    before = spec_draft(rnd, "s-1", 4, "report.export", None)
    first, first_hash = build(before, rnd)
    previous = (first_hash, _text(before.attrs[n.RECORD_ID]) or "")
    records = [first]
    for event in ("report.export", n.CHECKPOINT_EVENT):
        draft = spec_draft(rnd, "s-1", 5, event, previous)
        mutate(draft)
        records.append(build(draft, rnd)[0])
    for escape in (0.0, 0.3, 1.0):
        line = _line(*records, writer=Writer(rnd, escape=escape, space=0.3, escape_names=False))
        for ring in RINGS:
            result = check_line(
                Scanner(ring, CHECKED_WANTED), ring, CHECKED_WANTED, line, regular=True
            )
            assert result is not None
            if ring is None or ring is RINGS[0]:
                checked = [expected_checked(code, cp, ring is not None) for cp in (False, True)]
                assert [len(item) == 8 for item in result] == [True, *checked]
            # the 8-tuples do not depend on the attributes wanted for the 6-tuples
            other = Scanner(ring, ()).scan(line)
            assert other is not None
            assert [x for x in other if x and len(x) == 8] == [x for x in result if len(x) == 8]
            compare_paths([line], ring)


def make_trail(rnd: random.Random, noise: Callable[[], Any] | None = None) -> list[bytes]:
    """Lines of SPEC records of a few streams, chained, each record with 0 to 2 changes."""
    sids = ["s-1", "s-2", "s-" + ODD_TEXT][: rnd.randint(1, 3)]
    state: dict[str, tuple[int, tuple[str, str] | None]] = {sid: (1, None) for sid in sids}
    names = sorted(MUTATIONS)
    lines: list[bytes] = []
    for _ in range(rnd.randint(1, 4)):
        records: list[Any] = []
        for _ in range(rnd.randint(1, 8)):
            pick = rnd.random()
            if pick < 0.05 and records:
                records.append(records[-1])  # the same record again
                continue
            if pick < 0.1 and noise is not None:
                records.append(noise())
                continue
            sid = rnd.choice(sids)
            num, previous = state[sid]
            event = rnd.choice(["report.export", "doc.read", n.CHECKPOINT_EVENT])
            draft = spec_draft(rnd, sid, num, event, previous if rnd.random() < 0.9 else None)
            if rnd.random() < 0.1:
                draft.attrs[n.SEQ_END] = bv(True)
            draft.mac = rnd.choice(["default", "default", "default", "k2"])
            draft.time = rnd.choice(
                [..., "0", str(rnd.randint(0, 2**64 - 1)), draft.time, draft.time]
            )
            for _ in range(rnd.choice([0, 0, 1, 1, 2])):
                MUTATIONS[rnd.choice(names)][0](draft)
            record, digest = build(draft, rnd)
            records.append(record)
            rid = _text(draft.attrs.get(n.RECORD_ID))
            step = rnd.choice([1, 1, 1, 1, 1, 0, 2])  # now and then a number again, or a gap
            state[sid] = (num + step, (digest, rid) if rid is not None else None)
        writer = Writer(
            rnd,
            escape=rnd.choice([0.0, 0.0, 0.1, 1.0]),
            space=rnd.choice([0.0, 0.0, 0.3]),
            escape_names=False,
        )
        lines.append(_line(*records, writer=writer))
    return lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ring=st.sampled_from(RINGS))
def test_trails_checked_in_c_match_the_python_path(
    data: st.DataObject, ring: dict[str, bytes] | None
) -> None:
    rnd = data.draw(st.randoms(use_true_random=True))
    lines = make_trail(rnd, lambda: data.draw(log_record())[0])
    for line in lines:
        check_line(Scanner(ring, CHECKED_WANTED), ring, CHECKED_WANTED, line)
    compare_paths(lines, ring)


def test_trails_hold_records_of_every_kind() -> None:
    """make_trail gives records checked in C and records left to Python, with and without keys."""
    for ring in RINGS[:2]:
        kinds = {6: 0, 8: 0}
        checkpoints = ends = links = 0
        for seed in range(40):
            for item in compare_paths(make_trail(random.Random(seed)), ring):
                kinds[len(item)] += 1
                if len(item) == 8:
                    checkpoints += item[6] is not None
                    ends += bool(item[5] & F_END)
                    links += item[4] is not None
        assert kinds[8] > 100 and kinds[6] > 50, kinds
        assert checkpoints > 10 and ends > 5 and links > 50


def test_scan_chunk_matches_the_python_path(tmp_path: Path, monkeypatch: Any) -> None:
    bench = _bench_module()
    bench.write_trail(tmp_path / "bench.jsonl", 1100, 2)
    lines = (tmp_path / "bench.jsonl").read_bytes().splitlines()
    for seed in range(20):
        lines += make_trail(random.Random(seed))
    lines[3:3] = [b"not JSON", b'{"resourceLogs": 5}', _line(_plain(body="text"))]
    path = tmp_path / "trail.jsonl"
    path.write_bytes(b"".join(line.rstrip(b"\r\n") + b"\n" for line in lines))
    chunk = Chunk(0, str(path), 0, None, False, path.stat().st_size)
    for ring in ({"default": bench.HMAC_KEY}, RINGS[0], None):
        monkeypatch.delenv("AUDIT_SDK_NO_CSCAN", raising=False)
        ours = scan_chunk(chunk, ring)
        monkeypatch.setenv("AUDIT_SDK_NO_CSCAN", "1")
        reference = scan_chunk(chunk, ring)
        assert_same_parts(ours.streams, reference.streams)
        assert ours.findings == reference.findings and ours.findings
        assert (ours.lines, ours.records, ours.bytes) == (
            reference.lines,
            reference.records,
            reference.bytes,
        )


# -- robustness --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    for blob in (data, b'{"resourceLogs":[' + data, _wrap(b'{"attributes":[' + data)):
        check_line(Scanner(RINGS[0], WANTED), RINGS[0], WANTED, blob)


_INTERESTING = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"\x00", b"\xff", b"\xc3"]
_INTERESTING += [b"\xed\xa0\x80", b"\\u", b"\\ud800", b"1.5", b"null", b" ", b"\n", b"-"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=otlp_line(), data=st.data())
def test_mutated_lines_never_crash_and_never_mislead(
    base: tuple[bytes, bool], data: st.DataObject
) -> None:
    line = bytearray(base[0])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(line)))
        op = data.draw(st.integers(0, 4))
        if op == 0 and at < len(line):
            line[at] = data.draw(st.integers(0, 255))
        elif op == 1:
            del line[at : at + data.draw(st.integers(1, 8))]
        elif op == 2:
            line[at:at] = data.draw(st.sampled_from(_INTERESTING))
        elif op == 3:
            line[at:at] = line[max(0, at - 20) : at]
        else:
            del line[at:]
    check_line(Scanner(RINGS[0], WANTED), RINGS[0], WANTED, bytes(line))


def test_arguments() -> None:
    with pytest.raises(TypeError):
        Scanner([], ())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Scanner({"k": "not bytes"}, ())  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Scanner({1: b"k"}, ())  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Scanner(None, "abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Scanner(None, (1,))  # type: ignore[arg-type]
    scanner = Scanner(None, ())
    with pytest.raises(TypeError):
        scanner.scan("{}")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scanner.scan(None)  # type: ignore[arg-type]
    # other bytes-like input reads the same; keys may be any bytes-like, of any length
    keys = {"default": KEY_DEFAULT, "k2": KEY_LONG, "": b""}
    scanner = Scanner(keys, wanted=WANTED)
    from_bytearray = scanner.scan(bytearray(_GOOD))  # type: ignore[arg-type]
    from_memoryview = scanner.scan(memoryview(_GOOD))  # type: ignore[arg-type]
    assert from_bytearray == from_memoryview == scanner.scan(_GOOD)
    Scanner.__init__(scanner, None, ())  # re-initialised: the old configuration is dropped
    assert all(item is not None and item[3] == {} for item in scanner.scan(_GOOD) or [None])
    unset = Scanner.__new__(Scanner)  # never initialised: no keys, nothing wanted
    assert unset.scan(_GOOD) is not None


def _scan_many(scanner: Any, lines: list[bytes], rounds: int) -> None:
    for _ in range(rounds):
        for line in lines:
            scanner.scan(line)


def _traced_growth(run: Callable[[], None]) -> int:
    run()
    tracemalloc.start()
    try:
        run()
        before = tracemalloc.get_traced_memory()[0]
        run()
        run()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_no_leaks() -> None:
    lines = [_GOOD, _line(_plain(attributes=None)), *IRREGULAR.values()]
    lines.append(_line(_plain(body=Obj(("stringValue", "é\\u00e9\n")))))
    lines += make_trail(random.Random(3)) + make_trail(random.Random(4))
    for ring in RINGS:
        scanner = Scanner(ring, WANTED)
        growth = _traced_growth(functools.partial(_scan_many, scanner, lines, 50))
        assert growth < 20_000, growth
        del scanner
    tracked = [name for name in WANTED if len(name) > 1]  # "" and 1-char str are shared
    names = [sys.getrefcount(name) for name in tracked]
    scanner = Scanner(RINGS[0], WANTED)
    results = [scanner.scan(_GOOD) for _ in range(100)]
    del results
    del scanner
    assert [sys.getrefcount(name) for name in tracked] == names


def test_values_are_fresh_objects() -> None:
    scanner = Scanner(RINGS[0], WANTED)
    first, second = scanner.scan(_GOOD) or []
    assert first is not None and len(first) == 6 and second is not None and len(second) == 6
    assert first[3] == second[3] and first[3] is not second[3]
    assert first[3][n.RECORD_ID] is not second[3][n.RECORD_ID]
    first[3][n.RECORD_ID]["stringValue"] = "changed"
    assert second[3][n.RECORD_ID] == {"stringValue": "r-1"}
