"""audit_event(): the record it emits, field by field, against SPEC §1-3."""

from __future__ import annotations

import base64
import copy
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider

import audit_sdk
from audit_sdk._canonical import canonical_from_otlp, compute_mac, record_hash
from audit_sdk._checkpoint import verify_checkpoint
from audit_sdk._keys import checkpoint_key_id
from audit_sdk.testing import capture_audit_records
from helpers import attributes_of, check_chains, read_trail

MANDATORY = (
    "audit.record.id",
    "audit.actor.id",
    "audit.actor.type",
    "audit.action",
    "audit.outcome",
)


def test_record_carries_audit_cloudevents_chain_and_integrity_attributes(tracer: Any) -> None:
    with capture_audit_records(service_name="billing") as audit:
        with tracer.start_as_current_span("export") as span:
            receipt = audit_sdk.audit_event(
                "user.data.export",
                action="EXPORT",
                actor="alice",
                actor_type="user",
                target="customer/42",
                target_type="customer",
                source="10.0.0.7",
                details={"format": "csv", "rows": 3},
            )
        [record] = audit.events
    a = record.attributes
    for name in MANDATORY:
        assert a[name]
    assert a["audit.record.id"] == receipt.record_id == a["cloudevents.event_id"]
    assert a["cloudevents.event_type"] == record.event_name == "user.data.export"
    assert a["cloudevents.event_subject"] == a["audit.target.id"] == "customer/42"
    assert a["cloudevents.event_spec_version"] == "1.0"
    assert a["cloudevents.event_source"] == "billing"
    assert a["audit.source.id"] == "10.0.0.7"
    assert a["audit.sequence.number"] == receipt.sequence_number == 1
    assert a["audit.sequence.stream_id"] == receipt.stream_id
    assert "audit.sequence.previous_hash" not in a
    assert a["audit.integrity.signer"] == "producer"
    assert a["audit.integrity.canonicalization"] == "jcs"
    assert a["audit.integrity.key_id"] == audit.keys.active_id
    assert record.resource["audit.integrity.algorithm"] == "HMAC-SHA256"
    assert record.body == '{"format":"csv","rows":3}'
    ctx = span.get_span_context()
    assert record.trace_id == format(ctx.trace_id, "032x")
    assert record.span_id == format(ctx.span_id, "016x")
    assert record.observed_timestamp >= record.timestamp > 0
    canonical = record.canonical_bytes()
    assert compute_mac(audit.keys.active_key, canonical) == a["audit.integrity.value"]
    assert record_hash(canonical) == receipt.record_hash


def test_no_details_means_no_body_and_no_span_means_no_trace() -> None:
    with capture_audit_records() as audit:
        audit_sdk.audit_event("user.login", action="LOGIN")
        [record] = audit.events
    assert record.body is None
    assert record.trace_id is None and record.span_id is None
    assert record.actor == "anonymous"
    assert b'"body"' not in record.canonical_bytes()
    assert b'"trace_id"' not in record.canonical_bytes()


def test_each_record_commits_to_its_predecessor() -> None:
    with capture_audit_records() as audit:
        receipts = [
            audit_sdk.audit_event("doc.read", action="READ", actor=f"u{i}") for i in range(5)
        ]
        records = audit.events
    for previous, (receipt, record) in zip(
        receipts, zip(receipts[1:], records[1:], strict=True), strict=False
    ):
        assert record.attributes["audit.sequence.previous_hash"] == previous.record_hash
        assert record.attributes["audit.sequence.previous_record_id"] == previous.record_id
        assert record.sequence_number == receipt.sequence_number
    assert [r.sequence_number for r in records] == [1, 2, 3, 4, 5]


