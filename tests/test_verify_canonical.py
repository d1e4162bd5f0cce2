"""The verifier's fast canonical path gives exactly `canonical_from_otlp`'s bytes, or declines.

`_scan._fast_canonical` builds the signing object from the OTLP values as they
are when every value is a plain string, bool or canonical int; for anything
else it returns None and the verifier uses `canonical_from_otlp`. Hypothesis
throws valid and malformed log records at both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_sdk._canonical import canonical_from_otlp
from audit_sdk._verify._scan import (
    _MALFORMED_ERRORS,
    _check_otlp_shapes,
    _fast_canonical,
    extract,
)
from verify_trails import Trail, sdk_trail

keys = st.one_of(
    st.sampled_from(
        [
            "audit.record.id",
            "audit.integrity.value",
            "audit.integrity.x",
            "a",
            "a!",
            "a b",
            "z",
            "é",
            "Ω",
            "😀",
            'a"b',
            "a\\b",
            "\u2028",
            "\x00",
        ]
    ),
    st.text(max_size=6),
)
scalar_values = st.one_of(
    st.builds(lambda s: {"stringValue": s}, st.text(max_size=8)),
    st.builds(lambda i: {"intValue": str(i)}, st.integers(-(2**70), 2**70)),
    st.builds(
        lambda s: {"intValue": s}, st.sampled_from(["007", "-0", "+5", " 5", "1_0", "٣", ""])
    ),
    st.builds(lambda i: {"intValue": i}, st.integers(-5, 5)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(lambda f: {"doubleValue": f}, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(lambda b: {"bytesValue": b}, st.sampled_from(["AAE=", "", "%%", "AA"])),
    st.sampled_from(
        [
            {},
            {"stringValue": 5},
            {"boolValue": "true"},
            {"stringValue": None},
            {"stringValue": "x", "intValue": "1"},
            {"other": 1},
            [],
            "x",
            None,
            5,
        ]
    ),
)
any_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kvs]}},
            st.lists(st.tuples(keys, inner), max_size=3),
        ),
    ),
    max_leaves=6,
)
attributes = st.lists(
    st.one_of(
        st.builds(lambda k, v: {"key": k, "value": v}, keys, any_values),
        st.sampled_from([{"key": 1, "value": {}}, {"value": {}}, {"key": "k"}, "x", [1]]),
    ),
    max_size=6,
)
hex_ids = st.one_of(
    st.none(),
    st.just(""),
    st.from_regex(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}", fullmatch=True),
    st.sampled_from(["0" * 32, "0" * 16, "0x" + "1" * 30, "xyz", 5]),
)
nanos = st.one_of(
    st.none(),
    st.integers(0, 2**64).map(str),
    st.sampled_from(["0", "007", "", "-1", "abc", 5, True]),
)


@st.composite
def log_records(draw: st.DrawFn) -> Any:
    record: dict[str, Any] = {}
    for field, strategy in (
        ("timeUnixNano", nanos),
        ("observedTimeUnixNano", nanos),
        ("traceId", hex_ids),
        ("spanId", hex_ids),
        ("eventName", st.one_of(st.text(max_size=8), st.none(), st.just(3))),
        ("body", st.one_of(any_values, st.text(max_size=5))),
        ("attributes", st.one_of(attributes, st.just({"a": 1}), st.none())),
        ("severityNumber", st.integers(0, 24)),
    ):
        if draw(st.booleans()):
            value = draw(strategy)
            if value is not None or draw(st.booleans()):
                record[field] = value
    if draw(st.integers(0, 20)) == 0:
        return draw(st.sampled_from([[], "x", 5, None]))
    return record


def reference(record: Any) -> bytes | None:
    try:
        return canonical_from_otlp(record)
    except _MALFORMED_ERRORS:
        return None


@settings(max_examples=1500, deadline=None)
@given(record=log_records())
def test_fast_path_equals_reference_or_declines(record: Any) -> None:
    expected = reference(record)
    fast = _fast_canonical(record)
    if fast is not None:
        assert fast[0] == expected
    try:
        got = extract(record)[0]
    except _MALFORMED_ERRORS:
        got = None
    if got is None and expected is not None:
        # stricter than canonical_from_otlp only where OTLP readers could disagree
        with pytest.raises(ValueError, match=r"type fields|AnyValue object|appears twice|unknown"):
            _check_otlp_shapes(record)
    else:
        assert got == expected


@settings(max_examples=300, deadline=None)
@given(record=log_records())
def test_through_json_and_back(record: Any) -> None:
    """What the verifier really sees: records parsed from JSON text by orjson."""
    try:
        text = json.dumps(record, ensure_ascii=False)
        parsed = orjson.loads(text)
    except (ValueError, TypeError):
        return
    expected = reference(parsed)
    fast = _fast_canonical(parsed)
    assert fast is None or fast[0] == expected


plain_values = st.one_of(
    st.builds(lambda s: {"stringValue": s}, st.text(max_size=8)),
    st.builds(lambda i: {"intValue": str(i)}, st.integers(-(2**63), 2**63)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
)
deviations = st.sampled_from(
    [
        {"intValue": "007"},
        {"intValue": "-0"},
        {"intValue": "+1"},
        {"intValue": "1_0"},
        {"intValue": " 1"},
        {"intValue": "٣"},
        {"intValue": 7},
        {"intValue": True},
        {"stringValue": 1},
        {"stringValue": None},
        {"stringValue": True},
        {"boolValue": "true"},
        {"boolValue": 1},
        {"boolValue": None},
        {"stringValue": "x", "boolValue": True},
        {"doubleValue": 1.0},
        {"doubleValue": 0.1},
        {"bytesValue": "AAE="},
        {"arrayValue": {"values": []}},
        {"kvlistValue": {"values": []}},
        {},
        {"other": "x"},
        [],
        "x",
        None,
    ]
)
plain_keys = st.text(max_size=6).filter(lambda k: not k.startswith("audit.integrity."))


@st.composite
def nearly_plain_records(draw: st.DrawFn) -> dict[str, Any]:
    """An SDK-like record of plain values, then at most one deviation from the plain shape."""
    attrs = [
        {"key": k, "value": draw(plain_values)}
        for k in draw(st.lists(plain_keys, unique=True, min_size=1, max_size=5))
    ]
    attrs.append({"key": "audit.integrity.value", "value": {"stringValue": "mac"}})
    record: dict[str, Any] = {
        "timeUnixNano": str(draw(st.integers(1, 2**63))),
        "observedTimeUnixNano": str(draw(st.integers(1, 2**63))),
        "attributes": attrs,
        "eventName": draw(st.text(max_size=5)),
    }
    if draw(st.booleans()):
        record["body"] = {"stringValue": draw(st.text(max_size=10))}
    if draw(st.booleans()):
        record["traceId"] = draw(st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
        record["spanId"] = draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True))
    where = draw(
        st.sampled_from(["none", "key", "body", "time", "ids", "duplicate"] + ["attribute"] * 6)
    )
    if where == "attribute":
        attrs[draw(st.integers(0, len(attrs) - 1))]["value"] = draw(deviations)
    elif where == "key":
        attrs.insert(
            0,
            {
                "key": draw(
                    st.sampled_from(["😀", "a😀", "audit.integrity.x", "é", "\x7f", 'a"', "\\"])
                ),
                "value": draw(plain_values),
            },
        )
    elif where == "body":
        record["body"] = draw(deviations)
    elif where == "time":
        record[draw(st.sampled_from(["timeUnixNano", "observedTimeUnixNano"]))] = draw(
            st.sampled_from(["0", "007", "", "x", 5, None, "٣"])
        )
    elif where == "ids":
        record[draw(st.sampled_from(["traceId", "spanId"]))] = draw(
            st.sampled_from(["", "0" * 32, "0" * 16, "A" * 32, "A" * 16, "x" * 32, 5])
        )
    elif where == "duplicate" and attrs:
        attrs.append(dict(attrs[0]))
    return record


@settings(max_examples=1500, deadline=None)
@given(record=nearly_plain_records())
def test_fast_path_boundary(record: dict[str, Any]) -> None:
    expected = reference(record)
    fast = _fast_canonical(record)
    assert fast is None or fast[0] == expected
    if fast is not None:  # what the fast path takes, the general path would take too
        _check_otlp_shapes(record)
    parsed = (
        orjson.loads(orjson.dumps(record))
        if not isinstance(record.get("timeUnixNano"), int)
        else record
    )
    fast = _fast_canonical(parsed)
    assert fast is None or fast[0] == reference(parsed)


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return sdk_trail(tmp_path_factory.mktemp("canon"))


def test_sdk_records_take_the_fast_path_unless_they_hold_doubles_or_arrays(trail: Trail) -> None:
    fast = general = 0
    for _, record in trail.items:
        result = _fast_canonical(record)
        assert result is None or result[0] == canonical_from_otlp(record)
        plain = all(
            set(e["value"]) <= {"stringValue", "intValue", "boolValue"}
            for e in record["attributes"]
        ) and ("body" not in record or set(record["body"]) == {"stringValue"})
        assert (result is not None) == plain
        fast += result is not None
        general += result is None
    assert fast > 3 * general > 0


def test_vectors_through_both_paths() -> None:
    vectors = json.loads((Path(__file__).parent / "vectors" / "records.json").read_text())
    for vector in vectors:
        record = vector["log_record"]
        got = extract(orjson.loads(orjson.dumps(record)))[0]
        assert got == canonical_from_otlp(record), vector["name"]


@pytest.mark.parametrize(
    "record",
    [
        {"attributes": [{"key": "a", "value": {"stringValue": "a", "intValue": "5"}}]},
        {
            "attributes": [
                {
                    "key": "a",
                    "value": {"arrayValue": {"values": [{"boolValue": True, "stringValue": "x"}]}},
                }
            ]
        },
        {
            "attributes": [
                {
                    "key": "a",
                    "value": {
                        "kvlistValue": {
                            "values": [
                                {"key": "k", "value": {"stringValue": "1"}},
                                {"key": "k", "value": {"stringValue": "2"}},
                            ]
                        }
                    },
                }
            ]
        },
        {"attributes": [{"key": "a", "value": {"stringValueX": "a"}}]},
        {"body": "not an AnyValue", "attributes": []},
        {"body": {"stringValue": "a", "boolValue": True}, "attributes": []},
    ],
)
def test_values_that_readers_could_read_otherwise_are_refused(record: dict[str, Any]) -> None:
    """Other OTLP readers may see another value in these: the verifier refuses them all, and so
    does the reference, except an unknown value field (lenient OTLP readers read an empty value)."""
    unknown_field_only = "stringValueX" in str(record)
    if unknown_field_only:
        canonical_from_otlp(record)
    else:
        with pytest.raises(ValueError):
            canonical_from_otlp(record)
    with pytest.raises(ValueError):
        extract(record)
