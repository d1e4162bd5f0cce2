#!/usr/bin/env python3
"""Regenerate tests/fixtures/payloads/{good,bad}/ from the real SDK.

Good fixtures are records the SDK emits (`record.to_otlp()`,
`to_structured_json(record)`, and one OTLP file line), plus Azure resource-log
records shaped like the collector's transform/normalize output. Each bad
fixture is a good one with ONE rule broken; its name is
`<kind>--<rule code>[--<variant>].json`, and the tests require that Spectral and
`audit-sdk validate-payload` both report exactly that rule.

    .venv/bin/python scripts/gen_payload_fixtures.py
"""

from __future__ import annotations

import copy
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from audit_sdk import audit_event
from audit_sdk.cloudevent import to_structured_json
from audit_sdk.testing import capture_audit_records

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/payloads"

Doc = dict[str, Any]


def sdk_records() -> list[Any]:
    with capture_audit_records(service_name="billing") as capture:
        audit_event("invoice.export", action="EXPORT", actor="alice", target="inv-1",
                    target_type="invoice", details={"format": "pdf", "pages": 3},
                    attributes={"http.request.method": "GET", "invoice.count": 3,
                                "ratio": 0.5, "tags": ["a", "b"], "flags": {"urgent": True}})
        tracer = TracerProvider().get_tracer("fixtures")
        with tracer.start_as_current_span("login"):
            audit_event("user.login", action="LOGIN", outcome="failure", actor="bob",
                        actor_type="user", request_id="req-42")
        capture.logger.close()
        return list(capture.records)


def azure_record() -> Doc:
    """An Azure resource log after the collector's transform/normalize (unsigned)."""
    record_id = str(uuid.uuid4())
    resource = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1"
    attributes = {
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_source": resource,
        "cloudevents.event_subject": resource,
        "audit.target.id": resource,
        "cloud.resource_id": resource,
        "azure.service.request.id": "8f0e1a52-2b36-4d3e-9a55-0b7e0d7c1a10",
        "audit.record.id": record_id,
        "client.address": "203.0.113.7",
        "audit.action": "SECRETGET",
        "audit.outcome": "success",
        "audit.actor.id": "alice@example.com",
        "audit.actor.type": "user",
        "cloudevents.event_id": record_id,
        "cloudevents.event_type": "azure.resource.log",
        "audit.normalized.by": "otelcol-audit",
    }
    body = json.dumps({"time": "2026-01-05T10:00:00Z", "resourceId": resource,
                       "operationName": "SecretGet", "resultType": "Success",
                       "correlationId": attributes["azure.service.request.id"]})
    return {
        "timeUnixNano": "1767607200000000000",
        "observedTimeUnixNano": "1767607201000000000",
        "body": {"stringValue": body},
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
        "eventName": "azure.resource.log",
    }


# -- mutations --------------------------------------------------------------------------------

