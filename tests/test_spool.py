"""The durable delivery spool in one process: policies, bounds, recovery, metrics, status.

Stand-ins named for what they do: DownExporter (fails every export until
`up` is set), ListExporter (keeps what it is given), DiskFullStandIn (the
spool's append raises ENOSPC once its byte budget is spent). The real-process
fault tests (SIGKILL, a real full disk, forked workers) are in
test_spool_faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk
from audit_sdk import AuditDeliveryError, AuditRecord
from audit_sdk._otlp_json import encode_log_record
from audit_sdk._spool import _processor
from audit_sdk._spool._format import decode_meta, decode_record, encode_meta, encode_record
from audit_sdk._spool._store import list_segments, read_status, segment_path
from audit_sdk.cli import main as cli_main
from audit_sdk.delivery import DeliveryPolicy, SpoolingProcessor, processors
from audit_sdk.verify import verify


class ListExporter(LogRecordExporter):
    """Keeps every exported record; `up` False makes every export fail."""

    def __init__(self, *, up: bool = True) -> None:
        self.up = threading.Event()
        if up:
            self.up.set()
        self.records: list[ReadableLogRecord] = []
        self.calls = 0
        self._lock = threading.Lock()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        with self._lock:
            self.calls += 1
            if not self.up.is_set():
                if self.calls % 2:
                    raise ConnectionError("receiver down")
                return LogRecordExportResult.FAILURE
            self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def ids(self) -> list[str]:
        return [str(r.log_record.attributes["audit.record.id"]) for r in self.records]  # type: ignore[index]

    def write_trail(self, path: Path) -> Path:
        from audit_sdk._otlp_json import encode_logs_line

        with open(path, "ab") as handle:
            for i in range(0, len(self.records), 100):
                handle.write(encode_logs_line(self.records[i : i + 100]))
        return path


def DownExporter() -> ListExporter:
    return ListExporter(up=False)


class DiskFullStandIn:
    """Replaces the spool's append: raises ENOSPC once `budget` bytes were written."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.written = 0
        self.refusals = 0

    def __call__(self, fd: int, data: bytes) -> None:
        if self.written + len(data) > self.budget:
            self.refusals += 1
            # a real full disk may take part of the write before failing
            part = max(0, min(len(data) // 2, self.budget - self.written))
            if part:
                os.write(fd, data[:part])
                self.written += part
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.write(fd, data)
        self.written += len(data)


def _processor_for(
    exporter: LogRecordExporter, spool: Path, policy: str, **kwargs: Any
) -> SpoolingProcessor:
    kwargs.setdefault("schedule_delay", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("adopt_interval", 0.1)
    kwargs.setdefault("shutdown_timeout", 1.0)
    return SpoolingProcessor(exporter, spool_dir=spool, policy=policy, **kwargs)


_LOGGERS: list[audit_sdk.AuditLogger] = []


def _logger(processor: SpoolingProcessor, keys: Any, **kwargs: Any) -> audit_sdk.AuditLogger:
    kwargs.setdefault("checkpoint_interval", None)
    logger = audit_sdk.configure(keys=keys, processor=processor, set_default=False, **kwargs)
    _LOGGERS.append(logger)
    return logger


def _emit(logger: audit_sdk.AuditLogger, n: int, **kwargs: Any) -> list[audit_sdk.AuditReceipt]:
    return [
        logger.emit("doc.read", action="READ", target=f"doc/{i}", details={"i": i}, **kwargs)
        for i in range(n)
    ]


def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def _missing(result: Any) -> int:
    """Records absent before the last one present, over all streams."""
    return sum(s.last_number - s.records for s in result.streams)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture(autouse=True)
def _close_processors() -> Iterator[None]:
    yield
    while _LOGGERS:
        logger = _LOGGERS.pop()
        if not logger.closed:
            with contextlib.suppress(AuditDeliveryError):
                logger.close()
    for processor in processors():
        processor.shutdown(timeout_millis=200)


# -- the spool keeps records byte for byte -----------------------------------


def test_spooled_records_come_back_with_identical_signed_bytes(keys: Any, tmp_path: Path) -> None:
    captured: list[Any] = []

    class Capture(ListExporter):
        pass

    from opentelemetry.sdk._logs import LogRecordProcessor

    class Grab(LogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            captured.append(log_record)

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    logger = audit_sdk.configure(
        keys=keys, processor=Grab(), checkpoint_interval=None, set_default=False
    )
    tracer = TracerProvider().get_tracer("t")
    values: dict[str, Any] = {
        "n": -(2**63),
        "big": 2**63 - 1,
        "f": 0.1 + 0.2,
        "tiny": 5e-324,
        "yes": False,
        "raw": b"\x00\xff",
        "list": [1, "a", 2.5, True],
        "map": {"k": [{"x": b"1"}], "ü": "\U0001f600"},
        "ünï": '𝄞 \u2028 "quoted" \\',
    }
    with tracer.start_as_current_span("request"):
        logger.emit("doc.read", action="READ", attributes=values, details={"a": [1.5, None]})
    logger.emit("doc.read", action="READ")
    for original in captured:
        line = encode_record(original)
        assert orjson.loads(line[10:]) == encode_log_record(original)  # the sink's encoding
        meta = decode_meta(encode_meta(original.resource, original.instrumentation_scope)[10:-1])
        decoded = decode_record(line[10:-1], meta)
        assert (
            AuditRecord.from_readable(decoded).canonical_bytes()
            == AuditRecord.from_readable(original).canonical_bytes()
        )
        assert encode_log_record(decoded) == encode_log_record(original)
        assert dict(decoded.resource.attributes) == dict(original.resource.attributes)
        assert decoded.instrumentation_scope == original.instrumentation_scope


@pytest.mark.parametrize("policy", ["durable", "fail_closed", "best_effort"])
def test_every_record_reaches_the_trail_and_verifies(
    policy: str, keys: Any, checkpoint_key: Any, tmp_path: Path
) -> None:
    trail = tmp_path / "trail.jsonl"
    logger = audit_sdk.configure(
        keys=keys,
        checkpoint_key=checkpoint_key,
        checkpoint_every=40,
        checkpoint_interval=None,
        trail_path=trail,
        delivery=policy,
        spool_dir=tmp_path / "spool",
        set_default=False,
    )
    (processor,) = processors()
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("request"):
        receipts = _emit(logger, 120, attributes={"n": 1, "f": 1.5, "b": b"x", "l": [1]})
    logger.close()
    result = verify([trail], keys=keys, public_keys=[checkpoint_key.public_key()])
    assert result.ok, [f.message for f in result.errors]
    (stream,) = result.streams
    assert stream.closed and stream.records == 120 + 3 + 1  # checkpoints and the end record
    assert stream.stream_id == receipts[0].stream_id
    stats = processor.stats
    assert stats.spooled == stats.sent == 124 and stats.lost == stats.refused == 0
    assert os.listdir(tmp_path / "spool") == []  # a clean shutdown leaves nothing behind


def test_failed_exports_are_retried_with_backoff_and_counted(keys: Any, spool: Path) -> None:
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, "durable")
    logger = _logger(processor, keys)
    receipts = _emit(logger, 30)
    _wait(lambda: exporter.calls >= 3)
    assert processor.stats.queue_depth == 30 and processor.stats.sent == 0
    exporter.up.set()
    assert processor.force_flush(10_000)
    assert exporter.ids() == [r.record_id for r in receipts]
    stats = processor.stats
    assert stats.sent == 30 and stats.retried >= 3 and stats.queue_depth == 0
    logger.close()


# -- metrics -------------------------------------------------------------------


def _metrics(reader: InMemoryMetricReader) -> dict[str, float]:
    out: dict[str, float] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    out[metric.name] = point.value  # type: ignore[union-attr]
    return out


def test_health_is_reported_as_otel_metrics(keys: Any, tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    exporter = DownExporter()
    logger = audit_sdk.configure(
        keys=keys,
        exporter=exporter,
        delivery="best_effort",
        spool_dir=tmp_path / "spool",
        spool_max_bytes=64 * 1024,
        meter_provider=MeterProvider(metric_readers=[reader]),
        checkpoint_interval=None,
        set_default=False,
    )
    (processor,) = processors()
    _emit(logger, 10)
    time.sleep(0.3)
    seen = _metrics(reader)
    assert seen["audit.delivery.queue_depth"] == 10
    assert seen["audit.delivery.oldest_unsent_age"] >= 0.25
    assert seen["audit.delivery.spool_bytes"] > 0
    assert seen["audit.delivery.retried"] >= 10
    _emit(logger, 100)  # the 64 KiB spool overflows: best effort drops and counts
    lost = processor.stats.lost
    assert lost > 0
    exporter.up.set()
    assert processor.force_flush(10_000)
    seen = _metrics(reader)
    assert seen["audit.delivery.queue_depth"] == 0
    assert seen["audit.delivery.oldest_unsent_age"] == 0
    assert seen["audit.delivery.sent"] == 110 - lost
    assert seen["audit.delivery.lost"] == lost
    logger.close()


# -- the bound and a full disk -------------------------------------------------


def test_fail_closed_raises_at_once_when_the_spool_is_full_and_leaves_no_gap(
    keys: Any, spool: Path, tmp_path: Path
) -> None:
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, "fail_closed", max_bytes=64 * 1024)
    logger = _logger(processor, keys)
    accepted = []
    started = time.monotonic()
    with pytest.raises(AuditDeliveryError, match="spool is full"):
        for _ in range(200):
            accepted.append(logger.emit("doc.read", action="READ", details={"pad": "x" * 500}))
    assert time.monotonic() - started < 5
    assert 10 < len(accepted) < 200
    assert processor.stats.refused == 1 and processor.stats.spool_bytes <= 64 * 1024
    exporter.up.set()
    assert processor.force_flush(10_000)
    after = logger.emit("doc.read", action="READ")
    # the refused record was never chained
    assert after.sequence_number == accepted[-1].sequence_number + 1
    logger.close()
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok and _missing(result) == 0


def test_durable_waits_for_room_then_raises(keys: Any, spool: Path) -> None:
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, "durable", max_bytes=64 * 1024, block_timeout=0.3)
    logger = _logger(processor, keys)
    with pytest.raises(AuditDeliveryError, match=r"spool is full .* waited 0.3s"):
        for _ in range(200):
            logger.emit("doc.read", action="READ", details={"pad": "x" * 500})
    assert processor.stats.refused == 1
    exporter.up.set()
    logger.close()


def test_durable_blocks_while_the_spool_is_full_and_resumes_when_it_drains(
    keys: Any, spool: Path, tmp_path: Path
) -> None:
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, "durable", max_bytes=64 * 1024, block_timeout=20)
    logger = _logger(processor, keys)
    done = threading.Event()
    receipts: list[audit_sdk.AuditReceipt] = []

    def produce() -> None:
        for _ in range(150):
            receipts.append(logger.emit("doc.read", action="READ", details={"pad": "x" * 500}))
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()  # back-pressure: the writer waits, nothing is dropped
    blocked_at = len(receipts)
    exporter.up.set()
    thread.join(20)
    assert done.is_set() and blocked_at < 150
    logger.close()
    assert processor.stats.refused == processor.stats.lost == 0
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok and result.streams[0].records == 151


@pytest.mark.parametrize("policy", ["durable", "fail_closed", "best_effort"])
def test_a_full_disk(
    policy: str, keys: Any, spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = DiskFullStandIn(budget=40 * 1024)
    monkeypatch.setattr(_processor, "_write_all", disk)
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, policy, block_timeout=10)
    logger = _logger(processor, keys)
    receipts: list[audit_sdk.AuditReceipt] = []
    refused = 0

    def produce(n: int) -> None:
        nonlocal refused
        for _ in range(n):
            try:
                receipts.append(logger.emit("doc.read", action="READ", details={"p": "x" * 400}))
            except AuditDeliveryError as exc:
                assert "No space left on device" in str(exc)
                refused += 1

    if policy == "durable":
        thread = threading.Thread(target=produce, args=(80,))
        thread.start()
        _wait(lambda: disk.refusals > 0)
        time.sleep(0.3)
        assert thread.is_alive()  # waiting for space, not failing
        exporter.up.set()  # deleting acknowledged segments frees space
        disk.budget = 10**9  # ... and the rest of the disk frees up
        thread.join(15)
        assert len(receipts) == 80 and refused == 0
    else:
        produce(80)
        assert disk.refusals > 0
        exporter.up.set()
        disk.budget = 10**9
    logger.emit("doc.read", action="READ")
    logger.close()
    stats = processor.stats
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert not [f for f in result.errors if f.kind.value != "missing_records"]
    if policy == "best_effort":
        assert refused == 0 and stats.lost > 0 and _missing(result) == stats.lost
    else:
        assert _missing(result) == 0 and stats.lost == 0
        assert stats.refused == refused and (policy == "durable" or refused > 0)
        # a failed append left no partial line behind: every spooled record was sent
        assert stats.sent == stats.spooled


def test_best_effort_never_raises_and_counts_every_loss_exactly(
    keys: Any, spool: Path, tmp_path: Path, caplog: Any
) -> None:
    exporter = DownExporter()
    processor = _processor_for(exporter, spool, "best_effort", max_bytes=64 * 1024)
    logger = _logger(processor, keys)
    _emit(logger, 150)
    lost = processor.stats.lost
    assert lost > 50
    assert any("record(s) lost" in m and "gaps in the chain" in m for m in caplog.messages)
    exporter.up.set()
    assert processor.force_flush(10_000)
    _emit(logger, 5)
    logger.close()
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert _missing(result) == lost == processor.stats.lost
    assert {f.kind.value for f in result.errors} <= {"missing_records", "chain_break"}


def test_a_failed_fdatasync_refuses_the_record_and_truncates_it(
    keys: Any, spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = ListExporter()
    processor = _processor_for(exporter, spool, "fail_closed")
    logger = _logger(processor, keys)
    first = _emit(logger, 3)
    real = os.fdatasync

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(AuditDeliveryError, match="could not be made durable"):
        logger.emit("doc.read", action="READ")
    monkeypatch.setattr(os, "fdatasync", real)
    after = logger.emit("doc.read", action="READ")
    assert after.sequence_number == first[-1].sequence_number + 1
    logger.close()
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok, [f.message for f in result.errors]  # no conflicting duplicate
    assert result.streams[0].records == 5


# -- restart and recovery ------------------------------------------------------


def test_a_restart_sends_what_the_previous_process_left(
    keys: Any, spool: Path, tmp_path: Path, caplog: Any
) -> None:
    down = DownExporter()
    first = _logger(_processor_for(down, spool, "durable", shutdown_timeout=0.2), keys)
    sent_before = _emit(first, 40)
    first.close()  # the receiver is down: everything stays spooled
    assert any("40 record(s)" not in m and "not yet acknowledged" in m for m in caplog.messages)
    (left,) = read_status(spool).processes
    assert left.records == 41 and not left.locked

    up = ListExporter()
    processor = _processor_for(up, spool, "durable")
    second = _logger(processor, keys)
    sent_after = _emit(second, 10)
    assert processor.force_flush(10_000)
    second.close()
    ids = set(up.ids())
    assert {r.record_id for r in sent_before + sent_after} <= ids
    result = verify([up.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok and len(result.streams) == 2 and all(s.closed for s in result.streams)
    assert os.listdir(spool) == []


def test_a_live_process_keeps_its_spool(keys: Any, spool: Path) -> None:
    down = DownExporter()
    owner = _processor_for(down, spool, "durable")
    _emit(_logger(owner, keys), 5)
    other = _processor_for(ListExporter(), spool, "durable")
    time.sleep(0.4)  # several adoption scans
    assert other.stats.adopted_dirs == 0 and other.stats.queue_depth == 0
    (proc,) = read_status(spool).processes
    assert proc.locked and proc.records == 5


def test_torn_and_corrupt_lines_in_a_dead_process_spool(
    keys: Any, spool: Path, tmp_path: Path, caplog: Any
) -> None:
    down = DownExporter()
    logger = _logger(_processor_for(down, spool, "durable", shutdown_timeout=0.1), keys)
    receipts = _emit(logger, 6)
    (directory,) = [spool / name for name in os.listdir(spool)]
    logger.close()  # leaves 7 records (6 and the end record)
    (segment,) = [segment_path(directory, n) for n in list_segments(directory)]
    lines = segment.read_bytes().splitlines(keepends=True)
    corrupt = bytearray(lines[3])
    corrupt[-5] ^= 0x01  # one flipped bit in record 3: its CRC no longer matches
    lines[3] = bytes(corrupt)
    segment.write_bytes(b"".join(lines) + lines[2][:40])  # and a torn final append

    up = ListExporter()
    processor = _processor_for(up, spool, "durable")
    _wait(lambda: read_status(spool).records == 0 and processor.stats.adopted_dirs == 0)
    assert processor.stats.lost == 1 and processor.stats.sent == 6
    assert up.ids()[:5] == [r.record_id for i, r in enumerate(receipts) if i != 2]
    assert any("torn final line" in m for m in caplog.messages)


def test_acknowledged_records_are_not_sent_again(keys: Any, spool: Path) -> None:
    exporter = ListExporter()
    processor = _processor_for(exporter, spool, "durable", shutdown_timeout=0.1)
    logger = _logger(processor, keys)
    _emit(logger, 20)
    assert processor.force_flush(5000)
    directory = processor.directory
    assert directory is not None
    exporter.up.clear()
    later = _emit(logger, 5)
    processor.shutdown()  # 5 records not acknowledged stay
    again = ListExporter()
    adopter = _processor_for(again, spool, "durable")
    _wait(lambda: adopter.stats.sent == 5)
    assert again.ids() == [r.record_id for r in later]


# -- threads, asyncio, several streams ----------------------------------------


def test_threads_and_streams_share_one_spool_with_group_commit(
    keys: Any, spool: Path, tmp_path: Path
) -> None:
    exporter = ListExporter()
    processor = _processor_for(exporter, spool, "durable")
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    otel = provider.get_logger("audit_sdk")
    loggers = [
        audit_sdk.AuditLogger(
            otel, keys=keys, service_name="s", event_source="s", checkpoint_interval=None
        )
        for _ in range(3)  # three streams: concurrent callers share one fdatasync
    ]
    threads = [threading.Thread(target=_emit, args=(loggers[i % 3], 60)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for logger in loggers:
        logger.close()
    provider.shutdown()
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok and len(result.streams) == 3
    assert sum(s.records for s in result.streams) == 360 + 3


async def test_asyncio_tasks(keys: Any, spool: Path, tmp_path: Path) -> None:
    exporter = ListExporter()
    processor = _processor_for(exporter, spool, "durable")
    logger = _logger(processor, keys)

    async def task(n: int) -> None:
        for i in range(25):
            logger.emit("job.run", action="EXECUTE", target=f"job/{n}/{i}")
            await asyncio.sleep(0)

    await asyncio.gather(*(task(n) for n in range(12)))
    await asyncio.get_running_loop().run_in_executor(None, logger.close)
    result = verify([exporter.write_trail(tmp_path / "t.jsonl")], keys=keys)
    assert result.ok and result.streams[0].records == 301


# -- configuration and status ---------------------------------------------------


def test_configure_reads_the_environment(keys: Any, tmp_path: Path) -> None:
    env = {
        "AUDIT_SDK_DELIVERY": "fail_closed",
        "AUDIT_SDK_SPOOL_DIR": str(tmp_path / "envspool"),
        "AUDIT_SDK_SPOOL_MAX_BYTES": "131072",
    }
    logger = audit_sdk.configure(keys=keys, exporter=ListExporter(), environ=env, set_default=False)
    (processor,) = processors()
    assert processor.policy is DeliveryPolicy.FAIL_CLOSED and processor.max_bytes == 131072
    assert processor.fsync.value == "always"
    logger.emit("doc.read", action="READ")
    assert processor.directory is not None and processor.directory.parent == tmp_path / "envspool"
    logger.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delivery": "sometimes"}, "delivery 'sometimes' is not one of"),
        ({"delivery": "durable", "spool_max_bytes": 10}, "spool_max_bytes must be >="),
        ({"delivery": "durable", "spool_fsync": "maybe"}, "spool_fsync 'maybe'"),
        ({"spool_dir": "x"}, "need a spooling delivery policy"),
        ({"delivery": "durable", "processor": "p"}, "not both"),
    ],
)
def test_bad_delivery_options_fail_before_any_side_effect(
    kwargs: dict[str, Any], message: str, keys: Any, tmp_path: Path
) -> None:
    if kwargs.get("processor") == "p":
        kwargs["processor"] = _processor_for(ListExporter(), tmp_path / "s", "durable")
    trail = tmp_path / "trail" / "audit.jsonl"
    with pytest.raises(audit_sdk.AuditConfigurationError, match=message):
        audit_sdk.configure(keys=keys, trail_path=trail, set_default=False, environ={}, **kwargs)
    assert not trail.parent.exists()


def test_status_command(keys: Any, spool: Path, capsys: Any) -> None:
    assert cli_main(["status", str(spool / "absent")]) == 2
    down = DownExporter()
    processor = _processor_for(down, spool, "best_effort", max_bytes=64 * 1024)
    _emit(_logger(processor, keys), 120)
    time.sleep(1.2)  # the state file is written about once a second
    capsys.readouterr()
    assert cli_main(["status", str(spool), "--json"]) == 1  # records were lost
    data = json.loads(capsys.readouterr().out)
    (proc,) = data["processes"]
    assert proc["locked"] is True and proc["records"] == processor.stats.queue_depth
    assert data["lost"] == processor.stats.lost > 0
    assert data["oldest_unsent_age"] >= 1.0
    assert any("lost" in p for p in data["problems"])
    assert cli_main(["status", str(spool)]) == 1
    text = capsys.readouterr().out
    assert "unsent" in text and "best_effort" in text and "live, pid" in text


def test_status_thresholds(keys: Any, spool: Path, capsys: Any) -> None:
    down = DownExporter()
    processor = _processor_for(down, spool, "durable")
    _emit(_logger(processor, keys), 3)
    assert cli_main(["status", str(spool), "--max-records", "10"]) == 0
    assert cli_main(["status", str(spool), "--max-records", "2"]) == 1
    time.sleep(0.3)
    assert cli_main(["status", str(spool), "--max-age", "0.1"]) == 1
    assert "oldest unsent record is" in capsys.readouterr().out


def test_files_that_are_not_the_spools_are_left_alone(keys: Any, spool: Path) -> None:
    foreign = spool / "notes"
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("mine")
    lookalike = spool / "p1-0000000a"  # a spool directory name holding something else too
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("mine")
    processor = _processor_for(ListExporter(), spool, "durable")
    _emit(_logger(processor, keys), 3)
    time.sleep(0.4)  # adoption scans
    processor.force_flush(5000)
    assert (foreign / "keep.txt").read_text() == "mine"
    assert (lookalike / "keep.txt").read_text() == "mine"
    assert processor.directory is not None
    names = {p.name for p in read_status(spool).processes}
    assert names == {"p1-0000000a", processor.directory.name}


def test_records_keep_their_resource_when_read_back_from_disk(keys: Any, spool: Path) -> None:
    from opentelemetry.sdk.resources import Resource

    down = DownExporter()
    writer = _processor_for(down, spool, "durable", shutdown_timeout=0.1)
    loggers = []
    for name in ("alpha", "beta"):
        provider = LoggerProvider(resource=Resource({"service.name": name}), shutdown_on_exit=False)
        provider.add_log_record_processor(writer)
        loggers.append(
            audit_sdk.AuditLogger(
                provider.get_logger("audit_sdk"),
                keys=keys,
                service_name=name,
                event_source=name,
                checkpoint_interval=None,
            )
        )
    for i in range(30):  # alternating resources: a metadata line before nearly every record
        loggers[i % 2].emit("doc.read", action="READ", target=f"doc/{i}")
    writer.shutdown()  # everything stays on disk

    class FlakyThenUp(ListExporter):
        def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
            if self.calls < 3:  # batches are read, refused and read again
                self.calls += 1
                return LogRecordExportResult.FAILURE
            return super().export(batch)

    reader = FlakyThenUp()
    adopter = _processor_for(reader, spool, "durable", max_export_batch_size=4)
    _wait(lambda: adopter.stats.sent == 30)
    for record in reader.records:
        source = record.log_record.attributes["cloudevents.event_source"]  # type: ignore[index]
        assert record.resource.attributes["service.name"] == source
