"""Payload validation: the JSON Schemas in audit_sdk/schemas plus the rules JSON Schema can't say.

The same rules run in Spectral (validators/spectral-audit-rules.yaml, with the
custom functions in validators/functions/); both are generated from one
definition (scripts/gen_payload_rules.py) and the tests check that they agree
on every fixture. Kind detection is the same on both sides: an object with
`resourceLogs` is an OTLP file line (each of its log records is checked), one
with `specversion` is a structured CloudEvent, anything else an OTLP-JSON log
record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

__all__ = [
    "KINDS",
    "PayloadError",
    "Violation",
    "detect_kind",
    "load_schema",
    "parse_documents",
    "records_of",
    "validate_document",
    "validate_record",
]

KINDS = ("otlp", "cloudevent")
SCHEMA_FILES = {"otlp": "otlp-log-record.schema.json", "cloudevent": "cloudevent.schema.json"}


class PayloadError(Exception):
    """Input that is not a payload at all (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    record: str  # where the record is in the document: "$" or "$.resourceLogs[0]..."
    path: str  # JSON path of the offending value, relative to the record
    message: str

    def render(self) -> str:
        where = self.record if self.path in {"", "$"} else f"{self.record} {self.path}"
        return f"{where}: [{self.rule}] {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "record": self.record, "path": self.path,
                "message": self.message}


# -- JSON Schema side -----------------------------------------------------------------------------

