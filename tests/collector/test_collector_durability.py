"""Restart persistence: the audit store survives a stop/start on the same data
dir, is appended to (never truncated), and every acknowledged record is in it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import attrs_to_dict, store_files, wait_for

pytestmark = pytest.mark.collector


def audit_record(i: int, batch: str) -> dict[str, Any]:
    rid = str(uuid.uuid4())
    attrs = {
        "test.batch": batch,
        "test.seq": i,
        "audit.record.id": rid,
        "audit.actor.id": "svc-durability",
        "audit.actor.type": "service",
        "audit.action": "WRITE",
        "audit.outcome": "success",
        "cloudevents.event_id": rid,
    }
    return {
        "timeUnixNano": str(1714564800000000000 + i),
        "eventName": "durability.write",
        "body": {"stringValue": f'{{"i":{i}}}'},
        "attributes": [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
            for k, v in attrs.items()
        ],
    }


def request(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "dur"}}]
                },
                "scopeLogs": [{"scope": {"name": "tests.durability"}, "logRecords": records}],
            }
        ]
    }


def send_batch(cp: Any, batch: str, n: int, per_request: int = 10) -> set[str]:
    ids: set[str] = set()
    for start in range(0, n, per_request):
        recs = [audit_record(i, batch) for i in range(start, min(n, start + per_request))]
        status, body = cp.post_logs(request(recs))
        assert status == 200, body
        ids |= {attrs_to_dict(r["attributes"])["audit.record.id"] for r in recs}
    return ids


def stored_ids(cp: Any) -> list[str]:
    return [attrs_to_dict(r["attributes"])["audit.record.id"] for r in cp.store("audit")]


def test_restart_appends_and_keeps_everything(collector_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "data"
    cp = collector_factory(data_dir=data)

    cp.start()
    first = send_batch(cp, "before-restart", 50)
    assert cp.stop() == 0, cp.output()
    (live,) = store_files(data, "audit")
    before = live.read_bytes()
    assert set(stored_ids(cp)) == first

    cp.start()  # same data dir, new ports
    # the existing file is re-opened for append, not truncated at start
    assert live.read_bytes() == before
    second = send_batch(cp, "after-restart", 50)
    assert wait_for(lambda: first | second <= set(stored_ids(cp)), timeout=10), cp.output()
    assert cp.stop() == 0, cp.output()

    after = b"".join(p.read_bytes() for p in store_files(data, "audit"))
    assert after.startswith(before)  # appended
    ids = stored_ids(cp)
    assert first | second <= set(ids)  # everything acknowledged is there
    assert set(ids) == first | second  # and nothing else (duplicates would be OK)
    assert not cp.store("quarantine")


def test_store_is_readable_while_running(collector: Any) -> None:
    """Records are on disk as soon as the export is acknowledged (no buffer)."""
    ids = send_batch(collector, "live", 5)
    assert wait_for(lambda: ids <= set(stored_ids(collector)), timeout=5)


def test_acknowledged_records_survive_a_crash(collector_factory: Any, tmp_path: Any) -> None:
    """SIGKILL right after the acknowledgement: the records are already in the file."""
    data = tmp_path / "data"
    cp = collector_factory(data_dir=data)
    cp.start()
    ids = send_batch(cp, "crash", 30)
    assert cp.proc is not None
    cp.proc.kill()
    cp.proc.wait(timeout=10)
    assert ids <= set(stored_ids(cp))
    # and the store still takes records after the crash
    cp.start()
    more = send_batch(cp, "after-crash", 5)
    assert cp.stop() == 0, cp.output()
    assert ids | more <= set(stored_ids(cp))
