"""`audit-sdk report`: a self-contained HTML evidence report, checked in a real browser.

The trail is made by the SDK itself: three streams (one closed, one with a
tampered record, one with an open tail), failures and denied actions, and an
actor id carrying markup. The browser test loads the page in headless
Chromium (Debian's `chromium`), reads the DOM it built and takes a screenshot.
It is skipped when Chromium is missing, unless AUDIT_SDK_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

import audit_sdk
from audit_sdk.cli import main as cli_main
from audit_sdk.report import render_report

HOSTILE_ACTOR = "<script>document.title='pwned'</script>"
HOSTILE_TARGET = '"><img src=x onerror="document.title=\'pwned\'">'


@dataclass
class Trail:
    directory: Path
    keys_file: Path
    public_key: Path
    closed: str  # stream ids
    tampered: str
    open_tail: str


def _emit_stream(
    path: Path,
    service: str,
    key_files: dict[str, Path],
    events: list[dict[str, Any]],
) -> audit_sdk.AuditLogger:
    logger = audit_sdk.configure(
        service_name=service,
        keys=audit_sdk.HmacKeyRing.from_file(key_files["hmac"]),
        checkpoint_key=key_files["checkpoint_private"],
        processor=SimpleLogRecordProcessor(audit_sdk.OtlpJsonFileExporter(path)),
        checkpoint_every=5,
        checkpoint_interval=None,
        set_default=False,
    )
    now = time.time_ns()
    for index, event in enumerate(events):
        minutes_ago = 120 - index * 120 // max(len(events), 1)
        logger.emit(timestamp=now - minutes_ago * 60 * 1_000_000_000, **event)
    return logger


def make_trail(root: Path) -> Trail:
    key_files = audit_sdk.write_key_files(root / "keys")
    trail = root / "trail"
    trail.mkdir()
    denied = {"attributes": {"error.type": "app.PermissionDenied"}, "outcome": "failure"}

    billing = [
        {"event_name": "invoice.read", "action": "READ", "actor": "alice", "target": "inv-1"},
        {"event_name": "invoice.export", "action": "EXPORT", "actor": "alice", "target": "inv-2"},
        {"event_name": "invoice.delete", "action": "DELETE", "actor": "bob", **denied},
        {"event_name": "invoice.read", "action": "READ", "actor": "carol", "target": "inv-3"},
        {"event_name": "invoice.delete", "action": "DELETE", "actor": "carol", "target": "inv-3"},
        {"event_name": "invoice.read", "action": "READ", "actor": "bob", "target": "inv-1"},
    ]
    closed = _emit_stream(trail / "billing.jsonl", "billing", key_files, billing)
    closed.close()

    reports = [
        {"event_name": "report.read", "action": "READ", "actor": HOSTILE_ACTOR,
         "target": HOSTILE_TARGET},
        {"event_name": "report.export", "action": "EXPORT", "actor": "dave", "target": "r-1"},
        {"event_name": "report.export", "action": "EXPORT", "actor": "dave", "target": "r-2",
         "outcome": "failure", "attributes": {"error.type": "TimeoutError"}},
        {"event_name": "report.read", "action": "READ", "actor": "erin", "target": "r-1"},
    ]  # fmt: skip
    tampered = _emit_stream(trail / "reports.jsonl", "reports", key_files, reports)
    tampered.close()
    # An insider rewrites who exported r-1 (record 2): its MAC and the chain no longer match.
    lines = (trail / "reports.jsonl").read_text().splitlines()
    assert '"dave"' in lines[1]
    lines[1] = lines[1].replace('"dave"', '"mallory"')
    (trail / "reports.jsonl").write_text("\n".join(lines) + "\n")

    exports = [
        {"event_name": "export.run", "action": "EXECUTE", "actor": "svc-export",
         "actor_type": "service", "target": f"batch-{i}"}
        for i in range(7)
    ] + [{"event_name": "export.run", "action": "EXECUTE", "actor": "svc-export",
          "actor_type": "service", "target": "batch-7", **denied}]  # fmt: skip
    open_tail = _emit_stream(trail / "exports.jsonl", "exports", key_files, exports)
    open_tail.close()
    # A crash: the end record never made it, nor did anything after record 6's checkpoint + 2.
    lines = (trail / "exports.jsonl").read_text().splitlines()
    (trail / "exports.jsonl").write_text("\n".join(lines[:-1]) + "\n")

    return Trail(
        directory=trail,
        keys_file=key_files["hmac"],
        public_key=key_files["checkpoint_public"],
        closed=closed.stream_id,
        tampered=tampered.stream_id,
        open_tail=open_tail.stream_id,
    )


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return make_trail(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report_file(trail: Trail, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report.html"
    code = cli_main(
        [
            "report",
            str(trail.directory),
            "-o",
            str(out),
            "--keys-file",
            str(trail.keys_file),
            "--public-key",
            str(trail.public_key),
            "--no-env-keys",
        ]
    )
    assert code == 1  # the tampered stream is an error; the report is written anyway
    return out


class _Page(HTMLParser):
    """What a reader of the page sees: text, per-stream statuses, summary cards, findings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.statuses: dict[str, str] = {}
        self.cards: dict[str, str] = {}
        self.kinds: list[str] = []
        self.title = ""
        self.verdict = ""
        self._stream: str | None = None
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self._in.append(tag)
        if tag == "tr" and a.get("data-stream") and "streams" in self._section:
            self._stream = a["data-stream"]
        if tag == "td" and a.get("data-status") and self._stream:
            self.statuses[self._stream] = a["data-status"] or ""
        if tag == "div" and a.get("data-summary"):
            self._card = a["data-summary"]
        if tag == "tr" and a.get("data-kind"):
            self.kinds.append(a["data-kind"] or "")
        if tag == "div" and a.get("data-verdict"):
            self.verdict = a["data-verdict"] or ""
        if tag == "section":
            self._section = a.get("id") or ""

    _section = ""
    _card: str | None = None

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in and self._in[-1] == "title" and "body" not in self.tags:
            self.title += data  # the document's title, not an SVG chart's
        if self._card and data.strip():
            self.cards[self._card] = data.strip()
            self._card = None

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def check_page(page: _Page, trail: Trail) -> None:
    assert page.statuses == {
        trail.closed: "closed",
        trail.tampered: "invalid",
        trail.open_tail: "open_tail",
    }
    assert page.verdict == "bad"
    assert page.cards["streams"] == "3"
    assert page.cards["events"] == str(6 + 4 + 8)
    assert page.cards["failures"] == "3"
    assert page.cards["denied"] == "2"
    assert "bad_mac" in page.kinds
    assert "open_tail" in page.kinds
    text = page.all_text
    assert "FAILED" in text
    assert HOSTILE_ACTOR in text  # shown as text...
    assert "script" not in page.tags and "img" not in page.tags  # ...never as markup
    assert page.title.strip() == "Audit trail evidence report"
    for heading in (
        "Verification status per stream",
        "Events over time",
        "Outcomes by action",
        "Outcomes by actor",
        "Failures and denied actions",
        "Gaps and findings",
        "Key ids and checkpoint coverage",
    ):
        assert heading in text


