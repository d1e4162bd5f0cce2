#!/usr/bin/env python3
"""Generate the payload rules from one definition, so that Spectral and audit-sdk agree.

Writes
  src/audit_sdk/schemas/otlp-log-record.schema.json   (JSON Schema 2020-12)
  src/audit_sdk/schemas/cloudevent.schema.json        (JSON Schema 2020-12)
  validators/spectral-audit-rules.yaml                (Spectral ruleset)

Every rule is one JSON Schema fragment per payload kind; the JSON Schemas are
the `allOf` of their fragments (each titled with the rule code), and each
Spectral rule applies the same fragment with the `schema` core function, gated
by payload kind. The rules JSON Schema cannot express (values that must equal
each other, unique attribute keys, timestamp order) are Spectral custom
functions in validators/functions/ and Python code in audit_sdk/_lint/payload.py.

    python scripts/gen_payload_rules.py          # rewrite the files
    python scripts/gen_payload_rules.py --check  # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OTLP_SCHEMA = ROOT / "src/audit_sdk/schemas/otlp-log-record.schema.json"
CE_SCHEMA = ROOT / "src/audit_sdk/schemas/cloudevent.schema.json"
RULESET = ROOT / "validators/spectral-audit-rules.yaml"

Schema = dict[str, Any]

# -- value shapes --------------------------------------------------------------------------------

EVENT_NAME = r"^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*$"
ACTION = r"^[A-Z][A-Z0-9_]*$"
UUID4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
HEX64 = r"^[0-9a-f]{64}$"
HEX64_OR_EMPTY = r"^([0-9a-f]{64})?$"
MAC_B64 = r"^[A-Za-z0-9+/]{43}=$"  # 32 bytes, standard base64
SIG_B64 = r"^[A-Za-z0-9+/]{86}==$"  # 64 bytes (Ed25519), standard base64
BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
NANOS = r"^[1-9][0-9]{0,19}$"
NANOS_OR_ZERO = r"^(0|[1-9][0-9]{0,19})$"
RFC3339 = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
           r"(Z|[+-][0-9]{2}:[0-9]{2})$")
TRACEPARENT = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
NONBLANK = r"\S"

ACTOR_TYPES = ["user", "service", "system"]
OUTCOMES = ["success", "failure", "unknown"]


class V:
    """An attribute value shape, for OTLP-JSON (tagged) or plain JSON (CloudEvent data)."""

    def __init__(self, plain: Schema, otlp: Schema) -> None:
        self.plain = plain
        self.otlp = otlp

    def for_kind(self, kind: str) -> Schema:
        return self.otlp if kind == "otlp" else self.plain


def _string(schema: Schema) -> V:
    return V(schema, {"type": "object", "required": ["stringValue"],
                      "properties": {"stringValue": schema}})


def text() -> V:
    return _string({"type": "string", "minLength": 1, "pattern": NONBLANK})


def enum(values: list[str]) -> V:
    return _string({"type": "string", "enum": values})


def const(value: str) -> V:
    return _string({"type": "string", "const": value})


def pattern(regex: str) -> V:
    return _string({"type": "string", "pattern": regex})


def integer(minimum: int) -> V:
    decimal = r"^[1-9][0-9]*$" if minimum >= 1 else r"^(0|[1-9][0-9]*)$"
    return V({"type": "integer", "minimum": minimum},
             {"type": "object", "required": ["intValue"], "properties": {"intValue": {
                 "anyOf": [{"type": "string", "pattern": decimal},
                           {"type": "integer", "minimum": minimum}]}}})


def integer_one() -> V:
    return V({"const": 1},
             {"type": "object", "required": ["intValue"],
              "properties": {"intValue": {"enum": ["1", 1]}}})


def true() -> V:
    return V({"const": True}, {"type": "object", "required": ["boolValue"],
                               "properties": {"boolValue": {"const": True}}})


# -- attribute predicates, per kind ---------------------------------------------------------------

def _otlp_key(key: str) -> Schema:
    return {"type": "object", "required": ["key"], "properties": {"key": {"const": key}}}


def has(kind: str, key: str, value: V) -> Schema:
    """Attribute `key` is present, and every occurrence has the shape `value`."""
    if kind == "otlp":
        return {"properties": {"attributes": {
            "contains": _otlp_key(key),
            "items": {"if": _otlp_key(key),
                      "then": {"required": ["value"], "properties": {"value": value.otlp}}},
        }}}
    return {"properties": {"data": {"properties": {"attributes": {
        "required": [key], "properties": {key: value.plain}}}}}}


def typed(kind: str, key: str, value: V) -> Schema:
    """When attribute `key` is present, it has the shape `value`."""
    if kind == "otlp":
        return {"properties": {"attributes": {"items": {
            "if": _otlp_key(key),
            "then": {"required": ["value"], "properties": {"value": value.otlp}}}}}}
    return {"properties": {"data": {"properties": {"attributes": {
        "properties": {key: value.plain}}}}}}


def absent(kind: str, key: str) -> Schema:
    if kind == "otlp":
        return {"properties": {"attributes": {
            "if": {"type": "array"}, "then": {"not": {"contains": _otlp_key(key)}}}}}
    return {"properties": {"data": {"properties": {"attributes": {
        "if": {"type": "object"}, "then": {"not": {"required": [key]}}}}}}}


def holds(kind: str, key: str, value: V | None = None) -> Schema:
    """Condition: attribute `key` is present (with shape `value`, when given)."""
    if kind == "otlp":
        item: Schema = _otlp_key(key)
        if value is not None:
            item = {"type": "object", "required": ["key", "value"],
                    "properties": {"key": {"const": key}, "value": value.otlp}}
        return {"type": "object", "required": ["attributes"],
                "properties": {"attributes": {"type": "array", "contains": item}}}
    attributes: Schema = {"type": "object", "required": [key]}
    if value is not None:
        attributes["properties"] = {key: value.plain}
    return {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "object", "required": ["attributes"], "properties": {"attributes": attributes}}}}


def event_is(kind: str, name: str) -> Schema:
    field = "eventName" if kind == "otlp" else "type"
    return {"type": "object", "required": [field], "properties": {field: {"const": name}}}


def all_of(*parts: Schema) -> Schema:
    return parts[0] if len(parts) == 1 else {"allOf": list(parts)}


NORMALIZED = "audit.normalized.by"

# -- the rules --------------------------------------------------------------------------------

def r_record_id(kind: str) -> Schema:
    return has(kind, "audit.record.id", text())


def r_actor_id(kind: str) -> Schema:
    return has(kind, "audit.actor.id", text())


def r_actor_type(kind: str) -> Schema:
    return has(kind, "audit.actor.type", enum(ACTOR_TYPES))


def r_action(kind: str) -> Schema:
    return has(kind, "audit.action", pattern(ACTION))


def r_outcome(kind: str) -> Schema:
    return has(kind, "audit.outcome", enum(OUTCOMES))


def r_ce_event_id(kind: str) -> Schema:
    return has(kind, "cloudevents.event_id", text())


def r_ce_attributes(kind: str) -> Schema:
    return all_of(
        has(kind, "cloudevents.event_source", text()),
        has(kind, "cloudevents.event_spec_version", const("1.0")),
        has(kind, "cloudevents.event_type", pattern(EVENT_NAME)),
        typed(kind, "cloudevents.event_subject", text()),
    )


def r_optional(kind: str) -> Schema:
    keys = ["audit.target.id", "audit.target.type", "audit.source.id", "audit.source.type",
            "audit.schema.version", "audit.request.id"]
    return all_of(*(typed(kind, key, text()) for key in keys))


def r_sequence(kind: str) -> Schema:
    shapes = {
        "audit.sequence.stream_id": pattern(UUID4),
        "audit.sequence.number": integer(1),
        "audit.sequence.previous_hash": pattern(HEX64),
        "audit.sequence.previous_record_id": text(),
        "audit.sequence.end": true(),
    }
    typed_all = [typed(kind, key, shape) for key, shape in shapes.items()]
    signed = all_of(
        has(kind, "audit.sequence.stream_id", shapes["audit.sequence.stream_id"]),
        has(kind, "audit.sequence.number", shapes["audit.sequence.number"]),
        *typed_all[2:],
        {
            "if": holds(kind, "audit.sequence.number", integer_one()),
            "then": all_of(absent(kind, "audit.sequence.previous_hash"),
                           absent(kind, "audit.sequence.previous_record_id")),
            "else": all_of(
                has(kind, "audit.sequence.previous_hash", shapes["audit.sequence.previous_hash"]),
                has(kind, "audit.sequence.previous_record_id", text())),
        },
    )
    return {"if": holds(kind, NORMALIZED), "then": all_of(*typed_all), "else": signed}


def r_integrity(kind: str) -> Schema:
    shapes = {
        "audit.integrity.value": pattern(MAC_B64),
        "audit.integrity.signer": const("producer"),
        "audit.integrity.canonicalization": const("jcs"),
        "audit.integrity.key_id": text(),
    }
    return {
        "if": holds(kind, NORMALIZED),
        "then": all_of(*(typed(kind, k, v) for k, v in shapes.items())),
        "else": all_of(*(has(kind, k, v) for k, v in shapes.items())),
    }


def r_checkpoint(kind: str) -> Schema:
    return all_of(
        {
            "if": event_is(kind, "audit.checkpoint"),
            "then": all_of(
                has(kind, "audit.checkpoint.number", integer(0)),
                has(kind, "audit.checkpoint.hash", pattern(HEX64_OR_EMPTY)),
                typed(kind, "audit.checkpoint.signature", pattern(SIG_B64)),
                typed(kind, "audit.checkpoint.key_id", text()),
                has(kind, "audit.actor.type", const("system")),
                has(kind, "audit.action", const("CHECKPOINT")),
            ),
        },
        {
            "if": holds(kind, "audit.sequence.end"),
            "then": event_is(kind, "audit.checkpoint"),
        },
    )


def r_azure(kind: str) -> Schema:
    return {"if": event_is(kind, "azure.resource.log"),
            "then": has(kind, "azure.service.request.id", text())}


ANY_VALUE: Schema = {
    "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
    "properties": {
        "stringValue": {"type": "string"},
        "boolValue": {"type": "boolean"},
        "intValue": {"anyOf": [{"type": "string", "pattern": r"^-?[0-9]+$"}, {"type": "integer"}]},
        "doubleValue": {"type": "number"},
        "bytesValue": {"type": "string", "pattern": BASE64},
        "arrayValue": {"type": "object"},
        "kvlistValue": {"type": "object"},
    },
}


def r_otlp_timestamps(kind: str) -> Schema:
    return {
        "type": "object",
        "required": ["timeUnixNano"],
        "properties": {"timeUnixNano": {"type": "string", "pattern": NANOS},
                       "observedTimeUnixNano": {"type": "string", "pattern": NANOS_OR_ZERO}},
        "if": holds(kind, NORMALIZED),
        "else": {"required": ["observedTimeUnixNano"],
                 "properties": {"observedTimeUnixNano": {"pattern": NANOS}}},
    }


def r_otlp_event_name(kind: str) -> Schema:
    return {"type": "object", "required": ["eventName"],
            "properties": {"eventName": {"type": "string", "pattern": EVENT_NAME}}}


def r_otlp_attribute_list(kind: str) -> Schema:
    return {"type": "object", "required": ["attributes"], "properties": {"attributes": {
        "type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["key", "value"],
            "properties": {"key": {"type": "string", "minLength": 1}, "value": ANY_VALUE}}}}}


def r_otlp_body(kind: str) -> Schema:
    return {"if": holds(kind, NORMALIZED), "else": {"properties": {"body": {
        "type": "object", "required": ["stringValue"], "additionalProperties": False,
        "properties": {"stringValue": {"type": "string"}}}}}}


def r_otlp_trace_context(kind: str) -> Schema:
    return {"properties": {"traceId": {"type": "string", "pattern": r"^[0-9a-f]{32}$"},
                           "spanId": {"type": "string", "pattern": r"^[0-9a-f]{16}$"}},
            "dependentRequired": {"traceId": ["spanId"], "spanId": ["traceId"]}}


def r_ce_context(kind: str) -> Schema:
    nonblank = {"type": "string", "minLength": 1, "pattern": NONBLANK}
    return {
        "type": "object",
        "required": ["id", "source", "type", "specversion", "time", "datacontenttype", "data"],
        "properties": {
            "id": nonblank,
            "source": nonblank,
            "type": {"type": "string", "pattern": EVENT_NAME},
            "specversion": {"const": "1.0"},
            "time": {"type": "string", "pattern": RFC3339},
            "datacontenttype": {"const": "application/json"},
            "subject": nonblank,
            "traceparent": {"type": "string", "pattern": TRACEPARENT},
            "data": {"type": "object", "required": ["attributes"],
                     "properties": {"attributes": {"type": "object"}}},
        },
    }


def r_ce_extensions(kind: str) -> Schema:
    nonblank = {"type": "string", "minLength": 1, "pattern": NONBLANK}
    return {
        "type": "object",
        "required": ["auditactor", "auditactortype", "auditaction", "auditoutcome"],
        "properties": {
            "auditactor": nonblank,
            "auditactortype": {"type": "string", "enum": ACTOR_TYPES},
            "auditaction": {"type": "string", "pattern": ACTION},
            "auditoutcome": {"type": "string", "enum": OUTCOMES},
            "auditstream": {"type": "string", "pattern": UUID4},
            "auditsequence": {"type": "string", "pattern": r"^[1-9][0-9]*$"},
        },
        "if": holds(kind, NORMALIZED),
        "else": {"required": ["auditstream", "auditsequence"]},
    }


# code -> (description, kinds, builder). Order = report order.
SCHEMA_RULES: list[tuple[str, str, tuple[str, ...], Any]] = [
    ("audit-otlp-timestamps", "timeUnixNano and observedTimeUnixNano are non-zero ns as decimal "
     "strings (observed may be absent on collector-normalized records)", ("otlp",),
     r_otlp_timestamps),
    ("audit-otlp-event-name", "eventName is a non-empty dot-separated event type", ("otlp",),
     r_otlp_event_name),
    ("audit-otlp-attribute-list", "attributes is a non-empty list of {key, value} with one "
     "OTLP AnyValue each", ("otlp",), r_otlp_attribute_list),
    ("audit-otlp-body", "the body, when present, is a string (the canonical JSON details)",
     ("otlp",), r_otlp_body),
    ("audit-otlp-trace-context", "traceId (32 hex) and spanId (16 hex) are lower-case hex and "
     "come together", ("otlp",), r_otlp_trace_context),
    ("audit-ce-context", "structured CloudEvent 1.0: id, source, type, specversion 1.0, RFC 3339 "
     "time, datacontenttype application/json and data.attributes", ("cloudevent",), r_ce_context),
    ("audit-ce-extensions", "CloudEvent extensions auditactor, auditactortype, auditaction, "
     "auditoutcome (and auditstream, auditsequence on signed records)", ("cloudevent",),
     r_ce_extensions),
    ("audit-record-id", "audit.record.id is present and a non-empty string",
     ("otlp", "cloudevent"), r_record_id),
    ("audit-actor-id", "audit.actor.id is present and a non-empty string",
     ("otlp", "cloudevent"), r_actor_id),
    ("audit-actor-type", "audit.actor.type is one of user, service, system",
     ("otlp", "cloudevent"), r_actor_type),
    ("audit-action", "audit.action is an upper-case verb (READ, EXPORT, ...)",
     ("otlp", "cloudevent"), r_action),
    ("audit-outcome", "audit.outcome is one of success, failure, unknown",
     ("otlp", "cloudevent"), r_outcome),
    ("audit-cloudevents-event-id", "cloudevents.event_id is present and a non-empty string",
     ("otlp", "cloudevent"), r_ce_event_id),
    ("audit-cloudevents-attributes", "cloudevents.event_source, event_spec_version 1.0 and "
     "event_type are present; event_subject is a string when set", ("otlp", "cloudevent"),
     r_ce_attributes),
    ("audit-optional-attributes", "audit.target.*, audit.source.*, audit.schema.version and "
     "audit.request.id are non-empty strings when set", ("otlp", "cloudevent"), r_optional),
    ("audit-sequence", "audit.sequence.stream_id (UUID v4) and number (>= 1) are present; "
     "previous_hash (64 hex) and previous_record_id are present exactly when number > 1; end is "
     "true when set (all optional on collector-normalized records)", ("otlp", "cloudevent"),
     r_sequence),
    ("audit-integrity", "audit.integrity.value (base64 HMAC-SHA256), signer producer, "
     "canonicalization jcs and key_id are present (optional on collector-normalized records)",
     ("otlp", "cloudevent"), r_integrity),
    ("audit-checkpoint", "audit.checkpoint records carry checkpoint number, hash (64 hex), "
     "signature (base64 Ed25519) and key id, actor type system, action CHECKPOINT; "
     "audit.sequence.end only on a checkpoint", ("otlp", "cloudevent"), r_checkpoint),
    ("audit-azure-request-id", "azure.resource.log records carry azure.service.request.id",
     ("otlp", "cloudevent"), r_azure),
]

# Rules that JSON Schema cannot express: Spectral custom functions + Python code.
FUNCTION_RULES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("audit-otlp-unique-keys", "auditUniqueKeys",
     "each attribute key appears once in the attribute list", ("otlp",)),
    ("audit-otlp-timestamp-order", "auditTimestampOrder",
     "observedTimeUnixNano >= timeUnixNano", ("otlp",)),
    ("audit-mirrors", "auditMirrors",
     "mirrored values agree: cloudevents.event_id = audit.record.id, cloudevents.event_type = "
     "event name, cloudevents.event_subject = audit.target.id; for a CloudEvent also id, type, "
     "source, subject and the audit* extensions = their attributes", ("otlp", "cloudevent")),
]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
WRAPPER: Schema = {"type": "object", "required": ["resourceLogs"]}
CE_GATE: Schema = {"type": "object", "required": ["specversion"]}
GIVEN_RECORDS = ["$", "$.resourceLogs[*].scopeLogs[*].logRecords[*]"]


def build_schema(kind: str) -> Schema:
    if kind == "otlp":
        head = {
            "$schema": DIALECT,
            "$id": "urn:audit-sdk:schema:otlp-log-record:1",
            "title": "audit-sdk audit record as one OTLP-JSON logRecords entry",
            "description": "One entry of resourceLogs[].scopeLogs[].logRecords[] as the SDK "
            "and the collector's file exporter write it (SPEC.md §1). Each allOf entry is one "
            "rule, titled with its code; the Spectral ruleset validators/spectral-audit-rules.yaml "
            "applies the same fragments. Generated by scripts/gen_payload_rules.py.",
        }
    else:
        head = {
            "$schema": DIALECT,
            "$id": "urn:audit-sdk:schema:cloudevent:1",
            "title": "audit-sdk audit record as a structured-mode CloudEvent 1.0",
            "description": "What audit_sdk.cloudevent.to_structured_json writes: context "
            "attributes, audit* extensions and data.attributes with every record attribute "
            "as plain JSON (SPEC.md §1). Each allOf entry is one rule, titled with its code. "
            "Generated by scripts/gen_payload_rules.py.",
        }
    rules = []
    for code, description, kinds, builder in SCHEMA_RULES:
        if kind in kinds:
            rules.append({"title": code, "description": description, **builder(kind)})
    functions = [code for code, _, _, kinds in FUNCTION_RULES if kind in kinds]
    return {
        **head,
        "$comment": "Also checked by audit-sdk validate-payload and by Spectral custom "
        "functions, outside JSON Schema: " + ", ".join(functions) + ".",
        "type": "object",
        "allOf": rules,
    }


def _gate(kinds: tuple[str, ...], fragments: dict[str, Schema]) -> Schema:
    if kinds == ("otlp",):
        return {"if": {"anyOf": [WRAPPER, CE_GATE]}, "then": True, "else": fragments["otlp"]}
    if kinds == ("cloudevent",):
        return {"if": CE_GATE, "then": fragments["cloudevent"]}
    return {"if": WRAPPER, "then": True,
            "else": {"if": CE_GATE, "then": fragments["cloudevent"], "else": fragments["otlp"]}}


def build_ruleset() -> Schema:
    rules: dict[str, Any] = {}
    for code, description, kinds, builder in SCHEMA_RULES:
        fragments = {kind: builder(kind) for kind in kinds}
        rules[code] = {
            "description": description,
            "message": "{{error}}",
            "severity": "error",
            "given": "$" if kinds == ("cloudevent",) else GIVEN_RECORDS,
            "then": {"function": "schema", "functionOptions": {
                "dialect": "draft2020-12", "schema": _gate(kinds, fragments)}},
        }
    for code, function, description, _ in FUNCTION_RULES:
        rules[code] = {
            "description": description,
            "message": "{{error}}",
            "severity": "error",
            "given": GIVEN_RECORDS,
            "then": {"function": function},
        }
    return {
        "functionsDir": "./functions",
        "functions": [function for _, function, _, _ in FUNCTION_RULES],
        "rules": rules,
    }


RULESET_HEADER = """\
# Spectral ruleset for audit-sdk payloads (GENERATED by scripts/gen_payload_rules.py:
# edit that script, then run it; a test fails when this file is stale).
#
# Lints one JSON document that is either
#   - an OTLP-JSON log record (one logRecords entry), or
#   - an OTLP file line {"resourceLogs": [...]} (every log record inside it), or
#   - a structured-mode CloudEvent (audit_sdk.cloudevent.to_structured_json).
#
#   npx --prefix validators spectral lint --ruleset validators/spectral-audit-rules.yaml FILE.json
#
# `audit-sdk validate-payload` applies the same rules with JSON Schema
# (src/audit_sdk/schemas/*.json) plus Python versions of the custom functions
# in ./functions; the test suite checks that both agree on every fixture.
"""


class _Dumper(yaml.SafeDumper):
    """Writes repeated fragments out in full (no YAML anchors or aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered() -> dict[Path, str]:
    return {
        OTLP_SCHEMA: json.dumps(build_schema("otlp"), indent=2) + "\n",
        CE_SCHEMA: json.dumps(build_schema("cloudevent"), indent=2) + "\n",
        RULESET: RULESET_HEADER + yaml.dump(build_ruleset(), Dumper=_Dumper, sort_keys=False,
                                            width=100, allow_unicode=True,
                                            default_flow_style=None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args()
    stale = []
    for path, content in rendered().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    if args.check and stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale), file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
