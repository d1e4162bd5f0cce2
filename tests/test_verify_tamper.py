"""The tamper suite: every class of change to a trail is detected, at every position.

A trail of three closed streams is made by the SDK. Each test applies one class
of change, one at a time, at positions (and with values) chosen by hypothesis or
enumerated exhaustively, and verifies in three modes:

* hmac+public: HMAC key ring and checkpoint public key;
* hmac-only:   HMAC key ring only;
* public-only: checkpoint public key only (no secret).

Every change must give at least one error (the streams are closed, so
`require_closed` is on: cutting records off the end is an error too). The
untouched trail, any reordering and rebatching of it, exact duplicates and
changes to the Resource must give no finding at all.

What a public key alone cannot see (documented in docs/verify.md): changes to
the unsigned `audit.integrity.*` attributes, and changes to the fields of a
stream's very last record other than its sequence and checkpoint attributes
(nothing after it commits to its hash). Those positions are left out of the
public-only runs of the classes they concern.
"""

from __future__ import annotations

import copy
import random
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit_sdk import _names as n
from audit_sdk._canonical import record_hash
from audit_sdk._keys import HmacKeyRing
from audit_sdk.verify import VerifyResult, verify
from verify_trails import (
    ATTACKER_ED25519,
    ATTACKER_HMAC,
    Item,
    Trail,
    b64,
    canonical,
    del_attr,
    get_attr,
    has_attr,
    link_after,
    number_of,
    sdk_trail,
    set_attr,
    sign,
    sign_checkpoint_attrs,
    stream_of,
    streams_of,
    write_items,
)

# every test here runs with the compiled record scanner and with the Python one
pytestmark = pytest.mark.usefixtures("scanner")

MODES = ("hmac+public", "hmac-only", "public-only")
HMAC_MODES = ("hmac+public", "hmac-only")
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return sdk_trail(tmp_path_factory.mktemp("tamper"))


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="verify-tamper-") as name:
        yield Path(name)


def check(trail: Trail, items: list[Item], mode: str, workdir: Path) -> VerifyResult:
    # the ring also holds a second key, so that a changed key id can name a known key
    ring = HmacKeyRing({"default": trail.ring.active_key, "other": b"o" * 32}, "default")
    path = write_items(workdir / "trail.jsonl", items, rng=random.Random(len(items)))
    return verify(
        [path],
        keys=ring if mode != "public-only" else None,
        public_keys=[trail.public_key] if mode != "hmac-only" else [],
        require_closed=True,
    )


def assert_detected(result: VerifyResult, what: str) -> None:
    assert result.errors, f"not detected: {what}\nfindings: {result.findings}"


def assert_clean(result: VerifyResult, what: str) -> None:
    assert not result.findings, f"false finding ({what}): {result.findings}"
    assert all(s.closed for s in result.streams)


def final_indexes(items: list[Item]) -> set[int]:
    return {indexes[-1] for indexes in streams_of(items).values()}