def test_report_html(report_file: Path, trail: Trail) -> None:
    html = report_file.read_text(encoding="utf-8")
    check_page(parse(html), trail)
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in html
    # self-contained: nothing is loaded from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html.lower()
    assert "default-src &#x27;none&#x27;" in html  # CSP: no script, nothing external
    assert html.count("<svg") >= 3


def test_report_library_clean_trail(tmp_path: Path, trail: Trail) -> None:
    clean = tmp_path / "clean.jsonl"
    shutil.copy(trail.directory / "billing.jsonl", clean)
    public = audit_sdk.load_checkpoint_public_key(trail.public_key)
    report = render_report([clean], public_keys=[public])
    assert report.verification.ok
    page = parse(report.html)
    assert page.verdict == "good"
    assert page.statuses == {trail.closed: "closed"}
    assert "The verifier found nothing wrong" in page.all_text


def test_report_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    missing = str(tmp_path / "nope")
    code = cli_main(["report", missing, "-o", str(out), "--no-env-keys"])
    assert code == 2 and "no key" in capsys.readouterr().err
    key_files = audit_sdk.write_key_files(tmp_path / "k")
    code = cli_main(["report", missing, "-o", str(out), "--keys-file", str(key_files["hmac"])])
    assert code == 2 and "nope" in capsys.readouterr().err
    assert not out.exists()


# -- in a real browser ------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("AUDIT_SDK_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (AUDIT_SDK_REQUIRE_BROWSER=1): "
                        "run scripts/install-browser.sh")  # fmt: skip
        pytest.skip("chromium not installed (scripts/install-browser.sh)")
    return path


def _run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
    )


def test_report_in_chromium(chromium: str, report_file: Path, trail: Trail, tmp_path: Path) -> None:
    url = report_file.resolve().as_uri()
    dom = _run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = parse(dom.stdout)
    check_page(page, trail)  # the DOM the browser built, after any script could have run

    shot = report_file.parent / "report.png"
    result = _run_chromium(
        chromium, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,3400", url
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    keep = os.environ.get("AUDIT_SDK_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
        shutil.copy(report_file, Path(keep).with_suffix(".html"))


def test_findings_are_data_not_markup(trail: Trail) -> None:
    keys = audit_sdk.HmacKeyRing.from_file(trail.keys_file)
    report = render_report([trail.directory], keys=keys)
    kinds = {f.kind.value for f in report.verification.findings}
    assert "bad_mac" in kinds
    assert json.dumps(report.verification.to_dict())  # the result stays plain data


def test_report_reads_gzip_and_survives_garbage(tmp_path: Path, trail: Trail) -> None:
    import gzip

    with gzip.open(tmp_path / "billing.jsonl.gz", "wb") as handle:
        handle.write((trail.directory / "billing.jsonl").read_bytes())
    (tmp_path / "junk.jsonl").write_text(
        "not json\n"
        '{"resourceLogs": 5}\n'
        '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": "x"}]}]}]}\n'
    )
    keys = audit_sdk.HmacKeyRing.from_file(trail.keys_file)
    report = render_report([tmp_path], keys=keys)
    page = parse(report.html)
    assert page.statuses[trail.closed] == "closed"
    assert page.cards["events"] == "6"
    assert "malformed_line" in page.kinds
