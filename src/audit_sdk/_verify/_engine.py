"""The verification run: chunks (in this process or a pool), merge, stream-wide checks.

Per-record checks happen while chunks are scanned (`_scan`). Once every chunk
is merged, each stream is checked as a whole, independent of the order in
which records arrived: conflicting duplicates, records after the end record,
missing ranges, chain links, checkpoints, the open tail and, without an HMAC
key, which records no valid checkpoint authenticates.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_sdk._checkpoint import verify_checkpoint
from audit_sdk._keys import checkpoint_key_id
from audit_sdk._verify._reader import Chunk, discover, plan_chunks
from audit_sdk._verify._scan import (
    E_CP,
    E_FLAGS,
    E_HASH,
    E_LINK,
    E_RID,
    E_SRC,
    F_CHECKPOINT,
    F_END,
    F_MAC_OK,
    LINKED,
    ChunkResult,
    Entry,
    RawFinding,
    StreamPart,
    scan_chunk,
    unpack_src,
)
from audit_sdk.verify import (
    Finding,
    FindingKind,
    Severity,
    StreamResult,
    StreamStatus,
    UnusableInput,
    VerifyResult,
)

__all__ = ["Options", "run"]

_MIN_CHUNK = 4 << 20
_MAX_CHUNK = 64 << 20
_ERROR = "error"
_WARNING = "warning"

ProgressFn = Callable[[int, int, int], None]


@dataclass(frozen=True, slots=True)
class Options:
    keys: dict[str, bytes] | None  # HMAC keys by key id; None: MACs are not checked
    public_keys: tuple[Ed25519PublicKey, ...] = ()
    require_closed: bool = False
    require_authenticated: bool = False
    # streams whose prefix 1..k a valid purge receipt accounts for:
    # stream id -> (k, record k's record_hash, record k's id)
    purged: dict[str, tuple[int, str, str]] | None = None


# -- worker processes ------------------------------------------------------------

_worker_keys: dict[str, bytes] | None = None


def _init_worker(keys: dict[str, bytes] | None) -> None:
    global _worker_keys
    _worker_keys = keys
    gc.disable()  # the scan makes no reference cycles; collections only cost time


def _scan_in_worker(chunk: Chunk) -> ChunkResult:
    return scan_chunk(chunk, _worker_keys)


# -- the run ------------------------------------------------------------------------


def run(
    paths: list[str], options: Options, *, jobs: int, progress: ProgressFn | None
) -> VerifyResult:
    if not paths:
        raise UnusableInput("no input: give at least one trail file or directory")
    files = discover(paths)
    total_bytes = sum(os.path.getsize(f) for f in files)
    chunk_bytes = None
    if jobs > 1:
        chunk_bytes = max(_MIN_CHUNK, min(_MAX_CHUNK, total_bytes // (jobs * 4) + 1))
    chunks = plan_chunks(files, chunk_bytes)

    gc_was_enabled = gc.isenabled()
    gc.disable()  # many small, acyclic objects: the collector would only slow the scan down
    try:
        merged = _Merged(chunks)
        for result in _scan_all(chunks, options, jobs, progress, total_bytes):
            merged.add(result)
        return merged.finish(options, files)
    finally:
        if gc_was_enabled:
            gc.enable()


def _scan_all(
    chunks: list[Chunk], options: Options, jobs: int, progress: ProgressFn | None, total: int
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order (so that results do not depend on scheduling)."""
    done_bytes = 0
    done_records = 0

    def report(nbytes: int, nrecords: int) -> None:
        nonlocal done_bytes, done_records
        done_bytes += nbytes
        done_records += nrecords
        if progress is not None:
            progress(done_bytes, total, done_records)

    if jobs == 1 or len(chunks) == 1:
        for chunk in chunks:
            yield scan_chunk(chunk, options.keys, report if progress is not None else None)
        return

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(chunks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(options.keys,),
    ) as pool:
        pending: dict[Future[ChunkResult], Chunk] = {
            pool.submit(_scan_in_worker, chunk): chunk for chunk in chunks
        }
        ready: dict[int, ChunkResult] = {}
        next_number = 0
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    chunk = pending.pop(future)
                    result = future.result()
                    report(chunk.size, result.records)
                    ready[chunk.number] = result
                while next_number in ready:
                    yield ready.pop(next_number)
                    next_number += 1
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


