"""`audit-sdk keygen`: make an HMAC key file and an Ed25519 checkpoint key pair."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from audit_sdk._keys import checkpoint_key_id, load_checkpoint_public_key, write_key_files


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="create an HMAC key file and an Ed25519 checkpoint key pair",
        description="Writes DIR/hmac-keys.json (SPEC §5 key file, mode 0600), "
        "DIR/checkpoint-key.pem (private, 0600) and DIR/checkpoint-key.pub.pem. "
        "Prints the file names and the checkpoint key id, never a key.",
    )
    parser.add_argument("directory", type=Path, help="where to write the key files")
    parser.add_argument("--key-id", default="default", help="id of the new HMAC key")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    paths = write_key_files(args.directory, key_id=args.key_id, force=args.force)
    key_id = checkpoint_key_id(load_checkpoint_public_key(paths["checkpoint_public"]))
    for label, path in paths.items():
        print(f"{label}: {path}")
    print(f"checkpoint key id: {key_id}")
    return 0
