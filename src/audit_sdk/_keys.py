"""Key material: the HMAC key ring (SPEC §5) and Ed25519 checkpoint keys.

Key bytes never appear in repr, errors or logs; only key ids do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_sdk._errors import KeyConfigurationError

__all__ = [
    "MIN_HMAC_KEY_BYTES",
    "HmacKeyRing",
    "checkpoint_key_id",
    "load_checkpoint_private_key",
    "load_checkpoint_public_key",
    "write_key_files",
]

MIN_HMAC_KEY_BYTES = 32
ENV_KEY = "AUDIT_SDK_HMAC_KEY"
ENV_KEYS = "AUDIT_SDK_HMAC_KEYS"
ENV_KEY_ID = "AUDIT_SDK_HMAC_KEY_ID"
ENV_KEY_FILE = "AUDIT_SDK_HMAC_KEY_FILE"
ENV_CHECKPOINT_KEY = "AUDIT_SDK_CHECKPOINT_KEY"


def _decode_key(key_id: str, encoded: object, origin: str) -> bytes:
    if not isinstance(key_id, str) or not key_id:
        raise KeyConfigurationError(f"{origin}: key ids must be non-empty strings")
    if not isinstance(encoded, str):
        raise KeyConfigurationError(f"{origin}: key {key_id!r} must be a standard base64 string")
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError(
            f"{origin}: key {key_id!r} is not valid standard base64"
        ) from None
    _check_length(key_id, raw, f"{origin}: ")
    return raw


def _check_length(key_id: str, key: bytes, prefix: str = "") -> None:
    if len(key) < MIN_HMAC_KEY_BYTES:
        raise KeyConfigurationError(
            f"{prefix}key {key_id!r} is {len(key)} bytes; at least {MIN_HMAC_KEY_BYTES} required"
        )


class HmacKeyRing:
    """HMAC-SHA256 keys by key id, one of them active for signing; others verify old records."""

    __slots__ = ("_active_id", "_keys")

    def __init__(self, keys: Mapping[str, bytes], active_id: str) -> None:
        if not keys:
            raise KeyConfigurationError("the key ring holds no keys")
        for key_id, key in keys.items():
            if not isinstance(key_id, str) or not key_id:
                raise KeyConfigurationError("key ids must be non-empty strings")
            if not isinstance(key, (bytes, bytearray)):
                raise KeyConfigurationError(f"key {key_id!r} must be bytes")
            _check_length(key_id, bytes(key))
        if active_id not in keys:
            raise KeyConfigurationError(f"active key id {active_id!r} is not in the key ring")
        self._keys = {k: bytes(v) for k, v in keys.items()}
        self._active_id = active_id

    def __repr__(self) -> str:
        return f"HmacKeyRing(active={self._active_id!r}, key_ids={sorted(self._keys)!r})"

    @property
    def active_id(self) -> str:
        return self._active_id

    @property
    def active_key(self) -> bytes:
        return self._keys[self._active_id]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def get(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def merged(self, other: HmacKeyRing) -> HmacKeyRing:
        """A ring holding both rings' keys, with this ring's active key."""
        return HmacKeyRing({**other._keys, **self._keys}, self._active_id)

    @classmethod
    def single(cls, key: bytes, key_id: str = "default") -> HmacKeyRing:
        return cls({key_id: key}, key_id)

    @classmethod
    def generate(cls, key_id: str = "default") -> HmacKeyRing:
        return cls.single(secrets.token_bytes(32), key_id)

    @classmethod
    def from_json_document(cls, document: Any, origin: str) -> HmacKeyRing:
        """Parse `{"active": ID, "keys": {ID: BASE64}}`."""
        if not isinstance(document, Mapping):
            raise KeyConfigurationError(
                f"{origin}: expected a JSON object with 'active' and 'keys'"
            )
        keys = document.get("keys")
        active = document.get("active")
        if not isinstance(keys, Mapping) or not keys:
            raise KeyConfigurationError(f"{origin}: 'keys' must be a non-empty object")
        if not isinstance(active, str):
            raise KeyConfigurationError(f"{origin}: 'active' must name a key id")
        decoded = {key_id: _decode_key(key_id, enc, origin) for key_id, enc in keys.items()}
        if active not in decoded:
            raise KeyConfigurationError(f"{origin}: active key id {active!r} is not in 'keys'")
        return cls(decoded, active)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> HmacKeyRing:
        origin = f"key file {os.fspath(path)}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyConfigurationError(f"{origin}: cannot be read ({exc.strerror})") from None
        try:
            document = json.loads(text)
        except ValueError:
            raise KeyConfigurationError(f"{origin}: not valid JSON") from None
        return cls.from_json_document(document, origin)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HmacKeyRing | None:
        """Read AUDIT_SDK_HMAC_KEY(S)/_KEY_ID/_KEY_FILE; None when none is set."""
        env = os.environ if environ is None else environ
        if env.get(ENV_KEY_FILE):
            return cls.from_file(env[ENV_KEY_FILE])
        if env.get(ENV_KEYS):
            try:
                table = json.loads(env[ENV_KEYS])
            except ValueError:
                raise KeyConfigurationError(f"{ENV_KEYS}: not valid JSON") from None
            if not isinstance(table, Mapping) or not table:
                raise KeyConfigurationError(
                    f"{ENV_KEYS}: expected a JSON object of key id to base64"
                )
            active = env.get(ENV_KEY_ID) or ("default" if "default" in table else None)
            if active is None:
                raise KeyConfigurationError(f"{ENV_KEY_ID} must name the active key of {ENV_KEYS}")
            return cls.from_json_document({"active": active, "keys": table}, ENV_KEYS)
        if env.get(ENV_KEY):
            return cls({"default": _decode_key("default", env[ENV_KEY], ENV_KEY)}, "default")
        return None

    def to_json_document(self) -> dict[str, Any]:
        return {
            "active": self._active_id,
            "keys": {k: base64.b64encode(v).decode("ascii") for k, v in self._keys.items()},
        }

    def write_file(self, path: str | os.PathLike[str]) -> None:
        """Write the SPEC §5 key file, readable by its owner only."""
        data = json.dumps(self.to_json_document(), indent=2, sort_keys=True) + "\n"
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)


def checkpoint_key_id(public_key: Ed25519PublicKey) -> str:
    """Stable id of an Ed25519 key: its raw bytes' SHA-256, first 16 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def load_checkpoint_private_key(source: str | os.PathLike[str] | bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM bytes or a PEM file path."""
    origin, pem = _read_pem(source, "checkpoint private key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyConfigurationError(f"{origin}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigurationError(f"{origin}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def load_checkpoint_public_key(source: str | os.PathLike[str] | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes or a PEM file path."""
    origin, pem = _read_pem(source, "checkpoint public key")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyConfigurationError(f"{origin}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyConfigurationError(f"{origin}: expected an Ed25519 key, got {type(key).__name__}")
    return key


def _read_pem(source: str | os.PathLike[str] | bytes, what: str) -> tuple[str, bytes]:
    if isinstance(source, bytes):
        return what, source
    origin = f"{what} {os.fspath(source)}"
    try:
        return origin, Path(source).read_bytes()
    except OSError as exc:
        raise KeyConfigurationError(f"{origin}: cannot be read ({exc.strerror})") from None


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_key_files(
    directory: Path, *, key_id: str = "default", force: bool = False
) -> dict[str, Path]:
    """Create DIR/hmac-keys.json, DIR/checkpoint-key.pem and DIR/checkpoint-key.pub.pem.

    Private files are written readable by their owner only; existing files are
    never overwritten unless `force`. Returns the paths by role.
    """
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
