"""Entry point of the config linter: detect each file's kind, merge overlays, run the rules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit_sdk._lint.collector import is_collector_config, lint_collector
from audit_sdk._lint.findings import Finding
from audit_sdk._lint.fluentbit import (
    is_fluentbit_yaml,
    lint_fluentbit,
    parse_classic,
    parse_fluentbit_yaml,
)
from audit_sdk._lint.nodes import ConfigError, Node, load_yaml, merge

__all__ = ["KINDS", "LintResult", "lint_collector_files", "lint_file"]

KINDS = ("auto", "collector", "fluent-bit")


@dataclass(slots=True)
class LintResult:
    """Findings for one unit (a file, or a base config with its overlays)."""

    files: list[str]
    kind: str
    findings: list[Finding] = field(default_factory=list)


def _duplicates(node: Node) -> Iterator[Finding]:
    for key, loc in node.duplicates:
        yield Finding("duplicate-key", loc, f"key {key!r} appears more than once in this map; "
                      "PyYAML keeps the last one, the collector refuses the file")
    for _, child in node.items():
        yield from _duplicates(child)
    for child in node.elements():
        yield from _duplicates(child)


def _sniff_classic(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    for line in head.splitlines():
        stripped = line.strip().upper()
        if stripped.startswith(("[SERVICE]", "[INPUT]", "[OUTPUT]", "[FILTER]", "@INCLUDE")):
            return True
    return False


def lint_collector_files(paths: Sequence[Path]) -> LintResult:
    """Lint one collector configuration given as a base file and overlays, in order."""
    if not paths:
        raise ConfigError("no collector configuration given")
    findings: list[Finding] = []
    merged: Node | None = None
    for path in paths:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory")
        root = load_yaml(path)
        if not root.is_map:
            raise ConfigError(f"{path}: a collector configuration must be a YAML map")
        findings.extend(_duplicates(root))
        merged = root if merged is None else merge(merged, root)
    assert merged is not None
    findings.extend(lint_collector(merged))
    return LintResult([str(p) for p in paths], "collector", _sorted(findings))


def lint_file(path: Path, kind: str = "auto") -> LintResult:
    """Lint one file: a collector YAML, a Fluent Bit `.conf` or a Fluent Bit YAML."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory")
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if kind == "collector":
        return lint_collector_files([path])
    if (kind == "fluent-bit" and suffix not in {".yaml", ".yml"}) or (
        kind == "auto" and (suffix == ".conf" or (suffix not in {".yaml", ".yml"}
                                                  and _sniff_classic(path)))
    ):
        config = parse_classic(path)
        return LintResult([str(path)], "fluent-bit", _sorted(lint_fluentbit(config)))
    root = load_yaml(path)
    if kind == "fluent-bit" or (kind == "auto" and is_fluentbit_yaml(root)
                                and not is_collector_config(root)):
        findings = list(_duplicates(root))
        findings.extend(lint_fluentbit(parse_fluentbit_yaml(root, path)))
        return LintResult([str(path)], "fluent-bit", _sorted(findings))
    if is_collector_config(root):
        return lint_collector_files([path])
    raise ConfigError(f"{path}: neither an OpenTelemetry Collector nor a Fluent Bit "
                      "configuration (use --kind to say which)")


def _sorted(findings: list[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.loc.file, f.loc.line, f.rule))
