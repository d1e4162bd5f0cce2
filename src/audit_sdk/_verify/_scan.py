"""Per-record checks of one chunk: canonical bytes, MAC, mirrors, placement in a stream.

The hot path. Each OTLP-JSON log record is reduced to a small tuple (an
"entry") in its stream's part; the chain checks run later, over whole streams
(see `_engine`). Canonical bytes come from `_canonical.canonical_from_otlp`,
except for records whose attribute values are all plain strings, booleans and
canonical integers: for those `_fast_canonical` builds the same signing object
without converting every value (the OTLP value objects already are the signed,
type-tagged values), which is provably the same bytes; tests compare the two.

Findings are kept as plain tuples here (cheap to send between processes) and
become `Finding` objects in the engine, once line numbers are known.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

import orjson

from audit_sdk import _names as n
from audit_sdk._canonical import (
    INTEGRITY_PREFIX,
    _nanos,
    canonical_from_otlp,
    compute_mac,
    record_hash,
    signing_object,
)
from audit_sdk._values import otlp_to_tagged
from audit_sdk._verify._reader import Chunk, ChunkReader, CorruptInput

_CScanner: Any
try:  # the compiled scanner (src/audit_sdk/_cscan.c); without it, all records take Python's path
    from audit_sdk._cscan import Scanner as _CScanner
except ImportError:  # pragma: no cover - a build without a C compiler
    _CScanner = None

__all__ = [
    "E_CP",
    "E_FLAGS",
    "E_HASH",
    "E_LINK",
    "E_NUM",
    "E_RID",
    "E_SRC",
    "F_CHECKPOINT",
    "F_END",
    "F_MAC_OK",
    "LINKED",
    "ChunkResult",
    "Entry",
    "RawFinding",
    "StreamPart",
    "better",
    "extract",
    "pack_src",
    "scan_chunk",
    "unpack_src",
]

# Entry: (number, record_hash, record_id, link, src, flags, checkpoint)
#   link: None (claims no predecessor), LINKED (checked against the record read
#   just before it) or (previous_hash, previous_record_id) still to be checked;
#   src: packed chunk/line/index (see pack_src); checkpoint: (covered number,
#   covered hash, signature or None, key id or None) or None.
Checkpoint = tuple[int, str, "str | None", "str | None"]
Entry = tuple[int, str, "str | None", Any, int, int, "Checkpoint | None"]
E_NUM: Final = 0
E_HASH: Final = 1
E_RID: Final = 2
E_LINK: Final = 3
E_SRC: Final = 4
E_FLAGS: Final = 5
E_CP: Final = 6
LINKED: Final = True

F_END: Final = 1
F_CHECKPOINT: Final = 2
F_MAC_OK: Final = 4

# RawFinding: (kind, severity, message, stream_id, number, record_id, src)
RawFinding = tuple[str, str, str, "str | None", "int | None", "str | None", "int | None"]

NO_INDEX = (1 << 20) - 1
_LINE_SHIFT = 20
_CHUNK_SHIFT = 52

_ERROR = "error"
_WARNING = "warning"
_LOADS = orjson.loads
_DUMPS = orjson.dumps
_SORT = orjson.OPT_SORT_KEYS
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_SV = "stringValue"
_IV = "intValue"
_BV = "boolValue"
_ANY_VALUE_KINDS = frozenset(
    {_SV, _IV, _BV, "doubleValue", "bytesValue", "arrayValue", "kvlistValue"}
)


def pack_src(chunk: int, line: int, index: int | None) -> int:
    """One int that locates a record: chunk number, line within the chunk, index in the line."""
    idx = NO_INDEX if index is None else min(index, NO_INDEX - 1)
    return (chunk << _CHUNK_SHIFT) | (line << _LINE_SHIFT) | idx


def unpack_src(src: int) -> tuple[int, int, int | None]:
    idx = src & NO_INDEX
    return (
        src >> _CHUNK_SHIFT,
        (src >> _LINE_SHIFT) & ((1 << 32) - 1),
        None if idx == NO_INDEX else idx,
    )


class StreamPart:
    """What one chunk (or, merged, the whole input) holds of one stream."""

    __slots__ = ("cps", "dups", "ends", "entries", "seen", "tmax", "tmin", "variants")

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.variants: dict[int, list[Entry]] = {}  # number -> every distinct variant
        self.dups = 0
        self.seen = 0
        self.tmin: int | None = None
        self.tmax: int | None = None
        self.ends: list[int] = []
        self.cps: list[int] = []

    def add(self, entry: Entry) -> None:
        """Insert an entry: exact duplicates are counted, different bytes become variants."""
        number = entry[E_NUM]
        present = self.entries.get(number)
        if present is None:
            self.entries[number] = entry
            return
        self.merge_one(present, entry)

    def merge_one(self, present: Entry, entry: Entry) -> None:
        """Fold `entry` into the number that `present` (the current preferred entry) holds."""
        number = entry[E_NUM]
        variants = self.variants.get(number)
        if variants is None:
            if present[E_HASH] == entry[E_HASH]:
                self.dups += 1
                if better(entry, present):
                    self.entries[number] = entry
                return
            variants = self.variants[number] = [present]
        for i, other in enumerate(variants):
            if other[E_HASH] == entry[E_HASH]:
                self.dups += 1
                if better(entry, other):
                    variants[i] = entry
                break
        else:
            variants.append(entry)
        self.entries[number] = min(variants, key=_rank)

    def merge(self, other: StreamPart) -> None:
        """Fold another chunk's part of the same stream into this one (`other` is consumed)."""
        self.seen += other.seen
        self.dups += other.dups
        if other.tmin is not None:
            self.tmin = other.tmin if self.tmin is None else min(self.tmin, other.tmin)
        if other.tmax is not None:
            self.tmax = other.tmax if self.tmax is None else max(self.tmax, other.tmax)
        self.ends.extend(other.ends)
        self.cps.extend(other.cps)
        mine = self.entries
        theirs = other.entries
        common = mine.keys() & theirs.keys()
        for number in common:
            for entry in other.variants.get(number) or [theirs[number]]:
                self.merge_one(mine[number], entry)
            del theirs[number]
        for number, variants in other.variants.items():
            if number not in common:
                self.variants[number] = variants
        mine.update(theirs)


