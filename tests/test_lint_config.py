"""`audit-sdk lint-config`: collector YAML (with overlays) and Fluent Bit configs."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit_sdk._lint.config import lint_collector_files, lint_file
from audit_sdk._lint.findings import RULES
from audit_sdk._lint.fluentbit import parse_classic
from audit_sdk._lint.nodes import ConfigError, load_yaml_text, merge
from audit_sdk.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures/configs"
BASE_FIXTURE = FIXTURES / "good/collector-minimal.yaml"
GOOD = sorted((FIXTURES / "good").iterdir())
BAD = sorted((FIXTURES / "bad").iterdir())

SHIPPED_BASE = ROOT / "collector/otelcol-audit.yaml"
SHIPPED_OVERLAYS = sorted((ROOT / "collector/overlays").glob("*.yaml"))
SHIPPED_FLUENTBIT = sorted(
    [*ROOT.glob("collector/fluent-bit*.conf"), *ROOT.glob("collector/fluent-bit*.yaml")]
)

# Findings against shipped overlays that the collector config owner still has
# to fix (reported; delete an entry once its overlay is fixed). Anything NOT
# listed here fails the test.


def expected_rule(path: Path) -> str:
    """`[overlay--]<rule>[--<variant>].<ext>` -> rule."""
    name = path.name.removeprefix("overlay--")
    return name.split(".", 1)[0].split("--")[0]


def lint(path: Path) -> set[str]:
    if path.name.startswith("overlay--"):
        result = lint_collector_files([BASE_FIXTURE, path])
    else:
        result = lint_file(path)
    return {f.rule for f in result.findings}


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    old = sys.stdout
    sys.stdout = out
    try:
        code = main(["lint-config", *args])
    finally:
        sys.stdout = old
    return code, out.getvalue()


# -- fixtures --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixture_is_clean(path: Path) -> None:
    assert lint(path) == set()


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_fixture_fails_for_its_own_reason(path: Path) -> None:
    assert lint(path) == {expected_rule(path)}
    overlay = path.name.startswith("overlay--")
    args = ["--base", str(BASE_FIXTURE), str(path)] if overlay else [str(path)]
    code, out = run_cli(*args)
    assert code == 1
    assert f"[{expected_rule(path)}]" in out


def test_every_rule_but_invalid_config_has_a_bad_fixture() -> None:
    covered = {expected_rule(p) for p in BAD}
    assert set(RULES) - covered == {"invalid-config"}


def test_bad_fixtures_cover_both_fluent_bit_formats() -> None:
    names = [p.name for p in BAD if "--fluentbit" in p.name]
    assert any(n.endswith(".conf") for n in names) and any(n.endswith(".yaml") for n in names)


# -- our shipped configurations -------------------------------------------------------------------


def test_shipped_collector_config_is_clean() -> None:
    assert SHIPPED_BASE.exists()
    findings = lint_collector_files([SHIPPED_BASE]).findings
    assert findings == [], "\n".join(f.render() for f in findings)


@pytest.mark.parametrize("overlay", SHIPPED_OVERLAYS, ids=lambda p: p.name)
def test_shipped_overlay_on_base(overlay: Path) -> None:
    findings = lint_collector_files([SHIPPED_BASE, overlay]).findings
    assert findings == [], "\n".join(f.render() for f in findings)


def test_fluentforward_overlay_is_clean() -> None:
    overlay = ROOT / "collector/overlays/fluentforward.yaml"
    assert lint_collector_files([SHIPPED_BASE, overlay]).findings == []


@pytest.mark.parametrize("path", SHIPPED_FLUENTBIT, ids=lambda p: p.name)
def test_shipped_fluent_bit_config_is_clean(path: Path) -> None:
    result = lint_file(path)
    assert result.kind == "fluent-bit"
    assert result.findings == [], "\n".join(f.render() for f in result.findings)


def test_shipped_fluent_bit_configs_exist_in_both_formats() -> None:
    assert {p.suffix for p in SHIPPED_FLUENTBIT} == {".conf", ".yaml"}
    conf = parse_classic(ROOT / "collector/fluent-bit-audit.conf")
    [output] = conf.of("OUTPUT")
    assert output.name == "forward" and output.value("port") == "8006"


# -- the shell wrapper ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_wrapper_script_exit_codes() -> None:
    script = str(ROOT / "scripts/validate_audit_config.sh")
    env_cmd = f"{sys.executable} -m audit_sdk.cli"
    env = {"AUDIT_SDK": env_cmd, "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", script, *args], capture_output=True, text=True, env=env, check=False
        )

    assert run(str(BASE_FIXTURE)).returncode == 0
    bad = run(str(FIXTURES / "bad/retry-gives-up.yaml"))
    assert bad.returncode == 1 and "[retry-gives-up]" in bad.stdout
    assert run(str(FIXTURES / "missing.yaml")).returncode == 2
    shipped = run()  # our shipped configs pass
    assert shipped.returncode == 0, shipped.stdout
    assert re.findall(r"\[([a-z-]+)\]", shipped.stdout) == []


# -- line numbers, overlays and merge semantics ---------------------------------------------------


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_findings_point_at_the_offending_line() -> None:
    path = FIXTURES / "bad/retry-gives-up.yaml"
    [finding] = lint_file(path).findings
    assert finding.loc.line == _line_of(path, "max_elapsed_time: 300s")
    path = FIXTURES / "bad/batch-before-audit-exporter.yaml"
    [finding] = lint_file(path).findings
    assert finding.loc.line == _line_of(path, "processors: [memory_limiter, batch]")
    path = FIXTURES / "bad/retry-gives-up--fluentbit.conf"
    [finding] = lint_file(path).findings
    assert finding.loc.line == _line_of(path, "Retry_Limit")


def test_overlay_findings_name_the_overlay_file() -> None:
    overlay = FIXTURES / "bad/overlay--cloudwatch-no-retention--invalid-days.yaml"
    [finding] = lint_collector_files([BASE_FIXTURE, overlay]).findings
    assert finding.loc.file == str(overlay)
    assert finding.loc.line == _line_of(overlay, "log_retention: 10")


def test_merge_is_deep_for_maps_and_replaces_lists() -> None:
    base = load_yaml_text("a:\n  b: 1\n  c: [1, 2]\n  d: {e: 1}\n", "base.yaml")
    over = load_yaml_text("a:\n  c: [3]\n  d: {f: 2}\n  g: x\n", "over.yaml")
    merged = merge(base, over)
    assert merged.plain() == {"a": {"b": 1, "c": [3], "d": {"e": 1, "f": 2}, "g": "x"}}
    node = merged.path("a", "c")
    assert node is not None and node.at.file == "over.yaml" and node.at.line == 2
    node = merged.path("a", "b")
    assert node is not None and node.at.file == "base.yaml" and node.at.line == 2


def test_config_option_merges_overlays_in_order(tmp_path: Path) -> None:
    overlay = tmp_path / "retry.yaml"
    overlay.write_text(
        "exporters:\n  otlp_grpc/siem:\n    retry_on_failure:\n      enabled: false\n"
    )
    code, out = run_cli("-c", str(BASE_FIXTURE), "-c", str(overlay))
    assert code == 1
    assert f"{overlay}:4: [retry-gives-up]" in out


# -- judging values -------------------------------------------------------------------------------


def _collector_with_siem(tmp_path: Path, exporter: str) -> Path:
    text = BASE_FIXTURE.read_text()
    start = text.index("  otlp_grpc/siem:")
    end = text.index("\nservice:")
    path = tmp_path / "collector.yaml"
    path.write_text(text[:start] + exporter + text[end:])
    return path


def test_loopback_destinations_need_neither_tls_nor_auth(tmp_path: Path) -> None:
    path = _collector_with_siem(
        tmp_path,
        """  otlp_grpc/siem:
    endpoint: http://127.0.0.1:4317
    sending_queue: {storage: file_storage}
    retry_on_failure: {max_elapsed_time: 0}
