"""audit-sdk demo: a small document service whose sensitive functions are audited.

Runs on the embedded default sink (an append-only OTLP-JSON file): no
collector, no network. It creates the demo's keys (SPEC §5 key file and an
Ed25519 checkpoint key pair), emits records through `@audited` functions and
`audit_event()`, closes the stream, verifies the trail it wrote (with the HMAC
key, and with the public key alone), shows the verifier catching an edited
copy, and prints a short summary.

    python examples/demo_app.py --out demo-out
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

import audit_sdk
from audit_sdk import AuditRecord
from audit_sdk.verify import verify


class PermissionDenied(Exception):
    """Raised by the demo service when an actor may not do something."""


DOCUMENTS = {"doc-1": "Q3 board minutes", "doc-2": "salary bands 2027", "doc-3": "incident report"}
ADMINS = {"carol"}


@audit_sdk.audited("document.read", action="READ", target="doc_id", target_type="document")
def read_document(doc_id: str) -> str:
    return DOCUMENTS[doc_id]


@audit_sdk.audited(
    "document.export",
    action="EXPORT",
    target="doc_id",
    target_type="document",
    record_args=("fmt",),
)
def export_document(doc_id: str, fmt: str = "pdf") -> bytes:
    return f"{fmt}:{DOCUMENTS[doc_id]}".encode()


@audit_sdk.audited("document.delete", action="DELETE", target="doc_id", target_type="document")
def delete_document(doc_id: str) -> None:
    actor = audit_sdk.current_context().actor
    if actor not in ADMINS:
        raise PermissionDenied(f"{actor} may not delete {doc_id}")
    DOCUMENTS.pop(doc_id)


def run_service(tracer: object) -> None:
    """What the application does: requests by three people, one of them refused."""
    requests = [
        ("alice", "10.0.0.11", lambda: read_document("doc-1")),
        ("alice", "10.0.0.11", lambda: export_document("doc-2", fmt="csv")),
        ("bob", "10.0.0.12", lambda: read_document("doc-3")),
        ("bob", "10.0.0.12", lambda: delete_document("doc-3")),  # refused: not an admin
        ("carol", "10.0.0.13", lambda: delete_document("doc-3")),
    ]
    for number, (actor, address, call) in enumerate(requests, start=1):
        with (
            tracer.start_as_current_span(f"request {number}"),  # type: ignore[attr-defined]
            audit_sdk.context(actor=actor, source=address, request_id=f"req-{number:04d}"),
            contextlib.suppress(PermissionDenied),  # the refusal is in the trail as a failure
        ):
            call()
    audit_sdk.audit_event(
        "user.session.end",
        action="LOGOUT",
        actor="alice",
        outcome="success",
        details={"reason": "demo finished"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output directory")
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    key_files = audit_sdk.write_key_files(out / "keys")
    trail = out / "audit-trail.jsonl"

    keys = audit_sdk.HmacKeyRing.from_file(key_files["hmac"])
    logger = audit_sdk.configure(
        service_name="demo-documents",
        keys=keys,
        checkpoint_key=key_files["checkpoint_private"],
        trail_path=trail,
        checkpoint_every=4,
    )
    run_service(TracerProvider().get_tracer("demo"))
    logger.close()  # the end record: a signed closing checkpoint

    public_key = audit_sdk.load_checkpoint_public_key(key_files["checkpoint_public"])
    with_key = verify([trail], keys=keys, public_keys=[public_key], require_closed=True)
    public_only = verify([trail], public_keys=[public_key], require_closed=True)

    outcomes: Counter[tuple[str, str]] = Counter()
    for line in trail.read_text(encoding="utf-8").splitlines():
        for resource_logs in json.loads(line)["resourceLogs"]:
            for scope_logs in resource_logs["scopeLogs"]:
                for entry in scope_logs["logRecords"]:
                    record = AuditRecord.from_otlp(entry)
                    if not record.is_checkpoint:
                        outcomes[(record.action, record.outcome)] += 1

    print(f"trail:        {trail}")
    print(f"keys:         {key_files['hmac']} (HMAC), {key_files['checkpoint_public']} (public)")
    print(f"records:      {with_key.records} in {len(with_key.streams)} stream(s)")
    for (action, outcome), count in sorted(outcomes.items()):
        print(f"  {action:<8} {outcome:<8} {count}")
    for stream in with_key.streams:
        print(f"stream {stream.stream_id}: {stream.status}, {stream.records} records")
    print(
        f"verify with HMAC key:        {'OK' if with_key.ok else 'FAILED'}"
        f" ({len(with_key.errors)} errors, {len(with_key.warnings)} warnings)"
    )
    print(
        f"verify with public key only: {'OK' if public_only.ok else 'FAILED'}"
        f" ({sum(s.authenticated for s in public_only.streams)} of {public_only.records}"
        " records authenticated by checkpoints)"
    )
    for finding in (*with_key.findings, *public_only.findings):
        print(f"  {finding.severity}: {finding.kind}: {finding.message}")

    # What tampering looks like: a copy of the trail where bob's refused delete
    # is rewritten as a success.
    tampered = out / "tampered-copy.jsonl"
    text = trail.read_text(encoding="utf-8")
    tampered.write_text(text.replace('"failure"', '"success"', 1), encoding="utf-8")
    caught = verify([tampered], keys=keys, public_keys=[public_key])
    print(f"verify a tampered copy:      {'caught' if not caught.ok else 'MISSED'}")
    for finding in caught.errors[:3]:
        print(
            f"  {finding.kind} at {Path(finding.file or '').name}:{finding.line}: {finding.message}"
        )
    return 0 if with_key.ok and public_only.ok and not caught.ok else 1


if __name__ == "__main__":
    sys.exit(main())
