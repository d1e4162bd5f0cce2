"""Checkpoint text, signature and check (SPEC §3): verifiable with the public key alone."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["checkpoint_text", "sign_checkpoint", "verify_checkpoint"]

_HEADER = "audit-sdk checkpoint v1\n"


def checkpoint_text(stream_id: str, number: int, record_hash: str, *, closed: bool) -> bytes:
    """The exact UTF-8 text that a checkpoint signature covers."""
    text = f"{_HEADER}{stream_id}\n{number}\n{record_hash}\n"
    if closed:
        text += "closed\n"
    return text.encode("utf-8")


def sign_checkpoint(
    key: Ed25519PrivateKey, stream_id: str, number: int, record_hash: str, *, closed: bool
) -> str:
    signature = key.sign(checkpoint_text(stream_id, number, record_hash, closed=closed))
    return base64.b64encode(signature).decode("ascii")


def verify_checkpoint(
    key: Ed25519PublicKey,
    signature_b64: str,
    stream_id: str,
    number: int,
    record_hash: str,
    *,
    closed: bool,
) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, checkpoint_text(stream_id, number, record_hash, closed=closed))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
