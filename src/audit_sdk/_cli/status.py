"""`audit-sdk status`: what a delivery spool holds, read from disk (docs/delivery.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from audit_sdk._spool._store import ProcDirStatus, SpoolStatus, read_status

_DESCRIPTION = """\
Reads a delivery spool directory (configure(delivery=..., spool_dir=...)) and
shows, per process directory and in total: records not yet acknowledged by
the receiver, bytes on disk, the age of the oldest unsent record, whether a
live process holds the directory (its lock) or it waits to be adopted, and the
owner's last counters (spooled, sent, retried, lost, refused). Safe to run
while applications write to the spool.

Exit status: 0 healthy; 1 records were lost, the spool holds corrupt lines, or
a --max-age / --max-records threshold is exceeded; 2 not a spool directory."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show a delivery spool: queue depth, oldest unsent age, sent, retried, lost",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spool_dir", type=Path, metavar="SPOOL_DIR", help="the spool directory")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument(
        "--max-age",
        type=float,
        metavar="SECONDS",
        help="exit 1 when the oldest unsent record is older than this",
    )
    parser.add_argument(
        "--max-records",
        type=int,
        metavar="N",
        help="exit 1 when more than N records wait to be sent",
    )
    parser.set_defaults(handler=run)


def _problems(status: SpoolStatus, args: argparse.Namespace) -> list[str]:
    out = []
    if status.lost:
        out.append(f"{status.lost} record(s) lost (gaps in the chain)")
    if status.corrupt_lines:
        out.append(f"{status.corrupt_lines} corrupt spool line(s)")
    age = status.oldest_unsent_age
    if args.max_age is not None and age is not None and age > args.max_age:
        out.append(f"oldest unsent record is {age:.1f}s old (> {args.max_age:g}s)")
    if args.max_records is not None and status.records > args.max_records:
        out.append(f"{status.records} records wait (> {args.max_records})")
    return out


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def _line(proc: ProcDirStatus, now: float) -> str:
    state = proc.state
    if proc.locked and proc.adopter_pid is not None:
        owner = f"adopted by pid {proc.adopter_pid}"
    elif proc.locked:
        owner = f"live, pid {state.get('pid', '?')}"
    else:
        owner = "owner gone, waiting to be adopted"
    text = (
        f"  {proc.name}  {owner}\n"
        f"    unsent {proc.records} record(s), {_size(proc.bytes)} in {proc.segments} "
        f"segment(s), oldest unsent {_age(proc.oldest_unsent_age)}"
    )
    if state:
        updated = state.get("updated_at")
        ago = f", {now - float(updated):.1f}s ago" if isinstance(updated, (int, float)) else ""
        text += (
            f"\n    {state.get('policy', '?')} (fsync {state.get('fsync', '?')}): "
            f"spooled {state.get('spooled', 0)}, sent {state.get('sent', 0)}, "
            f"retried {state.get('retried', 0)}, lost {state.get('lost', 0)}, "
            f"refused {state.get('refused', 0)}{ago}"
        )
    if proc.corrupt_lines:
        text += f"\n    {proc.corrupt_lines} corrupt line(s)"
    if proc.torn_bytes:
        text += f"\n    torn final write: {proc.torn_bytes} byte(s) (ignored)"
    return text


def run(args: argparse.Namespace) -> int:
    try:
        status = read_status(args.spool_dir)
    except OSError as exc:
        print(f"audit-sdk: error: {args.spool_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    problems = _problems(status, args)
    if args.json:
        data = status.to_dict()
        data["problems"] = problems
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        now = time.time()
        print(
            f"spool {status.spool_dir}: {status.records} unsent record(s), "
            f"{_size(status.bytes)}, oldest unsent {_age(status.oldest_unsent_age)}, "
            f"{len(status.processes)} process dir(s)"
        )
        for proc in status.processes:
            print(_line(proc, now))
        for problem in problems:
            print(f"problem: {problem}")
    return 1 if problems else 0