""",
    )
    assert lint_file(path).findings == []


def test_env_defaults_are_judged_and_unset_env_is_not(tmp_path: Path) -> None:
    path = _collector_with_siem(
        tmp_path,
        """  otlp_grpc/siem:
    endpoint: ${env:SIEM:-http://siem.example.com:4318}
    headers: {Authorization: "${env:SIEM_AUTH}"}
    sending_queue: {storage: file_storage}
    retry_on_failure: {max_elapsed_time: "${env:SIEM_RETRY}"}
""",
    )
    assert {f.rule for f in lint_file(path).findings} == {"remote-exporter-no-tls"}
    path = _collector_with_siem(
        tmp_path,
        """  otlp_grpc/siem:
    endpoint: ${env:SIEM}
    headers: {Authorization: "${env:SIEM_AUTH}"}
    sending_queue: {storage: file_storage}
    retry_on_failure: {max_elapsed_time: 0s}
""",
    )
    assert lint_file(path).findings == []


def test_kafka_needs_tls_and_sasl(tmp_path: Path) -> None:
    path = _collector_with_siem(
        tmp_path,
        """  kafka/siem:
    brokers: [kafka.example.com:9092]
    sending_queue: {storage: file_storage}
    retry_on_failure: {max_elapsed_time: 0}
  otlp_grpc/siem:
    endpoint: 127.0.0.1:4317
    sending_queue: {storage: file_storage}
    retry_on_failure: {max_elapsed_time: 0}
""",
    )
    text = path.read_text().replace(
        "exporters: [file/audit, otlp_grpc/siem]", "exporters: [file/audit, kafka/siem]"
    )
    path.write_text(text)
    assert {f.rule for f in lint_file(path).findings} == {
        "remote-exporter-no-tls",
        "remote-exporter-no-auth",
    }


# -- Fluent Bit parsing ---------------------------------------------------------------------------


def test_classic_parser_follows_include_and_set(tmp_path: Path) -> None:
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs/forward.conf").write_text(
        "[OUTPUT]\n    name   forward\n    MATCH  ${TAG}\n    host   127.0.0.1\n"
        "    retry_limit False\n"
    )
    main_conf = tmp_path / "fluent-bit.conf"
    main_conf.write_text(
        "@SET TAG=audit.*\n# comment\n[SERVICE]\n    storage.path /var/lib/fb\n\n"
        "[INPUT]\n    Name tail\n    Tag  audit.x\n    DB   /var/lib/fb/db\n"
        "    storage.type filesystem\n@INCLUDE outputs/*.conf\n"
    )
    config = parse_classic(main_conf)
    [output] = config.of("OUTPUT")
    assert output.value("match") == "audit.*"
    assert output.value("host") == "127.0.0.1"
    assert lint_file(main_conf).findings == []


def test_fluent_bit_yaml_header_list_and_auth(tmp_path: Path) -> None:
    path = tmp_path / "fb.yaml"
    path.write_text("""service:
  storage.path: /var/lib/fb
pipeline:
  inputs:
    - name: tail
      tag: audit.t
      db: /var/lib/fb/db
      storage.type: filesystem
  outputs:
    - name: http
      match: "*"
      host: siem.example.com
      tls: "on"
      header:
        - Authorization Bearer ${TOKEN}
        - X-Source fluent-bit
      retry_limit: no_limits
""")
    assert lint_file(path).findings == []


# -- unusable input and CLI options ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content,name",
    [
        ("exporters: [unclosed\n", "broken.yaml"),
        ("just: a map\n", "other.yaml"),
        ("key outside a section\n[INPUT]\n    Name tail\n", "fb.conf"),
        ("[INPUT]\n@INCLUDE missing/*.conf\n", "inc.conf"),
    ],
)
def test_unusable_input_exits_2(tmp_path: Path, content: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError):
        lint_file(path)
    assert run_cli(str(path))[0] == 2


def test_missing_path_and_no_path_exit_2(tmp_path: Path) -> None:
    assert run_cli(str(tmp_path / "missing.yaml"))[0] == 2
    assert run_cli()[0] == 2
    assert run_cli("--ignore", "no-such-rule", str(BASE_FIXTURE))[0] == 2


def test_ignore_json_and_list_rules() -> None:
    bad = str(FIXTURES / "bad/retry-gives-up.yaml")
    assert run_cli("--ignore", "retry-gives-up", bad)[0] == 0
    code, out = run_cli("--json", bad)
    report = json.loads(out)
    assert code == 1 and report["findings"] == 1
    [finding] = report["results"][0]["findings"]
    assert finding["rule"] == "retry-gives-up" and finding["line"] > 0
    code, out = run_cli("--list-rules")
    assert code == 0 and all(rule in out for rule in RULES)


def test_every_rule_is_documented() -> None:
    doc = (ROOT / "docs/lint-config.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in doc, rule
