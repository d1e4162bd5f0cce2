"""The shipped collector configs: `validate` on every one, plus static checks.

`otelcol-audit validate` runs for the main config and for every overlay in
collector/overlays/. An overlay whose exporter is not built into our minimal
distribution (awss3, awscloudwatchlogs: not downloadable at v0.161.0 here, see
docs/collector.md) is validated with that exporter swapped for an otlp_http
stand-in carrying the same queue/retry settings, and its own options are
checked against the exporter's option names.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CONFIG, OVERLAYS, REPO, base_env

pytestmark = pytest.mark.collector

OVERLAY_FILES = sorted(OVERLAYS.glob("*.yaml"))

# Dummy values for the env vars that overlays require (no default).
DUMMY_ENV = {
    "AUDIT_SIEM_ENDPOINT": "https://siem.invalid:4318",
    "AUDIT_SIEM_AUTHORIZATION": "Bearer dummy-token",
    "AUDIT_S3_BUCKET": "audit-bucket",
    "AUDIT_S3_ROLE_ARN": "arn:aws:iam::123456789012:role/audit-writer",
    "AUDIT_CW_ROLE_ARN": "arn:aws:iam::123456789012:role/audit-writer",
}

# Option names of exporters that are not in our build, for a static check.
# awss3: from the exporter's config.go (v0.165.0 source; v0.161.0 is not
# downloadable here). awscloudwatchlogs: its documented options (the module
# source is not downloadable here at any release).
KNOWN_OPTIONS: dict[str, dict[str, set[str]]] = {
    "awss3": {
        "": {
            "s3uploader", "marshaler", "timeout", "sending_queue", "retry_on_failure",
            "encoding", "encoding_file_extension", "resource_attrs_to_s3",
        },
        "s3uploader": {
            "access_key", "secret_key", "region", "s3_bucket", "s3_base_prefix", "s3_prefix",
            "s3_partition_format", "s3_partition_timezone", "file_prefix", "endpoint",
            "role_arn", "s3_force_path_style", "disable_ssl", "acl", "storage_class",
            "compression", "retry_mode", "retry_max_attempts", "retry_max_backoff",
            "unique_key_func_name",
        },
    },
    "awscloudwatchlogs": {
        "": {
            "log_group_name", "log_stream_name", "log_retention", "tags", "raw_log",
            "endpoint", "region", "role_arn", "external_id", "num_workers",
            "request_timeout_seconds", "max_retries", "no_verify_ssl", "proxy_address",
            "local_mode", "resource_arn", "sending_queue", "retry_on_failure",
        },
    },
}  # fmt: skip
CLOUDWATCH_RETENTION_DAYS = {
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
}  # fmt: skip
STANDIN_KEYS = ("sending_queue", "retry_on_failure", "timeout")


def run_validate(
    binary: Path, configs: list[Path], data_dir: Path
) -> subprocess.CompletedProcess[str]:
    env = base_env(data_dir)
    env.update(DUMMY_ENV)
    args = [str(binary), "validate"]
    for c in configs:
        args += ["--config", str(c)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def built_exporters(binary: Path) -> set[str]:
    out = subprocess.run([str(binary), "components"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    comps = yaml.safe_load(out.stdout)
    return {e["name"] for e in comps.get("exporters") or []}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_main_config_validates(collector_binary: Path, tmp_path: Path) -> None:
    r = run_validate(collector_binary, [CONFIG], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_there_are_overlays() -> None:
    names = {p.name for p in OVERLAY_FILES}
    assert {"s3.yaml", "cloudwatch.yaml", "siem-otlp.yaml"} <= names


@pytest.mark.parametrize("overlay", OVERLAY_FILES, ids=lambda p: p.name)
def test_overlay_validates(collector_binary: Path, tmp_path: Path, overlay: Path) -> None:
    cfg = load(overlay)
    have = built_exporters(collector_binary)
    missing = {
        eid: ecfg
        for eid, ecfg in (cfg.get("exporters") or {}).items()
        if eid.split("/")[0] not in have
    }
    target = overlay
    if missing:
        # Swap each exporter that is not built in for an otlp_http stand-in
        # with the same queue/retry/timeout settings; check its own options.
        renames = {}
        for eid, ecfg in missing.items():
            etype = eid.split("/")[0]
            check_known_options(etype, ecfg or {})
            standin = f"otlp_http/standin-{eid.replace('/', '-')}"
            renames[eid] = standin
            del cfg["exporters"][eid]
            cfg["exporters"][standin] = {"endpoint": "http://127.0.0.1:9"} | {
                k: v for k, v in (ecfg or {}).items() if k in STANDIN_KEYS
            }
        for p in (cfg.get("service", {}).get("pipelines") or {}).values():
            p["exporters"] = [renames.get(e, e) for e in p.get("exporters", [])]
        target = tmp_path / f"standin-{overlay.name}"
        target.write_text(yaml.safe_dump(cfg))
    r = run_validate(collector_binary, [CONFIG, target], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def check_known_options(etype: str, ecfg: dict[str, Any]) -> None:
    known = KNOWN_OPTIONS.get(etype)
    assert known is not None, f"no option list for exporter type {etype}"
    for section, names in known.items():
        sub = ecfg if section == "" else ecfg.get(section, {})
        unknown = set(sub) - names
        assert not unknown, f"{etype} {section or 'top-level'}: unknown options {unknown}"
    if etype == "awscloudwatchlogs":
        m = re.fullmatch(r"\$\{env:[A-Z_]+:-(\d+)\}", str(ecfg["log_retention"]))
        days = int(m.group(1)) if m else int(ecfg["log_retention"])
        assert days in CLOUDWATCH_RETENTION_DAYS


@pytest.mark.parametrize("overlay", OVERLAY_FILES, ids=lambda p: p.name)
def test_overlay_keeps_base_exporters(overlay: Path) -> None:
    """Lists are replaced on merge: an overlay must repeat the base exporters."""
    base = load(CONFIG)["service"]["pipelines"]
    for name, p in (load(overlay).get("service", {}).get("pipelines") or {}).items():
        if "exporters" in p:
            assert set(base[name]["exporters"]) <= set(p["exporters"]), name


def test_overlay_network_exporters_are_durable() -> None:
    for overlay in OVERLAY_FILES:
        for eid, ecfg in (load(overlay).get("exporters") or {}).items():
            retry = ecfg.get("retry_on_failure", {})
            assert retry.get("enabled") is True, (overlay.name, eid)
            assert retry.get("max_elapsed_time") == 0, (overlay.name, eid)
            q = ecfg.get("sending_queue")
            if q is not None:
                assert q.get("storage") == "file_storage", (overlay.name, eid)


# --- static checks of the main config ------------------------------------------


def test_filters_are_exact_complements() -> None:
    procs = load(CONFIG)["processors"]
    (keep_compliant,) = procs["filter/compliant"]["logs"]["log_record"]
    (keep_noncompliant,) = procs["filter/noncompliant"]["logs"]["log_record"]
    # filter drops a record when its condition is true
    assert keep_compliant == "not " + keep_noncompliant
    assert keep_noncompliant.startswith("(") and keep_noncompliant.endswith(")")
    for name in ("filter/compliant", "filter/noncompliant"):
        # a condition that errors keeps the record (lands in >= 1 store)
        assert procs[name]["error_mode"] == "ignore"
    for key in (
        "audit.record.id", "audit.actor.id", "audit.actor.type", "audit.action",
        "audit.outcome", "cloudevents.event_id",
    ):  # fmt: skip
        assert f'log.attributes["{key}"] != nil' in keep_noncompliant
        assert f'log.attributes["{key}"] != ""' in keep_noncompliant
    assert 'log.event_name != ""' in keep_noncompliant


def test_every_transform_statement_spares_signed_records() -> None:
    procs = load(CONFIG)["processors"]
    guard = 'log.attributes["audit.integrity.value"] == nil'
    transforms = [k for k in procs if k.split("/")[0] == "transform"]
    assert transforms
    for name in transforms:
        for group in procs[name]["log_statements"]:
            # the group is skipped for signed records, and each statement guards itself too
            assert group["conditions"] == [guard], name
            for st in group["statements"]:
                _, _, where = st.partition(" where ")
                assert where.startswith(guard + " and ") or where == guard, (name, st)
                assert "audit.integrity" not in st.replace(guard, ""), (name, st)


def test_topology_never_drops() -> None:
    cfg = load(CONFIG)
    pipes = cfg["service"]["pipelines"]
    assert pipes["logs/intake"]["processors"][0] == "memory_limiter"
    assert pipes["logs/intake"]["exporters"] == ["forward/split"]
    assert pipes["logs/audit"]["receivers"] == ["forward/split"]
    assert pipes["logs/quarantine"]["receivers"] == ["forward/split"]
    assert pipes["logs/audit"]["processors"] == ["filter/compliant"]
    assert pipes["logs/quarantine"]["processors"][0] == "filter/noncompliant"
    all_procs = [p for pl in pipes.values() for p in pl.get("processors", [])]
    assert not any(p.split("/")[0] == "batch" for p in all_procs)
    for name in ("file/audit", "file/quarantine"):
        e = cfg["exporters"][name]
        assert e["format"] == "json"
        # rotation or append: never truncate at start
        assert ("rotation" in e) != bool(e.get("append"))
        if "rotation" in e:
            assert e["rotation"]["max_backups"] == 0 and e["rotation"]["max_days"] == 0


def test_builder_manifest_has_exactly_the_components_used() -> None:
    manifest = load(REPO / "collector" / "builder-config.yaml")
    built: dict[str, set[str]] = {}
    for kind in ("receivers", "processors", "exporters", "extensions", "connectors"):
        built[kind] = {m["gomod"].split()[0].rsplit("/", 1)[1] for m in manifest.get(kind, [])}
    used: dict[str, set[str]] = {k: set() for k in built}
    for path in [CONFIG, *OVERLAY_FILES]:
        cfg = load(path)
        for kind in used:
            used[kind] |= {i.split("/")[0] for i in (cfg.get(kind) or {})}
    module_of = {
        "otlp": "otlpreceiver", "memory_limiter": "memorylimiterprocessor",
        "transform": "transformprocessor", "filter": "filterprocessor",
        "forward": "forwardconnector", "file": "fileexporter", "otlp_http": "otlphttpexporter",
        "fluentforward": "fluentforwardreceiver",
        "awss3": "awss3exporter", "awscloudwatchlogs": "awscloudwatchlogsexporter",
        "health_check": "healthcheckextension", "file_storage": "filestorage",
    }  # fmt: skip
    not_built_here = {"awss3exporter", "awscloudwatchlogsexporter"}  # docs/collector.md
    for kind in used:
        want = {module_of[t] for t in used[kind]} - not_built_here
        assert built[kind] == want, kind
    for m in [m for k in built for m in manifest.get(k, [])]:
        ver = m["gomod"].split()[1]
        assert ver in {"v0.161.0", "v1.67.0"}, m
