"""@audited: sync, async, methods; success and failure; never changes results or errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import audit_sdk
from audit_sdk import audited
from audit_sdk.testing import capture_audit_records


class Boom(Exception):
    pass


@audited("invoice.delete", action="DELETE", target="invoice_id", target_type="invoice")
def delete_invoice(
    invoice_id: str, *, password: str = "hunter2", fail: bool = False
) -> dict[str, str]:
    if fail:
        raise Boom(f"cannot delete {invoice_id}")
    return {"deleted": invoice_id}


@audited("report.export", action="EXPORT", record_args=("fmt",))
async def export_report(report_id: str, fmt: str = "csv", secret_token: str = "s3cr3t") -> str:
    await asyncio.sleep(0)
    if fmt == "bad":
        raise ValueError("unsupported format")
    return f"{report_id}.{fmt}"


class Vault:
    def __init__(self, name: str) -> None:
        self.name = name

    @audited("vault.open", action="OPEN", target=lambda bound: bound.arguments["self"].name)
    def open(self, reason: str) -> str:
        return f"opened {self.name}"

    @classmethod
    @audited("vault.create", action="CREATE", target="name")
    def create(cls, name: str) -> Vault:
        return cls(name)

    @staticmethod
    @audited("vault.check", action="CHECK")
    def check() -> bool:
        return True


def test_success_is_recorded_and_the_result_is_untouched() -> None:
    with capture_audit_records() as audit, audit_sdk.context(actor="alice"):
        result = delete_invoice("inv-1")
    assert result == {"deleted": "inv-1"}
    [record] = audit.events
    assert record.event_name == "invoice.delete"
    assert record.outcome == "success"
    assert record.actor == "alice"
    assert record.attributes["audit.target.id"] == "inv-1"
    assert record.attributes["audit.target.type"] == "invoice"
    assert "error.type" not in record.attributes
    assert record.body is None  # no argument value is recorded unless named
    assert "hunter2" not in repr(record.attributes)


def test_failure_is_recorded_and_the_same_exception_propagates() -> None:
    with capture_audit_records() as audit, pytest.raises(Boom) as info:
        delete_invoice("inv-2", fail=True)
    assert str(info.value) == "cannot delete inv-2"
    [record] = audit.events
    assert record.outcome == "failure"
    assert record.attributes["error.type"] == f"{Boom.__module__}.Boom"
    # the traceback still points into the decorated function
    assert info.traceback[-1].name == "delete_invoice"


async def test_async_functions_record_named_arguments_only() -> None:
    with capture_audit_records() as audit:
        assert await export_report("r1", fmt="pdf") == "r1.pdf"
        with pytest.raises(ValueError, match="unsupported"):
            await export_report("r2", "bad")
    ok, failed = audit.events
    assert ok.details == {"arguments": {"fmt": "pdf"}}
    assert failed.outcome == "failure" and failed.attributes["error.type"] == "ValueError"
    assert "s3cr3t" not in (ok.body or "") and "r1" not in (ok.body or "")


async def test_async_tasks_keep_the_actor_they_were_started_with() -> None:
    with capture_audit_records() as audit:
        with audit_sdk.context(actor="starter"):
            task = asyncio.create_task(export_report("r3"))
        with audit_sdk.context(actor="someone-else"):
            await task
    [record] = audit.events
    assert record.actor == "starter"


async def test_cancellation_is_recorded_as_unknown_and_reraised() -> None:
    @audited("job.run", action="RUN")
    async def slow() -> None:
        await asyncio.sleep(10)

    with capture_audit_records() as audit:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [record] = audit.events
    assert record.outcome == "unknown"
    assert record.attributes["error.type"] == "asyncio.exceptions.CancelledError"


def test_methods_classmethods_and_staticmethods() -> None:
    with capture_audit_records() as audit:
        assert Vault("v1").open("audit") == "opened v1"
        assert Vault.create("v2").name == "v2"
        assert Vault.check() is True
    opened, created, checked = audit.events
    assert opened.attributes["audit.target.id"] == "v1"
    assert created.attributes["audit.target.id"] == "v2"
    assert checked.event_name == "vault.check"


def test_not_configured_means_the_function_does_not_run() -> None:
    ran = []

    @audited("doc.delete", action="DELETE")
    def delete() -> None:
        ran.append(True)

    audit_sdk.shutdown()
    with pytest.raises(audit_sdk.AuditNotConfigured):
        delete()
    assert ran == []


def test_emit_failure_after_the_call_keeps_the_result_and_is_reported(caplog: Any) -> None:
    with capture_audit_records() as audit:

        @audited("doc.read", action="READ", logger=audit.logger)
        def read() -> str:
            audit.logger.close()  # the pipeline goes away while the function runs
            return "content"

        assert read() == "content"
    assert any("could not be emitted" in message for message in caplog.messages)


def test_wrong_decorator_use_fails_at_decoration_time() -> None:
    with pytest.raises(TypeError, match="record_args"):
        audited("x.y", action="READ", record_args=("nope",))(lambda a: a)
    with pytest.raises(TypeError, match="target"):
        audited("x.y", action="READ", target="nope")(lambda a: a)
    with pytest.raises(TypeError, match="parentheses"):
        audited(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(audit_sdk.InvalidAuditEvent, match="action"):
        audited("x.y", action="read")
    with pytest.raises(TypeError, match="generator"):

        @audited("x.y", action="READ")
        def gen() -> Any:
            yield 1


def test_unrepresentable_recorded_argument_is_refused_before_the_call() -> None:
    ran = []

    @audited("x.y", action="READ", record_args=("value",))
    def f(value: object) -> None:
        ran.append(value)

    with capture_audit_records(), pytest.raises(audit_sdk.InvalidAuditEvent, match="record_args"):
        f(object())
    assert ran == []


def test_default_event_name_comes_from_the_function() -> None:
    @audited(action="READ")
    def fetch_secret() -> int:
        return 1

    with capture_audit_records() as audit:
        fetch_secret()
    [record] = audit.events
    assert record.event_name.endswith(
        "test_default_event_name_comes_from_the_function.fetch_secret"
    )
    assert record.action == "READ"
