"""`audit-sdk report PATH... -o report.html`: a self-contained HTML evidence report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from audit_sdk._cli._trail_options import (
    add_key_and_strictness_arguments,
    load_keys,
    load_public_keys,
)
from audit_sdk.verify import UnusableInput


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML evidence report of an audit trail",
        description="Verifies the trail files and directories in PATH (as `audit-sdk verify` "
        "does) and writes one HTML page for an auditor: verification status per stream, "
        "events over time, outcomes by action and actor, failures and denied actions, gaps "
        "and findings, key ids and checkpoint coverage. Exit status: 0 when the trail "
        "verified without errors, 1 when the report shows errors, 2 when nothing could be "
        "read or written.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trail files or directories")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    add_key_and_strictness_arguments(parser)
    parser.add_argument("--title", default=None, help="the report's title")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from audit_sdk.report import DEFAULT_TITLE, write_report

    keys = load_keys(args)
    public_keys = load_public_keys(args)
    if keys is None and not public_keys:
        raise UnusableInput(
            "no key to verify with: give --keys-file (or set AUDIT_SDK_HMAC_KEY, "
            "AUDIT_SDK_HMAC_KEYS or AUDIT_SDK_HMAC_KEY_FILE) and/or --public-key"
        )
    try:
        report = write_report(
            args.paths,
            args.output,
            keys=keys,
            public_keys=public_keys,
            require_closed=args.require_closed,
            require_authenticated=args.require_authenticated,
            title=args.title or DEFAULT_TITLE,
        )
    except OSError as exc:
        print(f"audit-sdk: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    result = report.verification
    verdict = "OK" if result.ok else "FAILED"
    print(
        f"report: {args.output} ({len(result.streams)} stream(s), {result.records} record(s); "
        f"verification {verdict}: {len(result.errors)} error(s), "
        f"{len(result.warnings)} warning(s))"
    )
    return result.exit_code
