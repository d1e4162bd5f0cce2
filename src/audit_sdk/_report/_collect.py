"""What the evidence report shows, besides the verifier's verdict: counts read from the trail.

This pass only describes the trail (who did what, when, with what outcome,
under which keys); it proves nothing. Proof is the verifier's result, which
the report shows next to these numbers. Lines and records that cannot be read
are skipped here: the verifier reports them as findings.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit_sdk import _names as n
from audit_sdk._values import otlp_to_python

__all__ = ["EventRow", "StreamStats", "TrailStats", "collect", "trail_files"]

# The files a directory contributes: as the verifier picks them (rotated and gzip segments).
_TRAIL_NAME = re.compile(r"\.(?:jsonl|json|ndjson|log)(?:\.gz)?$", re.IGNORECASE)
_DENIED = re.compile(r"denied|forbidden|unauthori[sz]ed|permission|not.?allowed", re.IGNORECASE)
MAX_ROWS = 500  # failures listed in full; beyond that only counted


@dataclass(slots=True)
class EventRow:
    """One failed or denied action, as the report lists it."""

    time: int
    stream_id: str
    number: int
    event_name: str
    action: str
    actor: str
    target: str
    error_type: str
    request_id: str
    denied: bool


@dataclass(slots=True)
class StreamStats:
    stream_id: str
    service: str = ""
    events: int = 0
    checkpoints: int = 0
    signed_checkpoints: int = 0
    last_number: int = 0
    covered_to: int = 0  # highest record number a checkpoint covers
    ended: bool = False
    hmac_key_ids: Counter[str] = field(default_factory=Counter)
    checkpoint_key_ids: Counter[str] = field(default_factory=Counter)
    first_time: int | None = None
    last_time: int | None = None


@dataclass(slots=True)
class TrailStats:
    files: list[str] = field(default_factory=list)
    streams: dict[str, StreamStats] = field(default_factory=dict)
    times: list[tuple[int, str]] = field(default_factory=list)  # (time, outcome) per event
    by_action: dict[str, Counter[str]] = field(default_factory=dict)
    by_actor: dict[str, Counter[str]] = field(default_factory=dict)
    by_event: Counter[str] = field(default_factory=Counter)
    failures: list[EventRow] = field(default_factory=list)
    failure_count: int = 0
    denied_count: int = 0
    unreadable_lines: int = 0
    unplaced: int = 0  # records without a stream id, left out of every count

    @property
    def events(self) -> int:
        return len(self.times)

    @property
    def checkpoints(self) -> int:
        return sum(s.checkpoints for s in self.streams.values())


def trail_files(paths: Iterable[str]) -> list[str]:
    """The trail files named by `paths`, directories expanded (hidden names skipped), once each."""
    files: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    os.path.join(root, name)
                    for name in sorted(names)
                    if not name.startswith(".") and _TRAIL_NAME.search(name)
                ]
        else:
            found = [path]
        for file in found:
            real = os.path.realpath(file)
            if real not in seen and os.path.isfile(file):
                seen.add(real)
                files.append(file)
    return files


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if not compressed:
            yield from raw
            return
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield from unzipped
        except (EOFError, OSError, zlib.error):
            return  # the verifier reports the corrupt segment


def _records(document: Any) -> Iterator[tuple[dict[str, Any], str]]:
    for resource_logs in document.get("resourceLogs") or ():
        resource = {
            a.get("key"): a.get("value")
            for a in (resource_logs.get("resource") or {}).get("attributes") or ()
            if isinstance(a, dict)
        }
        service_value = resource.get("service.name")
        service = otlp_to_python(service_value) if isinstance(service_value, dict) else ""
        for scope_logs in resource_logs.get("scopeLogs") or ():
            for record in scope_logs.get("logRecords") or ():
                if isinstance(record, dict):
                    yield record, str(service or "")


def _attributes(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in record.get("attributes") or ():
        try:
            out[entry["key"]] = otlp_to_python(entry.get("value") or {})
        except Exception:  # one odd attribute does not hide the record
            continue
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def collect(files: list[str]) -> TrailStats:
    stats = TrailStats(files=list(files))
    seen: set[tuple[str, int, str]] = set()
    for path in files:
        for line in _lines(path):
            if not line.strip():
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError:
                stats.unreadable_lines += 1
                continue
            if not isinstance(document, dict):
                stats.unreadable_lines += 1
                continue
            try:
                for record, service in _records(document):
                    _add(stats, seen, record, service)
            except (AttributeError, TypeError, ValueError):
                stats.unreadable_lines += 1
    return stats


def _add(
    stats: TrailStats, seen: set[tuple[str, int, str]], record: dict[str, Any], service: str
) -> None:
    attrs = _attributes(record)
    stream_id = _text(attrs.get(n.SEQ_STREAM_ID))
    if not stream_id:
        stats.unplaced += 1  # not an audit record of any stream: the verifier reports it
        return
    number = attrs.get(n.SEQ_NUMBER)
    number = number if isinstance(number, int) and not isinstance(number, bool) else 0
    record_id = _text(attrs.get(n.RECORD_ID))
    key = (stream_id, number, record_id)
    if key in seen:
        return  # a duplicate delivery: counted once
    seen.add(key)
    try:
        time = int(record.get("timeUnixNano") or 0)
    except (TypeError, ValueError):
        time = 0
    stream = stats.streams.get(stream_id)
    if stream is None:
        stream = stats.streams[stream_id] = StreamStats(stream_id)
    stream.service = stream.service or service
    stream.last_number = max(stream.last_number, number)
    if time:
        stream.first_time = time if stream.first_time is None else min(stream.first_time, time)
        stream.last_time = time if stream.last_time is None else max(stream.last_time, time)
    key_id = attrs.get(n.INTEGRITY_KEY_ID)
    stream.hmac_key_ids[_text(key_id) if key_id is not None else "(none)"] += 1
    event_name = _text(record.get("eventName"))
    if event_name == n.CHECKPOINT_EVENT:
        stream.checkpoints += 1
        # a checkpoint covers the records before it, and counts as covered itself
        stream.covered_to = max(stream.covered_to, number)
        if attrs.get(n.CHECKPOINT_SIGNATURE):
            stream.signed_checkpoints += 1
            stream.checkpoint_key_ids[_text(attrs.get(n.CHECKPOINT_KEY_ID)) or "(none)"] += 1
        if attrs.get(n.SEQ_END) is True:
            stream.ended = True
        return
    stream.events += 1
    outcome = _text(attrs.get(n.OUTCOME)) or "unknown"
    action = _text(attrs.get(n.ACTION)) or "(none)"
    actor = _text(attrs.get(n.ACTOR_ID)) or "(none)"
    stats.times.append((time, outcome))
    stats.by_action.setdefault(action, Counter())[outcome] += 1
    stats.by_actor.setdefault(actor, Counter())[outcome] += 1
    stats.by_event[event_name or "(none)"] += 1
    if outcome != "success":
        error_type = _text(attrs.get(n.ERROR_TYPE))
        denied = bool(_DENIED.search(error_type) or _DENIED.search(event_name))
        stats.failure_count += outcome == "failure"
        stats.denied_count += denied
        if len(stats.failures) < MAX_ROWS:
            stats.failures.append(
                EventRow(
                    time=time,
                    stream_id=stream_id,
                    number=number,
                    event_name=event_name,
                    action=action,
                    actor=actor,
                    target=_text(attrs.get(n.TARGET_ID)),
                    error_type=error_type,
                    request_id=_text(attrs.get(n.REQUEST_ID)),
                    denied=denied,
                )
            )
