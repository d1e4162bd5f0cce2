"""Verify audit trails (SPEC §4): the library API behind `audit-sdk verify`.

    from audit_sdk import HmacKeyRing, load_checkpoint_public_key
    from audit_sdk.verify import verify

    result = verify(["/var/lib/otelcol-audit/audit"],
                    keys=HmacKeyRing.from_file("hmac-keys.json"),
                    public_keys=[load_checkpoint_public_key("checkpoint-key.pub.pem")])
    if not result.ok:
        for finding in result.errors:
            print(finding.kind, finding.file, finding.line, finding.message)

Input: OTLP-JSON lines files as the collector's file exporter and the SDK's
embedded sink write them (plain or gzip, rotated segments, directories), with
records of any number of streams in any order; exact duplicates (at-least-once
delivery) are tolerated. Results are frozen dataclasses; every finding names
its kind, severity, stream, sequence number, record id, file and line, and says
what failed. No key material is ever part of a result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit_sdk._errors import AuditError

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from audit_sdk._keys import HmacKeyRing

__all__ = [
    "Finding",
    "FindingKind",
    "Severity",
    "StreamResult",
    "StreamStatus",
    "UnusableInput",
    "VerifyResult",
    "verify",
]


class UnusableInput(AuditError, ValueError):
    """The input cannot be verified at all (missing path, no records); the CLI exits 2."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class FindingKind(StrEnum):
    """What a finding is about. Values are stable: scripts may match on them."""

    MALFORMED_FILE = "malformed_file"  # e.g. a corrupt or truncated gzip stream
    MALFORMED_LINE = "malformed_line"  # not JSON, or not an OTLP-JSON logs document
    MALFORMED_RECORD = "malformed_record"  # a log record that cannot be read or placed
    NO_INTEGRITY = "no_integrity"  # no audit.integrity.value
    UNKNOWN_KEY_ID = "unknown_key_id"  # HMAC or checkpoint key id not among the given keys
    BAD_MAC = "bad_mac"
    CHAIN_BREAK = "chain_break"  # previous_hash / previous_record_id do not match
    MISSING_RECORDS = "missing_records"  # a range of sequence numbers is absent
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same number or id, different bytes
    RECORD_AFTER_END = "record_after_end"
    BAD_CHECKPOINT = "bad_checkpoint"  # bad or missing signature, wrong number or hash
    MIRROR_MISMATCH = "mirror_mismatch"  # cloudevents.* disagrees with what it mirrors
    OPEN_TAIL = "open_tail"  # the stream's end is not covered (warning unless required)
    UNAUTHENTICATED = "unauthenticated"  # no HMAC key and no valid checkpoint covers it
    BAD_RECEIPT = "bad_receipt"  # a purge receipt is malformed or its signature does not verify


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that is wrong (error) or unproven (warning) about the trail.

    `file` and `line` (1-based) locate the record or line; `index` is the
    record's position within that line (one line holds one exported batch).
    """

    kind: FindingKind
    severity: Severity
    message: str
    stream_id: str | None = None
    sequence_number: int | None = None
    record_id: str | None = None
    file: str | None = None
    line: int | None = None
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "message": self.message,
            "stream_id": self.stream_id,
            "sequence_number": self.sequence_number,
            "record_id": self.record_id,
            "file": self.file,
            "line": self.line,
            "index": self.index,
        }


class StreamStatus(StrEnum):
    CLOSED = "closed"  # ends with a valid end record, no errors
    OPEN = "open"  # no end record, but the last record is a checkpoint
    OPEN_TAIL = "open_tail"  # the last record is neither an end record nor a checkpoint
    INVALID = "invalid"  # at least one error


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What the verifier found for one stream (`audit.sequence.stream_id`)."""

    stream_id: str
    status: StreamStatus
    closed: bool  # an end record is present
    records: int  # distinct records (exact duplicates counted once)
    duplicates: int  # exact duplicates that were ignored
    first_number: int
    last_number: int
    first_time_unix_nano: int | None
    last_time_unix_nano: int | None
    authenticated: int  # records proven by a MAC or by a valid checkpoint
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "status": self.status.value,
            "closed": self.closed,
            "records": self.records,
            "duplicates": self.duplicates,
            "first_number": self.first_number,
            "last_number": self.last_number,
            "first_time_unix_nano": self.first_time_unix_nano,
            "last_time_unix_nano": self.last_time_unix_nano,
            "authenticated": self.authenticated,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The whole verification: per-stream results and every finding, in a stable order."""

    files: tuple[str, ...]
    lines: int
    records: int  # records read, duplicates included
    streams: tuple[StreamResult, ...]
    findings: tuple[Finding, ...]  # all findings: per stream and those outside any stream
    hmac_checked: bool
    checkpoints_checked: bool
    require_closed: bool = False
    require_authenticated: bool = False

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "hmac_checked": self.hmac_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "require_closed": self.require_closed,
            "require_authenticated": self.require_authenticated,
            "files": list(self.files),
            "lines": self.lines,
            "records": self.records,
            "duplicates": self.duplicates,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "streams": [s.to_dict() for s in self.streams],
            "findings": [f.to_dict() for f in self.findings],
        }


def verify(
    paths: Iterable[str | os.PathLike[str]],
    *,
    keys: HmacKeyRing | None = None,
    public_keys: Sequence[Ed25519PublicKey] = (),
    require_closed: bool = False,
    require_authenticated: bool = False,
    jobs: int = 1,
    progress: Callable[[int, int, int], None] | None = None,
    receipts: Iterable[str | os.PathLike[str]] | None = None,
    receipt_public_keys: Sequence[Ed25519PublicKey] | None = None,
) -> VerifyResult:
    """Verify the trail files and directories in `paths` (SPEC §4).

    `keys` checks every MAC (key ids not in the ring are findings). Without
    it, records are authenticated through valid checkpoint signatures made by
    one of `public_keys`, and records no valid checkpoint covers are reported
    as UNAUTHENTICATED (a warning, or an error with `require_authenticated`).
    `require_closed` makes a stream without an end record an error. `jobs` > 1
    spreads the work over that many processes. `progress(done_bytes,
    total_bytes, records)` is called from time to time.

    Purge receipts (docs/retention.md): `receipts` names receipt files; None
    (the default) uses every `receipts/*.receipt` under the directories in
    `paths`. A receipt whose signature verifies with one of
    `receipt_public_keys` (default: `public_keys`) accounts for the purged
    prefix 1..k of its streams; the first remaining record must then link to
    the receipt's last hash. A receipt that cannot be checked is a BAD_RECEIPT
    error and accounts for nothing.

    Raises UnusableInput when a path is missing or unreadable or no record is
    found at all; everything wrong inside the trail is a finding instead.
    """
    from audit_sdk._retention import ReceiptError, load_receipt, purged_prefixes, receipt_files
    from audit_sdk._verify._engine import Options, run

    if jobs < 1:
        raise UnusableInput("jobs must be at least 1")
    path_list = [os.fspath(p) for p in paths]
    receipt_paths = (
        receipt_files(path_list) if receipts is None else [os.fspath(r) for r in receipts]
    )
    receipt_keys = tuple(public_keys if receipt_public_keys is None else receipt_public_keys)
    valid = []
    receipt_findings: list[Finding] = []
    for receipt_path in receipt_paths:
        try:
            if not receipt_keys:
                raise ReceiptError(
                    f"{receipt_path}: no checkpoint public key to check the purge receipt with"
                )
            valid.append(load_receipt(receipt_path, receipt_keys))
        except ReceiptError as exc:
            receipt_findings.append(
                Finding(FindingKind.BAD_RECEIPT, Severity.ERROR, str(exc), file=receipt_path)
            )
    purged = {
        sid: (r.last_number, r.last_record_hash, r.last_record_id)
        for sid, r in purged_prefixes(valid).items()
    }
    options = Options(
        keys=None if keys is None else {kid: key for kid in keys.key_ids if (key := keys.get(kid))},
        public_keys=tuple(public_keys),
        require_closed=require_closed,
        require_authenticated=require_authenticated,
        purged=purged or None,
    )
    result = run(path_list, options, jobs=jobs, progress=progress)
    if not receipt_findings:
        return result
    return dataclasses.replace(result, findings=tuple(receipt_findings) + result.findings)
