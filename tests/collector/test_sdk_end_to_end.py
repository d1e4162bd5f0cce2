"""SDK -> OTLP -> otelcol-audit -> file store, end to end, with real processes.

The producer is ``examples/otlp_app.py`` run as a subprocess (the SDK as a user
runs it); the collector is the built ``collector/dist/otelcol-audit`` with the
shipped config. What the store must show afterwards:

* every record the app emitted, in ``audit/`` and nothing in ``quarantine/``;
* each stream contiguous from 1 to its end record, hash-chained, every MAC
  valid (so every signed field is byte-for-byte what the producer signed),
  every checkpoint signature valid with the public key alone, and the end
  record's hash the one the app reported;
* Resource attributes the app set still there (the collector may add more);
* after a collector stop/start in the middle of a stream: the same, with
  exact duplicates allowed (at-least-once), and the app reporting zero lost.

``audit-sdk verify --require-closed`` is also run on the store: exit 0, no
finding, every stream closed and authenticated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from audit_sdk import HmacKeyRing, load_checkpoint_public_key
from audit_sdk._canonical import canonical_from_otlp, record_hash
from audit_sdk._checkpoint import verify_checkpoint
from helpers import attributes_of, check_chains

from .conftest import REPO, CollectorProcess, free_port, read_store, store_files, wait_for

pytestmark = pytest.mark.collector

EXAMPLE = REPO / "examples" / "otlp_app.py"
SERVICE = "e2e-otlp-app"
USER_EVENTS = {"report.export", "user.session.login"}
Entry = tuple[dict[str, Any], dict[str, Any]]  # (logRecord, resource), as helpers.read_trail


# --- the producer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key set made the way a user makes one: `audit-sdk keygen DIR`."""
    directory = tmp_path_factory.mktemp("keys") / "keys"
    subprocess.run(
        [sys.executable, "-m", "audit_sdk.cli", "keygen", str(directory)],
        check=True,
        capture_output=True,
    )
    return directory


def app_command(endpoint: str, protocol: str, keys: Path, records: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(EXAMPLE),
        endpoint,
        "--keys",
        str(keys),
        "--protocol",
        protocol,
        "--records",
        str(records),
        "--service-name",
        SERVICE,
        "--json",
        *extra,
    ]


def app_env() -> dict[str, str]:
    # the app must not pick up a stray OTel/audit setting from the test environment
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AUDIT_"))}


def endpoint_for(cp: CollectorProcess, protocol: str) -> str:
    return "http://" + (cp.grpc_endpoint if protocol == "grpc" else cp.http_endpoint)


