"""benchmarks/bench_verify.py makes records exactly as the SDK does, and runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import audit_sdk
from audit_sdk import _names as n
from audit_sdk.verify import verify
from verify_trails import read_items

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_verify.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_verify", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_verify"] = module
    spec.loader.exec_module(module)
    return module


def shape(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Field names, attribute keys in order, and the OTLP type of each value."""
    fields = [(k, "") for k in record if k != "attributes"]
    return fields + [(a["key"], next(iter(a["value"]))) for a in record["attributes"]]


def test_generated_records_have_the_sdks_shape(bench: ModuleType, tmp_path: Path) -> None:
    ring, checkpoint_key = bench.keys()
    logger = audit_sdk.configure(
        service_name=bench.SERVICE,
        keys=ring,
        checkpoint_key=checkpoint_key,
        checkpoint_every=2,
        checkpoint_interval=None,
        trail_path=tmp_path / "sdk.jsonl",
        set_default=False,
    )
    for i in range(2):
        logger.emit(
            "report.export",
            action="EXPORT",
            actor=f"user-{i}@example.com",
            target=f"report-{i}",
            target_type="report",
            request_id=f"req-{i}",
            details={"format": "csv", "rows": i, "filters": {"region": "eu"}},
        )
    logger.close()
    sdk = [record for _, record in read_items(tmp_path / "sdk.jsonl")]
    writer = bench.StreamWriter(ring, checkpoint_key, 0)
    made = list(writer.records(2))
    # both: event, event, end record; the SDK's with a checkpoint after the second event
    assert sdk[2]["eventName"] == n.CHECKPOINT_EVENT
    assert [shape(r) for r in made] == [shape(r) for r in (sdk[0], sdk[1], sdk[3])]
    other = bench.StreamWriter(ring, checkpoint_key, 1)
    other.event(0)
    other.take()
    [checkpoint] = other.checkpoint()
    assert shape(checkpoint) == shape(sdk[2])


def test_generated_trail_verifies(bench: ModuleType, tmp_path: Path) -> None:
    ring, checkpoint_key = bench.keys()
    path = tmp_path / "bench.jsonl"
    bench.write_trail(path, 2600, 3)
    result = verify(
        [path], keys=ring, public_keys=[checkpoint_key.public_key()], require_closed=True
    )
    assert result.ok and not result.findings
    assert abs(result.records - 2600) <= 6 and len(result.streams) == 3
    assert all(s.closed and s.authenticated == s.records for s in result.streams)
    assert bench.floor(path) == bench.floor_canonical(path) == result.records


def test_benchmark_runs(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = tmp_path / "small.jsonl"
    assert (
        bench.main(["--records", "1500", "--repeat", "1", "--jobs", "1", "--trail", str(trail)])
        == 0
    )
    out = capsys.readouterr().out
    assert "floor: parse + hash each line" in out and "verify --jobs 1" in out
