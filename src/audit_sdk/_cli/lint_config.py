"""`audit-sdk lint-config`: what breaks an audit pipeline in collector and Fluent Bit configs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from audit_sdk._lint.config import KINDS, LintResult, lint_collector_files, lint_file
from audit_sdk._lint.findings import RULES
from audit_sdk._lint.nodes import ConfigError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lint-config",
        help="check collector / Fluent Bit configs for what breaks an audit pipeline",
        description="Reads OpenTelemetry Collector YAML (with overlays) and Fluent Bit "
        "configurations (classic .conf or YAML) and reports, with file and line, what breaks "
        "an audit pipeline: batching, in-memory queues, retries that give up, truncating "
        "file exporters, missing quarantine routes or attribute checks, remote exporters "
        "without TLS or authentication, AWS outputs without role_arn, CloudWatch without "
        "retention. Exit 0 clean, 1 findings, 2 unusable input. Rules: docs/lint-config.md.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="configuration files, each linted on its own")
    parser.add_argument("-c", "--config", action="append", type=Path, default=[],
                        metavar="FILE",
                        help="a collector config file; repeat it for overlays, merged in "
                        "order like `otelcol --config a --config b` (one configuration)")
    parser.add_argument("--base", type=Path, metavar="FILE",
                        help="merge each collector PATH on top of this base config (to lint "
                        "overlays one by one)")
    parser.add_argument("--kind", choices=KINDS, default="auto",
                        help="what the PATHs are (default: detect)")
    parser.add_argument("--ignore", action="append", default=[], metavar="RULE",
                        help="do not report this rule (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        for rule, summary in RULES.items():
            print(f"{rule}: {summary}")
        return EXIT_OK
    unknown = [rule for rule in args.ignore if rule not in RULES]
    if unknown:
        print(f"audit-sdk: error: unknown rule(s) for --ignore: {', '.join(unknown)}",
              file=sys.stderr)
        return EXIT_USAGE
    if not args.paths and not args.config:
        print("audit-sdk: error: give at least one PATH or --config FILE", file=sys.stderr)
        return EXIT_USAGE
    results: list[LintResult] = []
    errors: list[str] = []
    units: list[tuple[list[Path], str]] = []
    if args.config:
        units.append((list(args.config), "collector"))
    for path in args.paths:
        units.append(([path], args.kind))
    for paths, kind in units:
        try:
            if len(paths) > 1:
                results.append(lint_collector_files(paths))
            elif args.base is not None and kind in {"auto", "collector"} and _is_yaml(paths[0]):
                results.append(_lint_on_base(args.base, paths[0], kind))
            else:
                results.append(lint_file(paths[0], kind))
        except ConfigError as exc:
            errors.append(str(exc))
    ignored = set(args.ignore)
    for result in results:
        result.findings = [f for f in result.findings if f.rule not in ignored]
    total = sum(len(r.findings) for r in results)
    if args.json:
        print(json.dumps({
            "results": [{"files": r.files, "kind": r.kind,
                         "findings": [f.as_dict() for f in r.findings]} for r in results],
            "errors": errors,
            "findings": total,
        }, indent=2))
    else:
        for result in results:
            for finding in result.findings:
                print(finding.render())
        for error in errors:
            print(f"audit-sdk: error: {error}", file=sys.stderr)
        units_text = f"{len(results)} configuration{'s' if len(results) != 1 else ''}"
        print(f"lint-config: {total} finding{'s' if total != 1 else ''} in {units_text}",
              file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if total else EXIT_OK


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in {".yaml", ".yml"}


def _lint_on_base(base: Path, path: Path, kind: str) -> LintResult:
    if path.resolve() == base.resolve():
        return lint_collector_files([base])
    if kind == "auto":
        from audit_sdk._lint.collector import is_collector_config
        from audit_sdk._lint.fluentbit import is_fluentbit_yaml
        from audit_sdk._lint.nodes import load_yaml

        root = load_yaml(path)
        if is_fluentbit_yaml(root) and not is_collector_config(root):
            return lint_file(path, kind)
    return lint_collector_files([base, path])