def set_attr(key: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        for entry in doc["attributes"]:
            if entry["key"] == key:
                entry["value"] = value
                return
        doc["attributes"].append({"key": key, "value": value})
    return apply


def drop_attr(key: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["attributes"] = [e for e in doc["attributes"] if e["key"] != key]
    return apply


def set_field(field: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc[field] = value
    return apply


def drop_field(field: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc.pop(field, None)
    return apply


def set_data_attr(key: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["data"]["attributes"][key] = value
    return apply


def drop_data_attr(key: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        doc["data"]["attributes"].pop(key, None)
    return apply


def write(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    first, second, end = sdk_records()
    good: dict[str, Doc] = {
        "otlp--event": first.to_otlp(),
        "otlp--traced-chained": second.to_otlp(),
        "otlp--checkpoint-end": end.to_otlp(),
        "otlp--azure-resource-log": azure_record(),
        "ce--event": json.loads(to_structured_json(first)),
        "ce--traced-chained": json.loads(to_structured_json(second)),
        "ce--checkpoint-end": json.loads(to_structured_json(end)),
        "ce--azure-resource-log": json.loads(to_structured_json(azure_record())),
    }
    resource = {"attributes": [
        {"key": "service.name", "value": {"stringValue": "billing"}},
        {"key": "audit.integrity.algorithm", "value": {"stringValue": "HMAC-SHA256"}},
    ]}
    good["otlp--file-line"] = {"resourceLogs": [{"resource": resource, "scopeLogs": [{
        "scope": {"name": "audit_sdk", "version": "0.1.0"},
        "logRecords": [first.to_otlp(), second.to_otlp(), end.to_otlp()]}]}]}

    bad: dict[str, tuple[str, Callable[[Doc], None]]] = {
        "otlp--audit-otlp-timestamps": ("otlp--event", set_field("timeUnixNano", "0")),
        "otlp--audit-otlp-timestamps--number": (
            "otlp--event", set_field("observedTimeUnixNano", 1767607201000000000)),
        "otlp--audit-otlp-event-name": ("otlp--event", drop_field("eventName")),
        "otlp--audit-otlp-attribute-list": (
            "otlp--event", set_attr("invoice.count", {"intValue": "3", "stringValue": "3"})),
        "otlp--audit-otlp-attribute-list--bad-base64": (
            "otlp--event", set_attr("blob", {"bytesValue": "not base64!"})),
        "otlp--audit-otlp-body": (
            "otlp--event", set_field("body", {"kvlistValue": {"values": []}})),
        "otlp--audit-otlp-trace-context": ("otlp--traced-chained", drop_field("spanId")),
        "otlp--audit-otlp-trace-context--upper-case": (
            "otlp--traced-chained", lambda d: d.update(traceId=d["traceId"].upper())),
        "otlp--audit-record-id": ("otlp--event", drop_attr("audit.record.id")),
        "otlp--audit-actor-id": ("otlp--event", set_attr("audit.actor.id", {"stringValue": ""})),
        "otlp--audit-actor-type": (
            "otlp--event", set_attr("audit.actor.type", {"stringValue": "robot"})),
        "otlp--audit-action": ("otlp--event", set_attr("audit.action", {"stringValue": "export"})),
        "otlp--audit-action--trailing-newline": (
            "otlp--event", set_attr("audit.action", {"stringValue": "EXPORT\n"})),
        "otlp--audit-outcome": ("otlp--event", set_attr("audit.outcome", {"stringValue": "ok"})),
        "otlp--audit-cloudevents-event-id": ("otlp--event", drop_attr("cloudevents.event_id")),
        "otlp--audit-cloudevents-attributes": (
            "otlp--event", set_attr("cloudevents.event_spec_version", {"stringValue": "0.3"})),
        "otlp--audit-optional-attributes": (
            "otlp--event", set_attr("audit.target.type", {"intValue": "5"})),
        "otlp--audit-sequence--first-with-previous": (
            "otlp--event", set_attr("audit.sequence.previous_hash", {"stringValue": "ab" * 32})),
        "otlp--audit-sequence--zero": (
            "otlp--event", set_attr("audit.sequence.number", {"intValue": "0"})),
        "otlp--audit-sequence--missing-previous-id": (
            "otlp--traced-chained", drop_attr("audit.sequence.previous_record_id")),
        "otlp--audit-sequence--stream-not-uuid": (
            "otlp--event", set_attr("audit.sequence.stream_id", {"stringValue": "stream-1"})),
        "otlp--audit-integrity": (
            "otlp--event", set_attr("audit.integrity.signer", {"stringValue": "collector"})),
        "otlp--audit-integrity--unsigned": ("otlp--event", drop_attr("audit.integrity.value")),
        "otlp--audit-checkpoint": (
            "otlp--checkpoint-end", set_attr("audit.action", {"stringValue": "EXPORT"})),
        "otlp--audit-checkpoint--end-on-event": (
            "otlp--event", set_attr("audit.sequence.end", {"boolValue": True})),
        "otlp--audit-azure-request-id": (
            "otlp--azure-resource-log", drop_attr("azure.service.request.id")),
        "otlp--audit-otlp-unique-keys": (
            "otlp--event", lambda d: d["attributes"].append(
                {"key": "invoice.count", "value": {"intValue": "4"}})),
        "otlp--audit-otlp-timestamp-order": (
            "otlp--event", lambda d: d.update(
                observedTimeUnixNano=str(int(d["timeUnixNano"]) - 1))),
        "otlp--audit-mirrors": (
            "otlp--event", set_attr("cloudevents.event_id", {"stringValue": str(uuid.uuid4())})),
        "otlp--audit-mirrors--subject": (
            "otlp--event", set_attr("cloudevents.event_subject", {"stringValue": "inv-2"})),
        "ce--audit-ce-context": ("ce--event", set_field("time", "yesterday")),
        "ce--audit-ce-context--content-type": (
            "ce--event", set_field("datacontenttype", "text/plain")),
        "ce--audit-ce-extensions": ("ce--event", drop_field("auditactortype")),
        "ce--audit-record-id": ("ce--event", drop_data_attr("audit.record.id")),
        "ce--audit-cloudevents-event-id": ("ce--event", drop_data_attr("cloudevents.event_id")),
        "ce--audit-sequence": (
            "ce--traced-chained", drop_data_attr("audit.sequence.previous_hash")),
        "ce--audit-integrity": ("ce--event", drop_data_attr("audit.integrity.value")),
        "ce--audit-checkpoint": ("ce--checkpoint-end", drop_data_attr("audit.checkpoint.hash")),
        "ce--audit-azure-request-id": (
            "ce--azure-resource-log", drop_data_attr("azure.service.request.id")),
        "ce--audit-mirrors": ("ce--event", set_field("id", str(uuid.uuid4()))),
        "ce--audit-mirrors--actor": ("ce--event", set_field("auditactor", "mallory")),
    }
    for sub in ("good", "bad"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
        (OUT / sub).mkdir(parents=True)
    for name, doc in good.items():
        write(OUT / "good" / f"{name}.json", doc)
    for name, (base, mutate) in bad.items():
        doc = copy.deepcopy(good[base])
        mutate(doc)
        write(OUT / "bad" / f"{name}.json", doc)
    # one bad record inside an OTLP file line
    line = copy.deepcopy(good["otlp--file-line"])
    set_attr("audit.outcome", {"stringValue": "maybe"})(
        line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1])
    write(OUT / "bad" / "otlp--audit-outcome--in-file-line.json", line)
    print(f"wrote {len(good)} good and {len(bad) + 1} bad fixtures under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
