"""The README's first command: the demo runs on the embedded default and its trail verifies."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from audit_sdk import HmacKeyRing, load_checkpoint_public_key
from audit_sdk.verify import verify

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_a_verifiable_trail_and_catches_tampering(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo_app.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify with HMAC key:        OK" in result.stdout
    assert "verify a tampered copy:      caught" in result.stdout
    keys = HmacKeyRing.from_file(out / "keys" / "hmac-keys.json")
    public = load_checkpoint_public_key(out / "keys" / "checkpoint-key.pub.pem")
    again = verify(
        [out / "audit-trail.jsonl"], keys=keys, public_keys=[public], require_closed=True
    )
    assert again.ok and len(again.streams) == 1 and again.streams[0].closed
    secret = base64.b64encode(keys.active_key).decode()
    assert secret not in result.stdout and secret not in result.stderr