def _rank(entry: Entry) -> tuple[int, int]:
    """Preferred variant first: a verified MAC, then the earliest position in the input."""
    return (0 if entry[E_FLAGS] & F_MAC_OK else 1, entry[E_SRC])


def better(a: Entry, b: Entry) -> bool:
    return _rank(a) < _rank(b)


class ChunkResult:
    """Everything a chunk yields; picklable, sent from worker processes to the parent."""

    __slots__ = ("bytes", "findings", "lines", "number", "records", "streams")

    def __init__(self, number: int) -> None:
        self.number = number
        self.lines = 0
        self.records = 0
        self.bytes = 0
        self.streams: dict[str, StreamPart] = {}
        self.findings: list[RawFinding] = []


# -- canonical bytes and attribute values -------------------------------------

# The attributes object of canonical bytes made from plain values only: each
# value a one-key object {"stringValue": string}, {"intValue": canonical
# decimal} or {"boolValue": bool}, no key under audit.integrity., no key
# beyond U+FFFF (4-byte UTF-8). orjson's output is well-formed JSON, so this
# regular check is exact.
_KEY = rb'"(?!audit\.integrity\.)[^"\\\xf0-\xff]*(?:\\.[^"\\\xf0-\xff]*)*"'
_STR = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_VAL = (
    rb'\{"(?:stringValue":'
    + _STR
    + rb'|intValue":"(?:0|-?[1-9][0-9]*)"|boolValue":(?:true|false))\}'
)
_ITEM = _KEY + rb":" + _VAL
_PLAIN_ATTRIBUTES = re.compile(rb'\{"attributes":\{(?:' + _ITEM + rb"(?:," + _ITEM + rb")*)?\}[,}]")
_INTEGRITY_NAMES = (n.INTEGRITY_VALUE, n.INTEGRITY_SIGNER, n.INTEGRITY_CANON, n.INTEGRITY_KEY_ID)
_KEY_VALUE = itemgetter("key", "value")


