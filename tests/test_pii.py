"""Keyed pseudonyms: applied before signing, stable per person, unlinkable without the key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import audit_sdk
from audit_sdk.pii import Pseudonymizer
from audit_sdk.testing import capture_audit_records
from helpers import check_chains, read_trail

TOKEN = re.compile(r"^pii:default:[a-z2-7]{26}$")
KEY = bytes(range(32))


def test_marked_fields_are_replaced_before_signing(tmp_path: Path) -> None:
    keys = audit_sdk.HmacKeyRing.generate()
    pii = Pseudonymizer(
        KEY, target=True, source=True, details=("email", "customer.phone"), attributes=("user.ip",)
    )
    trail = tmp_path / "trail.jsonl"
    logger = audit_sdk.configure(
        service_name="pii-test", keys=keys, trail_path=trail, pseudonymize=pii, set_default=False
    )
    logger.emit(
        "account.update",
        action="UPDATE",
        actor="alice@example.com",
        target="bob@example.com",
        source="203.0.113.9",
        details={"email": "alice@example.com", "customer": {"phone": 5551234, "tier": "gold"}},
        attributes={"user.ip": "203.0.113.9", "plan": "pro"},
    )
    logger.close()
    text = trail.read_text()
    for secret in ("alice@example.com", "bob@example.com", "203.0.113.9", "5551234"):
        assert secret not in text
    entries = read_trail(trail)
    check_chains(entries, keys.active_key)  # the MACs cover the pseudonyms
    record = audit_sdk.AuditRecord.from_otlp(entries[0][0])
    attrs = record.attributes
    assert attrs["audit.actor.id"] == pii.pseudonym("alice@example.com")
    assert TOKEN.match(attrs["audit.actor.id"])
    assert attrs["audit.target.id"] == attrs["cloudevents.event_subject"]
    assert attrs["audit.target.id"] == pii.pseudonym("bob@example.com")
    assert attrs["audit.source.id"] == pii.pseudonym("203.0.113.9")
    assert attrs["user.ip"] == attrs["audit.source.id"]  # same value, same token: joins
    assert attrs["plan"] == "pro"
    details = json.loads(record.body or "")
    assert details["email"] == attrs["audit.actor.id"]
    assert details["customer"] == {"phone": pii.pseudonym(5551234), "tier": "gold"}


def test_same_person_same_token_other_key_other_token() -> None:
    one = Pseudonymizer(KEY)
    again = Pseudonymizer(KEY)
    other = Pseudonymizer(bytes(32 * [7]))
    rotated = Pseudonymizer(KEY, key_id="2027")
    assert one.pseudonym("alice") == again.pseudonym("alice")
    assert one.pseudonym("alice") != one.pseudonym("alice ")
    assert one.pseudonym("alice").split(":")[2] != other.pseudonym("alice").split(":")[2]
    assert rotated.pseudonym("alice").startswith("pii:2027:")


def test_service_and_anonymous_actors_stay_readable() -> None:
    with capture_audit_records(pseudonymize=Pseudonymizer(KEY)) as audit:
        audit_sdk.audit_event("a.b", action="READ", actor="alice")
        audit_sdk.audit_event("a.b", action="READ", actor="billing-job", actor_type="service")
        audit_sdk.audit_event("a.b", action="READ")
    alice, job, nobody = audit.events
    assert TOKEN.match(alice.actor)
    assert job.actor == "billing-job"
    assert nobody.actor == "anonymous"
    # checkpoints are the SDK's own records: untouched
    assert audit.records[-1].actor == "test-service"


def test_context_actor_is_pseudonymized_too() -> None:
    pii = Pseudonymizer(KEY)
    with capture_audit_records(pseudonymize=pii) as audit, audit_sdk.context(actor="carol"):
        audit_sdk.audit_event("a.b", action="READ")

        @audit_sdk.audited("a.c", action="DELETE")
        def delete() -> None:
            return None

        delete()
    assert [r.actor for r in audit.events] == [pii.pseudonym("carol")] * 2


def test_invalid_values_are_still_refused() -> None:
    pii = Pseudonymizer(KEY, details=("ratio",))
    with capture_audit_records(pseudonymize=pii) as audit:
        with pytest.raises(audit_sdk.InvalidAuditEvent) as caught:
            audit_sdk.audit_event("a.b", action="READ", details={"ratio": float("nan")})
        assert caught.value.field.startswith("details")
        assert audit.events == []


def test_key_rules() -> None:
    with pytest.raises(audit_sdk.KeyConfigurationError):
        Pseudonymizer(b"short")
    with pytest.raises(audit_sdk.KeyConfigurationError):
        Pseudonymizer(KEY, key_id="has space")
    with pytest.raises(audit_sdk.KeyConfigurationError):
        Pseudonymizer(KEY, details="email")  # type: ignore[arg-type]
    with pytest.raises(audit_sdk.KeyConfigurationError):
        Pseudonymizer(KEY, attributes=("audit.actor.id",))
    ring = audit_sdk.HmacKeyRing.single(KEY)
    with pytest.raises(audit_sdk.KeyConfigurationError, match="must not be an HMAC signing key"):
        audit_sdk.configure(keys=ring, pseudonymize=Pseudonymizer(KEY), set_default=False)
    assert "0001" not in repr(Pseudonymizer(KEY))


def test_from_env() -> None:
    import base64

    env = {"AUDIT_SDK_PII_KEY": base64.b64encode(KEY).decode(), "AUDIT_SDK_PII_KEY_ID": "k2"}
    pii = Pseudonymizer.from_env(env, target=True)
    assert pii is not None and pii.key_id == "k2"
    assert pii.pseudonym("x") == Pseudonymizer(KEY, key_id="k2").pseudonym("x")
    assert Pseudonymizer.from_env({}) is None
