"""`audit-sdk validate-payload` and the payload JSON Schemas (audit_sdk/schemas)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk
from audit_sdk._lint.payload import (
    load_schema,
    parse_documents,
    validate_document,
)
from audit_sdk.cli import main
from audit_sdk.cloudevent import to_structured_json
from audit_sdk.testing import capture_audit_records

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures/payloads"
GOOD = sorted((FIXTURES / "good").glob("*.json"))
BAD = sorted((FIXTURES / "bad").glob("*.json"))


def expected_rule(path: Path) -> str:
    """`<kind>--<rule>[--<variant>].json` -> rule."""
    return path.stem.split("--")[1]


def rules_of(document: Any) -> set[str]:
    _, violations = validate_document(document)
    return {v.rule for v in violations}


def run_cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    old_out, old_in = sys.stdout, sys.stdin
    sys.stdout = out
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(["validate-payload", *args])
    finally:
        sys.stdout, sys.stdin = old_out, old_in
    return code, out.getvalue()


def test_fixture_sets_are_not_empty() -> None:
    assert len(GOOD) >= 8 and len(BAD) >= 30
    kinds = {p.stem.split("--")[0] for p in GOOD + BAD}
    assert kinds == {"otlp", "ce"}


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixture_is_valid(path: Path) -> None:
    assert rules_of(json.loads(path.read_text())) == set()
    code, out = run_cli(str(path))
    assert code == 0, out


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_fixture_breaks_exactly_its_rule(path: Path) -> None:
    assert rules_of(json.loads(path.read_text())) == {expected_rule(path)}
    code, out = run_cli(str(path))
    assert code == 1
    assert f"[{expected_rule(path)}]" in out


def test_every_rule_has_a_bad_fixture() -> None:
    schema_rules = {
        entry["title"] for kind in ("otlp", "cloudevent") for entry in load_schema(kind)["allOf"]
    }
    function_rules = {"audit-otlp-unique-keys", "audit-otlp-timestamp-order", "audit-mirrors"}
    assert schema_rules | function_rules == {expected_rule(p) for p in BAD}


@pytest.mark.parametrize("kind", ["otlp", "cloudevent"])
def test_schemas_are_valid_draft_2020_12(kind: str) -> None:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    titles = [entry["title"] for entry in schema["allOf"]]
    assert len(titles) == len(set(titles))


def test_generated_schemas_and_ruleset_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_payload_rules.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- fresh payloads from the SDK: the schemas track what the SDK emits ---------------------


def _fresh_records() -> list[audit_sdk.AuditRecord]:
    with capture_audit_records(service_name="schema-check", checkpoint_every=2) as capture:
        audit_sdk.audit_event(
            "doc.read",
            action="READ",
            actor="carol",
            target="doc-9",
            target_type="document",
            source="10.0.0.1",
            source_type="ip",
            details={"fields": ["a", "b"]},
            attributes={"size": 12},
        )
        with TracerProvider().get_tracer("t").start_as_current_span("s"):
            audit_sdk.audit_event(
                "doc.delete",
                action="DELETE",
                outcome="unknown",
                actor="svc-1",
                actor_type="service",
                request_id="r-1",
            )
        audit_sdk.audit_event("doc.share", action="SHARE", outcome="failure")
        capture.logger.close()
        return list(capture.records)


def test_fresh_sdk_records_validate_as_otlp_and_cloudevent() -> None:
    records = _fresh_records()
    assert any(r.is_checkpoint for r in records)  # periodic and closing checkpoints
    for record in records:
        assert rules_of(record.to_otlp()) == set(), record.event_name
        event = json.loads(to_structured_json(record))
        assert rules_of(event) == set(), record.event_name


def test_fresh_sdk_trail_file_validates(tmp_path: Path) -> None:
    trail = tmp_path / "audit.jsonl"
    logger = audit_sdk.configure(
        service_name="trail-check",
        keys=audit_sdk.HmacKeyRing.generate(),
        trail_path=trail,
        set_default=False,
        checkpoint_interval=None,
    )
    for n in range(3):
        logger.emit("file.upload", action="UPLOAD", actor=f"user-{n}", target=f"f-{n}")
    logger.close()
    assert trail.exists()
    lines = [line for line in trail.read_text().splitlines() if line.strip()]
    assert lines and all(line.startswith('{"resourceLogs"') for line in lines)
    code, out = run_cli(str(trail))
    assert code == 0, out
    assert "valid" in out


def test_structured_json_bytes_validate_directly(tmp_path: Path) -> None:
    record = _fresh_records()[0]
    path = tmp_path / "event.json"
    path.write_bytes(to_structured_json(record))
    assert run_cli(str(path))[0] == 0


# -- input forms and exit codes ----------------------------------------------------------


def test_array_lines_and_stdin(tmp_path: Path) -> None:
    docs = [json.loads(p.read_text()) for p in GOOD[:3]]
    array = tmp_path / "array.json"
    array.write_text(json.dumps(docs))
    assert run_cli(str(array))[0] == 0
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    assert run_cli(str(lines))[0] == 0
    assert run_cli("-", stdin=json.dumps(docs[0]))[0] == 0
    bad = json.loads((FIXTURES / "bad/otlp--audit-outcome.json").read_text())
    lines.write_text(json.dumps(docs[0]) + "\n" + json.dumps(bad) + "\n")
    code, out = run_cli(str(lines))
    assert code == 1 and "line 2" in out and "[audit-outcome]" in out


@pytest.mark.parametrize("content", ["", "{not json", '{"a": 1}\n{oops'])
def test_unusable_input_exits_2(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    assert run_cli(str(path))[0] == 2


def test_missing_file_and_empty_file_line_exit_2(tmp_path: Path) -> None:
    assert run_cli(str(tmp_path / "nope.json"))[0] == 2
    path = tmp_path / "empty-line.json"
    path.write_text('{"resourceLogs": []}')
    assert run_cli(str(path))[0] == 2


def test_kind_override_and_json_output(tmp_path: Path) -> None:
    event = FIXTURES / "good/ce--event.json"
    code, out = run_cli("--kind", "otlp", "--json", str(event))
    assert code == 1
    report = json.loads(out)
    assert report["violations"] > 0 and report["errors"] == []
    assert "audit-otlp-attribute-list" in {v["rule"] for v in report["files"][0]["violations"]}
    code, out = run_cli("--json", str(event))
    assert code == 0 and json.loads(out)["records"] == 1


def test_file_line_reports_the_record_path() -> None:
    code, out = run_cli(str(FIXTURES / "bad/otlp--audit-outcome--in-file-line.json"))
    assert code == 1
    assert "$.resourceLogs[0].scopeLogs[0].logRecords[1]" in out


def test_pattern_end_anchor_follows_ecma_262() -> None:
    # Python's `$` would accept a trailing newline; Spectral's (JavaScript's) does not.
    docs = parse_documents((FIXTURES / "bad/otlp--audit-action--trailing-newline.json").read_text())
    assert rules_of(docs[0][1]) == {"audit-action"}


def test_normalized_records_need_no_integrity_but_signed_ones_do() -> None:
    azure = json.loads((FIXTURES / "good/otlp--azure-resource-log.json").read_text())
    assert rules_of(azure) == set()
    azure["attributes"] = [a for a in azure["attributes"] if a["key"] != "audit.normalized.by"]
    assert {"audit-integrity", "audit-sequence"} <= rules_of(azure)


def test_cli_kinds_match_the_library() -> None:
    from audit_sdk._cli.validate_payload import KINDS as CLI_KINDS
    from audit_sdk._lint.payload import KINDS

    assert CLI_KINDS == KINDS