def _fast_canonical(record: Any) -> tuple[bytes, dict[str, Any], str, int] | None:
    """Canonical bytes when every signed value is a plain string, bool or canonical int.

    For such values `otlp_to_tagged(v) == v` and the signing object needs no
    exact JCS path (no doubles, no object keys beyond U+FFFF), so the bytes
    equal `canonical_from_otlp(record)`; `_PLAIN_ATTRIBUTES` checks the values
    on the bytes in one pass. Returns None for anything else (the general path
    decides), and the attribute values as they are (tagged, integrity included).
    """
    if type(record) is not dict:
        return None
    attrs = record.get("attributes")
    if type(attrs) is not list:
        return None
    try:
        by_key = dict(map(_KEY_VALUE, attrs))
    except (TypeError, KeyError):
        return None
    if len(by_key) != len(attrs):
        return None
    # unsigned: out of the signing object, back in once the bytes are made
    unsigned = [(name, by_key.pop(name)) for name in _INTEGRITY_NAMES if name in by_key]
    for _, value in unsigned:  # the plain shape, as _check_otlp_shapes asks of every value
        if type(value) is not dict or len(value) != 1 or next(iter(value)) not in _ANY_VALUE_KINDS:
            return None
    body: Any = record.get("body")
    if body is not None:
        if type(body) is not dict:
            return None
        if body:
            body = body.get(_SV) if len(body) == 1 else None
            if type(body) is not str:
                return None
        else:
            body = None
    event_name = record.get("eventName") or ""
    if type(event_name) is not str:
        return None
    trace_id = record.get("traceId") or None
    span_id = record.get("spanId") or None
    if trace_id is not None and (type(trace_id) is not str or not _HEX32.fullmatch(trace_id)):
        return None
    if span_id is not None and (type(span_id) is not str or not _HEX16.fullmatch(span_id)):
        return None
    raw_time = record.get("timeUnixNano")
    raw_observed = record.get("observedTimeUnixNano")
    try:
        # decimal strings, the common case, without the general checks of _nanos
        if type(raw_time) is str and raw_time.isdigit() and raw_time.isascii():
            timestamp = int(raw_time)
        else:
            timestamp = _nanos(raw_time, "timeUnixNano")
        if type(raw_observed) is str and raw_observed.isdigit() and raw_observed.isascii():
            observed = int(raw_observed)
        else:
            observed = _nanos(raw_observed, "observedTimeUnixNano")
        canonical = _DUMPS(
            signing_object(
                event_name=event_name,
                body=body,
                timestamp=timestamp,
                observed_timestamp=observed,
                trace_id=trace_id,
                span_id=span_id,
                tagged_attributes=by_key,
            ),
            option=_SORT,
        )
    except (ValueError, orjson.JSONEncodeError):
        return None
    if _PLAIN_ATTRIBUTES.match(canonical) is None:
        return None
    for name, value in unsigned:
        by_key[name] = value
    return canonical, by_key, event_name, timestamp


def _general(record: Any) -> tuple[bytes, dict[str, Any], str, int]:
    """The general path: `canonical_from_otlp`, values tagged by `otlp_to_tagged`.

    Raises ValueError (or another error of malformed input) when the record
    cannot be read.
    """
    if not isinstance(record, dict):
        raise ValueError(f"a log record must be a JSON object, not {_json_type(record)}")
    canonical = canonical_from_otlp(record)
    _check_otlp_shapes(record)
    values: dict[str, Any] = {}
    for entry in record.get("attributes") or []:
        key = entry["key"]
        raw = entry.get("value") or {}
        try:
            values[key] = otlp_to_tagged(raw)
        except ValueError:
            if not key.startswith(INTEGRITY_PREFIX):
                raise
            values[key] = raw  # unsigned; the accessors below find no usable value in it
    event_name = record.get("eventName") or ""
    timestamp = _nanos(record.get("timeUnixNano"), "timeUnixNano")
    return canonical, values, event_name, timestamp


def _check_otlp_shapes(record: dict[str, Any]) -> None:
    """Refuse what `canonical_from_otlp` tolerates but OTLP readers could read otherwise.

    An AnyValue with two type fields ({"stringValue": "a", "intValue": "5"}) is
    signed as its first one but another reader may take the other; a body that
    is not an AnyValue object is left out of the canonical bytes but shown by
    lenient readers; a map with a key twice is signed with its last value; an
    audit.integrity.* attribute given twice leaves open which MAC counts.
    """
    body = record.get("body")
    if body is not None:
        if not isinstance(body, dict):
            raise ValueError(f"body must be an AnyValue object, not {_json_type(body)}")
        _check_any_value(body, "body")
    seen: set[str] = set()
    for entry in record.get("attributes") or ():
        key = entry["key"]
        if key in seen:  # canonical_from_otlp lets audit.integrity.* attributes repeat
            raise ValueError(f"attribute {key!r} appears twice")
        seen.add(key)
        _check_any_value(entry.get("value") or {}, f"attribute {key!r}")