def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """`pattern` with ECMA-262 semantics for a final `$` (end of input, not before a newline)."""
    if not isinstance(instance, str):
        return
    if _compile(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _ecma_pattern}
)


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The packaged JSON Schema for `kind` ("otlp" or "cloudevent")."""
    text = (resources.files("audit_sdk") / "schemas" / SCHEMA_FILES[kind]).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _rule_validators(kind: str) -> tuple[tuple[str, Any], ...]:
    schema = load_schema(kind)
    return tuple((str(rule["title"]), _Validator(rule)) for rule in schema["allOf"])


def _path(error: ValidationError) -> str:
    return str(error.json_path)


# -- the rules JSON Schema can't express (twins of validators/functions/*.js) ---------------------

def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def _otlp_attributes(record: Mapping[str, Any]) -> dict[str, tuple[Any, int]]:
    out: dict[str, tuple[Any, int]] = {}
    entries = record.get("attributes")
    if not isinstance(entries, list):
        return out
    for index, entry in enumerate(entries):
        if _is_object(entry) and isinstance(entry.get("key"), str) and entry["key"] not in out:
            out[entry["key"]] = (entry.get("value"), index)
    return out


def _otlp_string(found: tuple[Any, int] | None) -> str | None:
    if found is None or not _is_object(found[0]):
        return None
    value = found[0].get("stringValue")
    return value if isinstance(value, str) else None


def _unique_keys(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    entries = record.get("attributes")
    if not isinstance(entries, list):
        return
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if not _is_object(entry) or not isinstance(entry.get("key"), str):
            continue
        if entry["key"] in seen:
            key = json.dumps(entry["key"])
            yield f"$.attributes[{index}].key", f"attribute {key} appears more than once"
        seen.add(entry["key"])


_DECIMAL = re.compile(r"[0-9]+\Z")


def _timestamp_order(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    time, observed = record.get("timeUnixNano"), record.get("observedTimeUnixNano")
    if not isinstance(time, str) or not isinstance(observed, str):
        return
    if not _DECIMAL.match(time) or not _DECIMAL.match(observed) or int(observed) == 0:
        return
    if int(observed) < int(time):
        yield "$.observedTimeUnixNano", (
            f"observedTimeUnixNano {observed} is earlier than timeUnixNano {time}")


_EXTENSIONS = (
    ("auditactor", "audit.actor.id"),
    ("auditactortype", "audit.actor.type"),
    ("auditaction", "audit.action"),
    ("auditoutcome", "audit.outcome"),
    ("auditstream", "audit.sequence.stream_id"),
    ("auditsequence", "audit.sequence.number"),
)


def _otlp_mirrors(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    attrs = _otlp_attributes(record)

    def path(key: str) -> str:
        return f"$.attributes[{attrs[key][1]}].value"

    record_id = _otlp_string(attrs.get("audit.record.id"))
    event_id = _otlp_string(attrs.get("cloudevents.event_id"))
    if record_id is not None and event_id is not None and record_id != event_id:
        yield path("cloudevents.event_id"), (
            f"cloudevents.event_id {json.dumps(event_id)} differs from audit.record.id "
            f"{json.dumps(record_id)}")
    event_type = _otlp_string(attrs.get("cloudevents.event_type"))
    name = record.get("eventName")
    if event_type is not None and isinstance(name, str) and event_type != name:
        yield path("cloudevents.event_type"), (
            f"cloudevents.event_type {json.dumps(event_type)} differs from eventName "
            f"{json.dumps(name)}")
    has_target = "audit.target.id" in attrs
    has_subject = "cloudevents.event_subject" in attrs
    if has_target != has_subject:
        key = "audit.target.id" if has_target else "cloudevents.event_subject"
        other = "cloudevents.event_subject" if has_target else "audit.target.id"
        yield path(key), f"{key} is set but {other} is not"
    elif has_target:
        target = _otlp_string(attrs.get("audit.target.id"))
        subject = _otlp_string(attrs.get("cloudevents.event_subject"))
        if target is not None and subject is not None and target != subject:
            yield path("cloudevents.event_subject"), (
                f"cloudevents.event_subject {json.dumps(subject)} differs from "
                f"audit.target.id {json.dumps(target)}")


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _cloudevent_mirrors(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    raw_data = event.get("data")
    data: Mapping[str, Any] = raw_data if _is_object(raw_data) else {}
    raw_attrs = data.get("attributes")
    attrs: Mapping[str, Any] = raw_attrs if _is_object(raw_attrs) else {}

    def compare(field: str, key: str) -> Iterator[tuple[str, str]]:
        if field not in event or key not in attrs:
            return
        left, right = _scalar_text(event[field]), _scalar_text(attrs[key])
        if left is not None and right is not None and left != right:
            yield f"$.{field}", (f"{field} {json.dumps(left)} differs from "
                                 f"data.attributes[{json.dumps(key)}] {json.dumps(right)}")

    yield from compare("id", "audit.record.id")
    yield from compare("id", "cloudevents.event_id")
    yield from compare("type", "cloudevents.event_type")
    yield from compare("source", "cloudevents.event_source")
    has_subject = "subject" in event
    if has_subject != ("audit.target.id" in attrs):
        yield "$.subject", ("subject is set but data.attributes has no audit.target.id"
                            if has_subject else
                            "data.attributes has audit.target.id but the event has no subject")
    else:
        yield from compare("subject", "audit.target.id")
    for field, key in _EXTENSIONS:
        yield from compare(field, key)


# -- documents --------------------------------------------------------------------------------

def detect_kind(document: Any) -> str:
    """'wrapper' for an OTLP file line, 'cloudevent', or 'otlp' (same test as the JS side)."""
    if _is_object(document) and "resourceLogs" in document:
        return "wrapper"
    if _is_object(document) and "specversion" in document:
        return "cloudevent"
    return "otlp"


def records_of(document: Any) -> Iterator[tuple[str, Any]]:
    """(JSON path, record) for each log record of an OTLP file line."""
    resource_logs = document.get("resourceLogs") if _is_object(document) else None
    if not isinstance(resource_logs, list):
        return
    for i, resource in enumerate(resource_logs):
        scope_logs = resource.get("scopeLogs") if _is_object(resource) else None
        if not isinstance(scope_logs, list):
            continue
        for j, scope in enumerate(scope_logs):
            log_records = scope.get("logRecords") if _is_object(scope) else None
            if not isinstance(log_records, list):
                continue
            for k, record in enumerate(log_records):
                yield f"$.resourceLogs[{i}].scopeLogs[{j}].logRecords[{k}]", record


def validate_record(record: Any, kind: str, where: str = "$") -> list[Violation]:
    """Every violation of one record of `kind` ("otlp" or "cloudevent")."""
    out: list[Violation] = []
    for rule, validator in _rule_validators(kind):
        for error in validator.iter_errors(record):
            out.extend(_flatten(rule, where, error))
    if _is_object(record):
        checks: list[tuple[str, Iterator[tuple[str, str]]]]
        if kind == "otlp":
            checks = [("audit-otlp-unique-keys", _unique_keys(record)),
                      ("audit-otlp-timestamp-order", _timestamp_order(record)),
                      ("audit-mirrors", _otlp_mirrors(record))]
        else:
            checks = [("audit-mirrors", _cloudevent_mirrors(record))]
        for rule, found in checks:
            out.extend(Violation(rule, where, path, message) for path, message in found)
    return out


def _flatten(rule: str, where: str, error: ValidationError) -> Iterator[Violation]:
    """Leaf errors of `error` (if/then/else and allOf wrap the useful ones)."""
    if error.context:
        for sub in error.context:
            yield from _flatten(rule, where, sub)
        return
    if error.validator in {"if", "then", "else"}:
        return
    yield Violation(rule, where, _path(error), _message(error))


def _attribute_key(schema: Any) -> str | None:
    if not _is_object(schema):
        return None
    key = (schema.get("properties") or {}).get("key")
    return str(key["const"]) if _is_object(key) and "const" in key else None


def _message(error: ValidationError) -> str:
    """A short message; the attribute-list predicates get named after their attribute."""
    if error.validator == "contains":
        key = _attribute_key(error.validator_value)
        if key is not None and isinstance(error.validator_value, dict):
            if "value" in (error.validator_value.get("properties") or {}):
                return f"no attribute {json.dumps(key)} with the required value"
            return f"attribute {json.dumps(key)} is missing"
    if error.validator == "not" and _is_object(error.validator_value):
        key = _attribute_key(error.validator_value.get("contains"))
        if key is not None:
            return f"attribute {json.dumps(key)} must not be present here"
        required = error.validator_value.get("required")
        if isinstance(required, list) and required:
            return f"{json.dumps(required[0])} must not be present here"
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def validate_document(document: Any, kind: str | None = None) -> tuple[int, list[Violation]]:
    """Validate one JSON document; returns (number of records checked, violations).

    With `kind` None the kind is detected like the Spectral ruleset does; an
    OTLP file line contributes each of its log records.
    """
    detected = detect_kind(document)
    if detected == "wrapper":
        found = list(records_of(document))
        if not found:
            raise PayloadError("an OTLP file line with no log records")
        violations: list[Violation] = []
        for where, record in found:
            record_kind = kind or ("cloudevent" if detect_kind(record) == "cloudevent" else "otlp")
            violations.extend(validate_record(record, record_kind, where))
        return len(found), violations
    return 1, validate_record(document, kind or detected)


def parse_documents(text: str) -> list[tuple[str, Any]]:
    """(label, document): one JSON value (an array contributes its items), or JSON lines."""
    stripped = text.strip()
    if not stripped:
        raise PayloadError("empty input")
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as whole_error:
        documents: list[tuple[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                if number == 1:
                    raise PayloadError(f"not JSON: {whole_error.msg} at line "
                                       f"{whole_error.lineno}") from None
                raise PayloadError(f"line {number}: not JSON: {exc.msg}") from None
        return documents
    if isinstance(value, list):
        return [(f"item {index}", item) for index, item in enumerate(value)]
    return [("", value)]