def test_checkpoints_every_n_records_and_a_signed_end_record(checkpoint_key: Any) -> None:
    with capture_audit_records(checkpoint_every=3, checkpoint_key=checkpoint_key) as audit:
        for i in range(7):
            audit_sdk.audit_event("doc.read", action="READ", actor=f"u{i}")
    records = audit.records
    numbers = [r.sequence_number for r in records]
    assert numbers == list(range(1, len(records) + 1))
    checkpoints = [r for r in records if r.is_checkpoint]
    # 1-3, checkpoint 4; 5-7, checkpoint 8 (the first one counts as covered); 9; end record 10
    assert [c.attributes["audit.checkpoint.number"] for c in checkpoints] == [3, 7, 9]
    end = records[-1]
    assert end.attributes["audit.sequence.end"] is True
    by_number = {r.sequence_number: r for r in records}
    public = checkpoint_key.public_key()
    for cp in checkpoints:
        a = cp.attributes
        covered = by_number[a["audit.checkpoint.number"]]
        assert a["audit.checkpoint.hash"] == record_hash(covered.canonical_bytes())
        assert a["audit.checkpoint.key_id"] == checkpoint_key_id(public)
        assert a["audit.actor.type"] == "system" and a["audit.action"] == "CHECKPOINT"
        assert verify_checkpoint(
            public,
            a["audit.checkpoint.signature"],
            cp.stream_id,
            covered.sequence_number,
            a["audit.checkpoint.hash"],
            closed=a.get("audit.sequence.end", False),
        )
    # the end record's signature covers the 'closed' text only
    a = end.attributes
    assert not verify_checkpoint(
        public,
        a["audit.checkpoint.signature"],
        end.stream_id,
        a["audit.checkpoint.number"],
        a["audit.checkpoint.hash"],
        closed=False,
    )


def test_closed_logger_refuses_further_events() -> None:
    with capture_audit_records() as audit:
        audit_sdk.audit_event("doc.read", action="READ")
        audit.logger.close()
        with pytest.raises(audit_sdk.AuditNotConfigured):
            audit.logger.emit("doc.read", action="READ")


def test_explicit_timestamp_and_record_id_are_kept() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    with capture_audit_records() as audit:
        audit_sdk.audit_event("doc.read", action="READ", timestamp=when, record_id="rid-1")
        [record] = audit.events
    assert record.timestamp == int(when.timestamp()) * 1_000_000_000 + 123_456_000
    assert record.record_id == "rid-1"


def test_context_supplies_actor_source_and_request_id() -> None:
    with capture_audit_records() as audit:
        with audit_sdk.context(actor="svc-backup", actor_type="service", request_id="req-9"):
            with audit_sdk.context(source="10.1.1.1"):
                audit_sdk.audit_event("db.snapshot", action="BACKUP")
            audit_sdk.audit_event("db.snapshot", action="BACKUP", actor="override")
        audit_sdk.audit_event("db.snapshot", action="BACKUP")
        first, second, third = audit.events
    assert first.attributes["audit.actor.id"] == "svc-backup"
    assert first.attributes["audit.actor.type"] == "service"
    assert first.attributes["audit.request.id"] == "req-9"
    assert first.attributes["audit.source.id"] == "10.1.1.1"
    assert second.actor == "override" and "audit.source.id" not in second.attributes
    assert third.actor == "anonymous" and "audit.request.id" not in third.attributes


def test_custom_attributes_of_every_type_are_signed() -> None:
    extra = {
        "http.method": "GET",
        "n": 2**62,
        "ratio": -0.25,
        "ok": True,
        "raw": b"\x00\xff",
        "tags": ["a", "b"],
        "k\U0001f600": "astral",
    }
    with capture_audit_records() as audit:
        audit_sdk.audit_event("doc.read", action="READ", attributes=extra)
        [record] = audit.events
    for key, value in extra.items():
        assert record.attributes[key] == (tuple(value) if isinstance(value, list) else value)
    mac = compute_mac(audit.keys.active_key, record.canonical_bytes())
    assert mac == record.attributes["audit.integrity.value"]


