"""The evidence report page: one self-contained HTML file (inline CSS and SVG, no script).

Audit data is attacker-influenced (actor ids, event names, targets, file
names): every value goes through `_e` (HTML escaping, quotes included), and a
Content-Security-Policy forbids scripts and every external load, so a value
that slipped through escaping still could not run or fetch anything.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from audit_sdk._report._charts import OUTCOMES, outcome_rows, timeline
from audit_sdk._report._collect import MAX_ROWS, StreamStats, TrailStats
from audit_sdk.verify import Finding, Severity, StreamResult, StreamStatus, VerifyResult

__all__ = ["render_page"]

MAX_FINDING_ROWS = 1000
TOP_ROWS = 20

_STATUS_TEXT = {
    StreamStatus.CLOSED: "closed",
    StreamStatus.OPEN: "open, checkpointed",
    StreamStatus.OPEN_TAIL: "open tail",
    StreamStatus.INVALID: "INVALID",
}
_STATUS_CLASS = {
    StreamStatus.CLOSED: "good",
    StreamStatus.OPEN: "info",
    StreamStatus.OPEN_TAIL: "warn",
    StreamStatus.INVALID: "bad",
}

_CSS = """
:root { --good:#2e7d32; --bad:#c62828; --warn:#b26a00; --info:#1565c0; --muted:#666;
  --line:#d9dde3; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1d2330; margin: 0; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 34px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: var(--muted); }
.verdict { margin: 18px 0; padding: 14px 18px; border-radius: 6px; font-size: 18px;
  font-weight: 700; color: #fff; }
.verdict small { display: block; font-size: 13px; font-weight: 400; margin-top: 4px; }
.verdict.good { background: var(--good); } .verdict.bad { background: var(--bad); }
.verdict.warn { background: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; }
.card .n { font-size: 22px; font-weight: 700; } .card .k { color: var(--muted); font-size: 12px; }
.card.bad .n { color: var(--bad); } .card.warn .n { color: var(--warn); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.id, code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px;
  word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; white-space: nowrap; }
.badge.good { background: var(--good); } .badge.bad { background: var(--bad); }
.badge.warn { background: var(--warn); } .badge.info { background: var(--info); }
.badge.muted { background: #8d8d8d; }
.bar { background: #e6e8ec; border-radius: 3px; height: 10px; width: 120px; display: inline-block;
  vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--good); }
.nowrap { white-space: nowrap; }
.chart { max-width: 100%; height: auto; display: block; margin: 6px 0 4px; }
.chart .grid { stroke: #e3e6ea; stroke-width: 1; }
.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #333; }
.chart text.label { font-size: 12px; }
nav a { margin-right: 12px; color: var(--info); text-decoration: none; font-size: 13px; }
details { margin: 6px 0; } summary { cursor: pointer; color: var(--info); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { nav { display: none; } main { padding: 0; } h2 { break-after: avoid; }
  table, svg { break-inside: avoid; } }
"""

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _time(ns: int | None, *, zone: bool = True) -> str:
    if not ns:
        return "–"
    text = datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return text + " UTC" if zone else text


def _common_dir(files: Sequence[str]) -> str:
    """The directory all input files share, to show shorter paths in tables."""
    if not files:
        return ""
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
    except ValueError:
        return ""


def _relative(path: str, base: str) -> str:
    full = os.path.abspath(path)
    return os.path.relpath(full, base) if base and full.startswith(base + os.sep) else path


def _short(stream_id: str) -> str:
    return stream_id[:8] if len(stream_id) > 12 else stream_id


def _badge(text: str, cls: str) -> str:
    return f'<span class="badge {cls}">{_e(text)}</span>'


def _table(headers: Sequence[str], rows: Iterable[str], *, numeric: Iterable[int] = ()) -> str:
    nums = set(numeric)
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if i in nums else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(label: str, value: object, cls: str = "", test_id: str = "") -> str:
    data = f' data-summary="{_e(test_id)}"' if test_id else ""
    return (
        f'<div class="card {cls}"{data}><div class="n">{_e(value)}</div>'
        f'<div class="k">{_e(label)}</div></div>'
    )


def _verdict(result: VerifyResult) -> tuple[str, str, str]:
    errors, warnings = len(result.errors), len(result.warnings)
    checked = []
    if result.hmac_checked:
        checked.append("every HMAC checked with the key ring")
    if result.checkpoints_checked:
        checked.append("checkpoint signatures checked with the public key(s)")
    how = "; ".join(checked) if checked else "no key was given: integrity was not checked"
    if errors:
        return (
            "bad",
            f"FAILED: {errors} error{'s' * (errors != 1)}, {warnings} warning"
            f"{'s' * (warnings != 1)}",
            f"The trail was altered, is incomplete or cannot be proven; see Gaps and findings. "
            f"{how[0].upper()}{how[1:]}.",
        )
    if not checked:
        return "warn", "NOT AUTHENTICATED", f"{how[0].upper()}{how[1:]}."
    if warnings:
        return (
            "warn",
            f"VERIFIED WITH {warnings} WARNING{'S' * (warnings != 1)}",
            f"No errors; {how}.",
        )
    return "good", "VERIFIED", f"No errors and no warnings; {how}."


def _outcome_cells(counter: Counter[str]) -> str:
    extra = sum(v for k, v in counter.items() if k not in OUTCOMES)
    cells = "".join(f'<td class="num">{counter.get(o, 0)}</td>' for o in OUTCOMES)
    return cells + f'<td class="num">{extra}</td><td class="num">{sum(counter.values())}</td>'


def _top(table: dict[str, Counter[str]], limit: int) -> list[tuple[str, Counter[str]]]:
    return sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]


def _finding_row(finding: Finding, base: str) -> str:
    where = ""
    if finding.file:
        where = _relative(finding.file, base) + (f":{finding.line}" if finding.line else "")
    cls = "bad" if finding.severity is Severity.ERROR else "warn"
    return (
        f'<tr data-kind="{_e(finding.kind.value)}">'
        f"<td>{_badge(finding.severity.value, cls)}</td>"
        f'<td><code class="nowrap">{_e(finding.kind.value)}</code></td>'
        f'<td class="id nowrap" title="{_e(finding.stream_id or "")}">'
        f"{_e(_short(finding.stream_id or '–'))}</td>"
        f'<td class="num">{_e(finding.sequence_number if finding.sequence_number else "–")}</td>'
        f'<td class="id{" nowrap" * (len(where) <= 40)}" title="{_e(finding.file or "")}">'
        f"{_e(where or '–')}</td>"
        f"<td>{_e(finding.message)}</td></tr>"
    )


def _stream_row(stream: StreamResult, stats: StreamStats | None) -> str:
    status = stream.status
    return (
        f'<tr data-stream="{_e(stream.stream_id)}">'
        f'<td class="id">{_e(stream.stream_id)}</td>'
        f"<td>{_e(stats.service if stats else '') or '–'}</td>"
        f'<td data-status="{_e(status.value)}">'
        f"{_badge(_STATUS_TEXT.get(status, status.value), _STATUS_CLASS.get(status, 'muted'))}</td>"
        f'<td class="num">{stream.records}</td>'
        f'<td class="num">{stats.events if stats else 0}</td>'
        f'<td class="num">{stream.first_number}–{stream.last_number}</td>'
        f'<td class="nowrap">{_e(_time(stream.first_time_unix_nano, zone=False))}<br>'
        f"{_e(_time(stream.last_time_unix_nano, zone=False))}</td>"
        f'<td class="num">{stream.authenticated} of {stream.records}</td>'
        f'<td class="num">{len(stream.errors)}</td>'
        f'<td class="num">{len(stream.warnings)}</td></tr>'
    )


def _coverage_row(stats: StreamStats, stream: StreamResult | None) -> str:
    last = max(stats.last_number, stream.last_number if stream else 0)
    covered = min(stats.covered_to, last)
    share = covered / last if last else 0.0
    hmac_ids = ", ".join(f"{k} ({v})" for k, v in sorted(stats.hmac_key_ids.items()))
    cp_ids = ", ".join(f"{k} ({v})" for k, v in sorted(stats.checkpoint_key_ids.items()))
    tail = last - covered
    return (
        f'<tr data-stream="{_e(stats.stream_id)}">'
        f'<td class="id nowrap" title="{_e(stats.stream_id)}">{_e(_short(stats.stream_id))}</td>'
        f'<td class="id">{_e(hmac_ids or "–")}</td>'
        f'<td class="id">{_e(cp_ids or "none (unsigned)")}</td>'
        f'<td class="num">{stats.signed_checkpoints} of {stats.checkpoints}</td>'
        f'<td><span class="bar"><span style="width:{share * 100:.0f}%"></span></span>'
        f"{covered} of {last} ({share:.0%})</td>"
        f'<td class="num">{tail}</td>'
        f"<td>{_badge('yes', 'good') if stats.ended else _badge('no', 'warn')}</td></tr>"
    )


def render_page(
    *,
    title: str,
    result: VerifyResult,
    stats: TrailStats,
    hmac_key_ids: Sequence[str],
    checkpoint_key_ids: Sequence[str],
    generated_at: datetime,
    version: str,
) -> str:
    verdict_cls, verdict, verdict_note = _verdict(result)
    streams = {s.stream_id: s for s in result.streams}
    times = [t for t, _ in stats.times if t]
    period = f"{_time(min(times))} to {_time(max(times))}" if times else "–"
    errors, warnings = len(result.errors), len(result.warnings)
    base = _common_dir(list(result.files or stats.files))

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{_e(title)}</h1>",
        f'<div class="muted">Generated {_e(_time(int(generated_at.timestamp() * 1e9)))} '
        f"by audit-sdk {_e(version)} from {len(stats.files)} file(s). "
        f"Events from {_e(period)}.</div></header>",
        '<nav><a href="#summary">Summary</a><a href="#streams">Streams</a>'
        '<a href="#timeline">Over time</a><a href="#actions">By action</a>'
        '<a href="#actors">By actor</a><a href="#failures">Failures</a>'
        '<a href="#findings">Findings</a><a href="#keys">Keys &amp; checkpoints</a></nav>',
        '<section id="summary"><h2>Summary</h2>',
        f'<div class="verdict {verdict_cls}" data-verdict="{_e(verdict_cls)}">{_e(verdict)}'
        f"<small>{_e(verdict_note)}</small></div>",
        '<div class="cards">',
        _card("streams", len(result.streams), test_id="streams"),
        _card("records read", result.records, test_id="records"),
        _card("audit events", stats.events, test_id="events"),
        _card("checkpoints", stats.checkpoints, test_id="checkpoints"),
        _card(
            "failed actions",
            stats.failure_count,
            "bad" if stats.failure_count else "",
            test_id="failures",
        ),
        _card(
            "denied actions",
            stats.denied_count,
            "bad" if stats.denied_count else "",
            test_id="denied",
        ),
        _card("errors", errors, "bad" if errors else "", test_id="errors"),
        _card("warnings", warnings, "warn" if warnings else "", test_id="warnings"),
        "</div>",
        "<details><summary>Input files</summary><ul>",
        *(f'<li class="id"><code>{_e(f)}</code></li>' for f in result.files or stats.files),
        "</ul></details></section>",
    ]

    parts.append('<section id="streams"><h2>Verification status per stream</h2>')
    parts.append(
        '<p class="muted">closed: ends with a signed end record; open, checkpointed: the last '
        "record is a checkpoint; open tail: records after the last checkpoint (a live stream "
        "or a crash); INVALID: at least one error.</p>"
    )
    parts.append(
        _table(
            [
                "stream",
                "service",
                "status",
                "records",
                "events",
                "numbers",
                "first / last (UTC)",
                "authenticated",
                "errors",
                "warnings",
            ],
            (_stream_row(s, stats.streams.get(s.stream_id)) for s in result.streams),
            numeric=(3, 4, 5, 7, 8, 9),
        )
    )
    parts.append("</section>")

    parts.append('<section id="timeline"><h2>Events over time</h2>')
    parts.append(timeline(stats.times))
    parts.append("</section>")

    parts.append('<section id="actions"><h2>Outcomes by action</h2>')
    actions = _top(stats.by_action, 1000)
    parts.append(outcome_rows(actions[:TOP_ROWS], title="Outcomes by action"))
    parts.append(
        _table(
            ["action", *OUTCOMES, "other", "total"],
            (f"<tr><td><code>{_e(a)}</code></td>{_outcome_cells(c)}</tr>" for a, c in actions),
            numeric=(1, 2, 3, 4, 5),
        )
    )
    parts.append("</section>")

    parts.append('<section id="actors"><h2>Outcomes by actor</h2>')
    actors = _top(stats.by_actor, 1000)
    if len(stats.by_actor) > len(actors):
        parts.append(
            f'<p class="muted">The {len(actors)} most active of {len(stats.by_actor)} actors.</p>'
        )
    parts.append(outcome_rows(actors[:TOP_ROWS], title="Outcomes by actor"))
    parts.append(
        _table(
            ["actor", *OUTCOMES, "other", "total"],
            (f'<tr><td class="id">{_e(a)}</td>{_outcome_cells(c)}</tr>' for a, c in actors),
            numeric=(1, 2, 3, 4, 5),
        )
    )
    parts.append("</section>")

    parts.append('<section id="failures"><h2>Failures and denied actions</h2>')
    if not stats.failures:
        parts.append('<p class="muted">No action failed.</p>')
    else:
        shown = len(stats.failures)
        total = stats.failure_count
        more = f" (the first {shown} are listed)" if shown == MAX_ROWS else ""
        parts.append(
            f'<p class="muted">{total} failed action(s), {stats.denied_count} of them denied '
            f"(error type or event name says denied, forbidden, unauthorized or permission)"
            f"{more}; outcomes other than success are listed.</p>"
        )
        parts.append(
            _table(
                ["time (UTC)", "event", "action", "actor", "target", "error", "request", "where"],
                (
                    "<tr>"
                    f'<td class="nowrap">{_e(_time(row.time, zone=False))}</td>'
                    f"<td><code>{_e(row.event_name)}</code>"
                    f"{' ' + _badge('denied', 'bad') if row.denied else ''}</td>"
                    f"<td><code>{_e(row.action)}</code></td>"
                    f'<td class="id">{_e(row.actor)}</td>'
                    f'<td class="id">{_e(row.target or "–")}</td>'
                    f'<td class="id">{_e(row.error_type or "–")}</td>'
                    f'<td class="id">{_e(row.request_id or "–")}</td>'
                    f'<td class="id nowrap" title="{_e(row.stream_id)}">'
                    f"{_e(_short(row.stream_id))} #{row.number}</td></tr>"
                    for row in sorted(stats.failures, key=lambda r: (r.time, r.stream_id))
                ),
            )
        )
    parts.append("</section>")

    parts.append('<section id="findings"><h2>Gaps and findings</h2>')
    if not result.findings:
        parts.append(
            '<p data-findings="none">The verifier found nothing wrong: no gap, no changed, '
            "removed or reordered record.</p>"
        )
    else:
        kinds = Counter((f.severity.value, f.kind.value) for f in result.findings)
        parts.append(
            "<p>"
            + ", ".join(
                f"{_badge(sev, 'bad' if sev == 'error' else 'warn')} <code>{_e(kind)}</code>"
                f" × {count}"
                for (sev, kind), count in sorted(kinds.items())
            )
            + "</p>"
        )
        listed = result.findings[:MAX_FINDING_ROWS]
        if len(result.findings) > len(listed):
            parts.append(
                f'<p class="muted">The first {len(listed)} of {len(result.findings)} findings.</p>'
            )
        parts.append(
            _table(
                ["severity", "kind", "stream", "number", "file:line", "what"],
                (_finding_row(f, base) for f in listed),
                numeric=(3,),
            )
        )
    parts.append("</section>")

    parts.append('<section id="keys"><h2>Key ids and checkpoint coverage</h2>')
    parts.append(
        "<p>Given to the verifier: HMAC key ids "
        + (", ".join(f"<code>{_e(k)}</code>" for k in hmac_key_ids) or "<em>none</em>")
        + "; checkpoint public key ids "
        + (", ".join(f"<code>{_e(k)}</code>" for k in checkpoint_key_ids) or "<em>none</em>")
        + ".</p>"
    )
    parts.append(
        '<p class="muted">Records up to the last checkpoint are covered by its Ed25519 signature '
        "(checkable with the public key alone); records after it are the open tail.</p>"
    )
    parts.append(
        _table(
            [
                "stream",
                "HMAC key ids (records)",
                "checkpoint key ids",
                "signed checkpoints",
                "covered by checkpoints",
                "open tail",
                "closed",
            ],
            (
                _coverage_row(s, streams.get(s.stream_id))
                for s in sorted(stats.streams.values(), key=lambda s: s.stream_id)
            ),
            numeric=(5,),
        )
    )
    parts.append("</section>")
    parts.append(
        "<footer>Reproduce the verdict with <code>audit-sdk verify PATH… --keys-file KEYS "
        "--public-key PUB.pem</code>. Counts are taken from the trail as read; only the verifier's "
        "result proves anything about it.</footer></main></body></html>"
    )
    return "\n".join(parts)
