"""Findings of `audit-sdk lint-config` and the catalogue of its rules."""

from __future__ import annotations

from dataclasses import dataclass

from audit_sdk._lint.nodes import Loc

__all__ = ["RULES", "Finding"]

# rule code -> one-line summary (docs/lint-config.md explains each one).
RULES: dict[str, str] = {
    "invalid-config": "the file is not a usable collector or Fluent Bit configuration",
    "duplicate-key": "a key is written twice in one map (the collector refuses such a file)",
    "no-audit-pipeline": "no logs pipeline (collector) or no input/output (Fluent Bit)",
    "unknown-component": "a pipeline names a component that is not defined",
    "batch-before-audit-exporter": "a batch processor holds acknowledged records in memory",
    "no-persistent-queue": "records wait in memory only: a restart or crash loses them",
    "retry-gives-up": "an exporter or output stops retrying and drops the records",
    "file-exporter-truncates": "the file exporter truncates its file when the collector starts",
    "file-exporter-append-with-rotation":
        "`append` and `rotation` together: the collector refuses it",
    "file-exporter-not-json": "the audit file is not OTLP-JSON, which verifiers read",
    "no-quarantine-route": "non-compliant records are dropped instead of quarantined",
    "missing-mandatory-check":
        "no filter checks cloudevents.event_id and the audit.* mandatory attributes",
    "remote-exporter-no-tls":
        "records leave the host without TLS (or without verifying the server)",
    "remote-exporter-no-auth": "a remote destination without authentication",
    "aws-no-role-arn": "an AWS exporter or output without `role_arn`",
    "cloudwatch-no-retention": "CloudWatch Logs without a (valid) retention period in days",
    "tail-without-db":
        "Fluent Bit tail input without an offset database: lines are lost or re-sent",
    "unrouted-input": "a Fluent Bit input whose tag no output matches: its records go nowhere",
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    loc: Loc
    message: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:  # pragma: no cover - programming error
            raise ValueError(f"unknown lint rule {self.rule!r}")

    def render(self) -> str:
        return f"{self.loc}: [{self.rule}] {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.loc.file, "line": self.loc.line, "rule": self.rule,
                "message": self.message}
