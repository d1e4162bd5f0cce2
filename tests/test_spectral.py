"""The Spectral ruleset (validators/spectral-audit-rules.yaml), run by the real spectral-cli.

Spectral and `audit-sdk validate-payload` must agree on every payload fixture:
same verdict and the same rule codes. Needs `bash scripts/install-node-tools.sh`
(npm ci in validators/); skipped without it, unless AUDIT_SDK_REQUIRE_NODE_TOOLS=1,
in which case a missing binary fails the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit_sdk._lint.payload import validate_document
from audit_sdk.cloudevent import to_structured_json
from audit_sdk.testing import capture_audit_records

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "validators/spectral-audit-rules.yaml"
SPECTRAL = ROOT / "validators/node_modules/.bin/spectral"
FIXTURES = ROOT / "tests/fixtures/payloads"
GOOD = sorted((FIXTURES / "good").glob("*.json"))
BAD = sorted((FIXTURES / "bad").glob("*.json"))
REQUIRED = os.environ.get("AUDIT_SDK_REQUIRE_NODE_TOOLS") == "1"


@pytest.fixture(scope="module", autouse=True)
def spectral_available() -> None:
    if SPECTRAL.exists():
        return
    message = (
        "validators/node_modules/.bin/spectral is missing: run `bash scripts/install-node-tools.sh`"
    )
    if REQUIRED:
        pytest.fail(message + " (AUDIT_SDK_REQUIRE_NODE_TOOLS=1)")
    pytest.skip(message)


def spectral(paths: Sequence[Path]) -> tuple[int, dict[str, set[str]]]:
    """Run spectral once on `paths`; (exit code, {resolved path: rule codes})."""
    result = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            "--ruleset",
            str(RULESET),
            "--format",
            "json",
            "--quiet",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "SCARF_ANALYTICS": "false", "NO_UPDATE_NOTIFIER": "1"},
    )
    assert result.returncode in (0, 1), result.stderr
    found: dict[str, set[str]] = {str(Path(p).resolve()): set() for p in paths}
    for item in json.loads(result.stdout or "[]"):
        assert item["code"] not in {"parser", "invalid-ruleset"}, item
        found.setdefault(str(Path(item["source"]).resolve()), set()).add(item["code"])
    return result.returncode, found


@cache
def fixture_results() -> dict[str, set[str]]:
    _, found = spectral([*GOOD, *BAD])
    return found


def python_rules(path: Path) -> set[str]:
    _, violations = validate_document(json.loads(path.read_text()))
    return {v.rule for v in violations}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixture_passes_spectral_and_validate_payload(path: Path) -> None:
    assert fixture_results()[str(path.resolve())] == set()
    assert python_rules(path) == set()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_fixture_fails_the_same_rule_in_both(path: Path) -> None:
    rule = path.stem.split("--")[1]
    assert fixture_results()[str(path.resolve())] == {rule}
    assert python_rules(path) == {rule}


def test_exit_codes() -> None:
    assert spectral(GOOD[:2])[0] == 0
    assert spectral(BAD[:1])[0] == 1


def test_fresh_sdk_payloads_pass_both(tmp_path: Path) -> None:
    with capture_audit_records(service_name="spectral-check", checkpoint_every=2) as capture:
        capture.logger.emit(
            "report.export", action="EXPORT", actor="dana", target="r-1", details={"rows": 10}
        )
        capture.logger.emit("report.view", action="READ", outcome="failure")
        capture.logger.close()
        records = list(capture.records)
    paths = []
    for index, record in enumerate(records):
        otlp = tmp_path / f"record-{index}.json"
        otlp.write_text(json.dumps(record.to_otlp()))
        event = tmp_path / f"event-{index}.json"
        event.write_bytes(to_structured_json(record))
        paths += [otlp, event]
    line = tmp_path / "line.json"
    line.write_text(
        json.dumps(
            {
                "resourceLogs": [
                    {
                        "resource": {"attributes": []},
                        "scopeLogs": [
                            {
                                "scope": {"name": "audit_sdk"},
                                "logRecords": [r.to_otlp() for r in records],
                            }
                        ],
                    }
                ]
            }
        )
    )
    paths.append(line)
    code, found = spectral(paths)
    assert code == 0, found
    assert all(python_rules(p) == set() for p in paths)


def test_ruleset_rules_match_the_json_schemas() -> None:
    ruleset: dict[str, Any] = yaml.safe_load(RULESET.read_text())
    schema_rules = set()
    for name in ("otlp-log-record", "cloudevent"):
        schema = json.loads((ROOT / f"src/audit_sdk/schemas/{name}.schema.json").read_text())
        schema_rules |= {entry["title"] for entry in schema["allOf"]}
    spectral_schema_rules = {
        code for code, rule in ruleset["rules"].items() if rule["then"]["function"] == "schema"
    }
    assert spectral_schema_rules == schema_rules
    for function in ruleset["functions"]:
        assert (ROOT / "validators/functions" / f"{function}.js").exists()
