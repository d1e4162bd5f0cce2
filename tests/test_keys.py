"""Key material from the environment and files (SPEC §5); secrets never leak into errors."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

import audit_sdk
from audit_sdk import HmacKeyRing, KeyConfigurationError
from audit_sdk._keys import checkpoint_key_id

KEY = bytes(range(32))
B64 = base64.b64encode(KEY).decode()


def test_single_key_from_environment() -> None:
    ring = HmacKeyRing.from_env({"AUDIT_SDK_HMAC_KEY": B64})
    assert ring is not None
    assert ring.active_id == "default" and ring.active_key == KEY


def test_key_table_with_active_id_from_environment() -> None:
    other = base64.b64encode(b"z" * 40).decode()
    env = {
        "AUDIT_SDK_HMAC_KEYS": json.dumps({"k1": B64, "k2": other}),
        "AUDIT_SDK_HMAC_KEY_ID": "k2",
    }
    ring = HmacKeyRing.from_env(env)
    assert ring is not None
    assert ring.active_id == "k2" and ring.get("k1") == KEY and ring.key_ids == ("k1", "k2")


def test_key_file_round_trip_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    HmacKeyRing({"old": KEY, "new": b"n" * 32}, "new").write_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = HmacKeyRing.from_env({"AUDIT_SDK_HMAC_KEY_FILE": str(path)})
    assert ring is not None and ring.active_id == "new" and ring.get("old") == KEY


def test_nothing_set_means_no_ring() -> None:
    assert HmacKeyRing.from_env({}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUDIT_SDK_HMAC_KEY": "not base64!!"}, "not valid standard base64"),
        ({"AUDIT_SDK_HMAC_KEY": base64.b64encode(b"short").decode()}, "5 bytes"),
        ({"AUDIT_SDK_HMAC_KEYS": "{not json"}, "not valid JSON"),
        ({"AUDIT_SDK_HMAC_KEYS": json.dumps({"a": B64, "b": B64})}, "AUDIT_SDK_HMAC_KEY_ID"),
        ({"AUDIT_SDK_HMAC_KEYS": json.dumps({"a": B64}), "AUDIT_SDK_HMAC_KEY_ID": "zz"}, "'zz'"),
        ({"AUDIT_SDK_HMAC_KEY_FILE": "/nonexistent/keys.json"}, "cannot be read"),
    ],
)
def test_bad_key_configuration_is_explained_without_the_key(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(KeyConfigurationError, match=message) as info:
        HmacKeyRing.from_env(env)
    assert B64 not in str(info.value)
    assert "short" not in str(info.value)


def test_key_file_with_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"active": "a", "keys": {"a": base64.b64encode(b"x" * 8).decode()}}))
    with pytest.raises(KeyConfigurationError, match=r"key file .*'a' is 8 bytes"):
        HmacKeyRing.from_file(path)
    path.write_text("[]")
    with pytest.raises(KeyConfigurationError, match="'active' and 'keys'"):
        HmacKeyRing.from_file(path)


def test_keygen_writes_usable_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    paths = audit_sdk.write_key_files(tmp_path / "k")
    ring = HmacKeyRing.from_file(paths["hmac"])
    private = audit_sdk.load_checkpoint_private_key(paths["checkpoint_private"])
    public = audit_sdk.load_checkpoint_public_key(paths["checkpoint_public"])
    assert checkpoint_key_id(private.public_key()) == checkpoint_key_id(public)
    assert len(ring.active_key) == 32
    assert stat.S_IMODE(paths["checkpoint_private"].stat().st_mode) == 0o600
    with pytest.raises(KeyConfigurationError, match="refusing to overwrite"):
        audit_sdk.write_key_files(tmp_path / "k")


def test_checkpoint_key_must_be_ed25519_pem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyConfigurationError, match="not an unencrypted PEM private key"):
        audit_sdk.load_checkpoint_private_key(bad)
    with pytest.raises(KeyConfigurationError, match="cannot be read"):
        audit_sdk.load_checkpoint_public_key(tmp_path / "missing.pem")


def test_keygen_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from audit_sdk.cli import main

    assert main(["keygen", str(tmp_path / "keys")]) == 0
    out = capsys.readouterr().out
    assert "checkpoint key id: ed25519:" in out
    ring = HmacKeyRing.from_file(tmp_path / "keys" / "hmac-keys.json")
    assert base64.b64encode(ring.active_key).decode() not in out
    assert main(["keygen", str(tmp_path / "keys")]) == 2
