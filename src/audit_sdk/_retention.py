"""Retention (docs/retention.md): policy, plan, apply, and signed purge receipts.

A purge removes a *prefix* of each stream (records 1..k, or k0+1..k after an
earlier purge): the records that remain still chain from record k, and the
receipt, signed with the Ed25519 checkpoint key, states record k's hash and id
so that `audit-sdk verify` can check the first remaining record's link.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_sdk._canonical import canonical_from_otlp, record_hash
from audit_sdk._errors import AuditError
from audit_sdk._jcs import canonicalize
from audit_sdk._keys import checkpoint_key_id
from audit_sdk._values import otlp_to_python

__all__ = [
    "LegalHold",
    "PolicyError",
    "Receipt",
    "ReceiptError",
    "RetentionPlan",
    "RetentionPolicy",
    "apply_plan",
    "load_policy",
    "load_receipt",
    "make_plan",
    "parse_duration",
    "receipt_files",
    "receipt_text",
]

RECEIPT_TYPE = "audit-sdk purge receipt"
RECEIPT_HEADER = b"audit-sdk purge receipt v1\n"
RECEIPT_SUFFIX = ".receipt"
RECEIPTS_DIR = "receipts"
_NS = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_HOLD_KEYS = {"id", "reason", "streams", "event_types", "actors", "targets", "from", "until"}
_RULE_KEYS = {"hot", "purge_after"}


class PolicyError(AuditError, ValueError):
    """The retention policy file is unusable (the message names file and line)."""


class ReceiptError(AuditError, ValueError):
    """A purge receipt cannot be read or its signature does not verify."""


# -- policy ---------------------------------------------------------------------------


def parse_duration(value: object, where: str = "duration") -> int:
    """`30d`, `12h`, `90m`, `45s`, `2w` -> seconds."""
    match = _DURATION.match(str(value)) if isinstance(value, (str, int)) else None
    if match is None or isinstance(value, bool):
        raise PolicyError(f"{where}: {value!r} is not a duration like 30d, 12h, 90m, 45s or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class Rule:
    hot: int | None  # seconds; None: never leaves the hot stage
    purge_after: int | None  # seconds; None: never purged


@dataclass(frozen=True, slots=True)
class LegalHold:
    id: str
    reason: str
    streams: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    from_ns: int | None = None
    until_ns: int | None = None

    def covers(self, record: RecordInfo) -> bool:
        if self.streams and record.stream_id not in self.streams:
            return False
        if self.event_types and not _glob_any(record.event_type, self.event_types):
            return False
        if self.actors and not _glob_any(record.actor or "", self.actors):
            return False
        if self.targets and not _glob_any(record.target or "", self.targets):
            return False
        if self.from_ns is not None and record.time_ns < self.from_ns:
            return False
        return self.until_ns is None or record.time_ns <= self.until_ns


def _glob_any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default: Rule
    event_types: tuple[tuple[str, Rule], ...]  # in file order; exact names win over globs
    legal_holds: tuple[LegalHold, ...]
    digest: str  # sha256 of the policy file, named in receipts

    def rule_for(self, event_type: str) -> tuple[str, Rule]:
        for pattern, rule in self.event_types:
            if pattern == event_type:
                return pattern, rule
        for pattern, rule in self.event_types:
            if fnmatch.fnmatchcase(event_type, pattern):
                return pattern, rule
        return "default", self.default

    def holds_on(self, record: RecordInfo) -> list[LegalHold]:
        return [h for h in self.legal_holds if h.covers(record)]


class _LineLoader(yaml.SafeLoader):
    """Adds `__line__` to mappings so that errors can name the line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _time_ns(value: object, where: str) -> int:
    if isinstance(value, datetime):
        moment = value
    elif hasattr(value, "isoformat") and not isinstance(value, str):  # a YAML date
        moment = datetime.fromisoformat(value.isoformat())
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise PolicyError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * _NS + moment.microsecond * 1000


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(x, str) and x for x in items):
        raise PolicyError(f"{where}: expected a string or a list of strings")
    return tuple(items)


