"""Exception types: every failure names what was wrong, never a secret."""

from __future__ import annotations

__all__ = [
    "AuditConfigurationError",
    "AuditDeliveryError",
    "AuditError",
    "AuditNotConfigured",
    "InvalidAuditEvent",
    "KeyConfigurationError",
    "RecordTooLarge",
    "error_type_name",
]


class AuditError(Exception):
    """Base class of every error audit-sdk raises on purpose."""


class InvalidAuditEvent(AuditError, ValueError):
    """An audit event was refused before anything was emitted; `field` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class RecordTooLarge(InvalidAuditEvent):
    """The record's canonical bytes exceed the configured limit (`max_record_bytes`)."""


class AuditConfigurationError(AuditError, ValueError):
    """The pipeline cannot be built from the given arguments or environment."""


class KeyConfigurationError(AuditConfigurationError):
    """A signing or checkpoint key is missing, malformed or too short. The key is never shown."""


class AuditNotConfigured(AuditError, RuntimeError):
    """No audit logger is configured (or it was shut down): call `audit_sdk.configure()` first."""


class AuditDeliveryError(AuditError, RuntimeError):
    """Records could not be handed to the exporter; the message says how many and why."""


def error_type_name(exc: BaseException) -> str:
    """The `error.type` of an exception: its class, module-qualified unless a builtin."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
