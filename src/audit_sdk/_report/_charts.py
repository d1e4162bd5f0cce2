"""Inline SVG charts, made in Python: no script, no external resource.

Every piece of text that comes from the trail is escaped here; each chart has
a <title> and its numbers also appear in a table next to it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

__all__ = ["OUTCOMES", "OUTCOME_COLORS", "outcome_rows", "timeline"]

OUTCOMES = ("success", "failure", "unknown")
OUTCOME_COLORS = {"success": "#2e7d32", "failure": "#c62828", "unknown": "#8d8d8d"}
_OTHER_COLOR = "#6a1b9a"  # an outcome outside the contract
_STEPS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 604800, 2592000)
_MAX_BARS = 60


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _color(outcome: str) -> str:
    return OUTCOME_COLORS.get(outcome, _OTHER_COLOR)


def _order(counter: Counter[str]) -> list[str]:
    return [o for o in OUTCOMES if counter.get(o)] + sorted(o for o in counter if o not in OUTCOMES)


def _nice_max(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    magnitude = 10 ** int(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude:
            return int(factor * magnitude)
    return value


def _label(seconds: int, step: int) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    if step < 60:
        return moment.strftime("%H:%M:%S")
    if step < 86400:
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d")


def _span_text(start: int, step: int) -> str:
    fmt = "%Y-%m-%d %H:%M:%S"
    begin = datetime.fromtimestamp(start, UTC).strftime(fmt)
    end = datetime.fromtimestamp(start + step, UTC).strftime(fmt)
    return f"{begin} to {end} UTC"


def _legend(outcomes: Sequence[str], x: int, y: int) -> str:
    parts = []
    for outcome in outcomes:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{_color(outcome)}"/>'
            f'<text x="{x + 14}" y="{y}" class="legend">{_e(outcome)}</text>'
        )
        x += 24 + 7 * len(outcome)
    return "".join(parts)


def timeline(times: Sequence[tuple[int, str]], *, width: int = 1060, height: int = 260) -> str:
    """Events over time: one bar per time bucket, stacked by outcome."""
    stamps = [(t // 1_000_000_000, o) for t, o in times if t > 0]
    if not stamps:
        return '<p class="muted">No timestamped events.</p>'
    first = min(s for s, _ in stamps)
    last = max(s for s, _ in stamps)
    step = next((s for s in _STEPS if (last - first) // s + 1 <= _MAX_BARS), _STEPS[-1])
    while (last - first) // step + 1 > _MAX_BARS:
        step *= 2
    start = first - first % step
    count = (last - start) // step + 1
    buckets: list[Counter[str]] = [Counter() for _ in range(count)]
    for seconds, outcome in stamps:
        buckets[(seconds - start) // step][outcome] += 1
    top = _nice_max(max(sum(b.values()) for b in buckets))
    left, right, upper, lower = 48, 12, 24, 42
    plot_w, plot_h = width - left - right, height - upper - lower
    slot = plot_w / count
    bar_w = max(1.0, slot * 0.8)
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Events over time, {_e(_span_text(start, step * count))}, "
        f"one bar per {step} s</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = upper + plot_h * (1 - fraction)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_e(round(top * fraction))}</text>"
        )
    for index, bucket in enumerate(buckets):
        total = sum(bucket.values())
        if not total:
            continue
        x = left + index * slot + (slot - bar_w) / 2
        y = upper + plot_h
        tip = (
            _span_text(start + index * step, step)
            + ": "
            + ", ".join(f"{bucket[o]} {o}" for o in _order(bucket))
        )
        out.append(f"<g><title>{_e(tip)}</title>")
        for outcome in _order(bucket):
            h = plot_h * bucket[outcome] / top
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_color(outcome)}"/>'
            )
        out.append("</g>")
    ticks = sorted({0, count // 2, count - 1}) if count > 2 else list(range(count))
    for index in ticks:
        x = left + index * slot + slot / 2
        out.append(
            f'<text x="{x:.1f}" y="{upper + plot_h + 16}" class="axis" text-anchor="middle">'
            f"{_e(_label(start + index * step, step))}</text>"
        )
    all_outcomes: Counter[str] = Counter(o for _, o in stamps)
    out.append(_legend(_order(all_outcomes), left, height - 6))
    out.append("</svg>")
    return "".join(out)


def outcome_rows(rows: Sequence[tuple[str, Counter[str]]], *, title: str, width: int = 1060) -> str:
    """One horizontal bar per row (an action, an actor), stacked by outcome."""
    if not rows:
        return '<p class="muted">None.</p>'
    label_w, count_w, row_h = 230, 70, 22
    height = row_h * len(rows) + 34
    bar_area = width - label_w - count_w
    top = max(sum(c.values()) for _, c in rows) or 1
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
    ]
    outcomes: Counter[str] = Counter()
    for index, (label, counter) in enumerate(rows):
        outcomes.update(counter)
        y = 6 + index * row_h
        total = sum(counter.values())
        shown = label if len(label) <= 32 else label[:31] + "…"
        tip = f"{label}: " + ", ".join(f"{counter[o]} {o}" for o in _order(counter))
        out.append(
            f"<g><title>{_e(tip)}</title>"
            f'<text x="{label_w - 8}" y="{y + 14}" class="label" text-anchor="end">'
            f"{_e(shown)}</text>"
        )
        x = float(label_w)
        for outcome in _order(counter):
            w = bar_area * counter[outcome] / top
            out.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{_color(outcome)}"/>'
            )
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 14}" class="axis">{_e(total)}</text></g>')
    out.append(_legend(_order(outcomes), label_w, height - 6))
    out.append("</svg>")
    return "".join(out)
