"""Shared fixtures: keys, a checkpoint key, a tracer; no default logger leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
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