def _rule(raw: object, where: str, base: Rule | None) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping with hot and/or purge_after")
    line = raw.get("__line__")
    at = f"{where} (line {line})" if line else where
    unknown = set(raw) - _RULE_KEYS - {"__line__"}
    if unknown:
        raise PolicyError(f"{at}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")

    def get(key: str, inherited: int | None) -> int | None:
        if key not in raw:
            return inherited
        if raw[key] in (None, "never"):
            return None
        return parse_duration(raw[key], f"{at}: {key}")

    rule = Rule(
        hot=get("hot", base.hot if base else None),
        purge_after=get("purge_after", base.purge_after if base else None),
    )
    if rule.hot is not None and rule.purge_after is not None and rule.hot > rule.purge_after:
        raise PolicyError(f"{at}: hot is longer than purge_after")
    return rule


def load_policy(path: str | os.PathLike[str]) -> RetentionPolicy:
    """Read and check a retention-policy.yaml (schema: docs/retention.md)."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise PolicyError(f"{name}: cannot be read ({exc.strerror})") from None
    try:
        doc = yaml.load(data, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{name}:{mark.line + 1}" if mark is not None else name
        raise PolicyError(f"{at}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise PolicyError(f"{name}: expected a mapping at the top level")
    unknown = set(doc) - {"version", "default", "event_types", "legal_holds", "__line__"}
    if unknown:
        listed = ", ".join(sorted(map(str, unknown)))
        raise PolicyError(f"{name}: unknown top-level key(s) {listed}")
    if doc.get("version") != 1:
        raise PolicyError(f"{name}: version must be 1")
    if "default" not in doc:
        raise PolicyError(f"{name}: a 'default' rule is required")
    default = _rule(doc["default"], f"{name}: default", None)
    types_raw = doc.get("event_types") or {}
    if not isinstance(types_raw, dict):
        raise PolicyError(f"{name}: event_types must be a mapping of event type to rule")
    event_types = tuple(
        (str(pattern), _rule(raw, f"{name}: event_types[{pattern!r}]", default))
        for pattern, raw in types_raw.items()
        if pattern != "__line__"
    )
    holds_raw = doc.get("legal_holds") or []
    if not isinstance(holds_raw, list):
        raise PolicyError(f"{name}: legal_holds must be a list")
    holds = []
    for i, raw in enumerate(holds_raw):
        where = f"{name}: legal_holds[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: expected a mapping")
        where = f"{name}:{raw['__line__']}: legal hold" if "__line__" in raw else where
        unknown = set(raw) - _HOLD_KEYS - {"__line__"}
        if unknown:
            raise PolicyError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        if not isinstance(raw.get("id"), str) or not raw["id"]:
            raise PolicyError(f"{where}: 'id' (a non-empty string) is required")
        holds.append(
            LegalHold(
                id=raw["id"],
                reason=str(raw.get("reason", "")),
                streams=_strings(raw.get("streams"), f"{where} {raw['id']}: streams"),
                event_types=_strings(raw.get("event_types"), f"{where} {raw['id']}: event_types"),
                actors=_strings(raw.get("actors"), f"{where} {raw['id']}: actors"),
                targets=_strings(raw.get("targets"), f"{where} {raw['id']}: targets"),
                from_ns=_time_ns(raw["from"], f"{where}: from") if raw.get("from") else None,
                until_ns=_time_ns(raw["until"], f"{where}: until") if raw.get("until") else None,
            )
        )
    return RetentionPolicy(
        default=default,
        event_types=event_types,
        legal_holds=tuple(holds),
        digest=hashlib.sha256(data).hexdigest(),
    )


# -- receipts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgedRange:
    stream_id: str
    first_number: int
    last_number: int
    last_record_hash: str
    last_record_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "first_number": self.first_number,
            "last_number": self.last_number,
            "count": self.last_number - self.first_number + 1,
            "last_record_hash": self.last_record_hash,
            "last_record_id": self.last_record_id,
        }


@dataclass(frozen=True, slots=True)
class Receipt:
    path: str
    body: dict[str, Any]
    ranges: tuple[PurgedRange, ...]
    key_id: str
    signature: str


def receipt_text(body: Mapping[str, Any]) -> bytes:
    """What the receipt signature covers: a header line, then the JCS bytes of the body."""
    return RECEIPT_HEADER + canonicalize({k: v for k, v in body.items() if k != "signature"})


def receipt_files(directories: Iterable[str]) -> list[str]:
    """Every `*.receipt` file under `receipts/` directories below the given directories."""
    found: list[str] = []
    for top in directories:
        if not os.path.isdir(top):
            continue
        for root, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if os.path.basename(root) != RECEIPTS_DIR:
                continue
            found += [os.path.join(root, n) for n in sorted(names) if n.endswith(RECEIPT_SUFFIX)]
    return found


def load_receipt(
    path: str | os.PathLike[str], public_keys: Sequence[Ed25519PublicKey] | None
) -> Receipt:
    """Read a purge receipt; with `public_keys`, check its signature (ReceiptError if bad)."""
    name = os.fspath(path)
    try:
        body = json.loads(Path(name).read_bytes())
        if body.get("type") != RECEIPT_TYPE or body.get("version") != 1:
            raise ReceiptError(f"{name}: not an audit-sdk purge receipt (version 1)")
        key_id = body["key_id"]
        signature = body["signature"]
        ranges = tuple(
            PurgedRange(
                stream_id=str(r["stream_id"]),
                first_number=int(r["first_number"]),
                last_number=int(r["last_number"]),
                last_record_hash=str(r["last_record_hash"]),
                last_record_id=str(r["last_record_id"]),
            )
            for r in body["streams"]
        )
    except OSError as exc:
        raise ReceiptError(f"{name}: cannot be read ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, ReceiptError):
            raise
        raise ReceiptError(f"{name}: malformed purge receipt ({exc!r})") from None
    if public_keys is not None:
        keys = {checkpoint_key_id(k): k for k in public_keys}
        key = keys.get(key_id)
        if key is None:
            raise ReceiptError(
                f"{name}: signed with key id {key_id!r}, which is not among the given public keys"
            )
        try:
            key.verify(base64.b64decode(signature, validate=True), receipt_text(body))
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            raise ReceiptError(
                f"{name}: the receipt signature does not verify (key id {key_id!r}): "
                "the receipt was changed after signing"
            ) from None
    return Receipt(name, body, ranges, str(key_id), str(signature))


def purged_prefixes(receipts: Iterable[Receipt]) -> dict[str, PurgedRange]:
    """Per stream, the purged prefix 1..k that contiguous receipts account for."""
    by_stream: dict[str, list[PurgedRange]] = {}
    for receipt in receipts:
        for r in receipt.ranges:
            by_stream.setdefault(r.stream_id, []).append(r)
    out: dict[str, PurgedRange] = {}
    for sid, ranges in by_stream.items():
        covered: PurgedRange | None = None
        for r in sorted(ranges, key=lambda r: (r.first_number, r.last_number)):
            start = 1 if covered is None else covered.last_number + 1
            if r.first_number > start:
                break  # a gap between receipts: what follows is not accounted for
            if covered is None or r.last_number > covered.last_number:
                covered = PurgedRange(sid, 1, r.last_number, r.last_record_hash, r.last_record_id)
        if covered is not None:
            out[sid] = covered
    return out


# -- reading the store ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordInfo:
    stream_id: str
    number: int
    record_id: str
    event_type: str
    actor: str | None
    target: str | None
    time_ns: int
    record_hash: str
    file: str
    line: int  # 0-based line index in the file


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _read_lines(path: str) -> list[bytes]:
    opener: Any = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as handle:
        data: bytes = handle.read()
    return data.splitlines(keepends=True)


def _log_records(document: Any) -> Iterable[dict[str, Any]]:
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            yield from scope_logs.get("logRecords", [])


def _info(log_record: dict[str, Any], path: str, line: int) -> RecordInfo | None:
    attrs = {a["key"]: otlp_to_python(a["value"]) for a in log_record.get("attributes", [])}
    sid = attrs.get("audit.sequence.stream_id")
    number = attrs.get("audit.sequence.number")
    if not isinstance(sid, str) or not isinstance(number, int):
        return None
    return RecordInfo(
        stream_id=sid,
        number=number,
        record_id=str(attrs.get("audit.record.id", "")),
        event_type=str(log_record.get("eventName", "")),
        actor=attrs.get("audit.actor.id"),
        target=attrs.get("audit.target.id"),
        time_ns=int(log_record.get("timeUnixNano", 0)),
        record_hash=record_hash(canonical_from_otlp(log_record)),
        file=path,
        line=line,
    )


def _trail_files(store: str) -> list[str]:
    from audit_sdk._verify._reader import discover
    from audit_sdk.verify import UnusableInput

    if not os.path.isdir(store):
        raise AuditError(f"{store}: not a directory (give the trail store's directory)")
    try:
        return discover([store])
    except UnusableInput:
        return []  # everything may have been purged already


def _read_store(store: str) -> tuple[list[str], dict[str, dict[int, list[RecordInfo]]]]:
    files = _trail_files(store)
    streams: dict[str, dict[int, list[RecordInfo]]] = {}
    for path in files:
        for index, raw in enumerate(_read_lines(path)):
            if not raw.strip():
                continue
            try:
                document = json.loads(raw)
                records = list(_log_records(document))
            except (ValueError, AttributeError):
                raise AuditError(
                    f"{path}:{index + 1}: not an OTLP-JSON line; run `audit-sdk verify` first"
                ) from None
            for log_record in records:
                try:
                    info = _info(log_record, path, index)
                except (ValueError, KeyError, TypeError, AuditError):
                    info = None
                if info is None:
                    raise AuditError(
                        f"{path}:{index + 1}: a record without a readable stream id, number or "
                        "canonical form; run `audit-sdk verify` first"
                    )
                streams.setdefault(info.stream_id, {}).setdefault(info.number, []).append(info)
    return files, streams


# -- plan -----------------------------------------------------------------------------


@dataclass(slots=True)
class StreamPlan:
    stream_id: str
    first_present: int | None
    last_present: int | None
    already_purged: int  # the prefix earlier receipts account for (0: none)
    purge_to: int  # purge every record numbered <= purge_to (0: nothing)
    purge_count: int  # records present that will be removed
    stages: dict[str, int] = field(default_factory=dict)  # hot / archive / purge -> count
    stopped_at: int | None = None
    stop_reason: str | None = None
    held: dict[str, int] = field(default_factory=dict)  # hold id -> records it keeps
    last_hash: str | None = None
    last_id: str | None = None
    new_first: int | None = None  # first number of the new receipt range

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "first_present": self.first_present,
            "last_present": self.last_present,
            "already_purged": self.already_purged,
            "purge_through": self.purge_to,
            "purge_count": self.purge_count,
            "stages": self.stages,
            "stopped_at": self.stopped_at,
            "stop_reason": self.stop_reason,
            "held": self.held,
        }


@dataclass(slots=True)
class RetentionPlan:
    store: str
    now_ns: int
    policy: RetentionPolicy
    files: list[str]
    streams: list[StreamPlan]
    records: dict[str, dict[int, list[RecordInfo]]]

    @property
    def purge_count(self) -> int:
        return sum(s.purge_count for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "now": _iso(self.now_ns),
            "policy_sha256": self.policy.digest,
            "files": self.files,
            "purge_count": self.purge_count,
            "streams": [s.to_dict() for s in self.streams],
        }


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // _NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_plan(
    store: str | os.PathLike[str],
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    public_keys: Sequence[Ed25519PublicKey] | None = None,
) -> RetentionPlan:
    """What `apply` would do to the store at `now` (default: the current time)."""
    store_name = os.fspath(store)
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now_ns = int(moment.timestamp()) * _NS + moment.microsecond * 1000
    files, streams = _read_store(store_name)
    receipts = [load_receipt(p, public_keys) for p in receipt_files([store_name])]
    prefixes = purged_prefixes(receipts)
    plans = []
    for sid in sorted(streams):
        records = streams[sid]
        numbers = sorted(records)
        done = prefixes[sid].last_number if sid in prefixes else 0
        plan = StreamPlan(sid, numbers[0], numbers[-1], done, done, 0)
        plan.stages = {"hot": 0, "archive": 0, "purge": 0}
        if sid in prefixes:
            plan.last_hash = prefixes[sid].last_record_hash
            plan.last_id = prefixes[sid].last_record_id
        for number in numbers:
            info = records[number][0]
            age = now_ns - info.time_ns
            _, rule = policy.rule_for(info.event_type)
            if rule.purge_after is not None and age >= rule.purge_after * _NS:
                stage = "purge"
            elif rule.hot is not None and age >= rule.hot * _NS:
                stage = "archive"
            else:
                stage = "hot"
            holds = policy.holds_on(info)
            for hold in holds:
                plan.held[hold.id] = plan.held.get(hold.id, 0) + 1
            plan.stages[stage] += 1
            if number <= done or plan.stopped_at is not None:
                continue  # already accounted for by a receipt (an interrupted apply)
            if number != plan.purge_to + 1:
                plan.stopped_at = number
                plan.stop_reason = f"records {plan.purge_to + 1}..{number - 1} are missing"
            elif holds:
                plan.stopped_at = number
                plan.stop_reason = "under legal hold " + ", ".join(h.id for h in holds)
            elif stage != "purge":
                plan.stopped_at = number
                plan.stop_reason = f"not past retention ({info.event_type}, stage {stage})"
            else:
                plan.purge_to = number
                plan.last_hash = info.record_hash
                plan.last_id = info.record_id
                if plan.new_first is None:
                    plan.new_first = number
        plan.purge_count = sum(1 for n in numbers if n <= plan.purge_to)
        plans.append(plan)
    return RetentionPlan(store_name, now_ns, policy, files, plans, streams)


# -- apply ----------------------------------------------------------------------------


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes, *, compress: bool) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".retention-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if compress:
                with gzip.GzipFile(fileobj=handle, mode="wb") as gz:
                    gz.write(data)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _strip_line(raw: bytes, purge: Mapping[str, int]) -> bytes | None:
    """The line without the records to purge; None when nothing is left."""
    document = json.loads(raw)
    removed = False
    kept_resources = []
    for resource_logs in document.get("resourceLogs", []):
        kept_scopes = []
        for scope_logs in resource_logs.get("scopeLogs", []):
            kept = []
            for log_record in scope_logs.get("logRecords", []):
                attrs = {a["key"]: a["value"] for a in log_record.get("attributes", [])}
                sid = otlp_to_python(attrs["audit.sequence.stream_id"])
                number = otlp_to_python(attrs["audit.sequence.number"])
                if number > purge.get(sid, 0):
                    kept.append(log_record)
                else:
                    removed = True
            if kept:
                kept_scopes.append({**scope_logs, "logRecords": kept})
        if kept_scopes:
            kept_resources.append({**resource_logs, "scopeLogs": kept_scopes})
    if not removed:
        return raw
    if not kept_resources:
        return None
    text = json.dumps({**document, "resourceLogs": kept_resources}, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def apply_plan(plan: RetentionPlan, private_key: Ed25519PrivateKey) -> str | None:
    """Purge what `plan` says; returns the receipt written (None: nothing new to record).

    The receipt is written (and synced) first, then each affected trail file is
    rewritten to a temporary file, synced and renamed over the original: an
    interrupted apply leaves records that the receipt already accounts for,
    and the next apply removes them. Run it on a store that nothing appends
    to (rotated segments, or with the writers stopped).
    """
    purge = {s.stream_id: s.purge_to for s in plan.streams if s.purge_count}
    if not purge:
        return None
    receipt_path = None
    new = [s for s in plan.streams if s.new_first is not None]
    if new:
        body: dict[str, Any] = {
            "type": RECEIPT_TYPE,
            "version": 1,
            "created": _iso(plan.now_ns),
            "policy_sha256": plan.policy.digest,
            "key_id": checkpoint_key_id(private_key.public_key()),
            "streams": [
                PurgedRange(
                    s.stream_id, s.new_first or 1, s.purge_to, s.last_hash or "", s.last_id or ""
                ).to_dict()
                for s in new
            ],
        }
        body["signature"] = base64.b64encode(private_key.sign(receipt_text(body))).decode("ascii")
        directory = os.path.join(plan.store, RECEIPTS_DIR)
        os.makedirs(directory, exist_ok=True)
        stamp = _iso(plan.now_ns).replace("-", "").replace(":", "")
        digest = hashlib.sha256(receipt_text(body)).hexdigest()[:8]
        receipt_path = os.path.join(directory, f"purge-{stamp}-{digest}{RECEIPT_SUFFIX}")
        payload = json.dumps(body, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        _write_atomic(receipt_path, payload, compress=False)
    affected = sorted(
        {
            info.file
            for sid, last in purge.items()
            for number, infos in plan.records[sid].items()
            if number <= last
            for info in infos
        }
    )
    for path in affected:
        compress = _is_gzip(path)
        out = []
        for raw in _read_lines(path):
            if not raw.strip():
                out.append(raw)
                continue
            stripped = _strip_line(raw, purge)
            if stripped is None:
                continue
            out.append(stripped)
        if out:
            _write_atomic(path, b"".join(out), compress=compress)
        else:
            os.unlink(path)
            _fsync_dir(os.path.dirname(path) or ".")
    return receipt_path
