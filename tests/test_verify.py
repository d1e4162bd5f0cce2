"""`audit-sdk verify` and `audit_sdk.verify`: inputs, keys, findings, output, exit codes.

The tamper suite is in test_verify_tamper.py; the equivalence of the verifier's
fast canonical path with `canonical_from_otlp` in test_verify_canonical.py.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_sdk import _names as n
from audit_sdk._canonical import record_hash
from audit_sdk._keys import HmacKeyRing, public_key_pem
from audit_sdk.cli import main
from audit_sdk.verify import (
    Finding,
    FindingKind,
    Severity,
    StreamStatus,
    UnusableInput,
    VerifyResult,
    verify,
)
from verify_trails import (
    Item,
    Trail,
    canonical,
    del_attr,
    get_attr,
    has_attr,
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


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return sdk_trail(tmp_path_factory.mktemp("trail"))


@pytest.fixture
def key_files(trail: Trail, tmp_path: Path) -> dict[str, Path]:
    keys_file = tmp_path / "hmac-keys.json"
    trail.ring.write_file(keys_file)
    public = tmp_path / "checkpoint.pub.pem"
    public.write_bytes(public_key_pem(trail.public_key))
    return {"keys": keys_file, "public": public}


def full(trail: Trail, paths: list[Path], **options: Any) -> VerifyResult:
    return verify(paths, keys=trail.ring, public_keys=[trail.public_key], **options)


def kinds(result: VerifyResult) -> set[str]:
    return {f.kind.value for f in result.findings}


def cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["verify", "--no-env-keys", "--no-progress", *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- clean trails ------------------------------------------------------------------------


def test_clean_trail_summary(trail: Trail, tmp_path: Path) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    result = full(trail, [path])
    assert result.ok and not result.findings and result.exit_code == 0
    assert result.records == len(trail.items) and result.lines == len(path.read_text().splitlines())
    assert result.hmac_checked and result.checkpoints_checked
    streams = streams_of(trail.items)
    assert {s.stream_id for s in result.streams} == set(streams)
    for stream in result.streams:
        assert stream.status is StreamStatus.CLOSED and stream.closed
        assert stream.records == stream.last_number == len(streams[stream.stream_id])
        assert stream.first_number == 1 and stream.duplicates == 0
        assert stream.authenticated == stream.records
        times = [int(r["timeUnixNano"]) for _, r in trail.items if stream_of(r) == stream.stream_id]
        assert (stream.first_time_unix_nano, stream.last_time_unix_nano) == (min(times), max(times))
    # the streams are listed by time
    assert [s.first_time_unix_nano for s in result.streams] == sorted(
        s.first_time_unix_nano or 0 for s in result.streams
    )


def test_sdk_embedded_sink_file_verifies_as_written(tmp_path: Path) -> None:
    trail = sdk_trail(tmp_path, sizes=(5,))
    result = full(trail, [tmp_path / "sdk-trail.jsonl"], require_closed=True)
    assert result.ok and not result.findings


def test_gzip_rotated_segments_and_directories(trail: Trail, tmp_path: Path) -> None:
    store = tmp_path / "store" / "audit"
    store.mkdir(parents=True)
    items = trail.items
    third = len(items) // 3
    write_items(store / "audit-2026-01-01T00-00-00.000.jsonl", items[:third])
    plain = write_items(tmp_path / "seg.jsonl", items[third : 2 * third])
    (store / "audit-2026-01-02T00-00-00.000.jsonl.gz").write_bytes(
        gzip.compress(plain.read_bytes())
    )
    write_items(store / "audit.jsonl", items[2 * third :])
    (store / "README.txt").write_text("not a trail file")
    (store / ".hidden.jsonl").write_text("garbage\n")
    (store / "empty.jsonl").write_text("")
    result = full(trail, [tmp_path / "store"], require_closed=True)
    assert result.ok and not result.findings, result.findings
    assert len(result.files) == 4  # the two non-trail files are not read
    assert any(f.endswith(".gz") for f in result.files)
    # a file given twice (directly and through its directory) is read once
    again = full(trail, [tmp_path / "store", store / "audit.jsonl"])
    assert again.records == result.records and again.duplicates == 0


def test_gzip_file_with_any_name(trail: Trail, tmp_path: Path) -> None:
    plain = write_items(tmp_path / "t.jsonl", trail.items)
    packed = tmp_path / "trail.data"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert full(trail, [packed]).ok


def test_records_in_any_order_with_exact_duplicates(trail: Trail, tmp_path: Path) -> None:
    rng = random.Random(5)
    items = list(trail.items) + rng.sample(trail.items, 10)
    rng.shuffle(items)
    result = full(trail, [write_items(tmp_path / "t.jsonl", items, rng=rng)], require_closed=True)
    assert result.ok and not result.findings
    assert result.duplicates == 10 and result.records == len(items)


# -- open streams, closure, authentication without the HMAC key -------------------------


def without_end_records(items: list[Item]) -> list[Item]:
    return [(res, r) for res, r in items if not get_attr(r, n.SEQ_END)]


def test_open_tail_is_a_warning_unless_required_closed(trail: Trail, tmp_path: Path) -> None:
    path = write_items(tmp_path / "t.jsonl", without_end_records(trail.items))
    result = full(trail, [path])
    assert result.ok and result.exit_code == 0
    assert {f.kind for f in result.findings} == {FindingKind.OPEN_TAIL}
    assert all(f.severity is Severity.WARNING for f in result.findings)
    assert {s.status for s in result.streams} == {StreamStatus.OPEN_TAIL}
    strict = full(trail, [path], require_closed=True)
    assert not strict.ok and {f.kind for f in strict.errors} == {FindingKind.OPEN_TAIL}
    finding = strict.errors[0]
    stream = next(s for s in strict.streams if s.stream_id == finding.stream_id)
    assert finding.sequence_number == stream.last_number
    assert "neither an end record nor a checkpoint" in finding.message


def test_stream_ending_in_a_checkpoint_is_open_but_not_a_tail(trail: Trail, tmp_path: Path) -> None:
    items = trail.copy_items()
    sid, indexes = next(iter(streams_of(items).items()))
    checkpoints = [i for i in indexes[:-1] if items[i][1].get("eventName") == n.CHECKPOINT_EVENT]
    cut = set(indexes[indexes.index(checkpoints[-1]) + 1 :])
    items = [item for i, item in enumerate(items) if i not in cut]
    path = write_items(tmp_path / "t.jsonl", items)
    result = full(trail, [path])
    assert result.ok and not result.findings
    assert next(s for s in result.streams if s.stream_id == sid).status is StreamStatus.OPEN
    strict = full(trail, [path], require_closed=True)
    assert [f.stream_id for f in strict.errors] == [sid]
    assert "no end record" in strict.errors[0].message


def test_public_key_only_reports_what_it_cannot_authenticate(trail: Trail, tmp_path: Path) -> None:
    items = without_end_records(trail.items)
    path = write_items(tmp_path / "t.jsonl", items)
    result = verify([path], public_keys=[trail.public_key])
    assert result.ok and not result.hmac_checked
    unauthenticated = [f for f in result.findings if f.kind is FindingKind.UNAUTHENTICATED]
    assert unauthenticated and all(f.severity is Severity.WARNING for f in unauthenticated)
    for stream_id, indexes in streams_of(items).items():
        numbers = [number_of(items[i][1]) for i in indexes]
        checkpoints = [
            number_of(items[i][1])
            for i in indexes
            if items[i][1].get("eventName") == n.CHECKPOINT_EVENT
        ]
        last_covered = max(checkpoints) - 1  # a checkpoint covers the record before it
        expected_first = last_covered + 2  # the checkpoint itself is signed
        [finding] = [f for f in unauthenticated if f.stream_id == stream_id]
        assert finding.sequence_number == expected_first
        assert f"records {expected_first}-{max(numbers)}" in finding.message or (
            expected_first == max(numbers) and f"record {expected_first}" in finding.message
        )
        stream = next(s for s in result.streams if s.stream_id == stream_id)
        assert stream.authenticated == stream.records - (max(numbers) - expected_first + 1)
    strict = verify([path], public_keys=[trail.public_key], require_authenticated=True)
    assert {f.kind for f in strict.errors} == {FindingKind.UNAUTHENTICATED}


def test_closed_trail_with_public_key_only_is_fully_authenticated(
    trail: Trail, tmp_path: Path
) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    result = verify(
        [path], public_keys=[trail.public_key], require_closed=True, require_authenticated=True
    )
    assert result.ok and not result.findings
    assert all(s.authenticated == s.records for s in result.streams)


def test_library_without_any_key_checks_structure_only(trail: Trail, tmp_path: Path) -> None:
    result = verify([write_items(tmp_path / "t.jsonl", trail.items)])
    assert result.ok and not result.hmac_checked and not result.checkpoints_checked
    assert {f.kind for f in result.findings} == {FindingKind.UNAUTHENTICATED}
    assert len(result.findings) == len(result.streams)


def test_unsigned_checkpoints_warn_once_per_stream_when_macs_verify(tmp_path: Path) -> None:
    trail = sdk_trail(tmp_path, sizes=(9,))
    items = trail.copy_items()
    for _, record in items:
        if has_attr(record, n.CHECKPOINT_SIGNATURE):
            del_attr(record, n.CHECKPOINT_SIGNATURE)
            del_attr(record, n.CHECKPOINT_KEY_ID)
    # as an SDK without a checkpoint key makes them; removing the attributes
    # changed the checkpoints' hashes, so the chain is made again
    relink(items, trail)
    result = full(trail, [write_items(tmp_path / "t.jsonl", items)])
    assert result.ok
    [finding] = result.findings
    assert finding.kind is FindingKind.BAD_CHECKPOINT and finding.severity is Severity.WARNING
    assert "not signed" in finding.message


def relink(items: list[Item], trail: Trail) -> None:
    """Re-chain, re-sign checkpoints and re-MAC every stream with the real keys, as the
    producer itself would have (so only the checks other than MAC and chain can object)."""
    for indexes in streams_of(items).values():
        previous = None
        for i in indexes:
            record = items[i][1]
            if previous is not None:
                set_attr(record, n.SEQ_PREVIOUS_HASH, record_hash(canonical(previous)))
                set_attr(record, n.SEQ_PREVIOUS_ID, get_attr(previous, n.RECORD_ID))
            if record.get("eventName") == n.CHECKPOINT_EVENT and has_attr(
                record, n.CHECKPOINT_HASH
            ):
                if previous is not None and get_attr(record, n.CHECKPOINT_HASH) != "0" * 64:
                    set_attr(record, n.CHECKPOINT_HASH, record_hash(canonical(previous)))
                if has_attr(record, n.CHECKPOINT_SIGNATURE):
                    sign_checkpoint_attrs(
                        record, trail.checkpoint_key, closed=bool(get_attr(record, n.SEQ_END))
                    )
            sign(record, trail.ring.active_key)
            previous = record


# -- findings the MAC does not catch (the producer signed them) --------------------------


def test_mirror_mismatches_are_findings_even_when_signed(trail: Trail, tmp_path: Path) -> None:
    items = trail.copy_items()
    events = [i for i, (_, r) in enumerate(items) if has_attr(r, n.TARGET_ID)]
    set_attr(items[events[0]][1], n.CE_ID, "another-id")
    set_attr(items[events[1]][1], n.CE_TYPE, "other.type")
    set_attr(items[events[2]][1], n.CE_SUBJECT, "other-target")
    del_attr(items[events[3]][1], n.CE_SUBJECT)
    relink(items, trail)
    result = full(trail, [write_items(tmp_path / "t.jsonl", items)])
    mirrors = [f for f in result.findings if f.kind is FindingKind.MIRROR_MISMATCH]
    assert len(mirrors) == 4 and len(result.findings) == 4
    messages = " | ".join(f.message for f in mirrors)
    assert "cloudevents.event_id 'another-id' differs from audit.record.id" in messages
    assert "cloudevents.event_type 'other.type' differs from the event name" in messages
    assert "cloudevents.event_subject absent differs from audit.target.id" in messages


def test_checkpoint_that_misstates_the_covered_hash(trail: Trail, tmp_path: Path) -> None:
    """Signed by the real keys (a producer bug or a stolen key): still a finding."""
    items = trail.copy_items()
    index = next(
        i
        for i, (_, r) in enumerate(items)
        if has_attr(r, n.CHECKPOINT_SIGNATURE) and not get_attr(r, n.SEQ_END)
    )
    record = items[index][1]
    set_attr(record, n.CHECKPOINT_HASH, "0" * 64)
    relink(items, trail)
    result = full(trail, [write_items(tmp_path / "t.jsonl", items)])
    [finding] = result.findings
    assert finding.kind is FindingKind.BAD_CHECKPOINT
    assert f"says record {number_of(record) - 1} hashes to '{'0' * 64}'" in finding.message


def test_conflicting_duplicates_by_number_and_by_id(trail: Trail, tmp_path: Path) -> None:
    items = trail.copy_items()
    _, indexes = next(iter(streams_of(items).items()))
    variant = json.loads(json.dumps(items[indexes[2]][1]))
    set_attr(variant, n.ACTOR_ID, "someone-else")
    sign(variant, trail.ring.active_key)  # both versions carry a valid MAC
    items.append((items[0][0], variant))
    second = items[indexes[5]][1]
    set_attr(second, n.RECORD_ID, get_attr(items[indexes[4]][1], n.RECORD_ID))
    set_attr(second, n.CE_ID, get_attr(second, n.RECORD_ID))
    relink(items, trail)
    result = full(trail, [write_items(tmp_path / "t.jsonl", items)])
    conflicts = [f for f in result.findings if f.kind is FindingKind.CONFLICTING_DUPLICATE]
    assert {f.sequence_number for f in conflicts} == {3, 6}
    assert any("appears with different contents" in f.message for f in conflicts)
    assert any("is used by sequence numbers 5" in f.message for f in conflicts)


def test_findings_locate_file_line_and_index(trail: Trail, tmp_path: Path) -> None:
    items = trail.copy_items()
    target = 17
    set_attr(items[target][1], n.ACTOR_ID, "mallory")
    path = write_items(tmp_path / "t.jsonl", items, batch=5)
    result = full(trail, [path])
    [bad] = [f for f in result.findings if f.kind is FindingKind.BAD_MAC]
    assert (bad.file, bad.line, bad.index) == (str(path), target // 5 + 1, target % 5)
    assert bad.stream_id == stream_of(items[target][1])
    assert bad.sequence_number == number_of(items[target][1])
    assert bad.record_id == get_attr(items[target][1], n.RECORD_ID)
    assert "MAC does not match" in bad.message and "key id 'default'" in bad.message


def test_key_rotation_and_unknown_key_ids(tmp_path: Path) -> None:
    old = HmacKeyRing.single(b"o" * 32, "old")
    trail_old = (
        sdk_trail(tmp_path / "a", sizes=(4,), ring=old)
        if (tmp_path / "a").mkdir() is None
        else None
    )
    assert trail_old is not None
    new_ring = HmacKeyRing.single(b"n" * 32, "new")
    trail_new = (
        sdk_trail(
            tmp_path / "b", sizes=(4,), ring=new_ring, checkpoint_key=trail_old.checkpoint_key
        )
        if (tmp_path / "b").mkdir() is None
        else None
    )
    assert trail_new is not None
    paths = [tmp_path / "a" / "sdk-trail.jsonl", tmp_path / "b" / "sdk-trail.jsonl"]
    both = HmacKeyRing({"old": b"o" * 32, "new": b"n" * 32}, "new")
    assert verify(paths, keys=both, public_keys=[trail_old.public_key]).ok
    result = verify(paths, keys=new_ring)
    unknown = [f for f in result.findings if f.kind is FindingKind.UNKNOWN_KEY_ID]
    assert len(unknown) == len(trail_old.items)
    assert "MAC key id 'old' is not in the key ring (key ids given: new)" in unknown[0].message


# -- malformed input: findings, never a traceback -----------------------------------------


def line_of(records: list[Any]) -> bytes:
    raw = [r for r in records if isinstance(r, bytes)]
    if raw:  # JSON too deep to build through a serializer
        return (
            b'{"resourceLogs":[{"resource":{},"scopeLogs":[{"logRecords":['
            + b",".join(raw)
            + b"]}]}]}"
        )
    return orjson.dumps(
        {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": records}]}]}
    )


MALFORMED_LINES: dict[str, bytes] = {
    "not json": b"this is not json",
    "json array": b"[1, 2, 3]",
    "no resourceLogs": b'{"resourceSpans": []}',
    "resourceLogs string": b'{"resourceLogs": "x"}',
    "scopeLogs object": b'{"resourceLogs": [{"scopeLogs": {"a": 1}}]}',
    "logRecords string": b'{"resourceLogs": [{"scopeLogs": [{"logRecords": "abc"}]}]}',
    "resourceLogs item not object": b'{"resourceLogs": [7]}',
}

MALFORMED_RECORDS: dict[str, Any] = {
    "record is a list": [1, 2],
    "attributes object": {"attributes": {"a": 1}},
    "attribute without key": {"attributes": [{"value": {"stringValue": "x"}}]},
    "value is a list": {"attributes": [{"key": "a", "value": [1]}]},
    "stringValue int": {"attributes": [{"key": "a", "value": {"stringValue": 5}}]},
    "intValue text": {"attributes": [{"key": "a", "value": {"intValue": "abc"}}]},
    "boolValue text": {"attributes": [{"key": "a", "value": {"boolValue": "yes"}}]},
    "bytesValue bad": {"attributes": [{"key": "a", "value": {"bytesValue": "%%%"}}]},
    "kvlist values string": {
        "attributes": [{"key": "a", "value": {"kvlistValue": {"values": "x"}}}]
    },
    "kvlist is a list": {"attributes": [{"key": "a", "value": {"kvlistValue": [1]}}]},
    "array values number": {"attributes": [{"key": "a", "value": {"arrayValue": {"values": 3}}}]},
    "time not decimal": {"timeUnixNano": "soon", "attributes": []},
    "time boolean": {"timeUnixNano": True, "attributes": []},
    "traceId short": {"traceId": "abc", "attributes": []},
    "eventName number": {"eventName": 5, "attributes": []},
    "deep nesting": b'{"attributes":[{"key":"a","value":'
    + b'{"arrayValue":{"values":[' * 300
    + b"]}}" * 300
    + b"}]}",
    "duplicate attribute": {
        "attributes": [
            {"key": "a", "value": {"stringValue": "x"}},
            {"key": "a", "value": {"stringValue": "y"}},
        ]
    },
}


@pytest.mark.parametrize("name", sorted(MALFORMED_LINES))
def test_malformed_lines_are_findings(trail: Trail, tmp_path: Path, name: str) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    path.write_bytes(path.read_bytes() + MALFORMED_LINES[name] + b"\n")
    result = full(trail, [path])
    [finding] = result.findings
    assert finding.kind is FindingKind.MALFORMED_LINE and finding.severity is Severity.ERROR
    assert finding.line == len(path.read_bytes().splitlines()) and finding.stream_id is None


@pytest.mark.parametrize("name", sorted(MALFORMED_RECORDS))
def test_malformed_records_are_findings(trail: Trail, tmp_path: Path, name: str) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    path.write_bytes(path.read_bytes() + line_of([MALFORMED_RECORDS[name]]) + b"\n")
    result = full(trail, [path])
    assert result.findings and not result.ok
    assert all(
        f.file == str(path) and f.line == len(path.read_bytes().splitlines())
        for f in result.findings
    )
    assert kinds(result) <= {"malformed_record", "no_integrity", "mirror_mismatch"}


def test_truncated_last_line(trail: Trail, tmp_path: Path) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])  # a crash in the middle of a write
    result = full(trail, [path])
    malformed = [f for f in result.findings if f.kind is FindingKind.MALFORMED_LINE]
    assert len(malformed) == 1 and "truncated" in malformed[0].message
    assert malformed[0].line == len(path.read_bytes().splitlines())
    # the records of the cut line are gone: their closed stream no longer is
    strict = full(trail, [path], require_closed=True)
    assert {"open_tail", "missing_records"} & {f.kind.value for f in strict.errors}


def test_binary_garbage(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: dict[str, Path]
) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(5000)))
    result = full(trail, [path])
    assert not result.ok and kinds(result) == {"malformed_line"}
    assert all("binary" in f.message or "not valid JSON" in f.message for f in result.findings)
    code, out, err = cli(str(path), "--keys-file", str(key_files["keys"]), capsys=capsys)
    assert code == 1 and "malformed_line" in out and not err


def test_corrupt_gzip(trail: Trail, tmp_path: Path) -> None:
    plain = write_items(tmp_path / "t.jsonl", trail.items).read_bytes()
    packed = gzip.compress(plain)
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = full(trail, [path])
    assert any(
        f.kind is FindingKind.MALFORMED_FILE and "gzip" in f.message for f in result.findings
    )


def test_unsigned_third_party_records(trail: Trail, tmp_path: Path) -> None:
    record = {
        "timeUnixNano": "1",
        "eventName": "azure.resource.log",
        "attributes": [
            {"key": n.RECORD_ID, "value": {"stringValue": "r1"}},
            {"key": n.CE_ID, "value": {"stringValue": "r1"}},
            {"key": n.CE_TYPE, "value": {"stringValue": "azure.resource.log"}},
        ],
    }
    path = write_items(tmp_path / "t.jsonl", trail.items)
    path.write_bytes(path.read_bytes() + line_of([record]) + b"\n")
    result = full(trail, [path])
    [finding] = result.findings
    assert finding.kind is FindingKind.NO_INTEGRITY and finding.stream_id is None
    assert finding.record_id == "r1"


def test_empty_input_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: dict[str, Path]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(UnusableInput, match="no audit records"):
        verify([empty], keys=HmacKeyRing.generate())
    code, out, err = cli(str(empty), "--keys-file", str(key_files["keys"]), capsys=capsys)
    assert code == 2 and out == "" and err.startswith("audit-sdk: error: no audit records found")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["MISSING.jsonl"], "no such file or directory"),
        (["DIR"], "no trail files"),
        (["TRAIL", "--keys-file", "nope.json"], "cannot be read"),
        (["TRAIL", "--public-key", "nope.pem"], "cannot be read"),
        (["TRAIL", "--key", "not base64!"], "not valid standard base64"),
        (["TRAIL", "--key", base64.b64encode(b"short").decode()], "at least 32"),
        (["TRAIL", "--key", "k=@nope.key"], "cannot be read"),
        (["TRAIL"], "no key to verify with"),
        (["TRAIL", "--key", base64.b64encode(b"k" * 32).decode(), "--jobs", "-1"], "--jobs"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = write_items(tmp_path / "t.jsonl", trail.items)
    (tmp_path / "DIR").mkdir()
    mapping = {
        "TRAIL": str(path),
        "MISSING.jsonl": str(tmp_path / "missing.jsonl"),
        "DIR": str(tmp_path / "DIR"),
    }
    code, out, err = cli(*[mapping.get(a, a) for a in args], capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err and base64.b64encode(b"k" * 32).decode() not in err


def test_cli_subprocess_exit_codes_and_no_traceback(
    trail: Trail, tmp_path: Path, key_files: dict[str, Path]
) -> None:
    good = write_items(tmp_path / "good.jsonl", trail.items)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(good.read_bytes() + b"\x00\xff garbage\n")
    base = [
        sys.executable,
        "-m",
        "audit_sdk.cli",
        "verify",
        "--no-env-keys",
        "--keys-file",
        str(key_files["keys"]),
        "--public-key",
        str(key_files["public"]),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_SDK_")}
    for path, expected in ((good, 0), (bad, 1), (tmp_path / "none.jsonl", 2)):
        done = subprocess.run(
            [*base, str(path)], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == expected, done.stdout + done.stderr
        assert "Traceback" not in done.stderr


# -- keys from arguments and the environment ------------------------------------------------


def test_key_sources(
    trail: Trail,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = str(write_items(tmp_path / "t.jsonl", trail.items))
    encoded = base64.b64encode(trail.ring.active_key).decode()
    key_file = tmp_path / "key.b64"
    key_file.write_text(encoded + "\n")
    for args in (
        ["--key", encoded],
        ["--key", f"default={encoded}"],
        ["--key", f"@{key_file}"],
        ["--key", f"default=@{key_file}"],
    ):
        code, out, _ = cli(path, *args, capsys=capsys)
        assert code == 0 and "MACs:        checked (key ids: default)" in out
    code, out, _ = cli(path, "--key", f"other={encoded}", capsys=capsys)
    assert code == 1 and "unknown_key_id" in out
    monkeypatch.setenv("AUDIT_SDK_HMAC_KEY", encoded)
    assert main(["verify", "--no-progress", path]) == 0
    assert main(["verify", "--no-progress", "--no-env-keys", path]) == 2
    monkeypatch.setenv("AUDIT_SDK_HMAC_KEYS", json.dumps({"default": encoded}))
    monkeypatch.setenv("AUDIT_SDK_HMAC_KEY_ID", "default")
    assert main(["verify", "--no-progress", path]) == 0
    out, err = capsys.readouterr()
    assert encoded not in out + err  # never print key material


# -- output ---------------------------------------------------------------------------------


def test_text_and_json_output(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: dict[str, Path]
) -> None:
    items = trail.copy_items()
    set_attr(items[3][1], n.ACTOR_ID, "mallory")
    path = write_items(tmp_path / "t.jsonl", items)
    args = [
        str(path),
        "--keys-file",
        str(key_files["keys"]),
        "--public-key",
        str(key_files["public"]),
    ]
    code, out, _ = cli(*args, capsys=capsys)
    assert code == 1
    sid = stream_of(items[3][1])
    assert f"stream {sid}: INVALID (closed)" in out and "bad_mac" in out
    assert f"{path}:1 [3]" in out and "checkpoints: checked (key ids: ed25519:" in out
    assert out.count(": closed\n") == 2 and "MACs:        checked (key ids: default)" in out
    code, out2, _ = cli(*args, "--json", capsys=capsys)
    document = json.loads(out2)
    assert code == 1 and document["ok"] is False and document["exit_code"] == 1
    errors = document["errors"]
    assert errors >= 2 and f"FAILED: {errors} errors." in out and document["records"] == len(items)
    assert {"bad_mac", "chain_break"} <= {f["kind"] for f in document["findings"]}
    [stream] = [s for s in document["streams"] if s["stream_id"] == sid]
    assert stream["status"] == "invalid" and stream["errors"] == errors
    expected_keys = {
        "kind",
        "severity",
        "message",
        "stream_id",
        "sequence_number",
        "record_id",
        "file",
        "line",
        "index",
    }
    assert all(set(f) == expected_keys for f in document["findings"])


def test_text_output_limits_findings_per_stream(
    trail: Trail, tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: dict[str, Path]
) -> None:
    items = trail.copy_items()
    for _, record in items:
        set_attr(record, n.ACTOR_ID, "mallory")
    path = write_items(tmp_path / "t.jsonl", items)
    code, out, _ = cli(
        str(path), "--keys-file", str(key_files["keys"]), "--max-findings", "2", capsys=capsys
    )
    assert code == 1 and "more (--max-findings 0 shows all" in out
    code, full_out, _ = cli(
        str(path), "--keys-file", str(key_files["keys"]), "--max-findings", "0", capsys=capsys
    )
    assert "more (--max-findings" not in full_out and full_out.count("bad_mac") == len(items)


def test_progress_bar(trail: Trail, tmp_path: Path) -> None:
    from audit_sdk._verify._report import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out, min_bytes=0)
    path = write_items(tmp_path / "t.jsonl", trail.items)
    result = verify([path], keys=trail.ring, progress=bar)
    bar.close()
    assert result.ok and "verifying [" in out.getvalue() and "100.0%" in out.getvalue()
    quiet = io.StringIO()
    small = ProgressBar(quiet)  # below its threshold: small inputs draw nothing
    verify([path], keys=trail.ring, progress=small)
    small.close()
    assert quiet.getvalue() == ""


def test_result_is_data(trail: Trail, tmp_path: Path) -> None:
    result = full(trail, [write_items(tmp_path / "t.jsonl", trail.items)])
    assert json.loads(json.dumps(result.to_dict()))["ok"] is True
    with pytest.raises(AttributeError):
        result.streams[0].records = 0  # type: ignore[misc]
    finding = Finding(FindingKind.BAD_MAC, Severity.ERROR, "m")
    assert finding.to_dict()["kind"] == "bad_mac"


# -- --jobs --------------------------------------------------------------------------------


def test_jobs_give_the_same_result(
    trail: Trail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small chunks over two processes: same findings, same files and lines."""
    from audit_sdk._verify import _engine

    rng = random.Random(11)
    items = trail.copy_items() * 2  # exact duplicates across chunks
    rng.shuffle(items)
    set_attr(items[7][1], n.ACTOR_ID, "mallory")
    del items[30]
    path = write_items(tmp_path / "t.jsonl", items, batch=1)
    gz = tmp_path / "more.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    monkeypatch.setattr(_engine, "_MIN_CHUNK", 2000)
    monkeypatch.setattr(_engine, "_MAX_CHUNK", 4000)
    one = full(trail, [path, gz])
    two = full(trail, [path, gz], jobs=2)
    assert one == two and not one.ok
    assert {f.kind for f in one.findings} >= {FindingKind.BAD_MAC}


# -- robustness ------------------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_damage_never_raises(trail: Trail, tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(write_items(tmp_path / "t.jsonl", trail.items[:12], batch=3).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "cut"]))
        if action == "flip":
            raw[position] ^= data.draw(st.integers(1, 255))
        elif action == "delete":
            del raw[position : position + data.draw(st.integers(1, 40))]
        elif action == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=20))
        else:
            del raw[position:]
        if not raw:
            raw = bytearray(b"x")
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(bytes(raw))
    try:
        result = full(trail, [path])
    except UnusableInput as exc:
        assert "no audit records" in str(exc)
        return
    assert isinstance(result, VerifyResult)
