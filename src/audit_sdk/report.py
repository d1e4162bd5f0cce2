"""A self-contained HTML evidence report for an auditor (the library behind `audit-sdk report`).

    from audit_sdk.report import write_report

    report = write_report(["/var/lib/otelcol-audit/audit"], "report.html",
                          keys=HmacKeyRing.from_file("hmac-keys.json"),
                          public_keys=[load_checkpoint_public_key("checkpoint-key.pub.pem")])
    print(report.verification.ok)

The page shows the verifier's verdict per stream, events over time, outcomes
by action and by actor, failed and denied actions, gaps and findings, key ids
and checkpoint coverage. It is one HTML file with inline CSS and SVG: no
script, no font, no external resource, and a Content-Security-Policy that
forbids them, so it opens offline and can be archived as evidence. Every
value from the trail is escaped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit_sdk._keys import checkpoint_key_id
from audit_sdk._report._collect import collect, trail_files
from audit_sdk._report._html import render_page
from audit_sdk.verify import VerifyResult, verify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from audit_sdk._keys import HmacKeyRing

__all__ = ["EvidenceReport", "render_report", "write_report"]

DEFAULT_TITLE = "Audit trail evidence report"


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """The rendered page and the verification it shows."""

    html: str
    verification: VerifyResult


def render_report(
    paths: Iterable[str | os.PathLike[str]],
    *,
    keys: HmacKeyRing | None = None,
    public_keys: Sequence[Ed25519PublicKey] = (),
    require_closed: bool = False,
    require_authenticated: bool = False,
    title: str = DEFAULT_TITLE,
    generated_at: datetime | None = None,
) -> EvidenceReport:
    """Verify the trail in `paths` (see `audit_sdk.verify.verify`) and render the report.

    Raises `audit_sdk.verify.UnusableInput` when the input cannot be read at all.
    """
    from audit_sdk import __version__

    names = [os.fspath(p) for p in paths]
    result = verify(
        names,
        keys=keys,
        public_keys=public_keys,
        require_closed=require_closed,
        require_authenticated=require_authenticated,
    )
    stats = collect(trail_files(names))
    html = render_page(
        title=title,
        result=result,
        stats=stats,
        hmac_key_ids=keys.key_ids if keys is not None else (),
        checkpoint_key_ids=[checkpoint_key_id(k) for k in public_keys],
        generated_at=generated_at or datetime.now(UTC),
        version=__version__,
    )
    return EvidenceReport(html, result)


def write_report(
    paths: Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    keys: HmacKeyRing | None = None,
    public_keys: Sequence[Ed25519PublicKey] = (),
    require_closed: bool = False,
    require_authenticated: bool = False,
    title: str = DEFAULT_TITLE,
) -> EvidenceReport:
    """`render_report(...)` and write the page to `output` (UTF-8)."""
    report = render_report(
        paths,
        keys=keys,
        public_keys=public_keys,
        require_closed=require_closed,
        require_authenticated=require_authenticated,
        title=title,
    )
    Path(output).write_text(report.html, encoding="utf-8")
    return report
