"""End to end: OTLP/HTTP JSON in, OTLP-JSON trail files out.

Checks the normalization mapping of docs/collector.md, the compliant /
quarantine split, that signed records pass through unchanged, and that
nothing is lost.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import CollectorProcess, attrs_to_dict, wait_for

pytestmark = pytest.mark.collector

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def s(v: str) -> dict[str, Any]:
    return {"stringValue": v}


def kv(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": to_any(value)}


def to_any(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [kv(k, v) for k, v in value.items()]}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [to_any(v) for v in value]}}
    return {"stringValue": value}


def attrs(**kw: Any) -> list[dict[str, Any]]:
    return [kv(k.replace("__", "."), v) for k, v in kw.items()]


def mandatory(case: str, **extra: Any) -> dict[str, Any]:
    """A complete audit-sdk attribute set (SPEC §1) for record id ``case``."""
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:audit-sdk:test:{case}"))
    out = {
        "test.case": case,
        "audit.record.id": rid,
        "audit.actor.id": "svc-a",
        "audit.actor.type": "service",
        "audit.action": "EXPORT",
        "audit.outcome": "success",
        "cloudevents.event_id": rid,
        "cloudevents.event_source": "billing",
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_type": "user.data.export",
    }
    out.update(extra)
    return out


# --- the records ---------------------------------------------------------------

CE_STRING = {
    "specversion": "1.0",
    "id": "ce-str-1",
    "source": "/svc/orders",
    "type": "com.example.user.login",
    "subject": "user/42",
    "time": "2024-05-01T12:00:00.123Z",
    "datacontenttype": "application/json",
    "actorid": "alice",
    "actortype": "user",
    "action": "login",
    "outcome": "success",
    "data": {"ip": "10.0.0.1"},
}


def ce_string_record() -> dict[str, Any]:
    return {
        "observedTimeUnixNano": "1714564801000000000",
        "body": s(json.dumps(CE_STRING)),
        "attributes": attrs(test__case="ce-string"),
    }


def ce_map_record() -> dict[str, Any]:
    body = {
        "specversion": "1.0",
        "id": "ce-map-1",
        "source": "/svc/files",
        "type": "com.example.file.delete",
        "subject": "file/9",
        "time": "2024-05-01T14:00:00+02:00",
        "data": {
            "actor": {"id": "bob", "type": "Service"},
            "action": "delete",
            "outcome": "Failed",
        },
    }
    return {"body": to_any(body), "attributes": attrs(test__case="ce-map")}


def ce_attr_record() -> dict[str, Any]:
    return {
        "timeUnixNano": "1714564800000000000",
        "body": s("report exported"),
        "attributes": [
            kv("test.case", "ce-attrs"),
            kv("ce_id", "ce-attr-1"),
            kv("ce-source", "/svc/reports"),
            kv("ce_type", "com.example.report.export"),
            kv("ce_specversion", "1.0"),
            kv("ce-subject", "report/7"),
            kv("ce_actorid", "carol"),
            kv("ce_actortype", "user"),
            kv("ce_action", "export"),
        ],
    }


AZURE_JSON = {
    "time": "2024-05-01T10:11:12.1234567Z",
    "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1",
    "operationName": "Microsoft.KeyVault/vaults/secrets/read",
    "category": "AuditEvent",
    "resultType": "Success",
    "correlationId": "8f0e2b7c-1111-4d5e-9a3b-1234567890ab",
    "callerIpAddress": "203.0.113.7",
    "identity": {
        "claim": {
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "dave@example.com",
            "appid": "app-1",
        }
    },
    "properties": {"id": "https://kv1.vault.azure.net/secrets/s1"},
}


def azure_string_record() -> dict[str, Any]:
    return {
        "eventName": "azure.resource.log",
        "body": s(json.dumps(AZURE_JSON)),
        "attributes": attrs(test__case="azure-string"),
    }


def azure_map_record() -> dict[str, Any]:
    body = {
        "time": "2024-05-02T00:00:01Z",
        "resourceId": (
            "/subscriptions/1111/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
        ),
        "operationName": "GetBlob",
        "category": "StorageRead",
        "resultType": "Failure",
        "identity": {"claims": {"appid": "svc-app-7"}},
        "properties": {},
    }
    return {
        "body": to_any(body),
        "attributes": attrs(test__case="azure-map", event__name="azure.resource.log"),
    }


def azure_anonymous_record() -> dict[str, Any]:
    body = {
        "time": "2024-05-02T00:00:02Z",
        "resourceId": "/subscriptions/1111/resourceGroups/rg/providers/Microsoft.Web/sites/w",
        "operationName": "Microsoft.Web/sites/write",
        "category": "Administrative",
        "resultType": "Started",
    }
    return {
        "eventName": "azure.resource.log",
        "body": s(json.dumps(body)),
        "attributes": attrs(test__case="azure-anon"),
    }


def noncompliant_record() -> dict[str, Any]:
    return {"body": s("plain application log line"), "attributes": attrs(test__case="noncompliant")}


def unsigned_sdk_record() -> dict[str, Any]:
    """Complete audit attributes but no CloudEvents mirrors: the collector fills them."""
    a = mandatory("unsigned-sdk", **{"audit.target.id": "doc/1"})
    for k in list(a):
        if k.startswith("cloudevents."):
            del a[k]
    return {
        "timeUnixNano": "1714564800000000001",
        "eventName": "document.read",
        "body": s('{"doc":"1"}'),
        "attributes": [kv(k, v) for k, v in a.items()],
    }


def signed_record(case: str, drop: str | None = None) -> dict[str, Any]:
    """A record in exactly the form the file exporter writes it, with integrity.

    It also carries ce_* attributes and a CloudEvent-looking body, which the
    normalizer would map if it were unsigned.
    """
    a = mandatory(
        case,
        **{
            "audit.target.id": "user/7",
            "cloudevents.event_subject": "user/7",
            "audit.sequence.stream_id": "8c1e5f3a-0000-4000-8000-000000000001",
            "audit.sequence.number": 3,
            "audit.sequence.previous_hash": "ab" * 32,
            "ce_id": "must-not-be-mapped",
            "ce_type": "must.not.be.mapped",
            "sample.double": 1.5,
            "sample.bool": True,
            "sample.list": ["a", 1],
            "sample.map": {"k": "v"},
            "audit.integrity.value": "q1w2e3r4t5y6u7i8o9p0ASDFGHJKLzxcvbnm1234567=",
            "audit.integrity.signer": "producer",
            "audit.integrity.canonicalization": "jcs",
            "audit.integrity.key_id": "default",
        },
    )
    if drop:
        del a[drop]
    return {
        "timeUnixNano": "1714564800000000123",
        "observedTimeUnixNano": "1714564800000000456",
        "eventName": "user.data.export",
        "body": s(json.dumps({"specversion": "1.0", "id": "x", "type": "t", "rows": 3})),
        "attributes": [kv(k, v) for k, v in a.items()],
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
    }


def request(records: list[dict[str, Any]], service: str = "third-party") -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [kv("service.name", service)]},
                "scopeLogs": [{"scope": {"name": "tests.collector"}, "logRecords": records}],
            }
        ]
    }


def by_case(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(attrs_to_dict(r.get("attributes", []))["test.case"], []).append(r)
    return out


def strip(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "_resource"}


# --- the test ------------------------------------------------------------------

EXPECTED_AUDIT = {
    "ce-string", "ce-map", "ce-attrs", "azure-string", "azure-map", "azure-anon",
    "unsigned-sdk", "signed",
}  # fmt: skip
EXPECTED_QUARANTINE = {"noncompliant", "signed-incomplete"}


@pytest.fixture(scope="module")
def sent_and_stored(
    collector_binary: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    from .conftest import CONFIG

    data = tmp_path_factory.mktemp("pipeline")
    cp = CollectorProcess(collector_binary, data, [CONFIG])
    cp.start()
    try:
        third_party = [
            ce_string_record(),
            ce_map_record(),
            ce_attr_record(),
            azure_string_record(),
            azure_map_record(),
            azure_anonymous_record(),
            noncompliant_record(),
        ]
        sdk = [
            unsigned_sdk_record(),
            signed_record("signed"),
            signed_record("signed-incomplete", drop="audit.outcome"),
        ]
        sent = {}
        for rec in third_party + sdk:
            sent[attrs_to_dict(rec["attributes"])["test.case"]] = rec
        st, body = cp.post_logs(request(third_party))
        assert st == 200, body
        st, body = cp.post_logs(request(sdk, service="billing"))
        assert st == 200, body
        total = len(sent)

        def count() -> int:
            return len(cp.store("audit")) + len(cp.store("quarantine"))

        assert wait_for(lambda: count() >= total, timeout=10), cp.output()
    finally:
        rc = cp.stop()
    assert rc == 0, cp.output()
    stores = {"audit": cp.store("audit"), "quarantine": cp.store("quarantine")}
    return sent, stores, {"output": cp.output()}


def test_nothing_lost_and_split(sent_and_stored: Any) -> None:
    sent, stores, _ = sent_and_stored
    audit = by_case(stores["audit"])
    quarantine = by_case(stores["quarantine"])
    assert set(audit) == EXPECTED_AUDIT
    assert set(quarantine) == EXPECTED_QUARANTINE
    # every record exactly once, in exactly one store
    assert all(len(v) == 1 for v in audit.values()), audit
    assert all(len(v) == 1 for v in quarantine.values()), quarantine
    assert len(stores["audit"]) + len(stores["quarantine"]) == len(sent)


def test_every_line_is_an_otlp_json_request(sent_and_stored: Any, tmp_path: Any) -> None:
    _, stores, _ = sent_and_stored
    for name in ("audit", "quarantine"):
        assert stores[name], name
        for rec in stores[name]:
            assert "attributes" in rec and rec["_resource"]["service.name"]


def audit_attrs(stores: Any, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (rec,) = by_case(stores["audit"])[case]
    return rec, attrs_to_dict(rec["attributes"])


def test_cloudevent_json_string_body(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "ce-string")
    assert rec["eventName"] == "com.example.user.login"
    assert rec["timeUnixNano"] == "1714564800123000000"
    assert rec["body"] == ce_string_record()["body"]  # the event itself is kept
    assert {k: v for k, v in a.items() if k != "test.case"} == {
        "cloudevents.event_id": "ce-str-1",
        "cloudevents.event_source": "/svc/orders",
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_type": "com.example.user.login",
        "cloudevents.event_subject": "user/42",
        "audit.record.id": "ce-str-1",
        "audit.target.id": "user/42",
        "audit.actor.id": "alice",
        "audit.actor.type": "user",
        "audit.action": "LOGIN",
        "audit.outcome": "success",
        "audit.normalized.by": "otelcol-audit",
    }


def test_cloudevent_map_body(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "ce-map")
    assert rec["eventName"] == "com.example.file.delete"
    assert rec["timeUnixNano"] == "1714564800000000000"  # 14:00+02:00
    assert {k: v for k, v in a.items() if k != "test.case"} == {
        "cloudevents.event_id": "ce-map-1",
        "cloudevents.event_source": "/svc/files",
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_type": "com.example.file.delete",
        "cloudevents.event_subject": "file/9",
        "audit.record.id": "ce-map-1",
        "audit.target.id": "file/9",
        "audit.actor.id": "bob",
        "audit.actor.type": "service",
        "audit.action": "DELETE",
        "audit.outcome": "failure",
        "audit.normalized.by": "otelcol-audit",
    }


def test_ce_attributes(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "ce-attrs")
    assert rec["eventName"] == "com.example.report.export"
    assert rec["timeUnixNano"] == "1714564800000000000"
    assert rec["body"] == {"stringValue": "report exported"}
    original = {
        k: v for k, v in a.items() if k.startswith("ce") and not k.startswith("cloudevents.")
    }
    assert original == {
        "ce_id": "ce-attr-1",
        "ce-source": "/svc/reports",
        "ce_type": "com.example.report.export",
        "ce_specversion": "1.0",
        "ce-subject": "report/7",
        "ce_actorid": "carol",
        "ce_actortype": "user",
        "ce_action": "export",
    }  # kept as they were
    mapped = {k: v for k, v in a.items() if not k.startswith("ce") or k.startswith("cloudevents.")}
    assert {k: v for k, v in mapped.items() if k != "test.case"} == {
        "cloudevents.event_id": "ce-attr-1",
        "cloudevents.event_source": "/svc/reports",
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_type": "com.example.report.export",
        "cloudevents.event_subject": "report/7",
        "audit.record.id": "ce-attr-1",
        "audit.target.id": "report/7",
        "audit.actor.id": "carol",
        "audit.actor.type": "user",
        "audit.action": "EXPORT",
        "audit.outcome": "unknown",
        "audit.normalized.by": "otelcol-audit",
    }


def test_azure_resource_log_json_string(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "azure-string")
    rid = AZURE_JSON["resourceId"]
    assert rec["eventName"] == "azure.resource.log"
    assert rec["timeUnixNano"] == "1714558272123456700"
    assert rec["body"] == azure_string_record()["body"]
    assert {k: v for k, v in a.items() if k != "test.case"} == {
        "cloudevents.event_id": AZURE_JSON["correlationId"],
        "cloudevents.event_source": rid,
        "cloudevents.event_spec_version": "1.0",
        "cloudevents.event_type": "azure.resource.log",
        "cloudevents.event_subject": rid,
        "audit.record.id": AZURE_JSON["correlationId"],
        "audit.target.id": rid,
        "audit.actor.id": "dave@example.com",
        "audit.actor.type": "user",
        "audit.action": "READ",
        "audit.outcome": "success",
        "cloud.resource_id": rid,
        "azure.service.request.id": AZURE_JSON["correlationId"],
        "client.address": "203.0.113.7",
        "audit.normalized.by": "otelcol-audit",
    }


def test_azure_resource_log_map_body(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "azure-map")
    assert rec["eventName"] == "azure.resource.log"
    assert rec["timeUnixNano"] == "1714608001000000000"
    assert a["audit.actor.id"] == "svc-app-7"
    assert a["audit.actor.type"] == "service"
    assert a["audit.action"] == "GETBLOB"
    assert a["audit.outcome"] == "failure"
    assert "azure.service.request.id" not in a  # no correlationId
    # no correlationId: a generated UUID, mirrored into cloudevents.event_id
    rid = a["audit.record.id"]
    assert len(rid) == 36 and rid.count("-") == 4
    assert a["cloudevents.event_id"] == rid
    assert a["event.name"] == "azure.resource.log"


def test_azure_anonymous(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    _, a = audit_attrs(stores, "azure-anon")
    assert a["audit.actor.id"] == "anonymous"
    assert a["audit.actor.type"] == "user"
    assert a["audit.action"] == "WRITE"
    assert a["audit.outcome"] == "unknown"


def test_unsigned_sdk_record_gets_cloudevents_mirrors(sent_and_stored: Any) -> None:
    _, stores, _ = sent_and_stored
    rec, a = audit_attrs(stores, "unsigned-sdk")
    assert a["cloudevents.event_id"] == a["audit.record.id"]
    assert a["cloudevents.event_type"] == "document.read"
    assert a["cloudevents.event_spec_version"] == "1.0"
    assert a["cloudevents.event_source"] == "billing"  # service.name
    assert a["cloudevents.event_subject"] == "doc/1"
    assert a["audit.normalized.by"] == "otelcol-audit"
    assert rec["eventName"] == "document.read"
    assert rec["timeUnixNano"] == "1714564800000000001"


def test_signed_record_unchanged(sent_and_stored: Any) -> None:
    sent, stores, _ = sent_and_stored
    (rec,) = by_case(stores["audit"])["signed"]
    assert strip(rec) == sent["signed"]
    # byte for byte, attribute order included
    assert json.dumps(strip(rec), sort_keys=True) == json.dumps(sent["signed"], sort_keys=True)


def test_noncompliant_quarantined_with_reason(sent_and_stored: Any) -> None:
    sent, stores, _ = sent_and_stored
    (rec,) = by_case(stores["quarantine"])["noncompliant"]
    a = attrs_to_dict(rec["attributes"])
    assert rec["body"] == sent["noncompliant"]["body"]
    assert a["audit.quarantine.reason"] == "missing mandatory audit attributes"
    assert a["audit.quarantine.missing"] == [
        "event_name",
        "audit.record.id",
        "audit.actor.id",
        "audit.actor.type",
        "audit.action",
        "audit.outcome",
        "cloudevents.event_id",
    ]


def test_signed_incomplete_record_quarantined_unchanged(sent_and_stored: Any) -> None:
    sent, stores, _ = sent_and_stored
    (rec,) = by_case(stores["quarantine"])["signed-incomplete"]
    assert strip(rec) == sent["signed-incomplete"]
