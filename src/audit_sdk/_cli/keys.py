"""`audit-sdk keygen`: make an HMAC key file and an Ed25519 checkpoint key pair."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_sdk._errors import KeyConfigurationError
from audit_sdk._keys import HmacKeyRing, checkpoint_key_id, private_key_pem, public_key_pem


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


def write_key_set(
    directory: Path, *, key_id: str = "default", force: bool = False
) -> dict[str, Path]:
    """Create the three key files; refuses to overwrite unless `force`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "hmac": directory / "hmac-keys.json",
        "checkpoint_private": directory / "checkpoint-key.pem",
        "checkpoint_public": directory / "checkpoint-key.pub.pem",
    }
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise KeyConfigurationError(f"refusing to overwrite {', '.join(existing)} (use --force)")
    HmacKeyRing.generate(key_id).write_file(paths["hmac"])
    private = Ed25519PrivateKey.generate()
    fd = os.open(paths["checkpoint_private"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(private))
    paths["checkpoint_public"].write_bytes(public_key_pem(private.public_key()))
    return paths


def run(args: argparse.Namespace) -> int:
    paths = write_key_set(args.directory, key_id=args.key_id, force=args.force)
    from audit_sdk._keys import load_checkpoint_public_key

    key_id = checkpoint_key_id(load_checkpoint_public_key(paths["checkpoint_public"]))
    for label, path in paths.items():
        print(f"{label}: {path}")
    print(f"checkpoint key id: {key_id}")
    return 0