def _check_any_value(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: a value must be an object, not {_json_type(value)}")
    if len(value) > 1:
        raise ValueError(
            f"{where}: a value with {len(value)} type fields ({', '.join(sorted(value))}): "
            "readers disagree on which one counts"
        )
    for kind, inner in value.items():
        if kind not in _ANY_VALUE_KINDS:
            raise ValueError(f"{where}: unknown value type {kind!r}")
        if kind == "arrayValue":
            for item in (inner or {}).get("values") or ():
                _check_any_value(item, where)
        elif kind == "kvlistValue":
            seen: set[str] = set()
            for entry in (inner or {}).get("values") or ():
                key = entry["key"]
                if key in seen:
                    raise ValueError(f"{where}: map key {key!r} appears twice")
                seen.add(key)
                _check_any_value(entry.get("value") or {}, where)


def extract(record: Any) -> tuple[bytes, dict[str, Any], str, int]:
    """(canonical bytes, tagged attribute values, event name, timestamp) of one log record."""
    return _fast_canonical(record) or _general(record)


def _str(value: Any) -> str | None:
    """The string of a tagged value, or None (absent or another type)."""
    if type(value) is dict:
        text = value.get(_SV)
        if type(text) is str:
            return text
    return None


def _int(value: Any) -> int | None:
    if type(value) is dict and _SV not in value:
        text = value.get(_IV)
        if type(text) is str:
            try:
                return int(text)
            except ValueError:
                return None
    return None


def _true(value: Any) -> bool:
    return type(value) is dict and _SV not in value and _IV not in value and value.get(_BV) is True


def _shown(value: Any) -> str:
    """A tagged value for a message: the plain string when it is one."""
    if value is None:
        return "absent"
    text = _str(value)
    return _show(text if text is not None else value)


_MALFORMED_ERRORS = (ValueError, TypeError, AttributeError, KeyError, RecursionError)


def _json_type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else "null"
    )


