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


@pytest.fixture(scope="module", params=["compiled scanner", "python scanner"])
def scanner(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a verifier test module once per record scanner: the C one and the Python one.

    Module-scoped (hypothesis refuses function-scoped fixtures), so it sets the
    environment switch itself and restores it afterwards.
    """
    import os

    from audit_sdk._verify import _scan

    if request.param == "compiled scanner" and _scan._CScanner is None:
        if os.environ.get("AUDIT_SDK_REQUIRE_CSCAN"):
            pytest.fail("the compiled scanner audit_sdk._cscan was not built")
        pytest.skip("the compiled scanner audit_sdk._cscan is not built here")
    before = os.environ.get("AUDIT_SDK_NO_CSCAN")
    if request.param == "python scanner":
        os.environ["AUDIT_SDK_NO_CSCAN"] = "1"
    else:
        os.environ.pop("AUDIT_SDK_NO_CSCAN", None)
    yield request.param
    if before is None:
        os.environ.pop("AUDIT_SDK_NO_CSCAN", None)
    else:
        os.environ["AUDIT_SDK_NO_CSCAN"] = before
