"""Bad input is refused before anything is emitted, with an error that names the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

import audit_sdk
from audit_sdk import InvalidAuditEvent, KeyConfigurationError, RecordTooLarge
from audit_sdk.testing import capture_audit_records

GOOD: dict[str, Any] = {"action": "READ"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_name": ""}, "event_name"),
        ({"event_name": "   "}, "event_name"),
        ({"event_name": "has space"}, "event_name"),
        ({"event_name": "trailing."}, "event_name"),
        ({"event_name": 7}, "event_name"),
        ({"event_name": "audit.checkpoint"}, "event_name"),
        ({"action": ""}, "action"),
        ({"action": "read"}, "action"),
        ({"action": None}, "action"),
        ({"outcome": "ok"}, "outcome"),
        ({"outcome": ""}, "outcome"),
        ({"actor": ""}, "actor"),
        ({"actor": 12}, "actor"),
        ({"actor_type": "robot"}, "actor_type"),
        ({"target": ""}, "target"),
        ({"target_type": 3}, "target_type"),
        ({"source": " "}, "source"),
        ({"record_id": ""}, "record_id"),
        ({"details": {"x": math.nan}}, "details.value"),
        ({"details": {"x": math.inf}}, "details.value"),
        ({"details": {"big": 2**60}}, "details.value"),
        ({"details": {"when": object()}}, "details.value"),
        ({"details": ["not", "a", "mapping"]}, "details"),
        ({"details": {1: "int key"}}, "details.key"),
        ({"attributes": {"x": math.nan}}, "attributes.x"),
        ({"attributes": {"x": -math.inf}}, "attributes.x"),
        ({"attributes": {"x": None}}, "attributes.x"),
        ({"attributes": {"x": 2**64}}, "attributes.x"),
        ({"attributes": {"x": {"nested": object()}}}, "attributes.x.nested"),
        ({"attributes": {"audit.actor.id": "forged"}}, "attributes.audit.actor.id"),
        ({"attributes": {"cloudevents.event_id": "x"}}, "attributes.cloudevents.event_id"),
        ({"attributes": {"": "empty"}}, "attributes"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": -5}, "timestamp"),
        ({"timestamp": 2**62}, "timestamp"),
    ],
)
def test_bad_field_is_named_and_nothing_is_emitted(overrides: dict[str, Any], field: str) -> None:
    kwargs = {**GOOD, **overrides}
    event_name = kwargs.pop("event_name", "doc.read")
    with capture_audit_records() as audit:
        with pytest.raises(InvalidAuditEvent) as info:
            audit_sdk.audit_event(event_name, **kwargs)
        assert info.value.field == field
        assert str(info.value).startswith(f"{field}: ")
        receipt = audit_sdk.audit_event("doc.read", action="READ")
        assert audit.events == [audit.events[0]]
    # a refused event leaves no gap: the next record is number 1
    assert receipt.sequence_number == 1


def test_naive_datetime_is_refused() -> None:
    from datetime import datetime

    with capture_audit_records(), pytest.raises(InvalidAuditEvent, match="timezone-aware"):
        audit_sdk.audit_event("doc.read", action="READ", timestamp=datetime(2026, 1, 1))


def test_oversized_record_is_refused_with_the_limit_named() -> None:
    with capture_audit_records(max_record_bytes=4096) as audit:
        with pytest.raises(RecordTooLarge, match="max_record_bytes=4096"):
            audit_sdk.audit_event("doc.read", action="READ", details={"blob": "x" * 5000})
        receipt = audit_sdk.audit_event("doc.read", action="READ", details={"blob": "x" * 1000})
        assert receipt.sequence_number == 1
        assert len(audit.events) == 1


def test_max_record_bytes_has_documented_bounds(keys: Any) -> None:
    with pytest.raises(audit_sdk.AuditConfigurationError, match="max_record_bytes"):
        audit_sdk.configure(keys=keys, max_record_bytes=3 * 1024 * 1024, set_default=False)


@pytest.mark.parametrize("size", [0, 16, 31])
def test_short_keys_are_refused_without_showing_them(size: int) -> None:
    key = b"k" * size
    with pytest.raises(KeyConfigurationError, match="at least 32") as info:
        audit_sdk.HmacKeyRing.single(key)
    if size:
        assert "kkkk" not in str(info.value)


def test_emit_without_configure_is_a_clear_error() -> None:
    audit_sdk.shutdown()
    with pytest.raises(audit_sdk.AuditNotConfigured, match="configure"):
        audit_sdk.audit_event("doc.read", action="READ")


def test_configure_without_any_key_says_how_to_give_one() -> None:
    with pytest.raises(KeyConfigurationError, match="AUDIT_SDK_HMAC_KEY"):
        audit_sdk.configure(environ={})


def test_context_values_are_checked() -> None:
    with pytest.raises(InvalidAuditEvent, match=r"context\.actor"), audit_sdk.context(actor=""):
        pass
