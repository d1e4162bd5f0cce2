"""Retention: policy, plan, apply with a signed purge receipt, and verify afterwards."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import audit_sdk
from audit_sdk._keys import private_key_pem, public_key_pem
from audit_sdk._retention import (
    PolicyError,
    apply_plan,
    load_policy,
    make_plan,
    receipt_files,
    receipt_text,
)
from audit_sdk.cli import main
from audit_sdk.verify import FindingKind, verify
from helpers import attributes_of, read_trail

POLICY = """\
version: 1
default:
  hot: 30d
  purge_after: 500d
event_types:
  "user.login":
    hot: 7d
    purge_after: 300d
  "doc.*":
    purge_after: 600d
legal_holds:
  - id: LH-1
    reason: litigation
    actors: ["user:alice"]
    event_types: ["doc.*"]
"""

DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path, keys: Any, checkpoint_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Two streams: logins spanning months, and doc reads with one under legal hold."""
    directory = tmp_path / "store"
    now = datetime.now(UTC)
    login = audit_sdk.configure(
        service_name="auth",
        keys=keys,
        checkpoint_key=checkpoint_key,
        trail_path=directory / "audit.jsonl",
        checkpoint_every=1000,
        checkpoint_interval=None,
    )
    for i in range(12):  # ages 405, 385, ..., 185 days: 6 past 300d
        audit_sdk.audit_event(
            "user.login",
            action="LOGIN",
            actor=f"user:u{i}",
            actor_type="user",
            timestamp=now - 405 * DAY + i * 20 * DAY,
        )
    login.close()
    docs = audit_sdk.configure(
        service_name="docs",
        keys=keys,
        checkpoint_key=checkpoint_key,
        trail_path=directory / "docs" / "audit-docs.jsonl",
        checkpoint_every=1000,
        checkpoint_interval=None,
    )
    for i, actor in enumerate(["user:bob", "user:carol", "user:alice", "user:bob", "user:dave"]):
        audit_sdk.audit_event(
            "doc.read",
            action="READ",
            actor=actor,
            actor_type="user",
            target=f"doc-{i}",
            timestamp=now - 1000 * DAY + i * DAY,  # all past 600d
        )
    docs.close()
    policy = tmp_path / "retention-policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return {"dir": directory, "now": now, "policy": policy, "keys": keys, "key": checkpoint_key}