def test_file_sink_writes_otlp_json_lines_that_verify(
    tmp_path: Path, keys: Any, checkpoint_key: Any, tracer: Any
) -> None:
    trail = tmp_path / "trail" / "audit.jsonl"
    logger = audit_sdk.configure(
        service_name="files",
        keys=keys,
        checkpoint_key=checkpoint_key,
        trail_path=trail,
        checkpoint_every=4,
    )
    with tracer.start_as_current_span("s"):
        receipts = [
            audit_sdk.audit_event(
                "doc.read", action="READ", details={"i": i}, attributes={"f": i / 3}
            )
            for i in range(10)
        ]
    logger.close()
    entries = read_trail(trail)
    assert len(entries) == 10 + 3  # checkpoints after 4 and 8 (+1), and the end record
    previous = None
    for (log_record, resource), number in zip(entries, range(1, 14), strict=True):
        attrs = attributes_of(log_record)
        assert attrs["audit.sequence.number"] == number
        canonical = canonical_from_otlp(log_record)
        assert compute_mac(keys.active_key, canonical) == attrs["audit.integrity.value"]
        assert attrs.get("audit.sequence.previous_hash") == previous
        previous = record_hash(canonical)
        res = {a["key"]: a["value"] for a in resource["attributes"]}
        assert res["service.name"] == {"stringValue": "files"}
        assert isinstance(log_record["timeUnixNano"], str)
    by_id = {attributes_of(lr)["audit.record.id"]: lr for lr, _ in entries}
    for receipt in receipts:
        assert receipt.record_hash == record_hash(canonical_from_otlp(by_id[receipt.record_id]))
    first = entries[0][0]
    assert len(first["traceId"]) == 32 and len(first["spanId"]) == 16
    # the file is appended, never truncated, by a second pipeline on the same path
    logger2 = audit_sdk.configure(service_name="files", keys=keys, trail_path=trail)
    audit_sdk.audit_event("doc.read", action="READ")
    logger2.close()
    assert len(read_trail(trail)) == 13 + 2


def test_global_otel_provider_is_left_alone(tmp_path: Path, keys: Any) -> None:
    before = get_logger_provider()
    audit_sdk.configure(keys=keys, trail_path=tmp_path / "a.jsonl")
    assert get_logger_provider() is before
    app_provider = LoggerProvider(shutdown_on_exit=False)
    set_logger_provider(app_provider)
    audit_sdk.configure(keys=keys, trail_path=tmp_path / "b.jsonl")
    assert get_logger_provider() is app_provider
    assert trace.get_tracer_provider() is not None


def test_key_rotation_signs_with_the_active_key_id() -> None:
    ring = audit_sdk.HmacKeyRing({"old": b"o" * 32, "new": b"n" * 32}, "new")
    with capture_audit_records(keys=ring) as audit:
        audit_sdk.audit_event("doc.read", action="READ")
        [record] = audit.events
    assert record.attributes["audit.integrity.key_id"] == "new"
    assert (
        compute_mac(b"n" * 32, record.canonical_bytes())
        == record.attributes["audit.integrity.value"]
    )


def test_otlp_environment_selects_the_otlp_exporter(keys: Any) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

    from audit_sdk._configure import _otlp_exporter

    assert _otlp_exporter({}) is None
    assert isinstance(_otlp_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}), Http)
    grpc = _otlp_exporter(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    )
    assert isinstance(grpc, Grpc)
    as_json = _otlp_exporter(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        }
    )
    assert isinstance(as_json, audit_sdk.OtlpHttpJsonLogExporter)
    with pytest.raises(audit_sdk.AuditConfigurationError, match="http/xml"):
        _otlp_exporter(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/xml"}
        )


def test_sdk_disabled_is_refused_rather_than_dropping_records(keys: Any) -> None:
    with pytest.raises(audit_sdk.AuditConfigurationError, match="OTEL_SDK_DISABLED"):
        audit_sdk.configure(keys=keys, environ={"OTEL_SDK_DISABLED": "true"})


