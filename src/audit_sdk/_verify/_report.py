"""Rendering a VerifyResult: the readable summary, JSON, and a progress bar for terminals."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TextIO

import orjson

from audit_sdk.verify import Finding, Severity, StreamResult, StreamStatus, VerifyResult

__all__ = ["ProgressBar", "format_time", "render_json", "render_text"]

_STATUS_TEXT = {
    StreamStatus.CLOSED: "closed",
    StreamStatus.OPEN: "open (ends with a checkpoint)",
    StreamStatus.OPEN_TAIL: "open tail (the last records are not covered by a checkpoint)",
    StreamStatus.INVALID: "INVALID",
}


def format_time(ns: int | None) -> str:
    """ns since the epoch as RFC 3339 UTC with nanoseconds."""
    if ns is None:
        return "-"
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def _where(finding: Finding) -> str:
    parts = []
    if finding.sequence_number is not None:
        parts.append(f"#{finding.sequence_number}")
    if finding.record_id is not None:
        parts.append(f"id {finding.record_id}")
    if finding.file is not None:
        location = f"{finding.file}:{finding.line}"
        if finding.index is not None:
            location += f" [{finding.index}]"
        parts.append(location)
    return "  ".join(parts)


def _finding_lines(findings: Sequence[Finding], limit: int, indent: str) -> list[str]:
    lines = []
    shown = findings if limit <= 0 else findings[:limit]
    for f in shown:
        lines.append(f"{indent}{f.severity.value:<7} {f.kind.value:<21} {_where(f)}")
        lines.append(f"{indent}        {f.message}")
    if len(shown) < len(findings):
        lines.append(
            f"{indent}... and {len(findings) - len(shown)} more "
            "(--max-findings 0 shows all, --json lists all)"
        )
    return lines


def _stream_lines(stream: StreamResult, limit: int) -> list[str]:
    errors, warnings = len(stream.errors), len(stream.warnings)
    counts = []
    if errors:
        counts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        counts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    header = f"stream {stream.stream_id}: {_STATUS_TEXT[stream.status]}"
    if stream.status is StreamStatus.INVALID:
        header += " (closed)" if stream.closed else ""
    if counts:
        header += f", {', '.join(counts)}"
    dup = f", {stream.duplicates} exact duplicates ignored" if stream.duplicates else ""
    lines = [
        header,
        f"  records {stream.first_number}..{stream.last_number}: {stream.records} distinct{dup}, "
        f"{stream.authenticated} authenticated",
        f"  time    {format_time(stream.first_time_unix_nano)} .. "
        f"{format_time(stream.last_time_unix_nano)}",
    ]
    lines += _finding_lines(stream.findings, limit, "  ")
    return lines


def render_text(
    result: VerifyResult,
    *,
    max_findings: int = 20,
    hmac_key_ids: Sequence[str] = (),
    checkpoint_key_ids: Sequence[str] = (),
) -> str:
    """The readable summary: what was read, then each stream and its findings, then the verdict."""
    nfiles = len(result.files)
    dup = f" ({result.duplicates} exact duplicates ignored)" if result.duplicates else ""
    lines = [
        f"audit-sdk verify: {nfiles} file{'s' if nfiles != 1 else ''}, {result.lines} lines, "
        f"{result.records} records{dup}, {len(result.streams)} "
        f"stream{'s' if len(result.streams) != 1 else ''}",
        "  MACs:        "
        + (
            f"checked (key ids: {', '.join(hmac_key_ids)})"
            if result.hmac_checked and hmac_key_ids
            else "checked"
            if result.hmac_checked
            else "NOT checked (no HMAC key)"
        ),
        "  checkpoints: "
        + (
            f"checked (key ids: {', '.join(checkpoint_key_ids)})"
            if result.checkpoints_checked and checkpoint_key_ids
            else "checked"
            if result.checkpoints_checked
            else "signatures NOT checked (no public key)"
        ),
        "",
    ]
    outside = [
        f
        for f in result.findings
        if f.stream_id is None or all(s.stream_id != f.stream_id for s in result.streams)
    ]
    if outside:
        lines.append("outside any stream:")
        lines += _finding_lines(outside, max_findings, "  ")
        lines.append("")
    for stream in result.streams:
        lines += _stream_lines(stream, max_findings)
        lines.append("")
    errors, warnings = len(result.errors), len(result.warnings)
    tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    if result.ok:
        lines.append(f"OK: no errors{tail}.")
    else:
        lines.append(f"FAILED: {errors} error{'s' if errors != 1 else ''}{tail}.")
    return "\n".join(lines) + "\n"


def render_json(result: VerifyResult) -> str:
    return orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


class ProgressBar:
    """A one-line progress bar on a terminal, drawn for inputs of at least `min_bytes`."""

    def __init__(self, out: TextIO, *, min_bytes: int = 32 << 20, width: int = 30) -> None:
        self.out = out
        self.min_bytes = min_bytes
        self.width = width
        self.started = time.monotonic()
        self._drawn = 0.0
        self._visible = False

    def __call__(self, done: int, total: int, records: int) -> None:
        if total < self.min_bytes:
            return
        now = time.monotonic()
        if now - self._drawn < 0.2 and done < total:
            return
        self._drawn = now
        fraction = min(1.0, done / total) if total else 1.0
        filled = int(fraction * self.width)
        rate = records / max(now - self.started, 1e-9)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(
            f"\rverifying [{bar}] {fraction * 100:5.1f}%  {done / 1e6:,.0f}/{total / 1e6:,.0f} MB  "
            f"{records:,} records  {rate:,.0f}/s\x1b[K"
        )
        self.out.flush()
        self._visible = True

    def close(self) -> None:
        if self._visible:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._visible = False


def severity_counts(findings: Sequence[Finding]) -> tuple[int, int]:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    return errors, len(findings) - errors