def _show(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _peek(record: Any) -> tuple[str | None, int | None, str | None]:
    """Best-effort stream id, number and record id of a record that could not be read."""
    sid = num = rid = None
    if isinstance(record, dict) and isinstance(record.get("attributes"), list):
        for entry in record["attributes"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
                continue
            key, value = entry.get("key"), entry["value"]
            if key == n.SEQ_STREAM_ID and isinstance(value.get(_SV), str):
                sid = value[_SV]
            elif key == n.RECORD_ID and isinstance(value.get(_SV), str):
                rid = value[_SV]
            elif key == n.SEQ_NUMBER and isinstance(value.get(_IV), (str, int)):
                with contextlib.suppress(ValueError):
                    num = int(value[_IV])
    return sid, num, rid


# -- the chunk scan ------------------------------------------------------------


def _records_of(document: Any, add: Callable[[str], None]) -> list[Any]:
    """The log records of one OTLP-JSON logs document, saying what is malformed."""
    if not isinstance(document, dict) or "resourceLogs" not in document:
        add(
            f"not an OTLP-JSON logs document (expected an object with resourceLogs, "
            f"got {_json_type(document)})"
        )
        return []
    records: list[Any] = []
    resource_logs = document["resourceLogs"]
    if not isinstance(resource_logs, list):
        add(f"resourceLogs must be an array, not {_json_type(resource_logs)}")
        return records
    for i, rl in enumerate(resource_logs):
        if not isinstance(rl, dict):
            add(f"resourceLogs[{i}] must be an object, not {_json_type(rl)}")
            continue
        scope_logs = rl.get("scopeLogs") or []
        if not isinstance(scope_logs, list):
            add(f"resourceLogs[{i}].scopeLogs must be an array, not {_json_type(scope_logs)}")
            continue
        for j, sl in enumerate(scope_logs):
            if not isinstance(sl, dict):
                add(f"resourceLogs[{i}].scopeLogs[{j}] must be an object, not {_json_type(sl)}")
                continue
            log_records = sl.get("logRecords") or []
            if not isinstance(log_records, list):
                add(
                    f"resourceLogs[{i}].scopeLogs[{j}].logRecords must be an array, "
                    f"not {_json_type(log_records)}"
                )
                continue
            records.extend(log_records)
    return records


def scan_chunk(
    chunk: Chunk,
    keys: dict[str, bytes] | None,
    progress: Callable[[int, int], None] | None = None,
) -> ChunkResult:
    """Read one chunk and check each record on its own; stream-wide checks come later."""
    result = ChunkResult(chunk.number)
    streams = result.streams
    findings = result.findings
    reader = ChunkReader(chunk)
    chunk_base = chunk.number << _CHUNK_SHIFT
    reported = 0
    records = 0  # since the last progress report
    total = 0
    line_number = 0
    last: dict[str, Entry] = {}

    scanner = compiled_scanner(keys)
    try:
        for line_number, line in reader:
            line_src = chunk_base | (line_number << _LINE_SHIFT)
            scanned = scanner.scan(line) if scanner is not None else None
            if scanned is not None:  # the compiled scanner read the line
                records += len(scanned)
                total += len(scanned)
                _check_scanned(scanned, line, line_src, keys, streams, last, findings)
                if progress is not None and reader.consumed - reported >= 1 << 22:
                    progress(reader.consumed - reported, records)
                    reported = reader.consumed
                    records = 0
                continue
            try:
                document = _LOADS(line)
            except orjson.JSONDecodeError as exc:
                if line.strip():
                    findings.append(
                        (
                            "malformed_line",
                            _ERROR,
                            _bad_json(line, exc),
                            None,
                            None,
                            None,
                            line_src | NO_INDEX,
                        )
                    )
                continue
            log_records = _records_of(document, _line_problems(findings, line_src))
            records += len(log_records)
            total += len(log_records)
            for index, record in enumerate(log_records):
                src = line_src | (index if index < NO_INDEX else NO_INDEX - 1)
                _scan_record(record, src, keys, streams, last, findings)
            if progress is not None and reader.consumed - reported >= 1 << 22:
                progress(reader.consumed - reported, records)
                reported = reader.consumed
                records = 0
    except CorruptInput as exc:
        findings.append(
            (
                "malformed_file",
                _ERROR,
                str(exc),
                None,
                None,
                None,
                chunk_base | ((line_number + 1) << _LINE_SHIFT) | NO_INDEX,
            )
        )
    if progress is not None:
        progress(chunk.size - reported, records)
    result.lines = line_number
    result.records = total
    result.bytes = chunk.size
    return result


def _line_problems(findings: list[RawFinding], line_src: int) -> Callable[[str], None]:
    """What `_records_of` calls with each problem of one line's document."""

    def add(message: str) -> None:
        findings.append(("malformed_line", _ERROR, message, None, None, None, line_src | NO_INDEX))

    return add


def compiled_scanner(keys: dict[str, bytes] | None) -> Any:
    """The compiled scanner for these keys, or None (not built, or turned off)."""
    if _CScanner is None or os.environ.get("AUDIT_SDK_NO_CSCAN"):
        return None
    return _CScanner(keys, _NEEDED + _CHECKPOINT_NAMES)


def _check_scanned(
    scanned: list[Any],
    line: bytes,
    line_src: int,
    keys: dict[str, bytes] | None,
    streams: dict[str, StreamPart],
    last: dict[str, Entry],
    findings: list[RawFinding],
) -> None:
    """Check the records of a line the compiled scanner read; it leaves odd records to Python."""
    log_records: list[Any] | None = None
    for index, item in enumerate(scanned):
        src = line_src | (index if index < NO_INDEX else NO_INDEX - 1)
        if item is not None and len(item) == 8:  # checked in C: no findings, just place it
            digest, sid, num, rid, previous, flags, checkpoint, timestamp = item
            _place(
                sid, num, digest, rid, previous, src, flags, checkpoint, timestamp,
                streams, last,
            )  # fmt: skip
            continue
        if item is not None:
            canonical, digest, mac_ok, values, event_name, timestamp = item
            _check_record(
                canonical, digest, mac_ok, values, event_name, timestamp,
                src, keys, streams, last, findings,
            )  # fmt: skip
            continue
        if log_records is None:  # the scanner checked the line's shape: no problems expected
            log_records = _records_of(_LOADS(line), _line_problems(findings, line_src))
        _scan_record(log_records[index], src, keys, streams, last, findings)


def _bad_json(line: bytes, exc: orjson.JSONDecodeError) -> str:
    stripped = line.rstrip(b"\r\n")
    if b"\x00" in stripped or not _looks_textual(stripped):
        return f"not JSON: binary data ({len(stripped)} bytes)"
    if exc.pos >= len(stripped.rstrip()):
        return f"not valid JSON: the line ends early (truncated after {len(stripped)} bytes)"
    return f"not valid JSON: {exc.msg} at byte {exc.pos}"


def _looks_textual(data: bytes) -> bool:
    sample = data[:512]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut at the sample's end
            return False
    return True


# The attributes `_scan_record` reads, fetched in one call.
_NEEDED = (
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
)
_CHECKPOINT_EVENT = n.CHECKPOINT_EVENT
_CHECKPOINT_NAMES = (
    n.CHECKPOINT_NUMBER,
    n.CHECKPOINT_HASH,
    n.CHECKPOINT_SIGNATURE,
    n.CHECKPOINT_KEY_ID,
)


def _scan_record(
    record: Any,
    src: int,
    keys: dict[str, bytes] | None,
    streams: dict[str, StreamPart],
    last: dict[str, Entry],
    findings: list[RawFinding],
) -> None:
    try:
        canonical, values, event_name, timestamp = _fast_canonical(record) or _general(record)
    except _MALFORMED_ERRORS as exc:
        sid, num, rid = _peek(record)
        reason = str(exc) or type(exc).__name__
        findings.append(
            (
                "malformed_record",
                _ERROR,
                f"cannot compute the record's canonical bytes: {reason}",
                sid,
                num,
                rid,
                src,
            )
        )
        return
    _check_record(
        canonical, None, False, values, event_name, timestamp, src, keys, streams, last, findings
    )


def _check_record(
    canonical: bytes,
    digest: str | None,
    mac_ok: bool,
    values: dict[str, Any],
    event_name: str,
    timestamp: int,
    src: int,
    keys: dict[str, bytes] | None,
    streams: dict[str, StreamPart],
    last: dict[str, Entry],
    findings: list[RawFinding],
) -> None:
    """The per-record checks, given what `extract` (or the compiled scanner) read.

    `digest` and `mac_ok` come from the compiled scanner: the record hash it
    computed, and True when it found the MAC valid. Otherwise they are computed
    here, and every MAC problem is explained here.
    """
    (
        raw_sid,
        raw_num,
        raw_rid,
        raw_mac,
        raw_key_id,
        raw_ce_id,
        raw_ce_type,
        raw_subject,
        raw_target,
        raw_previous_hash,
        raw_previous_id,
        raw_end,
    ) = map(values.get, _NEEDED)
    sid = _str(raw_sid) or None
    num = _int(raw_num)
    if num is not None and num < 1:
        num = None
    rid = _str(raw_rid)
    flags = 0

    # MAC (SPEC §2)
    if mac_ok:
        flags = F_MAC_OK
    elif raw_mac is None:
        findings.append(
            (
                "no_integrity",
                _ERROR,
                "record carries no audit.integrity.value: it is not signed",
                sid,
                num,
                rid,
                src,
            )
        )
    elif keys is not None:
        mac = _str(raw_mac)
        key_id = "default" if raw_key_id is None else _str(raw_key_id)
        key = keys.get(key_id) if key_id is not None else None
        if mac is None:
            findings.append(
                ("bad_mac", _ERROR, "audit.integrity.value is not a string", sid, num, rid, src)
            )
        elif key is None:
            findings.append(
                (
                    "unknown_key_id",
                    _ERROR,
                    f"MAC key id {_shown(raw_key_id)} is not in the key ring "
                    f"(key ids given: {', '.join(sorted(keys))})",
                    sid,
                    num,
                    rid,
                    src,
                )
            )
        elif mac.isascii() and hmac.compare_digest(compute_mac(key, canonical), mac):
            flags = F_MAC_OK
        else:
            findings.append(
                (
                    "bad_mac",
                    _ERROR,
                    f"MAC does not match the record's canonical bytes (key id "
                    f"{key_id!r}): the record was changed after signing, or signed "
                    "with another key",
                    sid,
                    num,
                    rid,
                    src,
                )
            )
    elif _str(raw_mac) is None:
        findings.append(
            ("bad_mac", _ERROR, "audit.integrity.value is not a string", sid, num, rid, src)
        )

    # attribute mirrors (SPEC §1)
    if rid is None:
        findings.append(
            (
                "malformed_record",
                _ERROR,
                "record has no string audit.record.id",
                sid,
                num,
                None,
                src,
            )
        )
    if raw_ce_id != raw_rid:
        findings.append(
            (
                "mirror_mismatch",
                _ERROR,
                f"cloudevents.event_id {_shown(raw_ce_id)} differs from audit.record.id "
                f"{_shown(raw_rid)}",
                sid,
                num,
                rid,
                src,
            )
        )
    if _str(raw_ce_type) != event_name:
        findings.append(
            (
                "mirror_mismatch",
                _ERROR,
                f"cloudevents.event_type {_shown(raw_ce_type)} differs from the event name "
                f"{_show(event_name)}",
                sid,
                num,
                rid,
                src,
            )
        )
    if raw_subject != raw_target:
        findings.append(
            (
                "mirror_mismatch",
                _ERROR,
                f"cloudevents.event_subject {_shown(raw_subject)} differs from "
                f"audit.target.id {_shown(raw_target)}",
                sid,
                num,
                rid,
                src,
            )
        )

    if sid is None or num is None:
        if raw_mac is not None or raw_sid is not None or raw_num is not None:
            what = "audit.sequence.stream_id" if sid is None else "audit.sequence.number (>= 1)"
            findings.append(
                (
                    "malformed_record",
                    _ERROR,
                    f"record has no valid {what}: it cannot be placed in a stream",
                    sid,
                    num,
                    rid,
                    src,
                )
            )
        return

    checkpoint = None
    if event_name == _CHECKPOINT_EVENT:
        flags |= F_CHECKPOINT
        raw_covered, raw_covered_hash, raw_signature, raw_cp_key = map(
            values.get, _CHECKPOINT_NAMES
        )
        covered = _int(raw_covered)
        covered_hash = _str(raw_covered_hash)
        if covered is not None and covered_hash is not None:
            checkpoint = (covered, covered_hash, _str(raw_signature), _str(raw_cp_key))
        else:
            findings.append(
                (
                    "bad_checkpoint",
                    _ERROR,
                    "checkpoint record lacks a valid audit.checkpoint.number (integer) "
                    "and audit.checkpoint.hash (string)",
                    sid,
                    num,
                    rid,
                    src,
                )
            )
    if raw_end is not None and _true(raw_end):
        flags |= F_END

    if digest is None:
        digest = record_hash(canonical)
    previous = None
    if raw_previous_hash is not None or raw_previous_id is not None:
        previous = (_str(raw_previous_hash), _str(raw_previous_id))
    _place(sid, num, digest, rid, previous, src, flags, checkpoint, timestamp, streams, last)


def _place(
    sid: str,
    num: int,
    digest: str,
    rid: str | None,
    previous: tuple[str | None, str | None] | None,
    src: int,
    flags: int,
    checkpoint: Checkpoint | None,
    timestamp: int,
    streams: dict[str, StreamPart],
    last: dict[str, Entry],
) -> None:
    """Put a checked record into its stream's part; `previous` is its (hash, id) link or None."""
    link: Any = None
    if previous is not None:
        before = last.get(sid)
        if (
            before is not None
            and before[0] == num - 1
            and before[1] == previous[0]
            and before[2] == previous[1]
            and previous[1] is not None
        ):
            link = LINKED
        else:
            link = previous

    entry: Entry = (num, digest, rid, link, src, flags, checkpoint)
    part = streams.get(sid)
    if part is None:
        part = streams[sid] = StreamPart()
    part.seen += 1
    if timestamp:
        if part.tmin is None or timestamp < part.tmin:
            part.tmin = timestamp
        if part.tmax is None or timestamp > part.tmax:
            part.tmax = timestamp
    if flags & (F_END | F_CHECKPOINT):
        if flags & F_END:
            part.ends.append(num)
        if flags & F_CHECKPOINT:
            part.cps.append(num)
    present = part.entries.get(num)
    if present is None:
        part.entries[num] = entry
    else:
        part.merge_one(present, entry)
    last[sid] = entry