def summary_of(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    assert returncode == 0, f"app exited {returncode}\nstdout:\n{stdout}\nstderr:\n{stderr[-4000:]}"
    summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    assert summary["lost"] == 0, summary
    assert summary["exported"] == summary["queued"] == summary["end_number"], summary
    return summary


# --- reading and checking the store ----------------------------------------------


def store_entries(data_dir: Path, name: str = "audit") -> list[Entry]:
    out: list[Entry] = []
    for request in read_store(data_dir, name):
        for resource_logs in request.get("resourceLogs", []):
            resource = resource_logs.get("resource", {})
            for scope_logs in resource_logs.get("scopeLogs", []):
                for log_record in scope_logs.get("logRecords", []):
                    out.append((log_record, resource))
    return out


def count_records(data_dir: Path) -> int:
    try:
        return len(store_entries(data_dir))
    except ValueError:  # a line being written right now
        return 0


def without_exact_duplicates(entries: list[Entry]) -> tuple[list[Entry], int]:
    """One copy per (stream, number); every other copy must be byte-identical."""
    seen: dict[tuple[str, int], str] = {}
    unique: list[Entry] = []
    duplicates = 0
    for log_record, resource in entries:
        attrs = attributes_of(log_record)
        key = (attrs["audit.sequence.stream_id"], attrs["audit.sequence.number"])
        text = json.dumps(log_record, sort_keys=True)
        if key in seen:
            assert seen[key] == text, f"conflicting duplicates of {key}"
            duplicates += 1
            continue
        seen[key] = text
        unique.append((log_record, resource))
    return unique, duplicates


def check_store(
    data_dir: Path, keys: Path, summaries: list[dict[str, Any]], *, duplicates_allowed: bool
) -> list[Entry]:
    """Assert everything the module docstring promises; returns the unique records."""
    assert store_entries(data_dir, "quarantine") == []
    entries = store_entries(data_dir)
    unique, duplicates = without_exact_duplicates(entries)
    if not duplicates_allowed:
        assert duplicates == 0

    ring = HmacKeyRing.from_file(keys / "hmac-keys.json")
    counts = check_chains(unique, ring.active_key)  # contiguous from 1, chained, MACs valid
    assert counts == {s["stream_id"]: s["end_number"] for s in summaries}

    public_key = load_checkpoint_public_key(keys / "checkpoint-key.pub.pem")
    by_stream: dict[str, dict[int, Entry]] = {}
    for entry in unique:
        attrs = attributes_of(entry[0])
        by_stream.setdefault(attrs["audit.sequence.stream_id"], {})[
            attrs["audit.sequence.number"]
        ] = entry
    for summary in summaries:
        stream = by_stream[summary["stream_id"]]
        user_events = 0
        for number, (log_record, resource) in stream.items():
            attrs = attributes_of(log_record)
            assert attrs["audit.integrity.key_id"] == ring.active_id
            resource_attrs = attributes_of(resource)
            assert resource_attrs["service.name"] == SERVICE
            assert resource_attrs["audit.integrity.algorithm"] == "HMAC-SHA256"
            assert (attrs.get("audit.sequence.end") is True) == (number == summary["end_number"])
            if log_record.get("eventName") == "audit.checkpoint":
                covered = attrs["audit.checkpoint.number"]
                assert attrs["audit.checkpoint.hash"] == record_hash(
                    canonical_from_otlp(stream[covered][0])
                )
                assert verify_checkpoint(
                    public_key,
                    attrs["audit.checkpoint.signature"],
                    summary["stream_id"],
                    covered,
                    attrs["audit.checkpoint.hash"],
                    closed=attrs.get("audit.sequence.end") is True,
                ), f"bad checkpoint signature on record {number}"
            else:
                assert log_record.get("eventName") in USER_EVENTS
                user_events += 1
        assert user_events == summary["emitted"]
        end_record = stream[summary["end_number"]][0]
        assert record_hash(canonical_from_otlp(end_record)) == summary["end_hash"]
    return unique


def run_verify_cli(data_dir: Path, keys: Path, summaries: list[dict[str, Any]]) -> None:
    """`audit-sdk verify --require-closed` on the store (all segments) must find nothing."""
    files = [str(p) for p in store_files(data_dir, "audit")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "audit_sdk.cli",
            "verify",
            *files,
            "--keys-file",
            str(keys / "hmac-keys.json"),
            "--public-key",
            str(keys / "checkpoint-key.pub.pem"),
            "--require-closed",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=app_env(),
    )
    assert result.returncode == 0, f"verify: {result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    assert report["findings"] == [], report["findings"]
    assert report["errors"] == 0 and report["warnings"] == 0
    streams = {s["stream_id"]: s for s in report["streams"]}
    assert set(streams) == {s["stream_id"] for s in summaries}
    for summary in summaries:
        stream = streams[summary["stream_id"]]
        assert stream["closed"] is True
        assert stream["last_number"] == summary["end_number"]
        assert stream["authenticated"] == summary["end_number"]


# --- the tests ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_sdk_to_collector_to_store(
    collector: CollectorProcess, keys_dir: Path, protocol: str
) -> None:
    """Two app runs (two streams) over one protocol; everything arrives intact."""
    summaries = []
    for records in (300, 301):
        result = subprocess.run(
            app_command(
                endpoint_for(collector, protocol),
                protocol,
                keys_dir,
                records,
                "--checkpoint-every",
                "50",
            ),
            env=app_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        summaries.append(summary_of(result.stdout, result.stderr, result.returncode))
    assert summaries[0]["stream_id"] != summaries[1]["stream_id"]
    assert collector.stop() == 0  # a clean stop: files closed, nothing more to come

    check_store(collector.data_dir, keys_dir, summaries, duplicates_allowed=False)
    run_verify_cli(collector.data_dir, keys_dir, summaries)


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_collector_restart_mid_stream(
    collector_factory: Any, keys_dir: Path, protocol: str
) -> None:
    """SIGTERM the collector while the app emits; start it again on the same
    ports and data dir a few seconds later. Nothing is lost, no gap in the chain."""
    records, rate, down_s = 2000, 250.0, 2.5
    ports = {
        "AUDIT_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "AUDIT_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
    }
    cp: CollectorProcess = collector_factory(env=ports).start()
    endpoint = endpoint_for(cp, protocol)
    app = subprocess.Popen(
        # An export call gives up after 1 s (the OTLP exporter's own retries
        # included), well within the outage: delivery then rests on
        # ReliableBatchProcessor retrying the batch, the SDK's own guarantee.
        app_command(
            endpoint, protocol, keys_dir, records, "--rate", str(rate), "--export-timeout", "1"
        ),
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # mid-stream: a good part delivered, most still to come
        assert wait_for(lambda: count_records(cp.data_dir) >= 300, timeout=20), cp.output()
        assert app.poll() is None, "the app finished before the collector was stopped"
        stopped_at = time.time_ns()
        assert cp.stop() == 0
        stored_before_restart = count_records(cp.data_dir)
        time.sleep(down_s)
        assert app.poll() is None, "the app finished while the collector was down"
        restarted_at = time.time_ns()
        cp.start()
        assert endpoint_for(cp, protocol) == endpoint  # same ports, same data dir
        stdout, stderr = app.communicate(timeout=50)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    summary = summary_of(stdout, stderr, app.returncode)
    assert summary["retries"] >= 1, summary  # the outage was seen, and ridden out
    assert cp.stop() == 0

    unique = check_store(cp.data_dir, keys_dir, [summary], duplicates_allowed=True)
    assert len(unique) > stored_before_restart  # the restarted collector appended
    # records made while the collector was down were buffered and delivered later
    during_outage = [
        lr for lr, _ in unique if stopped_at <= int(lr["timeUnixNano"]) <= restarted_at
    ]
    assert len(during_outage) >= rate * down_s * 0.5, len(during_outage)
    print(
        f"{protocol}: {len(unique)} records, {len(store_entries(cp.data_dir)) - len(unique)} "
        f"duplicates, {len(during_outage)} made during the outage, app: {summary}"
    )
    run_verify_cli(cp.data_dir, keys_dir, [summary])