def test_to_cloudevent_is_accepted_by_the_cloudevents_package(tracer: Any) -> None:
    from cloudevents.core.formats.json import JSONFormat

    from audit_sdk.cloudevent import to_structured_json

    with capture_audit_records() as audit:
        with tracer.start_as_current_span("s"):
            audit_sdk.audit_event(
                "user.data.export",
                action="EXPORT",
                actor="alice",
                target="customer/42",
                details={"rows": 3},
            )
        audit_sdk.audit_event("user.login", action="LOGIN")
        traced, untraced = audit.events
    event = audit_sdk.to_cloudevent(traced)
    assert event.get_id() == traced.record_id
    assert event.get_type() == "user.data.export"
    assert event.get_subject() == "customer/42"
    assert event.get_extension("traceparent") == f"00-{traced.trace_id}-{traced.span_id}-01"
    parsed = JSONFormat().read(None, to_structured_json(traced))
    assert parsed.get_id() == traced.record_id
    data = parsed.get_data()
    assert data["details"] == {"rows": 3}
    assert data["attributes"]["audit.actor.id"] == "alice"
    assert "traceparent" not in audit_sdk.to_cloudevent(untraced).get_attributes()
    # from the OTLP-JSON form too
    assert audit_sdk.to_cloudevent(traced.to_otlp()).get_id() == traced.record_id
    assert json.loads(to_structured_json(untraced))["specversion"] == "1.0"


def test_secrets_never_appear_in_repr() -> None:
    key = b"\x01" * 32
    ring = audit_sdk.HmacKeyRing.single(key)
    text = repr(ring)
    assert base64.b64encode(key).decode() not in text and "default" in text


def test_otlp_settings_come_from_the_given_environment(tmp_path: Path, keys: Any) -> None:
    from otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver(tmp_path / "received.jsonl").start()
    try:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}/",
            "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20t0k,x-tenant=a",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
        }
        logger = audit_sdk.configure(keys=keys, environ=env, set_default=False)
        for _ in range(3):
            logger.emit("doc.read", action="READ")
        logger.close()
    finally:
        receiver.stop()
    assert receiver.records == 4  # three events and the end record
    assert receiver.last_headers["authorization"] == "Bearer t0k"
    assert receiver.last_headers["x-tenant"] == "a"
    assert check_chains(read_trail(tmp_path / "received.jsonl"), keys.active_key) == {
        logger.stream_id: 4
    }
    with pytest.raises(audit_sdk.AuditConfigurationError, match="key=value"):
        audit_sdk.configure(
            keys=keys,
            environ={
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x",
                "OTEL_EXPORTER_OTLP_HEADERS": "junk",
            },
        )


def test_audit_log_record_sets_exactly_the_fields_of_the_api_log_record(tracer: Any) -> None:
    # _AuditLogRecord skips LogRecord.__init__ for speed; if OTel adds a field there,
    # this fails instead of exporters meeting records without it.
    from opentelemetry import context as otel_context
    from opentelemetry._logs import LogRecord

    from audit_sdk._logger import _AuditLogRecord

    with tracer.start_as_current_span("s") as span:
        ctx = otel_context.get_current()
        reference = LogRecord(
            timestamp=1,
            observed_timestamp=2,
            context=ctx,
            body="b",
            attributes={"a": "x"},
            event_name="e",
        )
        ours = _AuditLogRecord(
            timestamp=1,
            observed_timestamp=2,
            context=ctx,
            span_context=span.get_span_context(),
            body="b",
            attributes={"a": "x"},
            event_name="e",
        )
    assert vars(ours) == vars(reference)
    copied = copy.copy(ours)  # what the batch processors do with every record
    assert type(copied) is type(ours) and copied is not ours and vars(copied) == vars(ours)


