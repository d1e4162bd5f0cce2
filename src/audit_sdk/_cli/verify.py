"""`audit-sdk verify`: check audit trails (SPEC §4) and say exactly what is wrong."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from audit_sdk._cli._trail_options import (
    add_key_and_strictness_arguments,
    load_keys,
    load_public_keys,
)
from audit_sdk._keys import checkpoint_key_id
from audit_sdk._verify._reader import discover
from audit_sdk.verify import UnusableInput, verify

_DESCRIPTION = """\
Verifies OTLP-JSON audit trails (the collector's file exporter output, plain,
rotated or gzip, and the SDK's embedded sink): every MAC, every hash chain,
missing and conflicting records, checkpoint signatures, attribute mirrors,
records after a stream's end and open tails. Records may come from any number
of streams in any order; exact duplicates are ignored.

HMAC keys come from --key, --keys-file and the SDK's variables
(AUDIT_SDK_HMAC_KEY, AUDIT_SDK_HMAC_KEYS + AUDIT_SDK_HMAC_KEY_ID,
AUDIT_SDK_HMAC_KEY_FILE). With only --public-key, chains and
checkpoint-covered prefixes are still verified and records that cannot be
authenticated are reported.

Exit status: 0 no errors, 1 errors found, 2 unusable input or arguments."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify audit trails: MACs, chains, checkpoints, gaps (SPEC §4)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="trail file (.jsonl, .gz) or directory (searched recursively)",
    )
    add_key_and_strictness_arguments(parser)
    parser.add_argument(
        "--receipt",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a signed purge receipt (repeatable; receipts/*.receipt under the given "
        "directories are read too, unless --no-receipts). Checked with --public-key",
    )
    parser.add_argument(
        "--no-receipts",
        action="store_true",
        help="do not read receipts/*.receipt under the given directories",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="spread the work over N processes (0: one per CPU)",
    )
    parser.add_argument(
        "--max-findings",
        type=int,
        default=20,
        metavar="N",
        help="findings listed per stream in the text summary (0: all)",
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from audit_sdk._verify._report import ProgressBar, render_json, render_text

    discover(args.paths)  # a missing path is the first thing to say
    ring = load_keys(args)
    public_keys = load_public_keys(args)
    if ring is None and not public_keys:
        raise UnusableInput(
            "no key to verify with: give --key or --keys-file (or set AUDIT_SDK_HMAC_KEY, "
            "AUDIT_SDK_HMAC_KEYS or AUDIT_SDK_HMAC_KEY_FILE) for MACs, and/or --public-key for "
            "checkpoint signatures"
        )
    if args.jobs < 0:
        raise UnusableInput("--jobs must be 0 (one per CPU) or more")
    jobs = args.jobs or os.cpu_count() or 1
    from audit_sdk._retention import receipt_files

    receipts = [] if args.no_receipts else receipt_files(args.paths)
    receipts += [os.fspath(p) for p in args.receipt if os.fspath(p) not in receipts]
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        bar = ProgressBar(sys.stderr)
    try:
        result = verify(
            args.paths,
            keys=ring,
            public_keys=public_keys,
            require_closed=args.require_closed,
            require_authenticated=args.require_authenticated,
            jobs=jobs,
            progress=bar,
            receipts=receipts,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        sys.stdout.write(render_json(result))
    else:
        sys.stdout.write(
            render_text(
                result,
                max_findings=args.max_findings,
                hmac_key_ids=ring.key_ids if ring is not None else (),
                checkpoint_key_ids=[checkpoint_key_id(k) for k in public_keys],
            )
        )
    return result.exit_code