# -- no findings -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_untouched_trail_has_no_findings(trail: Trail, workdir: Path, mode: str) -> None:
    result = check(trail, trail.copy_items(), mode, workdir)
    assert_clean(result, "untouched")
    assert len(result.streams) == 3
    assert all(s.authenticated == s.records for s in result.streams)


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_shuffled_duplicated_and_rebatched_is_clean(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    duplicates = data.draw(st.lists(st.sampled_from(range(len(items))), max_size=12))
    for index in duplicates:
        resource, record = items[index]
        if data.draw(st.booleans()):  # delivered again through another collector
            resource = {"attributes": [{"key": "host.name", "value": {"stringValue": "relay"}}]}
        items.append((resource, copy.deepcopy(record)))
    order = data.draw(st.permutations(range(len(items))))
    items = [items[i] for i in order]
    result = check(trail, items, mode, workdir)
    assert_clean(result, "shuffled/duplicated")
    assert result.duplicates == len(duplicates)


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_resource_changes_are_not_findings(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    for index in data.draw(st.lists(st.sampled_from(range(len(items))), min_size=1, max_size=10)):
        resource = copy.deepcopy(items[index][0])
        attrs = resource.setdefault("attributes", [])
        change = data.draw(st.sampled_from(["add", "change", "remove", "empty"]))
        if change == "add":
            attrs.append(
                {
                    "key": data.draw(st.text(min_size=1, max_size=10)),
                    "value": {"stringValue": data.draw(st.text(max_size=10))},
                }
            )
        elif change == "change" and attrs:
            attrs[0]["value"] = {"intValue": str(data.draw(st.integers(0, 10**6)))}
        elif change == "remove" and attrs:
            attrs.pop()
        else:
            resource = {}
        items[index] = (resource, items[index][1])
    assert_clean(check(trail, items, mode, workdir), "resource change")


# -- edit a signed field or attribute ------------------------------------------------

SIGNED_FIELDS = ("timeUnixNano", "observedTimeUnixNano", "body", "eventName", "traceId", "spanId")
SEQUENCE_AND_CHECKPOINT = {
    n.SEQ_STREAM_ID,
    n.SEQ_NUMBER,
    n.SEQ_PREVIOUS_HASH,
    n.SEQ_PREVIOUS_ID,
    n.SEQ_END,
    n.CHECKPOINT_NUMBER,
    n.CHECKPOINT_HASH,
    n.CHECKPOINT_SIGNATURE,
    n.CHECKPOINT_KEY_ID,
}

attribute_values = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(0, 9), max_size=3),
)


def edit(record: dict[str, Any], target: str, data: st.DataObject) -> None:
    if target in ("timeUnixNano", "observedTimeUnixNano"):
        record[target] = str(data.draw(st.integers(1, 2**63 - 1)))
    elif target == "body":
        if "body" in record and data.draw(st.booleans()):
            del record["body"]
        else:
            record["body"] = {"stringValue": data.draw(st.text(max_size=20))}
    elif target == "eventName":
        record["eventName"] = data.draw(
            st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,2}", fullmatch=True)
        )
    elif target == "traceId":
        record["traceId"] = data.draw(st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
    elif target == "spanId":
        record["spanId"] = data.draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True))
    elif target == "second type field":
        entry = data.draw(st.sampled_from(record["attributes"]))
        extra = data.draw(
            st.sampled_from(
                [k for k in ("stringValue", "intValue", "boolValue") if k not in entry["value"]]
            )
        )
        entry["value"][extra] = {"stringValue": "x", "intValue": "5", "boolValue": True}[extra]
    elif target == "body not an object":
        record["body"] = data.draw(st.one_of(st.text(max_size=5), st.integers(), st.just([1])))
    elif target == "add":
        set_attr(
            record,
            "app." + data.draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
            data.draw(attribute_values),
        )
    else:
        key = target.removeprefix("attr:")
        if data.draw(st.integers(0, 4)) == 0:
            del_attr(record, key)
        else:
            set_attr(record, key, data.draw(attribute_values))


def changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    try:
        return canonical(before) != canonical(after)
    except ValueError:
        return True  # no longer readable: a change too


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_edit_any_signed_field_or_attribute(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    finals = final_indexes(items)
    index = data.draw(st.integers(0, len(items) - 1), label="position")
    _, record = items[index]
    before = copy.deepcopy(record)
    keys = [e["key"] for e in record["attributes"] if not e["key"].startswith("audit.integrity.")]
    targets = [*SIGNED_FIELDS, "add", "second type field", "body not an object"]
    targets += ["attr:" + k for k in keys]
    if mode == "public-only" and index in finals:
        # the last record's own fields are covered by no signature; its chain and
        # checkpoint attributes are (see the module docstring)
        targets = ["eventName", "second type field", "body not an object"]
        targets += ["attr:" + k for k in keys if k in SEQUENCE_AND_CHECKPOINT]
    target = data.draw(st.sampled_from(targets), label="field")
    edit(record, target, data)
    if target not in ("second type field", "body not an object"):
        # (those two leave the canonical bytes alone: what they change is how
        # other OTLP readers would read the record)
        assume(changed(before, record))
    assert_detected(check(trail, items, mode, workdir), f"edit {target} of item {index}")


# -- delete records -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_delete_any_record(trail: Trail, workdir: Path, mode: str) -> None:
    for index in range(len(trail.items)):
        items = trail.copy_items()
        del items[index]
        assert_detected(check(trail, items, mode, workdir), f"delete item {index}")


@pytest.mark.parametrize("mode", MODES)
def test_delete_the_last_records_of_a_stream(trail: Trail, workdir: Path, mode: str) -> None:
    for sid, indexes in streams_of(trail.items).items():
        for count in range(1, len(indexes) + 1):
            doomed = set(indexes[-count:])
            items = [item for i, item in enumerate(trail.copy_items()) if i not in doomed]
            result = check(trail, items, mode, workdir)
            if count == len(indexes):
                continue  # the whole stream is gone: nothing is left to tell (see docs)
            assert_detected(result, f"cut the last {count} records of {sid}")


# -- insert forged records ------------------------------------------------------------


def forge(
    trail: Trail,
    items: list[Item],
    template: dict[str, Any],
    sid: str,
    number: int,
    data: st.DataObject,
) -> dict[str, Any]:
    """A record an attacker makes: chained to the real predecessor, MAC and checkpoint
    signature made with keys of their own."""
    record = copy.deepcopy(template)
    set_attr(record, n.SEQ_STREAM_ID, sid)
    set_attr(record, n.SEQ_NUMBER, number)
    record_id = str(uuid.UUID(int=data.draw(st.integers(0, 2**128 - 1)), version=4))
    set_attr(record, n.RECORD_ID, record_id)
    set_attr(record, n.CE_ID, record_id)
    set_attr(record, n.ACTOR_ID, data.draw(st.text(min_size=1, max_size=10)))
    previous = next(
        (r for _, r in items if stream_of(r) == sid and number_of(r) == number - 1), None
    )
    link_after(record, previous)
    if has_attr(record, n.CHECKPOINT_SIGNATURE):
        sign_checkpoint_attrs(record, ATTACKER_ED25519, closed=bool(get_attr(record, n.SEQ_END)))
    sign(record, ATTACKER_HMAC if data.draw(st.booleans()) else b"x" * 32)
    return record


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_insert_a_forged_record(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    streams = streams_of(items)
    template = items[data.draw(st.integers(0, len(items) - 1))][1]
    where = data.draw(st.sampled_from(["existing number", "after the end", "new stream"]))
    if where == "new stream":
        sid = str(uuid.UUID(int=data.draw(st.integers(0, 2**128 - 1)), version=4))
        number = data.draw(st.integers(1, 5))
    else:
        sid = data.draw(st.sampled_from(sorted(streams)))
        last = len(streams[sid])
        number = data.draw(st.integers(1, last)) if where == "existing number" else last + 1
    record = forge(trail, items, template, sid, number, data)
    position = data.draw(st.integers(0, len(items)))
    items.insert(position, (items[0][0], record))
    assert_detected(check(trail, items, mode, workdir), f"forged {where} {sid}/{number}")


# -- swap two records' contents -------------------------------------------------------

CHAIN_KEYS = {n.SEQ_STREAM_ID, n.SEQ_NUMBER, n.SEQ_PREVIOUS_HASH, n.SEQ_PREVIOUS_ID}


def payload(record: dict[str, Any]) -> dict[str, Any]:
    """Everything but the chain position and the integrity attributes."""
    out = {k: v for k, v in record.items() if k != "attributes"}
    out["attributes"] = [
        e
        for e in record["attributes"]
        if e["key"] not in CHAIN_KEYS and not e["key"].startswith("audit.integrity.")
    ]
    return out


def with_payload(record: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    kept = [
        e
        for e in record["attributes"]
        if e["key"] in CHAIN_KEYS or e["key"].startswith("audit.integrity.")
    ]
    out = {k: copy.deepcopy(v) for k, v in new.items() if k != "attributes"}
    out["attributes"] = copy.deepcopy(new["attributes"]) + kept
    return out


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_swap_two_records_contents(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    candidates = range(len(items))
    if mode == "public-only":
        candidates = [i for i in candidates if i not in final_indexes(items)]
    i, j = data.draw(st.lists(st.sampled_from(candidates), min_size=2, max_size=2, unique=True))
    a, b = items[i][1], items[j][1]
    new_a, new_b = with_payload(a, payload(b)), with_payload(b, payload(a))
    assume(changed(a, new_a) or changed(b, new_b))
    items[i] = (items[i][0], new_a)
    items[j] = (items[j][0], new_b)
    assert_detected(check(trail, items, mode, workdir), f"swap contents of items {i} and {j}")


# -- change a key id, strip a signature ------------------------------------------------


@pytest.mark.parametrize("mode", HMAC_MODES)
@pytest.mark.parametrize("new_id", ["other", "unknown-id"])
def test_change_a_key_id(trail: Trail, workdir: Path, mode: str, new_id: str) -> None:
    for index in range(len(trail.items)):
        items = trail.copy_items()
        set_attr(items[index][1], n.INTEGRITY_KEY_ID, new_id)
        assert_detected(check(trail, items, mode, workdir), f"key id of item {index} -> {new_id}")


@pytest.mark.parametrize("mode", MODES)
def test_strip_a_mac(trail: Trail, workdir: Path, mode: str) -> None:
    for index in range(len(trail.items)):
        items = trail.copy_items()
        del_attr(items[index][1], n.INTEGRITY_VALUE)
        result = check(trail, items, mode, workdir)
        assert_detected(result, f"strip the MAC of item {index}")
        assert any(f.kind.value == "no_integrity" for f in result.errors)


@pytest.mark.parametrize("mode", MODES)
def test_strip_a_checkpoint_signature(trail: Trail, workdir: Path, mode: str) -> None:
    positions = [i for i, (_, r) in enumerate(trail.items) if has_attr(r, n.CHECKPOINT_SIGNATURE)]
    assert len(positions) >= 6
    for index in positions:
        for attribute in (n.CHECKPOINT_SIGNATURE, n.CHECKPOINT_KEY_ID):
            items = trail.copy_items()
            del_attr(items[index][1], attribute)
            result = check(trail, items, mode, workdir)
            assert_detected(result, f"strip {attribute} of item {index}")


# -- replay a record from another stream -------------------------------------------------


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_replay_a_record_from_another_stream(
    trail: Trail, workdir: Path, mode: str, data: st.DataObject
) -> None:
    items = trail.copy_items()
    streams = streams_of(items)
    source, target = data.draw(
        st.lists(st.sampled_from(sorted(streams)), min_size=2, max_size=2, unique=True)
    )
    replayed = copy.deepcopy(items[data.draw(st.sampled_from(streams[source]))][1])
    how = data.draw(st.sampled_from(["replace as is", "replace renumbered", "append renumbered"]))
    position = data.draw(st.sampled_from(streams[target]))
    if how == "replace as is":
        items[position] = (items[position][0], replayed)
    else:
        set_attr(replayed, n.SEQ_STREAM_ID, target)
        if how == "replace renumbered":
            set_attr(replayed, n.SEQ_NUMBER, number_of(items[position][1]))
            items[position] = (items[position][0], replayed)
        else:
            set_attr(replayed, n.SEQ_NUMBER, len(streams[target]) + 1)
            items.append((items[0][0], replayed))
    assert_detected(check(trail, items, mode, workdir), f"replay {how} into {target}")


# -- append after the end record ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_append_after_the_end_record(trail: Trail, workdir: Path, mode: str) -> None:
    rng = random.Random(7)
    streams = streams_of(trail.items)
    for sid, indexes in streams.items():
        for template_index in rng.sample(indexes, 4):
            items = trail.copy_items()
            record = copy.deepcopy(items[template_index][1])
            set_attr(record, n.SEQ_NUMBER, len(indexes) + 1)
            del_attr(record, n.SEQ_END)
            link_after(record, items[indexes[-1]][1])
            sign(record)
            items.append((items[0][0], record))
            result = check(trail, items, mode, workdir)
            assert_detected(result, f"append after the end of {sid}")
            assert any(f.kind.value == "record_after_end" for f in result.errors)


# -- forge a checkpoint --------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES)
def test_forge_a_checkpoint(trail: Trail, workdir: Path, mode: str, data: st.DataObject) -> None:
    items = trail.copy_items()
    positions = [i for i, (_, r) in enumerate(items) if has_attr(r, n.CHECKPOINT_SIGNATURE)]
    index = data.draw(st.sampled_from(positions), label="checkpoint")
    record = items[index][1]
    closed = bool(get_attr(record, n.SEQ_END))
    how = data.draw(
        st.sampled_from(
            [
                "random signature",
                "attacker signature",
                "attacker key id",
                "number",
                "hash",
                "closed flag",
            ]
        )
    )
    if how == "random signature":
        set_attr(
            record, n.CHECKPOINT_SIGNATURE, b64(data.draw(st.binary(min_size=64, max_size=64)))
        )
    elif how == "attacker signature":
        sign_checkpoint_attrs(record, ATTACKER_ED25519, closed=closed)
        set_attr(record, n.CHECKPOINT_KEY_ID, get_attr(items[positions[0]][1], n.CHECKPOINT_KEY_ID))
    elif how == "attacker key id":
        sign_checkpoint_attrs(record, ATTACKER_ED25519, closed=closed)
    elif how == "number":
        covered = int(get_attr(record, n.CHECKPOINT_NUMBER))
        set_attr(record, n.CHECKPOINT_NUMBER, covered + data.draw(st.sampled_from([-1, 1, 2])))
    elif how == "hash":
        other = data.draw(st.sampled_from([r for _, r in items if r is not record]))
        new_hash = record_hash(canonical(other))
        assume(new_hash != get_attr(record, n.CHECKPOINT_HASH))
        set_attr(record, n.CHECKPOINT_HASH, new_hash)
    else:
        set_attr(record, n.SEQ_END, not closed)
    if data.draw(st.booleans()):  # and a MAC of the attacker's over it all
        sign(record)
    assert_detected(check(trail, items, mode, workdir), f"forge checkpoint {index}: {how}")


# -- exhaustive positions for a simple edit ----------------------------------------------


@pytest.mark.parametrize("mode", ["hmac+public", "public-only"])
def test_every_position_and_attribute_edit(trail: Trail, workdir: Path, mode: str) -> None:
    """Each attribute of each record, changed in turn (a deterministic sweep)."""
    finals = final_indexes(trail.items)
    count = 0
    for index, (_, record) in enumerate(trail.items):
        keys = [
            e["key"] for e in record["attributes"] if not e["key"].startswith("audit.integrity.")
        ]
        for key in keys:
            if mode == "public-only" and index in finals and key not in SEQUENCE_AND_CHECKPOINT:
                continue
            items = trail.copy_items()
            target = items[index][1]
            value = get_attr(target, key)
            set_attr(target, key, _different(value))
            assert_detected(check(trail, items, mode, workdir), f"{key} of item {index}")
            count += 1
    assert count > 300


def _different(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x" if value else "x"
    return "changed"
