"""Options shared by the commands that verify a trail (`verify`, `report`): keys and strictness."""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_sdk._errors import KeyConfigurationError
from audit_sdk._keys import HmacKeyRing, _decode_key, load_checkpoint_public_key

__all__ = ["add_key_and_strictness_arguments", "load_keys", "load_public_keys"]


def add_key_and_strictness_arguments(parser: argparse.ArgumentParser) -> None:
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
        "--require-closed",
        action="store_true",
        help="a stream without an end record is an error, not a warning",
    )
    parser.add_argument(
        "--require-authenticated",
        action="store_true",
        help="records that no MAC or checkpoint authenticates are errors",
    )


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
    """The HMAC keys of --key, --keys-file and (unless --no-env-keys) the environment."""
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


def load_public_keys(args: argparse.Namespace) -> list[Ed25519PublicKey]:
    return [load_checkpoint_public_key(path) for path in args.public_key]
