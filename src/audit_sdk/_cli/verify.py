"""`audit-sdk verify`: check audit trails (SPEC §4) and say exactly what is wrong."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from audit_sdk._errors import KeyConfigurationError
from audit_sdk._keys import (
    HmacKeyRing,
    _decode_key,
    checkpoint_key_id,
    load_checkpoint_public_key,
)
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
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ID=]BASE64|[ID=]@FILE",
        help="an HMAC key, standard base64 or @file holding it; key id 'default' "
        "unless ID= is given (repeatable). Prefer --keys-file: arguments are "
        "visible to other users of the machine",
    )
    parser.add_argument(
        "--keys-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help='an SDK key file {"active": ID, "keys": {ID: BASE64}} (repeatable)',
    )
    parser.add_argument(
        "--no-env-keys",
        action="store_true",
        help="ignore the AUDIT_SDK_HMAC_KEY* environment variables",
    )
    parser.add_argument(
        "--public-key",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="Ed25519 checkpoint public key in PEM (repeatable)",
    )
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
    parser.add_argument(
        "--require-closed",
        action="store_true",
        help="a stream without an end record is an error, not a warning",
    )
    parser.add_argument(
        "--require-authenticated",
        action="store_true",
        help="records that no MAC or checkpoint authenticates are errors",
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


def _key_entry(text: str) -> tuple[str, str]:
    """`[ID=]BASE64` or `[ID=]@FILE` -> (key id, base64 text)."""
    key_id, sep, value = text.partition("=")
    if not sep or not value.strip("="):  # plain base64, possibly with '=' padding
        key_id, value = "default", text
    if value.startswith("@"):
        path = value[1:]
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KeyConfigurationError(f"--key: {path} cannot be read ({exc.strerror})") from None
    return key_id, value


def load_keys(args: argparse.Namespace) -> HmacKeyRing | None:
    keys: dict[str, bytes] = {}
    if not args.no_env_keys:
        ring = HmacKeyRing.from_env()
        if ring is not None:
            keys.update({kid: key for kid in ring.key_ids if (key := ring.get(kid)) is not None})
    for path in args.keys_file:
        ring = HmacKeyRing.from_file(path)
        keys.update({kid: key for kid in ring.key_ids if (key := ring.get(kid)) is not None})
    for text in args.key:
        key_id, value = _key_entry(text)
        keys[key_id] = _decode_key(key_id, value, "--key")
    if not keys:
        return None
    return HmacKeyRing(keys, next(iter(keys)))


def run(args: argparse.Namespace) -> int:
    from audit_sdk._verify._report import ProgressBar, render_json, render_text

    discover(args.paths)  # a missing path is the first thing to say
    ring = load_keys(args)
    public_keys = [load_checkpoint_public_key(path) for path in args.public_key]
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