class _Merged:
    """Chunk results folded together, then turned into the VerifyResult."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self.line_base = [0] * len(chunks)
        self._lines_so_far: dict[str, int] = {}
        self.lines = 0
        self.records = 0
        self.streams: dict[str, StreamPart] = {}
        self.raw: list[RawFinding] = []

    def add(self, result: ChunkResult) -> None:
        chunk = self.chunks[result.number]
        base = self._lines_so_far.get(chunk.path, 0)
        self.line_base[result.number] = base
        self._lines_so_far[chunk.path] = base + result.lines
        self.lines += result.lines
        self.records += result.records
        self.raw.extend(result.findings)
        for sid, part in result.streams.items():
            mine = self.streams.get(sid)
            if mine is None:
                self.streams[sid] = part
            else:
                mine.merge(part)

    def where(self, src: int | None) -> tuple[str | None, int | None, int | None]:
        if src is None:
            return None, None, None
        chunk, line, index = unpack_src(src)
        return self.chunks[chunk].path, self.line_base[chunk] + line, index

    def at(self, src: int) -> str:
        path, line, index = self.where(src)
        text = f"{path}:{line}"
        return text if index is None else f"{text} [{index}]"

    def finish(self, options: Options, files: list[str]) -> VerifyResult:
        if self.records == 0 and not self.raw:
            raise UnusableInput(f"no audit records found in {', '.join(files)}")
        pubkeys = {checkpoint_key_id(k): k for k in options.public_keys}
        summaries: dict[str, _StreamSummary] = {}
        for sid, part in self.streams.items():
            summaries[sid] = _check_stream(sid, part, options, pubkeys, self.at, self.raw)
        by_stream: dict[str | None, list[Finding]] = {}
        for kind, severity, message, stream_id, num, rid, src in self.raw:
            path, line, index = self.where(src)
            finding = Finding(
                FindingKind(kind),
                Severity(severity),
                message,
                stream_id,
                num,
                rid,
                path,
                line,
                index,
            )
            key = stream_id if stream_id in summaries else None
            by_stream.setdefault(key, []).append(finding)

        def order(f: Finding) -> tuple[Any, ...]:
            return (
                f.sequence_number if f.sequence_number is not None else -1,
                f.file or "",
                f.line or 0,
                f.index if f.index is not None else -1,
                f.kind.value,
            )

        streams = []
        for sid, summary in summaries.items():
            findings = tuple(sorted(by_stream.get(sid, ()), key=order))
            status = summary.status
            if any(f.severity is Severity.ERROR for f in findings):
                status = StreamStatus.INVALID
            streams.append(
                StreamResult(
                    stream_id=sid,
                    status=status,
                    closed=summary.closed,
                    records=summary.records,
                    duplicates=summary.duplicates,
                    first_number=summary.first_number,
                    last_number=summary.last_number,
                    first_time_unix_nano=summary.tmin,
                    last_time_unix_nano=summary.tmax,
                    authenticated=summary.authenticated,
                    findings=findings,
                )
            )
        streams.sort(key=lambda s: (s.first_time_unix_nano or 0, s.stream_id))
        outside = sorted(
            by_stream.get(None, ()),
            key=lambda f: (f.file or "", f.line or 0, f.index if f.index is not None else -1),
        )
        all_findings = tuple(outside) + tuple(f for s in streams for f in s.findings)
        return VerifyResult(
            files=tuple(files),
            lines=self.lines,
            records=self.records,
            streams=tuple(streams),
            findings=all_findings,
            hmac_checked=options.keys is not None,
            checkpoints_checked=bool(options.public_keys),
            require_closed=options.require_closed,
            require_authenticated=options.require_authenticated,
        )


@dataclass(slots=True)
class _StreamSummary:
    status: StreamStatus
    closed: bool
    records: int
    duplicates: int
    first_number: int
    last_number: int
    tmin: int | None
    tmax: int | None
    authenticated: int


def _ranges(numbers: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs of sorted numbers as (first, last)."""
    if not numbers:
        return
    start = prev = numbers[0]
    for number in numbers[1:]:
        if number != prev + 1:
            yield start, prev
            start = number
        prev = number
    yield start, prev


def _span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first}-{last} ({last - first + 1})"


