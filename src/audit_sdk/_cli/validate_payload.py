"""`audit-sdk validate-payload`: check emitted payloads against the record contract's schemas."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
# = audit_sdk._lint.payload.KINDS; that module is imported lazily (it needs jsonschema).
KINDS = ("otlp", "cloudevent")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate-payload",
        help="validate OTLP-JSON log records and structured CloudEvents against the contract",
        description="Checks each FILE (a JSON object, a JSON array, or OTLP file lines "
        "{\"resourceLogs\": [...]}, one per line; '-' reads stdin) against the JSON Schemas of "
        "audit-sdk (audit_sdk/schemas) plus the checks JSON Schema cannot express, the same "
        "rules as validators/spectral-audit-rules.yaml. The kind of each object is detected "
        "(specversion: CloudEvent; resourceLogs: OTLP file line; else one OTLP log record) "
        "unless --kind says it. Exit 0 valid, 1 violations, 2 unusable input.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="payload files ('-' = stdin)")
    parser.add_argument("--kind", choices=KINDS, help="treat every record as this kind")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="print violations only")
    parser.set_defaults(handler=run)


def _read(name: str, error: type[Exception]) -> str:
    if name == "-":
        return sys.stdin.read()
    path = Path(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise error("not UTF-8 text") from None


def run(args: argparse.Namespace) -> int:
    try:
        from audit_sdk._lint.payload import PayloadError, parse_documents, validate_document
    except ImportError as exc:  # jsonschema is not installed
        print(f"audit-sdk: error: validate-payload needs the jsonschema package ({exc})",
              file=sys.stderr)
        return EXIT_USAGE
    report: list[dict[str, Any]] = []
    errors: list[str] = []
    total_records = total_violations = 0
    for name in args.files:
        try:
            documents = parse_documents(_read(name, PayloadError))
            file_violations: list[tuple[str, Any]] = []
            records = 0
            for label, document in documents:
                count, violations = validate_document(document, args.kind)
                records += count
                file_violations.extend((label, v) for v in violations)
        except PayloadError as exc:
            errors.append(f"{name}: {exc}")
            continue
        total_records += records
        total_violations += len(file_violations)
        report.append({
            "file": name,
            "records": records,
            "violations": [{"document": label, **v.as_dict()} for label, v in file_violations],
        })
        if not args.json:
            for label, violation in file_violations:
                prefix = f"{name}: {label}: " if label else f"{name}: "
                print(prefix + violation.render())
            if not args.quiet and not file_violations:
                print(f"{name}: {records} record{'s' if records != 1 else ''} valid")
    if args.json:
        print(json.dumps({"files": report, "errors": errors, "records": total_records,
                          "violations": total_violations}, indent=2))
    else:
        for error in errors:
            print(f"audit-sdk: error: {error}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if total_violations else EXIT_OK
