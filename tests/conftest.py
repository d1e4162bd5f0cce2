"""Shared fixtures: keys, a tracer, and a reader for OTLP-JSON trail files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry.sdk.trace import TracerProvider

import audit_sdk


@pytest.fixture
def keys() -> audit_sdk.HmacKeyRing:
    return audit_sdk.HmacKeyRing.generate()


@pytest.fixture
def checkpoint_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def tracer() -> Any:
    return TracerProvider().get_tracer("tests")


@pytest.fixture(autouse=True)
def _no_default_logger_leaks() -> Iterator[None]:
    yield
    audit_sdk.shutdown()


def read_trail(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (logRecord, resource) of an OTLP-JSON lines file, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        document = json.loads(line)
        for resource_logs in document["resourceLogs"]:
            resource = resource_logs.get("resource", {})
            for scope_logs in resource_logs["scopeLogs"]:
                for log_record in scope_logs["logRecords"]:
                    out.append((log_record, resource))
    return out


def attributes_of(log_record: dict[str, Any]) -> dict[str, Any]:
    from audit_sdk._values import otlp_to_python

    return {a["key"]: otlp_to_python(a["value"]) for a in log_record.get("attributes", [])}
