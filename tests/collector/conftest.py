"""Shared fixtures for the otelcol-audit end-to-end tests.

The tests drive the Go-built distribution ``collector/dist/otelcol-audit``
(``make collector`` / ``bash scripts/build-collector.sh``). When it is missing
they are skipped, unless ``AUDIT_SDK_REQUIRE_COLLECTOR=1``, in which case they
fail.

Reusable pieces:

* ``collector_binary``: path of the built binary (skip/fail as above).
* ``collector_factory``: ``make(data_dir=None, configs=None, env=None)``
  returns a stopped :class:`CollectorProcess`; every process made is stopped
  at teardown. ``start()`` / ``stop()`` can be called repeatedly on the same
  data dir (durability tests).
* ``collector``: one started collector with the shipped config on free
  loopback ports and a tmp data dir.
* :func:`read_store` / :func:`store_records`: read the OTLP-JSON trail files
  back (one ``{"resourceLogs": [...]}`` object per line, rotated segments
  included).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO / "collector"
BINARY = COLLECTOR_DIR / "dist" / "otelcol-audit"
CONFIG = COLLECTOR_DIR / "otelcol-audit.yaml"
OVERLAYS = COLLECTOR_DIR / "overlays"

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


def require_collector() -> bool:
    return os.environ.get("AUDIT_SDK_REQUIRE_COLLECTOR", "") == "1"


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    if not (BINARY.is_file() and os.access(BINARY, os.X_OK)):
        msg = (
            f"{BINARY.relative_to(REPO)} is missing: build it with "
            "`bash scripts/build-collector.sh` (or `make collector`)"
        )
        if require_collector():
            pytest.fail(msg + " (AUDIT_SDK_REQUIRE_COLLECTOR=1)")
        pytest.skip(msg)
    return BINARY


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(data_dir: Path) -> dict[str, str]:
    """Environment for the shipped config: all listeners on free loopback ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
    env.update(
        {
            "AUDIT_DATA_DIR": str(data_dir),
            "AUDIT_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
            "AUDIT_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
            "AUDIT_HEALTH_ENDPOINT": f"127.0.0.1:{free_port()}",
            "AUDIT_METRICS_HOST": "127.0.0.1",
            "AUDIT_METRICS_PORT": str(free_port()),
        }
    )
    return env


@dataclass
class CollectorProcess:
    binary: Path
    data_dir: Path
    configs: list[Path]
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    starts: int = 0

    # -- addresses of the current run ---------------------------------------
    @property
    def http_endpoint(self) -> str:
        return self.env["AUDIT_OTLP_HTTP_ENDPOINT"]

    @property
    def grpc_endpoint(self) -> str:
        return self.env["AUDIT_OTLP_GRPC_ENDPOINT"]

    @property
    def logs_url(self) -> str:
        return f"http://{self.http_endpoint}/v1/logs"

    @property
    def health_url(self) -> str:
        return f"http://{self.env['AUDIT_HEALTH_ENDPOINT']}/"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-collector-{self.starts}.log"

    def args(self) -> list[str]:
        out = [str(self.binary)]
        for c in self.configs:
            out += ["--config", str(c)]
        return out

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> CollectorProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        # Fresh ports on every start: a restarted collector never races the
        # previous one's sockets.
        self.env = base_env(self.data_dir)
        self.env.update(self.extra_env)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.args(), env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"collector exited with {self.proc.returncode} at start:\n{self.output()}"
                )
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"collector not healthy after {START_TIMEOUT_S}s:\n{self.output()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> int | None:
        """SIGTERM and wait (graceful shutdown flushes and closes the files)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-8000:]
        return ""

    # -- sending ------------------------------------------------------------
    def post_logs(self, payload: dict[str, Any], timeout: float = 10.0) -> tuple[int, bytes]:
        """POST one OTLP/HTTP JSON ExportLogsServiceRequest; returns (status, body)."""
        req = urllib.request.Request(
            self.logs_url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    # -- reading the stores -------------------------------------------------
    def store(self, name: str) -> list[dict[str, Any]]:
        return store_records(self.data_dir, name)


def store_files(data_dir: Path, name: str) -> list[Path]:
    """The live segment plus rotated segments (``name-<timestamp>-<reason>.jsonl``)."""
    pattern = str(data_dir / name / f"{name}*.jsonl")
    return sorted(Path(p) for p in glob.glob(pattern))


def read_store(data_dir: Path, name: str) -> list[dict[str, Any]]:
    """Every line of the store as parsed JSON (ExportLogsServiceRequest objects)."""
    out: list[dict[str, Any]] = []
    for path in store_files(data_dir, name):
        for line in path.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def store_records(data_dir: Path, name: str) -> list[dict[str, Any]]:
    """Flattened log records; each gets ``_resource`` (its resource attributes)."""
    records: list[dict[str, Any]] = []
    for req in read_store(data_dir, name):
        for rl in req.get("resourceLogs", []):
            res = attrs_to_dict(rl.get("resource", {}).get("attributes", []))
            for sl in rl.get("scopeLogs", []):
                for lr in sl.get("logRecords", []):
                    rec = dict(lr)
                    rec["_resource"] = res
                    records.append(rec)
    return records


def any_value(v: dict[str, Any]) -> Any:
    """OTLP-JSON AnyValue -> plain Python (ints stay ints)."""
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return attrs_to_dict(v["kvlistValue"].get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs_to_dict(attrs: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: any_value(a.get("value", {})) for a in attrs}


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.fixture
def collector_factory(collector_binary: Path, tmp_path: Path) -> Iterator[Any]:
    made: list[CollectorProcess] = []

    def make(
        data_dir: Path | None = None,
        configs: list[Path] | None = None,
        env: dict[str, str] | None = None,
    ) -> CollectorProcess:
        d = data_dir or tmp_path / f"data{len(made)}"
        d.mkdir(parents=True, exist_ok=True)
        cp = CollectorProcess(collector_binary, d, configs or [CONFIG], dict(env or {}))
        made.append(cp)
        return cp

    yield make
    for cp in made:
        cp.stop()


@pytest.fixture
def collector(collector_factory: Any) -> Iterator[CollectorProcess]:
    cp = collector_factory().start()
    yield cp
    cp.stop()
