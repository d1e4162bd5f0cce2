"""Threads and forked processes: contiguous sequence numbers and an intact chain per stream."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

import audit_sdk
from helpers import attributes_of, check_chains, read_trail

THREADS = 8
PER_THREAD = 500


def test_eight_threads_share_one_gapless_stream(
    tmp_path: Path, keys: Any, checkpoint_key: Any
) -> None:
    trail = tmp_path / "audit.jsonl"
    logger = audit_sdk.configure(
        keys=keys, checkpoint_key=checkpoint_key, trail_path=trail, checkpoint_every=250
    )
    receipts: list[audit_sdk.AuditReceipt] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(worker: int) -> None:
        start.wait()
        mine = [
            audit_sdk.audit_event(
                "doc.read", action="READ", actor=f"worker-{worker}", details={"i": i}
            )
            for i in range(PER_THREAD)
        ]
        with lock:
            receipts.extend(mine)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    entries = read_trail(trail)
    counts = check_chains(entries, keys.active_key)
    assert list(counts) == [logger.stream_id]
    events = [e for e in entries if attributes_of(e[0])["audit.action"] == "READ"]
    assert len(events) == THREADS * PER_THREAD
    assert sorted(r.sequence_number for r in receipts) == sorted(
        attributes_of(e[0])["audit.sequence.number"] for e in events
    )
    assert attributes_of(entries[-1][0])["audit.sequence.end"] is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_children_start_streams_of_their_own(tmp_path: Path, keys: Any) -> None:
    trail = tmp_path / "audit.jsonl"
    parent_logger = audit_sdk.configure(keys=keys, trail_path=trail, checkpoint_every=100)
    for i in range(50):
        audit_sdk.audit_event("doc.read", action="READ", actor="parent", details={"i": i})
    children = []
    for child in range(2):
        pid = os.fork()
        if pid == 0:  # child: emit, close cleanly, and leave without running the parent's atexit
            code = 1
            try:
                for i in range(1000):
                    audit_sdk.audit_event(
                        "doc.read", action="READ", actor=f"child-{child}", details={"i": i}
                    )
                audit_sdk.shutdown()
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for i in range(50, 100):
        audit_sdk.audit_event("doc.read", action="READ", actor="parent", details={"i": i})
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    parent_logger.close()
    entries = read_trail(trail)
    counts = check_chains(entries, keys.active_key)
    assert len(counts) == 3
    assert parent_logger.stream_id in counts
    actors_by_stream: dict[str, set[str]] = {}
    for log_record, _ in entries:
        attrs = attributes_of(log_record)
        if attrs["audit.action"] == "READ":
            actors_by_stream.setdefault(attrs["audit.sequence.stream_id"], set()).add(
                attrs["audit.actor.id"]
            )
    assert sorted(map(sorted, actors_by_stream.values())) == [["child-0"], ["child-1"], ["parent"]]
    reads = sum(1 for e in entries if attributes_of(e[0])["audit.action"] == "READ")
    assert reads == 100 + 2 * 1000
    ends = [e for e in entries if attributes_of(e[0]).get("audit.sequence.end")]
    assert len(ends) == 3
