"""Small helpers shared by the collector and Fluent Bit linters."""

from __future__ import annotations

import ipaddress
import re

from audit_sdk._lint.nodes import has_unresolved_env

__all__ = [
    "MANDATORY_ATTRIBUTES",
    "TRUE_WORDS",
    "endpoint_host",
    "is_false",
    "is_loopback",
    "is_true",
    "looks_like_auth_header",
]

# What a compliance filter must look at (SPEC §1): the draft's mandatory
# attributes and the CloudEvents id.
MANDATORY_ATTRIBUTES: tuple[str, ...] = (
    "audit.record.id",
    "audit.actor.id",
    "audit.actor.type",
    "audit.action",
    "audit.outcome",
    "cloudevents.event_id",
)

TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
FALSE_WORDS = frozenset({"false", "off", "no", "0"})


def is_true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in TRUE_WORDS


def is_false(text: str | None) -> bool:
    return text is not None and text.strip().lower() in FALSE_WORDS


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def endpoint_host(endpoint: str) -> str | None:
    """The host part of `scheme://host:port/path` or `host:port`; None when unknown."""
    text = endpoint.strip()
    if not text or has_unresolved_env(text):
        return None
    if text.startswith("unix://") or text.startswith("/"):
        return "unix"
    text = _SCHEME.sub("", text)
    text = text.split("/", 1)[0]
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    if text.startswith("["):  # [::1]:4317
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text or None


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8, ::1 and unix sockets: traffic never leaves the host."""
    if host is None:
        return False
    lowered = host.lower()
    if lowered in {"localhost", "unix"} or lowered.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(lowered).is_loopback
    except ValueError:
        return False


_AUTH_HEADER = re.compile(r"(authorization|api[-_]?key|token|secret|signature)", re.IGNORECASE)


def looks_like_auth_header(name: str) -> bool:
    return bool(_AUTH_HEADER.search(name))
