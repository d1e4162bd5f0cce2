"""Delivery fault tests with real processes (issue 5).

The application is tests/spool_app.py, run as a subprocess and configured
from the environment as in production. The collector is stood in for by
OtlpReceiver (tests/otlp_receiver.py), a local OTLP/HTTP receiver that writes
what it acknowledges as OTLP-JSON lines; `audit-sdk verify` then checks that
received trail. Faults: the receiver answers 503, goes down and comes back;
the application is killed with SIGKILL mid-stream and restarted on the same
spool; the spool's disk really fills up (a small tmpfs, when this machine lets
the tests mount one); forked workers, one of them killed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_sdk._spool._store import read_status
from otlp_receiver import OtlpReceiver

APP = Path(__file__).with_name("spool_app.py")
KEY = base64.b64encode(b"k" * 32).decode()


def _env(spool: Path, receiver: OtlpReceiver, policy: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AUDIT_SDK_", "PYTEST_"))
    }
    env.update(
        AUDIT_SDK_HMAC_KEY=KEY,
        AUDIT_SDK_DELIVERY=policy,
        AUDIT_SDK_SPOOL_DIR=str(spool),
        OTEL_SERVICE_NAME="spool-app",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_LOGS_TIMEOUT="1",
    )
    env.update(extra)
    return env


def _start(env: dict[str, str], progress: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APP), "--progress", str(progress), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(app: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    out, err = app.communicate(timeout=timeout)
    assert app.returncode == 0, err[-3000:]
    lines = [line for line in out.splitlines() if line.startswith("STATS ")]
    return json.loads(lines[-1][6:]) if lines else {}


def _progress(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(" ", 2) for line in path.read_text().splitlines() if line]


def _wait_for(path: Path, kind: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for p in _progress(path) if p[0] == kind) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name}: fewer than {count} {kind!r} lines in {timeout}s")
        time.sleep(0.02)


def _ok_ids(path: Path) -> list[str]:
    return [p[2] for p in _progress(path) if p[0] == "ok"]


def _verify(trail: Path) -> tuple[int, dict[str, Any]]:
    """`audit-sdk verify --json` on the received trail, as an operator would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_SDK_")}
    env["AUDIT_SDK_HMAC_KEY"] = KEY
    run = subprocess.run(
        [sys.executable, "-m", "audit_sdk.cli", "verify", "--json", str(trail)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


def _received_ids(trail: Path) -> set[str]:
    ids = set()
    for line in trail.read_text().splitlines():
        for rl in json.loads(line)["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    for attribute in record["attributes"]:
                        if attribute["key"] == "audit.record.id":
                            ids.add(attribute["value"]["stringValue"])
    return ids


def _error_kinds(result: dict[str, Any]) -> set[str]:
    return {f["kind"] for f in result["findings"] if f["severity"] == "error"}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[OtlpReceiver]:
    server = OtlpReceiver(tmp_path / "received.jsonl").start()
    yield server
    server.stop()


@pytest.mark.parametrize("policy", ["durable", "fail_closed"])
def test_sigkill_mid_stream_and_restart_lose_no_acknowledged_record(
    policy: str, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    spool = tmp_path / "spool"
    env = _env(spool, receiver, policy)
    first = tmp_path / "first.progress"
    app = _start(env, first, "--count", "100000", "--interval", "0.002")
    try:
        _wait_for(first, "ok", 100)
        receiver.fail_with = 503  # the collector is overloaded ...
        _wait_for(first, "ok", 200)
        receiver.stop()  # ... then down
        _wait_for(first, "ok", 400)
    finally:
        app.send_signal(signal.SIGKILL)  # killed mid-stream, with records not yet delivered
        app.communicate(timeout=30)
    acknowledged = _ok_ids(first)
    refused_while_down = receiver.refused
    assert refused_while_down > 0

    (left,) = read_status(spool).processes  # what the dead process left
    assert not left.locked and left.records > 0

    receiver.fail_with = None
    receiver.start()  # back, on the same port
    second = tmp_path / "second.progress"
    stats = _finish(_start(env, second, "--count", "50", "--close"))
    receiver.stop()

    assert stats["lost"] == stats["refused"] == 0
    received = _received_ids(receiver.path)
    assert set(acknowledged) <= received and set(_ok_ids(second)) <= received
    code, result = _verify(receiver.path)
    assert code == 0, result["findings"][:5]
    streams = {s["first_number"]: s for s in result["streams"]}
    assert len(result["streams"]) == 2
    killed = next(s for s in result["streams"] if not s["closed"])
    # every record acknowledged to the killed app arrived, with no gap before its last one
    assert killed["first_number"] == 1 and killed["records"] == killed["last_number"]
    assert killed["last_number"] >= len(acknowledged)
    assert any(s["closed"] for s in streams.values())
    assert os.listdir(spool) == []  # everything was acknowledged and cleaned up


def test_best_effort_counts_every_loss_exactly(tmp_path: Path, receiver: OtlpReceiver) -> None:
    spool = tmp_path / "spool"
    receiver.stop()  # the collector is down from the start
    env = _env(spool, receiver, "best_effort", AUDIT_SDK_SPOOL_MAX_BYTES="65536")
    progress = tmp_path / "app.progress"
    app = _start(
        env, progress, "--count", "300", "--interval", "0.002", "--flush-at", "220", "--close"
    )
    _wait_for(progress, "ok", 150)
    receiver.start()
    stats = _finish(app)
    receiver.stop()
    assert len(_ok_ids(progress)) == 300  # best effort never refused a call
    lost = stats["lost"]
    assert lost > 50 and stats["refused"] == 0
    code, result = _verify(receiver.path)
    (stream,) = result["streams"]
    assert stream["closed"]
    # each lost record is one missing sequence number, and nothing else is wrong
    assert stream["last_number"] - stream["records"] == lost
    assert _error_kinds(result) <= {"missing_records", "chain_break"}
    assert "missing_records" in _error_kinds(result) and code == 1


def test_forked_workers_and_a_killed_worker(tmp_path: Path, receiver: OtlpReceiver) -> None:
    spool = tmp_path / "spool"
    env = _env(spool, receiver, "durable")
    progress = tmp_path / "parent.progress"
    app = _start(
        env, progress, "--fork", "3", "--kill-worker", "1", "--count", "60", "--interval", "0.002"
    )
    out, err = app.communicate(timeout=90)
    assert app.returncode == 0, err[-3000:]
    children = json.loads(next(x for x in out.splitlines() if x.startswith("CHILDREN "))[9:])
    assert [os.WIFSIGNALED(c) and os.WTERMSIG(c) for c in children] == [False, 9, False]
    received = _received_ids(receiver.path)
    for name in ("parent.progress", "parent.progress.0", "parent.progress.1", "parent.progress.2"):
        assert set(_ok_ids(tmp_path / name)) <= received, name
    code, result = _verify(receiver.path)
    assert code == 0, result["findings"][:5]
    assert len(result["streams"]) == 4  # the parent and one stream per worker
    assert sum(1 for s in result["streams"] if s["closed"]) == 3
    for stream in result["streams"]:
        assert stream["first_number"] == 1 and stream["records"] == stream["last_number"]
    assert os.listdir(spool) == []  # the parent adopted and sent the killed worker's spool


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or sys.platform != "linux":
        return False
    where.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(where)],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("cannot mount a small tmpfs here (needs root); the ENOSPC stand-in covers it")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("policy", ["fail_closed", "durable"])
def test_a_really_full_disk(
    policy: str, tmp_path: Path, receiver: OtlpReceiver, small_disk: Path
) -> None:
    spool = small_disk / "spool"
    receiver.stop()  # nothing drains: the 192 KiB disk fills up
    env = _env(spool, receiver, policy)
    progress = tmp_path / "app.progress"
    app = _start(
        env, progress, "--count", "260", "--interval", "0.002", "--flush-at", "200", "--close"
    )
    if policy == "fail_closed":
        _wait_for(progress, "refused", 5)  # raised at once: the action would not proceed
    else:
        _wait_for(progress, "ok", 60)
        time.sleep(1.5)  # durable waits (up to 30 s) for room instead of failing
    receiver.start()
    stats = _finish(app, timeout=120)
    receiver.stop()
    outcomes = [p[0] for p in _progress(progress)]
    refused = outcomes.count("refused")
    assert outcomes.count("ok") + refused == 260
    if policy == "fail_closed":
        reasons = [" ".join(p[1:]) for p in _progress(progress) if p[0] == "refused"]
        assert refused >= 5 and all("No space left on device" in r for r in reasons), reasons[:3]
    else:
        assert refused == 0
    assert stats["refused"] == refused and stats["lost"] == 0
    assert set(_ok_ids(progress)) <= _received_ids(receiver.path)
    code, result = _verify(receiver.path)
    assert code == 0, result["findings"][:5]  # refused records were never chained: no gap
    (stream,) = result["streams"]
    assert stream["closed"] and stream["records"] == stream["last_number"] > 260 - refused