def test_otel_attribute_limits_cannot_truncate_or_drop_signed_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The SDK's own records would cut values to 8 characters and keep 3 attributes:
    # the exported record would then no longer match its MAC.
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8")
    monkeypatch.setenv("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8")
    monkeypatch.setenv("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "3")
    with capture_audit_records() as audit:
        audit_sdk.audit_event(
            "doc.read", action="READ", actor="a-rather-long-actor-id", attributes={"n": "x" * 40}
        )
        [record] = audit.events
    assert record.attributes["audit.actor.id"] == "a-rather-long-actor-id"
    assert record.attributes["n"] == "x" * 40
    mac = compute_mac(audit.keys.active_key, record.canonical_bytes())
    assert mac == record.attributes["audit.integrity.value"]


def test_exported_attributes_are_read_only_and_detached_from_the_caller(keys: Any) -> None:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    exporter = InMemoryLogRecordExporter()
    logger = audit_sdk.configure(
        keys=keys, processor=SimpleLogRecordProcessor(exporter), set_default=False
    )
    tags = ["a", "b"]
    nested = {"k": [1, 2]}
    logger.emit("doc.read", action="READ", attributes={"tags": tags, "m": nested})
    tags.append("changed after signing")
    nested["k"].append(3)
    readable = exporter.get_finished_logs()[0]
    exported = readable.log_record
    logger.close()
    assert exported.attributes is not None
    assert exported.attributes["tags"] == ("a", "b")
    assert exported.attributes["m"] == {"k": (1, 2)}
    with pytest.raises(TypeError):
        exported.attributes["audit.actor.id"] = "mallory"  # type: ignore[index]
    record = audit_sdk.AuditRecord.from_readable(readable)
    assert (
        compute_mac(keys.active_key, record.canonical_bytes())
        == exported.attributes["audit.integrity.value"]
    )


def test_event_names_and_actions_may_be_str_enums() -> None:
    from enum import StrEnum

    class Event(StrEnum):
        READ = "doc.read"

    class Action(StrEnum):
        READ = "READ"

    with capture_audit_records() as audit:
        audit_sdk.audit_event(Event.READ, action=Action.READ)
        [record] = audit.events
    assert record.event_name == "doc.read" and record.attributes["audit.action"] == "READ"


def test_a_refused_checkpoint_does_not_fail_the_recorded_event(keys: Any) -> None:
    from opentelemetry.sdk._logs import LogRecordProcessor
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    class RefusesFirstCheckpoint(LogRecordProcessor):
        """Stand-in for a delivery policy that refuses once (say, a full spool disk)."""

        def __init__(self, inner: SimpleLogRecordProcessor) -> None:
            self.inner = inner
            self.refused = 0

        def on_emit(self, log_record: Any) -> None:
            if log_record.log_record.event_name == "audit.checkpoint" and not self.refused:
                self.refused += 1
                raise audit_sdk.AuditDeliveryError("spool full")
            self.inner.on_emit(log_record)

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return self.inner.force_flush(timeout_millis)

    exporter = InMemoryLogRecordExporter()
    processor = RefusesFirstCheckpoint(SimpleLogRecordProcessor(exporter))
    logger = audit_sdk.configure(
        keys=keys, processor=processor, checkpoint_every=2, set_default=False
    )
    receipts = [logger.emit("doc.read", action="READ") for _ in range(3)]
    logger.close()
    assert processor.refused == 1
    assert [r.sequence_number for r in receipts] == [1, 2, 3]
    records = [audit_sdk.AuditRecord.from_readable(r) for r in exporter.get_finished_logs()]
    # 1, 2, (refused checkpoint took no number), 3, checkpoint retried as 4, end record 5
    assert [r.sequence_number for r in records] == [1, 2, 3, 4, 5]
    assert [r.event_name for r in records][3:] == ["audit.checkpoint", "audit.checkpoint"]
    for before, after in itertools.pairwise(records):
        assert after.attributes["audit.sequence.previous_hash"] == record_hash(
            before.canonical_bytes()
        )