def _by_service(directory: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for path in sorted(directory.rglob("*.jsonl")):
        for log_record, resource in read_trail(path):
            service = {a["key"]: a["value"] for a in resource["attributes"]}["service.name"]
            number = attributes_of(log_record)["audit.sequence.number"]
            out.setdefault(service["stringValue"], []).append(number)
    return {k: sorted(v) for k, v in out.items()}


def test_round_trip_plan_apply_verify(store: dict[str, Any]) -> None:
    directory, key = store["dir"], store["key"]
    policy = load_policy(store["policy"])
    before = _by_service(directory)
    assert before == {"auth": list(range(1, 14)), "docs": list(range(1, 7))}
    now = store["now"] + timedelta(minutes=1)

    plan = make_plan(directory, policy, now=now)
    by_count = sorted((s.purge_count, s.stop_reason or "") for s in plan.streams)
    # docs: 1..2 go, record 3 (alice) is under legal hold; auth: 6 logins past 300d
    assert by_count[0][0] == 2 and "legal hold LH-1" in by_count[0][1]
    assert by_count[1][0] == 6 and "not past retention" in by_count[1][1]
    assert _by_service(directory) == before  # plan changes nothing

    receipt = apply_plan(plan, key)
    assert receipt is not None and Path(receipt).parent == directory / "receipts"
    after = _by_service(directory)
    assert after == {"auth": list(range(7, 14)), "docs": list(range(3, 7))}
    body = json.loads(Path(receipt).read_text())
    assert sorted(r["count"] for r in body["streams"]) == [2, 6]

    result = verify([directory], keys=store["keys"], public_keys=[key.public_key()])
    assert result.ok, [f.message for f in result.errors]
    assert not result.errors
    # with the public key alone: the chains from the receipt up to the end records
    result = verify([directory], public_keys=[key.public_key()], require_authenticated=True)
    assert result.ok, [f.message for f in result.errors]
    # without the receipt, the purged prefix is a missing range
    result = verify([directory], keys=store["keys"], public_keys=[key.public_key()], receipts=[])
    assert {f.kind for f in result.errors} == {FindingKind.MISSING_RECORDS}

    # idempotent: nothing more to do, no new receipt, files unchanged
    snapshot = {p: p.read_bytes() for p in directory.rglob("*.jsonl")}
    plan2 = make_plan(directory, policy, now=now, public_keys=[key.public_key()])
    assert plan2.purge_count == 0
    assert apply_plan(plan2, key) is None
    assert {p: p.read_bytes() for p in directory.rglob("*.jsonl")} == snapshot
    assert len(receipt_files([str(directory)])) == 1

    # later, the rest of the logins is past retention; the hold still keeps docs 3..
    later = now + 200 * DAY
    plan3 = make_plan(directory, policy, now=later, public_keys=[key.public_key()])
    assert apply_plan(plan3, key) is not None
    assert _by_service(directory)["docs"] == list(range(3, 7))
    # the end record (a checkpoint made at close, i.e. now) is not past retention yet
    assert _by_service(directory)["auth"] == [13]
    result = verify([directory], keys=store["keys"], public_keys=[key.public_key()])
    assert result.ok, [f.message for f in result.errors]
    assert len(receipt_files([str(directory)])) == 2
    result = verify([directory], public_keys=[key.public_key()])
    assert result.ok, [f.message for f in result.errors]


def test_tampered_receipts_are_findings(store: dict[str, Any]) -> None:
    directory, key = store["dir"], store["key"]
    plan = make_plan(
        directory, load_policy(store["policy"]), now=store["now"] + timedelta(minutes=1)
    )
    receipt = Path(str(apply_plan(plan, key)))
    original = json.loads(receipt.read_text())

    def check(body: dict[str, Any]) -> set[FindingKind]:
        receipt.write_text(json.dumps(body))
        result = verify([directory], keys=store["keys"], public_keys=[key.public_key()])
        return {f.kind for f in result.errors}

    # the last hash changed after signing: the signature fails, the prefix is unaccounted
    changed = json.loads(json.dumps(original))
    changed["streams"][0]["last_record_hash"] = "0" * 64
    assert check(changed) == {FindingKind.BAD_RECEIPT, FindingKind.MISSING_RECORDS}
    # a bad signature
    changed = json.loads(json.dumps(original))
    changed["signature"] = original["signature"][:-8] + "AAAAAAA="
    assert FindingKind.BAD_RECEIPT in check(changed)
    # signed by another key
    other = Ed25519PrivateKey.generate()
    changed = json.loads(json.dumps(original))
    changed["signature"] = base64.b64encode(other.sign(receipt_text(changed))).decode()
    assert FindingKind.BAD_RECEIPT in check(changed)
    # correctly signed, but the last hash is not what the first remaining record links to
    changed = json.loads(json.dumps(original))
    changed["streams"][0]["last_record_hash"] = "0" * 64
    changed["signature"] = base64.b64encode(key.sign(receipt_text(changed))).decode()
    assert check(changed) == {FindingKind.CHAIN_BREAK}
    # the original verifies again
    assert check(original) == set()


def test_records_under_hold_or_young_are_never_purged(store: dict[str, Any]) -> None:
    directory, key = store["dir"], store["key"]
    far = store["now"] + 100 * 365 * DAY  # everything is past retention ...
    plan = make_plan(directory, load_policy(store["policy"]), now=far)
    apply_plan(plan, key)
    remaining = _by_service(directory)
    assert remaining == {"docs": list(range(3, 7))}  # ... except from the held record on
    held = [
        attributes_of(lr)
        for p in directory.rglob("*.jsonl")
        for lr, _ in read_trail(p)
        if attributes_of(lr)["audit.actor.id"] == "user:alice"
    ]
    assert len(held) == 1
    # and a record not past retention is never removed
    fresh_plan = make_plan(directory, load_policy(store["policy"]), now=store["now"])
    assert fresh_plan.purge_count == 0


def test_cli_plan_apply_verify(
    store: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, key = store["dir"], store["key"]
    pem = tmp_path / "cp.pem"
    pem.write_bytes(private_key_pem(key))
    pub = tmp_path / "cp.pub.pem"
    pub.write_bytes(public_key_pem(key.public_key()))
    keys_file = tmp_path / "hmac.json"
    store["keys"].write_file(keys_file)
    now = (store["now"] + timedelta(minutes=1)).isoformat()
    common = [str(directory), "--policy", str(store["policy"]), "--now", now]
    assert main(["retention", "plan", *common]) == 0
    out = capsys.readouterr().out
    assert "under legal hold LH-1" in out and "total: 8 records to purge" in out
    assert main(["retention", "plan", *common, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["purge_count"] == 8
    assert main(["retention", "apply", *common, "--checkpoint-key", str(pem)]) == 0
    assert "receipt: " in capsys.readouterr().out
    verify_args = ["verify", str(directory), "--keys-file", str(keys_file), "--no-env-keys"]
    assert main([*verify_args, "--public-key", str(pub)]) == 0
    capsys.readouterr()
    # without a public key the receipt cannot be checked: an error
    assert main(verify_args) == 1
    assert "bad_receipt" in capsys.readouterr().out
    assert main([*verify_args, "--public-key", str(pub), "--no-receipts"]) == 1
    receipt = receipt_files([str(directory)])[0]
    assert (
        main([*verify_args, "--public-key", str(pub), "--no-receipts", "--receipt", receipt]) == 0
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\ndefault: {purge_after: 1d}\n", "version must be 1"),
        ("version: 1\ndefault: {purge_after: 10 days}\n", "not a duration"),
        ("version: 1\ndefault: {hot: 9d, purge_after: 1d}\n", "hot is longer"),
        ("version: 1\ndefault: {purge_after: 1d}\nlegal_holds:\n  - reason: x\n", ":4: legal"),
        ("version: 1\ndefault: {purge_after: 1d}\nextra: 1\n", "unknown top-level"),
        ("version: 1\ndefault: [\n", "not valid YAML"),
    ],
)
def test_policy_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_example_policy_loads() -> None:
    policy = load_policy(Path(__file__).parent.parent / "retention-policy.yaml")
    assert policy.rule_for("user.login")[0] == "user.login"
    assert policy.rule_for("user.data.export")[0] == "user.data.*"
    assert policy.rule_for("other")[0] == "default"


def test_gzip_segments_are_rewritten_and_still_verify(store: dict[str, Any]) -> None:
    import gzip

    directory, key = store["dir"], store["key"]
    plain = directory / "docs" / "audit-docs.jsonl"
    packed = directory / "docs" / "audit-docs.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    far = store["now"] + 100 * 365 * DAY
    apply_plan(make_plan(directory, load_policy(store["policy"]), now=far), key)
    lines = gzip.decompress(packed.read_bytes()).decode().splitlines()
    numbers = sorted(
        attributes_of(lr)["audit.sequence.number"]
        for line in lines
        for rl in json.loads(line)["resourceLogs"]
        for sl in rl["scopeLogs"]
        for lr in sl["logRecords"]
    )
    assert numbers == [3, 4, 5, 6]
    assert not (directory / "audit.jsonl").exists()  # the login stream is gone entirely
    result = verify([directory], keys=store["keys"], public_keys=[key.public_key()])
    assert result.ok, [f.message for f in result.errors]
    assert [s.first_number for s in result.streams] == [3]
