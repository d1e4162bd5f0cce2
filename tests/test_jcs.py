"""RFC 8785 canonicalization checked against the independent `rfc8785` package."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_sdk import InvalidAuditEvent
from audit_sdk._jcs import canonicalize, canonicalize_fast, format_double, needs_exact_path

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_exact_path_matches_reference(value: object) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_path_is_exact_whenever_chosen(value: object) -> None:
    assert canonicalize_fast(value, needs_exact_path(value)) == rfc8785.dumps(value)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_doubles_follow_ecmascript(value: float) -> None:
    assert format_double(value) == rfc8785.dumps(value).decode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-3.75, "-3.75"),
        (5e-324, "5e-324"),
    ],
)
def test_known_double_spellings(value: float, text: str) -> None:
    assert format_double(value) == text


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    assert canonicalize({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode()
    assert needs_exact_path({"\U0001f600": 1})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 2**53, object(), b"x"])
def test_unrepresentable_values_are_refused(bad: object) -> None:
    with pytest.raises(InvalidAuditEvent):
        canonicalize({"k": bad})


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidAuditEvent, match="surrogate"):
        canonicalize_fast({"k": "\ud800"}, exact=False)