def _check_stream(
    sid: str,
    part: StreamPart,
    options: Options,
    pubkeys: dict[str, Ed25519PublicKey],
    at: Callable[[int], str],
    out: list[RawFinding],
) -> _StreamSummary:
    entries = part.entries
    numbers = sorted(entries)

    def add(
        kind: str,
        severity: str,
        message: str,
        entry: Entry | None,
        number: int | None = None,
        src: int | None = None,
    ) -> None:
        if entry is not None:
            out.append((kind, severity, message, sid, entry[0], entry[E_RID], entry[E_SRC]))
        else:
            out.append((kind, severity, message, sid, number, None, src))

    # conflicting duplicates: same number, different canonical bytes
    for number in sorted(part.variants):
        kept = entries[number]
        for variant in part.variants[number]:
            if variant is not kept:
                add(
                    "conflicting_duplicate",
                    _ERROR,
                    f"sequence number {number} appears with different contents: record "
                    f"{variant[E_RID]!r} here hashes to {variant[E_HASH][:16]}…, record "
                    f"{kept[E_RID]!r} at {at(kept[E_SRC])} to {kept[E_HASH][:16]}…",
                    variant,
                )
    # ... and the same record id at different numbers
    rids = [entries[x][E_RID] for x in numbers]
    if len(set(rids)) != len(rids):
        first_at: dict[str | None, int] = {}
        for number, rid in zip(numbers, rids, strict=True):
            if rid is None:
                continue
            other = first_at.setdefault(rid, number)
            if other != number:
                add(
                    "conflicting_duplicate",
                    _ERROR,
                    f"record id {rid!r} is used by sequence numbers {other} (at "
                    f"{at(entries[other][E_SRC])}) and {number}, with different contents",
                    entries[number],
                )

    # the end record, and anything after it
    ends = sorted(x for x in set(part.ends) if entries[x][E_FLAGS] & F_END)
    end = ends[0] if ends else None
    live = numbers
    if end is not None:
        cut = bisect.bisect_right(numbers, end)
        live = numbers[:cut]
        for number in numbers[cut:]:
            add(
                "record_after_end",
                _ERROR,
                f"record {number} comes after the stream's end record {end} "
                f"(at {at(entries[end][E_SRC])})",
                entries[number],
            )

    # missing ranges (a purge receipt accounts for a purged prefix 1..k)
    first, last = live[0], live[-1]
    receipt = (options.purged or {}).get(sid)
    purged_to = receipt[0] if receipt is not None else 0
    if first > purged_to + 1:
        add(
            "missing_records",
            _ERROR,
            f"{_span(purged_to + 1, first - 1)} missing at the start of the stream (the first "
            f"record present is {first}"
            f"{f'; a purge receipt accounts for 1..{purged_to}' if purged_to else ''})",
            None,
            purged_to + 1,
            entries[first][E_SRC],
        )
    if receipt is not None and purged_to in entries and entries[purged_to][E_HASH] != receipt[1]:
        add(
            "chain_break",
            _ERROR,
            f"the purge receipt says record {purged_to} hashes to {_short(receipt[1])}, but "
            f"record {purged_to} (at {at(entries[purged_to][E_SRC])}) hashes to "
            f"{entries[purged_to][E_HASH]}",
            entries[purged_to],
        )
    if last - first + 1 != len(live):
        for low, high in itertools.pairwise(live):
            if high != low + 1:
                add(
                    "missing_records",
                    _ERROR,
                    f"{_span(low + 1, high - 1)} missing between record {low} and record {high}",
                    None,
                    low + 1,
                    entries[high][E_SRC],
                )

    # chain links
    unlinked: set[int] = set()
    for number in live:
        entry = entries[number]
        link = entry[E_LINK]
        if link is LINKED:
            continue
        if number == 1:
            if link is not None:
                add(
                    "chain_break",
                    _ERROR,
                    "record 1 names a predecessor (audit.sequence.previous_hash / "
                    "previous_record_id), but a stream starts at 1",
                    entry,
                )
            continue
        if link is None:
            unlinked.add(number)
            add(
                "chain_break",
                _ERROR,
                f"record {number} carries no audit.sequence.previous_hash / previous_record_id",
                entry,
            )
            continue
        before = entries.get(number - 1)
        if before is None and receipt is not None and number - 1 == purged_to:
            if link != (receipt[1], receipt[2]):
                unlinked.add(number)
                add(
                    "chain_break",
                    _ERROR,
                    f"record {number} names predecessor {_short(link[0])} (id "
                    f"{_short(link[1])}), but the purge receipt says record {purged_to} was "
                    f"{receipt[1]} (id {receipt[2]!r})",
                    entry,
                )
            continue
        if before is None:
            unlinked.add(number)  # the gap is reported above
            continue
        previous_hash, previous_id = link
        if previous_hash != before[E_HASH]:
            unlinked.add(number)
            add(
                "chain_break",
                _ERROR,
                f"audit.sequence.previous_hash is {_short(previous_hash)} but record {number - 1} "
                f"(at {at(before[E_SRC])}) hashes to {before[E_HASH]}",
                entry,
            )
        elif previous_id != before[E_RID]:
            unlinked.add(number)
            add(
                "chain_break",
                _ERROR,
                f"audit.sequence.previous_record_id is {_short(previous_id)} but record "
                f"{number - 1} (at {at(before[E_SRC])}) has id {before[E_RID]!r}",
                entry,
            )

    # checkpoints
    covered_by_valid: set[int] = set()
    signed_checkpoints: set[int] = set()
    unsigned_but_mac_ok = 0
    checking = bool(options.public_keys)
    for number in sorted(set(part.cps)):
        found = entries.get(number)
        if found is None or not found[E_FLAGS] & F_CHECKPOINT or found[E_CP] is None:
            continue
        entry = found
        covered, covered_hash, signature, key_id = found[E_CP]
        closed = bool(entry[E_FLAGS] & F_END)
        if not 1 <= covered < number:
            add(
                "bad_checkpoint",
                _ERROR,
                f"checkpoint {number} claims to cover record {covered}, which is not an earlier "
                "record of the stream",
                entry,
            )
            continue
        target = entries.get(covered)
        hash_ok = target is not None and target[E_HASH] == covered_hash
        if target is not None and not hash_ok:
            add(
                "bad_checkpoint",
                _ERROR,
                f"checkpoint {number} says record {covered} hashes to {_short(covered_hash)}, but "
                f"record {covered} (at {at(target[E_SRC])}) hashes to {target[E_HASH]}",
                entry,
            )
        if not checking:
            continue
        if signature is None:
            if entry[E_FLAGS] & F_MAC_OK:
                unsigned_but_mac_ok += 1
            else:
                add(
                    "bad_checkpoint",
                    _ERROR,
                    f"{'end record' if closed else 'checkpoint'} {number} carries no "
                    "audit.checkpoint.signature",
                    entry,
                )
            continue
        if key_id is None:
            add(
                "bad_checkpoint",
                _ERROR,
                f"{'end record' if closed else 'checkpoint'} {number} is signed but carries no "
                "audit.checkpoint.key_id",
                entry,
            )
            continue
        key = pubkeys.get(key_id)
        if key is None:
            add(
                "unknown_key_id",
                _ERROR,
                f"checkpoint key id {_short(key_id)} is not among the given public keys "
                f"({', '.join(sorted(pubkeys))})",
                entry,
            )
            continue
        if not verify_checkpoint(key, signature, sid, covered, covered_hash, closed=closed):
            add(
                "bad_checkpoint",
                _ERROR,
                f"{'end record' if closed else 'checkpoint'} {number}: the signature does not "
                f"verify (key id {key_id!r}, covering record {covered}"
                f"{', closed' if closed else ''})",
                entry,
            )
            continue
        signed_checkpoints.add(number)
        if hash_ok:
            covered_by_valid.add(covered)
    if unsigned_but_mac_ok:
        add(
            "bad_checkpoint",
            _WARNING,
            f"{unsigned_but_mac_ok} checkpoint(s) of this stream are not signed (the producer had "
            "no checkpoint key): they prove nothing without the HMAC key",
            None,
        )
    if end is not None and not entries[end][E_FLAGS] & F_CHECKPOINT:
        add(
            "bad_checkpoint",
            _ERROR,
            f"end record {end} is not a checkpoint record ({'audit.checkpoint'!r})",
            entries[end],
        )

    # closure and the open tail
    tail = entries[last]
    if end is not None:
        status = StreamStatus.CLOSED
    elif tail[E_FLAGS] & F_CHECKPOINT:
        status = StreamStatus.OPEN
        if options.require_closed:
            add(
                "open_tail",
                _ERROR,
                f"the stream has no end record (it stops at checkpoint record {last})",
                tail,
            )
    else:
        status = StreamStatus.OPEN_TAIL
        earlier = [x for x in part.cps if x < last]
        covered_note = (
            f"the last checkpoint is record {max(earlier)}" if earlier else "it has no checkpoint"
        )
        add(
            "open_tail",
            _ERROR if options.require_closed else _WARNING,
            f"the stream ends at record {last}, which is neither an end record nor a checkpoint "
            f"({covered_note}): records after the last checkpoint could have been cut off",
            tail,
        )

    # authentication
    if options.keys is not None:
        authenticated = sum(1 for x in live if entries[x][E_FLAGS] & F_MAC_OK)
    else:
        unauthenticated: list[int] = []
        proven = False
        for number in reversed(live):
            if number in covered_by_valid:
                proven = True
            if not proven and number not in signed_checkpoints:
                unauthenticated.append(number)
            if number in unlinked or number - 1 not in entries:
                proven = False
        unauthenticated.reverse()
        authenticated = len(live) - len(unauthenticated)
        why = (
            "no HMAC key was given and no valid checkpoint signature covers them"
            if checking
            else "neither an HMAC key nor a checkpoint public key was given"
        )
        for low, high in _ranges(unauthenticated):
            add(
                "unauthenticated",
                _ERROR if options.require_authenticated else _WARNING,
                f"{_span(low, high)} could not be authenticated: {why}",
                entries[low],
            )

    return _StreamSummary(
        status=status,
        closed=end is not None,
        records=len(entries) + sum(len(v) - 1 for v in part.variants.values()),
        duplicates=part.dups,
        first_number=first,
        last_number=numbers[-1],
        tmin=part.tmin,
        tmax=part.tmax,
        authenticated=authenticated,
    )


def _short(value: object, limit: int = 72) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
